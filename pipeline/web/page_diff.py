"""Which pages of two published PDFs differ, and how: the compare page's answer to "where do I look?".

The text of each page is read back from the PDFs themselves (pypdf, through `pdf_facts`), so the answer is
about what a reader sees, not about the figures alone: a changed sentence, a moved table row, a page that
appeared. Page i of one is set against page i of the other; each differing page gets a short line diff.
Texts are cached by the PDF's sha256, which the manifest already holds, so a page of comparisons reads each
PDF once per server process."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from pipeline.lib.pdf_facts import read_pdf
from pipeline.lib.publish import PublishedVersion

#: Lines of diff shown per differing page; the rest are counted.
MAX_LINES = 12


@dataclass(frozen=True)
class PageDiff:
    page: int  # 1-based
    removed: tuple[str, ...]  # lines only in the earlier PDF's page (at most MAX_LINES)
    added: tuple[str, ...]  # lines only in the later one's
    more: int  # changed lines left out


#: Page lines by PDF sha256 (bounded: a long-running site compares many versions).
_CACHE: dict[str, tuple[tuple[str, ...], ...]] = {}
CACHE_SIZE = 64


def page_lines(version: PublishedVersion) -> tuple[tuple[str, ...], ...]:
    """The non-empty lines of each page of a version's PDF."""
    if version.sha256 not in _CACHE:
        if len(_CACHE) >= CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        pages = read_pdf(version.pdf_path.read_bytes()).page_texts
        _CACHE[version.sha256] = tuple(tuple(line.strip() for line in text.splitlines() if line.strip())
                                       for text in pages)
    return _CACHE[version.sha256]


def differing_pages(before: PublishedVersion, after: PublishedVersion) -> list[PageDiff]:
    """Every page whose text differs, with the lines that went and came; identical PDFs give []."""
    if before.sha256 == after.sha256:
        return []
    old, new = page_lines(before), page_lines(after)
    found = []
    for index in range(max(len(old), len(new))):
        a = old[index] if index < len(old) else ()
        b = new[index] if index < len(new) else ()
        if a == b:
            continue
        removed: list[str] = []
        added: list[str] = []
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
            if tag != "equal":
                removed.extend(a[i1:i2])
                added.extend(b[j1:j2])
        shown_removed, shown_added = removed[:MAX_LINES // 2], added[:MAX_LINES // 2]
        more = len(removed) + len(added) - len(shown_removed) - len(shown_added)
        found.append(PageDiff(index + 1, tuple(shown_removed), tuple(shown_added), more))
    return found
