"""The pipeline's stages as plain functions. The Dagster assets call them one per asset; `build()` chains them
for callers that want the whole thing in one process (tests, benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd

from pipeline.config import Paths
from pipeline.lib.changes.basis import Basis
from pipeline.lib.chart_cache import report_charts
from pipeline.lib.code_version import read_tree, report_code_version
from pipeline.lib.consistency import Finding, check_consistency
from pipeline.lib.errors import RenderError, SourceDataError
from pipeline.lib.kpis import compute_kpis, figures_table
from pipeline.lib.pdf_archival import EmbeddedSources, write_options
from pipeline.lib.render import gc_paused, layout_pdf, render_html, write_pdf
from pipeline.lib.rendered_chart import RenderedChart
from pipeline.lib.report_context import ReportContext
from pipeline.lib.report_def import Report, load_report
from pipeline.lib.sources import EditionSources, read_edition
from pipeline.lib.tables import with_formulas
from pipeline.lib.template_check import render_problems, template_name
from pipeline.lib.validate import ValidatedEdition, validate_edition


@dataclass(frozen=True)
class Analysis:
    """Validated data and everything computed from it: the input of charts and rendering."""

    report: Report
    edition: ValidatedEdition
    figures: pd.DataFrame
    skipped_kpis: list[str]
    findings: list[Finding]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # declared tables by id, formulas computed


@dataclass(frozen=True)
class Pdf:
    data: bytes
    pages: int


def analyse(report: Report, validated: ValidatedEdition) -> Analysis:
    """The report's KPIs and consistency findings for a validated edition."""
    kpis, skipped = compute_kpis(validated.metrics, report.kpis, report.label("derived_locator"), report.language)
    figures = figures_table(validated.metrics, kpis)
    tables = {decl.table_id: with_formulas(decl, validated.tables[decl.table_id])
              for decl in report.tables if decl.table_id in validated.tables}
    return Analysis(report, validated, figures, skipped, check_consistency(figures, report.rules, report.language),
                    tables)


def table_files(report: Report) -> tuple[str, ...]:
    """The files of the report's declared tables, which its editions carry beside metrics.csv."""
    return tuple(decl.file for decl in report.tables)


def read_validated(paths: Paths, edition: str) -> ValidatedEdition:
    """An edition folder read and checked against the report's contract, its declared tables included."""
    report = load_report(paths.templates)
    return validate_edition(read_edition(paths.sources, edition, table_files(report)), report.tables)


@dataclass(frozen=True)
class Pages:
    """Both HTML documents, 'interactive' (what readers open in a browser) and 'print' (what the PDF is made of),
    and the code version of exactly the templates and engine code they were rendered with."""

    interactive: str
    print: str
    code_version: str
    basis: bytes | None = None  # what the "what changed" section compared with, embedded in the PDF


def _render(context: ReportContext, files: dict[str, bytes], *, interactive: bool) -> str:
    """One document; a problem of the template or of the figures it asks for is a `SourceDataError` naming the
    template's line, the same one `check_template` reports before a build."""
    try:
        return render_html(context, files, interactive=interactive)
    except Exception as error:
        problems = render_problems(error, context.template, set(files))
        if problems is None:
            raise
        raise SourceDataError(problems) from None


def render_pages(templates: Path, analysis: Analysis, charts: list[RenderedChart],
                 basis: Basis | None = None) -> Pages:
    """Render both documents from one read of the templates folder; `basis` is what "what changed" compares
    with (none: a first version)."""
    files = read_tree(templates)
    context = ReportContext(analysis.report, analysis.edition, analysis.figures, charts, analysis.findings,
                            analysis.skipped_kpis, basis, analysis.tables)
    return Pages(_render(context, files, interactive=True), _render(context, files, interactive=False),
                 report_code_version(files), basis.to_json() if basis is not None else None)


def check_template(templates: Path, analysis: Analysis) -> None:
    """Render the print document with the charts' specs but no SVG: raises what `render_pages` would raise about
    the template and the figures it uses, at a fraction of a build's cost."""
    from pipeline.lib.charts import declared_charts  # Altair: only for a check, which builds the specs

    context = ReportContext(analysis.report, analysis.edition, analysis.figures,
                            declared_charts(analysis.figures, analysis.report, analysis.tables), analysis.findings,
                            analysis.skipped_kpis, tables=analysis.tables)
    _render(context, read_tree(templates), interactive=False)


def preflight(paths: Paths, raw: EditionSources) -> Analysis:
    """Everything a build refuses before it draws anything, all at once where possible: the data contract (every
    problem of every file), the template named in edition.toml, and every figure and chart the template uses."""
    report = load_report(paths.templates)
    try:
        validated = validate_edition(raw, report.tables)
    except SourceDataError as error:
        name = template_name(raw.meta, report.template)
        missing = [] if (paths.templates / name).is_file() else render_problems(
            jinja2.TemplateNotFound(name), name, set(read_tree(paths.templates))) or []
        raise SourceDataError([*error.problems, *missing]) from None
    analysis = analyse(report, validated)
    check_template(paths.templates, analysis)
    return analysis


#: Part of the data contract: the most pages a published document may have. The row limit of the sources
#: (`sources.MAX_ROWS`) keeps a valid edition well below it; a template that repeats a table per row is caught here,
#: after layout and before anything is written.
MAX_PAGES = 80


def embedded_sources(edition: ValidatedEdition, pages: Pages, report: str = "") -> EmbeddedSources:
    """What the PDF embeds about its making: the report's id, the edition's files as read, fingerprint, the code
    version of the rendered pages, their comparison basis, date."""
    return EmbeddedSources.of(edition, pages.code_version, pages.basis, report)


def make_pdf(paths: Paths, print_html: str, sources: EmbeddedSources | None = None) -> Pdf:
    """The PDF bytes and page count; the laid-out pages are dropped before returning.

    The PDF is PDF/A-3a and PDF/UA-1 (`pdf_archival`); `sources`, when given, are embedded as its associated files.

    Layout and export run under one garbage-collector pause, and the one collection at its end also frees the
    laid-out document, whose boxes reference each other in cycles: kept until some later full collection, every
    build would leave some 60 MiB behind in a long-lived worker or the preview. Callers that want to look at the
    pages (tests) call `layout_pdf` themselves."""
    with gc_paused():
        laid_out = layout_pdf(print_html, paths.templates, paths.fonts)
        if laid_out.pages > MAX_PAGES:
            raise RenderError(f"the report lays out to {laid_out.pages} pages; the data contract allows at most "
                              f"{MAX_PAGES} pages per document (is a table or section repeated once per row?)")
        pdf = Pdf(write_pdf(laid_out, write_options(sources)), laid_out.pages)
        del laid_out
    return pdf


@dataclass(frozen=True)
class Built:
    analysis: Analysis
    charts: list[RenderedChart]
    html: Pages
    pdf: Pdf


def build(paths: Paths, edition: str, basis: Basis | None = None) -> Built:
    """Sources to PDF bytes, in memory; publishing is a separate step. `basis`: what "what changed" compares
    with (the Dagster build reads it from the archive; `verify` from the PDF)."""
    analysis = analyse(load_report(paths.templates), read_validated(paths, edition))
    charts = report_charts(analysis.figures, analysis.report, paths.fonts, analysis.tables)
    html = render_pages(paths.templates, analysis, charts, basis)
    return Built(analysis, charts, html, make_pdf(paths, html.print, embedded_sources(analysis.edition, html,
                                                                                    analysis.report.report_id)))
