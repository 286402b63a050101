"""Where the pipeline reads and writes, as a Dagster resource, so the UI, the CLI, the sensor, the schedule and the
tests can point it at other folders (tests use temporary ones) without touching code."""

from pathlib import Path

from dagster import ConfigurableResource

from pipeline.config import Paths


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
        from pipeline.web.app import download_base_url

        return self.download_base_url or download_base_url()
