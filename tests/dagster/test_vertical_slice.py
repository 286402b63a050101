"""Issue 2: from sources/ through Dagster to a Chinese PDF, with validation that stops bad data."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from dagster import DagsterInstance

from pipeline.lib.formatting import figure_text
from tests.conftest import archive_of, copy_edition, edition_folder, materialize_edition


def compact(text: str) -> str:
    """PDF text extraction breaks lines and may insert spaces between glyph runs; compare without white space."""
    return re.sub(r"\s+", "", text)


def test_materialize_publishes_pdf_and_html(real_build):
    pdf_path, html_path = Path(real_build.published["pdf"]), Path(real_build.published["html"])
    assert pdf_path.is_file() and html_path.is_file()
    assert pdf_path.is_relative_to(archive_of(real_build.reports) / real_build.edition)
    assert pdf_path.is_relative_to(real_build.reports / "xiaomi-ecosystem" / "xiaomi-ecosystem-2025h1" / "versions")
    assert real_build.pdf.startswith(b"%PDF-")
    assert real_build.facts.pages >= 10


def test_pdf_text_contains_source_figures_as_formatted(real_build):
    metrics = pd.read_csv(edition_folder(real_build.sources, real_build.edition) / "metrics.csv", dtype=str, keep_default_na=False)
    text = compact(real_build.facts.text)
    missing = [row.metric_id for row in metrics.itertuples()
               if compact(figure_text(float(row.value), row.unit, row.qualifier)) not in text]
    assert not missing, f"figures not found in the PDF text: {missing}"
    assert "小米“人车家全生态”战略分析" in text


def test_pdf_cjk_fonts_are_sc_and_embedded(real_build):
    fonts = real_build.facts.fonts
    cjk = [f for f in fonts if f.cjk_variant]
    assert cjk, "the PDF uses no Noto CJK font"
    assert all(f.cjk_variant == "SC" for f in cjk), [f.name for f in cjk]
    # One family in two weights, text and charts alike (fonts of the chart images included): no fallback to the
    # Japanese variant, DejaVu or a monospace face, and no second family's subset in every download.
    faces = {f.name.split("+", 1)[-1] for f in fonts}
    assert faces == {"Noto-Sans-CJK-SC", "Noto-Sans-CJK-SC-Bold"}, faces
    assert all(f.embedded for f in fonts), [f.name for f in fonts if not f.embedded]
    assert real_build.facts.metadata.get("Lang") == "zh-CN"
    assert real_build.facts.problems() == []


def test_html_is_chinese_and_self_contained(real_build):
    html = real_build.html
    assert '<html lang="zh-CN">' in html
    assert not re.search(r"""(src|href)=["']https?://""", html), "the HTML must not load anything from the network"


def test_several_bad_rows_are_all_reported_and_nothing_is_published(tmp_path):
    sources = copy_edition(tmp_path)
    edition = edition_folder(sources)
    csv = (edition / "metrics.csv").read_text(encoding="utf-8").splitlines()
    header, rows = csv[0], csv[1:]
    rows[0] = rows[0].replace(",14,percent,", ",140,percent,")  # line 2: a share above 100
    rows[2] = rows[2].replace(",devices,", ",gadgets,")  # line 4: unknown unit
    rows[4] = rows[4].replace(",seed_article,", ",nowhere,")  # line 6: unknown source
    rows.append(rows[1])  # last line: duplicate key of line 3
    (edition / "metrics.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    reports = tmp_path / "reports"

    instance = DagsterInstance.ephemeral()
    result = materialize_edition(sources, reports, "xiaomi-ecosystem-2025h1", instance)

    assert not result.success
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == "source_tables_valid")
    assert not evaluation.passed
    problems = evaluation.metadata["problems_json"].value
    found = {(p["row"], p["column"]) for p in problems}
    last = len(rows) + 1
    assert {(2, "value"), (4, "unit"), (6, "source_ref"), (3, "metric_id, period"), (last, "metric_id, period")} <= found
    assert all(p["file"] == "metrics.csv" and p["rule"] for p in problems)
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert "published_report" not in materialized and "report_pdf" not in materialized
    assert {e.asset_key.path[0] for e in result.get_asset_materialization_events()} <= {"xiaomi_ecosystem"}
    assert not reports.exists() or not any(reports.rglob("*.pdf"))
