"""The download site: a read-only view of the published archive (see pipeline.lib.publish).

Readers want the newest PDF, the earlier ones, and a link they can share; they never open Dagster. Every
URL is built from names that pass the archive's own patterns (edition, version, file name), never from a
path taken from the request, and every file is resolved (symlinks followed) and checked to be inside the
archive before it is served. Anything else is a 404, logged on the "pipeline.web" logger.

Files go out through Starlette's FileResponse, which streams from disk and answers Range requests
(206 with Content-Range; checked against starlette 1.10). This module adds what FileResponse leaves to the
caller: a content ETag (the sha256 from the manifest), 304 on If-None-Match / If-Modified-Since, and a
Content-Disposition whose RFC 5987 ``filename*`` carries a Chinese title intact with an ASCII fallback.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.staticfiles import NotModifiedResponse
from starlette.types import Receive, Scope, Send

from pipeline.lib.publish import (
    EDITION_PATTERN,
    PublishedVersion,
    PublishError,
    editions,
    get_version,
    history,
    html_name,
    latest,
    pdf_name,
)
from pipeline.web.pages import EDITION, INDEX, NOT_FOUND, Pages

log = logging.getLogger("pipeline.web")

#: The report's HTML may carry inline styles, embedded fonts and data: images, but fetches nothing outside. Its
#: interactive charts are inline scripts (vega-embed), and Vega compiles chart expressions with `Function`, hence
#: 'unsafe-inline' 'unsafe-eval' for scripts; text from the data is escaped, so no script can come from a source.
REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline' 'self'; "
    "img-src data: 'self'; font-src data: 'self'; "
    "base-uri 'none'; form-action 'none'"
)
#: A version's files never change, but an edition wiped by hand restarts at v0001: a day, not forever.
VERSIONED_CACHE = "public, max-age=86400"
#: /latest/ moves with every publish: always revalidate (cheap thanks to the ETag).
LATEST_CACHE = "no-cache"

_LATEST_FILE = re.compile(rf"({EDITION_PATTERN.pattern})\.(pdf|html)")
#: Signs that a request probes for files outside the served names (parent folders, encoded slashes, dot files).
_TRAVERSAL_MARKERS = ("..", "%2e", "%2f", "%5c", "\\", "//", "%00", "/.")
_UNSAFE_IN_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


# --- headers --------------------------------------------------------------------------------------------


def content_disposition(disposition: str, ascii_name: str, display_name: str) -> str:
    """A Content-Disposition that keeps a Chinese file name: ``filename`` is the ASCII fallback for old
    clients, ``filename*`` (RFC 5987/6266) the UTF-8 name every current browser prefers."""
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(display_name, safe='')}"


def display_filename(version: PublishedVersion, suffix: str) -> str:
    """What a download is saved as: the report's title (if it has one) plus edition and version."""
    base = f"{version.edition}_{version.version}"
    if version.title:
        title = _UNSAFE_IN_FILENAME.sub("_", version.title).strip(" ._")[:80]
        if title:
            base = f"{title}_{base}"
    return f"{base}.{suffix}"


