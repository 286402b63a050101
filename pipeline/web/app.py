"""The download site: a read-only view of the published archive (see pipeline.lib.publish).

Readers want the newest PDF, the earlier ones, and a link they can share; they never open Dagster. The archive
holds one folder per report (`<report id>/<edition>/<version>`), and so do the URLs (`/<report>/editions/…`).
Every URL (pipeline.lib.urls) is built from names that pass the archive's own patterns (report, edition,
version, file name), never from a path taken from the request, and every file is resolved (symlinks followed) and checked
to be inside the archive before it is served. Anything else is a 404, logged on the "pipeline.web" logger.

This module is the routing: the handlers and the 404 page. Files go out through pipeline.web.files (the
archive check, ETag, 304, Content-Disposition); the pages are templates rendered by pipeline.web.pages; the
compare pages' rows come from pipeline.web.compare (the engine is pipeline.lib.changes).
"""

from __future__ import annotations

import itertools
import logging
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline.lib.changes.compare import Key, compare
from pipeline.lib.changes.predecessor import previous_edition
from pipeline.lib.changes.snapshot import FigureValue
from pipeline.lib.deliver import LEDGER_FILE, mask_address, read_deliveries
from pipeline.lib.publish import (
    EDITION_PATTERN,
    PublishedVersion,
    PublishError,
    editions,
    get_version,
    history,
    is_inside,
    latest,
    load_figures,
)
from pipeline.web import compare as compare_rows
from pipeline.web.files import LATEST_CACHE, VERSIONED_CACHE, serve_archived
from pipeline.web.page_diff import differing_pages
from pipeline.web.pages import COMPARE, EDITION, INDEX, NOT_FOUND, Pages

log = logging.getLogger("pipeline.web")

_LATEST_FILE = re.compile(rf"({EDITION_PATTERN.pattern})\.(pdf|html)")
#: Signs that a request probes for files outside the served names (parent folders, encoded slashes, dot files).
_TRAVERSAL_MARKERS = ("..", "%2e", "%2f", "%5c", "\\", "//", "%00", "/.")


@dataclass(frozen=True)
class _Site:
    """What every handler needs: where the archive is and how links start."""

    archive_root: Path
    base_url: str

    def reports(self) -> list[str]:
        """The report folders of the archive: names that pass the pattern (dot folders such as .builds do not),
        and that stay inside the archive with every link followed (a link to elsewhere is not a report here)."""
        if not self.archive_root.is_dir():
            return []
        return sorted(p.name for p in self.archive_root.iterdir()
                      if p.is_dir() and EDITION_PATTERN.fullmatch(p.name) and is_inside(self.archive_root, p))

    def archive(self, report: str) -> Path:
        """One report's archive, or a 404 for a name that is not a report here."""
        if report not in self.reports():
            raise HTTPException(404, detail=f"no report {report!r} in the archive")
        return self.archive_root / report

    def link_root(self) -> str:
        """Prefix for links in pages: the configured base URL, else root-relative."""
        return self.base_url.rstrip("/")

    def share_root(self, request: Request) -> str:
        """Prefix for links meant to be copied elsewhere: must be absolute."""
        return self.base_url.rstrip("/") or str(request.base_url).rstrip("/")


