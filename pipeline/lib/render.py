"""HTML from the Jinja2 template, and PDF from that HTML with WeasyPrint.

Layout (`layout_pdf`, WeasyPrint's `render()`) is separate from export (`Document.write_pdf()`), so tests can look
at pages without writing files. Any renderer warning is a failure: a PDF with a missing font or a dropped
stylesheet rule must never be published."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path

import jinja2
import weasyprint
from markupsafe import Markup

from pipeline.lib import disk_cache
from pipeline.lib.errors import RenderError
from pipeline.lib.fetcher import ProjectURLFetcher
from pipeline.lib.report_context import Numbering, ReportContext


def jinja_env(templates: dict[str, bytes], language: str = "zh-CN") -> jinja2.Environment:
    """Autoescaping everywhere (data is untrusted text) and undefined names as errors (a typo is not a blank); the
    formatting filters (pct, pp, period …) are those of the report's `language` (`formatting.locale_for`).

    Templates come from a snapshot read once per build (`code_version.read_tree`), the same bytes the published
    version's code version is computed from."""
    from pipeline.lib import formatting

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: _template_source(templates, name)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(formatting.locale_for(language).filters())
    return env


def _template_source(templates: dict[str, bytes], name: str) -> tuple[str, str, Callable[[], bool]] | None:
    """A template's text, with its own name as the file name so that errors and tracebacks name the template."""
    if not name.endswith(".j2") or name not in templates:
        return None
    return templates[name].decode("utf-8"), name, lambda: True


def _optional_text(templates: dict[str, bytes], name: str) -> str:
    """A template set may leave out its screen-only stylesheet."""
    return templates[name].decode("utf-8") if name in templates else ""


@cache
def vega_bundle() -> str:
    """vega-embed with Vega and Vega-Lite as one script, for the interactive HTML.

    vl-convert builds it on the first call in a process (over a second); it depends only on vl-convert's version,
    so it is kept on disk (`disk_cache`) and a new process reads it in milliseconds."""
    name = f"vega-embed-vl-convert-{version('vl-convert-python')}.js"
    bundle = disk_cache.read("bundle", name)
    if bundle is None:
        import vl_convert  # here, not at the top: on a cache hit (the usual case) the process never loads it

        # vl_convert's stub makes `snippet` required; at run time it defaults to None (ignored below)
        bundle = vl_convert.javascript_bundle()  # type: ignore[call-arg]
        disk_cache.write("bundle", {name: bundle})
    return bundle


def render_html(context: ReportContext, templates: dict[str, bytes], *, interactive: bool) -> str:
    """The report as one self-contained HTML document.

    interactive=True embeds Vega-Lite specs and the vega-embed bundle inline (tooltips, works offline);
    interactive=False inlines the static SVG charts, which is what the PDF is laid out from. The template is
    rendered twice so that the table of contents and forward references know every number."""
    template = jinja_env(templates, context.report.language).get_template(context.template)
    common = {
        "interactive": interactive,
        "stylesheet": Markup(templates["report.css"].decode("utf-8")),
        "screen_stylesheet": Markup(_optional_text(templates, "report.screen.css")),
        "vega_bundle": Markup(vega_bundle()) if interactive else "",
    }
    numbering = Numbering()
    template.render(**context.as_template_vars(numbering), **common)
    numbering.frozen = True
    return template.render(**context.as_template_vars(numbering), **common)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def warnings_as_errors() -> Iterator[None]:
    """Collect WeasyPrint's warnings during layout and raise them as one RenderError."""
    handler = _Collect()
    loggers = [logging.getLogger("weasyprint"), logging.getLogger("pipeline.fetcher")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    if handler.messages:
        raise RenderError("the PDF renderer reported problems:\n" + "\n".join(f"  - {m}" for m in handler.messages))


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run a block with Python's cyclic garbage collector off, then collect once.

    Layout and export allocate hundreds of thousands of small objects (boxes, styles, text runs); with the
    collector on, the growing heap is walked again and again (measured here: a quarter of WeasyPrint's layout
    time). Nothing in that work needs a cycle freed before it ends, so one collection afterwards does the same job.
    Nested pauses collect once, when the outermost ends."""
    outermost = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if outermost:
            gc.enable()
            gc.collect(0)  # the young generation: everything allocated during the pause is still in it


@dataclass(frozen=True)
class LaidOut:
    document: weasyprint.document.Document

    @property
    def pages(self) -> int:
        return len(self.document.pages)

    def anchor_pages(self) -> dict[str, int]:
        """1-based page number of every anchor (id) in the document, e.g. for checking the TOC."""
        found: dict[str, int] = {}
        for number, page in enumerate(self.document.pages, start=1):
            for anchor in page.anchors:
                found.setdefault(anchor, number)
        return found


def layout_pdf(html: str, templates: Path, fonts: Path) -> LaidOut:
    """Lay out pages (no file written). Only the templates and fonts folders may be read."""
    fetcher = ProjectURLFetcher([templates, fonts])
    with warnings_as_errors(), gc_paused():
        document = weasyprint.HTML(string=html, base_url=str(templates) + "/", url_fetcher=fetcher).render()
    return LaidOut(document)


def write_pdf(laid_out: LaidOut, options: dict[str, object] | None = None) -> bytes:
    """Export the laid-out pages; metadata comes from the HTML head. `options` are WeasyPrint's `write_pdf` options:
    the report passes `pdf_archival.write_options(...)` (PDF/A-3u + PDF/UA-1, sources embedded); without them the
    export is plain, untagged PDF (fragments in tests)."""
    with warnings_as_errors(), gc_paused():
        return laid_out.document.write_pdf(**(options or {}))
