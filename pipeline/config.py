"""Where things live. Paths come from the package location or the environment, never from the working directory,
so the CLI, `dagster dev` and the tests agree wherever they are started.

A report is a folder of `templates/` holding its `report.toml` (`pipeline.lib.report_def`). Which report the
pipeline builds: `REPORT_TEMPLATES_DIR` (a folder anywhere), else `REPORT` (a folder name under `templates/`),
else the one report folder there is."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.lib.errors import ReportError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_ROOT = PROJECT_ROOT / "templates"

#: Debian's fonts-noto-cjk installs here; override with REPORT_FONT_DIR.
DEFAULT_FONT_DIR = Path("/usr/share/fonts/opentype/noto")


def report_folders(root: Path = TEMPLATES_ROOT) -> list[Path]:
    """The report folders under `root` (those holding a report.toml), sorted by name."""
    return sorted(p for p in root.iterdir() if (p / "report.toml").is_file()) if root.is_dir() else []


def default_report_dir() -> Path:
    """The report folder to build: REPORT names one under templates/, else the only one there is."""
    folders = report_folders()
    named = os.environ.get("REPORT", "").strip()
    if named:
        match = [p for p in folders if p.name == named]
        if not match:
            raise ReportError(f"REPORT={named!r}: no such report in {TEMPLATES_ROOT} "
                              f"(reports: {', '.join(p.name for p in folders) or 'none'})")
        return match[0]
    if len(folders) != 1:
        raise ReportError(f"{len(folders)} reports in {TEMPLATES_ROOT} ({', '.join(p.name for p in folders)}): "
                          "set REPORT to the one to build")
    return folders[0]


@dataclass(frozen=True)
class Paths:
    """The four folders the pipeline reads from or writes to; `templates` is the report's folder."""

    sources: Path
    reports: Path
    templates: Path
    fonts: Path

    @classmethod
    def from_env(cls) -> Paths:
        def pick(var: str, default: Path) -> Path:
            value = os.environ.get(var)
            return Path(value).resolve() if value else default

        templates = os.environ.get("REPORT_TEMPLATES_DIR")
        return cls(
            sources=pick("REPORT_SOURCES_DIR", PROJECT_ROOT / "sources"),
            reports=pick("REPORT_OUTPUT_DIR", PROJECT_ROOT / "reports"),
            templates=Path(templates).resolve() if templates else default_report_dir(),
            fonts=pick("REPORT_FONT_DIR", DEFAULT_FONT_DIR),
        )
