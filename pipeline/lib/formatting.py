"""How figures read in the report's language. Templates, charts, tables and check messages all use these, so a
number is printed one way everywhere and can be traced back to its row.

One `Locale` per language (`locale_for(report.language)`): Simplified Chinese (亿, 万, %, 个百分点, 倍, periods as
2025年上半年) and English (thousands separators, CNY 280.0 bn, percentage points, periods as H1 2025). The
module-level functions are the Chinese locale's, as they always were."""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import ClassVar

from markupsafe import Markup

from pipeline.lib.units import UNITS

#: A month period, as operational reports have them: 2024-03.
MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
QUALIFIER_PREFIX = {"approx": "约", "at_most": "≤"}
QUALIFIER_SUFFIX = {"at_least": "以上"}


def _rounded(value: float, decimals: int | None) -> Decimal:
    """Half up on the number as written (5.625 → 5.63), as a reader rounds by hand, not Python's round-half-even
    on the binary float (which prints 5.62). Default decimals: two below 100, one above."""
    if not math.isfinite(value):
        raise ValueError(f"cannot format {value}")
    if decimals is None:
        decimals = 2 if abs(value) < 100 else 1
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def _trimmed(text: str) -> str:
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def number(value: float, decimals: int | None = None) -> str:
    """Plain digits: at most two decimals below 100, one above, trailing zeros dropped, rounded half up; no
    thousands separator (Chinese reports write 2800亿, not 2,800亿)."""
    return _trimmed(str(_rounded(value, decimals)))


def grouped(value: float, decimals: int | None = None) -> str:
    """`number` with thousands separators, as English writes it: 336776 → '336,776'."""
    return _trimmed(f"{_rounded(value, decimals):,f}")


def fixed(value: float, decimals: int = 1) -> str:
    """English rates and durations keep their decimals, so a column of them lines up: 3 → '3.0', 1234.56 →
    '1,234.6'."""
    text = f"{_rounded(value, decimals):,f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


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


class Locale:
    """How one language writes figures, periods and the words the engine prints around them (cross-references).
    This base is Simplified Chinese; `English` overrides what differs."""

    key = "zh"
    #: Cross-references as the PDF prints them; `{n}` a number, `{letter}` an appendix letter.
    xref: ClassVar[Mapping[str, str]] = {"figure": "图{n}", "table": "表{n}", "section": "第{n}节",
                                         "appendix": "附录{letter}"}
    #: The period a figure of no stated period has.
    undated = "未注明期间"

    def figure_text(self, value: float, unit: str, qualifier: str = "") -> str:
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}")
        return self._qualified(self._body(value, unit), qualifier)

    def _qualified(self, body: str, qualifier: str) -> str:
        return QUALIFIER_PREFIX.get(qualifier, "") + body + QUALIFIER_SUFFIX.get(qualifier, "")

    def _body(self, value: float, unit: str) -> str:
        return {
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
            "flights": lambda v: magnitude(v, "架次"),
            "aircraft": lambda v: number(v, 0) + "架",
            "seats": lambda v: magnitude(v, "座"),
            "days": lambda v: number(v, 0) + "天",
            "hours": lambda v: number(v, 0) + "小时",
            "airports": lambda v: number(v, 0) + "个机场",
            "carriers": lambda v: number(v, 0) + "家航空公司",
            "minutes": lambda v: number(v, 1) + "分钟",
            "years": lambda v: number(v, 1) + "年",
            "number": number,
        }[unit](value)

    def cell_text(self, value: float, unit: str) -> str:
        """A number in a table cell, whose column header names the unit."""
        return self.figure_text(value, unit)

    def period_label(self, period: str) -> str:
        """'2024' → '2024年', '2025H1' → '2025年上半年', '2024-03' → '2024年3月', 'undated' → '未注明期间'."""
        if period == "undated":
            return self.undated
        return period[:4] + "年" + self.period_part(period, whole_year="")

    def period_part(self, period: str, whole_year: str = "全年") -> str:
        """The part of the year a period names: 上半年, 一季度, 1月 …, or `whole_year` for a year (or no stated
        period)."""
        if period == "undated":
            return whole_year
        if MONTH.fullmatch(period):
            return f"{int(period[5:])}月"
        return {"": whole_year, "H1": "上半年", "H2": "下半年", "Q1": "一季度", "Q2": "二季度",
                "Q3": "三季度", "Q4": "四季度"}[period[4:]]

    def filters(self) -> dict[str, Callable[..., str]]:
        """The Jinja filters of a template in this language."""
        return {"yi": yi, "wan": wan, "pct": pct, "pp": pp, "times": times, "number": number,
                "period": self.period_label, "fmt": self.figure_text}