def is_not_modified(request_headers: Headers, etag: str, last_modified: str) -> bool:
    """RFC 9110 conditional GET: If-None-Match wins over If-Modified-Since; weak comparison for ETags."""
    if_none_match = request_headers.get("if-none-match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or etag.removeprefix("W/") in tags
    if_modified_since = request_headers.get("if-modified-since")
    if if_modified_since:
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
    return False


# --- the app --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Site:
    """What every handler needs: where the archive is and how links start."""

    archive_root: Path
    base_url: str

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

    def index(request: Request) -> Response:
        rows = []
        for name in editions(site.archive_root):
            try:
                newest = latest(site.archive_root, name)
                count = len(history(site.archive_root, name))
            except PublishError as exc:
                log.error("edition %s cannot be read: %s", name, exc)
                continue
            if newest is not None:
                rows.append({"edition": name, "latest": newest, "count": count})
        return _page(pages, INDEX, request, site, editions=rows)

    def edition_page(request: Request) -> Response:
        name = request.path_params["edition"]
        versions = _versions_or_404(site, name)
        return _page(pages, EDITION, request, site, edition=name, versions=versions, latest=versions[0])

    def version_file(request: Request) -> Response:
        name, version, filename = (request.path_params[k] for k in ("edition", "version", "filename"))
        try:
            found = get_version(site.archive_root, name, version)
        except PublishError as exc:
            raise HTTPException(404, detail=str(exc)) from exc
        kinds = {found.pdf_path.name: "pdf", found.html_path.name: "html"}
        if filename not in kinds:
            raise HTTPException(404, detail=f"{filename!r} is not a file of {name}/{version}")
        return _serve(request, site, found, kinds[filename], VERSIONED_CACHE)

    def latest_file(request: Request) -> Response:
        match = _LATEST_FILE.fullmatch(request.path_params["filename"])
        if match is None:
            raise HTTPException(404, detail="not an <edition>.pdf or <edition>.html name")
        name, kind = match.groups()
        try:
            found = latest(site.archive_root, name)
        except PublishError as exc:
            raise HTTPException(404, detail=str(exc)) from exc
        if found is None:
            raise HTTPException(404, detail=f"edition {name} has no published version")
        return _serve(request, site, found, kind, LATEST_CACHE)

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
            Route("/editions/{edition}", edition_page, methods=["GET"]),
            Route("/editions/{edition}/{version}/{filename}", version_file, methods=["GET"]),
            Route("/latest/{filename}", latest_file, methods=["GET"]),
        ],
        exception_handlers={404: not_found},
    )


def _versions_or_404(site: _Site, edition: str) -> list[PublishedVersion]:
    try:
        versions = history(site.archive_root, edition)
    except PublishError as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    if not versions:
        raise HTTPException(404, detail=f"edition {edition} has no published version")
    return versions


def _serve(request: Request, site: _Site, version: PublishedVersion, kind: str, cache_control: str) -> Response:
    """Stream one archived file, after checking that it really is inside the archive."""
    path = version.pdf_path if kind == "pdf" else version.html_path
    try:
        resolved = path.resolve(strict=True)
        stat_result = resolved.stat()
    except OSError as exc:
        raise HTTPException(404, detail=f"{path}: {exc}") from exc
    if not resolved.is_relative_to(site.archive_root.resolve()):
        raise HTTPException(404, detail=f"{path} leads outside the archive, to {resolved}")

    etag_hash = version.sha256 if kind == "pdf" else version.html_sha256
    ascii_name = (pdf_name if kind == "pdf" else html_name)(version.edition, version.version)
    headers = {
        "cache-control": cache_control,
        "content-disposition": content_disposition(
            "attachment" if kind == "pdf" else "inline", ascii_name, display_filename(version, kind)
        ),
        "x-content-type-options": "nosniff",
    }
    if etag_hash:
        headers["etag"] = f'"{etag_hash}"'
    if kind == "html":
        headers["content-security-policy"] = REPORT_CSP
    response = _ArchiveFile(
        resolved,
        headers=headers,
        media_type="application/pdf" if kind == "pdf" else "text/html",
        stat_result=stat_result,
    )
    if is_not_modified(request.headers, response.headers["etag"], response.headers["last-modified"]):
        return NotModifiedResponse(response.headers)
    return response


class _ArchiveFile(FileResponse):
    """FileResponse, except that a Range header in a unit other than bytes is ignored (the whole file, 200), as
    RFC 9110 (section 14.2) says a server does with a unit it does not know; Starlette answers those with 400."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        unit = Headers(scope=scope).get("range", "bytes=").split("=", 1)[0].strip().lower()
        if unit != "bytes":
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"range"]}
        await super().__call__(scope, receive, send)


def _page(
    pages: Pages, name: str, request: Request, site: _Site, status_code: int = 200, **context: object
) -> Response:
    """One of the site's own pages, linked from this site's roots."""
    return pages.response(
        name, root=site.link_root(), share_root=site.share_root(request), status_code=status_code, **context
    )
