"""The report's fonts. A missing CJK font is an error, not a fallback: without it charts silently print tofu or
DejaVu and the PDF picks the Japanese glyph variants."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pipeline.lib.errors import FontMissingError

SANS = "Noto Sans CJK SC"
REQUIRED_FAMILIES = (SANS,)  # the report's one family (templates/report.css says why)
DEBIAN_PACKAGE = "fonts-noto-cjk"
FONT_SUFFIXES = {".ttc", ".otf", ".ttf"}


@cache
def font_files(font_dir: Path) -> tuple[Path, ...]:
    """Every OpenType font file in `font_dir` (recursively), in a stable order; read once per process."""
    return tuple(path for path in sorted(font_dir.rglob("*")) if path.suffix.lower() in FONT_SUFFIXES)


def _families(path: Path) -> set[str]:
    from fontTools.ttLib import TTCollection, TTFont  # here: the chart helper imports this module, not fontTools

    fonts = TTCollection(str(path), lazy=True).fonts if path.suffix == ".ttc" else [TTFont(str(path), lazy=True)]
    return {str(name) for font in fonts for name in font["name"].names if name.nameID == 1}


@cache
def families_in(font_dir: Path) -> frozenset[str]:
    """Family names of every OpenType font file in `font_dir` (recursively)."""
    return frozenset(family for path in font_files(font_dir) for family in _families(path))


def require_fonts(font_dir: Path, families: tuple[str, ...] = REQUIRED_FAMILIES) -> None:
    """Raise `FontMissingError` naming the Debian package unless every family is in `font_dir`."""
    present = families_in(font_dir) if font_dir.is_dir() else frozenset()
    missing = [f for f in families if f not in present]
    if missing:
        raise FontMissingError(
            f"font(s) {', '.join(missing)} not found in {font_dir}; install the Debian package "
            f"'{DEBIAN_PACKAGE}' (make report does this when run as root) or set REPORT_FONT_DIR"
        )
