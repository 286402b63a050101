"""What an operational report needs of the engine: month periods, month-over-month formulas (`<id>_previous`),
and declared tables whose cells are checked like figures and whose formula columns are computed per row.

Expected values are written out by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.lib.build import analyse
from pipeline.lib.errors import SourceDataError
from pipeline.lib.formatting import locale_for
from pipeline.lib.kpis import compute_kpis
from pipeline.lib.report_context import TableIndex
from pipeline.lib.report_def import ReportDefinitionError, load_report
from pipeline.lib.sources import parse_edition
from pipeline.lib.validate import validate_edition
from tests.definition.test_report_definition import write_report

MONTHLY = """
[[kpis]]
id = "flights_change"
label = "Change in flights on the month before"
unit = "change_pct"
formula = "(flights - flights_previous) / flights_previous * 100"

[[tables]]
id = "carriers"
title = "Carriers"
source_ref = "bts"
columns = [
  { name = "carrier", unit = "text", label = "Carrier" },
  { name = "flights", unit = "flights", label = "Flights" },
  { name = "cancelled", unit = "flights", label = "Cancelled" },
  { name = "cancellation_rate", unit = "percent", label = "Cancelled (%)", formula = "cancelled / flights * 100" },
]
"""

EDITION_TOML = b"""[edition]
title = "Tiny, February 2013"
subtitle = "A test"
date = "2013-03-01"
author = "Tests"
subject = "Flights"
"""
METRICS = b"""metric_id,entity,period,value,unit,label,source_ref
flights,NYC,2013-01,800,items,Flights,bts
flights,NYC,2013-02,1000,items,Flights,bts
cancelled,NYC,2013-02,20,items,Cancelled,bts
"""
REFERENCES = b"source_id,title\nbts,On-time data\n"


def edition(carriers: bytes) -> dict[str, bytes | None]:
    return {"edition.toml": EDITION_TOML, "metrics.csv": METRICS, "references.csv": REFERENCES,
            "carriers.csv": carriers}


def test_months_are_periods_printed_in_the_report_language() -> None:
    english, chinese = locale_for("en-US"), locale_for("zh-CN")
    assert english.period_label("2013-01") == "January 2013"
    assert chinese.period_label("2013-12") == "2013年12月"
    assert english.figure_text(336776, "flights") == "336,776 flights"
    assert english.cell_text(336776, "flights") == "336,776"
    assert english.figure_text(12.64, "minutes") == "12.6 min"


def test_a_previous_month_formula_uses_the_period_before_the_latest(tmp_path: Path) -> None:
    report = load_report(write_report(tmp_path / "tiny", MONTHLY))
    metrics = pd.DataFrame({
        "metric_id": ["flights", "flights"], "entity": ["NYC", "NYC"], "period": ["2013-02", "2013-01"],
        "value": [1000.0, 800.0], "unit": ["items", "items"], "qualifier": ["", ""], "label": ["F", "F"],
        "source_ref": ["bts", "bts"], "locator": ["", ""], "note": ["", ""]})
    kpis, skipped = compute_kpis(metrics, report.kpis, "derived", "en")
    assert skipped == []
    row = kpis.set_index("metric_id").loc["flights_change"]
    assert row["value"] == pytest.approx(25.0)  # (1000 − 800) ÷ 800 × 100
    assert row["period"] == "2013-02"
    assert row["formula"] == "(flights − flights_previous) ÷ flights_previous × 100"
    only_one = metrics.iloc[:1]
    assert compute_kpis(only_one, report.kpis, "derived", "en")[1] == ["flights_change"]  # no month before


def test_a_declared_table_is_typed_computed_and_printed_by_its_units(tmp_path: Path) -> None:
    report = load_report(write_report(tmp_path / "tiny", MONTHLY))
    raw = parse_edition("2013-02", edition(b"carrier,flights,cancelled\nUA,600,12\nB6,0,0\nAA,400,\n"),
                        ("carriers.csv",))
    analysis = analyse(report, validate_edition(raw, report.tables))
    table = analysis.tables["carriers"]
    assert list(table.columns) == ["carrier", "flights", "cancelled", "cancellation_rate"]
    assert table["cancellation_rate"].iloc[0] == pytest.approx(2.0)  # 12 ÷ 600 × 100
    assert table["cancellation_rate"].isna().tolist() == [False, True, True]  # 0 ÷ 0 and a missing input
    rows = TableIndex(report, analysis.tables).carriers
    assert [str(r["flights"]) for r in rows] == ["600", "0", "400"]
    assert [str(r["cancellation_rate"]) for r in rows] == ["2.0%", "–", "–"]
    assert str(rows[0]["carrier"]) == "UA"


def test_a_bad_table_cell_is_refused_with_its_file_row_column_and_rule(tmp_path: Path) -> None:
    report = load_report(write_report(tmp_path / "tiny", MONTHLY))
    raw = parse_edition("2013-02", edition(b"carrier,flights,cancelled,extra\nUA,1 200,-3,x\n"), ("carriers.csv",))
    with pytest.raises(SourceDataError) as error:
        validate_edition(raw, report.tables)
    found = {(p.file, p.row, p.column) for p in error.value.problems}
    assert ("carriers.csv", 2, "flights") in found  # a thousands separator
    assert ("carriers.csv", 2, "cancelled") in found  # below the unit's range
    assert ("carriers.csv", 1, "extra") in found  # not declared


def test_a_table_formula_may_only_name_numeric_columns_before_it(tmp_path: Path) -> None:
    bad = MONTHLY.replace('formula = "cancelled / flights * 100"', 'formula = "carrier / flights"')
    with pytest.raises(ReportDefinitionError, match="names 'carrier'"):
        load_report(write_report(tmp_path / "tiny", bad))


def test_an_edition_may_leave_out_a_declared_table(tmp_path: Path) -> None:
    report = load_report(write_report(tmp_path / "tiny", MONTHLY))
    contents = edition(b"")
    del contents["carriers.csv"]
    analysis = analyse(report, validate_edition(parse_edition("2013-02", contents, ("carriers.csv",)), report.tables))
    assert "carriers" not in analysis.tables
    assert "carriers" not in TableIndex(report, analysis.tables)
