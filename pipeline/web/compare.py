"""What the compare pages show: one table row per figure, from the engine's comparison (pipeline.lib.changes).

Kept apart from the routing so that the rows, which carry every number a reader checks, are plain data the
template only prints: values as stored with their unit, the change with its sign and as a percentage
(pipeline.lib.changes.plain), and a status word. Moved figures come first, largest change first, then new,
removed and unchanged ones, each by metric and period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from starlette.exceptions import HTTPException

from pipeline.lib.changes.compare import Change, Changes
from pipeline.lib.changes.plain import figure_text, percent, signed
from pipeline.lib.changes.snapshot import FigureValue
from pipeline.lib.publish import PublishedVersion, PublishError, load_figures

log = logging.getLogger("pipeline.web")

#: Status of a row: the class on its <tr> and the word the page shows.
STATUS_WORDS = {"changed": "有变化", "added": "新增", "removed": "删除", "unchanged": "不变"}


@dataclass(frozen=True)
class Row:
    status: str  # a key of STATUS_WORDS
    metric_id: str
    label: str
    period_before: str
    period_after: str
    before: str  # '' when the figure is not in the earlier set
    after: str  # '' when it is not in the later one
    absolute: str
    relative: str

    @property
    def status_word(self) -> str:
        return STATUS_WORDS[self.status]


def rows(changes: Changes, *, changed_only: bool = False) -> list[Row]:
    """The table of a comparison; ``changed_only`` leaves out unchanged figures."""
    found = [_moved(c, "changed") for c in changes.moved]
    found += [_one_side(f, "added") for f in changes.added]
    found += [_one_side(f, "removed") for f in changes.removed]
    if not changed_only:
        found += [_moved(c, "unchanged") for c in changes.unchanged]
    return found


def figures_or_none(archive: Path, version: PublishedVersion) -> list[FigureValue] | None:
    """A version's figures, or None if it has no snapshot; a damaged snapshot is logged and is a 404, since a
    comparison against it would show changes nobody made."""
    try:
        return load_figures(archive, version.edition, version.version)
    except PublishError as exc:
        log.error("figures of %s/%s cannot be read: %s", version.edition, version.version, exc)
        raise HTTPException(404, detail=str(exc)) from exc


def _moved(change: Change, status: str) -> Row:
    moved = status == "changed"
    return Row(status=status, metric_id=change.metric_id, label=change.label, period_before=change.period_before,
               period_after=change.period_after, before=figure_text(change.before, change.unit),
               after=figure_text(change.after, change.unit), absolute=signed(change.absolute) if moved else "",
               relative=percent(change.relative) if moved else "")


def _one_side(figure: FigureValue, status: str) -> Row:
    text = figure_text(figure.value, figure.unit)
    added = status == "added"
    return Row(status=status, metric_id=figure.metric_id, label=figure.label,
               period_before="" if added else figure.period, period_after=figure.period if added else "",
               before="" if added else text, after=text if added else "", absolute="", relative="")
