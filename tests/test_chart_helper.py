"""Issue 7: charts are drawn by a helper process that ends with its batch, so a worker does not carry the chart
engine's memory into the PDF stage; its failures are clear errors."""

from __future__ import annotations

import psutil
import pytest

from pipeline.config import Paths
from pipeline.lib import svg_engine
from pipeline.lib.build import analyse
from pipeline.lib.charts import CHARTS, build_charts
from pipeline.lib.errors import ChartError
from pipeline.lib.sources import read_edition
from pipeline.lib.validate import validate_edition

PATHS = Paths.from_env()
POINT = {"mark": "point", "data": {"values": [{"x": 1}]}, "encoding": {"x": {"field": "x", "type": "quantitative"}}}


def helpers() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "pipeline.lib.svg_engine" in p.cmdline()]


def test_charts_come_from_a_helper_that_is_gone_afterwards() -> None:
    figures = analyse(validate_edition(read_edition(PATHS.sources, "xiaomi-ecosystem-2025h1"))).figures
    svg_engine.prestart(PATHS.fonts)  # as the CLI does before importing Dagster
    [started] = helpers()

    charts = build_charts(figures, PATHS.fonts)

    assert [c.chart_id for c in charts] == [c.chart_id for c in CHARTS]
    assert all(c.svg.startswith("<svg") and "Noto Sans CJK SC" in c.svg for c in charts)
    assert not started.is_running() or started.status() == psutil.STATUS_ZOMBIE
    assert helpers() == []  # nothing left holding the chart engine's memory


def test_a_spec_vega_lite_cannot_draw_is_a_chart_error() -> None:
    with pytest.raises(ChartError, match="a chart could not be drawn: ValueError: Vega-Lite to SVG conversion failed"):
        svg_engine.to_svg([POINT, {"mark": "no-such-mark", "data": {"values": []}}], PATHS.fonts)
    assert helpers() == []


def test_a_helper_that_died_is_reported_not_waited_for() -> None:
    svg_engine.prestart(PATHS.fonts)
    [started] = helpers()
    started.kill()
    started.wait(10)

    with pytest.raises(ChartError, match=r"the chart helper process (ended without an answer|stopped)"):
        svg_engine.to_svg([POINT], PATHS.fonts)
    assert svg_engine.to_svg([POINT], PATHS.fonts)[0].startswith("<svg")  # the next batch gets a new helper
