"""A report's asset graph, one asset per stage, each a thin wrapper around a pipeline.lib function.

sources → source_tables ─(blocking check)→ validated_metrics → report_figures → report_charts → report_html
→ report_pdf → published_report. `report_assets(report)` makes this graph for one report: keys prefixed and
grouped by the report (one lineage per report in the UI), partitioned by the report's editions, each step
reading that report's folders. Its job (`report_job`) materializes them all, with their checks, for one
edition, and is what the UI, the CLI, the schedule and the sensor run.

Each materialization carries what an analyst looks at in the asset catalog: row counts (`dagster/row_count`,
which the UI shows as the asset's row count) and the schema version for the data assets, the KPIs as a Markdown
table, the chart specs, and for the published PDF its path, size, pages, sha256, data fingerprint and
download link. The consistency checks and the PDF's two blocking checks are yielded by the asset they check
(`report_figures`, `report_pdf`), not run as steps of their own. Code versions are hashes of the library modules
and of the report's own folder a step runs, so the UI marks an asset's partitions as changed exactly when the code
that produced them changed, and editing one report never marks another's."""

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    DataVersion,
    DynamicPartitionsDefinition,
    MetadataValue,
    Output,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
    define_asset_job,
)

if TYPE_CHECKING:  # the type define_asset_job returns; Dagster exports it only from its internals
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
import pandas as pd

from pipeline.defs.checks import consistency_results, consistency_specs, pdf_results, pdf_specs
from pipeline.defs.partitions import names
from pipeline.defs.progress import NOTE
from pipeline.defs.resources import ReportSettings
from pipeline.defs.warehouse import WarehouseResource
from pipeline.lib import build as core
from pipeline.lib import (
    chart_cache,
    consistency,
    fetcher,
    fonts,
    formatting,
    kpis,
    pdf_archival,
    publish,
    render,
    rendered_chart,
    report_context,
    sources,
    units,
    validate,
)
from pipeline.lib.changes import plain
from pipeline.lib.changes.basis import basis_for
from pipeline.lib.changes.shown import TOP
from pipeline.lib.changes.snapshot import figure_values, to_json
from pipeline.lib.changes.summary import ChangeSummary, summarize
from pipeline.lib.chart_cache import report_charts as drawn_charts
from pipeline.lib.code_version import modules_version
from pipeline.lib.formatting import locale_for
from pipeline.lib.rendered_chart import RenderedChart
from pipeline.lib.report_def import Report
from pipeline.lib.sources import EditionSources, read_edition
from pipeline.lib.urls import compare_editions_url, compare_url
from pipeline.lib.validate import COLUMN_DESCRIPTIONS, SCHEMA_VERSION, ValidatedEdition, validate_edition
from pipeline.lib.warehouse import stages

OWNERS = ["team:strategy-research"]

#: Why a run was started: manual (the UI's job page, the CLI), new-edition, sources-changed, schedule.
TRIGGER_TAG = "report/trigger"
#: The metadata key the Dagster UI shows as an asset's row count.
ROW_COUNT = "dagster/row_count"
#: The metadata key the Dagster UI shows as an asset's columns.
COLUMN_SCHEMA = "dagster/column_schema"




def figures_table(figures: pd.DataFrame, language: str) -> MetadataValue:
    """Figures as the report prints them (its units and periods: 2,800亿, 14%, 2025年上半年), with the raw value
    and, for a derived figure, its formula: the table an analyst reads in the catalog."""
    locale = locale_for(language)
    records = [TableRecord({
        "figure": r["metric_id"], "label": r["label"], "period": locale.period_label(r["period"]),
        "value": locale.figure_text(r["value"], r["unit"], r["qualifier"] or ""), "raw_value": float(r["value"]),
        "unit": r["unit"], "formula": r["formula"] or ""}) for r in figures.to_dict(orient="records")]
    return MetadataValue.table(records=records, schema=TableSchema(columns=[
        TableColumn("figure", "string", description="the figure's id"),
        TableColumn("label", "string"),
        TableColumn("period", "string", description="as the report writes it"),
        TableColumn("value", "string", description="as the report prints it, in its unit"),
        TableColumn("raw_value", "float", description="the number computed, before formatting"),
        TableColumn("unit", "string", description="pipeline.lib.units id"),
        TableColumn("formula", "string", description="for a derived figure: what was computed"),
    ]))


