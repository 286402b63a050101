"""What the preview's server shows, shared between the build thread (which writes it) and the server (which reads
it): the last good pages and PDF, the error of the last build if it failed, a version that goes up whenever the
page itself changes, and the records of the recent builds.

The builds run in a thread and the server in an asyncio event loop, so a new version wakes the server's waiting
requests through `loop.call_soon_threadsafe`; nothing on the server side blocks a thread while it waits."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

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
        self._lock = threading.Lock()  # guards the fields below
        self._shown = Snapshot()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._closed = False
        self.log: deque[BuildRecord] = deque(maxlen=LOG_LENGTH)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._shown

    def update(self, *, bump: bool, **fields: Any) -> None:
        """Change what the server shows; `bump` when the page itself changes, so open browsers reload."""
        with self._lock:
            version = self._shown.version + (1 if bump else 0)
            self._shown = replace(self._shown, version=version, **fields)
            if bump:
                self._wake()

    def finished(self, record: BuildRecord) -> None:
        """A build is over (whatever its outcome): keep its record and clear the building flag."""
        with self._lock:
            self._shown = replace(self._shown, building=False)
            self.log.append(record)

    def records(self) -> list[dict]:
        with self._lock:
            return [asdict(r) for r in self.log]

    async def wait_for_version(self, since: int, timeout: float) -> int:
        """Wait until the version differs from `since`, the timeout passes or the state is closed; returns the
        current version. For the server's event loop: the wait holds no thread."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            if self._shown.version != since or self._closed:
                return self._shown.version
            self._waiters.add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await waiter[1].wait()
        finally:
            with self._lock:
                self._waiters.discard(waiter)
        return self.snapshot().version

    def close(self) -> None:
        """Answer every waiting request now and any later one at once (the server is stopping)."""
        with self._lock:
            self._closed = True
            self._wake()

    def _wake(self) -> None:
        """Wake every waiter, each in its own event loop. Called with the lock held."""
        for loop, event in self._waiters:
            with contextlib.suppress(RuntimeError):  # that loop has already closed
                loop.call_soon_threadsafe(event.set)
