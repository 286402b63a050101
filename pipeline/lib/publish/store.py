"""Publishing into an object store (``s3://bucket/prefix``, ``memory://`` in tests, ``file://``), through fsspec.

The archive root is an object store (see :mod:`pipeline.lib.storage` and ``REPORT_ARCHIVE_URL``) so that runs on
different machines publish into one archive. Same layout, same reader rules, same commit point as a local folder
(:mod:`.archive`): each file of the version is written as a whole object directly under ``versions/vNNNN/``
(invisible to readers, who only believe the pointer), the manifest last, and ``latest.json`` is written after all
of them; object stores make a single object write visible whole or not at all, so the pointer write is the commit.
A killed publish leaves objects numbered above the pointer, which readers ignore and the next publish deletes;
pruning deletes a version's manifest first, which makes it unreadable in one step.

What an object store lacks is ``flock`` and an atomic rename: :func:`edition_turn` holds nothing, and publishes of
one edition are kept apart by Dagster's run queue (see :func:`pipeline.lib.publish.publish`). :func:`commit` only
adds a safety net: exclusive creates and a second look at the pointer just before the commit.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager

from upath import UPath

from pipeline.lib import storage
from pipeline.lib.publish.archive import (
    MANIFEST_NAME,
    POINTER_NAME,
    VERSIONS_DIR,
    PublishError,
    json_bytes,
    pointer_bytes,
    read_pointer,
)


def prepare(folder: UPath) -> None:
    """Nothing to create: a key's prefixes exist once an object under them does."""


def edition_turn(folder: UPath) -> AbstractContextManager[None]:
    """No lock: the run queue, not the store, keeps publishes of one edition apart."""
    return contextlib.nullcontext()


def commit(
    archive_root: UPath, edition: str, version: str, *, pdf: bytes, html: bytes, manifest: dict[str, object],
    seen: str | None, figures: bytes | None = None,
) -> None:
    """Write the version's objects where they belong (readers ignore them, being numbered above the pointer), the
    manifest last, then the pointer (the commit). ``seen`` is the pointer's version when the publish began; if it
    has moved since, another publisher committed meanwhile and this one stops short of the commit."""
    folder = archive_root / edition
    target = folder / VERSIONS_DIR / version
    try:
        storage.write_object(target / str(manifest["pdf_file"]), pdf, exclusive=True)
        storage.write_object(target / str(manifest["html_file"]), html, exclusive=True)
        if figures is not None:
            storage.write_object(target / str(manifest["figures_file"]), figures, exclusive=True)
        storage.write_object(target / MANIFEST_NAME, json_bytes(manifest), exclusive=True)
        now_latest = read_pointer(archive_root, edition)
        if now_latest != seen:
            raise PublishError(
                f"{folder}: another publish committed {now_latest} while {version} was being written; runs of one "
                "edition must not overlap (the run queue's per-edition limit), so this publish stops uncommitted"
            )
        storage.write_object(folder / POINTER_NAME, pointer_bytes(edition, version))
    except FileExistsError as exc:
        # Another publisher is writing the same version number: its objects are not ours to delete.
        raise PublishError(
            f"{folder}: {version} is being written by another publish (runs of one edition must not overlap); "
            "nothing was committed"
        ) from exc
    except (OSError, PublishError) as exc:
        committed = False
        with contextlib.suppress(OSError, PublishError):
            committed = read_pointer(archive_root, edition) == version
        if committed and isinstance(exc, OSError):
            # The pointer write took effect but reported an error (e.g. a lost response): a publish that raises
            # must not have replaced the latest version, so the previous pointer goes back.
            try:
                if seen is None:
                    storage.remove(folder / POINTER_NAME)
                else:
                    storage.write_object(folder / POINTER_NAME, pointer_bytes(edition, seen))
                committed = False
            except OSError as again:
                raise PublishError(
                    f"{folder}: {version} is published although the store reported an error ({exc}), and putting "
                    f"the previous pointer back failed too ({again})"
                ) from exc
        if not committed:
            with contextlib.suppress(OSError):
                storage.remove(target, first=MANIFEST_NAME)
        if isinstance(exc, PublishError):
            raise
        raise PublishError(f"{folder}: publishing {version} failed, the previous version stays ({exc})") from exc


def discard(folder: UPath, path: UPath) -> None:
    """Delete a version. No prefix can be renamed atomically, so the manifest goes first, which makes the version
    unreadable in one step (readers require it), and the other objects follow."""
    storage.remove(path, first=MANIFEST_NAME)


def remove(path: UPath) -> None:
    """Delete a dot-named leftover (an object, or everything under a prefix)."""
    storage.remove(path)