def change_metadata(summary: ChangeSummary | None, report: Report, base_url: str,
                    version: publish.PublishedVersion) -> dict[str, Any]:  # Dagster's metadata values
    """The change summary of a published version: counts, the largest changes in the report's formatting, and
    the site's compare page."""
    if summary is None:
        return {"changes": "nothing to compare with (the first version with figures)"}
    changes, locale = summary.changes, locale_for(report.language)
    if summary.against == "version":
        link = compare_url(base_url, report.report_id, version.edition, summary.version, version.version)
    else:
        link = compare_editions_url(base_url, report.report_id, summary.edition, version.edition)
    rows = [TableRecord({
        "figure": c.metric_id, "label": c.label, "before": locale.figure_text(c.before, c.unit),
        "after": locale.figure_text(c.after, c.unit), "change": plain.percent(c.relative),
        "period": locale.period_label(c.period_after)}) for c in changes.moved[:TOP]]
    return {
        "compared_with": f"{summary.edition} {summary.version}",
        "figures_changed": changes.count, "figures_added": len(changes.added),
        "figures_removed": len(changes.removed),
        "top_changes": MetadataValue.table(records=rows, schema=TableSchema(columns=[
            TableColumn("figure", "string"), TableColumn("label", "string"),
            TableColumn("before", "string", description="in the report's formatting"),
            TableColumn("after", "string"), TableColumn("change", "string", description="relative to before"),
            TableColumn("period", "string")])),
        "compare": MetadataValue.url(link),
    }


def changes_text(summary: ChangeSummary | None, language: str) -> str | None:
    """The largest changes as lines of plain text (what a delivery e-mail quotes): label, period: before → after
    (relative), in the report's formatting; None when there is nothing to compare with or nothing moved."""
    if summary is None or not summary.changes.moved:
        return None
    locale = locale_for(language)
    return "\n".join(
        f"{c.label}, {locale.period_label(c.period_after)}: {locale.figure_text(c.before, c.unit)} → "
        f"{locale.figure_text(c.after, c.unit)}" + (f" ({plain.percent(c.relative)})" if c.relative is not None else "")
        for c in summary.changes.moved[:TOP])


