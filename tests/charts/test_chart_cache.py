"""A build whose charts did not change reads them back from the chart cache, in a process that never imports
Altair; any change to what they are drawn from (a figure, the report's chart functions) draws them again."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.lib.build import analyse
from pipeline.lib.chart_cache import report_charts
from pipeline.lib.charts import build_charts
from pipeline.lib.report_def import load_report
from pipeline.lib.sources import read_edition
from pipeline.lib.validate import validate_edition
from tests.conftest import DEFAULT_EDITION, REAL, REPORT

#: One process that draws (or reads back) the default edition's charts and says whether Altair was imported.
DRAW = """
import json, sys
from pipeline.config import Paths
from pipeline.lib.build import analyse
from pipeline.lib.chart_cache import report_charts
from pipeline.lib.report_def import load_report
from pipeline.lib.sources import read_edition
from pipeline.lib.validate import validate_edition

paths = Paths.from_env()
report = load_report(paths.templates)
analysis = analyse(report, validate_edition(read_edition(paths.sources, report.default_edition)))
charts = report_charts(analysis.figures, report, paths.fonts, analysis.tables)
print(json.dumps({"altair": "altair" in sys.modules, "charts": [c.to_json() for c in charts]}))
"""


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "strategy-report" / "charts"


def figures_and_tables():
    analysis = analyse(REPORT, validate_edition(read_edition(REAL.sources, DEFAULT_EDITION)))
    return analysis.figures, analysis.tables


def draw_in_a_new_process() -> dict:
    done = subprocess.run([sys.executable, "-c", DRAW], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          check=True, timeout=300)
    return json.loads(done.stdout.splitlines()[-1])


def test_unchanged_charts_are_read_back_in_a_process_without_altair() -> None:
    first, second = draw_in_a_new_process(), draw_in_a_new_process()

    assert first["altair"] is True  # drawn: the report's chart functions ran
    assert second["altair"] is False  # read back: the chart library was never loaded
    assert second["charts"] == first["charts"]
    figures, tables = figures_and_tables()
    drawn = [c.to_json() for c in build_charts(figures, REPORT, REAL.fonts, tables)]  # uncached, in this process
    assert json.loads(json.dumps(drawn, ensure_ascii=False)) == second["charts"]


def test_a_changed_figure_draws_its_chart_again(own_cache: Path) -> None:
    figures, tables = figures_and_tables()
    before = report_charts(figures, REPORT, REAL.fonts, tables)
    chart = before[0]
    metric, period = chart.data[0]["metric_id"], chart.data[0]["period"]
    changed = figures.copy()
    row = (changed["metric_id"] == metric) & (changed["period"] == period)
    changed.loc[row, "value"] = changed.loc[row, "value"] * 2

    after = report_charts(changed, REPORT, REAL.fonts, tables)

    assert after[0].data[0]["value"] == chart.data[0]["value"] * 2
    assert after[0].svg != chart.svg
    assert len(list(own_cache.iterdir())) == 2  # one entry per set of inputs
    assert report_charts(figures, REPORT, REAL.fonts, tables) == before  # the first is still there


def test_an_edited_chart_function_or_a_damaged_entry_draws_again(own_cache: Path, tmp_path: Path) -> None:
    figures, tables = figures_and_tables()
    original = report_charts(figures, REPORT, REAL.fonts, tables)
    copy = tmp_path / "report"
    shutil.copytree(REAL.templates, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / "charts.py").open("a", encoding="utf-8") as charts_py:
        charts_py.write("\n# an edit to the chart functions\n")

    assert report_charts(figures, load_report(copy), REAL.fonts, tables) == original
    assert len(list(own_cache.iterdir())) == 2  # drawn again under its own key, not read back

    for entry in own_cache.iterdir():
        entry.write_text("{not json", encoding="utf-8")
    assert report_charts(figures, REPORT, REAL.fonts, tables) == original
