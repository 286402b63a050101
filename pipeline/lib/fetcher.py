"""The only way the PDF renderer may load a resource: files inside the project's own folders, and data: URLs.

WeasyPrint's default fetcher follows any file:// or http(s):// URL, so a stylesheet or image reference could read
a secret file or reach the network. Here every other request is refused and the reason logged."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import unquote, urlparse

from weasyprint.urls import URLFetcher

log = logging.getLogger("pipeline.fetcher")


class ProjectURLFetcher(URLFetcher):
    """A URLFetcher limited to `data:` and to `file:` paths under the allowed roots."""

    def __init__(self, roots: list[Path]):
        super().__init__(allowed_protocols={"file", "data"}, allow_redirects=False, timeout=1)
        self.roots = [root.resolve() for root in roots]

    def allows(self, url: str) -> bool:
        parsed = urlparse(url)
        if parsed.scheme == "data":
            return True
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            return False
        path = Path(unquote(parsed.path)).resolve()
        return any(path.is_relative_to(root) for root in self.roots)

    def fetch(self, url: str, headers: dict | None = None):
        if not self.allows(url):
            log.warning("refused to fetch %s: only data: URLs and files under %s are allowed",
                        url[:200], ", ".join(map(str, self.roots)))
            raise ValueError(f"fetch refused by the project's URL policy: {url[:200]}")
        return super().fetch(url, headers)
