"""Charts of a report: the report declares them (report.toml: id, title, caption, figures) and draws them (a
function per chart in its charts.py, using `ChartKit`); the engine supplies one theme with the CJK font, the
numbering, the SVG export (through the helper process of `svg_engine`, cached on disk) for the PDF, and the
Vega-Lite JSON for the interactive HTML."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from pipeline.lib.fonts import SANS, require_fonts
from pipeline.lib.formatting import locale_for
from pipeline.lib.kpis import latest_by_metric, period_order
from pipeline.lib.rendered_chart import RenderedChart
from pipeline.lib.report_def import Report
from pipeline.lib.svg_engine import to_svg

THEME = "strategy_report"
PALETTE = ["#1f4e79", "#c55a11", "#7f7f7f", "#548235", "#bf9000", "#7030a0"]
WIDTH, HEIGHT = 440, 190


@alt.theme.register(THEME, enable=False)
def _theme() -> alt.theme.ThemeConfig:
    """One look for every chart; the CJK font is named explicitly so Vega never falls back to DejaVu."""
    return {
        "config": {
            "font": SANS,
            "background": "white",
            "view": {"stroke": None, "continuousWidth": 420, "continuousHeight": 220},
            "title": {"font": SANS, "fontSize": 13, "anchor": "start", "color": "#222"},
            "axis": {"labelFont": SANS, "titleFont": SANS, "labelFontSize": 11, "titleFontSize": 11,
                     "gridColor": "#e6e6e6", "domainColor": "#888"},
            "legend": {"labelFont": SANS, "titleFont": SANS, "labelFontSize": 11, "orient": "bottom", "labelLimit": 0},
            "text": {"font": SANS, "fontSize": 11},
            "range": {"category": PALETTE},
        }
    }


class ChartKit:
    """What a report's chart builder (`charts.py` in the report's folder) works with: the figures (latest row per
    figure, or a whole series), and the engine's building blocks in the report's words (`[labels]` of
    report.toml). A builder returns an Altair chart; the engine adds the theme, title, size, numbering and SVG."""

    def __init__(self, figures: pd.DataFrame, report: Report, tables: dict[str, pd.DataFrame] | None = None) -> None:
        self.figures = figures
        self.tables = tables or {}
        self.latest = latest_by_metric(figures)
        self.report = report
        self.locale = locale_for(report.language)  # how figures and periods read in the report's language
        self.source_label, self.derived_label = report.label("origin_source"), report.label("origin_derived")
        self.origin_color = alt.Color("origin:N", title=report.label("origin_title"), scale=alt.Scale(
            domain=[self.source_label, self.derived_label], range=[PALETTE[0], "#9dc3e6"]))
        self.tooltip = [alt.Tooltip("name:N", title=report.label("tooltip_name")),
                        alt.Tooltip("period:N", title=report.label("tooltip_period")),
                        alt.Tooltip("text:N", title=report.label("tooltip_value")),
                        alt.Tooltip("origin:N", title=report.label("tooltip_origin"))]

    def _row(self, row: pd.Series, name: str, scale: float) -> dict[str, object]:
        year, month = period_order(row["period"])
        return {"metric_id": row["metric_id"], "name": name, "period": row["period"], "order": year * 100 + month,
                "value": row["value"] / scale, "text": self.locale.figure_text(row["value"], row["unit"], row["qualifier"]),
                "origin": self.derived_label if row["derived"] else self.source_label}

    def rows(self, ids: tuple[str, ...], scale: float = 1.0, names: dict[str, str] | None = None) -> pd.DataFrame:
        """The plotted rows of these figures (latest period each): value scaled for the axis, the figure as the
        report writes it, and where it came from."""
        return pd.DataFrame([self._row(self.latest.loc[m], (names or {}).get(m, self.latest.loc[m, "label"]), scale)
                             for m in ids])

    def series(self, metric_id: str, scale: float = 1.0) -> pd.DataFrame:
        """Every period of one figure, oldest first, as plotted rows named by their period as the report writes it
        (H1 2025, 2025年上半年)."""
        rows = self.figures[self.figures["metric_id"] == metric_id]
        ordered = rows.assign(_o=rows["period"].map(period_order)).sort_values("_o")
        return pd.DataFrame([self._row(row, self.locale.period_label(row["period"]), scale)
                             for _, row in ordered.iterrows()])

    def table(self, table_id: str) -> pd.DataFrame:
        """A declared table of the edition (report.toml [[tables]]): typed values, formula columns computed."""
        return self.tables[table_id].reset_index(drop=True).copy()

    def cell_text(self, value: float, unit: str) -> str:
        """A number as the report prints it in a table (bare counts), for a chart's labels."""
        return self.locale.cell_text(value, unit)

    def period(self, metric_id: str) -> str:
        """The period of a figure's latest row."""
        return str(self.latest.loc[metric_id, "period"])

    def bars(self, frame: pd.DataFrame, x: str, y_title: str, horizontal: bool = False,
             in_order: bool = False) -> alt.LayerChart:
        """Bars coloured by origin (source or derived), each labelled with the figure as the report writes it.

        `in_order` puts the categories in the frame's row order, e.g. a `series` oldest first. Without it, upright
        bars ask for the `order` field, which Vega-Lite drops for layered bars (it then sorts the names as text:
        Q1 2023, Q1 2024, Q2 2023 …); existing charts keep that look until they opt in."""
        base = alt.Chart(frame)
        category: alt.X | alt.Y
        value: alt.X | alt.Y
        sort = None if in_order else alt.SortField("order")
        category = alt.X(f"{x}:N", title=None, sort=sort, axis=alt.Axis(labelAngle=0))
        value = alt.Y("value:Q", title=y_title)
        if horizontal:
            category = alt.Y(f"{x}:N", title=None, sort=None)
            value = alt.X("value:Q", title=y_title)
        bars = base.mark_bar().encode(category, value, self.origin_color, tooltip=self.tooltip)
        text_style: dict[str, Any] = {"align": "left", "dx": 3} if horizontal else {"baseline": "bottom", "dy": -2}
        labels = base.mark_text(**text_style).encode(category, value, text="text:N")
        return bars + labels


