"""Serving one archived file: the checks before it goes out and the headers it goes out with.

Files go out through Starlette's FileResponse, which streams from disk and answers Range requests
(206 with Content-Range; checked against starlette 1.10). This module adds what FileResponse leaves to the
caller: the check that the file, symlinks followed, is inside the archive; a content ETag (the sha256 from
the manifest); 304 on If-None-Match / If-Modified-Since; and a Content-Disposition whose RFC 5987
``filename*`` carries a Chinese title intact with an ASCII fallback.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import cast
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse
from starlette.types import Receive, Scope, Send

from pipeline.lib.publish import PublishedVersion, html_name, pdf_name

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

_UNSAFE_IN_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def serve_archived(
    request: Request, archive_root: Path, version: PublishedVersion, kind: str, cache_control: str
) -> Response:
    """Stream one archived file (``kind`` is ``pdf`` or ``html``), after checking that it really is inside
    ``archive_root``; a 404 (HTTPException) if it is missing or leads outside."""
    # The site serves a local archive (archive_root is a Path), so its versions' paths are local too.
    path = cast(Path, version.pdf_path if kind == "pdf" else version.html_path)
    try:
        resolved = path.resolve(strict=True)
        stat_result = resolved.stat()
    except OSError as exc:
        raise HTTPException(404, detail=f"{path}: {exc}") from exc
    if not resolved.is_relative_to(archive_root.resolve()):
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


class _ArchiveFile(FileResponse):
    """FileResponse, except that a Range header in a unit other than bytes is ignored (the whole file, 200), as
    RFC 9110 (section 14.2) says a server does with a unit it does not know; Starlette answers those with 400."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        unit = Headers(scope=scope).get("range", "bytes=").split("=", 1)[0].strip().lower()
        if unit != "bytes":
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"range"]}
        await super().__call__(scope, receive, send)
