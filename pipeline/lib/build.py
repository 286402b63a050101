"""The pipeline's stages as plain functions. The Dagster assets call them one per asset; `build()` chains them
for callers that want the whole thing in one process (tests, benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.config import Paths
from pipeline.lib.charts import RenderedChart, build_charts
from pipeline.lib.code_version import report_code_version
from pipeline.lib.consistency import Finding, check_consistency
from pipeline.lib.kpis import compute_kpis, figures_table
from pipeline.lib.pdf_archival import EmbeddedSources, write_options
from pipeline.lib.render import gc_paused, layout_pdf, render_html, write_pdf
from pipeline.lib.report_context import ReportContext
from pipeline.lib.sources import read_edition
from pipeline.lib.validate import ValidatedEdition, validate_edition


@dataclass(frozen=True)
class Analysis:
    """Validated data and everything computed from it: the input of charts and rendering."""

    edition: ValidatedEdition
    figures: pd.DataFrame
    skipped_kpis: list[str]
    findings: list[Finding]


@dataclass(frozen=True)
class Pdf:
    data: bytes
    pages: int


def analyse(validated: ValidatedEdition) -> Analysis:
    """KPIs and consistency findings for a validated edition."""
    kpis, skipped = compute_kpis(validated.metrics)
    figures = figures_table(validated.metrics, kpis)
    return Analysis(validated, figures, skipped, check_consistency(figures))


def render_pages(templates: Path, analysis: Analysis, charts: list[RenderedChart]) -> dict[str, str]:
    """Both HTML documents: 'interactive' (what readers open in a browser) and 'print' (what the PDF is made of)."""
    context = ReportContext(analysis.edition, analysis.figures, charts, analysis.findings, analysis.skipped_kpis)
    return {"interactive": render_html(context, templates, interactive=True),
            "print": render_html(context, templates, interactive=False)}


def embedded_sources(paths: Paths, edition: ValidatedEdition) -> EmbeddedSources:
    """What the PDF embeds about its making: the edition's files as read, fingerprint, code version, date."""
    return EmbeddedSources.of(edition, report_code_version(paths.templates))


def make_pdf(paths: Paths, print_html: str, sources: EmbeddedSources | None = None) -> Pdf:
    """The PDF bytes and page count; the laid-out pages are dropped before returning.

    The PDF is PDF/A-3u and PDF/UA-1 (`pdf_archival`); `sources`, when given, are embedded as its associated files.

    Layout and export run under one garbage-collector pause, and the one collection at its end also frees the
    laid-out document, whose boxes reference each other in cycles: kept until some later full collection, every
    build would leave some 60 MiB behind in a long-lived worker or the preview. Callers that want to look at the
    pages (tests) call `layout_pdf` themselves."""
    with gc_paused():
        laid_out = layout_pdf(print_html, paths.templates, paths.fonts)
        pdf = Pdf(write_pdf(laid_out, write_options(sources)), laid_out.pages)
        del laid_out
    return pdf


@dataclass(frozen=True)
class Built:
    analysis: Analysis
    charts: list[RenderedChart]
    html: dict[str, str]
    pdf: Pdf


def build(paths: Paths, edition: str) -> Built:
    """Sources to PDF bytes, in memory; publishing is a separate step."""
    analysis = analyse(validate_edition(read_edition(paths.sources, edition)))
    charts = build_charts(analysis.figures, paths.fonts)
    html = render_pages(paths.templates, analysis, charts)
    return Built(analysis, charts, html, make_pdf(paths, html["print"], embedded_sources(paths, analysis.edition)))