def declared_charts(figures: pd.DataFrame, report: Report, tables: dict[str, pd.DataFrame] | None = None
                    ) -> list[RenderedChart]:
    """Every chart of the report whose figures exist, numbered in order, as Vega-Lite JSON, without SVG (`svg` is
    empty). This is all a template needs to be rendered for checking (`build.check_template`); `build_charts`
    adds the SVG, which is the expensive part."""
    kit = ChartKit(figures, report, tables)
    rendered: list[RenderedChart] = []
    with alt.theme.enable(THEME):
        for spec in report.charts:
            if any(m not in kit.latest.index for m in spec.metric_ids) or any(
                    t not in kit.tables or kit.tables[t].empty for t in spec.table_ids):
                continue
            vega_lite = spec.build(kit).properties(title=spec.title, width=WIDTH, height=HEIGHT).to_dict()
            used = kit.latest.loc[list(spec.metric_ids)]
            refs = sorted({r for refs in used["source_ref"] for r in refs.split(";")}
                          | {report.table(t).source_ref for t in spec.table_ids})
            rendered.append(RenderedChart(
                chart_id=spec.chart_id, number=len(rendered) + 1, title=spec.title, caption=spec.caption,
                metric_ids=spec.metric_ids, source_refs=tuple(refs), has_derived=bool(used["derived"].any()) or any(
                    c.formula is not None for t in spec.table_ids for c in report.table(t).columns),
                spec=vega_lite, svg="",
                data=json.loads(used[["metric_id", "period", "value", "unit"]].to_json(orient="records")),
                language=report.language, derived_label=report.labels.get("origin_derived", ""),
            ))
    return rendered


def build_charts(figures: pd.DataFrame, report: Report, font_dir: Path,
                 tables: dict[str, pd.DataFrame] | None = None) -> list[RenderedChart]:
    """Every chart of the report whose figures exist, numbered in order, as Vega-Lite JSON and SVG (drawn by the
    helper process of `svg_engine`, with the CJK font)."""
    require_fonts(font_dir)
    declared = declared_charts(figures, report, tables)
    svgs = to_svg([c.spec for c in declared], font_dir) if declared else []
    return [replace(chart, svg=svg) for chart, svg in zip(declared, svgs, strict=True)]
