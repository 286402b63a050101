"""The changes as a report prints them: each moved figure with its values in the report's formatting, its
direction, and the revisions of past periods. Built from a `Basis` and the new figures; templates read it as
`changes` (None when the version has nothing to be compared with)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.lib.changes import plain
from pipeline.lib.changes.basis import Basis
from pipeline.lib.changes.compare import Change
from pipeline.lib.changes.narrative import sign
from pipeline.lib.changes.revisions import Revision, revisions
from pipeline.lib.changes.snapshot import FigureValue
from pipeline.lib.formatting import locale_for

#: How many changes a report's summary lists.
TOP = 10


@dataclass(frozen=True)
class ShownChange:
    change: Change
    label: str
    period: str  # as the report writes it
    before: str  # as the report prints it
    after: str
    relative: str  # "+7.1%", "" for a change from zero
    sign: str  # up, down, flat: what the report's words are chosen by
    revised_from: str | None  # the version that printed `before` for this very period, if this is a revision


@dataclass(frozen=True)
class ShownRevision:
    revision: Revision
    label: str
    period: str
    before: str
    after: str


@dataclass(frozen=True)
class ReportChanges:
    against: str  # "version" or "edition"
    edition: str
    version: str
    moved: list[ShownChange]
    added: list[FigureValue]
    removed: list[FigureValue]
    revisions: list[ShownRevision]

    @property
    def count(self) -> int:
        return len(self.moved)

    @property
    def top(self) -> list[ShownChange]:
        """The largest changes, as many as a summary lists (the appendix and the site have them all)."""
        return self.moved[:TOP]


def report_changes(basis: Basis, current: list[FigureValue], language: str) -> ReportChanges:
    locale = locale_for(language)
    changes = basis.compare(current)
    revised = revisions(current, basis.earlier) if basis.earlier else []
    by_key = {(r.metric_id, r.period): r for r in revised}
    labels = {f.key: f.label for f in current}

    def shown(c: Change) -> ShownChange:
        revision = by_key.get((c.metric_id, c.period_after)) if c.period_before == c.period_after else None
        return ShownChange(c, c.label, locale.period_label(c.period_after), locale.figure_text(c.before, c.unit),
                           locale.figure_text(c.after, c.unit), plain.percent(c.relative), sign(c),
                           revision.earlier_version if revision else None)

    units = {f.key: f.unit for f in current}
    return ReportChanges(
        basis.against, basis.edition, basis.version, [shown(c) for c in changes.moved], changes.added,
        changes.removed,
        [ShownRevision(r, labels[(r.metric_id, r.period)], locale.period_label(r.period),
                       locale.figure_text(r.earlier_value, units[(r.metric_id, r.period)]),
                       locale.figure_text(r.value, units[(r.metric_id, r.period)])) for r in revised])
