"""How figures read in Chinese: 亿, 万, %, 个百分点, 倍. Templates, charts, tables and check messages all use these,
so a number is printed one way everywhere and can be traced back to its row."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from markupsafe import Markup

from pipeline.lib.units import UNITS

QUALIFIER_PREFIX = {"approx": "约", "at_most": "≤"}
QUALIFIER_SUFFIX = {"at_least": "以上"}


def number(value: float, decimals: int | None = None) -> str:
    """Plain digits: at most two decimals below 100, one above, trailing zeros dropped; no thousands separator
    (Chinese reports write 2800亿, not 2,800亿).

    Rounding is half up on the number as written (5.625 → 5.63), as a reader rounds by hand, not Python's
    round-half-even on the binary float (which prints 5.62)."""
    if not math.isfinite(value):
        raise ValueError(f"cannot format {value}")
    if decimals is None:
        decimals = 2 if abs(value) < 100 else 1
    text = str(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def yi(value: float) -> str:
    """Hundred-millions: 280000000000 → '2800亿'."""
    return number(value / 1e8) + "亿"


def wan(value: float) -> str:
    """Ten-thousands: 180000 → '18万'."""
    return number(value / 1e4) + "万"


def pct(value: float) -> str:
    return number(value) + "%"


def pp(value: float) -> str:
    return number(value) + "个百分点"


def times(value: float) -> str:
    return number(value) + "倍"


def magnitude(value: float, counter: str) -> str:
    """A count or amount in the largest Chinese unit that keeps it readable."""
    if abs(value) >= 1e8:
        return yi(value) + counter
    if abs(value) >= 1e4:
        return wan(value) + counter
    return number(value, 0) + counter


def figure_text(value: float, unit: str, qualifier: str = "") -> str:
    """A figure as it reads in the report, qualifier included: '约60%', '100个品类以上', '≤500毫秒'."""
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}")
    body = {
        "percent": pct, "change_pct": pct, "pp": pp, "multiple": times,
        "cny": lambda v: magnitude(v, "元"),
        "devices": lambda v: magnitude(v, "台"),
        "users": lambda v: magnitude(v, "人"),
        "vehicles": lambda v: magnitude(v, "辆"),
        "categories": lambda v: number(v, 0) + "个品类",
        "scenes": lambda v: number(v, 0) + "个场景",
        "items": lambda v: number(v, 0) + "个",
        "hours_per_day": lambda v: number(v) + "小时",
        "ms": lambda v: number(v) + "毫秒",
        "rank": lambda v: "第" + number(v, 0),
    }[unit](value)
    return QUALIFIER_PREFIX.get(qualifier, "") + body + QUALIFIER_SUFFIX.get(qualifier, "")


def figure_markup(value: float, unit: str, qualifier: str, ref: str, derived: bool) -> Markup:
    """A figure wrapped for the page: spaced from the Chinese around it, traceable by its metric id."""
    css = "fig derived" if derived else "fig"
    return Markup('<span class="{}" data-ref="{}">{}</span>').format(css, ref, figure_text(value, unit, qualifier))



def period_label(period: str) -> str:
    """'2024' → '2024年', '2025H1' → '2025年上半年', 'undated' → '未注明期间'."""
    if period == "undated":
        return "未注明期间"
    year, rest = period[:4], period[4:]
    return year + "年" + {"": "", "H1": "上半年", "H2": "下半年", "Q1": "一季度", "Q2": "二季度",
                          "Q3": "三季度", "Q4": "四季度"}[rest]
