"""What the published archive is and how it is read: layout, names, the manifest format and the reader rules.

Layout under the archive root (the project's ``reports/`` folder, or an object-store prefix)::

    <edition>/
        latest.json                    the commit record: which version is the newest
        versions/
            v0001/
                <edition>_v0001.pdf    file names carry edition and version, so a saved download keeps its meaning
                <edition>_v0001.html
                figures.json           the figures the version printed (optional; see pipeline.lib.changes)
                manifest.json          what was built, when, from which data and code, and the PDF's sha256
        .lock                          flock'd by a publisher, so two publishes of one edition take turns
        .tmp-*  .trash-*               a publish or prune in progress (or killed): readers never look at dot names
    .builds/<edition>.lock             flock'd for a whole build (see build_lock_path), so builds take turns

Version ids are ``v`` and a zero-padded counter (v0001, v0002, …) rather than timestamps: people say
"the third version", ids sort as text up to v9999 (readers sort by the number anyway), and the counter
never repeats because the newest version is never pruned. The build time lives in the manifest.

The reader rules, which both publishing backends (:mod:`.local`, :mod:`.store`) are built around:

- ``latest.json`` alone says what is published. Writing it is a publish's commit point; a version folder numbered
  above it is an interrupted publish, which readers ignore and the next publish deletes
  (:func:`uncommitted_versions`). With no pointer at all, nothing is published.
- A version is readable only with its manifest, and the manifest must describe the files beside it; pruning
  relies on that (an object store deletes the manifest first).
- Dot names are never read, so a publish can stage, and a prune can trash, beside what readers see.
- Nothing that leads outside the archive root (a symlink) is served.

No Dagster import here: the CLI, the assets, the web site and the tests share these functions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from pipeline.lib import storage
from pipeline.lib.changes import snapshot
from pipeline.lib.changes.snapshot import FIGURES_NAME, FigureValue, SnapshotError
from pipeline.lib.errors import ReportError
from pipeline.lib.sources import EDITION_NAME
from pipeline.lib.storage import ArchivePath

log = logging.getLogger("pipeline.lib.publish")

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
    #: The figures snapshot (figures.json) and its sha256; None / "" for versions published without one.
    figures_path: ArchivePath | None = None
    figures_sha256: str = ""

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


def is_temp_name(name: str) -> bool:
    """True for what a publish or prune writes beside the archive (staging, trash, a pointer being replaced)."""
    return name.startswith((TMP_PREFIX, TRASH_PREFIX))


# --- the manifest and the pointer, as bytes --------------------------------------------------------------


def new_manifest(
    edition: str, version: str, *, title: str | None, built_at: str, pdf: bytes, html: bytes, pages: int,
    fingerprint: str, code_version: str, figures: bytes | None = None,
) -> dict[str, object]:
    """The manifest of a version about to be published (:func:`load_version` reads it back). With ``figures``, it
    names the snapshot file and records its sha256; without, neither key is written, as before snapshots existed."""
    manifest: dict[str, object] = {
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
    if figures is not None:
        manifest["figures_file"] = FIGURES_NAME
        manifest["figures_sha256"] = hashlib.sha256(figures).hexdigest()
    return manifest


def pointer_bytes(edition: str, version: str) -> bytes:
    """The content of ``latest.json`` naming ``version``."""
    return json_bytes({"edition": edition, "version": version})


def names_version(pointer: bytes | None, version: str) -> bool:
    """True if the pointer bytes name ``version`` (unreadable bytes name nothing)."""
    try:
        return pointer is not None and json.loads(pointer).get("version") == version
    except (ValueError, AttributeError):
        return False


def json_bytes(data: dict[str, object]) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


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
            and is_inside(archive_root, entry)
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
    version = read_pointer(archive_root, edition)
    if version is None:
        return None
    return load_version(archive_root, edition, version)


def history(archive_root: ArchivePath | str, edition: str) -> list[PublishedVersion]:
    """Every committed version of ``edition``, newest first (empty if it was never published).

    A version that cannot be read (damaged by hand, or a symlink out of the archive) is logged and left out,
    so one bad old version does not hide the others; :func:`latest` is strict instead."""
    archive_root = storage.as_archive_root(archive_root)
    check_edition(edition)
    newest = read_pointer(archive_root, edition)
    if newest is None:
        return []
    limit = version_number(newest)
    found = []
    for number, folder in version_dirs(archive_root / edition):
        if number > limit:
            continue  # an interrupted publish: not committed, so not part of the history
        try:
            found.append(load_version(archive_root, edition, folder.name))
        except PublishError as exc:
            log.warning("skipping unreadable version: %s", exc)
    return sorted(found, key=lambda v: v.number, reverse=True)


def get_version(archive_root: ArchivePath | str, edition: str, version: str) -> PublishedVersion:
    """One committed version of ``edition``; raises PublishError if there is no such published version.

    A version folder numbered above the latest pointer is an interrupted publish and is not returned."""
    archive_root = storage.as_archive_root(archive_root)
    check_edition(edition)
    number = version_number(version)
    newest = read_pointer(archive_root, edition)
    if newest is None or number > version_number(newest):
        raise PublishError(f"{edition}/{version}: no such published version")
    return load_version(archive_root, edition, version)


def read_pointer(archive_root: ArchivePath, edition: str) -> str | None:
    """The version named by ``latest.json``, or None if there is none yet."""
    path = archive_root / edition / POINTER_NAME
    if not path.exists():
        return None
    if not is_inside(archive_root, path):
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


def load_version(archive_root: ArchivePath, edition: str, version: str) -> PublishedVersion:
    """Read one version's manifest and check it describes the files beside it."""
    folder = archive_root / edition / VERSIONS_DIR / version
    manifest_path = folder / MANIFEST_NAME
    pdf_path = folder / pdf_name(edition, version)
    html_path = folder / html_name(edition, version)
    _check_published_files(archive_root, edition, version, (manifest_path, pdf_path, html_path))
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
        if (data["edition"], data["version"]) != (edition, version):
            raise PublishError(
                f"{manifest_path}: describes {data['edition']}/{data['version']}, expected {edition}/{version}"
            )
        figures_path = None
        if data.get("figures_file") is not None:
            if data["figures_file"] != FIGURES_NAME:
                raise PublishError(f"{manifest_path}: names figures file {data['figures_file']!r}, not {FIGURES_NAME}")
            figures_path = folder / FIGURES_NAME
            _check_published_files(archive_root, edition, version, (figures_path,))
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
            figures_path=figures_path,
            figures_sha256=str(data.get("figures_sha256", "")) if figures_path is not None else "",
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PublishError(f"{manifest_path}: unreadable manifest ({exc})") from exc


