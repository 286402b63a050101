"""The report's charts: Altair specs built only from the figures table, one theme with the CJK font, exported to
vector SVG for the PDF and kept as Vega-Lite JSON for the interactive HTML."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import altair as alt
import pandas as pd

from pipeline.lib import chart_text
from pipeline.lib.fonts import SANS, require_fonts
from pipeline.lib.formatting import figure_text
from pipeline.lib.kpis import latest_by_metric, period_order
from pipeline.lib.svg_engine import to_svg

THEME = "strategy_report"
PALETTE = ["#1f4e79", "#c55a11", "#7f7f7f", "#548235", "#bf9000", "#7030a0"]
ORIGIN_SOURCE, ORIGIN_DERIVED = "文稿数据", "推算值"
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


@dataclass(frozen=True)
class ChartSpec:
    chart_id: str
    title: str
    caption: str  # what the chart shows, in the team's words
    metric_ids: tuple[str, ...]
    build: Callable[[pd.DataFrame], alt.Chart]


@dataclass(frozen=True)
class RenderedChart:
    chart_id: str
    number: int
    title: str
    caption: str
    metric_ids: tuple[str, ...]
    source_refs: tuple[str, ...]
    has_derived: bool
    spec: dict  # Vega-Lite JSON, for the interactive HTML
    svg: str  # vector, for the PDF
    data: list[dict]  # the plotted rows, for tests and metadata

    @property
    def svg_data_url(self) -> str:
        """The SVG as a `data:` URL for an <img>, which is how the print HTML embeds it.

        Inline <svg> would make WeasyPrint parse some 8,000 chart elements with its HTML parser and run the CSS
        cascade on each (measured: 14 % of the layout time); as an image it is parsed once by the SVG renderer and
        stays vector in the PDF."""
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode("utf-8")).decode("ascii")

    @property
    def alt_text(self) -> str:
        """The chart's text alternative, written from the rows it plots (`chart_text`): <img alt>, aria-label."""
        return chart_text.describe(self.title, chart_text.plotted_rows(self.spec), chart_text.chart_kind(self.spec))


def chart_rows(latest: pd.DataFrame, ids: tuple[str, ...], scale: float = 1.0, names: dict[str, str] | None = None,
               ) -> pd.DataFrame:
    """The plotted rows: value (scaled for the axis), the figure as the report writes it, and where it came from."""
    rows = []
    for metric_id in ids:
        row = latest.loc[metric_id]
        rows.append({
            "metric_id": metric_id,
            "name": (names or {}).get(metric_id, row["label"]),
            "period": row["period"],
            "order": period_order(row["period"]),
            "value": row["value"] / scale,
            "text": figure_text(row["value"], row["unit"], row["qualifier"]),
            "origin": ORIGIN_DERIVED if row["derived"] else ORIGIN_SOURCE,
        })
    frame = pd.DataFrame(rows)
    frame["order"] = frame["order"].map(lambda o: o[0] * 100 + o[1])
    return frame


ORIGIN_COLOR = alt.Color("origin:N", title="数据来源", scale=alt.Scale(domain=[ORIGIN_SOURCE, ORIGIN_DERIVED],
                                                                    range=[PALETTE[0], "#9dc3e6"]))
TOOLTIP = [alt.Tooltip("name:N", title="指标"), alt.Tooltip("period:N", title="期间"),
           alt.Tooltip("text:N", title="数值"), alt.Tooltip("origin:N", title="来源")]


def _bars(frame: pd.DataFrame, x: str, y_title: str, horizontal: bool = False) -> alt.Chart:
    base = alt.Chart(frame)
    category = alt.X(f"{x}:N", title=None, sort=alt.SortField("order"), axis=alt.Axis(labelAngle=0))
    value = alt.Y("value:Q", title=y_title)
    if horizontal:
        category = alt.Y(f"{x}:N", title=None, sort=None)
        value = alt.X("value:Q", title=y_title)
    bars = base.mark_bar().encode(category, value, ORIGIN_COLOR, tooltip=TOOLTIP)
    labels = base.mark_text(**({"align": "left", "dx": 3} if horizontal else {"baseline": "bottom", "dy": -2})
                            ).encode(category, value, text="text:N")
    return bars + labels


