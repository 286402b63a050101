"""Issue 7: charts are drawn by a helper process that ends with its batch, so a worker does not carry the chart
engine's memory into the PDF stage; its failures are clear errors; unchanged charts come from the disk cache."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import psutil
import pytest

from pipeline.config import Paths
from pipeline.lib import svg_engine
from pipeline.lib.build import analyse
from pipeline.lib.charts import build_charts
from pipeline.lib.errors import ChartError
from pipeline.lib.sources import read_edition
from pipeline.lib.validate import validate_edition
from tests.conftest import REPORT

PATHS = Paths.from_env()
POINT = {"mark": "point", "data": {"values": [{"x": 1}]}, "encoding": {"x": {"field": "x", "type": "quantitative"}}}


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty chart cache per test, so each one sees the helper at work."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "strategy-report" / "svg"


def figures(sources: Path = PATHS.sources):
    return analyse(REPORT, validate_edition(read_edition(sources, "xiaomi-ecosystem-2025h1"))).figures


def helpers() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "pipeline.lib.svg_engine" in p.cmdline()]


def test_charts_come_from_a_helper_that_is_gone_afterwards() -> None:
    charts = build_charts(figures(), REPORT, PATHS.fonts)

    assert [c.chart_id for c in charts] == [c.chart_id for c in REPORT.charts]
    assert all(c.svg.startswith("<svg") and "Noto Sans CJK SC" in c.svg for c in charts)
    assert helpers() == []  # nothing left holding the chart engine's memory


def test_a_spec_vega_lite_cannot_draw_is_a_chart_error() -> None:
    with pytest.raises(ChartError, match="a chart could not be drawn: ValueError: Vega-Lite to SVG conversion failed"):
        svg_engine.to_svg([POINT, {"mark": "no-such-mark", "data": {"values": []}}], PATHS.fonts)
    assert helpers() == []


@pytest.mark.parametrize(("program", "message"), [
    ("false", r"the chart helper process ended without an answer \(exit status 1\)"),
    ("no-such-program", r"could not start the chart helper process: .*No such file"),
])
def test_a_helper_that_fails_is_a_chart_error(program: str, message: str, monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "executable", shutil.which(program) or str(tmp_path / program))
    with pytest.raises(ChartError, match=message):
        svg_engine.to_svg([POINT], PATHS.fonts)
    monkeypatch.undo()
    assert svg_engine.to_svg([POINT], PATHS.fonts)[0].startswith("<svg")  # nothing broken for the next build


def test_a_helper_that_hangs_is_stopped_and_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stuck = tmp_path / "stuck-python"
    stuck.write_text("#!/bin/sh\nexec sleep 60\n")
    stuck.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(stuck))
    monkeypatch.setattr(svg_engine, "TIMEOUT_SECONDS", 1)

    with pytest.raises(ChartError, match="did not answer within 1 s; it was stopped"):
        svg_engine.to_svg([POINT], PATHS.fonts)
    assert not [p for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]


def test_unchanged_charts_come_from_the_cache_without_a_helper(own_cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    first = build_charts(figures(), REPORT, PATHS.fonts)
    assert len(list(own_cache.iterdir())) == len(first)

    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))  # a helper could not start now
    again = build_charts(figures(), REPORT, PATHS.fonts)
    assert [c.svg for c in again] == [c.svg for c in first]

    # A data edit redraws exactly the charts whose plotted figures changed.
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(own_cache.parent.parent))
    sources = tmp_path / "sources"
    shutil.copytree(PATHS.sources / "xiaomi-ecosystem-2025h1", sources / "xiaomi-ecosystem-2025h1")
    metrics = sources / "xiaomi-ecosystem-2025h1" / "metrics.csv"
    lines = metrics.read_text(encoding="utf-8").splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("su7_deliveries,"))
    cells = lines[row].split(",")
    value = cells[lines[0].split(",").index("value")]
    lines[row] = lines[row].replace(f",{value},", f",{int(float(value)) + 1},", 1)
    metrics.write_text("\n".join(lines) + "\n", encoding="utf-8")
    edited = build_charts(figures(sources), REPORT, PATHS.fonts)
    pairs = list(zip(edited, first, strict=True))
    replotted = {new.chart_id for new, old in pairs if new.data != old.data}
    assert replotted and {new.chart_id for new, old in pairs if new.svg != old.svg} == replotted
    assert len(list(own_cache.iterdir())) == len(first) + len(replotted)
