"""Start-up with Python's cyclic garbage collector off: shared by the CLI and by the code location's import, which
every Dagster run worker (a new process per run launched from the UI, a schedule or a sensor) does first."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def startup_without_gc() -> Iterator[None]:
    """Run a block of start-up (imports, loading definitions, opening the instance) with the collector off, then
    freeze what it created, so later collections skip it.

    Importing Dagster, pandas, Altair and WeasyPrint creates about a million long-lived objects; with the collector
    on, full collections walk them again and again while they are being created, and again during the run.
    Modules, classes and functions live as long as the process anyway, so nothing is lost by not collecting them.
    Nested blocks are fine: the outermost one turns the collector back on. In a process that has already imported
    everything (a test, the preview) this costs nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
