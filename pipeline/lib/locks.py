"""Locks between processes on one machine, as flock on a file.

The kernel drops a flock when its process dies, so a killed build never leaves a lock behind, and nothing has to
guess whether a lock is stale."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive(lock_path: Path, *, holder: str = "", on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold an exclusive flock on `lock_path` for the block.

    `holder` is written into the file while the lock is held, so a process that has to wait can say for whom:
    `on_wait` is called once with it before waiting."""
    with open(lock_path, "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                fh.seek(0)
                on_wait(fh.read().decode("utf-8", "replace").strip() or "another process")
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            if holder:
                fh.truncate(0)
                fh.write(holder.encode("utf-8"))
                fh.flush()
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def held(lock_path: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold a flock on `lock_path` for the block: exclusive for a writer, shared for readers (any number of them
    at once, none while a writer holds it)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
