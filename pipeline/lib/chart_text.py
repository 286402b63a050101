"""Text alternatives of charts, written from what a chart plots: the <img alt> of the print HTML (and so the PDF's
/Figure /Alt) and the aria-label of the interactive chart.

Nothing here knows a report: the words are generic (what kind of chart, which value is highest), the labels and
figures come from the plotted rows (`name`, `period`, `text`, `origin`, optional `series`, as `charts.chart_rows`
makes them), and the title from the chart. The words are a table per language (`WORDS`, `WORDS_EN`), chosen by the
report's language (`words_for`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from pipeline.lib.formatting import DEFAULT_LANGUAGE, locale_for

#: Generic words of an alternative in Simplified Chinese; `next` goes between sentences, after `end`.
WORDS: dict[str, str] = {
    "bar": "柱状图", "hbar": "条形图", "line": "折线图", "arc": "环形图", "point": "散点图", "chart": "图表",
    "intro": "{title}（{kind}，{count}项数据）：", "item_sep": "；", "end": "。", "next": "", "period": "（{period}）",
    "series": "{series}：", "highest": "最高为{label}（{text}），最低为{label_low}（{text_low}）",
    "derived": "其中{count}项为推算值", "derived_marker": "推算值", "more": "等，共{count}项",
    "item": "{label}为{text}",
}
#: … and in English.
WORDS_EN: dict[str, str] = {
    "bar": "bar chart", "hbar": "horizontal bar chart", "line": "line chart", "arc": "donut chart",
    "point": "scatter plot", "chart": "chart",
    "intro": "{title} ({kind}, {count} values): ", "intro_one": "{title} ({kind}, one value): ", "item_sep": "; ", "end": ".", "next": " ", "period": " ({period})",
    "series": "{series}: ", "highest": "Highest {label} ({text}), lowest {label_low} ({text_low})",
    "derived": "Derived values: {count}", "derived_marker": "derived", "more": "; and more, {count} in all",
    "item": "{label} {text}",
}
#: By the locale's key (`formatting.locale_for(language).key`).
WORDS_BY_LOCALE: dict[str, dict[str, str]] = {"zh": WORDS, "en": WORDS_EN}


def words_for(language: str = DEFAULT_LANGUAGE, derived_label: str = "") -> dict[str, str]:
    """The words of an alternative in `language`; `derived_label` is what the report's charts call a derived value
    (its `origin_derived` label), which is how a derived row is recognised."""
    words = dict(WORDS_BY_LOCALE[locale_for(language).key])
    if derived_label:
        words["derived_marker"] = derived_label
    return words
#: Beyond this many rows the alternative names the first ones, the highest and the lowest, and the count.
MAX_LISTED = 8


def _label(row: Mapping[str, object], show_period: bool, words: Mapping[str, str], language: str) -> str:
    name = str(row.get("name") or row.get("series") or "")
    period = str(row.get("period") or "")
    written = locale_for(language).period_label(period) if period else ""
    if show_period and period and period != "undated" and period not in name and written not in name:
        name += words["period"].format(period=written)
    return name


def describe(title: str, rows: Sequence[Mapping[str, object]], kind: str = "chart",
             words: Mapping[str, str] | None = None, language: str = DEFAULT_LANGUAGE) -> str:
    """What a chart shows, in one paragraph: its title and kind, every plotted value with its label (or, for many
    rows, the first ones), the highest and the lowest, and how many values are derived rather than sourced.

    `rows` are the plotted rows (`name`, `period`, `text`, `value`, `origin`, optional `series`); `kind` is a key of
    `words` (bar, hbar, line, arc, point); `words` default to those of `language`."""
    words = words if words is not None else words_for(language)
    rows = [r for r in rows if r.get("text") not in (None, "")]
    intro = words["intro_one" if len(rows) == 1 and "intro_one" in words else "intro"].format(title=title, kind=words.get(kind, words["chart"]), count=len(rows))
    if not rows:
        return title
    show_period = len({r.get("period") for r in rows}) > 1
    listed = rows if len(rows) <= MAX_LISTED else rows[:MAX_LISTED - 2]
    parts = []
    for series in dict.fromkeys(r.get("series") for r in listed):
        items = [words["item"].format(label=_label(r, show_period, words, language), text=r["text"])
                 for r in listed if r.get("series") == series]
        head = words["series"].format(series=series) if series else ""
        parts.append(head + words["item_sep"].join(items))
    text = intro + words["item_sep"].join(parts)
    if len(listed) < len(rows):
        text += words["more"].format(count=len(rows))
    sentences = [text]
    valued = [r for r in rows if isinstance(r.get("value"), int | float)]
    if len(valued) >= 3 and len({r.get("series") for r in valued}) == 1:
        high = max(valued, key=lambda r: cast(float, r["value"]))  # `valued` holds only int/float values
        low = min(valued, key=lambda r: cast(float, r["value"]))
        sentences.append(words["highest"].format(label=_label(high, show_period, words, language), text=high["text"],
                                                 label_low=_label(low, show_period, words, language),
                                                 text_low=low["text"]))
    derived = sum(r.get("origin") == words["derived_marker"] for r in rows)
    if derived:
        sentences.append(words["derived"].format(count=derived))
    return (words["end"] + words.get("next", "")).join(sentences) + words["end"]


def plotted_rows(spec: Mapping[str, Any]) -> list[dict]:
    """The rows a Vega-Lite spec plots: its inline datasets (Altair puts a chart's data there), in order, each row
    once even when several layers draw it."""
    rows: list[dict] = []
    for dataset in (spec.get("datasets") or {}).values():
        rows.extend(r for r in dataset if r not in rows)
    return rows


def chart_kind(spec: Mapping[str, Any]) -> str:
    """bar, hbar (bars along the x axis), line, arc or point: the mark of the spec's first layer."""
    layer = (spec.get("layer") or [spec])[0]
    mark = layer.get("mark")
    mark = mark.get("type") if isinstance(mark, Mapping) else mark
    if mark == "bar":
        y = (layer.get("encoding") or {}).get("y") or {}
        return "hbar" if y.get("type") == "nominal" else "bar"
    return str(mark) if mark in ("line", "arc", "point") else "chart"
