"""How the Xiaomi report draws its charts. One function per chart declared in report.toml, named by its id; each
gets the engine's `ChartKit` (figures, plotted rows, bars in the report's words) and returns an Altair chart. The
engine adds the title, size, theme and numbering."""

import altair as alt
import pandas as pd

from pipeline.lib.charts import ChartKit


def _part(kit: ChartKit, metric_id: str) -> str:
    """The part of the year a figure's period names, as the report writes it: 上半年, 下半年, or 全年."""
    return kit.locale.period_part(kit.period(metric_id))


def device_connections(kit: ChartKit) -> alt.LayerChart:
    frame = kit.rows(("mihome_connected_devices_prior", "mihome_connected_devices"), 1e8)
    return kit.bars(frame, "period", "连接数（亿台）")


def su7_deliveries_vs_target(kit: ChartKit) -> alt.LayerChart:
    part = _part(kit, "su7_deliveries")
    frame = kit.rows(("su7_deliveries_prior", "su7_deliveries", "su7_delivery_target"), 1e4,
                     {"su7_deliveries_prior": "上年同期交付（推算）", "su7_deliveries": f"{part}交付",
                      "su7_delivery_target": "全年目标"})
    return kit.bars(frame, "name", "万辆", horizontal=True)


def ev_market_share(kit: ChartKit) -> alt.LayerChart:
    frame = kit.rows(("ev_share_byd", "ev_share_tesla", "ev_share_su7", "ev_share_others"), 1,
                     {"ev_share_byd": "比亚迪", "ev_share_tesla": "特斯拉", "ev_share_su7": "小米SU7",
                      "ev_share_others": "其他（余数）"})
    return kit.bars(frame, "name", "市场份额（%）", horizontal=True)


def ecosystem_adoption(kit: ChartKit) -> alt.LayerChart:
    series = {"multi_device_user_share": "使用2个及以上米家设备的手机用户",
              "cross_device_feature_share": "使用跨设备协同功能的MIUI用户"}
    frame = pd.concat([kit.rows((f"{metric}_prior", metric)).assign(series=name) for metric, name in series.items()])
    x = alt.X("period:N", title=None, sort=alt.SortField("order"), axis=alt.Axis(labelAngle=0))
    y = alt.Y("value:Q", title="占比（%）", scale=alt.Scale(domain=[0, 100]))
    color = alt.Color("series:N", title=None)
    line = alt.Chart(frame).mark_line(point=True).encode(x, y, color, tooltip=kit.tooltip)
    labels = alt.Chart(frame).mark_text(dy=-8).encode(x, y, text="text:N")
    return line + labels


def gross_margin(kit: ChartKit) -> alt.LayerChart:
    frame = kit.rows(("group_gross_margin_prior", "group_gross_margin", "internet_services_gross_margin"), 1,
                     {"group_gross_margin_prior": "集团（上年，推算）", "group_gross_margin": "集团",
                      "internet_services_gross_margin": "互联网服务"})
    return kit.bars(frame, "name", "毛利率（%）")


def group_revenue(kit: ChartKit) -> alt.LayerChart:
    part = _part(kit, "group_revenue_implied_2025h1")
    frame = kit.rows(("group_revenue_prior", "group_revenue", "group_revenue_implied_2025h1"), 1e8,
                     {"group_revenue_prior": "上年全年（推算）", "group_revenue": "全年",
                      "group_revenue_implied_2025h1": f"{part}（由汽车占比反推）"})
    frame["name"] = frame["period"] + " " + frame["name"]
    return kit.bars(frame, "name", "总收入（亿元）", horizontal=True)


def revenue_mix(kit: ChartKit) -> alt.LayerChart:
    frame = kit.rows(("auto_revenue_share", "non_auto_revenue_share"), 1,
                     {"auto_revenue_share": "汽车业务", "non_auto_revenue_share": "其他业务（余数）"})
    frame["name"] = frame["name"].astype(str)
    return alt.Chart(frame).mark_arc(innerRadius=55).encode(
        theta=alt.Theta("value:Q"), color=alt.Color("name:N", title=None), tooltip=kit.tooltip,
    ) + alt.Chart(frame).mark_text(radius=110).encode(theta=alt.Theta("value:Q", stack=True), text="text:N")


def ltv_by_devices(kit: ChartKit) -> alt.LayerChart:
    frame = kit.rows(("ltv_single_device_baseline", "ltv_multiple_3plus_devices"), 1,
                     {"ltv_single_device_baseline": "单一设备用户（基准）",
                      "ltv_multiple_3plus_devices": "3个及以上设备用户"})
    return kit.bars(frame, "name", "用户终身价值（倍）")


def retention(kit: ChartKit) -> alt.LayerChart:
    frame = kit.rows(("phone_mau_retention_prior", "phone_mau_retention"))
    chart = kit.bars(frame, "period", "月活留存率（%）")
    return chart.encode(alt.Y("value:Q", title="月活留存率（%）", scale=alt.Scale(domain=[0, 100])))
