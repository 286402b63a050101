"""The edition before an edition, for a version that has no earlier version of its own to be compared with
(`pipeline.lib.changes.basis` picks the earlier version). Only published editions (with a pointer) count, so a
comparison never reaches into an interrupted publish.

The previous edition is found by name, not by date: the archive holds no edition date (the manifest's
``built_at`` is when it was published, which a rebuild of an old edition moves). The rule: among the report's
published editions of the same *name shape* (the name with every digit read as 0, so ``2024-03`` and
``2012-12`` share the shape ``0000-00``, and ``acme-review-2025h1`` and ``acme-review-2024h2`` share
``acme-review-0000h0``), the one with the greatest name below this one. With zero-padded numbers, which
the shape forces to have the same number of digits, name order is time order, also across a year
(``2024-01`` follows ``2023-12``); names of another shape (``acme-2025q1`` beside ``acme-2025h1``) are another
series and never each other's predecessor.
"""

from __future__ import annotations

import re

from pipeline.lib.publish import editions
from pipeline.lib.storage import ArchivePath

_DIGIT = re.compile(r"[0-9]")


def name_shape(edition: str) -> str:
    """The edition's name with every digit read as 0: editions of one series share it."""
    return _DIGIT.sub("0", edition)


def previous_edition(archive_root: ArchivePath | str, edition: str) -> str | None:
    """The published edition of the same name shape with the greatest name below ``edition``, or None."""
    shape = name_shape(edition)
    earlier = [name for name in editions(archive_root) if name_shape(name) == shape and name < edition]
    return max(earlier, default=None)
