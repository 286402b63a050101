"""Derived figures: computed from source rows, never typed. Each carries its formula and inputs so the report can
show it as derived and the KPI appendix can say how it was obtained."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from pipeline.lib.validate import METRIC_COLUMNS

FIGURE_COLUMNS = (*METRIC_COLUMNS, "derived", "formula", "inputs")


@dataclass(frozen=True)
class Kpi:
    metric_id: str
    label: str
    unit: str
    formula: str  # human-readable, in terms of the input metric ids
    inputs: tuple[str, ...]
    compute: Callable[..., float]
    period: Callable[[list[str]], str] = lambda periods: periods[0]  # from the inputs' periods
    entity_from: int = 0  # which input names the entity


def prior_period(period: str) -> str:
    """The same period one year earlier: 2024 → 2023, 2025H1 → 2024H1."""
    match = re.fullmatch(r"([0-9]{4})(.*)", period)
    if not match:
        raise ValueError(f"period {period!r} has no year to step back from")
    return f"{int(match[1]) - 1}{match[2]}"


def _prior(periods: list[str]) -> str:
    return prior_period(periods[0])


def _from_growth(metric: str, label: str, unit: str) -> Kpi:
    return Kpi(f"{metric}_prior", label, unit, f"{metric} ÷ (1 + {metric}_yoy ÷ 100)",
               (metric, f"{metric}_yoy"), lambda v, g: v / (1 + g / 100), _prior)


def _from_pp_change(metric: str, label: str) -> Kpi:
    return Kpi(f"{metric}_prior", label, "percent", f"{metric} − {metric}_change",
               (metric, f"{metric}_change"), lambda v, d: v - d, _prior)


KPIS: tuple[Kpi, ...] = (
    _from_growth("mihome_connected_devices", "米家设备连接数（上年末，由增速推算）", "devices"),
    _from_growth("group_revenue", "小米集团总收入（上年，由增速推算）", "cny"),
    _from_growth("su7_deliveries", "小米SU7交付量（上年同期，由增速推算）", "vehicles"),
    _from_pp_change("group_gross_margin", "集团整体毛利率（上年，由百分点变化推算）"),
    _from_pp_change("phone_mau_retention", "手机用户月活留存率（上年，由百分点变化推算）"),
    _from_pp_change("multi_device_user_share", "使用2个及以上米家设备的手机用户占比（上年）"),
    _from_pp_change("cross_device_feature_share", "使用跨设备协同功能的用户比例（上年同期）"),
    Kpi("su7_target_progress", "小米SU7上半年交付占全年目标的比例", "percent",
        "su7_deliveries ÷ su7_delivery_target × 100", ("su7_deliveries", "su7_delivery_target"),
        lambda d, t: d / t * 100),
    Kpi("su7_deliveries_remaining", "完成全年目标尚需交付的数量", "vehicles",
        "su7_delivery_target − su7_deliveries", ("su7_delivery_target", "su7_deliveries"),
        lambda t, d: t - d),
    Kpi("group_revenue_implied_2025h1", "由汽车收入及其占比反推的集团同期总收入", "cny",
        "auto_revenue ÷ (auto_revenue_share ÷ 100)", ("auto_revenue", "auto_revenue_share"),
        lambda r, s: r / (s / 100), entity_from=1),
    Kpi("non_auto_revenue_share", "汽车以外业务的收入占比", "percent",
        "100 − auto_revenue_share", ("auto_revenue_share",), lambda s: 100 - s),
    Kpi("non_auto_revenue_implied", "汽车以外业务的收入（推算）", "cny",
        "auto_revenue ÷ (auto_revenue_share ÷ 100) − auto_revenue", ("auto_revenue", "auto_revenue_share"),
        lambda r, s: r / (s / 100) - r),
    Kpi("implied_h1_revenue_to_prior_fy", "推算的半年总收入相当于上一完整年度收入的倍数", "multiple",
        "auto_revenue ÷ (auto_revenue_share ÷ 100) ÷ group_revenue",
        ("auto_revenue", "auto_revenue_share", "group_revenue"), lambda r, s, g: r / (s / 100) / g),
    Kpi("ev_share_others", "国内中高端电动车市场份额：其他品牌（余数）", "percent",
        "100 − ev_share_su7 − ev_share_tesla − ev_share_byd", ("ev_share_su7", "ev_share_tesla", "ev_share_byd"),
        lambda a, b, c: 100 - a - b - c),
    Kpi("ev_share_top3_total", "国内中高端电动车市场份额：小米SU7、特斯拉、比亚迪合计", "percent",
        "ev_share_su7 + ev_share_tesla + ev_share_byd", ("ev_share_su7", "ev_share_tesla", "ev_share_byd"),
        lambda a, b, c: a + b + c),
    Kpi("mihome_users_with_xiaomi_phone", "同时使用小米手机的米家用户数（推算）", "users",
        "mihome_users × mihome_users_phone_share ÷ 100", ("mihome_users", "mihome_users_phone_share"),
        lambda u, s: u * s / 100),
    Kpi("ltv_uplift_3plus_devices", "3个及以上设备用户LTV高出单设备用户的幅度", "change_pct",
        "(ltv_multiple_3plus_devices − 1) × 100", ("ltv_multiple_3plus_devices",), lambda m: (m - 1) * 100),
    Kpi("ltv_single_device_baseline", "单设备用户LTV（比较基准，按定义为1倍）", "multiple",
        "ltv_multiple_3plus_devices ÷ ltv_multiple_3plus_devices（基准按定义等于自身）",
        ("ltv_multiple_3plus_devices",), lambda m: m / m),
    Kpi("su7_price_spread", "小米SU7售价区间跨度", "cny", "su7_price_max − su7_price_min",
        ("su7_price_max", "su7_price_min"), lambda hi, lo: hi - lo),
)


def _qualifier(rows: list[pd.Series]) -> str:
    """A figure computed from an approximate or bounded input is itself approximate."""
    return "approx" if any(r["qualifier"] for r in rows) else ""


def compute_kpis(metrics: pd.DataFrame, kpis: tuple[Kpi, ...] = KPIS) -> tuple[pd.DataFrame, list[str]]:
    """Every KPI whose inputs exist, as rows shaped like metrics (plus formula and inputs); and the skipped ids."""
    latest = latest_by_metric(metrics)
    rows, skipped = [], []
    for kpi in kpis:
        if any(i not in latest.index for i in kpi.inputs):
            skipped.append(kpi.metric_id)
            continue
        inputs = [latest.loc[i] for i in kpi.inputs]
        rows.append({
            "metric_id": kpi.metric_id,
            "entity": inputs[kpi.entity_from]["entity"],
            "period": kpi.period([r["period"] for r in inputs]),
            "value": float(kpi.compute(*(r["value"] for r in inputs))),
            "unit": kpi.unit,
            "qualifier": _qualifier(inputs),
            "label": kpi.label,
            "source_ref": ";".join(sorted({r["source_ref"] for r in inputs})),
            "locator": "推算",
            "note": "",
            "derived": True,
            "formula": kpi.formula,
            "inputs": ";".join(kpi.inputs),
        })
    return pd.DataFrame(rows, columns=list(FIGURE_COLUMNS)), skipped


def latest_by_metric(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per metric id: the one with the latest period ('undated' counts as oldest)."""
    ordered = frame.assign(_order=frame["period"].map(period_order)).sort_values(["metric_id", "_order"])
    return ordered.drop_duplicates("metric_id", keep="last").drop(columns="_order").set_index("metric_id",
                                                                                             drop=False)


def period_order(period: str) -> tuple[int, int]:
    """Sort key: the end month of the period (2024 → (2024, 12), 2025H1 → (2025, 6)); 'undated' sorts first."""
    match = re.fullmatch(r"([0-9]{4})(?:H([12])|Q([1-4]))?", period)
    if not match:
        return (0, 0)
    year, half, quarter = match.groups()
    month = 6 * int(half) if half else 3 * int(quarter) if quarter else 12
    return (int(year), month)


def figures_table(metrics: pd.DataFrame, kpis: pd.DataFrame) -> pd.DataFrame:
    """Source rows and derived rows in one table, the single place templates and charts read numbers from."""
    source = metrics.assign(derived=False, formula="", inputs="").loc[:, list(FIGURE_COLUMNS)]
    return pd.concat([source, kpis], ignore_index=True)
