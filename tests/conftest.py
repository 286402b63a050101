"""Shared fixtures: temporary copies of the real edition, and one real Dagster materialization per session that
several tests read (a full build takes seconds, so it is done once)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize

from pipeline.config import Paths
from pipeline.defs.component import report_defs
from pipeline.defs.partitions import ReportNames, names
from pipeline.defs.resources import ReportSettings
from pipeline.lib.pdf_facts import PdfFacts, read_pdf
from pipeline.lib.report_def import load_report

REAL = Paths.from_env()
#: The report this code location builds, and the edition `make report` builds by default.
REPORT = load_report(REAL.templates)
DEFAULT_EDITION = REPORT.default_edition
#: Its Dagster names (asset key prefix, partitions, job, schedule, sensor, op names).
NAMES: ReportNames = names(REPORT)


def edition_folder(sources: Path, edition: str = DEFAULT_EDITION, report_id: str = REPORT.report_id) -> Path:
    """An edition's folder in a sources root: sources/<report id>/<edition>/."""
    return sources / report_id / edition


def copy_edition(root: Path, edition: str = DEFAULT_EDITION, as_name: str | None = None) -> Path:
    """A sources root under `root` holding a copy of a real edition of the report; returns the sources root."""
    sources = root / "sources"
    shutil.copytree(REAL.sources / edition, edition_folder(sources, as_name or edition))
    return sources


def archive_of(reports: Path, report_id: str = REPORT.report_id) -> Path:
    """The report's archive in an archive root: reports/<report id>/."""
    return reports / report_id


def settings_for(sources: Path, reports: Path) -> ReportSettings:
    return ReportSettings(sources_dir=str(sources), reports_dir=str(reports))


def report_graph(folder: Path = REAL.templates) -> list:
    """The assets and checks of the report in `folder`, as its component makes them."""
    defs = report_defs(folder)
    return [*(defs.assets or []), *(defs.asset_checks or [])]


def materialize_edition(sources: Path, reports: Path, edition: str, instance: DagsterInstance,
                        folder: Path = REAL.templates):
    """Materialize the whole graph of the report in `folder` for one edition in-process, as `make report` and the
    UI do.

    The caller keeps `instance` alive for as long as it reads the result (the result holds only a weak reference)."""
    instance.add_dynamic_partitions(names(load_report(folder)).editions, [edition])
    return materialize(report_graph(folder), partition_key=edition, instance=instance,
                       resources={"settings": settings_for(sources, reports)}, raise_on_error=False)


def published_of(result, folder: Path = REAL.templates) -> dict:
    """The published_report output of a materialization of the report in `folder`."""
    return result.output_for_node(names(load_report(folder)).node("published_report"))


@dataclass(frozen=True)
class Materialized:
    sources: Path
    reports: Path
    edition: str
    result: object
    instance: DagsterInstance
    published: dict
    pdf: bytes
    facts: PdfFacts
    html: str


@pytest.fixture(scope="session")
def real_build(tmp_path_factory: pytest.TempPathFactory) -> Materialized:
    """The shipped edition built once through Dagster into a temporary archive."""
    root = tmp_path_factory.mktemp("real-build")
    sources = copy_edition(root)
    reports = root / "reports"
    instance = DagsterInstance.ephemeral()
    result = materialize_edition(sources, reports, DEFAULT_EDITION, instance)
    assert result.success, "the real edition must build"
    published = published_of(result)
    pdf = Path(published["pdf"]).read_bytes()
    return Materialized(sources, reports, DEFAULT_EDITION, result, instance, published, pdf, read_pdf(pdf),
                        Path(published["html"]).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def postgres_url():
    """A real PostgreSQL server (Debian's package) on loopback, as the team profile's warehouse would be, for the
    tests of one module; skipped where the package is missing (make test installs it)."""
    from tests.team_stack import postgres_bin, postgres_server

    if postgres_bin() is None:
        pytest.skip("Debian's postgresql package is not installed (make test installs it)")
    with postgres_server() as server:
        yield f"postgresql://{server.user}:{server.password}@{server.host}:{server.port}/{server.db}"
