"""Where things live. Paths come from the package location or the environment, never from the working directory,
so the CLI, `dagster dev` and the tests agree wherever they are started."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Debian's fonts-noto-cjk installs here; override with REPORT_FONT_DIR.
DEFAULT_FONT_DIR = Path("/usr/share/fonts/opentype/noto")

#: The edition `make report` builds when none is named.
DEFAULT_EDITION = "xiaomi-ecosystem-2025h1"


@dataclass(frozen=True)
class Paths:
    """The four folders the pipeline reads from or writes to."""

    sources: Path
    reports: Path
    templates: Path
    fonts: Path

    @classmethod
    def from_env(cls) -> Paths:
        def pick(var: str, default: Path) -> Path:
            value = os.environ.get(var)
            return Path(value).resolve() if value else default

        return cls(
            sources=pick("REPORT_SOURCES_DIR", PROJECT_ROOT / "sources"),
            reports=pick("REPORT_OUTPUT_DIR", PROJECT_ROOT / "reports"),
            templates=pick("REPORT_TEMPLATES_DIR", PROJECT_ROOT / "templates"),
            fonts=pick("REPORT_FONT_DIR", DEFAULT_FONT_DIR),
        )
