"""What a newly published version changed, against what came before it: the previous version of the same edition,
else the latest version of the previous edition. One function for every caller (Dagster's metadata today)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipeline.lib.changes.compare import Changes, compare
from pipeline.lib.changes.predecessor import previous_edition, previous_version
from pipeline.lib.changes.snapshot import FigureValue
from pipeline.lib.publish import PublishedVersion, latest, load_figures
from pipeline.lib.storage import ArchivePath


@dataclass(frozen=True)
class ChangeSummary:
    against: Literal["version", "edition"]
    edition: str  # the edition compared with (the same one for "version")
    version: str  # the version compared with
    changes: Changes


def summarize(archive: ArchivePath, published: PublishedVersion, current: list[FigureValue]) -> ChangeSummary | None:
    """The changes of `published` (whose figures are `current`); None when there is nothing to compare with, or
    the predecessor was published before versions kept their figures."""
    before = previous_version(archive, published.edition, published.version)
    if before is not None:
        figures = load_figures(archive, published.edition, before.version)
        if figures is not None:
            return ChangeSummary("version", published.edition, before.version,
                                 compare(figures, current, key="same_period"))
    edition = previous_edition(archive, published.edition)
    other = latest(archive, edition) if edition is not None else None
    if edition is None or other is None:
        return None
    figures = load_figures(archive, edition, other.version)
    if figures is None:
        return None
    return ChangeSummary("edition", edition, other.version, compare(figures, current, key="latest"))
