"""Publishing into a local folder, with the operating system's guarantees.

A publish writes the version into a dot-named staging folder beside ``versions/``, fsyncs its files and the
folder, renames it into ``versions/`` and then replaces ``latest.json`` (:func:`pipeline.lib.atomic.write_bytes`:
a dot-named temp file, fsync, ``os.replace``); that last ``os.replace`` is the commit point. Until it happens
readers see the previous version only (see the reader rules in :mod:`.archive`).

Publishes of one edition take turns on an exclusive flock on ``<edition>/.lock`` (:func:`edition_turn`), so
concurrent publishes on one machine cannot collide. Deleting a version (pruning, or an interrupted publish's
leftover) first renames it to a dot name, so no reader sees it half deleted.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import AbstractContextManager, suppress
from datetime import datetime
from pathlib import Path

from pipeline.lib import atomic, locks
from pipeline.lib.publish.archive import (
    BUILDS_DIR,
    LOCK_NAME,
    MANIFEST_NAME,
    POINTER_NAME,
    PUBLIC_DIR_MODE,
    PUBLIC_FILE_MODE,
    TMP_PREFIX,
    TRASH_PREFIX,
    VERSIONS_DIR,
    PublishError,
    check_edition,
    json_bytes,
    names_version,
)


def build_lock_path(archive_root: Path, edition: str) -> Path:
    """The file a whole build of ``edition`` holds a flock on (see :func:`pipeline.lib.publish.build_lock_path`)."""
    folder = archive_root / BUILDS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{check_edition(edition)}.lock"


def prepare(folder: Path) -> None:
    """Create the edition's folders, so the lock file and the staging folder have somewhere to go."""
    try:
        (folder / VERSIONS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PublishError(f"{folder}: cannot create the edition folder ({exc})") from exc


def edition_turn(folder: Path) -> AbstractContextManager[None]:
    """Hold the edition's flock: one publish of an edition at a time on this machine."""
    return locks.exclusive(folder / LOCK_NAME)


def commit(
    archive_root: Path, edition: str, version: str, *, pdf: bytes, html: bytes, manifest: dict[str, object],
    seen: str | None, figures: bytes | None = None,
) -> None:
    """Write the version beside the archive, move it in, then move the pointer (the commit).

    ``seen`` (the pointer's version when the publish began) needs no check here: the flock held by the caller
    keeps other publishers of the edition out.

    A publish that raises has not replaced the latest version: if the pointer was already replaced when something
    failed (the fsync of the edition folder after the pointer's rename, i.e. the commit could not be made durable),
    the previous pointer is put back before PublishError is raised. Readers may have seen the new version
    meanwhile; it is whole, and it stays on disk as an uncommitted leftover until the next publish removes it (and
    takes its number: the one case where a version id can name two builds, accepted for a failure this rare)."""
    folder = archive_root / edition
    previous = _read_if_exists(folder / POINTER_NAME)
    staging = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{version}-", dir=folder))
    try:
        os.chmod(staging, PUBLIC_DIR_MODE)  # mkdtemp makes it private; the site may run as another user
        # Files carry the build time as mtime, so the site's Last-Modified is the build time.
        mtime = datetime.fromisoformat(str(manifest["built_at"])).timestamp()
        _write_file(staging / str(manifest["pdf_file"]), pdf, mtime)
        _write_file(staging / str(manifest["html_file"]), html, mtime)
        if figures is not None:
            _write_file(staging / str(manifest["figures_file"]), figures, mtime)
        _write_file(staging / MANIFEST_NAME, json_bytes(manifest), mtime)
        atomic.fsync_dir(staging)
        os.rename(staging, folder / VERSIONS_DIR / version)
        atomic.fsync_dir(folder / VERSIONS_DIR)
        _replace_pointer(folder, {"edition": edition, "version": version})
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if names_version(_read_if_exists(folder / POINTER_NAME), version):
            try:
                _restore_pointer(folder, previous)
            except OSError as again:
                raise PublishError(
                    f"{folder}: {version} is published but may not survive a crash ({exc}), and putting the "
                    f"previous pointer back failed too ({again})"
                ) from exc
        raise PublishError(f"{folder}: publishing {version} failed, the previous version stays ({exc})") from exc


def discard(folder: Path, path: Path) -> None:
    """Delete a version folder so no reader sees it half deleted: rename it to a dot name first."""
    trash = Path(tempfile.mkdtemp(prefix=TRASH_PREFIX, dir=folder))
    os.rename(path, trash / path.name)
    atomic.fsync_dir(path.parent)
    shutil.rmtree(trash)


def remove(path: Path) -> None:
    """Delete a dot-named leftover (a staging or trash folder, a pointer's temp file)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _write_file(path: Path, data: bytes, mtime: float) -> None:
    """Write ``data`` to a new file in the private staging folder and fsync it, so a crash cannot leave a renamed
    but empty file. No temp name and rename: the whole folder becomes visible in one rename."""
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.utime(path, (mtime, mtime))


def _replace_pointer(folder: Path, pointer: dict[str, object]) -> None:
    """Atomically make ``latest.json`` say ``pointer``: temp file in the same folder, fsync, os.replace."""
    _replace_pointer_bytes(folder, json_bytes(pointer))


def _replace_pointer_bytes(folder: Path, data: bytes) -> None:
    # The temp file is .tmp-latest.json-*: a kill before the rename leaves it for the next publish to remove.
    atomic.write_bytes(folder / POINTER_NAME, data, mode=PUBLIC_FILE_MODE, prefix=TMP_PREFIX)


def _restore_pointer(folder: Path, previous: bytes | None) -> None:
    """Put back the pointer as it was before a publish (no pointer at all if there was none)."""
    if previous is None:
        with suppress(FileNotFoundError):
            os.unlink(folder / POINTER_NAME)
        atomic.fsync_dir(folder)
    else:
        _replace_pointer_bytes(folder, previous)


def _read_if_exists(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None

