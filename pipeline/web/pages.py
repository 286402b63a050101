"""The site's own pages (the list of editions, one edition's versions, the compare pages, the 404), rendered from the Jinja
templates in pipeline/web/templates/: ``layout.html.j2`` holds what every page shares (head, style, the link
back to the list), the others extend it.

Autoescaping is on, so titles and names from the archive are escaped by Jinja, not by hand, and every page
goes out with a CSP that lets it load nothing from anywhere."""

from __future__ import annotations

import jinja2
from starlette.responses import HTMLResponse

from pipeline.lib.urls import (
    compare_editions_url,
    compare_url,
    download_url,
    edition_url,
    html_url,
    latest_url,
)

#: Our own pages load nothing from anywhere; the favicon is an inline data: URL so browsers don't ask.
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

INDEX = "index.html.j2"
EDITION = "edition.html.j2"
COMPARE = "compare.html.j2"
NOT_FOUND = "404.html.j2"


class Pages:
    """The page templates, loaded once per app from the installed package (see package-data in pyproject)."""

    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("pipeline.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.globals.update(
            size=_size,
            when=_when,
            download_url=download_url,
            html_url=html_url,
            latest_url=latest_url,
            edition_url=edition_url,
            compare_url=compare_url,
            compare_editions_url=compare_editions_url,
        )

    def response(
        self, name: str, *, root: str, share_root: str, status_code: int = 200, **context: object
    ) -> HTMLResponse:
        """Render one page. ``root`` prefixes the links in it; ``share_root`` the links meant to be copied
        elsewhere, which must be absolute."""
        body = self.env.get_template(name).render(root=root, share_root=share_root, **context)
        return HTMLResponse(
            body,
            status_code=status_code,
            headers={"content-security-policy": PAGE_CSP, "x-content-type-options": "nosniff"},
        )


def _size(value: int) -> str:
    """Sizes as readers say them (KB/MB, one decimal)."""
    if value < 1024:
        return f"{value} B"
    if value < 1024 * 1024:
        return f"{value / 1024:.1f} KB"
    return f"{value / (1024 * 1024):.1f} MB"


def _when(iso: str) -> str:
    """``2025-07-01T08:30:00Z`` → ``2025-07-01 08:30 UTC``."""
    return iso.replace("T", " ").removesuffix("Z")[:16] + " UTC"
