"""The whole pipeline as plain function calls, stage by stage. The CLI and the tests use it; the Dagster assets
call the same stage functions one by one."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.config import Paths
from pipeline.lib.charts import RenderedChart, build_charts
from pipeline.lib.consistency import Finding, check_consistency
from pipeline.lib.kpis import compute_kpis, figures_table
from pipeline.lib.render import LaidOut, layout_pdf, render_html, write_pdf
from pipeline.lib.report_context import ReportContext
from pipeline.lib.sources import read_edition
from pipeline.lib.validate import ValidatedEdition, validate_edition


@dataclass(frozen=True)
class Analysis:
    """Validated data and everything computed from it: the input of rendering."""

    edition: ValidatedEdition
    figures: pd.DataFrame
    skipped_kpis: list[str]
    findings: list[Finding]


@dataclass(frozen=True)
class Rendered:
    html: str  # interactive, self-contained: what readers open in a browser
    print_html: str  # static SVG charts: what the PDF is laid out from
    laid_out: LaidOut
    pdf: bytes


def analyse(paths: Paths, edition: str) -> Analysis:
    validated = validate_edition(read_edition(paths.sources, edition))
    kpis, skipped = compute_kpis(validated.metrics)
    figures = figures_table(validated.metrics, kpis)
    return Analysis(validated, figures, skipped, check_consistency(figures))


def context_for(analysis: Analysis, charts: list[RenderedChart]) -> ReportContext:
    return ReportContext(analysis.edition, analysis.figures, charts, analysis.findings, analysis.skipped_kpis)


def render(paths: Paths, context: ReportContext) -> Rendered:
    html = render_html(context, paths.templates, interactive=True)
    print_html = render_html(context, paths.templates, interactive=False)
    laid_out = layout_pdf(print_html, paths.templates, paths.fonts)
    return Rendered(html, print_html, laid_out, write_pdf(laid_out))


def build(paths: Paths, edition: str) -> tuple[Analysis, list[RenderedChart], Rendered]:
    """Sources to PDF bytes, in memory; publishing is a separate step."""
    analysis = analyse(paths, edition)
    charts = build_charts(analysis.figures, paths.fonts)
    return analysis, charts, render(paths, context_for(analysis, charts))
