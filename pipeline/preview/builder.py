"""The preview's build cache: rebuild one edition with the pipeline's stage functions (`pipeline.lib.build`),
keeping the last analysis and charts in memory keyed by the edition's data fingerprint. After a template-only
change only the template-dependent steps run (HTML, then PDF); the data is not read, re-validated or re-analysed
and the charts are not redrawn. A change to the edition's files runs everything again (unless the bytes are
unchanged, e.g. a file was only touched). Each result goes to a `State`, which the server shows."""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import Paths
from pipeline.lib.atomic import write_bytes
from pipeline.preview import watcher
from pipeline.preview.state import Snapshot, State

if TYPE_CHECKING:
    from pipeline.lib.build import Analysis

#: Steps that depend on the edition's data; skipped when its fingerprint is unchanged.
DATA_STEPS = ("read", "validate", "analyse", "charts")
#: Steps that depend on the templates (and on the data through the analysis); run on every rebuild.
TEMPLATE_STEPS = ("html", "pdf")


@dataclass
class BuildRecord:
    """One rebuild: what triggered it, which steps ran, which were reused, how long each took, and the outcome."""

    number: int
    trigger: str  # "start", "templates", "sources" or "templates+sources"
    changed: list[str]
    started_at: float  # time.time()
    ran: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    html_seconds: float | None = None  # from the start of the build until the new page was served
    seconds: float = 0.0
    ok: bool = False
    error: str | None = None
    fingerprint: str | None = None

    def summary(self) -> str:
        head = f"build {self.number} ({self.trigger}" + (f": {', '.join(self.changed[:4])}" if self.changed else "")
        head += ", …)" if len(self.changed) > 4 else ")"
        steps = ", ".join(f"{s} {self.timings[s]:.2f}s" for s in self.ran if s in self.timings)
        reused = f"; reused {', '.join(self.reused)}" if self.reused else ""
        if self.ok:
            return f"{head}: ran {steps} in {self.seconds:.2f} s{reused}"
        return f"{head} FAILED after {self.seconds:.2f} s (ran {steps or 'nothing'}{reused}):\n{self.error}"


def describe(error: BaseException) -> str:
    """A message a person can act on: ours and Jinja's as they are (with the template line), others with a type."""
    import jinja2

    from pipeline.lib.errors import ReportError

    if isinstance(error, jinja2.TemplateSyntaxError):
        return f"template {error.filename or error.name}, line {error.lineno}: {error.message}"
    if isinstance(error, jinja2.TemplateError):
        line = next((f"{Path(frame.filename).name}, line {frame.lineno}: "
                     for frame in reversed(traceback.extract_tb(error.__traceback__))
                     if frame.filename.endswith(".j2")), "")
        return f"template {line}{error}"
    if isinstance(error, ReportError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def unexpected(error: BaseException) -> bool:
    """True for errors that are not a data, template or renderer problem: a bug worth a traceback."""
    import jinja2

    from pipeline.lib.errors import ReportError

    return not isinstance(error, ReportError | jinja2.TemplateError | OSError)


class Preview:
    """Builds one edition on demand, reusing the analysis and charts while the data fingerprint is unchanged, and
    puts each outcome in `state`: the new pages and PDF, or the error (the last good pages stay)."""

    def __init__(self, paths: Paths, edition: str, out_dir: Path, echo: Callable[[str, bool], None] | None = None,
                 state: State | None = None):
        self.paths = paths
        self.edition = edition
        self.out_dir = out_dir
        self.echo = echo or (lambda line, failed: None)
        self.state = state or State()
        self._cache: tuple[str, Analysis, list] | None = None  # (fingerprint, Analysis, charts)
        self._build_lock = threading.Lock()  # one build at a time
        self._builds = 0

    @property
    def log(self) -> deque[BuildRecord]:
        return self.state.log

    def snapshot(self) -> Snapshot:
        return self.state.snapshot()

    def paths_of(self) -> dict[str, Path]:
        stem = self.out_dir / self.edition
        return {"html": stem.with_suffix(".html"), "print": stem.with_suffix(".print.html"),
                "pdf": stem.with_suffix(".pdf")}

    def build(self, trigger: str = "start", changed: Iterable[str] = ()) -> BuildRecord:
        """Rebuild now. Data steps run only when the edition's fingerprint differs from the cached analysis."""
        with self._build_lock:
            self._builds += 1
            record = BuildRecord(self._builds, trigger, sorted(changed), time.time())
            start = time.perf_counter()
            self.state.update(bump=False, building=True)
            try:
                self._run(record, start)
                record.ok = True
            except Exception as error:
                record.error = describe(error)
                if unexpected(error):
                    record.error += "\n" + "".join(traceback.format_exception(error)).rstrip()
                self.state.update(bump=True, error=record.error, error_build=record.number)
            finally:
                record.seconds = time.perf_counter() - start
                self.state.finished(record)
            self.echo(record.summary(), not record.ok)
            return record

    def watch(self, stop: threading.Event) -> None:
        """Build once, then on every change to the templates or this edition's folder, until `stop` is set."""
        watcher.watch(self.paths.templates, self.paths.sources, self.edition, stop, self.build)

    def _run(self, record: BuildRecord, start: float) -> None:
        from pipeline.lib.build import analyse, embedded_sources, make_pdf, render_pages
        from pipeline.lib.chart_cache import report_charts
        from pipeline.lib.report_def import load_report, report_definition_version
        from pipeline.lib.sources import edition_dir, fingerprint, read_edition
        from pipeline.lib.validate import validate_edition

        @contextmanager
        def step(name: str) -> Iterator[None]:
            began = time.perf_counter()
            record.ran.append(name)
            try:
                yield
            finally:
                record.timings[name] = time.perf_counter() - began

        definition = report_definition_version(self.paths.templates)
        current = fingerprint(edition_dir(self.paths.sources, self.edition)) + definition
        if self._cache is not None and self._cache[0] == current:
            _, analysis, charts = self._cache
            record.reused = list(DATA_STEPS)
        else:
            self._cache = None  # a failed rebuild must not leave a stale analysis under a new fingerprint
            with step("read"):
                raw = read_edition(self.paths.sources, self.edition)
            with step("validate"):
                validated = validate_edition(raw)
            with step("analyse"):
                load_report.cache_clear()  # report.toml or charts.py may have changed: read the report afresh
                analysis = analyse(load_report(self.paths.templates), validated)
            with step("charts"):
                charts = report_charts(analysis.figures, analysis.report, self.paths.fonts, analysis.tables)
            current = raw.fingerprint + definition  # what was actually read, in case a file changed in between
            self._cache = (current, analysis, charts)
        record.fingerprint = current
        files = self.paths_of()
        with step("html"):
            pages = render_pages(self.paths.templates, analysis, charts)
            write_bytes(files["html"], pages.interactive.encode(), durable=False)
            write_bytes(files["print"], pages.print.encode(), durable=False)
        record.html_seconds = time.perf_counter() - start
        # The page reloads as soon as its HTML is ready; the PDF follows. A PDF failure is reported like any other.
        self.state.update(bump=True, interactive=pages.interactive, print_html=pages.print, error=None,
                          error_build=None, good_build=record.number)
        with step("pdf"):
            pdf = make_pdf(self.paths, pages.print, embedded_sources(analysis.edition, pages, analysis.report.report_id))
            write_bytes(files["pdf"], pdf.data, durable=False)
        self.state.update(bump=False, pdf=pdf.data)
