"""A small on-disk cache of derived text (the vega-embed bundle, chart SVGs) in the user's XDG cache folder.

Only outputs that are a pure function of their key are stored, so an entry never needs invalidating: a new input
is a new key. Writes are atomic (a reader sees a whole entry or none) but not fsynced, since an entry lost in a
crash is simply rebuilt; any problem with the folder (read-only, full, missing) makes the cache a no-op rather
than an error: it can only make a build faster."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.lib import atomic

#: Entries kept per kind; beyond this the least recently written are removed (chart SVGs are ~10 KB each).
MAX_ENTRIES = 4000


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "strategy-report"


def read(kind: str, name: str) -> str | None:
    try:
        return (cache_dir() / kind / name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def write(kind: str, entries: dict[str, str]) -> None:
    """Store each name → text, then prune the kind's folder once."""
    folder = cache_dir() / kind
    try:
        for name, text in entries.items():
            # Private, as the cache folder is the user's own; the temp file's dot name keeps it out of _prune's count.
            atomic.write_bytes(folder / name, text.encode("utf-8"), durable=False, mode=0o600, prefix=".")
    except OSError:
        return
    _prune(folder)


def _prune(folder: Path) -> None:
    try:
        entries = [e for e in os.scandir(folder) if e.is_file() and not e.name.startswith(".")]
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(key=lambda e: e.stat().st_mtime)
        for entry in entries[: len(entries) - MAX_ENTRIES]:
            os.unlink(entry.path)
    except OSError:
        pass