def create_app(archive_root: Path, base_url: str = "") -> Starlette:
    """The download site over ``archive_root``. ``base_url`` prefixes the links in pages (set it when the
    site sits behind a proxy or under a path); empty means links relative to the host the reader used.
    Only GET and HEAD exist: nothing here writes."""
    site = _Site(archive_root=Path(archive_root), base_url=base_url)
    pages = Pages()

    def rows(report: str) -> list[dict[str, object]]:
        archive, found = site.archive_root / report, []
        for name in editions(archive):
            try:
                newest = latest(archive, name)
                count = len(history(archive, name))
            except PublishError as exc:
                log.error("edition %s/%s cannot be read: %s", report, name, exc)
                continue
            if newest is not None:
                found.append({"report": report, "edition": name, "latest": newest, "count": count})
        return found

    def index(request: Request) -> Response:
        return _page(pages, INDEX, request, site, editions=[row for r in site.reports() for row in rows(r)])

    def report_page(request: Request) -> Response:
        report = request.path_params["report"]
        site.archive(report)
        return _page(pages, INDEX, request, site, editions=rows(report))

    def edition_page(request: Request) -> Response:
        report, name = request.path_params["report"], request.path_params["edition"]
        archive = site.archive(report)
        versions = _versions_or_404(archive, name)
        try:
            delivered = read_deliveries(archive / LEDGER_FILE, report, name)
        except sqlite3.Error as exc:  # the page still lists the versions; the ledger is an addition
            log.error("deliveries of %s/%s cannot be read: %s", report, name, exc)
            delivered = {}
        sent = {version: [(mask_address(r.address), r.sent_at) for r in records if r.status == "sent"]
                for version, records in delivered.items()}
        return _page(pages, EDITION, request, site, report=report, edition=name, versions=versions,
                     latest=versions[0], delivered=sent, against_previous=_against_previous(archive, versions),
                     previous_edition=previous_edition(archive, name))

    def compare_versions(request: Request) -> Response:
        report, name, a, b = (request.path_params[k] for k in ("report", "edition", "a", "b"))
        archive = site.archive(report)
        before, after = _version_or_404(archive, name, a), _version_or_404(archive, name, b)
        return _compare_page(request, report, archive, before, after, "same_period")

    def compare_editions(request: Request) -> Response:
        report, a, b = (request.path_params[k] for k in ("report", "edition_a", "edition_b"))
        archive = site.archive(report)
        before, after = _latest_or_404(archive, a), _latest_or_404(archive, b)
        return _compare_page(request, report, archive, before, after, "latest")

    def _compare_page(request: Request, report: str, archive: Path, before: PublishedVersion,
                      after: PublishedVersion, key: Key) -> Response:
        changed_only = request.query_params.get("changed") == "1"
        old, new = compare_rows.figures_or_none(archive, before), compare_rows.figures_or_none(archive, after)
        changes = compare(old, new, key=key) if old is not None and new is not None else None
        return _page(pages, COMPARE, request, site, report=report, before=before, after=after,
                     editions=key == "latest", changed_only=changed_only, changes=changes,
                     rows=compare_rows.rows(changes, changed_only=changed_only) if changes is not None else [],
                     missing=[v for v, f in ((before, old), (after, new)) if f is None],
                     pages_differ=differing_pages(before, after))

    def version_file(request: Request) -> Response:
        report, name, version, filename = (request.path_params[k] for k in ("report", "edition", "version",
                                                                             "filename"))
        archive = site.archive(report)
        try:
            found = get_version(archive, name, version)
        except PublishError as exc:
            raise HTTPException(404, detail=str(exc)) from exc
        kinds = {found.pdf_path.name: "pdf", found.html_path.name: "html"}
        if filename not in kinds:
            raise HTTPException(404, detail=f"{filename!r} is not a file of {report}/{name}/{version}")
        return serve_archived(request, site.archive_root, found, kinds[filename], VERSIONED_CACHE)

    def latest_file(request: Request) -> Response:
        archive = site.archive(request.path_params["report"])
        match = _LATEST_FILE.fullmatch(request.path_params["filename"])
        if match is None:
            raise HTTPException(404, detail="not an <edition>.pdf or <edition>.html name")
        name, kind = match.groups()
        return serve_archived(request, site.archive_root, _latest_or_404(archive, name), kind, LATEST_CACHE)

    async def not_found(request: Request, exc: Exception) -> Response:
        detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
        raw = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        suspicious = any(marker in raw.lower() for marker in _TRAVERSAL_MARKERS)
        log.log(
            logging.WARNING if suspicious or detail != "Not Found" else logging.INFO,
            "404 for %s %r from %s%s: %s",
            request.method,
            raw,
            request.client.host if request.client else "?",
            " (path traversal attempt)" if suspicious else "",
            detail,
        )
        return _page(pages, NOT_FOUND, request, site, status_code=404)

    return Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/{report}", report_page, methods=["GET"]),
            Route("/{report}/editions/{edition}", edition_page, methods=["GET"]),
            Route("/{report}/editions/{edition}/{version}/{filename}", version_file, methods=["GET"]),
            Route("/{report}/latest/{filename}", latest_file, methods=["GET"]),
            Route("/{report}/compare/{edition}/{a}/{b}", compare_versions, methods=["GET"]),
            Route("/{report}/compare-editions/{edition_a}/{edition_b}", compare_editions, methods=["GET"]),
        ],
        exception_handlers={404: not_found},
    )


def _versions_or_404(archive: Path, edition: str) -> list[PublishedVersion]:
    try:
        versions = history(archive, edition)
    except PublishError as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    if not versions:
        raise HTTPException(404, detail=f"edition {edition} has no published version")
    return versions


def _version_or_404(archive: Path, edition: str, version: str) -> PublishedVersion:
    """One committed version; a name that is no edition or version id, or no such version, is a 404."""
    try:
        return get_version(archive, edition, version)
    except PublishError as exc:
        raise HTTPException(404, detail=str(exc)) from exc


def _latest_or_404(archive: Path, edition: str) -> PublishedVersion:
    try:
        found = latest(archive, edition)
    except PublishError as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    if found is None:
        raise HTTPException(404, detail=f"edition {edition} has no published version")
    return found


def _against_previous(archive: Path, versions: list[PublishedVersion]) -> dict[str, dict[str, object]]:
    """For each version (newest first) whose snapshot and the one of the version before it both exist: that
    version and how many figures moved, were added, were removed. A snapshot that cannot be read is logged and
    left out, so the page still lists every version."""
    figures: dict[str, list[FigureValue] | None] = {}
    for v in versions:
        try:
            figures[v.version] = load_figures(archive, v.edition, v.version)
        except PublishError as exc:
            log.error("figures of %s/%s cannot be read: %s", v.edition, v.version, exc)
            figures[v.version] = None
    found: dict[str, dict[str, object]] = {}
    for newer, older in itertools.pairwise(versions):
        a, b = figures[older.version], figures[newer.version]
        if a is not None and b is not None:
            changes = compare(a, b, key="same_period")
            found[newer.version] = {"previous": older.version, "count": changes.count, "added": len(changes.added),
                                    "removed": len(changes.removed)}
    return found


def _page(
    pages: Pages, name: str, request: Request, site: _Site, status_code: int = 200, **context: object
) -> Response:
    """One of the site's own pages, linked from this site's roots."""
    return pages.response(
        name, root=site.link_root(), share_root=site.share_root(request), status_code=status_code, **context
    )
