"""The units a figure may carry: the allowed range per unit (validation) and how it reads in Chinese (formatting).

One table serves both, so a new unit cannot be valid without a way to print it."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    name: str
    label: str  # how the unit reads in a table header, in Chinese
    minimum: float = -math.inf
    maximum: float = math.inf
    integer: bool = False


UNITS: dict[str, Unit] = {
    u.name: u
    for u in (
        Unit("percent", "%", 0, 100),  # a share of a whole
        Unit("pp", "个百分点", -100, 100),  # a difference between two shares
        Unit("change_pct", "%", -100),  # a relative change or difference; may exceed 100
        Unit("cny", "元", 0),
        Unit("devices", "台", 0, integer=True),
        Unit("users", "人", 0, integer=True),
        Unit("vehicles", "辆", 0, integer=True),
        Unit("categories", "个品类", 0, integer=True),
        Unit("scenes", "个场景", 0, integer=True),
        Unit("items", "个", 0, integer=True),
        Unit("hours_per_day", "小时/天", 0, 24),
        Unit("ms", "毫秒", 0),
        Unit("multiple", "倍", 0),
        Unit("rank", "位", 1, integer=True),
        # operational counts and measures (fact tables aggregated by the report's SQL)
        Unit("flights", "架次", 0, integer=True),
        Unit("aircraft", "架", 0, integer=True),
        Unit("seats", "座", 0, integer=True),
        Unit("days", "天", 0, integer=True),
        Unit("hours", "小时", 0, integer=True),
        Unit("airports", "个机场", 0, integer=True),
        Unit("carriers", "家航空公司", 0, integer=True),
        Unit("minutes", "分钟"),  # a delay: negative is early
        Unit("years", "年", 0),
        Unit("number", ""),  # a plain number: an hour of the day, a sort key
    )
}

#: Qualifiers the source attaches to a figure: "约" (approx), "+" (at least), "≤" (at most).
QUALIFIERS = ("", "approx", "at_least", "at_most")


def range_rule(unit: Unit) -> str:
    """The rule text a validation failure quotes, e.g. 'percent must lie within 0–100'."""
    parts = []
    if unit.minimum != -math.inf and unit.maximum != math.inf:
        parts.append(f"must lie within {unit.minimum:g}–{unit.maximum:g}")
    elif unit.minimum != -math.inf:
        parts.append(f"must be ≥ {unit.minimum:g}")
    elif unit.maximum != math.inf:
        parts.append(f"must be ≤ {unit.maximum:g}")
    if unit.integer:
        parts.append("must be a whole number")
    return f"value in unit '{unit.name}' " + " and ".join(parts)


def in_range(unit: Unit, value: float) -> bool:
    if math.isnan(value) or not (unit.minimum <= value <= unit.maximum):
        return False
    return not unit.integer or float(value).is_integer()
