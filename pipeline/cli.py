"""Command line: `python -m pipeline build [--report R] [--edition E]`, `validate`, `editions`, `reports`, `verify FILE.pdf`.

The report is `--report` (a folder name under templates/), else REPORT, else the only report. `build` runs the
report's Dagster job, the one the UI, its schedule and its sensor run, in this process, against the project's Dagster instance, so a
CLI build appears in the UI's run history and asset catalog. Errors print as plain messages, not tracebacks."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import PROJECT_ROOT, Paths, default_report_dir, report_folders
from pipeline.gc_startup import startup_without_gc
from pipeline.lib.errors import ReportError

if TYPE_CHECKING:
    from dagster import ExecuteInProcessResult
    from dagster._utils.error import SerializableErrorInfo


def _instance():
    """The project's Dagster instance: DAGSTER_HOME, defaulting to .dagster_home/ in the project (SQLite)."""
    from dagster import DagsterInstance

    from pipeline.lib import atomic, locks

    home = Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    # Two builds starting on a new Dagster home would both create its SQLite tables ("table run_tags already
    # exists"): the first one to get here creates them while the other waits.
    with locks.exclusive(home / ".setup.lock"):
        config = home / "dagster.yaml"
        if not config.exists():  # the local profile (deploy/local): embedded SQLite in this folder, no telemetry
            atomic.write_bytes(config, (PROJECT_ROOT / "deploy" / "local" / "dagster.yaml").read_bytes())
        instance = DagsterInstance.get()
        instance.get_runs(limit=1)  # opens (and on first use creates) the run, event and partition storage
        instance.get_dynamic_partitions("")  # the partition storage too
    return instance


