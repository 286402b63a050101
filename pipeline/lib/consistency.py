"""Cross-figure consistency: shares that must fit in a whole, parts against totals, figures that imply one another.

A finding never changes a figure. It is reported (as a Dagster asset check with a severity and in the report's
data notes) so the reader learns where the source disagrees with itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from pipeline.lib.formatting import figure_text
from pipeline.lib.kpis import latest_by_metric


@dataclass(frozen=True)
class Finding:
    check_id: str
    title: str
    passed: bool
    severity: str  # "WARN" when the figures disagree; the report still publishes them as the source states
    message: str
    metric_ids: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    check_id: str
    title: str
    metric_ids: tuple[str, ...]
    evaluate: Callable[[Callable[[str], str], Callable[[str], float]], tuple[bool, str]]


def _shares_within_whole(t, v):
    listed = "、".join(t(p) for p in ("ev_share_su7", "ev_share_tesla", "ev_share_byd"))
    total = t("ev_share_top3_total")
    if v("ev_share_top3_total") <= 100:
        return True, f"三家份额（{listed}）合计{total}，未超过整体。"
    return False, f"三家份额（{listed}）合计{total}，超过了整体。"


def _half_year_vs_full_year(t, v):
    implied, full = v("group_revenue_implied_2025h1"), v("group_revenue")
    text = (f"按汽车收入{t('auto_revenue')}占总收入{t('auto_revenue_share')}反推，同期集团总收入为"
            f"{t('group_revenue_implied_2025h1')}，而上一完整年度总收入为{t('group_revenue')}")
    if implied <= full:
        return True, text + "，半年数未超过全年数。"
    return False, (text + f"：半年数是全年数的{t('implied_h1_revenue_to_prior_fy')}。两组数字至少有一组的口径"
                   "或期间与文稿所述不符，本报告照录原值，不作修正。")


def _deliveries_within_target(t, v):
    ok = v("su7_deliveries") <= v("su7_delivery_target")
    return ok, (f"上半年交付{t('su7_deliveries')}，全年目标{t('su7_delivery_target')}，完成"
                f"{t('su7_target_progress')}" + ("。" if ok else "，已超过全年目标。"))


def _prior_share(metric: str, name: str):
    def evaluate(t, v):
        prior = v(f"{metric}_prior")
        ok = 0 <= prior <= 100
        text = f"{name}当期为{t(metric)}，变化{t(metric + '_change')}，推得上期为{t(metric + '_prior')}"
        return ok, text + ("，在0至100%之间。" if ok else "，超出了0至100%的范围。")
    return evaluate


def _group_margin_within_business(t, v):
    ok = v("group_gross_margin") <= v("internet_services_gross_margin")
    return ok, (f"集团毛利率{t('group_gross_margin')}" + ("低于" if ok else "高于")
                + f"互联网服务毛利率{t('internet_services_gross_margin')}"
                + ("，与高毛利业务拉高整体的说法相符。" if ok else "，与业务毛利率的构成不符。"))


RULES: tuple[Rule, ...] = (
    Rule("ev_shares_within_whole", "电动车市场份额之和不超过整体",
         ("ev_share_su7", "ev_share_tesla", "ev_share_byd", "ev_share_top3_total"), _shares_within_whole),
    Rule("implied_half_year_revenue_vs_full_year", "汽车收入占比反推的半年总收入与上年全年收入",
         ("auto_revenue", "auto_revenue_share", "group_revenue", "group_revenue_implied_2025h1",
          "implied_h1_revenue_to_prior_fy"), _half_year_vs_full_year),
    Rule("deliveries_within_target", "上半年交付量不超过全年目标",
         ("su7_deliveries", "su7_delivery_target", "su7_target_progress"), _deliveries_within_target),
    Rule("gross_margin_prior_in_range", "毛利率与其百分点变化推得的上年值在0–100%之间",
         ("group_gross_margin", "group_gross_margin_change", "group_gross_margin_prior"),
         _prior_share("group_gross_margin", "集团毛利率")),
    Rule("retention_prior_in_range", "留存率与其百分点变化推得的上年值在0–100%之间",
         ("phone_mau_retention", "phone_mau_retention_change", "phone_mau_retention_prior"),
         _prior_share("phone_mau_retention", "月活留存率")),
    Rule("multi_device_prior_in_range", "多设备用户占比与其百分点变化推得的上年值在0–100%之间",
         ("multi_device_user_share", "multi_device_user_share_change", "multi_device_user_share_prior"),
         _prior_share("multi_device_user_share", "多设备用户占比")),
    Rule("cross_device_prior_in_range", "跨设备协同使用率与其百分点变化推得的上年值在0–100%之间",
         ("cross_device_feature_share", "cross_device_feature_share_change", "cross_device_feature_share_prior"),
         _prior_share("cross_device_feature_share", "跨设备协同使用率")),
    Rule("group_margin_within_business_margins", "集团毛利率不高于其最高的业务毛利率",
         ("group_gross_margin", "internet_services_gross_margin"), _group_margin_within_business),
)


def check_consistency(figures: pd.DataFrame, rules: tuple[Rule, ...] = RULES) -> list[Finding]:
    """Run every rule whose figures exist; a rule with a missing figure is skipped, not failed."""
    latest = latest_by_metric(figures)

    def text(metric_id: str) -> str:
        row = latest.loc[metric_id]
        return figure_text(row["value"], row["unit"], row["qualifier"])

    def value(metric_id: str) -> float:
        return float(latest.loc[metric_id, "value"])

    findings = []
    for rule in rules:
        if any(m not in latest.index for m in rule.metric_ids):
            continue
        passed, message = rule.evaluate(text, value)
        findings.append(Finding(rule.check_id, rule.title, passed, "WARN", message, rule.metric_ids))
    return findings
