"""What the caller hands the delivery engine about one published version.

The engine reads nothing from the archive itself: the Dagster asset (or a CLI) already holds these facts, and a
plain value keeps the engine testable without a build."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.lib.deliver.errors import DeliveryError


@dataclass(frozen=True)
class PublishedItem:
    """One published version of one edition, in one language."""

    report_id: str
    report_title: str
    language: str  # the language of report_title, summary and changes, e.g. "zh-CN"
    edition: str
    edition_title: str | None  # shown in the subject instead of the edition's folder name when given
    version: str  # e.g. "v0003"
    pdf_path: Path
    pdf_sha256: str  # as published in the manifest; an attached PDF must have exactly these bytes
    download_url: str
    summary: str
    changes: str | None = None  # "what changed" since the previous version, written by the caller

    def __post_init__(self) -> None:
        for name in ("report_id", "report_title", "language", "edition", "version", "summary"):
            if not str(getattr(self, name)).strip():
                raise DeliveryError(f"published item: {name} is empty")
        # The link goes into an HTML href too: only web links, so no javascript: or file: link is ever mailed.
        if not self.download_url.startswith(("https://", "http://")):
            raise DeliveryError(f"published item: download_url must be an http(s) link (got {self.download_url!r})")
        if len(self.pdf_sha256) != 64 or not all(c in "0123456789abcdef" for c in self.pdf_sha256):
            raise DeliveryError(f"published item: pdf_sha256 must be 64 lowercase hex digits (got {self.pdf_sha256!r})")

    @property
    def shown_edition(self) -> str:
        return self.edition_title or self.edition
