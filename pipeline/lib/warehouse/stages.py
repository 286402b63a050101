"""The warehouse stages of a report as plain functions: land → validate → validated tables → KPI tables →
edition files. The Dagster assets (pipeline.defs.warehouse) and the CLI call them; the report's own code (its
`warehouse.py` and its SQL files) says what each stage does for that report.

The report module's functions (see README, "A report from a database"): `raw_files(landing, workdir)`,
`validate(db)`, `editions(db)`, `edition_files(db, edition)`, and optionally `source_files(landing)`. The SQL: `sql/validated/*.sql`, then
`sql/kpis/*.sql`, each one SELECT whose result replaces the table named by the file."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from types import ModuleType

from pipeline.lib.errors import ReportError, SourceDataError
from pipeline.lib.report_def import Report, ReportDefinitionError, report_module
from pipeline.lib.sources import EditionSources, parse_edition
from pipeline.lib.warehouse.base import Warehouse

#: The table that records which landed files the KPI tables were built from (written last, after the KPI tables).
INGESTED_TABLE = "_ingested"
SQL_STAGES = ("validated", "kpis")
#: Problems a failed validation prints in full; all of them are counted per rule and kept in the error.
SHOWN = 50


def module_of(report: Report) -> ModuleType:
    """The report's warehouse module ([warehouse] module, default warehouse.py)."""
    name = report.warehouse.get("module", "warehouse.py").removesuffix(".py")
    module = report_module(report.folder, name)
    if module is None:
        raise ReportDefinitionError(f"{report.folder}: [warehouse] names {name}.py, which the folder does not have")
    return module


def landing_folder(sources: Path) -> Path | None:
    """The report's landing folder (sources/<report id>/) when files have landed there, else None: the report's
    module then reads its default data (e.g. an installed package's)."""
    return sources if sources.is_dir() and any(p.is_file() for p in sources.iterdir()) else None


def landing_fingerprint(files: dict[str, Path]) -> str:
    """What identifies the landed files cheaply enough for a sensor tick: name, size and modification time of each
    (a re-landed file has a new modification time; hashing gigabytes every tick would not scale)."""
    digest = hashlib.sha256()
    for name, path in sorted(files.items()):
        stat = path.stat()
        digest.update(f"{name}\0{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def raw_files(report: Report, sources: Path, workdir: Path) -> dict[str, Path]:
    return dict(module_of(report).raw_files(landing_folder(sources), workdir))


def landed_fingerprint(report: Report, sources: Path) -> str:
    """The fingerprint of the landed files as they lie. A module whose `raw_files` unpacks archives (into a new
    file each time) says where the originals are with `source_files(landing)`; otherwise the files `raw_files`
    returns are the landed ones. A sensor calls this every tick, so nothing is unpacked for it."""
    module = module_of(report)
    finder = getattr(module, "source_files", None)
    if finder is not None:
        return landing_fingerprint(dict(finder(landing_folder(sources))))
    with tempfile.TemporaryDirectory(prefix="landing-") as work:
        return landing_fingerprint(raw_files(report, sources, Path(work)))


def load_raw(db: Warehouse, files: dict[str, Path]) -> dict[str, int]:
    """Each landed file into its raw table `raw_<name>`: rows per table."""
    return {f"raw_{name}": db.load_csv(f"raw_{name}", path) for name, path in sorted(files.items())}


def validate_raw(report: Report, db: Warehouse) -> None:
    """The report's contract over its raw tables: `SourceDataError` with every problem (the first `SHOWN` in
    the message, a count per rule after them)."""
    problems = list(module_of(report).validate(db))
    if problems:
        raise SourceDataError(problems, shown=SHOWN)


def run_sql(report: Report, db: Warehouse, stage: str) -> dict[str, int]:
    """Every `sql/<stage>/*.sql` of the report, alphabetically, each replacing the table its file names."""
    folder = report.folder / "sql" / stage
    rows = {}
    for path in sorted(folder.glob("*.sql")):
        try:
            rows[path.stem] = db.replace_table(path.stem, path.read_text(encoding="utf-8"))
        except Exception as error:  # the database's own error types; the message names the file
            raise ReportError(f"{path}: the query failed on {db.dialect}: {error}") from error
    return rows


def record_ingest(db: Warehouse, fingerprint: str) -> None:
    db.replace_table(INGESTED_TABLE, f"SELECT '{fingerprint}' AS landing_fingerprint")


def ingested_fingerprint(db: Warehouse) -> str | None:
    """The landing fingerprint the KPI tables were built from, or None before a complete ingest."""
    if INGESTED_TABLE not in db.tables():
        return None
    frame = db.query(f"SELECT landing_fingerprint FROM {INGESTED_TABLE}")
    return str(frame.iloc[0, 0]) if len(frame) else None


def editions(report: Report, db: Warehouse) -> list[str]:
    return list(module_of(report).editions(db))


def edition_sources(report: Report, db: Warehouse, edition: str, known: list[str] | None = None) -> EditionSources:
    """The edition as the engine reads any edition: the files the report's module writes from its KPI tables.
    `known`: the report's editions, when the caller has already asked for them."""
    known = editions(report, db) if known is None else known
    if edition not in known:
        raise ReportError(f"{report.report_id} has no data for edition {edition!r} in its warehouse (editions: "
                          f"{', '.join(known) or 'none: ingest the data first'})")
    files = tuple(t.file for t in report.tables)
    contents: dict[str, bytes | None] = dict(module_of(report).edition_files(db, edition))
    return parse_edition(edition, contents, files)


def edition_fingerprints(report: Report, db: Warehouse) -> dict[str, str]:
    """Every edition's fingerprint (that of its files): what the sensor compares with the last build's."""
    known = editions(report, db)
    return {edition: edition_sources(report, db, edition, known).fingerprint for edition in known}