class English(Locale):
    """English: 336,776 · 75.5% · 1.5 percentage points · CNY 280.0 bn · 2.5x · H1 2025."""

    key = "en"
    xref: ClassVar[Mapping[str, str]] = {"figure": "Figure {n}", "table": "Table {n}", "section": "Section {n}",
                                         "appendix": "Appendix {letter}"}
    undated = "undated"
    QUALIFIERS: ClassVar[Mapping[str, str]] = {"approx": "about ", "at_least": "at least ", "at_most": "at most "}
    #: Counts: the noun after the number (singular, plural); items are a bare number.
    NOUNS: ClassVar[Mapping[str, tuple[str, str]]] = {
        "devices": ("device", "devices"), "users": ("user", "users"), "vehicles": ("vehicle", "vehicles"),
        "categories": ("category", "categories"), "scenes": ("scene", "scenes"), "items": ("", ""),
        "flights": ("flight", "flights"), "aircraft": ("aircraft", "aircraft"), "seats": ("seat", "seats"),
        "days": ("day", "days"), "hours": ("hour", "hours"), "airports": ("airport", "airports"),
        "carriers": ("carrier", "carriers")}

    @staticmethod
    def percent(value: float) -> str:
        return fixed(value) + "%"

    @staticmethod
    def points(value: float) -> str:
        return fixed(value) + " percentage points"  # plural with a decimal, also for 1.0

    @staticmethod
    def times(value: float) -> str:
        return grouped(value) + "x"

    @staticmethod
    def money(value: float, currency: str = "CNY") -> str:
        """CNY 280.0 bn, CNY 12.5 mn, CNY 336,776."""
        if abs(value) >= 1e9:
            return f"{currency} {_rounded(value / 1e9, 1):,f} bn"
        if abs(value) >= 1e6:
            return f"{currency} {_rounded(value / 1e6, 1):,f} mn"
        return f"{currency} {grouped(value)}"

    def _qualified(self, body: str, qualifier: str) -> str:
        return self.QUALIFIERS.get(qualifier, "") + body

    def _body(self, value: float, unit: str) -> str:
        if unit in self.NOUNS:
            text = grouped(value, 0)
            noun = self.NOUNS[unit][0 if text == "1" else 1]
            return f"{text} {noun}" if noun else text
        return {
            "percent": self.percent, "change_pct": self.percent, "pp": self.points, "multiple": self.times,
            "cny": self.money,
            "hours_per_day": lambda v: grouped(v) + " hours a day",
            "ms": lambda v: grouped(v) + " ms",
            "rank": ordinal,
            "minutes": lambda v: fixed(v) + " min",
            "years": lambda v: fixed(v) + " years",
            "number": grouped,
        }[unit](value)

    def cell_text(self, value: float, unit: str) -> str:
        """A number in a table cell: the column header names the unit, so counts print bare (336,776)."""
        if unit in self.NOUNS:
            return grouped(value, 0)
        return self.figure_text(value, unit)

    def period_label(self, period: str) -> str:
        """'2024' → '2024', '2025H1' → 'H1 2025', '2023Q4' → 'Q4 2023', '2024-03' → 'March 2024',
        'undated' → 'undated'."""
        if period == "undated":
            return self.undated
        if MONTH.fullmatch(period):
            return f"{self.period_part(period)} {period[:4]}"
        return f"{period[4:]} {period[:4]}" if period[4:] else period[:4]

    def period_part(self, period: str, whole_year: str = "full year") -> str:
        if MONTH.fullmatch(period):
            return calendar.month_name[int(period[5:])]
        return whole_year if period == "undated" else period[4:] or whole_year

    def filters(self) -> dict[str, Callable[..., str]]:
        return {"number": grouped, "pct": self.percent, "pp": self.points, "times": self.times,
                "money": self.money, "period": self.period_label, "fmt": self.figure_text}


def ordinal(value: float) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st."""
    n = int(_rounded(value, 0))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"


CHINESE, ENGLISH = Locale(), English()
#: By the primary subtag of the report's `language` (zh-CN → zh, en-GB → en).
LOCALES: dict[str, Locale] = {"zh": CHINESE, "en": ENGLISH}
DEFAULT_LANGUAGE = "zh-CN"


def locale_for(language: str = DEFAULT_LANGUAGE) -> Locale:
    """The locale of a report's `language` (report.toml [report] language)."""
    try:
        return LOCALES[language.split("-")[0].lower()]
    except KeyError:
        raise ValueError(f"language {language!r} has no number formatting; one of "
                         f"{', '.join(LOCALES)} (with any region, e.g. zh-CN, en-GB)") from None


def figure_text(value: float, unit: str, qualifier: str = "", language: str = DEFAULT_LANGUAGE) -> str:
    """A figure as it reads in the report, qualifier included: '约60%', '100个品类以上', '≤500毫秒'; in English
    'about 60%', 'at least 100 categories', 'at most 500 ms'."""
    return locale_for(language).figure_text(value, unit, qualifier)


def figure_markup(value: float, unit: str, qualifier: str, ref: str, derived: bool,
                  language: str = DEFAULT_LANGUAGE) -> Markup:
    """A figure wrapped for the page: spaced from the text around it, traceable by its metric id."""
    css = "fig derived" if derived else "fig"
    return Markup('<span class="{}" data-ref="{}">{}</span>').format(
        css, ref, figure_text(value, unit, qualifier, language))


def period_label(period: str, language: str = DEFAULT_LANGUAGE) -> str:
    """'2024' → '2024年', '2025H1' → '2025年上半年', 'undated' → '未注明期间' (English: 2024, H1 2025, undated)."""
    return locale_for(language).period_label(period)
