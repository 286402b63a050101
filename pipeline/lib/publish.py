"""The published archive: every PDF (with its HTML) that readers may download, versioned per edition.

Readers of the report never open Dagster, so what they download must not depend on a run being in progress:
a build is *published* into a plain folder that the download site (and anyone with a file browser) reads.

Layout under the archive root (the project's ``reports/`` folder)::

    <edition>/
        latest.json                    the commit record: which version is the newest (replaced atomically)
        versions/
            v0001/
                <edition>_v0001.pdf    file names carry edition and version, so a saved download keeps its meaning
                <edition>_v0001.html
                manifest.json          what was built, when, from which data and code, and the PDF's sha256
        .lock                          flock'd by a publisher, so two publishes of one edition take turns
    .builds/<edition>.lock             flock'd for a whole build (see build_lock_path), so builds take turns
        .tmp-*  .trash-*               a publish or prune in progress (or killed): readers never look at dot names

Version ids are ``v`` and a zero-padded counter (v0001, v0002, …) rather than timestamps: people say
"the third version", ids sort as text up to v9999 (readers sort by the number anyway), and the counter
never repeats because the newest version is never pruned. The build time lives in the manifest.

A publish writes the version into a temporary folder, fsyncs it, renames it into ``versions/`` and then
replaces ``latest.json``; that last ``os.replace`` is the commit point. Until it happens readers see the
previous version only: a version folder numbered above the pointer is an interrupted publish, which readers
ignore and the next publish deletes. No Dagster import here: the CLI, the assets, the web site and the
tests share these functions.

The archive root may also be an object store (``s3://bucket/prefix``, ``memory://`` in tests, ``file://``; see
:mod:`pipeline.lib.storage` and ``REPORT_ARCHIVE_URL``), so that runs on different machines publish into one
archive. Same layout, same reader rules, same commit point: each file of the version is written as a whole object
directly under ``versions/vNNNN/`` (invisible to readers, who only believe the pointer), the manifest last, and
``latest.json`` is written after all of them; object stores make a single object write visible whole or not at
all, so the pointer write is the commit. A killed publish leaves objects numbered above the pointer, which readers
ignore and the next publish deletes; pruning deletes a version's manifest first, which makes it unreadable in one
step. What an object store lacks is ``flock``: see :func:`publish` for how publishes of one edition are kept apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from pipeline.lib import atomic, locks, storage
from pipeline.lib.errors import ReportError
from pipeline.lib.sources import EDITION_NAME
from pipeline.lib.storage import ArchivePath

log = logging.getLogger(__name__)

#: Edition names become folder names and URL segments; the one rule for them lives with the sources.
EDITION_PATTERN = EDITION_NAME
#: v + at least four digits; the number, not the text, orders versions.
VERSION_PATTERN = re.compile(r"v([0-9]{4,9})")
FINGERPRINT_PATTERN = re.compile(r"[0-9a-f]{64}")

MANIFEST_NAME = "manifest.json"
POINTER_NAME = "latest.json"
VERSIONS_DIR = "versions"
LOCK_NAME = ".lock"
BUILDS_DIR = ".builds"
TMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
MANIFEST_FORMAT = 1
_TEXT_FIELD_LIMIT = 200
#: Published files are for everyone who can read the archive (the site may run as another user).
PUBLIC_DIR_MODE = 0o755
PUBLIC_FILE_MODE = 0o644


class PublishError(ReportError):
    """The archive refused a publish or holds something it cannot read; the message says which file and why."""


@dataclass(frozen=True)
class PublishedVersion:
    """One published version as readers see it (the manifest plus where its files are)."""

    edition: str
    version: str
    built_at: str  # ISO 8601, UTC ("2025-07-01T08:30:00Z")
    sha256: str  # of the PDF bytes
    size: int  # PDF bytes
    pages: int
    fingerprint: str  # sha256 hex of the source files the report was built from
    code_version: str
    pdf_path: ArchivePath  # a pathlib.Path in a local folder, a upath.UPath (URL) on an object store
    html_path: ArchivePath
    manifest_path: ArchivePath
    reused: bool = False  # True when publish() found the latest version already built from the same inputs
    title: str | None = None  # human title of the report (may be Chinese); names the downloaded file
    html_sha256: str = ""
    html_size: int = 0

    @property
    def number(self) -> int:
        """The version counter, for ordering (text order breaks past v9999)."""
        return version_number(self.version)


# --- names ---------------------------------------------------------------------------------------------


def check_edition(edition: object) -> str:
    """Return ``edition`` if it is a safe edition name, else raise: the name becomes a folder and a URL."""
    if not isinstance(edition, str) or not EDITION_PATTERN.fullmatch(edition):
        raise PublishError(
            f"invalid edition name {edition!r}: use 1-64 characters a-z, 0-9 and '-', starting with a letter or digit"
        )
    return edition


def version_number(version: str) -> int:
    """The counter of a version id such as ``v0003``; raises for anything that is not a version id."""
    match = VERSION_PATTERN.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise PublishError(f"invalid version id {version!r}: expected 'v' and at least four digits, e.g. v0001")
    return int(match.group(1))


def version_id(number: int) -> str:
    """The id of the ``number``-th version (1 → ``v0001``)."""
    return f"v{number:04d}"


def pdf_name(edition: str, version: str) -> str:
    """File name of a version's PDF: edition and version in the name so a saved download says what it is."""
    return f"{edition}_{version}.pdf"


