"""The published archive: every PDF (with its HTML) that readers may download, versioned per edition.

Readers of the report never open Dagster, so what they download must not depend on a run being in progress:
a build is *published* into a plain folder (or an object store) that the download site, and anyone with a file
browser, reads.

A publish writes a new version where readers do not look yet, then replaces ``latest.json``; that replacement is
the commit point. Until it happens readers see the previous version only, and whatever a killed publish left
behind is ignored by readers and deleted by the next publish. The package is split by job:

- :mod:`.archive`: the layout, names, manifest format and reader rules, and the reading functions
  (:func:`editions`, :func:`latest`, :func:`history`, :func:`get_version`, :func:`load_figures`);
- :mod:`.local`: committing in a local folder (flock, staging folder, fsync, rename, ``os.replace`` of the pointer);
- :mod:`.store`: committing on an object store (whole-object writes, pointer last, no flock);
- here: :func:`publish`, which checks its inputs, picks one of the two backends, and runs the steps they share
  (clearing leftovers, reusing an identical latest version, numbering, pruning).

Everything others import from ``pipeline.lib.publish`` is re-exported here. No Dagster import: the CLI, the
assets, the web site and the tests share these functions.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from pipeline.lib import storage
from pipeline.lib.changes import snapshot
from pipeline.lib.publish import local, store
from pipeline.lib.publish.archive import (
    BUILDS_DIR,
    EDITION_PATTERN,
    FINGERPRINT_PATTERN,
    LOCK_NAME,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    POINTER_NAME,
    PUBLIC_DIR_MODE,
    PUBLIC_FILE_MODE,
    TMP_PREFIX,
    TRASH_PREFIX,
    VERSION_PATTERN,
    VERSIONS_DIR,
    PublishedVersion,
    PublishError,
    check_edition,
    editions,
    get_version,
    history,
    html_name,
    is_inside,
    is_temp_name,
    latest,
    load_figures,
    load_version,
    log,
    new_manifest,
    next_version,
    pdf_name,
    prunable_versions,
    uncommitted_versions,
    version_id,
    version_number,
)
from pipeline.lib.storage import ArchivePath

__all__ = [
    "BUILDS_DIR",
    "EDITION_PATTERN",
    "FINGERPRINT_PATTERN",
    "LOCK_NAME",
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "POINTER_NAME",
    "PUBLIC_DIR_MODE",
    "PUBLIC_FILE_MODE",
    "TMP_PREFIX",
    "TRASH_PREFIX",
    "VERSIONS_DIR",
    "VERSION_PATTERN",
    "PublishError",
    "PublishedVersion",
    "build_lock_path",
    "check_edition",
    "editions",
    "get_version",
    "history",
    "html_name",
    "latest",
    "load_figures",
    "pdf_name",
    "publish",
    "version_id",
    "version_number",
]

_TEXT_FIELD_LIMIT = 200


def build_lock_path(archive_root: ArchivePath | str, edition: str) -> Path | None:
    """The file a whole build of ``edition`` holds a flock on, from reading the sources to publishing, or None for
    an object-store archive (no flock there; Dagster's run queue keeps builds of one edition apart).

    Builds of one edition take turns so that the one started last reads the sources last and publishes last:
    without it, a slower build of older data could publish after a quicker build of newer data and become the
    latest. ``.builds`` is not an edition name, so readers never list it."""
    archive_root = storage.as_archive_root(archive_root)
    if storage.is_object_store(archive_root):
        return None
    return local.build_lock_path(archive_root, edition)


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
    figures: bytes | None = None,
) -> PublishedVersion:
    """Publish one build of ``edition`` as its new latest version, atomically.

    If the latest version was built from the same data fingerprint and code version, nothing is written and
    that version is returned with ``reused=True``: a rebuild of identical inputs is not news to readers.
    ``figures`` (a snapshot document, :func:`pipeline.lib.changes.snapshot.figures_json`) is stored as
    ``figures.json`` beside the PDF, written before the manifest, which records its sha256. It takes no part in
    that decision: the same data and code give the same figures, so a reused version keeps the snapshot it had
    (none, if it was published before snapshots existed).
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
    if figures is not None:
        _check_figures(figures)
    built_at = _utc_iso(now)
    folder = archive_root / edition
    if not is_inside(archive_root, folder):
        raise PublishError(f"{folder}: leads outside the archive")
    # The one place the backend is chosen; both offer prepare, edition_turn, commit, discard and remove.
    backend = store if storage.is_object_store(archive_root) else local
    backend.prepare(folder)

    with backend.edition_turn(folder):
        try:
            _clean_leftovers(backend, archive_root, edition)
        except OSError as exc:
            raise PublishError(f"{folder}: cannot clear what an interrupted publish left ({exc})") from exc
        current = latest(archive_root, edition)
        if current is not None and (current.fingerprint, current.code_version) == (fingerprint, code_version):
            _prune(backend, archive_root, edition, keep)
            return replace(current, reused=True)

        version = next_version(archive_root, edition)
        manifest = new_manifest(edition, version, title=title, built_at=built_at, pdf=pdf, html=html, pages=pages,
                                fingerprint=fingerprint, code_version=code_version, figures=figures)
        backend.commit(archive_root, edition, version, pdf=pdf, html=html, manifest=manifest,
                       seen=current.version if current is not None else None, figures=figures)
        _prune(backend, archive_root, edition, keep)
        return load_version(archive_root, edition, version)


def _clean_leftovers(backend: ModuleType, archive_root: ArchivePath, edition: str) -> None:
    """Remove what a killed publish or prune left behind; only called during the edition's turn (holding its
    flock, or, on an object store, while the run queue guarantees no other publish of the edition is in progress).

    That is dot-named temp folders and files (a staging folder, a trash folder, ``.tmp-latest.json-*`` from an
    interrupted pointer replace), and version folders numbered above the pointer (written, but the publish died
    before committing)."""
    folder = archive_root / edition
    if not folder.is_dir():
        return  # nothing was ever written for this edition (an object store has no empty folders)
    for entry in folder.iterdir():
        if is_temp_name(entry.name):
            log.info("removing leftover of an interrupted publish: %s", entry)
            backend.remove(entry)
    for path in uncommitted_versions(archive_root, edition):
        log.warning("removing uncommitted version left by an interrupted publish: %s", path)
        backend.discard(folder, path)


def _prune(backend: ModuleType, archive_root: ArchivePath, edition: str, keep: int) -> None:
    """Keep the newest ``keep`` committed versions; never the latest, whatever ``keep`` says.

    Runs after the commit, so a failure here is logged, not raised: the publish itself has succeeded and
    the next one retries the pruning."""
    folder = archive_root / edition
    for path in prunable_versions(archive_root, edition, keep):
        try:
            backend.discard(folder, path)
        except OSError as exc:
            log.warning("could not prune %s (the next publish retries): %s", path, exc)


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


def _check_figures(figures: object) -> None:
    """Only a readable snapshot is published: a later comparison must never fail on what this publish wrote."""
    if not isinstance(figures, bytes):
        raise PublishError("figures must be the bytes of a figures document (snapshot.figures_json)")
    try:
        snapshot.from_json(figures)
    except snapshot.SnapshotError as exc:
        raise PublishError(f"figures: {exc}") from exc


def _check_text(name: str, value: object) -> None:
    """A one-line label: non-empty, bounded, no control characters (it ends up in JSON, HTML and headers)."""
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > _TEXT_FIELD_LIMIT
        or any(ord(c) < 32 or ord(c) == 127 for c in value)
    ):
        raise PublishError(f"{name} must be one line of 1-{_TEXT_FIELD_LIMIT} characters, got {value!r}")
