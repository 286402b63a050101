"""What a version is compared against: the version of the same edition before it, and the edition before it.

Both read only what the archive vouches for (committed versions, editions with a pointer), so a comparison
never reaches into an interrupted publish.

The previous edition is found by name, not by date: the archive holds no edition date (the manifest's
``built_at`` is when it was published, which a rebuild of an old edition moves). The rule: among the report's
published editions of the same *name shape* (the name with every digit read as 0, so ``2013-01`` and
``2012-12`` share the shape ``0000-00``, and ``acme-review-2025h1`` and ``acme-review-2024h2`` share
``acme-review-0000h0``), the one with the greatest name below this one. With zero-padded numbers, which
the shape forces to have the same number of digits, name order is time order, also across a year
(``2013-01`` follows ``2012-12``); names of another shape (``acme-2025q1`` beside ``acme-2025h1``) are another
series and never each other's predecessor.
"""

from __future__ import annotations

import re

from pipeline.lib.publish import PublishedVersion, editions, history, version_number
from pipeline.lib.storage import ArchivePath

_DIGIT = re.compile(r"[0-9]")


def name_shape(edition: str) -> str:
    """The edition's name with every digit read as 0: editions of one series share it."""
    return _DIGIT.sub("0", edition)


def previous_version(archive_root: ArchivePath | str, edition: str, version: str | None = None
                     ) -> PublishedVersion | None:
    """The newest committed version of ``edition`` numbered below ``version`` (default: below the latest), or
    None if there is none (the first version, or the ones before it were pruned)."""
    versions = history(archive_root, edition)  # newest first
    if not versions:
        return None
    limit = versions[0].number if version is None else version_number(version)
    return next((v for v in versions if v.number < limit), None)


def previous_edition(archive_root: ArchivePath | str, edition: str) -> str | None:
    """The published edition of the same name shape with the greatest name below ``edition``, or None."""
    shape = name_shape(edition)
    earlier = [name for name in editions(archive_root) if name_shape(name) == shape and name < edition]
    return max(earlier, default=None)
