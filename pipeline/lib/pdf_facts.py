"""What a finished PDF actually contains, read back with pypdf: pages, fonts (embedded? which CJK variant?),
text, outline and metadata. The PDF asset check and the tests both judge the file by these facts."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import cast

from pypdf import PdfReader
from pypdf.generic import DictionaryObject

#: Noto CJK names its regional variants by suffix; only the Simplified Chinese one is right for this report.
CJK_VARIANT = re.compile(r"CJK[-_]?(SC|TC|HK|JP|KR)", re.IGNORECASE)


@dataclass(frozen=True)
class FontFact:
    name: str  # e.g. "TSPJMR+Noto-Sans-CJK-SC"
    embedded: bool

    @property
    def cjk_variant(self) -> str | None:
        match = CJK_VARIANT.search(self.name.replace("CJKsc", "CJK-SC"))
        return match[1].upper() if match else None


@dataclass(frozen=True)
class PdfFacts:
    pages: int
    fonts: list[FontFact]
    page_texts: list[str]
    outline: list[tuple[str, int]]  # (title, 1-based page)
    metadata: dict[str, str]

    @property
    def text(self) -> str:
        return "\n".join(self.page_texts)

    def problems(self) -> list[str]:
        """What makes this PDF unfit to publish: no pages, a font not embedded, a non-SC CJK font, no text."""
        found = []
        if self.pages == 0:
            found.append("the PDF has no pages")
        for font in self.fonts:
            if not font.embedded:
                found.append(f"font {font.name} is not embedded")
            if font.cjk_variant not in (None, "SC"):
                found.append(f"font {font.name} is the {font.cjk_variant} variant; the report needs SC")
        if not any(f.cjk_variant == "SC" for f in self.fonts):
            found.append("no Noto CJK SC font is used")
        if not text_pattern(self.metadata.get("Lang", "")).search(self.text):
            found.append("no Chinese text can be extracted" if _is_chinese(self.metadata.get("Lang", ""))
                         else "no text can be extracted")
        return found


def _font_facts(reader: PdfReader) -> list[FontFact]:
    """Every font of every page, including those of form XObjects (the charts, drawn from SVG images)."""
    seen: dict[str, bool] = {}
    visited: set[int] = set()

    def visit(resources) -> None:
        resources = resources.get_object() if resources is not None else {}
        for ref in (resources.get("/Font") or {}).values():
            font = ref.get_object()
            name = str(font.get("/BaseFont", "")).lstrip("/")
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            embedded = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            seen[name] = seen.get(name, True) and embedded
        for ref in (resources.get("/XObject") or {}).values():
            key = getattr(ref, "idnum", id(ref))  # an XObject used on many pages is read once
            if key not in visited:
                visited.add(key)
                visit(ref.get_object().get("/Resources"))

    for page in reader.pages:
        visit(page.get("/Resources"))
    return [FontFact(name, embedded) for name, embedded in sorted(seen.items())]


def _outline(reader: PdfReader) -> list[tuple[str, int]]:
    flat: list[tuple[str, int]] = []

    def walk(items: list) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                flat.append((str(item.title), cast(int, reader.get_destination_page_number(item)) + 1))

    walk(reader.outline)
    return flat


#: Any CJK unified ideograph: what "Chinese text can be extracted" looks for.
CJK_TEXT = re.compile(r"[\u4e00-\u9fff]")
#: Any letter: what "text can be extracted" looks for in a report in another language.
LETTERS = re.compile(r"[^\W\d_]")


def _is_chinese(lang: str) -> bool:
    return lang.lower().split("-")[0] == "zh" or not lang  # a PDF without /Lang is judged as the Chinese report was


def text_pattern(lang: str) -> re.Pattern[str]:
    """What extracted text must contain for a PDF of this /Lang: Chinese characters for zh, letters otherwise."""
    return CJK_TEXT if _is_chinese(lang) else LETTERS


def _page_texts(reader: PdfReader, full_text: bool, pattern: re.Pattern[str]) -> list[str]:
    texts = []
    for page in reader.pages:
        texts.append(page.extract_text() or "")
        if not full_text and pattern.search(texts[-1]):
            break
    return texts


def read_pdf(data: bytes, *, full_text: bool = True) -> PdfFacts:
    """The facts of a PDF. Text extraction is nearly all of the cost: with full_text=False it stops at the first
    page with text in the PDF's language (Chinese for zh), which is all `PdfFacts.problems()` needs (the publish
    check)."""
    reader = PdfReader(io.BytesIO(data))
    meta = {k.lstrip("/"): str(v) for k, v in (reader.metadata or {}).items()}
    lang = cast(DictionaryObject, reader.trailer["/Root"]).get("/Lang")  # the catalog, a dictionary
    if lang is not None:
        meta["Lang"] = str(lang)
    return PdfFacts(
        pages=len(reader.pages),
        fonts=_font_facts(reader),
        page_texts=_page_texts(reader, full_text, text_pattern(meta.get("Lang", ""))),
        outline=_outline(reader),
        metadata=meta,
    )