def _report_error_names() -> set[str]:
    """Class names of the project's own errors, which carry a message written for the user."""
    found, todo = set(), [ReportError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


def _step_error_message(error: SerializableErrorInfo | None) -> str:
    """The message of a failed step: the first of the project's own errors in the cause chain, else the root cause
    named by its type (an unexpected error, not one of ours), never Dagster's wrapper or a stack trace."""
    ours = _report_error_names()
    chain = []
    while error is not None:
        chain.append(error)
        error = error.cause
    if not chain:
        return "step failed"
    for link in chain:
        if link.cls_name in ours:
            return _bare(link)
    root = chain[-1]
    return f"{root.cls_name}: {_bare(root)}" if root.cls_name else _bare(root)


def _bare(error: SerializableErrorInfo) -> str:
    """The error's own text, without the 'package.module.Class: ' that Dagster's serialised message starts with."""
    message = error.message.strip()
    prefix = re.match(rf"[\w.]*\b{re.escape(error.cls_name or '')}: ", message) if error.cls_name else None
    return message[prefix.end():] if prefix else message


def _failure_messages(result: ExecuteInProcessResult) -> list[str]:
    """Human messages of the failed blocking checks and failed steps of a run (a failed blocking check also fails
    its step with Dagster's own wrapper error, which says nothing the check did not say better)."""
    checks, steps = [], []
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.asset_check_evaluation_data
            if not evaluation.passed and evaluation.severity.value == "ERROR":
                checks.append(f"check {evaluation.check_name} failed: {evaluation.description or ''}".rstrip(": "))
        elif event.is_step_failure:
            error = event.step_failure_data.error
            if error is not None and error.cls_name == "DagsterAssetCheckFailedError":
                continue
            steps.append(_step_error_message(error))
    return list(dict.fromkeys(checks + steps))


def _was_interrupted(result: ExecuteInProcessResult) -> bool:
    """True when the run ended because the process was asked to stop (Ctrl+C, SIGTERM), not because a step failed."""
    return any(event.is_step_failure and event.step_failure_data.error is not None
               and event.step_failure_data.error.cls_name == "DagsterExecutionInterruptedError"
               for event in result.all_events)


def _kept(paths: Paths, edition: str) -> str:
    """What readers still get after a build that published nothing."""
    from pipeline.lib.publish import latest
    from pipeline.lib.storage import archive_location

    current = latest(archive_location(paths.reports, report=paths.report_id), edition)
    if current is None:
        return "nothing was published (the edition has no published version yet)"
    return f"nothing was published; readers keep version {current.version}"


def _needs_ingest(report, paths: Paths) -> bool:
    """True unless the report's warehouse holds KPI tables built from exactly the files that have landed."""
    from pipeline.defs.warehouse import WarehouseResource
    from pipeline.lib.errors import ReportError
    from pipeline.lib.warehouse import stages

    landed = stages.landed_fingerprint(report, paths.sources)
    try:
        with WarehouseResource().connect(report, paths.reports.parent, write=False) as db:
            return stages.ingested_fingerprint(db) != landed
    except ReportError:  # no warehouse yet
        return True


def build(folder: Path, edition: str, verbose: bool = False) -> int:
    with startup_without_gc():
        from pipeline.definitions import defs
        from pipeline.defs.partitions import names
        from pipeline.defs.runs import fail_orphaned_runs
        from pipeline.lib.report_def import load_report
        from pipeline.lib.sources import edition_dir

        paths = Paths.from_env(folder)
        report = load_report(folder)
        if not report.warehouse:
            edition_dir(paths.sources, edition)  # a clear error for an unknown or unsafe edition name
        named = names(report)
        instance = _instance()
        for run_id in fail_orphaned_runs(instance):
            print(f"note: run {run_id[:8]} had lost its process (a killed build); marked failed", file=sys.stderr)
    level = "DEBUG" if verbose else "CRITICAL"  # failures are summarised below, without Dagster's stack traces
    if report.warehouse and _needs_ingest(report, paths):
        ingest = defs.resolve_job_def(named.ingest_job)
        steps = len(ingest.graph.nodes)
        print(f"ingesting {paths.report_id}'s landed data ({steps} steps)", file=sys.stderr)
        done = ingest.execute_in_process(instance=instance, raise_on_error=False, run_config={
            "loggers": {"console": {"config": {"log_level": level}}, "progress": {"config": {"steps": steps}}}})
        if not done.success:
            print(f"ingest of {paths.report_id} failed; {_kept(paths, edition)}.", file=sys.stderr)
            for message in _failure_messages(done):
                print(message, file=sys.stderr)
            return 1
    if not instance.has_dynamic_partition(named.editions, edition):
        if report.warehouse:
            print(f"{paths.report_id} has no edition {edition!r} in its data (editions: "
                  f"{', '.join(instance.get_dynamic_partitions(named.editions)) or 'none'})", file=sys.stderr)
            return 1
        instance.add_dynamic_partitions(named.editions, [edition])
    job = defs.resolve_job_def(named.job)
    steps = len(job.graph.nodes)
    print(f"building {paths.report_id} edition {edition} ({steps} steps)", file=sys.stderr)
    result = job.execute_in_process(partition_key=edition, instance=instance, raise_on_error=False, run_config={
        "loggers": {"console": {"config": {"log_level": level}}, "progress": {"config": {"steps": steps}}}})
    if not result.success:
        if _was_interrupted(result):
            print(f"build of edition '{edition}' stopped on request; {_kept(paths, edition)}.", file=sys.stderr)
            return 130
        print(f"build of edition '{edition}' failed; {_kept(paths, edition)}.", file=sys.stderr)
        for message in _failure_messages(result):
            print(message, file=sys.stderr)
        return 1
    published = result.output_for_node(named.node("published_report"))
    state = "unchanged (same data and templates), reused" if published["reused"] else "published"
    print(f"edition {edition}: version {published['version']} {state}")
    print(f"  PDF : {published['pdf']}")
    print(f"  HTML: {published['html']}")
    return 0


def _warehouse_editions(report, paths: Paths) -> list[str] | None:
    """The editions a database-backed report's KPI tables hold (read-only), or None before its first ingest."""
    from pipeline.defs.warehouse import WarehouseResource
    from pipeline.lib.warehouse import stages

    try:
        with WarehouseResource().connect(report, paths.reports.parent, write=False) as db:
            return stages.editions(report, db)
    except ReportError:
        return None


def _validate_landed(report, paths: Paths) -> int:
    """A database-backed report's landed files against its contract, in a scratch DuckDB database: the report's
    own warehouse (and so every published edition) is not touched. Returns the rows checked."""
    import tempfile

    import duckdb

    from pipeline.lib.warehouse import stages
    from pipeline.lib.warehouse.duckdb_store import DuckDBWarehouse

    with tempfile.TemporaryDirectory(prefix="validate-") as scratch:
        con = duckdb.connect(str(Path(scratch) / "scratch.duckdb"))
        try:
            db = DuckDBWarehouse(con)
            rows = stages.load_raw(db, stages.raw_files(report, paths.sources, Path(scratch) / "work"))
            stages.validate_raw(report, db)
        finally:
            con.close()
    return sum(rows.values())


def validate(folder: Path, edition: str) -> int:
    """Everything `build` refuses before it draws anything: contract, template, the figures the template uses.
    For a database-backed report: its landed files against its contract, then the edition its KPI tables give."""
    from pipeline.lib.build import preflight
    from pipeline.lib.report_def import load_report
    from pipeline.lib.sources import read_edition

    paths = Paths.from_env(folder)
    report = load_report(folder)
    if report.warehouse:
        from pipeline.defs.warehouse import WarehouseResource
        from pipeline.lib.warehouse import stages

        rows = _validate_landed(report, paths)
        print(f"{paths.report_id}: the landed files ({rows:,} rows) meet the data contract")
        if _warehouse_editions(report, paths) is None:
            print(f"edition {edition}: not checked, the data has not been ingested yet (python -m pipeline build "
                  f"--report {folder.name} --edition {edition} ingests, then builds)")
            return 0
        with WarehouseResource().connect(report, paths.reports.parent, write=False) as db:
            raw = stages.edition_sources(report, db, edition)
    else:
        raw = read_edition(paths.sources, edition)
    for notice in raw.notices:  # printed before any problems: "decoded as GB18030" may explain them
        print(f"note: {notice}")
    analysis = preflight(paths, raw)
    validated = analysis.edition
    print(f"edition {edition}: {len(validated.metrics)} metric rows and {len(validated.references)} sources are "
          f"valid, and the template has every figure it uses")
    return 0


def verify(file: Path) -> int:
    from pipeline.lib.verify import verify as verify_pdf

    if not file.is_file():
        raise ReportError(f"{file}: no such file")
    verdict = verify_pdf(file)
    print("\n".join(verdict.lines))
    print("verified: the PDF keeps its promises" if verdict.ok else "NOT verified: see the FAIL lines above")
    return 0 if verdict.ok else 1


def editions(folder: Path) -> int:
    from pipeline.lib.report_def import load_report
    from pipeline.lib.sources import scan_editions

    report = load_report(folder)
    if report.warehouse:
        found = _warehouse_editions(report, Paths.from_env(folder))
        if found is None:
            print(f"note: {report.report_id} has not ingested its data yet; its editions are those the data gives "
                  "(python -m pipeline build ingests first)", file=sys.stderr)
        print("\n".join(found or []))
        return 0
    sources = Paths.from_env(folder).sources
    for name, reason in scan_editions(sources):
        if reason is None:
            print(name)
        else:
            print(f"note: {sources / name} is left out: {reason}", file=sys.stderr)
    return 0


def remove_edition(folder: Path, edition: str) -> int:
    """Delete an edition's Dagster partition, and say what stays: its run history and its published versions."""
    from pipeline.defs.partitions import names
    from pipeline.lib.publish import history
    from pipeline.lib.report_def import load_report
    from pipeline.lib.storage import archive_location

    paths = Paths.from_env(folder)
    partitions = names(load_report(folder)).editions
    instance = _instance()
    if not instance.has_dynamic_partition(partitions, edition):
        known = ", ".join(instance.get_dynamic_partitions(partitions)) or "none"
        raise ReportError(f"{edition!r} is not an edition of {paths.report_id} in Dagster (editions: {known})")
    instance.delete_dynamic_partition(partitions, edition)
    published = len(history(archive_location(paths.reports, report=paths.report_id), edition))
    folder_state = ("still exists: the sources sensor registers it again on its next tick unless you move it"
                    if (paths.sources / edition).is_dir() else "does not exist")
    print(f"removed edition {edition} of {paths.report_id} from Dagster's partitions.")
    print("  its runs and materializations stay in the run history (the UI no longer lists it as a partition);")
    print(f"  its {published} published version(s) stay in the archive, and the download site keeps serving them;")
    print(f"  its sources folder {paths.sources / edition} {folder_state}.")
    return 0


def _report_folder(name: str | None) -> Path:
    """The folder of the report named on the command line, else of the default report (REPORT, or the only one)."""
    if not name:
        return default_report_dir()
    folders = report_folders()
    match = [p for p in folders if p.name == name]
    if not match:
        raise ReportError(f"--report {name!r}: no such report (reports: {', '.join(p.name for p in folders) or 'none'})")
    return match[0]


def _default_edition(folder: Path) -> str:
    from pipeline.lib.report_def import load_report

    return load_report(folder).default_edition


def reports() -> int:
    """Each report: its folder, title, language, default edition and editions; the default report is marked."""
    from pipeline.lib.report_def import load_report
    from pipeline.lib.sources import list_editions

    folders = report_folders()
    try:
        current: Path | None = default_report_dir()
    except ReportError:  # several reports and no REPORT: none is the default
        current = None
    for folder in folders:
        report = load_report(folder)
        mark = "*" if folder == current else " "
        found = ((_warehouse_editions(report, Paths.from_env(folder)) or []) if report.warehouse
                 else list_editions(Paths.from_env(folder).sources))
        print(f"{mark} {folder.name}: {report.title} ({report.language}); default edition {report.default_edition}; "
              f"editions: {', '.join(found) or 'none'}")
    return 0


def _system_error(error: BaseException) -> str | None:
    """One line for an error of the machine rather than of the input (full disk, read-only or locked Dagster
    home), or None if `error` is not one."""
    home = os.environ.get("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home"))
    text = str(getattr(error, "orig", None) or error).strip().splitlines()[0] if str(error).strip() else repr(error)
    if "database is locked" in text:
        return (f"error: the Dagster database in {home} is locked by another process; try again when it finishes "
                f"({text})")
    if isinstance(error, OSError) or "disk I/O error" in text or "readonly database" in text \
            or "unable to open database" in text or "No space left" in text or "disk is full" in text:
        return (f"error: the Dagster home {home} or the output folder cannot be written ({text}); free space on its "
                "disk, make it writable, or set DAGSTER_HOME / REPORT_OUTPUT_DIR to another folder")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    report_help = "report folder under templates/ (default: $REPORT, else the only report)"
    for name, help_text in (("build", "build and publish one edition through Dagster"),
                            ("validate", "check one edition's sources against the data contract")):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--report", help=report_help)
        sub.add_argument("--edition", help="edition folder in sources/<report>/ (default: the report's default "
                                           "edition)")
        sub.add_argument("-v", "--verbose", action="store_true", help="show Dagster's step log")
    sub = commands.add_parser("editions", help="list the edition folders of a report in sources/<report>/, or "
                                               "`remove E`: delete edition E's Dagster partition")
    sub.add_argument("--report", help=report_help)
    sub.add_argument("action", nargs="?", choices=["list", "remove"], default="list")
    sub.add_argument("name", nargs="?", help="the edition to remove")
    commands.add_parser("reports", help="list the reports in templates/ with their default editions and editions")
    sub = commands.add_parser("verify", help="check a report PDF: conformance, archive sha256, rebuild from its "
                                             "embedded sources")
    sub.add_argument("file", type=Path, help="the PDF file")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            folder = _report_folder(args.report)
            code = build(folder, args.edition or _default_edition(folder), args.verbose)
        elif args.command == "validate":
            folder = _report_folder(args.report)
            code = validate(folder, args.edition or _default_edition(folder))
        elif args.command == "reports":
            code = reports()
        elif args.command == "verify":
            code = verify(args.file)
        elif args.action == "remove":
            if not args.name:
                raise ReportError("editions remove: name the edition to remove")
            code = remove_edition(_report_folder(args.report), args.name)
        else:
            code = editions(_report_folder(args.report))
        sys.stdout.flush()  # here, so that a reader that left (`| head -1`) is handled below, not at exit
        return code
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `build | head -1`: the reader left; say nothing more, to a closed pipe or otherwise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("stopped on request; nothing was published", file=sys.stderr)
        return 130
    except Exception as error:
        message = _system_error(error)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return 1
