"""Derived figures: computed from source rows, never typed. Each carries its formula and inputs so the report can
show it as derived and the KPI appendix can say how it was obtained."""

from __future__ import annotations

import re

import pandas as pd

from pipeline.lib.formatting import DEFAULT_LANGUAGE, locale_for
from pipeline.lib.report_def import PREVIOUS, Kpi
from pipeline.lib.validate import METRIC_COLUMNS

FIGURE_COLUMNS = (*METRIC_COLUMNS, "derived", "formula", "inputs")


def prior_period(period: str) -> str:
    """The same period one year earlier: 2024 → 2023, 2025H1 → 2024H1."""
    match = re.fullmatch(r"([0-9]{4})(.*)", period)
    if not match:
        raise ValueError(f"period {period!r} has no year to step back from")
    return f"{int(match[1]) - 1}{match[2]}"


def kpi_period(kpi: Kpi, input_periods: list[str]) -> str:
    """A KPI's period follows from its inputs' (the first input's): the same, or one year earlier."""
    return prior_period(input_periods[0]) if kpi.period == "prior_year" else input_periods[0]


def kpi_label(kpi: Kpi, period: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The KPI's label with its period filled in: {period} as the report writes it (2025年上半年, H1 2025), {part}
    the part of the year (上半年 or 全年, H1 or full year), so an H2 edition says 下半年 by itself."""
    locale = locale_for(language)
    return kpi.label.format(period=locale.period_label(period), part=locale.period_part(period))


def _qualifier(rows: list[pd.Series]) -> str:
    """A figure computed from an approximate or bounded input is itself approximate."""
    return "approx" if any(r["qualifier"] for r in rows) else ""


def compute_kpis(metrics: pd.DataFrame, kpis: tuple[Kpi, ...], locator: str,
                 language: str = DEFAULT_LANGUAGE) -> tuple[pd.DataFrame, list[str]]:
    """Every KPI whose inputs exist, as rows shaped like metrics (plus formula and inputs); and the skipped ids.

    KPIs are computed in declaration order, so a KPI may use one declared before it. `locator` is what the
    report writes where a source figure names its place in the source (e.g. "derived"); `language` the report's,
    for the periods in labels."""
    latest = latest_by_metric(metrics).astype({"value": float})
    before = previous_by_metric(metrics).astype({"value": float})
    rows, skipped = [], []
    for kpi in kpis:
        found = {i: row for i in kpi.inputs if (row := _input(i, latest, before)) is not None}
        if len(found) < len(kpi.inputs):
            skipped.append(kpi.metric_id)
            continue
        inputs = [found[i] for i in kpi.inputs]
        period = kpi_period(kpi, [r["period"] for r in inputs])
        row = {
            "metric_id": kpi.metric_id,
            "entity": found[kpi.entity_from]["entity"],
            "period": period,
            "value": kpi.formula.evaluate({i: float(r["value"]) for i, r in zip(kpi.inputs, inputs, strict=True)}),
            "unit": kpi.unit,
            "qualifier": _qualifier(inputs),
            "label": kpi_label(kpi, period, language),
            "source_ref": ";".join(sorted({r["source_ref"] for r in inputs})),
            "locator": locator,
            "note": "",
            "derived": True,
            "formula": kpi.shown_formula,
            "inputs": ";".join(kpi.inputs),
        }
        rows.append(row)
        latest.loc[kpi.metric_id] = pd.Series(row)
    return pd.DataFrame(rows, columns=list(FIGURE_COLUMNS)), skipped


def _input(name: str, latest: pd.DataFrame, before: pd.DataFrame) -> pd.Series | None:
    """A formula's input row: the figure's latest period, or for `<id>_previous` the period before it."""
    if name.endswith(PREVIOUS) and name not in latest.index:
        base = name.removesuffix(PREVIOUS)
        return before.loc[base] if base in before.index else None
    return latest.loc[name] if name in latest.index else None


def previous_by_metric(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per metric id that has two periods or more: the one just before its latest."""
    ordered = frame.assign(_order=frame["period"].map(period_order)).sort_values(["metric_id", "_order"])
    earlier = ordered[ordered.duplicated("metric_id", keep="last")]
    return earlier.drop_duplicates("metric_id", keep="last").drop(columns="_order").set_index("metric_id",
                                                                                              drop=False)


def latest_by_metric(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per metric id: the one with the latest period ('undated' counts as oldest)."""
    ordered = frame.assign(_order=frame["period"].map(period_order)).sort_values(["metric_id", "_order"])
    return ordered.drop_duplicates("metric_id", keep="last").drop(columns="_order").set_index("metric_id",
                                                                                             drop=False)


def period_order(period: str) -> tuple[int, int]:
    """Sort key: the end month of the period (2024 → (2024, 12), 2025H1 → (2025, 6), 2024-04 → (2024, 4));
    'undated' sorts first."""
    match = re.fullmatch(r"([0-9]{4})(?:H([12])|Q([1-4])|-([0-9]{2}))?", period)
    if not match:
        return (0, 0)
    year, half, quarter, month_of = match.groups()
    month = 6 * int(half) if half else 3 * int(quarter) if quarter else int(month_of) if month_of else 12
    return (int(year), month)


def figures_table(metrics: pd.DataFrame, kpis: pd.DataFrame) -> pd.DataFrame:
    """Source rows and derived rows in one table, the single place templates and charts read numbers from."""
    source = metrics.assign(derived=False, formula="", inputs="").loc[:, list(FIGURE_COLUMNS)]
    return pd.concat([source, kpis], ignore_index=True)
