"""The preview's file watcher: which batches of file changes call for a rebuild, and of what kind."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path


def classify(changes: Iterable[tuple[object, str]], templates: Path, sources: Path,
             edition: str) -> tuple[str | None, list[str]]:
    """Which inputs a batch of (change, path) belongs to ('templates', 'sources' or both) and the file names to show.
    A file that came and went within the batch (an editor's or sed's temporary file) is left out, and so is any file
    outside `templates` and the edition's folder in `sources` (another edition)."""
    from watchfiles import Change

    changes = list(changes)
    added = {path for change, path in changes if change == Change.added}
    templates, folder = templates.resolve(), (sources / edition).resolve()
    kinds, names = set(), []
    for _, raw in changes:
        if raw in added and not os.path.lexists(raw):
            continue
        path = Path(raw).resolve()
        if path.is_relative_to(templates):
            kinds.add("templates")
            names.append(f"templates/{path.relative_to(templates).as_posix()}")
        elif path.is_relative_to(folder):
            kinds.add("sources")
            names.append(f"sources/{edition}/{path.relative_to(folder).as_posix()}")
    trigger = "+".join(k for k in ("templates", "sources") if k in kinds) or None
    return trigger, sorted(set(names))


def watch(templates: Path, sources: Path, edition: str, stop: threading.Event,
          rebuild: Callable[[str, list[str]], object]) -> None:
    """Call ``rebuild("start", [])`` once the watcher is running (so no edit made during the first build is missed),
    then ``rebuild(trigger, names)`` for every batch of changes to `templates` or the edition's folder, until `stop`
    is set. Runs in the calling thread; a rebuild holds the next batch back until it returns."""
    import watchfiles

    first = True
    for changes in watchfiles.watch(templates, sources, stop_event=stop, yield_on_timeout=True, rust_timeout=500,
                                    debounce=800, step=50, raise_interrupt=False):
        if first:
            first = False
            rebuild("start", [])
        if changes:
            trigger, names = classify(changes, templates, sources, edition)
            if trigger:
                rebuild(trigger, names)
