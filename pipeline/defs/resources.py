"""Where the pipeline reads and writes, as a Dagster resource, so the UI, the CLI, the sensor, the schedule and the
tests can point it at other folders (tests use temporary ones) without touching code.

Every step needs this resource, so it is also where a run claims its edition: for the whole run it holds the
edition's build lock and names its process in the run's tags (see `pipeline.defs.runs`)."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import ConfigurableResource, InitResourceContext

from pipeline.config import Paths
from pipeline.defs import runs
from pipeline.lib import locks
from pipeline.lib.publish import build_lock_path
from pipeline.lib.storage import archive_location


class ReportSettings(ConfigurableResource):
    """Folders of the pipeline; empty strings mean the defaults of `Paths.from_env()` (REPORT_* variables), read
    when a step or a sensor tick runs, in the process that runs it."""

    sources_dir: str = ""
    reports_dir: str = ""
    templates_dir: str = ""
    font_dir: str = ""
    #: Base URL of the download site for the link on the published report; empty means REPORT_DOWNLOAD_BASE_URL,
    #: else the local address of `make serve`.
    download_base_url: str = ""
    keep_versions: int = 10

    def paths(self) -> Paths:
        default = Paths.from_env()
        return Paths(
            sources=Path(self.sources_dir).resolve() if self.sources_dir else default.sources,
            reports=Path(self.reports_dir).resolve() if self.reports_dir else default.reports,
            templates=Path(self.templates_dir).resolve() if self.templates_dir else default.templates,
            fonts=Path(self.font_dir).resolve() if self.font_dir else default.fonts,
        )

    def base_url(self) -> str:
        from pipeline.lib.urls import download_base_url

        return self.download_base_url or download_base_url()

    @contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator["ReportSettings"]:
        """In a run of one edition: tag the run with this process, then hold the edition's build lock until the
        run ends, so that builds of one edition (CLI, UI, schedule, sensor) read and publish one after another.

        Sensor and schedule ticks have no run; they only read the folders."""
        run, instance = context.run, context.instance
        edition = run.tags.get(runs.PARTITION_TAG) if run is not None else None
        if run is None or instance is None or edition is None:
            yield self
            return
        instance.add_run_tags(run.run_id, runs.process_tags())
        lock = build_lock_path(archive_location(self.paths().reports), edition)
        if lock is None:  # an object store: the run queue keeps runs of one edition apart
            yield self
            return

        def waiting(holder: str) -> None:
            if context.log is not None:  # Optional in InitResourceContext; a run always has one
                context.log.info(f"edition {edition}: waiting for the build that holds it ({holder})")

        with locks.exclusive(lock, holder=runs.holder_text(run.run_id), on_wait=waiting):
            yield self
