"""The report's asset graph, one asset per stage, each a thin wrapper around a pipeline.lib function.

sources → source_tables ─(blocking check)→ validated_metrics → report_figures → report_charts → report_html
→ report_pdf → published_report. Every asset is partitioned by edition."""


import hashlib
import json

from dagster import (
    AssetExecutionContext,
    DataVersion,
    MetadataValue,
    Output,
    asset,
)

from pipeline.config import Paths
from pipeline.defs.partitions import editions
from pipeline.defs.resources import ReportSettings
from pipeline.lib import build as core
from pipeline.lib.charts import RenderedChart, build_charts
from pipeline.lib.code_version import report_code_version, templates_version
from pipeline.lib.pdf_facts import read_pdf
from pipeline.lib.publish import publish
from pipeline.lib.sources import EditionSources, read_edition
from pipeline.lib.validate import SCHEMA_VERSION, ValidatedEdition, validate_edition

OWNERS = ["team:strategy-research"]


def _markdown_table(rows: list[dict], columns: list[str]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(str(r[c]) for c in columns) + " |\n" for r in rows)


@asset(
    partitions_def=editions, group_name="sources", kinds={"csv", "pandas"}, owners=OWNERS, code_version="1",
    description="The edition folder of sources/ read as string tables (metrics, references, edition.toml), "
                "each row keeping its line number for error messages.",
)
def source_tables(context: AssetExecutionContext, settings: ReportSettings) -> Output[EditionSources]:
    raw = read_edition(settings.paths().sources, context.partition_key)
    return Output(
        raw,
        data_version=DataVersion(raw.fingerprint),  # lets Dagster see unchanged data as not stale (beta API)
        metadata={
            "metric_rows": len(raw.metrics),
            "reference_rows": len(raw.references),
            "fingerprint": raw.fingerprint,
            "notices": MetadataValue.md("\n".join(f"- {n}" for n in raw.notices) or "none"),
        },
    )


@asset(
    partitions_def=editions, group_name="metrics", kinds={"pandera", "pandas"}, owners=OWNERS, code_version="1",
    description="Typed metrics and references that passed the pandera data contract.",
)
def validated_metrics(source_tables: EditionSources) -> Output[ValidatedEdition]:
    validated = validate_edition(source_tables)
    return Output(
        validated,
        metadata={
            "row_count": len(validated.metrics),
            "schema_version": SCHEMA_VERSION,
            "units": MetadataValue.json(validated.metrics["unit"].value_counts().to_dict()),
            "fingerprint": validated.fingerprint,
        },
    )


@asset(
    partitions_def=editions, group_name="metrics", kinds={"pandas"}, owners=OWNERS, code_version="1",
    description="Source figures plus derived KPIs (each with its formula), and the cross-figure consistency findings.",
)
def report_figures(validated_metrics: ValidatedEdition) -> Output[core.Analysis]:
    analysis = core.analyse(validated_metrics)
    kpis = analysis.figures[analysis.figures["derived"]]
    rows = [{"KPI": r["metric_id"], "期间": r["period"], "数值": f"{r['value']:.4g}", "公式": r["formula"]}
            for r in kpis.to_dict(orient="records")]
    return Output(analysis, metadata={
        "kpi_count": len(kpis),
        "figure_count": len(analysis.figures),
        "kpis": MetadataValue.md(_markdown_table(rows, ["KPI", "期间", "数值", "公式"])),
        "skipped_kpis": MetadataValue.json(analysis.skipped_kpis),
        "inconsistencies": sum(not f.passed for f in analysis.findings),
    })


@asset(
    partitions_def=editions, group_name="report", kinds={"altair", "svg"}, owners=OWNERS, code_version="1",
    description="Altair charts from the figures: Vega-Lite specs (interactive HTML) and SVG (PDF), CJK font.",
)
def report_charts(report_figures: core.Analysis, settings: ReportSettings) -> Output[list[RenderedChart]]:
    charts = build_charts(report_figures.figures, settings.paths().fonts)
    return Output(charts, metadata={
        "chart_count": len(charts),
        "charts": MetadataValue.md("\n".join(f"{c.number}. {c.title} (`{c.chart_id}`)" for c in charts)),
        "specs": MetadataValue.json({c.chart_id: c.spec for c in charts}),
    })


@asset(
    partitions_def=editions, group_name="report", kinds={"jinja", "html"}, owners=OWNERS,
    code_version=templates_version(Paths.from_env().templates),
    description="The report as HTML: an interactive self-contained page and the static print version.",
)
def report_html(report_figures: core.Analysis, report_charts: list[RenderedChart],
                settings: ReportSettings) -> Output[dict[str, str]]:
    html = core.render_pages(settings.paths().templates, report_figures, report_charts)
    return Output(html, metadata={"interactive_bytes": len(html["interactive"].encode()),
                                  "print_bytes": len(html["print"].encode())})


@asset(
    partitions_def=editions, group_name="report", kinds={"weasyprint", "pdf"}, owners=OWNERS, code_version="1",
    description="The PDF laid out by WeasyPrint from the print HTML (renderer warnings fail the step).",
)
def report_pdf(report_html: dict[str, str], settings: ReportSettings) -> Output[bytes]:
    pdf = core.make_pdf(settings.paths(), report_html["print"])
    return Output(pdf.data, metadata={"pages": pdf.laid_out.pages, "size_bytes": len(pdf.data),
                                      "sha256": hashlib.sha256(pdf.data).hexdigest()})


@asset(
    partitions_def=editions, group_name="publish", kinds={"pdf", "filesystem"}, owners=OWNERS, code_version="1",
    description="The PDF and HTML published atomically into the versioned archive under reports/.",
)
def published_report(context: AssetExecutionContext, report_pdf: bytes, report_html: dict[str, str],
                     validated_metrics: ValidatedEdition, settings: ReportSettings) -> Output[dict]:
    from pipeline.web.app import download_url

    paths = settings.paths()
    facts = read_pdf(report_pdf)
    version = publish(
        paths.reports, context.partition_key, pdf=report_pdf, html=report_html["interactive"].encode(),
        pages=facts.pages, fingerprint=validated_metrics.fingerprint, code_version=report_code_version(paths.templates),
        keep=settings.keep_versions,
    )
    url = download_url(settings.download_base_url, version.edition, version.version)
    summary = {"edition": version.edition, "version": version.version, "pdf": str(version.pdf_path),
               "html": str(version.html_path), "sha256": version.sha256, "reused": version.reused}
    return Output(summary, metadata={
        "path": MetadataValue.path(str(version.pdf_path)),
        "html_path": MetadataValue.path(str(version.html_path)),
        "version": version.version,
        "reused_existing_version": version.reused,
        "size_bytes": version.size,
        "pages": version.pages,
        "sha256": version.sha256,
        "data_fingerprint": version.fingerprint,
        "download": MetadataValue.url(url),
        "manifest": MetadataValue.json(json.loads(version.manifest_path.read_text(encoding="utf-8"))),
    })


ASSETS = [source_tables, validated_metrics, report_figures, report_charts, report_html, report_pdf, published_report]