def html_name(edition: str, version: str) -> str:
    """File name of a version's HTML (same reasoning as :func:`pdf_name`)."""
    return f"{edition}_{version}.html"


# --- reading -------------------------------------------------------------------------------------------


def editions(archive_root: ArchivePath | str) -> list[str]:
    """Names of the editions with at least one published version, sorted.

    Folders whose name is not a valid edition, or that lead outside the archive (a symlink), are left out:
    the archive only vouches for what a publish wrote."""
    archive_root = storage.as_archive_root(archive_root)
    if not archive_root.is_dir():
        return []
    found = []
    for entry in archive_root.iterdir():
        if (
            EDITION_PATTERN.fullmatch(entry.name)
            and entry.is_dir()
            and _inside(archive_root, entry)
            and (entry / POINTER_NAME).is_file()
        ):
            found.append(entry.name)
    return sorted(found)


def latest(archive_root: ArchivePath | str, edition: str) -> PublishedVersion | None:
    """The newest committed version of ``edition``, or None if it was never published.

    Raises PublishError if the pointer or the manifest it names is unreadable: serving an older version
    silently would hide a damaged archive."""
    archive_root = storage.as_archive_root(archive_root)
    check_edition(edition)
    version = _pointer(archive_root, edition)
    if version is None:
        return None
    return _load(archive_root, edition, version)


def history(archive_root: ArchivePath | str, edition: str) -> list[PublishedVersion]:
    """Every committed version of ``edition``, newest first (empty if it was never published).

    A version that cannot be read (damaged by hand, or a symlink out of the archive) is logged and left out,
    so one bad old version does not hide the others; :func:`latest` is strict instead."""
    archive_root = storage.as_archive_root(archive_root)
    check_edition(edition)
    newest = _pointer(archive_root, edition)
    if newest is None:
        return []
    limit = version_number(newest)
    found = []
    for number, folder in _version_dirs(archive_root / edition):
        if number > limit:
            continue  # an interrupted publish: not committed, so not part of the history
        try:
            found.append(_load(archive_root, edition, folder.name))
        except PublishError as exc:
            log.warning("skipping unreadable version: %s", exc)
    return sorted(found, key=lambda v: v.number, reverse=True)


def get_version(archive_root: ArchivePath | str, edition: str, version: str) -> PublishedVersion:
    """One committed version of ``edition``; raises PublishError if there is no such published version.

    A version folder numbered above the latest pointer is an interrupted publish and is not returned."""
    archive_root = storage.as_archive_root(archive_root)
    check_edition(edition)
    number = version_number(version)
    newest = _pointer(archive_root, edition)
    if newest is None or number > version_number(newest):
        raise PublishError(f"{edition}/{version}: no such published version")
    return _load(archive_root, edition, version)