def report_assets(report: Report, editions: DynamicPartitionsDefinition) -> list[AssetsDefinition]:
    """The seven assets of `report`, partitioned by `editions`."""
    folder: Path = report.folder
    key = names(report).key

    def code_version(*modules: ModuleType | str, templates: bool = False) -> str:
        return modules_version(*modules, templates=folder if templates else None)

    def source_output(context: AssetExecutionContext, raw: EditionSources) -> Output[EditionSources]:
        for notice in raw.notices:  # for whoever can re-save the file; never printed in the report
            context.log.warning(f"{NOTE}{notice}")
        return Output(
            raw,
            data_version=DataVersion(raw.fingerprint),  # unchanged files read as an unchanged data version (beta API)
            metadata={
                ROW_COUNT: len(raw.metrics),
                "metric_rows": len(raw.metrics),
                "reference_rows": len(raw.references),
                **{f"{name.removesuffix('.csv')}_rows": len(table) for name, table in raw.tables.items()},
                "fingerprint": raw.fingerprint,
                "notices": MetadataValue.md("\n".join(f"- {n}" for n in raw.notices) or "none"),
            },
        )

    if report.warehouse:
        @asset(
            partitions_def=editions, group_name=key, key_prefix=[key], kinds={"sql", "pandas"}, owners=OWNERS,
            code_version=code_version(sources, stages, templates=True), deps=[AssetKey([key, "kpi_tables"])],
            description="The edition's files (edition.toml, metrics.csv, references.csv and the report's tables) "
                        "written by the report's warehouse module from its KPI tables, read like an edition folder.",
        )
        def source_tables(context: AssetExecutionContext, settings: ReportSettings,
                          warehouse: WarehouseResource) -> Output[EditionSources]:
            paths = settings.paths(folder)
            with warehouse.connect(report, paths.reports.parent, write=False) as db:
                raw = stages.edition_sources(report, db, context.partition_key)
            return source_output(context, raw)
    else:
        @asset(
            partitions_def=editions, group_name=key, key_prefix=[key], kinds={"csv", "pandas"}, owners=OWNERS,
            code_version=code_version(sources),
            description="The edition folder of sources/ read as string tables (metrics, references, edition.toml), "
                        "each row keeping its line number for error messages.",
        )
        def source_tables(context: AssetExecutionContext, settings: ReportSettings) -> Output[EditionSources]:
            raw = read_edition(settings.paths(folder).sources, context.partition_key, core.table_files(report))
            return source_output(context, raw)

    @asset(
        partitions_def=editions, group_name=key, key_prefix=[key], kinds={"pandera", "pandas"}, owners=OWNERS,
        code_version=code_version(validate, units),
        description="Typed metrics and references that passed the pandera data contract.",
    )
    def validated_metrics(source_tables: EditionSources) -> Output[ValidatedEdition]:
        validated = validate_edition(source_tables, report.tables)
        return Output(
            validated,
            metadata={
                ROW_COUNT: len(validated.metrics),
                COLUMN_SCHEMA: MetadataValue.table_schema(TableSchema(columns=[
                TableColumn(str(name), str(dtype), description=COLUMN_DESCRIPTIONS.get(str(name)))
                for name, dtype in validated.metrics.dtypes.items()])),
            "row_count": len(validated.metrics),
                "reference_count": len(validated.references),
                "schema_version": SCHEMA_VERSION,
                "units": MetadataValue.json(validated.metrics["unit"].value_counts().to_dict()),
                "fingerprint": validated.fingerprint,
            },
        )


    @asset(
        partitions_def=editions, group_name=key, key_prefix=[key], kinds={"pandas"}, owners=OWNERS,
        code_version=code_version(core, kpis, consistency, formatting, templates=True),
        description="Source figures plus derived KPIs (each with its formula), and the cross-figure consistency findings.",
        check_specs=consistency_specs(report, editions),
    )
    def report_figures(validated_metrics: ValidatedEdition) -> Iterator[Output[core.Analysis] | AssetCheckResult]:
        analysis = core.analyse(report, validated_metrics)
        derived = analysis.figures[analysis.figures["derived"]]
        yield Output(analysis, metadata={
            ROW_COUNT: len(analysis.figures),
            "schema_version": SCHEMA_VERSION,
            "kpi_count": len(derived),
            "figure_count": len(analysis.figures),
            "kpis": figures_table(derived, report.language),
            # numbers Dagster plots across materializations, one per KPI (its latest period)
            **{f"kpi/{r['metric_id']}": MetadataValue.float(float(r["value"]))
               for r in derived.drop_duplicates("metric_id", keep="last").to_dict(orient="records")},
            "skipped_kpis": MetadataValue.json(analysis.skipped_kpis),
            "inconsistencies": sum(not f.passed for f in analysis.findings),
        })
        yield from consistency_results(report, analysis)


    @asset(
        partitions_def=editions, group_name=key, key_prefix=[key], kinds={"altair", "svg"}, owners=OWNERS,
        code_version=code_version(chart_cache, "pipeline.lib.charts", rendered_chart, fonts, formatting, kpis,
                                  templates=True),
        description="Altair charts from the figures: Vega-Lite specs (interactive HTML) and SVG (PDF), CJK font.",
    )
    def report_charts(report_figures: core.Analysis, settings: ReportSettings) -> Output[list[RenderedChart]]:
        rendered = drawn_charts(report_figures.figures, report_figures.report, settings.paths(folder).fonts,
                                report_figures.tables)
        return Output(rendered, metadata={
            "chart_count": len(rendered),
            "charts": MetadataValue.md("\n".join(f"{c.number}. {c.title} (`{c.chart_id}`)" for c in rendered)),
            "specs": MetadataValue.json({c.chart_id: c.spec for c in rendered}),
        })


    @asset(
        partitions_def=editions, group_name=key, key_prefix=[key], kinds={"jinja", "html"}, owners=OWNERS,
        code_version=code_version(core, render, report_context, formatting, templates=True),
        description="The report as HTML: an interactive self-contained page and the static print version.",
    )
    def report_html(context: AssetExecutionContext, report_figures: core.Analysis,
                    report_charts: list[RenderedChart], settings: ReportSettings) -> Output[core.Pages]:
        # What "what changed" compares with: the archive as it is now, read once (and embedded in the PDF).
        basis = basis_for(settings.archive(settings.paths(folder)), context.partition_key)
        html = core.render_pages(folder, report_figures, report_charts, basis)
        return Output(html, metadata={
            "interactive_bytes": len(html.interactive.encode()), "print_bytes": len(html.print.encode()),
            "code_version": html.code_version,
            "compared_with": f"{basis.edition} {basis.version}" if basis is not None else "nothing (a first version)"})


    @asset(
        partitions_def=editions, group_name=key, key_prefix=[key], kinds={"weasyprint", "pdf"}, owners=OWNERS,
        code_version=code_version(core, render, fetcher, fonts, pdf_archival, templates=True),
        description="The PDF laid out by WeasyPrint from the print HTML (renderer warnings fail the step): PDF/A-3a and "
                    "PDF/UA-1, with the edition's source files and a build manifest embedded.",
        check_specs=pdf_specs(report, editions),
    )
    def report_pdf(report_html: core.Pages, validated_metrics: ValidatedEdition,
                   settings: ReportSettings) -> Iterator[Output[core.Pdf] | AssetCheckResult]:
        sources = core.embedded_sources(validated_metrics, report_html, report.report_id)
        pdf = core.make_pdf(settings.paths(folder), report_html.print, sources)
        yield Output(pdf, metadata={"pages": pdf.pages, "size_bytes": len(pdf.data),
                                    "sha256": hashlib.sha256(pdf.data).hexdigest()})
        yield from pdf_results(pdf)


    @asset(
        partitions_def=editions, group_name=key, key_prefix=[key], kinds={"pdf", "filesystem"}, owners=OWNERS,
        code_version=code_version(publish),
        description="The PDF and HTML published atomically into the versioned archive under reports/.",
    )
    def published_report(context: AssetExecutionContext, report_pdf: core.Pdf, report_html: core.Pages,
                         validated_metrics: ValidatedEdition, report_figures: core.Analysis,
                         settings: ReportSettings) -> Output[dict]:
        from pipeline.lib.urls import download_url

        paths = settings.paths(folder)
        archive = settings.archive(paths)
        edition_meta = cast("dict[str, str]", validated_metrics.meta.get("edition", {}))  # text (check_meta)
        current = figure_values(report_figures.figures)
        title = edition_meta.get("title")
        version = publish.publish(
            archive, context.partition_key, pdf=report_pdf.data, html=report_html.interactive.encode(),
            pages=report_pdf.pages, fingerprint=validated_metrics.fingerprint, code_version=report_html.code_version,
            keep=settings.keep_versions, title=title, figures=to_json(current),
        )
        url = download_url(settings.base_url(), report.report_id, version.edition, version.version)
        changes = summarize(archive, version, current)
        summary = {"edition": version.edition, "version": version.version, "pdf": str(version.pdf_path),
                   "html": str(version.html_path), "sha256": version.sha256, "reused": version.reused,
                   "download": url, "title": title, "summary": edition_meta.get("subject"),
                   "changes": changes_text(changes, report.language)}
        return Output(summary, metadata={
            # Not "path": Dagster's filesystem IO manager records the pickle of this output under that key.
            "pdf_path": MetadataValue.path(str(version.pdf_path)),
            "html_path": MetadataValue.path(str(version.html_path)),
            "version": version.version,
            "reused_existing_version": version.reused,
            "size_bytes": version.size,
            "pages": version.pages,
            "sha256": version.sha256,
            "data_fingerprint": version.fingerprint,
            "code_version": version.code_version,
            "download": MetadataValue.url(url),
            "manifest": MetadataValue.json(json.loads(version.manifest_path.read_text(encoding="utf-8"))),
            **change_metadata(changes, report, settings.base_url(), version),
        })

    return [source_tables, validated_metrics, report_figures, report_charts, report_html, report_pdf,
            published_report]


def report_job(report: Report) -> "UnresolvedAssetJobDefinition":
    """One edition of `report`: its whole lineage with its checks (the assets of its group)."""
    return define_asset_job(
        names(report).job, selection=f"group:{names(report).key}",
        # A launch from the job's page is a person's; the sensor and the schedule replace the trigger tag.
        tags={"report/id": report.report_id, TRIGGER_TAG: "manual"},
        description=f"Build one edition of {report.report_id}: validate, compute, chart, render, publish.",
    )
