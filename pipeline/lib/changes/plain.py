"""Values and changes as plain text: the number as stored, no units translated, no rounding into 亿 or bn.

The compare page is read to check figures against each other and against the PDFs, across reports of any
language, so it shows what the snapshot holds rather than the report's prose formatting. Fifteen significant
digits hide the float noise of a subtraction (1.1 − 1.0 prints 0.1) and keep every digit a source can have.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def value_text(value: float) -> str:
    """1200.0 → '1200', 0.1 → '0.1', -3.25 → '-3.25', 280000000000.0 → '280000000000'."""
    text = f"{value:.15g}"
    return "0" if text == "-0" else text


def figure_text(value: float, unit: str) -> str:
    """A value with its unit id, as stored: '1200 flights'."""
    return f"{value_text(value)} {unit}"


def signed(value: float) -> str:
    """An absolute change with its sign: '+100', '-0.5', '0'."""
    text = value_text(value)
    return text if text == "0" or text.startswith("-") else f"+{text}"


def percent(relative: float | None) -> str:
    """A relative change (0.015) as '+1.5%', always one decimal, rounded half up as a reader rounds; '' when
    there is none (a change from zero)."""
    if relative is None:
        return ""
    shown = Decimal(repr(abs(relative) * 100)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{'-' if relative < 0 else '+'}{shown}%"
