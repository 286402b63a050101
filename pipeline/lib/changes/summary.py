"""What a published version changed against what came before it (the same basis its report was rendered with,
`pipeline.lib.changes.basis`), for Dagster's metadata and the delivery e-mail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipeline.lib.changes.basis import basis_for
from pipeline.lib.changes.compare import Changes
from pipeline.lib.changes.snapshot import FigureValue
from pipeline.lib.publish import PublishedVersion
from pipeline.lib.storage import ArchivePath


@dataclass(frozen=True)
class ChangeSummary:
    against: Literal["version", "edition"]
    edition: str  # the edition compared with (the same one for "version")
    version: str  # the version compared with
    changes: Changes


def summarize(archive: ArchivePath, published: PublishedVersion, current: list[FigureValue]) -> ChangeSummary | None:
    """The changes of `published` (whose figures are `current`) against the versions before it (see
    `basis_for`); None when there is nothing to compare with."""
    basis = basis_for(archive, published.edition, below=published.version)
    if basis is None:
        return None
    return ChangeSummary(basis.against, basis.edition, basis.version, basis.compare(current))
