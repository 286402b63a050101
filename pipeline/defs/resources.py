"""Where the pipeline reads and writes, as a Dagster resource, so the UI, the CLI, the sensors, the schedules and the
tests can point it at other folders (tests use temporary ones) without touching code.

The resource holds the roots shared by every report (sources, archive, fonts); a report's assets narrow them to
their report (`paths(folder)`), so one resource serves every report of the code location.

Every step needs this resource, so it is also where a run claims its edition: for the whole run it holds the
edition's build lock and names its process in the run's tags (see `pipeline.defs.runs`)."""

from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from pathlib import Path

from dagster import AssetKey, ConfigurableResource, InitResourceContext

from pipeline.config import Paths, Roots, report_folders
from pipeline.defs import runs
from pipeline.defs.partitions import names
from pipeline.lib import locks
from pipeline.lib.errors import ReportError
from pipeline.lib.publish import build_lock_path
from pipeline.lib.report_def import load_report
from pipeline.lib.sources import list_editions
from pipeline.lib.storage import ArchivePath, archive_location


class ReportSettings(ConfigurableResource):
    """Root folders of the pipeline; empty strings mean the defaults of `Roots.from_env()` (REPORT_* variables),
    read when a step or a sensor tick runs, in the process that runs it."""

    sources_dir: str = ""
    reports_dir: str = ""
    font_dir: str = ""
    #: Base URL of the download site for the link on the published report; empty means REPORT_DOWNLOAD_BASE_URL,
    #: else the local address of `make serve`.
    download_base_url: str = ""
    keep_versions: int = 10

    def roots(self) -> Roots:
        default = Roots.from_env()
        return Roots(
            sources=Path(self.sources_dir).resolve() if self.sources_dir else default.sources,
            reports=Path(self.reports_dir).resolve() if self.reports_dir else default.reports,
            fonts=Path(self.font_dir).resolve() if self.font_dir else default.fonts,
        )

    def paths(self, folder: Path) -> Paths:
        """The folders of the report defined in `folder`."""
        return self.roots().for_report(folder)

    def archive(self, paths: Paths) -> ArchivePath:
        """The report's archive: its local folder, or its place in the object store of REPORT_ARCHIVE_URL."""
        return archive_location(paths.reports, report=paths.report_id)

    def base_url(self) -> str:
        from pipeline.lib.urls import download_base_url

        return self.download_base_url or download_base_url()

    def missing_edition(self, job: str, selection: AbstractSet[AssetKey], edition: str) -> str | None:
        """Why the run cannot build `edition` of the report it is for (its job, or its assets' key prefix): no
        folder; None when it can, or when the run is not a report's."""
        prefixes = {key.path[0] for key in selection}
        for folder in report_folders():
            report = load_report(folder)
            if names(report).job != job and names(report).key not in prefixes:
                continue
            if report.warehouse:  # its editions are in its database; source_tables says which there are
                return None
            paths = self.paths(folder)
            if not (paths.sources / edition).is_dir():
                known = ", ".join(list_editions(paths.sources)) or "none"
                return (f"edition {edition!r} of {report.report_id} has no folder {paths.sources / edition}: add "
                        f"the folder (edition.toml, metrics.csv, references.csv), or remove the partition with "
                        f"`python -m pipeline editions --report {folder.name} remove {edition}` (editions with a "
                        f"folder: {known})")
        return None

    @contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator["ReportSettings"]:
        """In a run of one edition: tag the run with this process, then hold the edition's build lock until the
        run ends, so that builds of one edition (CLI, UI, schedule, sensor) read and publish one after another.

        The lock is named by the edition alone, at the archive's root: a resource serves every report and a run
        does not say which report it builds before its steps run. Two reports' editions of the same name then
        take turns too, which costs time, never correctness. Sensor and schedule ticks have no run; they only
        read the folders."""
        run, instance = context.run, context.instance
        edition = run.tags.get(runs.PARTITION_TAG) if run is not None else None
        if run is None or instance is None or edition is None:
            yield self
            return
        instance.add_run_tags(run.run_id, runs.process_tags())
        missing = self.missing_edition(run.job_name, run.asset_selection or frozenset(), edition)
        if missing:  # e.g. an edition added with the UI's "Add partition": say so before any step runs
            raise ReportError(missing)
        lock = build_lock_path(archive_location(self.roots().reports), edition)
        if lock is None:  # an object store: the run queue keeps runs of one edition apart
            yield self
            return

        def waiting(holder: str) -> None:
            if context.log is not None:  # Optional in InitResourceContext; a run always has one
                context.log.info(f"edition {edition}: waiting for the build that holds it ({holder})")

        with locks.exclusive(lock, holder=runs.holder_text(run.run_id), on_wait=waiting):
            yield self