def _check_published_files(archive_root: ArchivePath, edition: str, version: str, paths: tuple[ArchivePath, ...]
                           ) -> None:
    """Every file the manifest names must be there, and inside the archive, for the version to be readable."""
    for path in paths:
        if not path.is_file():
            raise PublishError(f"{path}: missing from published version {edition}/{version}")
        if not is_inside(archive_root, path):
            raise PublishError(f"{path}: leads outside the archive")


def load_figures(archive_root: ArchivePath | str, edition: str, version: str) -> list[FigureValue] | None:
    """The figures one published version printed (its figures.json), or None for a version published without a
    snapshot (before snapshots existed, or by a caller that passed none).

    Raises PublishError if there is no such published version, or if the snapshot does not match the sha256 its
    manifest recorded or cannot be read: comparing against damaged figures would report changes nobody made."""
    found = get_version(archive_root, edition, version)
    if found.figures_path is None:
        return None
    try:
        data = found.figures_path.read_bytes()
    except OSError as exc:
        raise PublishError(f"{found.figures_path}: unreadable ({exc})") from exc
    if hashlib.sha256(data).hexdigest() != found.figures_sha256:
        raise PublishError(f"{found.figures_path}: does not match the sha256 in its manifest")
    try:
        return snapshot.from_json(data)
    except SnapshotError as exc:
        raise PublishError(f"{found.figures_path}: {exc}") from exc


def version_dirs(edition_dir: ArchivePath) -> list[tuple[int, ArchivePath]]:
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


def next_version(archive_root: ArchivePath, edition: str) -> str:
    """The id a new publish takes: one above every version folder, committed or not, so none is reused."""
    return version_id(max((n for n, _ in version_dirs(archive_root / edition)), default=0) + 1)


def uncommitted_versions(archive_root: ArchivePath, edition: str) -> list[ArchivePath]:
    """Version folders numbered above the pointer: written, but the publish died before committing. With no
    pointer at all, every version folder is one: ``latest.json`` is the record of what was published."""
    pointer = read_pointer(archive_root, edition)
    limit = version_number(pointer) if pointer is not None else 0
    return [path for number, path in version_dirs(archive_root / edition) if number > limit]


def prunable_versions(archive_root: ArchivePath, edition: str, keep: int) -> list[ArchivePath]:
    """Committed versions beyond the newest ``keep``; never the latest, whatever ``keep`` says."""
    pointer = read_pointer(archive_root, edition)
    if pointer is None:
        return []
    limit = version_number(pointer)
    committed = [(n, p) for n, p in version_dirs(archive_root / edition) if n <= limit]
    return [path for number, path in sorted(committed, reverse=True)[keep:] if number != limit]


def is_inside(archive_root: ArchivePath, path: ArchivePath) -> bool:
    """True if ``path``, with every symlink followed, is still inside the archive root.

    Object stores have no symlinks: there a path is inside if its key is under the root's (edition and version
    names are validated before they become keys, so no ``..`` can reach here)."""
    if storage.is_object_store(archive_root):
        return str(path).startswith(str(archive_root).rstrip("/") + "/")
    return cast(Path, path).resolve().is_relative_to(archive_root.resolve())  # under a local root: a local path
