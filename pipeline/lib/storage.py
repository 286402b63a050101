"""Where the published archive lives: a local folder (the default) or an object store, through fsspec.

The archive root is either

- a local folder, given as a plain path (``REPORT_OUTPUT_DIR``, default ``reports/``): :mod:`pipeline.lib.publish`
  writes it with the operating system's guarantees (fsync, ``rename`` of a staged folder, ``os.replace`` of the
  pointer, ``flock`` per edition); or
- a URL with a scheme (``REPORT_ARCHIVE_URL=s3://bucket/prefix``, ``gs://…``, ``memory://…`` in tests,
  ``file:///…``): a :class:`upath.UPath` over the fsspec filesystem of that scheme. Runs that execute on different
  machines (the cluster profile: one Kubernetes pod per run) then publish into, and readers read from, the same
  store. The scheme's fsspec implementation must be installed (``s3fs`` for ``s3://``, ``gcsfs`` for ``gs://``);
  credentials come from that library's usual sources (environment, instance role), never from this module.

This module knows nothing about versions or manifests; it offers the few object operations an archive needs, with
the one property the archive's atomicity rests on: :func:`write_object` makes an object visible whole or not at
all. Object stores give that for a single PUT (``pipe_file``); fsspec's local filesystem does not (it truncates,
then writes), so for ``file://`` the bytes go through :func:`pipeline.lib.atomic.write_bytes`: written beside the
target under a dot name (which the archive's readers ignore), fsynced and renamed over it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from fsspec.implementations.local import LocalFileSystem
from upath import UPath

from pipeline.lib import atomic

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing.TypeIs from Python 3.13 on

#: The environment variable that moves the archive to an object store (a URL); unset means the local folder.
ARCHIVE_URL_ENV = "REPORT_ARCHIVE_URL"

#: An archive root or a path inside it: a local folder (pathlib) or an object-store location (UPath).
ArchivePath: TypeAlias = Path | UPath


def archive_location(default: Path, url: str | None = None, *, report: str | None = None) -> ArchivePath:
    """The archive to publish into and read from: ``url``, else ``$REPORT_ARCHIVE_URL``, else ``default``.

    ``default`` is the local folder (a report's ``Paths.reports``, or the root of all reports); an empty or unset
    URL keeps it. A URL names the root of every report's archive, so ``report`` (the report's id) is appended to
    it, as the local layout has ``reports/<report id>/``."""
    chosen = (url if url is not None else os.environ.get(ARCHIVE_URL_ENV, "")).strip()
    if not chosen:
        return as_archive_root(default)
    return as_archive_root(f"{chosen.rstrip('/')}/{report}" if report else chosen)


def as_archive_root(location: str | os.PathLike[str] | UPath) -> ArchivePath:
    """Normalise an archive location: a plain path (str or Path) → a local :class:`~pathlib.Path`; a URL with a
    scheme (``s3://``, ``memory://``, ``file://``) → a :class:`~upath.UPath` over that fsspec filesystem.

    A ``file://`` URL deliberately stays on the fsspec path: it behaves like an object store that happens to be
    on disk (no flock), which is what the object-store code is tested against."""
    if isinstance(location, UPath):
        if isinstance(location, Path):  # UPath of a plain local path (no scheme) is a pathlib.Path subclass
            return Path(location)
        return location
    if isinstance(location, Path):
        return location
    text = os.fspath(location)
    if "://" in text:
        return UPath(text)
    return Path(text)


def is_object_store(path: ArchivePath) -> TypeIs[UPath]:
    """True for a location reached through fsspec (a URL), False for a plain local folder."""
    return not isinstance(path, Path)


def write_object(path: UPath, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``data`` as the whole content of ``path``, visible to readers whole or not at all.

    ``exclusive`` refuses to replace an existing object (FileExistsError): a version's files are created once, so
    a second publisher that picked the same version number fails instead of mixing its files into the first's.
    Where the store cannot create exclusively in one request, this is a check-then-write, i.e. best effort; the
    guarantee that two publishes of one edition never overlap comes from the run queue (see publish.publish)."""
    fs = path.fs
    if isinstance(fs, LocalFileSystem):
        # fsspec's local filesystem truncates, then writes: a reader could see half an object.
        atomic.write_bytes(Path(fs._strip_protocol(path.path)), data, exclusive=exclusive)
        return
    mode = "create" if exclusive else "overwrite"
    try:
        fs.pipe_file(path.path, data, mode=mode)
    except TypeError:  # an implementation without the mode argument: the check is then not atomic
        if exclusive and fs.exists(path.path):
            raise FileExistsError(str(path)) from None
        fs.pipe_file(path.path, data)


def remove(path: UPath, *, first: str | None = None) -> None:
    """Delete ``path`` (an object or everything under a prefix); a missing path is not an error.

    ``first`` names an object under ``path`` to delete before the rest: deleting many objects is not atomic, so
    the caller names the one whose absence already makes the rest unreadable (a version's manifest)."""
    fs = path.fs
    if first is not None:
        with contextlib.suppress(FileNotFoundError):
            fs.rm_file((path / first).path)
    if fs.exists(path.path):
        with contextlib.suppress(FileNotFoundError):
            fs.rm(path.path, recursive=True)
