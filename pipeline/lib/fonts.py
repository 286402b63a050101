"""The report's fonts. A missing CJK font is an error, not a fallback: without it charts silently print tofu or
DejaVu and the PDF picks the Japanese glyph variants."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont

from pipeline.lib.errors import FontMissingError

SANS = "Noto Sans CJK SC"
REQUIRED_FAMILIES = (SANS,)  # the report's one family (templates/report.css says why)
DEBIAN_PACKAGE = "fonts-noto-cjk"


def _families(path: Path) -> set[str]:
    fonts = TTCollection(str(path), lazy=True).fonts if path.suffix == ".ttc" else [TTFont(str(path), lazy=True)]
    return {str(name) for font in fonts for name in font["name"].names if name.nameID == 1}


@cache
def families_in(font_dir: Path) -> frozenset[str]:
    """Family names of every OpenType font file in `font_dir` (recursively)."""
    found: set[str] = set()
    for path in sorted(font_dir.rglob("*")):
        if path.suffix.lower() in {".ttc", ".otf", ".ttf"}:
            found |= _families(path)
    return frozenset(found)


def require_fonts(font_dir: Path, families: tuple[str, ...] = REQUIRED_FAMILIES) -> None:
    """Raise `FontMissingError` naming the Debian package unless every family is in `font_dir`."""
    present = families_in(font_dir) if font_dir.is_dir() else frozenset()
    missing = [f for f in families if f not in present]
    if missing:
        raise FontMissingError(
            f"font(s) {', '.join(missing)} not found in {font_dir}; install the Debian package "
            f"'{DEBIAN_PACKAGE}' (make report does this when run as root) or set REPORT_FONT_DIR"
        )
