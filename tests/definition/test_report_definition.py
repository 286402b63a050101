"""A report is a folder of its own: its definition is read and checked once (formulas, units, charts), its KPIs and
rules are computed from declarations, and the engine (pipeline/) names nothing of any report."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import PROJECT_ROOT, report_folders
from pipeline.lib.code_version import read_tree, report_code_version
from pipeline.lib.consistency import check_consistency
from pipeline.lib.formulas import FormulaError, parse
from pipeline.lib.kpis import compute_kpis, figures_table
from pipeline.lib.report_context import FigureIndex
from pipeline.lib.report_def import ReportDefinitionError, load_report
from tests.conftest import REAL

MINIMAL = """\
[report]
id = "tiny"
title = "Tiny report"
language = "en"
default_edition = "tiny-2025"
template = "report.html.j2"

[labels]
derived_locator = "derived"

[contract]
metrics = [
  { id = "flights", unit = "items" },
  { id = "cancelled", unit = "items" },
]
"""


def write_report(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.toml").write_text(MINIMAL + extra, encoding="utf-8")
    load_report.cache_clear()
    return folder


# --- formulas ---------------------------------------------------------------------------------------------------


def test_a_formula_is_evaluated_and_printed_as_written() -> None:
    formula = parse("revenue / (1 + growth / 100)", {"revenue", "growth"}, "here")
    assert formula.names == ("revenue", "growth")
    assert formula.evaluate({"revenue": 3000, "growth": 50}) == 2000
    assert formula.shown == "revenue ÷ (1 + growth ÷ 100)"
    assert parse("100 - a - b * 2", {"a", "b"}, "here").shown == "100 − a − b × 2"


@pytest.mark.parametrize(("text", "message"), [
    ("flights / ", "formula 'flights / ' is not valid"),
    ("flights / seats", "names 'seats', which is neither a figure of the report's data contract nor a KPI"),
    ("flights / 0", "divides by zero"),
    ("flights.__class__", "may only use figure ids, numbers"),
    ("len(flights)", "may only use figure ids, numbers"),
    ("'text'", "which is not a number"),
])
def test_a_bad_formula_is_refused_when_the_report_is_loaded(tmp_path: Path, text: str, message: str) -> None:
    folder = write_report(tmp_path / "tiny", f'\n[[kpis]]\nid = "rate"\nlabel = "Rate"\nunit = "percent"\n'
                                             f'formula = "{text}"\n')
    with pytest.raises(ReportDefinitionError) as error:
        load_report(folder)
    assert str(error.value).startswith(f"{folder / 'report.toml'}, line 21, kpi 'rate': ")
    assert message in str(error.value)


def test_a_division_by_zero_in_the_data_names_the_formula_and_its_inputs() -> None:
    formula = parse("cancelled / flights * 100", {"cancelled", "flights"}, "here")
    with pytest.raises(FormulaError, match=r"divides by zero for this edition's figures \(cancelled = 3, "
                                           r"flights = 0\)"):
        formula.evaluate({"cancelled": 3, "flights": 0})


def test_a_chart_without_its_builder_is_refused(tmp_path: Path) -> None:
    folder = write_report(tmp_path / "tiny", '\n[[charts]]\nid = "volume"\ntitle = "Volume"\ncaption = "c"\n'
                                             'figures = ["flights"]\n')
    with pytest.raises(ReportDefinitionError, match=r"charts\.py has no function volume"):
        load_report(folder)


# --- KPIs, periods, rules -------------------------------------------------------------------------------------


def metrics(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"metric_id": m, "entity": "Acme", "period": p, "value": v, "unit": "items",
                          "qualifier": "", "label": m, "source_ref": "src", "locator": "", "note": ""}
                         for m, p, v in rows])


def test_kpis_take_their_period_from_their_inputs_and_say_it_in_their_label() -> None:
    report = load_report(REAL.templates)
    frame = metrics([("su7_deliveries", "2025H2", 300_000), ("su7_delivery_target", "2025", 350_000),
                     ("su7_deliveries_yoy", "2025H2", 50)])
    frame.loc[frame["metric_id"] == "su7_deliveries_yoy", "unit"] = "change_pct"
    kpis, skipped = compute_kpis(frame, report.kpis, "推算")
    by_id = kpis.set_index("metric_id")
    assert by_id.loc["su7_target_progress", "label"] == "小米SU7下半年交付占全年目标的比例"
    assert by_id.loc["su7_target_progress", "period"] == "2025H2"
    assert by_id.loc["su7_deliveries_prior", "period"] == "2024H2"  # prior_year
    assert by_id.loc["su7_deliveries_prior", "value"] == 200_000
    assert by_id.loc["su7_deliveries_remaining", "value"] == 50_000
    assert "group_revenue_prior" in skipped  # its inputs are not in this edition


def test_rules_run_only_where_the_edition_has_their_figures_and_say_what_they_found() -> None:
    report = load_report(REAL.templates)
    frame = metrics([("su7_deliveries", "2025H1", 400_000), ("su7_delivery_target", "2025", 350_000)])
    frame["unit"] = "vehicles"
    kpis, _ = compute_kpis(frame, report.kpis, "推算")
    findings = check_consistency(figures_table(frame, kpis), report.rules)
    assert [(f.check_id, f.passed) for f in findings] == [("deliveries_within_target", False)]
    assert findings[0].message == "上半年交付40万辆，全年目标35万辆，完成114.3%，已超过全年目标。"


def test_a_template_can_read_every_period_of_a_figure() -> None:
    frame = metrics([("flights", "2013", 30), ("flights", "2011", 10), ("flights", "2012", 20)])
    index = FigureIndex(frame.assign(derived=False))
    assert [ref.period for ref in index.series("flights")] == ["2011", "2012", "2013"]
    assert index.at("flights", "2012").value == 20
    assert index.flights.period == "2013"


# --- the engine holds no report ---------------------------------------------------------------------------------


def test_the_engine_names_no_id_label_formula_or_title_of_any_report() -> None:
    engine = {path: path.read_text(encoding="utf-8") for path in (PROJECT_ROOT / "pipeline").rglob("*.py")}
    assert report_folders(), "no report found under templates/"
    hits = []
    for folder in report_folders():
        report = load_report(folder)
        declared = {report.report_id, report.title, report.default_edition, *report.contract}
        declared |= {k.metric_id for k in report.kpis} | {k.label for k in report.kpis}
        declared |= {k.formula.text for k in report.kpis} | {r.holds.text for r in report.rules}
        declared |= {r.check_id for r in report.rules} | {r.title for r in report.rules}
        declared |= {c.chart_id for c in report.charts} | {c.title for c in report.charts}
        declared |= {c.caption for c in report.charts}
        # Whole words only: an id such as `on_time` is not named by `execution_time`.
        hits += [(path.relative_to(PROJECT_ROOT), text) for path, source in engine.items() for text in declared
                 if re.search(rf"(?<![\w-]){re.escape(text)}(?![\w-])", source)]
    assert hits == []


def test_editing_one_report_leaves_the_code_version_of_another_unchanged(tmp_path: Path) -> None:
    first = tmp_path / "first"
    shutil.copytree(REAL.templates, first)
    second = write_report(tmp_path / "second")
    before = report_code_version(read_tree(first))
    (second / "report.toml").write_text(MINIMAL.replace("Tiny report", "Tiny report, revised"), encoding="utf-8")
    assert report_code_version(read_tree(first)) == before
    (first / "report.toml").write_text((first / "report.toml").read_text(encoding="utf-8") + "\n# edited\n",
                                       encoding="utf-8")
    assert report_code_version(read_tree(first)) != before
