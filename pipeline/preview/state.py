"""What the preview's server shows, shared between the build thread (which writes it) and the server (which reads
it): the last good pages and PDF, the error of the last build if it failed, a version that goes up whenever the
page itself changes, and the records of the recent builds."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.preview.builder import BuildRecord

#: Build records kept for ``/_preview/log``.
LOG_LENGTH = 200


@dataclass(frozen=True)
class Snapshot:
    """What the server shows at one moment: the last good pages and PDF, and the error of the last build if it
    failed. `version` goes up each time the page changes (a new good page, or a new error over the old one)."""

    version: int = 0
    interactive: str | None = None
    print_html: str | None = None
    pdf: bytes | None = None
    error: str | None = None
    error_build: int | None = None
    building: bool = False
    good_build: int | None = None


class State:
    """The current Snapshot and the build log, safe to read and update from any thread."""

    def __init__(self) -> None:
        self._changed = threading.Condition()  # guards the fields below; notified on every new version
        self._shown = Snapshot()
        self.log: deque[BuildRecord] = deque(maxlen=LOG_LENGTH)

    def snapshot(self) -> Snapshot:
        with self._changed:
            return self._shown

    def update(self, *, bump: bool, **fields: object) -> None:
        """Change what the server shows; `bump` when the page itself changes, so open browsers reload."""
        with self._changed:
            version = self._shown.version + (1 if bump else 0)
            self._shown = replace(self._shown, version=version, **fields)
            if bump:
                self._changed.notify_all()

    def finished(self, record: BuildRecord) -> None:
        """A build is over (whatever its outcome): keep its record and clear the building flag."""
        with self._changed:
            self._shown = replace(self._shown, building=False)
            self.log.append(record)

    def records(self) -> list[dict]:
        with self._changed:
            return [asdict(r) for r in self.log]

    def wait_for_version(self, since: int, timeout: float) -> int:
        """Block until the version differs from `since` (or the timeout passes); returns the current version."""
        with self._changed:
            self._changed.wait_for(lambda: self._shown.version != since, timeout=timeout)
            return self._shown.version