def _device_connections(latest):
    frame = chart_rows(latest, ("mihome_connected_devices_prior", "mihome_connected_devices"), 1e8)
    return _bars(frame, "period", "连接数（亿台）")


def _deliveries_vs_target(latest):
    frame = chart_rows(latest, ("su7_deliveries_prior", "su7_deliveries", "su7_delivery_target"), 1e4,
                       {"su7_deliveries_prior": "上年同期交付（推算）", "su7_deliveries": "上半年交付",
                        "su7_delivery_target": "全年目标"})
    return _bars(frame, "name", "万辆", horizontal=True)


def _ev_market_share(latest):
    frame = chart_rows(latest, ("ev_share_byd", "ev_share_tesla", "ev_share_su7", "ev_share_others"), 1,
                       {"ev_share_byd": "比亚迪", "ev_share_tesla": "特斯拉", "ev_share_su7": "小米SU7",
                        "ev_share_others": "其他（余数）"})
    return _bars(frame, "name", "市场份额（%）", horizontal=True)


def _adoption(latest):
    series = {"multi_device_user_share": "使用2个及以上米家设备的手机用户",
              "cross_device_feature_share": "使用跨设备协同功能的MIUI用户"}
    frames = []
    for metric, name in series.items():
        part = chart_rows(latest, (f"{metric}_prior", metric))
        frames.append(part.assign(series=name))
    frame = pd.concat(frames)
    x = alt.X("period:N", title=None, sort=alt.SortField("order"), axis=alt.Axis(labelAngle=0))
    y = alt.Y("value:Q", title="占比（%）", scale=alt.Scale(domain=[0, 100]))
    color = alt.Color("series:N", title=None)
    line = alt.Chart(frame).mark_line(point=True).encode(x, y, color, tooltip=TOOLTIP)
    labels = alt.Chart(frame).mark_text(dy=-8).encode(x, y, text="text:N")
    return line + labels


def _gross_margin(latest):
    frame = chart_rows(latest, ("group_gross_margin_prior", "group_gross_margin", "internet_services_gross_margin"),
                       1, {"group_gross_margin_prior": "集团（上年，推算）", "group_gross_margin": "集团",
                           "internet_services_gross_margin": "互联网服务"})
    return _bars(frame, "name", "毛利率（%）")


def _revenue(latest):
    frame = chart_rows(latest, ("group_revenue_prior", "group_revenue", "group_revenue_implied_2025h1"), 1e8,
                       {"group_revenue_prior": "上年全年（推算）", "group_revenue": "全年",
                        "group_revenue_implied_2025h1": "上半年（由汽车占比反推）"})
    frame["name"] = frame["period"] + " " + frame["name"]
    return _bars(frame, "name", "总收入（亿元）", horizontal=True)


def _revenue_mix(latest):
    frame = chart_rows(latest, ("auto_revenue_share", "non_auto_revenue_share"), 1,
                       {"auto_revenue_share": "汽车业务", "non_auto_revenue_share": "其他业务（余数）"})
    frame["name"] = frame["name"].astype(str)
    return alt.Chart(frame).mark_arc(innerRadius=55).encode(
        theta=alt.Theta("value:Q"), color=alt.Color("name:N", title=None), tooltip=TOOLTIP,
    ) + alt.Chart(frame).mark_text(radius=110).encode(theta=alt.Theta("value:Q", stack=True), text="text:N")


def _ltv(latest):
    frame = chart_rows(latest, ("ltv_single_device_baseline", "ltv_multiple_3plus_devices"), 1,
                       {"ltv_single_device_baseline": "单一设备用户（基准）",
                        "ltv_multiple_3plus_devices": "3个及以上设备用户"})
    return _bars(frame, "name", "用户终身价值（倍）")


