"""A report's drawn charts, cached whole on disk by everything they are a function of, so that a build whose
charts did not change reads them back instead of building each spec with Altair (and importing it).

The key covers the figures and tables (their values, index, columns and types), the report's definition
(report.toml and every Python file of its folder: the chart functions and what they import), the engine's code
as this process imported it, the Altair and pandas versions, and what the SVG depends on besides its spec
(`svg_engine.drawing_context`: vl-convert's version and the font files). A changed input is a new key, so an
entry never needs invalidating. Charts whose functions are not the report folder's own (a test's lambda) are
not cached: their code cannot be fingerprinted."""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path

import pandas as pd

from pipeline.lib import disk_cache
from pipeline.lib.code_version import engine_code_version, files_hash, read_tree
from pipeline.lib.rendered_chart import RenderedChart
from pipeline.lib.report_def import REPORT_FILE, ChartBuilder, Report
from pipeline.lib.svg_engine import drawing_context

KIND = "charts"


def report_charts(figures: pd.DataFrame, report: Report, font_dir: Path,
                  tables: dict[str, pd.DataFrame] | None = None) -> list[RenderedChart]:
    """Every chart of the report whose figures exist, as `charts.build_charts` draws them: from the cache when
    nothing they depend on changed, else drawn and stored."""
    key = _key(figures, report, font_dir, tables or {})
    if key is not None and (cached := _read(key)) is not None:
        return cached
    from pipeline.lib.charts import build_charts  # Altair and the report's charts.py: only when drawing

    drawn = build_charts(figures, report, font_dir, tables)
    if key is not None:
        disk_cache.write(KIND, {key: json.dumps([chart.to_json() for chart in drawn], ensure_ascii=False)})
    return drawn


def _read(key: str) -> list[RenderedChart] | None:
    text = disk_cache.read(KIND, key)
    if text is None:
        return None
    try:
        return [RenderedChart.from_json(entry) for entry in json.loads(text)]
    except (ValueError, TypeError, KeyError):  # a damaged entry is a miss; the charts are drawn again
        return None


def _key(figures: pd.DataFrame, report: Report, font_dir: Path, tables: dict[str, pd.DataFrame]) -> str | None:
    if not all(isinstance(c.build, ChartBuilder) and c.build.folder == report.folder for c in report.charts):
        return None
    definition = {name: data for name, data in read_tree(report.folder).items()
                  if name == REPORT_FILE or name.endswith(".py")}
    digest = hashlib.sha256()
    for part in (engine_code_version(), files_hash(definition), version("altair"), version("pandas"),
                 drawing_context(font_dir)):
        digest.update(part.encode() + b"\0")
    for name, frame in [("figures", figures), *sorted(tables.items())]:
        digest.update(name.encode() + b"\0" + _frame_bytes(frame))
    return digest.hexdigest() + ".json"


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    """A frame's values, index, column names and types as bytes: equal bytes, equal frame."""
    shape = json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode()
    return shape + b"\0" + pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()
