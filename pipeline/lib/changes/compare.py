"""Two sets of published figures → what moved, by how much, and what was added or removed.

Two questions readers ask, two ways of pairing figures (``key``):

- ``"same_period"``: two versions of one edition (v0003 against v0002). A figure is the same figure when metric
  and period match; a new period of a metric is an added figure.
- ``"latest"``: two editions of a report (2024-04 against 2024-03). Each edition reports its own, newer period,
  so each metric's latest period in one is paired with its latest period in the other ('undated' counts as
  oldest, as in the report's own ``latest_by_metric``).

A pair whose unit differs is not a change of value but a different figure: it is listed as removed and added.
Values equal within a relative 1e-12 are unchanged, so float noise of a recomputed KPI is not news.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pipeline.lib.changes.snapshot import FigureValue
from pipeline.lib.kpis import period_order

Key = Literal["same_period", "latest"]
#: Relative tolerance under which two values are the same number.
REL_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Change:
    """One figure in both sets. ``relative`` is ``absolute / |before|``, None when ``before`` is zero."""

    metric_id: str
    label: str  # as the later set names it
    unit: str
    period_before: str
    period_after: str
    before: float
    after: float
    absolute: float
    relative: float | None


@dataclass(frozen=True)
class Changes:
    """The outcome of :func:`compare`. ``moved`` is sorted by the size of the change, largest first (relative,
    with a change from zero counted as the largest, then absolute); ``unchanged``, ``added`` and ``removed`` by
    metric id and period."""

    moved: list[Change] = field(default_factory=list)
    unchanged: list[Change] = field(default_factory=list)
    added: list[FigureValue] = field(default_factory=list)
    removed: list[FigureValue] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many figures changed value (added and removed ones are counted in their own lists)."""
        return len(self.moved)

    @property
    def unchanged_count(self) -> int:
        return len(self.unchanged)


def same_value(a: float, b: float) -> bool:
    """Equal within a relative 1e-12: the float noise of computing one number two ways is not a change."""
    return math.isclose(a, b, rel_tol=REL_TOLERANCE, abs_tol=0.0)


def compare(before: Sequence[FigureValue], after: Sequence[FigureValue], *, key: Key = "same_period") -> Changes:
    """What changed from ``before`` to ``after``; ``key`` says how figures are paired (see the module).

    Raises ValueError for an unknown ``key`` or a set that holds a (metric, period) twice."""
    if key == "same_period":
        old, new = _by_key(before), _by_key(after)
    elif key == "latest":
        old, new = _latest_by_metric(_by_key(before)), _latest_by_metric(_by_key(after))
    else:
        raise ValueError(f"key must be 'same_period' or 'latest', got {key!r}")
    moved: list[Change] = []
    unchanged: list[Change] = []
    added = [b for pair, b in new.items() if pair not in old or old[pair].unit != b.unit]
    removed = [a for pair, a in old.items() if pair not in new or new[pair].unit != a.unit]
    for pair in sorted(old.keys() & new.keys()):
        a, b = old[pair], new[pair]
        if a.unit == b.unit:
            (unchanged if same_value(a.value, b.value) else moved).append(_change(a, b))
    moved.sort(key=_size)
    return Changes(moved=moved, unchanged=unchanged, added=sorted(added, key=_figure_order),
                   removed=sorted(removed, key=_figure_order))


def _change(a: FigureValue, b: FigureValue) -> Change:
    absolute = b.value - a.value
    return Change(metric_id=b.metric_id, label=b.label, unit=b.unit, period_before=a.period, period_after=b.period,
                  before=a.value, after=b.value, absolute=absolute,
                  relative=None if a.value == 0 else absolute / abs(a.value))


def _size(change: Change) -> tuple[float, float, str]:
    """Sort key, largest change first: a change from zero has no relative size and is counted as the largest;
    the metric id orders changes of equal size."""
    relative = math.inf if change.relative is None else abs(change.relative)
    return (-relative, -abs(change.absolute), change.metric_id)


def _by_key(figures: Sequence[FigureValue]) -> dict[tuple[str, str], FigureValue]:
    found: dict[tuple[str, str], FigureValue] = {}
    for figure in figures:
        if figure.key in found:
            raise ValueError(f"figure {figure.metric_id} ({figure.period}) occurs twice in one set")
        found[figure.key] = figure
    return found


def latest_figures(figures: Iterable[FigureValue]) -> dict[str, FigureValue]:
    """Each metric's figure of its latest period, by metric id; the period order is the report's (end month of
    the period, 'undated' first), the period text breaking ties."""
    latest: dict[str, FigureValue] = {}
    for figure in figures:
        held = latest.get(figure.metric_id)
        if held is None or _period_key(figure.period) > _period_key(held.period):
            latest[figure.metric_id] = figure
    return latest


def _latest_by_metric(figures: dict[tuple[str, str], FigureValue]) -> dict[tuple[str, str], FigureValue]:
    """Keyed by (metric_id, "") so that latest periods of different names pair up."""
    return {(metric_id, ""): figure for metric_id, figure in latest_figures(figures.values()).items()}


def _period_key(period: str) -> tuple[tuple[int, int], str]:
    return (period_order(period), period)


def _figure_order(figure: FigureValue) -> tuple[str, str]:
    return figure.key