def _retention(latest):
    frame = chart_rows(latest, ("phone_mau_retention_prior", "phone_mau_retention"))
    chart = _bars(frame, "period", "月活留存率（%）")
    return chart.encode(alt.Y("value:Q", title="月活留存率（%）", scale=alt.Scale(domain=[0, 100])))


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("device_connections", "米家智能设备连接数", "米家设备连接数的年末规模，上年值由同比增速倒推。",
              ("mihome_connected_devices_prior", "mihome_connected_devices"), _device_connections),
    ChartSpec("su7_deliveries_vs_target", "小米SU7交付量与全年目标", "上半年交付量对照全年目标，上年同期值由同比增速倒推。",
              ("su7_deliveries_prior", "su7_deliveries", "su7_delivery_target"), _deliveries_vs_target),
    ChartSpec("ev_market_share", "国内中高端电动车市场份额", "小米SU7与特斯拉、比亚迪的份额，“其他”为100%减去三者之和。",
              ("ev_share_su7", "ev_share_tesla", "ev_share_byd", "ev_share_others"), _ev_market_share),
    ChartSpec("ecosystem_adoption", "多设备与跨设备协同的渗透", "两项渗透指标的当期值与由百分点变化推得的上期值；两者基数不同。",
              ("multi_device_user_share_prior", "multi_device_user_share", "cross_device_feature_share_prior",
               "cross_device_feature_share"), _adoption),
    ChartSpec("gross_margin", "毛利率：集团与互联网服务", "集团整体毛利率（含由百分点变化推得的上年值）与互联网服务毛利率。",
              ("group_gross_margin_prior", "group_gross_margin", "internet_services_gross_margin"), _gross_margin),
    ChartSpec("group_revenue", "集团总收入", "全年总收入、由增速倒推的上年值，以及由汽车收入占比反推的上半年总收入。",
              ("group_revenue_prior", "group_revenue", "group_revenue_implied_2025h1"), _revenue),
    ChartSpec("revenue_mix", "上半年收入构成", "汽车业务收入占比，其余部分为余数。",
              ("auto_revenue_share", "non_auto_revenue_share"), _revenue_mix),
    ChartSpec("ltv_by_devices", "按设备数划分的用户终身价值", "以单一设备用户为基准（1倍）比较多设备用户的LTV。",
              ("ltv_single_device_baseline", "ltv_multiple_3plus_devices"), _ltv),
    ChartSpec("retention", "手机用户月活留存率", "当年留存率与由百分点变化推得的上年值。",
              ("phone_mau_retention_prior", "phone_mau_retention"), _retention),
)

def declared_charts(figures: pd.DataFrame, charts: tuple[ChartSpec, ...] = CHARTS) -> list[RenderedChart]:
    """Every chart whose figures exist, numbered in order, as Vega-Lite JSON, without SVG (`svg` is empty).

    This is all a template needs to be rendered for checking (`pipeline.lib.template_check`); `build_charts`
    adds the SVG, which is the expensive part."""
    latest = latest_by_metric(figures)
    rendered = []
    with alt.theme.enable(THEME):
        for spec in charts:
            if any(m not in latest.index for m in spec.metric_ids):
                continue
            vega_lite = spec.build(latest).properties(title=spec.title, width=WIDTH, height=HEIGHT).to_dict()
            used = latest.loc[list(spec.metric_ids)]
            refs = sorted({r for refs in used["source_ref"] for r in refs.split(";")})
            rendered.append(RenderedChart(
                chart_id=spec.chart_id, number=len(rendered) + 1, title=spec.title, caption=spec.caption,
                metric_ids=spec.metric_ids, source_refs=tuple(refs), has_derived=bool(used["derived"].any()),
                spec=vega_lite, svg="",
                data=json.loads(used[["metric_id", "period", "value", "unit"]].to_json(orient="records")),
            ))
    return rendered


def build_charts(figures: pd.DataFrame, font_dir: Path, charts: tuple[ChartSpec, ...] = CHARTS,
                 ) -> list[RenderedChart]:
    """Every chart whose figures exist, numbered in order, as Vega-Lite JSON and SVG (drawn by the helper process
    of `svg_engine`, with the CJK font)."""
    require_fonts(font_dir)
    declared = declared_charts(figures, charts)
    svgs = to_svg([c.spec for c in declared], font_dir) if declared else []
    return [replace(chart, svg=svg) for chart, svg in zip(declared, svgs, strict=True)]