def _pointer(archive_root: ArchivePath, edition: str) -> str | None:
    """The version named by ``latest.json``, or None if there is none yet."""
    path = archive_root / edition / POINTER_NAME
    if not path.exists():
        return None
    if not _inside(archive_root, path):
        raise PublishError(f"{path}: leads outside the archive")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        version = data["version"]
        if data["edition"] != edition:
            raise PublishError(f"{path}: names edition {data['edition']!r}, expected {edition!r}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PublishError(f"{path}: unreadable latest pointer ({exc})") from exc
    version_number(version)
    return version


def _load(archive_root: ArchivePath, edition: str, version: str) -> PublishedVersion:
    """Read one version's manifest and check it describes the files beside it."""
    folder = archive_root / edition / VERSIONS_DIR / version
    manifest_path = folder / MANIFEST_NAME
    pdf_path = folder / pdf_name(edition, version)
    html_path = folder / html_name(edition, version)
    for path in (manifest_path, pdf_path, html_path):
        if not path.is_file():
            raise PublishError(f"{path}: missing from published version {edition}/{version}")
        if not _inside(archive_root, path):
            raise PublishError(f"{path}: leads outside the archive")
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
        if (data["edition"], data["version"]) != (edition, version):
            raise PublishError(
                f"{manifest_path}: describes {data['edition']}/{data['version']}, expected {edition}/{version}"
            )
        return PublishedVersion(
            edition=edition,
            version=version,
            built_at=str(data["built_at"]),
            sha256=str(data["sha256"]),
            size=int(data["size"]),
            pages=int(data["pages"]),
            fingerprint=str(data["fingerprint"]),
            code_version=str(data["code_version"]),
            pdf_path=pdf_path,
            html_path=html_path,
            manifest_path=manifest_path,
            title=data["title"] if isinstance(data.get("title"), str) else None,
            html_sha256=str(data.get("html_sha256", "")),
            html_size=int(data.get("html_size", 0)),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PublishError(f"{manifest_path}: unreadable manifest ({exc})") from exc


def _version_dirs(edition_dir: ArchivePath) -> list[tuple[int, ArchivePath]]:
    """(number, folder) of every folder in versions/ named like a version id; dot names never match."""
    versions = edition_dir / VERSIONS_DIR
    if not versions.is_dir():
        return []
    found = []
    for entry in versions.iterdir():
        match = VERSION_PATTERN.fullmatch(entry.name)
        if match and entry.is_dir():
            found.append((int(match.group(1)), entry))
    return sorted(found)


def _inside(archive_root: ArchivePath, path: ArchivePath) -> bool:
    """True if ``path``, with every symlink followed, is still inside the archive root.

    Object stores have no symlinks: there a path is inside if its key is under the root's (edition and version
    names are validated before they become keys, so no ``..`` can reach here)."""
    if storage.is_object_store(archive_root):
        return str(path).startswith(str(archive_root).rstrip("/") + "/")
    return path.resolve().is_relative_to(archive_root.resolve())


def build_lock_path(archive_root: ArchivePath | str, edition: str) -> Path | None:
    """The file a whole build of ``edition`` holds a flock on, from reading the sources to publishing, or None for
    an object-store archive (no flock there; Dagster's run queue keeps builds of one edition apart).

    Builds of one edition take turns so that the one started last reads the sources last and publishes last:
    without it, a slower build of older data could publish after a quicker build of newer data and become the
    latest. ``.builds`` is not an edition name, so readers never list it."""
    archive_root = storage.as_archive_root(archive_root)
    if storage.is_object_store(archive_root):
        return None
    folder = archive_root / BUILDS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{check_edition(edition)}.lock"


# --- publishing ----------------------------------------------------------------------------------------


def publish(
    archive_root: ArchivePath | str,
    edition: str,
    *,
    pdf: bytes,
    html: bytes,
    pages: int,
    fingerprint: str,
    code_version: str,
    keep: int = 10,
    now: datetime | None = None,
    title: str | None = None,
) -> PublishedVersion:
    """Publish one build of ``edition`` as its new latest version, atomically.

    If the latest version was built from the same data fingerprint and code version, nothing is written and
    that version is returned with ``reused=True``: a rebuild of identical inputs is not news to readers.
    After a successful publish only the newest ``keep`` versions are kept (the latest never goes).

    Who may publish an edition at the same time:

    - In a local folder, publishes of one edition are serialised by an exclusive flock on ``<edition>/.lock``,
      so concurrent publishes cannot collide; whole builds of one edition take turns on the build lock
      (:func:`build_lock_path`), so that the last build started also publishes last.
    - On an object store there is no flock (and no atomic rename). Exclusivity then rests on Dagster's run queue:
      the team and cluster instance profiles (deploy/team, deploy/cluster) limit runs per edition with
      ``tag_concurrency_limits`` on the ``dagster/partition`` tag (``applyLimitPerUniqueValue: true``,
      ``limit: 1``), so two runs that would publish the same edition are never in progress at once. A publish
      outside the queue (``python -m pipeline build`` executes in its own process, not through the queue) must
      therefore not target an object-store archive while runs of the same edition may be in progress. As a
      safety net, not a lock, a version's files are created exclusively where the store supports it and the
      pointer is re-read just before it is replaced: a publish that finds another one got there first fails
      with PublishError instead of committing over it."""
    archive_root = storage.as_archive_root(archive_root)
    check_edition(edition)
    _check_inputs(pdf=pdf, html=html, pages=pages, fingerprint=fingerprint, code_version=code_version, keep=keep)
    if title is not None:
        _check_text("title", title)
    built_at = _utc_iso(now)
    folder = archive_root / edition
    if not _inside(archive_root, folder):
        raise PublishError(f"{folder}: leads outside the archive")
    on_store = storage.is_object_store(archive_root)
    if not on_store:  # an object store has no folders to create: a key's prefixes exist once an object does
        try:
            (folder / VERSIONS_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PublishError(f"{folder}: cannot create the edition folder ({exc})") from exc

    with contextlib.nullcontext() if on_store else locks.exclusive(folder / LOCK_NAME):
        try:
            _clean_leftovers(archive_root, edition)
        except OSError as exc:
            raise PublishError(f"{folder}: cannot clear what an interrupted publish left ({exc})") from exc
        current = latest(archive_root, edition)
        if current is not None and (current.fingerprint, current.code_version) == (fingerprint, code_version):
            _prune(archive_root, edition, keep)
            return replace(current, reused=True)

        version = version_id(max((n for n, _ in _version_dirs(folder)), default=0) + 1)
        manifest = {
            "format": MANIFEST_FORMAT,
            "edition": edition,
            "version": version,
            "title": title,
            "built_at": built_at,
            "sha256": hashlib.sha256(pdf).hexdigest(),
            "size": len(pdf),
            "pages": pages,
            "fingerprint": fingerprint,
            "code_version": code_version,
            "pdf_file": pdf_name(edition, version),
            "html_file": html_name(edition, version),
            "html_sha256": hashlib.sha256(html).hexdigest(),
            "html_size": len(html),
        }
        if on_store:
            _commit_version_to_store(archive_root, edition, version, pdf=pdf, html=html, manifest=manifest,
                                     seen=current.version if current is not None else None)
        else:
            _commit_version(folder, version, pdf=pdf, html=html, manifest=manifest, built_at=built_at)
        _prune(archive_root, edition, keep)
        return _load(archive_root, edition, version)


def _commit_version(
    folder: Path, version: str, *, pdf: bytes, html: bytes, manifest: dict[str, object], built_at: str
) -> None:
    """Write the version beside the archive, move it in, then move the pointer (the commit).

    A publish that raises has not replaced the latest version: if the pointer was already replaced when something
    failed (the fsync of the edition folder after the rename, i.e. the commit could not be made durable), the
    previous pointer is put back before PublishError is raised. Readers may have seen the new version meanwhile;
    it is whole, and it stays on disk as an uncommitted leftover until the next publish removes it (and takes its
    number: the one case where a version id can name two builds, accepted for a failure this rare)."""
    previous = _read_if_exists(folder / POINTER_NAME)
    staging = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{version}-", dir=folder))
    try:
        os.chmod(staging, PUBLIC_DIR_MODE)  # mkdtemp makes it private; the site may run as another user
        # Files carry the build time as mtime, so the site's Last-Modified is the build time.
        mtime = datetime.fromisoformat(built_at).timestamp()
        _write_file(staging / str(manifest["pdf_file"]), pdf, mtime)
        _write_file(staging / str(manifest["html_file"]), html, mtime)
        _write_file(staging / MANIFEST_NAME, _json_bytes(manifest), mtime)
        atomic.fsync_dir(staging)
        os.rename(staging, folder / VERSIONS_DIR / version)
        atomic.fsync_dir(folder / VERSIONS_DIR)
        _replace_pointer(folder, {"edition": manifest["edition"], "version": version})
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if _names_version(_read_if_exists(folder / POINTER_NAME), version):
            try:
                _restore_pointer(folder, previous)
            except OSError as again:
                raise PublishError(
                    f"{folder}: {version} is published but may not survive a crash ({exc}), and putting the "
                    f"previous pointer back failed too ({again})"
                ) from exc
        raise PublishError(f"{folder}: publishing {version} failed, the previous version stays ({exc})") from exc


def _commit_version_to_store(
    archive_root: ArchivePath, edition: str, version: str, *, pdf: bytes, html: bytes,
    manifest: dict[str, object], seen: str | None,
) -> None:
    """Object store: write the version's objects where they belong (readers ignore them, being numbered above the
    pointer), the manifest last, then the pointer (the commit). ``seen`` is the pointer's version when the publish
    began; if it has moved since, another publisher committed meanwhile and this one stops short of the commit."""
    folder = archive_root / edition
    target = folder / VERSIONS_DIR / version
    try:
        storage.write_object(target / str(manifest["pdf_file"]), pdf, exclusive=True)
        storage.write_object(target / str(manifest["html_file"]), html, exclusive=True)
        storage.write_object(target / MANIFEST_NAME, _json_bytes(manifest), exclusive=True)
        now_latest = _pointer(archive_root, edition)
        if now_latest != seen:
            raise PublishError(
                f"{folder}: another publish committed {now_latest} while {version} was being written; runs of one "
                "edition must not overlap (the run queue's per-edition limit), so this publish stops uncommitted"
            )
        storage.write_object(folder / POINTER_NAME, _json_bytes({"edition": edition, "version": version}))
    except FileExistsError as exc:
        # Another publisher is writing the same version number: its objects are not ours to delete.
        raise PublishError(
            f"{folder}: {version} is being written by another publish (runs of one edition must not overlap); "
            "nothing was committed"
        ) from exc
    except (OSError, PublishError) as exc:
        committed = False
        with contextlib.suppress(OSError, PublishError):
            committed = _pointer(archive_root, edition) == version
        if committed and isinstance(exc, OSError):
            # The pointer write took effect but reported an error (e.g. a lost response): a publish that raises
            # must not have replaced the latest version, so the previous pointer goes back.
            try:
                if seen is None:
                    storage.remove(folder / POINTER_NAME)
                else:
                    storage.write_object(folder / POINTER_NAME, _json_bytes({"edition": edition, "version": seen}))
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


def _write_file(path: Path, data: bytes, mtime: float) -> None:
    """Write ``data`` to a new file and fsync it, so a crash cannot leave a renamed but empty file."""
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.utime(path, (mtime, mtime))


def _replace_pointer(folder: Path, pointer: dict[str, object]) -> None:
    """Atomically make ``latest.json`` say ``pointer``: temp file in the same folder, fsync, os.replace."""
    _replace_pointer_bytes(folder, _json_bytes(pointer))


def _replace_pointer_bytes(folder: Path, data: bytes) -> None:
    atomic.write_bytes(folder / POINTER_NAME, data, mode=PUBLIC_FILE_MODE, prefix=TMP_PREFIX)


def _restore_pointer(folder: Path, previous: bytes | None) -> None:
    """Put back the pointer as it was before a publish (no pointer at all if there was none)."""
    if previous is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / POINTER_NAME)
        atomic.fsync_dir(folder)
    else:
        _replace_pointer_bytes(folder, previous)


def _read_if_exists(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _names_version(pointer: bytes | None, version: str) -> bool:
    """True if the pointer bytes name ``version`` (unreadable bytes name nothing)."""
    try:
        return pointer is not None and json.loads(pointer).get("version") == version
    except (ValueError, AttributeError):
        return False


def _clean_leftovers(archive_root: ArchivePath, edition: str) -> None:
    """Remove what a killed publish or prune left behind; only called while holding the edition's lock (or, on
    an object store, while the run queue guarantees no other publish of the edition is in progress).

    That is dot-named temp folders and files, and version folders numbered above the pointer (renamed into
    place, but the publish died before committing). With no pointer at all, every version folder is such a
    leftover: ``latest.json`` is the record of what was published."""
    folder = archive_root / edition
    if storage.is_object_store(archive_root) and not folder.is_dir():
        return  # nothing was ever written for this edition
    for entry in folder.iterdir():
        if entry.name.startswith((TMP_PREFIX, TRASH_PREFIX)):
            log.info("removing leftover of an interrupted publish: %s", entry)
            _remove(entry)
    pointer = _pointer(archive_root, edition)
    limit = version_number(pointer) if pointer is not None else 0
    for number, path in _version_dirs(folder):
        if number > limit:
            log.warning("removing uncommitted version left by an interrupted publish: %s", path)
            _discard(folder, path)


def _prune(archive_root: ArchivePath, edition: str, keep: int) -> None:
    """Keep the newest ``keep`` committed versions; never the latest, whatever ``keep`` says.

    Runs after the commit, so a failure here is logged, not raised: the publish itself has succeeded and
    the next one retries the pruning."""
    folder = archive_root / edition
    pointer = _pointer(archive_root, edition)
    if pointer is None:
        return
    limit = version_number(pointer)
    committed = [(n, p) for n, p in _version_dirs(folder) if n <= limit]
    for number, path in sorted(committed, reverse=True)[keep:]:
        if number == limit:
            continue
        try:
            _discard(folder, path)
        except OSError as exc:
            log.warning("could not prune %s (the next publish retries): %s", path, exc)


def _discard(folder: ArchivePath, path: ArchivePath) -> None:
    """Delete a version folder so no reader sees it half deleted: rename it to a dot name first.

    An object store cannot rename a prefix atomically; there the manifest goes first, which makes the version
    unreadable in one step (readers require it), and the other objects follow."""
    if storage.is_object_store(path):
        storage.remove(path, first=MANIFEST_NAME)
        return
    trash = Path(tempfile.mkdtemp(prefix=TRASH_PREFIX, dir=folder))
    os.rename(path, trash / path.name)
    atomic.fsync_dir(path.parent)
    shutil.rmtree(trash)


def _remove(path: ArchivePath) -> None:
    if storage.is_object_store(path):
        storage.remove(path)
        return
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _json_bytes(data: dict[str, object]) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _utc_iso(now: datetime | None) -> str:
    """Build time as ISO 8601 UTC; a naive datetime is refused because its zone would be a guess."""
    moment = datetime.now(UTC) if now is None else now
    if moment.tzinfo is None:
        raise PublishError("now must be timezone-aware (e.g. datetime.now(UTC))")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _check_inputs(*, pdf: bytes, html: bytes, pages: int, fingerprint: str, code_version: str, keep: int) -> None:
    """Refuse inputs that would publish something a reader cannot use; checked before touching the archive."""
    if not isinstance(pdf, bytes | bytearray) or bytes(pdf[:5]) != b"%PDF-":
        raise PublishError("pdf is not a PDF document (it must start with %PDF-)")
    if not isinstance(html, bytes | bytearray) or not html:
        raise PublishError("html must be non-empty bytes")
    if isinstance(pages, bool) or not isinstance(pages, int) or pages < 1:
        raise PublishError(f"pages must be a positive integer, got {pages!r}")
    if not isinstance(fingerprint, str) or not FINGERPRINT_PATTERN.fullmatch(fingerprint):
        raise PublishError(f"fingerprint must be a lowercase sha256 hex digest, got {fingerprint!r}")
    _check_text("code_version", code_version)
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise PublishError(f"keep must be at least 1 (the latest version is always kept), got {keep!r}")


def _check_text(name: str, value: object) -> None:
    """A one-line label: non-empty, bounded, no control characters (it ends up in JSON, HTML and headers)."""
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > _TEXT_FIELD_LIMIT
        or any(ord(c) < 32 or ord(c) == 127 for c in value)
    ):
        raise PublishError(f"{name} must be one line of 1-{_TEXT_FIELD_LIMIT} characters, got {value!r}")
