"""Figures an earlier published version printed with another value for the same period: revisions.

A reader who quoted "Q3: 1,200" from v0002 must learn that v0003 says 1,250 for the same Q3; a new period is
news, not a revision, and is left to :mod:`.compare`. Each figure is checked against the most recent earlier
version that printed it, so a figure revised twice is reported once, against the value readers saw last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.lib.changes.compare import same_value
from pipeline.lib.changes.snapshot import FigureValue


@dataclass(frozen=True)
class Revision:
    """``value`` is what the current version prints; ``earlier_value`` what ``earlier_version`` printed."""

    metric_id: str
    period: str
    value: float
    earlier_value: float
    earlier_version: str


def revisions(current: Sequence[FigureValue], earlier: Sequence[tuple[str, Sequence[FigureValue]]]
              ) -> list[Revision]:
    """Every (metric, period) of ``current`` whose value differs from the one the most recent earlier version
    that had it printed. ``earlier`` is (version id, figures) pairs, newest first (as ``history`` lists
    versions). Figures equal within a relative 1e-12 are not revised. Sorted by metric id and period."""
    indexed = [(version, {f.key: f for f in figures}) for version, figures in earlier]
    found = []
    for figure in sorted(current, key=lambda f: f.key):
        for version, figures in indexed:
            printed = figures.get(figure.key)
            if printed is None:
                continue
            if not same_value(printed.value, figure.value):
                found.append(Revision(metric_id=figure.metric_id, period=figure.period, value=figure.value,
                                      earlier_value=printed.value, earlier_version=version))
            break
    return found
