"""What the PDF promises: PDF/UA-1 and PDF/A-3a with zero failed validator rules, the edition's sources embedded
as associated files, the same bytes from the same inputs, a blocking check that keeps a non-conforming PDF from
being published, and `python -m pipeline verify`. Real components throughout: the shipped edition, WeasyPrint,
the offline validator, Dagster materializations into temporary folders."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from dagster import AssetKey, DagsterInstance

from pipeline import cli
from pipeline.lib.build import analyse, render_pages
from pipeline.lib.chart_text import describe
from pipeline.lib.charts import build_charts
from pipeline.lib.conformance import check_pdf
from pipeline.lib.errors import RenderError
from pipeline.lib.pdf_archival import write_options
from pipeline.lib.render import layout_pdf, write_pdf
from pipeline.lib.sources import fingerprint, read_edition
from pipeline.lib.validate import validate_edition
from tests.conftest import (
    DEFAULT_EDITION,
    NAMES,
    REAL,
    REPORT,
    Materialized,
    copy_edition,
    edition_folder,
    materialize_edition,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SOURCE_FILES = ("edition.toml", "metrics.csv", "references.csv")
#: A heading two levels below its section's: PDF/UA-1 forbids skipping heading levels.
HEADING_SKIP = '<h5 id="skipped">跳级的标题</h5>'


@pytest.fixture(scope="module")
def print_html() -> str:
    """The print HTML of the shipped edition, as the report_html asset makes it."""
    analysis = analyse(REPORT, validate_edition(read_edition(REAL.sources, DEFAULT_EDITION)))
    return render_pages(REAL.templates, analysis, build_charts(analysis.figures, analysis.report, REAL.fonts)).print


def conformance_evaluation(result):
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == "pdf_conformant")


# --- the published PDF conforms --------------------------------------------------------------------------------


def test_real_report_pdf_passes_pdf_ua1_and_pdf_a3a_with_zero_failed_rules(real_build: Materialized):
    verdict = check_pdf(real_build.pdf)

    assert verdict.passed, verdict.failed
    assert verdict.failed == []
    assert [(p.profile, p.compliant, p.rules_checked, p.failed) for p in verdict.profiles] == [
        ("ua1", True, 104, ()), ("3a", True, 156, ())]
    assert verdict.validator == "page-validation 0.11.0"
    evaluation = conformance_evaluation(real_build.result)
    assert evaluation.passed and evaluation.metadata["failed_rule_count"].value == 0


def test_pdf_declares_both_standards_language_title_and_the_editions_date(real_build: Materialized):
    with pikepdf.open(real_build.published["pdf"]) as pdf:
        xmp = pdf.Root.Metadata.read_bytes().decode("utf-8")
        assert "/Filter" not in pdf.Root.Metadata.stream_dict
        assert str(pdf.Root.Lang) == "zh-CN"
        assert bool(pdf.Root.MarkInfo.Marked) and bool(pdf.Root.ViewerPreferences.DisplayDocTitle)
        assert str(pdf.docinfo.CreationDate) == "D:20261126"
        assert str(pdf.docinfo.Title) == "小米“人车家全生态”战略分析"
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="A"' in xmp
    assert "<pdfuaid:part>1</pdfuaid:part>" in xmp
    assert "<xmp:CreateDate>2026-11-26</xmp:CreateDate>" in xmp


def test_chart_alternatives_are_written_from_the_plotted_data(real_build: Materialized):
    figure = r'<figure class="chart" id="fig-(\w+)">\s*'
    alts = dict(re.findall(figure + r'<img class="chart" src="[^"]+" alt="([^"]*)"',
                           real_build.result.output_for_node(NAMES.node("report_html")).print))
    assert len(alts) == 9
    assert alts["ev_market_share"] == (
        "国内中高端电动车市场份额（条形图，4项数据）：比亚迪为25%；特斯拉为18%；小米SU7为约5%；其他（余数）为约52%。"
        "最高为其他（余数）（约52%），最低为小米SU7（约5%）。其中1项为推算值。")
    assert alts["revenue_mix"] == "上半年收入构成（环形图，2项数据）：汽车业务为12%；其他业务（余数）为88%。其中1项为推算值。"
    labels = dict(re.findall(figure + r'<div class="vega"[^>]* aria-label="([^"]*)"', real_build.html))
    assert labels == alts


def test_chart_alternative_of_a_generic_chart():
    rows = [{"name": "甲", "period": "2024", "value": 3.0, "text": "3台", "origin": "文稿数据"},
            {"name": "乙", "period": "2025", "value": 5.0, "text": "5台", "origin": "推算值"},
            {"name": "丙", "period": "2025", "value": 1.0, "text": "1台", "origin": "文稿数据"}]

    assert describe("设备数", rows, "bar") == ("设备数（柱状图，3项数据）：甲（2024年）为3台；乙（2025年）为5台；丙（2025年）为1台。"
                                            "最高为乙（2025年）（5台），最低为丙（2025年）（1台）。其中1项为推算值。")
    assert describe("空图", []) == "空图"


# --- the sources travel inside the PDF ---------------------------------------------------------------------------


def test_embedded_files_are_the_editions_source_bytes_and_a_manifest(real_build: Materialized):
    folder = edition_folder(real_build.sources, real_build.edition)
    with pikepdf.open(real_build.published["pdf"]) as pdf:
        embedded = {name: spec.get_file().read_bytes() for name, spec in pdf.attachments.items()}
        relationships = {str(spec.F): str(spec.AFRelationship) for spec in pdf.Root.AF}
        mime = {name: spec.get_file().mime_type for name, spec in pdf.attachments.items()}

    assert set(embedded) == {"edition.toml", "metrics.csv", "references.csv", "build-manifest.json"}
    for name in SOURCE_FILES:
        assert embedded[name] == (folder / name).read_bytes(), name
    assert relationships == {"edition.toml": "/Source", "metrics.csv": "/Source", "references.csv": "/Source",
                             "build-manifest.json": "/Data"}
    assert mime == {"edition.toml": "application/toml", "metrics.csv": "text/csv", "references.csv": "text/csv",
                    "build-manifest.json": "application/json"}
    manifest = json.loads(embedded["build-manifest.json"])
    assert manifest["edition"] == "xiaomi-ecosystem-2025h1"
    assert manifest["built_at"] == "2026-11-26T00:00:00Z"
    assert manifest["fingerprint"] == fingerprint(folder)
    archived = json.loads(Path(real_build.published["pdf"]).with_name("manifest.json").read_text(encoding="utf-8"))
    assert manifest["code_version"] == archived["code_version"]
    assert manifest["files"]["metrics.csv"] == {"sha256": hashlib.sha256(embedded["metrics.csv"]).hexdigest(),
                                                "size": len(embedded["metrics.csv"])}


# --- the same inputs give the same bytes -------------------------------------------------------------------------

BUILD_ONCE = """
import hashlib, sys
from pathlib import Path
from pipeline.config import Paths, Roots
from pipeline.lib.build import build
real = Paths.from_env()
paths = Roots(sources=Path(sys.argv[1]), reports=Path(sys.argv[2]), fonts=real.fonts).for_report(real.templates)
print(hashlib.sha256(build(paths, sys.argv[3]).pdf.data).hexdigest())
"""


def test_two_builds_in_separate_processes_give_identical_bytes(tmp_path: Path, real_build: Materialized):
    sources = copy_edition(tmp_path)
    digests = [subprocess.run([sys.executable, "-c", BUILD_ONCE, str(sources), str(tmp_path / f"out{i}"),
                               DEFAULT_EDITION], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
                              timeout=300).stdout.strip() for i in (1, 2)]

    assert re.fullmatch(r"[0-9a-f]{64}", digests[0]), digests
    assert digests[0] == digests[1]
    # ...and the Dagster materialization (report_pdf asset) wrote those same bytes.
    assert digests[0] == hashlib.sha256(real_build.pdf).hexdigest()


# --- a non-conforming PDF fails, and is not published -----------------------------------------------------------


def test_heading_skip_or_chart_without_alt_fails_the_validator(print_html: str):
    skipped = print_html.replace('<h2 id="summary">', HEADING_SKIP + '<h2 id="summary">', 1)
    assert skipped != print_html
    verdict = check_pdf(write_pdf(layout_pdf(skipped, REAL.templates, REAL.fonts), write_options(None)))
    assert not verdict.passed
    assert [(r.profile, r.rule_id) for r in verdict.failed] == [("ua1", "PDFUA1-HEADING-NESTING-001")]

    no_alt = re.sub(r'(<img class="chart" src="[^"]+") alt="[^"]*"', r"\1", print_html, count=1)
    assert no_alt != print_html
    with pytest.raises(RenderError, match="has no required alt description"):  # the renderer refuses it first
        write_pdf(layout_pdf(no_alt, REAL.templates, REAL.fonts), write_options(None))
    laid_out = layout_pdf(no_alt, REAL.templates, REAL.fonts)
    verdict = check_pdf(laid_out.document.write_pdf(**write_options(None)))  # past the renderer's guard
    assert [(r.profile, r.rule_id) for r in verdict.failed] == [("ua1", "PDFUA1-FIGURE-ALTERNATIVE-TEXT-001")]


def test_non_conforming_pdf_is_not_published_by_a_real_materialization(tmp_path: Path):
    sources = copy_edition(tmp_path)
    templates = tmp_path / "templates"
    shutil.copytree(REAL.templates, templates)
    report = templates / "strategy_report.html.j2"
    text = report.read_text(encoding="utf-8")
    report.write_text(text.replace("<main>", "<main>\n" + HEADING_SKIP, 1), encoding="utf-8")
    reports = tmp_path / "reports"
    instance = DagsterInstance.ephemeral()

    result = materialize_edition(sources, reports, DEFAULT_EDITION, instance, folder=templates)

    assert not result.success
    evaluation = conformance_evaluation(result)
    assert not evaluation.passed and evaluation.severity.value == "ERROR"
    assert evaluation.metadata["failed_rule_count"].value == 1
    table = evaluation.metadata["failed_rules"].value.strip().splitlines()
    assert table[0] == "| profile | rule | count | message |"
    assert table[2].startswith("| ua1 | PDFUA1-HEADING-NESTING-001 | 1 | heading level H5 skips")
    pdf, published = AssetKey(["xiaomi_ecosystem", "report_pdf"]), AssetKey(["xiaomi_ecosystem", "published_report"])
    assert instance.get_latest_materialization_event(pdf) is not None  # made, checked...
    assert instance.get_latest_materialization_event(published) is None  # ...not published
    assert not reports.exists() or not any(reports.rglob("*.pdf"))


# --- verify ----------------------------------------------------------------------------------------------------


def test_verify_a_published_pdf_exits_0(real_build: Materialized, monkeypatch, capsys):
    monkeypatch.setenv("REPORT_OUTPUT_DIR", str(real_build.reports))

    assert cli.main(["verify", real_build.published["pdf"]]) == 0
    lines = capsys.readouterr().out.splitlines()
    steps = {line.split()[0]: line.split()[1] for line in lines[1:-1]}
    assert steps == {"conformance": "ok", "embedded": "ok", "archive": "ok", "rebuild": "ok"}
    assert lines[-1] == "verified: the PDF keeps its promises"


def test_verify_a_tampered_pdf_exits_non_zero(real_build: Materialized, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("REPORT_OUTPUT_DIR", str(real_build.reports))
    data = real_build.pdf
    assert data.count(b"WeasyPrint 70.0") >= 1
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(data.replace(b"WeasyPrint 70.0", b"WeasyPrint 71.0", 1))  # same length, still parses

    assert cli.main(["verify", str(tampered)]) == 1
    lines = capsys.readouterr().out.splitlines()
    steps = {line.split()[0]: line.split()[1] for line in lines[1:-1]}
    assert steps == {"conformance": "ok", "embedded": "ok", "archive": "FAIL", "rebuild": "FAIL"}
    assert lines[-1] == "NOT verified: see the FAIL lines above"
