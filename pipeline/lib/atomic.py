"""The one way this project writes a file that someone may be reading: whole or not at all.

The bytes go to a temporary file beside the target, which is then renamed over it (or, `exclusive`, hard-linked
to it, which fails if the target exists): a reader sees the old file or the new one, never half of one. With
`durable`, the file and its folder are fsynced, so a crash or power cut cannot leave a renamed but empty file;
caches and previews, which can be rebuilt, skip that cost."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PUBLIC_FILE_MODE = 0o644


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in `folder` survive a crash."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(target: Path, data: bytes, *, durable: bool = True, exclusive: bool = False,
                mode: int = PUBLIC_FILE_MODE, prefix: str = ".tmp-") -> None:
    """Replace (or, `exclusive`, create) `target` with `data` atomically; the folder is created if needed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{prefix}{target.name}-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)  # mkstemp makes the file private; readers need it
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, target)  # FileExistsError if the target exists: an atomic create
            os.unlink(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(target.parent)
