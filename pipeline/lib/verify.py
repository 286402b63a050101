"""`python -m pipeline verify FILE.pdf`: does a report PDF hold what it promises?

1. It conforms to PDF/UA-1 and PDF/A-3a (`conformance`).
2. It carries its sources: the edition's files and a build manifest whose fingerprint matches those files.
3. When the archive is at hand (an edition of that name is published there), its sha256 is that of a published
   version (the one whose folder it sits in, if it sits in the archive).
4. Rebuilt from the embedded sources alone (a temporary sources folder, the current templates and code), it gives
   the same bytes.

Each step is one line of the report; the verdict holds only when every step does."""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.config import Paths, report_folders
from pipeline.lib import publish
from pipeline.lib.changes.basis import BASIS_FILE, Basis
from pipeline.lib.conformance import check_pdf
from pipeline.lib.errors import ReportError
from pipeline.lib.pdf_archival import MANIFEST_NAME
from pipeline.lib.sources import EDITION_FILES, edition_file_names, fingerprint


@dataclass
class Verdict:
    lines: list[str] = field(default_factory=list)
    ok: bool = True

    def step(self, name: str, passed: bool | None, text: str) -> None:
        """passed=None: the step could not be done here and is not held against the file (archive not at hand)."""
        mark = {True: "ok", False: "FAIL", None: "skip"}[passed]
        self.lines.append(f"{name:<12}{mark:<5}{text}")
        self.ok = self.ok and passed is not False


def embedded_files(data: bytes) -> dict[str, bytes]:
    """Every embedded file of a PDF, by name (pikepdf)."""
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        return {name: spec.get_file().read_bytes() for name, spec in pdf.attachments.items()}


def _archive_step(verdict: Verdict, path: Path, sha: str, edition: str, archive: Path) -> None:
    try:
        versions = publish.history(archive, edition)
    except ReportError as error:
        verdict.step("archive", False, str(error))
        return
    if not versions:
        verdict.step("archive", None, f"edition {edition} is not published in {archive}; nothing to compare with")
        return
    mine = next((v for v in versions if Path(str(v.pdf_path)).resolve() == path.resolve()), None)
    if mine is not None:
        verdict.step("archive", mine.sha256 == sha, f"{edition}/{mine.version}: manifest sha256 {mine.sha256[:16]}… "
                     + ("matches" if mine.sha256 == sha else f"differs from the file's {sha[:16]}…"))
        return
    match = next((v for v in versions if v.sha256 == sha), None)
    verdict.step("archive", match is not None,
                 f"same bytes as published {edition}/{match.version}" if match else
                 f"sha256 {sha[:16]}… is none of the {len(versions)} published versions of {edition}")


def report_folder(report_id: str) -> Path | None:
    """The folder of the report `report_id` names (None: the default report, for PDFs from before the manifest
    named its report, or a report that is not here)."""
    from pipeline.lib.report_def import load_report

    return next((f for f in report_folders() if report_id and load_report(f).report_id == report_id), None)


def verify(path: Path, paths: Paths | None = None) -> Verdict:
    """Check one PDF file; `paths` gives the archive and the templates and fonts a rebuild uses (default: the
    report the PDF's manifest names, with the folders of the environment)."""
    from pipeline.lib.build import build

    verdict = Verdict()
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    verdict.lines.append(f"{path.name}: {len(data):,} bytes, sha256 {sha}")

    result = check_pdf(data)
    failed = ", ".join(f"{r.profile} {r.rule_id}" for r in result.failed)
    verdict.step("conformance", result.passed, f"{result.summary()} [{result.validator}, {result.seconds:.2f} s]"
                 + (f": {failed}" if failed else ""))

    try:
        files = embedded_files(data)
    except Exception as error:  # pikepdf raises its own types for unreadable files
        verdict.step("embedded", False, f"cannot read the embedded files ({type(error).__name__}: {error})")
        return verdict
    try:
        manifest = json.loads(files[MANIFEST_NAME])
        edition, recorded = publish.check_edition(str(manifest["edition"])), str(manifest["fingerprint"])
    except (KeyError, ValueError, TypeError, ReportError):
        verdict.step("embedded", False, f"no readable {MANIFEST_NAME} among the embedded files {sorted(files)}")
        return verdict
    paths = paths or Paths.from_env(report_folder(str(manifest.get("report", ""))))
    from pipeline.lib.build import table_files
    from pipeline.lib.report_def import load_report

    expected = edition_file_names(table_files(load_report(paths.templates)))
    sources = {name: files[name] for name in expected if name in files}

    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        folder = Path(tmp) / "sources" / edition
        folder.mkdir(parents=True)
        for name, content in sources.items():
            (folder / name).write_bytes(content)
        actual = fingerprint(folder, expected)
        # every edition carries the three files; a declared table only where the edition has it
        verdict.step("embedded", actual == recorded and all(name in sources for name in EDITION_FILES),
                     f"edition {edition}, {len(sources)} source files + manifest; fingerprint {actual[:16]}… "
                     + ("matches the manifest" if actual == recorded else f"but the manifest says {recorded[:16]}…"))

        _archive_step(verdict, path, sha, edition, paths.reports)

        try:
            basis = Basis.from_json(files[BASIS_FILE]) if BASIS_FILE in files else None
            rebuilt = build(replace(paths, sources=folder.parent, reports=Path(tmp) / "reports"), edition,
                            basis).pdf.data
        except ReportError as error:
            verdict.step("rebuild", False, f"the embedded sources do not build: {error}")
            return verdict
    again = hashlib.sha256(rebuilt).hexdigest()
    if again == sha:
        verdict.step("rebuild", True, "from the embedded sources: identical bytes")
    else:
        from pipeline.lib.pdf_facts import read_pdf

        same_text = read_pdf(rebuilt).text == read_pdf(data).text
        code_now = json.loads(embedded_files(rebuilt)[MANIFEST_NAME])["code_version"]
        verdict.step("rebuild", False, f"from the embedded sources: sha256 {again[:16]}… differs; text "
                     f"{'identical' if same_text else 'differs'}; code version {manifest.get('code_version')} in the "
                     f"file, {code_now} now")
    return verdict
