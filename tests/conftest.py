"""Shared fixtures: temporary copies of the real edition, and one real Dagster materialization per session that
several tests read (a full build takes seconds, so it is done once)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize

from pipeline.config import Paths
from pipeline.defs.assets import ASSETS
from pipeline.defs.checks import CHECKS
from pipeline.defs.resources import ReportSettings
from pipeline.lib.pdf_facts import PdfFacts, read_pdf
from pipeline.lib.report_def import load_report

REAL = Paths.from_env()
#: The report this code location builds, and the edition `make report` builds by default.
REPORT = load_report(REAL.templates)
DEFAULT_EDITION = REPORT.default_edition


def copy_edition(root: Path, edition: str = DEFAULT_EDITION, as_name: str | None = None) -> Path:
    """A sources/ folder under `root` holding a copy of a real edition; returns the sources folder."""
    sources = root / "sources"
    shutil.copytree(REAL.sources / edition, sources / (as_name or edition))
    return sources


def settings_for(sources: Path, reports: Path) -> ReportSettings:
    return ReportSettings(sources_dir=str(sources), reports_dir=str(reports))


def materialize_edition(sources: Path, reports: Path, edition: str, instance: DagsterInstance):
    """Materialize the whole graph for one edition in-process, as `make report` and the UI do.

    The caller keeps `instance` alive for as long as it reads the result (the result holds only a weak reference)."""
    instance.add_dynamic_partitions("editions", [edition])
    return materialize([*ASSETS, *CHECKS], partition_key=edition, instance=instance,
                       resources={"settings": settings_for(sources, reports)}, raise_on_error=False)


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
    published = result.output_for_node("published_report")
    pdf = Path(published["pdf"]).read_bytes()
    return Materialized(sources, reports, DEFAULT_EDITION, result, instance, published, pdf, read_pdf(pdf),
                        Path(published["html"]).read_text(encoding="utf-8"))
