"""What a new version is compared with, fixed before it is rendered, and embedded in its PDF.

The report's "what changed" section depends on the archive as it was when the version was built: the latest
published version of the edition (else the latest version of the previous edition), and every earlier version of
the edition for revisions. That state is read once, here, into a `Basis`; the build renders from the basis alone,
and the PDF carries it as an associated file, so a rebuild from the PDF's own embedded files (`pipeline verify`)
compares with exactly what the original build compared with and gives the same bytes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

from pipeline.lib.changes.compare import Changes, compare
from pipeline.lib.changes.predecessor import previous_edition
from pipeline.lib.changes.snapshot import FigureValue, SnapshotError, from_json, to_json
from pipeline.lib.publish import history, latest, load_figures, version_number
from pipeline.lib.storage import ArchivePath

#: The associated file of a PDF that holds its basis.
BASIS_FILE = "comparison-basis.json"
FORMAT = 1


@dataclass(frozen=True)
class Basis:
    against: Literal["version", "edition"]
    edition: str  # the edition compared with (the same edition for "version")
    version: str  # the version compared with
    figures: tuple[FigureValue, ...]
    earlier: tuple[tuple[str, tuple[FigureValue, ...]], ...] = ()  # this edition's versions, newest first

    def compare(self, current: Sequence[FigureValue]) -> Changes:
        """`current` against this basis: figure by figure and period for a version of the same edition, each
        figure's latest period for another edition."""
        return compare(self.figures, current, key="same_period" if self.against == "version" else "latest")

    def to_json(self) -> bytes:
        """Deterministic bytes: the same basis gives the same PDF."""
        def figures(values: tuple[FigureValue, ...]) -> object:
            return json.loads(to_json(values))["figures"]

        document = {"format": FORMAT, "against": self.against, "edition": self.edition, "version": self.version,
                    "figures": figures(self.figures),
                    "earlier": [{"version": v, "figures": figures(f)} for v, f in self.earlier]}
        return json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Basis:
        try:
            document = json.loads(data)
            if document.get("format") != FORMAT or document.get("against") not in ("version", "edition"):
                raise ValueError("not a comparison basis of this format")

            def figures(entries: object) -> tuple[FigureValue, ...]:
                return tuple(from_json(json.dumps({"format": 1, "figures": entries}).encode()))

            return cls(cast("Literal['version', 'edition']", document["against"]), str(document["edition"]),
                       str(document["version"]), figures(document["figures"]),
                       tuple((str(e["version"]), figures(e["figures"])) for e in document["earlier"]))
        except (ValueError, KeyError, TypeError, SnapshotError) as error:
            raise SnapshotError(f"{BASIS_FILE}: {error}") from None


def basis_for(archive: ArchivePath, edition: str, below: str | None = None) -> Basis | None:
    """What a version of `edition` is compared with: the newest version with figures (all of them, for revisions)
    of those numbered below `below` (default: all, i.e. the basis of the next version), else the latest version of
    the previous edition; None when there is neither (a first edition)."""
    limit = version_number(below) if below is not None else None
    earlier = tuple((v.version, tuple(f)) for v in history(archive, edition)
                    if (limit is None or v.number < limit)
                    and (f := load_figures(archive, edition, v.version)) is not None)
    if earlier:
        return Basis("version", edition, earlier[0][0], earlier[0][1], earlier)
    other = previous_edition(archive, edition)
    newest = latest(archive, other) if other is not None else None
    if other is None or newest is None:
        return None
    figures = load_figures(archive, other, newest.version)
    return Basis("edition", other, newest.version, tuple(figures)) if figures is not None else None
