"""Where things live. Paths come from the package location or the environment, never from the working directory,
so the CLI, `dagster dev` and the tests agree wherever they are started.

Four roots (`Roots`): `templates/` holds one folder per report (its `report.toml`, templates, charts), `sources/`
one folder per report holding its editions (`sources/<report id>/<edition>/`), `reports/` the published archive
with the same two levels, and the fonts. A report's own folders (`Paths`) are those roots narrowed to it, so two
reports never read or publish each other's files.

Which reports exist: every folder of `templates/` with a `report.toml`; `REPORT_TEMPLATES_DIR` (a report folder
anywhere) replaces them with that one. Which report a command builds when none is named: `REPORT` (a folder name
under `templates/`), else the only report there is, else the project's choice (`default-report` under
`[tool.report-pipeline]` in pyproject.toml)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pipeline.lib.errors import ReportError
from pipeline.lib.report_def import REPORT_FILE

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_ROOT = PROJECT_ROOT / "templates"

#: Debian's fonts-noto-cjk installs here; override with REPORT_FONT_DIR.
DEFAULT_FONT_DIR = Path("/usr/share/fonts/opentype/noto")


def report_folders(root: Path = TEMPLATES_ROOT) -> list[Path]:
    """The report folders: `REPORT_TEMPLATES_DIR` alone when set, else those under `root` holding a report.toml,
    sorted by name."""
    single = os.environ.get("REPORT_TEMPLATES_DIR")
    if single:
        return [Path(single).resolve()]
    return sorted(p for p in root.iterdir() if (p / REPORT_FILE).is_file()) if root.is_dir() else []


def project_default_report(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> str:
    """The report folder the project builds when several exist and none is named (`make report` alone): the
    `default-report` of `[tool.report-pipeline]` in pyproject.toml, or "" when the project names none."""
    if not pyproject.is_file():
        return ""
    with pyproject.open("rb") as file:
        return str(tomllib.load(file).get("tool", {}).get("report-pipeline", {}).get("default-report", "")).strip()


def default_report_dir() -> Path:
    """The report folder to build when none is named: REPORT names one under templates/, else the only one, else
    the project's default (`project_default_report`)."""
    folders = report_folders()
    named = os.environ.get("REPORT", "").strip()
    source = "REPORT"
    if not named and len(folders) > 1:
        named, source = project_default_report(), "default-report in pyproject.toml"
    if named:
        match = [p for p in folders if p.name == named]
        if not match:
            raise ReportError(f"{source}={named!r}: no such report in {TEMPLATES_ROOT} "
                              f"(reports: {', '.join(p.name for p in folders) or 'none'})")
        return match[0]
    if len(folders) != 1:
        raise ReportError(f"{len(folders)} reports in {TEMPLATES_ROOT} ({', '.join(p.name for p in folders)}): "
                          "set REPORT to the one to build")
    return folders[0]


@dataclass(frozen=True)
class Roots:
    """The folders shared by every report: each holds one subfolder per report id (templates: per folder)."""

    sources: Path
    reports: Path
    fonts: Path

    @classmethod
    def from_env(cls) -> Roots:
        def pick(var: str, default: Path) -> Path:
            value = os.environ.get(var)
            return Path(value).resolve() if value else default

        return cls(
            sources=pick("REPORT_SOURCES_DIR", PROJECT_ROOT / "sources"),
            reports=pick("REPORT_OUTPUT_DIR", PROJECT_ROOT / "reports"),
            fonts=pick("REPORT_FONT_DIR", DEFAULT_FONT_DIR),
        )

    def for_report(self, folder: Path) -> Paths:
        """The folders of the report defined in `folder`: its editions and its archive under its id."""
        from pipeline.lib.report_def import load_report

        report_id = load_report(folder).report_id
        return Paths(report_id=report_id, sources=self.sources / report_id, reports=self.reports / report_id,
                     templates=folder, fonts=self.fonts)


@dataclass(frozen=True)
class Paths:
    """The folders of one report: its editions (`sources`), its local archive (`reports`), its own folder
    (`templates`) and the fonts. An object-store archive replaces `reports` (pipeline.lib.storage)."""

    report_id: str
    sources: Path
    reports: Path
    templates: Path
    fonts: Path

    @classmethod
    def from_env(cls, folder: Path | None = None) -> Paths:
        """The folders of the report in `folder`, else of the default report (`default_report_dir`)."""
        return Roots.from_env().for_report(folder or default_report_dir())
