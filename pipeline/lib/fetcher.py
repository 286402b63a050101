"""The only way the PDF renderer may load a resource: files inside the project's own folders, and data: URLs.

WeasyPrint's default fetcher follows any file:// or http(s):// URL, so a stylesheet or image reference could read
a secret file or reach the network. Here every other request is refused and the reason logged; the renderer treats
the logged refusal as a failure (`render.warnings_as_errors`), so a report that asked for something it may not
have is never published with a hole in it."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint.urls import URLFetcher

log = logging.getLogger("pipeline.fetcher")

#: How much of a refused URL goes into the log: enough to find it, not a data: URL of megabytes.
URL_SHOWN = 200


class ProjectURLFetcher(URLFetcher):
    """A URLFetcher limited to `data:` and to `file:` paths under the allowed roots (symlinks followed first)."""

    def __init__(self, roots: list[Path]):
        super().__init__(allowed_protocols={"file", "data"}, allow_redirects=False, timeout=1)
        self.roots = [root.resolve() for root in roots]

    def allows(self, url: str) -> bool:
        """True for data: URLs and for local file: URLs whose real path lies under one of the roots.

        The path is decoded (%2e%2e is ..) and resolved (symlinks, ..) before it is compared, and anything that
        cannot be parsed or resolved is refused, never guessed."""
        try:
            parsed = urlsplit(url)
            if parsed.scheme == "data":
                return True
            if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
                return False
            path = Path(unquote(parsed.path, errors="strict")).resolve()
        except (ValueError, OSError, UnicodeDecodeError):
            return False
        return any(path.is_relative_to(root) for root in self.roots)

    def fetch(self, url: str, headers: dict | None = None):
        if not self.allows(url):
            log.warning("refused to fetch %s: only data: URLs and files under %s are allowed",
                        url[:URL_SHOWN], ", ".join(map(str, self.roots)))
            raise ValueError(f"fetch refused by the project's URL policy: {url[:URL_SHOWN]}")
        return super().fetch(url, headers)
