"""``python -m pipeline.preview --edition E``: rebuild one edition on every change to templates/ or its sources, and
reload the page in the browser.

The preview is a warm process that calls the pipeline's stage functions (`pipeline.lib.build`) directly, not
Dagster: the point is a short edit loop. It keeps the last analysis and charts in memory keyed by the edition's
data fingerprint, so after a template-only change only the template-dependent steps run (HTML, then PDF); the
data is not read, re-validated or re-analysed and the charts are not redrawn. A change to the edition's files runs
everything again (unless the bytes are unchanged, e.g. a file was only touched).

The HTML and PDF go to a preview folder (default ``reports/.preview/<edition>/``, a dot folder the published
archive ignores), never into the archive. The interactive HTML is served on loopback with a small script added
that long-polls ``/_preview/version`` and reloads the page when a rebuild finished (offline, no CDN). A failed
build (bad data, a template error, a renderer warning) is shown in a banner over the last good page and printed
in the terminal; the last good HTML and PDF stay.

Routes: ``/`` the interactive report, ``/print`` the print HTML, ``/report.pdf`` the PDF, ``/_preview/version``
(``?since=N`` waits up to 20 s for a newer version) and ``/_preview/log`` (the build records as JSON)."""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pipeline.config import DEFAULT_EDITION, Paths
from pipeline.lib.atomic import write_bytes

#: Steps that depend on the edition's data; skipped when its fingerprint is unchanged.
DATA_STEPS = ("read", "validate", "analyse", "charts")
#: Steps that depend on the templates (and on the data through the analysis); run on every rebuild.
TEMPLATE_STEPS = ("html", "pdf")
#: How long a ``/_preview/version?since=N`` request waits for a newer version before answering anyway.
LONG_POLL_SECONDS = 20.0
#: Build records kept for ``/_preview/log``.
LOG_LENGTH = 200

CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
       "img-src data: blob:; font-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'")

_RELOAD = """
<div id="preview-status" style="position:fixed;right:8px;bottom:8px;z-index:2147483647;padding:2px 8px;
  font:12px sans-serif;background:#1f4e79;color:#fff;border-radius:3px;opacity:.85">预览 · build {version}</div>
<script>
(function () {
  var version = __VERSION__;
  var key = "pipeline-preview-scroll";
  window.addEventListener("load", function () {
    var y = sessionStorage.getItem(key);
    if (y !== null) { sessionStorage.removeItem(key); window.scrollTo(0, Number(y)); }
  });
  function poll() {
    fetch("/_preview/version?since=" + version, {cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.version !== version) {
          sessionStorage.setItem(key, String(window.scrollY));
          location.reload();
        } else {
          poll();
        }
      })
      .catch(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
</script>
"""

_ERROR_BANNER = """
<div id="preview-error" role="alert" style="position:fixed;left:0;right:0;top:0;z-index:2147483647;max-height:45vh;
  overflow:auto;margin:0;padding:10px 14px;background:#fdecea;color:#611a15;border-bottom:2px solid #c0392b;
  font:13px/1.5 monospace;white-space:pre-wrap">构建失败（仍显示上一次成功的预览）— build {number} failed:
{message}</div>
"""

_PLACEHOLDER = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>预览 · {edition}</title></head>
<body style="font:15px sans-serif;margin:2em"><p>{text}</p></body></html>
"""


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


@dataclass(frozen=True)
class Snapshot:
    """What the server shows: the last good pages and PDF, and the error of the last build if it failed."""

    version: int
    interactive: str | None
    print_html: str | None
    pdf: bytes | None
    error: str | None
    error_build: int | None
    building: bool
    good_build: int | None


def _describe(error: BaseException) -> str:
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


class Preview:
    """Builds one edition on demand, reusing the analysis and charts while the data fingerprint is unchanged."""

    def __init__(self, paths: Paths, edition: str, out_dir: Path, echo: Callable[[str, bool], None] | None = None):
        self.paths = paths
        self.edition = edition
        self.out_dir = out_dir
        self.echo = echo or (lambda line, failed: None)
        self._cache: tuple[str, object, list] | None = None  # (fingerprint, Analysis, charts)
        self._build_lock = threading.Lock()  # one build at a time
        self._changed = threading.Condition()  # guards the fields below; notified on every new version
        self._version = 0
        self._interactive: str | None = None
        self._print: str | None = None
        self._pdf: bytes | None = None
        self._error: str | None = None
        self._error_build: int | None = None
        self._good_build: int | None = None
        self._building = False
        self._builds = 0
        self.log: deque[BuildRecord] = deque(maxlen=LOG_LENGTH)

    # --- what the server reads ---------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        with self._changed:
            return Snapshot(self._version, self._interactive, self._print, self._pdf, self._error,
                            self._error_build, self._building, self._good_build)

    def wait_for_version(self, since: int, timeout: float) -> int:
        """Block until the version differs from `since` (or the timeout passes); returns the current version."""
        with self._changed:
            self._changed.wait_for(lambda: self._version != since, timeout=timeout)
            return self._version

    def records(self) -> list[dict]:
        with self._changed:
            return [asdict(r) for r in self.log]

    def _set(self, bump: bool, **fields: object) -> None:
        """Update what the server shows; `bump` when the page itself changes, so open browsers reload."""
        with self._changed:
            for name, value in fields.items():
                setattr(self, f"_{name}", value)
            if bump:
                self._version += 1
                self._changed.notify_all()

    # --- building ----------------------------------------------------------------------------------------

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
            with self._changed:
                self._building = True
            try:
                self._run(record, start)
                record.ok = True
            except Exception as error:
                record.error = _describe(error)
                if _unexpected(error):
                    record.error += "\n" + "".join(traceback.format_exception(error)).rstrip()
                self._set(bump=True, error=record.error, error_build=record.number)
            finally:
                record.seconds = time.perf_counter() - start
                with self._changed:
                    self._building = False
                    self.log.append(record)
            self.echo(record.summary(), not record.ok)
            return record

    def _run(self, record: BuildRecord, start: float) -> None:
        from pipeline.lib.build import analyse, make_pdf, render_pages
        from pipeline.lib.charts import build_charts
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

        current = fingerprint(edition_dir(self.paths.sources, self.edition))
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
                analysis = analyse(validated)
            with step("charts"):
                charts = build_charts(analysis.figures, self.paths.fonts)
            current = raw.fingerprint  # what was actually read, in case a file changed in between
            self._cache = (current, analysis, charts)
        record.fingerprint = current
        files = self.paths_of()
        with step("html"):
            pages = render_pages(self.paths.templates, analysis, charts)
            write_bytes(files["html"], pages.interactive.encode(), durable=False)
            write_bytes(files["print"], pages.print.encode(), durable=False)
        record.html_seconds = time.perf_counter() - start
        # The page reloads as soon as its HTML is ready; the PDF follows. A PDF failure is reported like any other.
        self._set(bump=True, interactive=pages.interactive, print=pages.print, error=None, error_build=None,
                  good_build=record.number)
        with step("pdf"):
            pdf = make_pdf(self.paths, pages.print)
            write_bytes(files["pdf"], pdf.data, durable=False)
        self._set(bump=False, pdf=pdf.data)

    # --- watching ----------------------------------------------------------------------------------------

    def classify(self, changes: Iterable[tuple[object, str]]) -> tuple[str | None, list[str]]:
        """Which inputs a batch of (change, path) belongs to ('templates', 'sources' or both) and the file names to
        show. A file that came and went within the batch (an editor's or sed's temporary file) is left out."""
        from watchfiles import Change

        changes = list(changes)
        added = {path for change, path in changes if change == Change.added}
        templates, edition = self.paths.templates.resolve(), (self.paths.sources / self.edition).resolve()
        kinds, names = set(), []
        for _, raw in changes:
            if raw in added and not os.path.lexists(raw):
                continue
            path = Path(raw).resolve()
            if path.is_relative_to(templates):
                kinds.add("templates")
                names.append(f"templates/{path.relative_to(templates).as_posix()}")
            elif path.is_relative_to(edition):
                kinds.add("sources")
                names.append(f"sources/{self.edition}/{path.relative_to(edition).as_posix()}")
        trigger = "+".join(k for k in ("templates", "sources") if k in kinds) or None
        return trigger, sorted(set(names))

    def watch(self, stop: threading.Event) -> None:
        """Build once the watcher is running (so no edit made during the first build is missed), then rebuild on
        every batch of changes to the templates or to this edition's folder, until `stop` is set."""
        import watchfiles

        first = True
        roots = [self.paths.templates, self.paths.sources]
        for changes in watchfiles.watch(*roots, stop_event=stop, yield_on_timeout=True, rust_timeout=500,
                                        debounce=800, step=50, raise_interrupt=False):
            if first:
                first = False
                self.build("start")
            if changes:
                trigger, names = self.classify(changes)
                if trigger:
                    self.build(trigger, names)


def _unexpected(error: BaseException) -> bool:
    """True for errors that are not a data, template or renderer problem: a bug worth a traceback."""
    import jinja2

    from pipeline.lib.errors import ReportError

    return not isinstance(error, ReportError | jinja2.TemplateError | OSError)


def _inject(page: str, snapshot: Snapshot) -> str:
    """The page with the reload script (and the error banner when the last build failed) before </body>."""
    extra = _RELOAD.replace("__VERSION__", str(snapshot.version)).replace("{version}", str(snapshot.good_build))
    if snapshot.error:
        extra = _ERROR_BANNER.format(number=snapshot.error_build, message=html.escape(snapshot.error)) + extra
    at = max((m.start() for m in re.finditer(r"</body\s*>", page, flags=re.IGNORECASE)), default=len(page))
    return page[:at] + extra + page[at:]


class _Handler(BaseHTTPRequestHandler):
    preview: Preview  # set on the subclass made by make_server
    server_version = "pipeline-preview"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:  # requests are not news; builds are
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        route = url.path
        snapshot = self.preview.snapshot()
        if route == "/_preview/version":
            since = parse_qs(url.query).get("since", [None])[0]
            if since is not None and since.lstrip("-").isdigit():
                self.preview.wait_for_version(int(since), LONG_POLL_SECONDS)
                snapshot = self.preview.snapshot()
            body = {"version": snapshot.version, "building": snapshot.building, "error": snapshot.error,
                    "good_build": snapshot.good_build, "pdf": snapshot.pdf is not None}
            return self._send(HTTPStatus.OK, "application/json", json.dumps(body).encode())
        if route == "/_preview/log":
            return self._send(HTTPStatus.OK, "application/json",
                              json.dumps(self.preview.records(), ensure_ascii=False).encode())
        if route in ("/", "/index.html", "/print"):
            page = snapshot.interactive if route != "/print" else snapshot.print_html
            if page is None:
                text = "正在构建预览…" if not snapshot.error else "构建失败，修正后会自动重试。"
                page = _PLACEHOLDER.format(edition=html.escape(self.preview.edition), text=text)
            return self._send(HTTPStatus.OK, "text/html; charset=utf-8", _inject(page, snapshot).encode())
        if route == "/report.pdf":
            if snapshot.pdf is None:
                return self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"no PDF built yet\n")
            return self._send(HTTPStatus.OK, "application/pdf", snapshot.pdf)
        return self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n")

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        self.wfile.write(body)


def make_server(preview: Preview, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("PreviewHandler", (_Handler,), {"preview": preview})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline.preview", description=__doc__.splitlines()[0])
    parser.add_argument("--edition", default=DEFAULT_EDITION, help=f"edition folder in sources/ ({DEFAULT_EDITION})")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port, 0 for any free one (default: 8001)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the preview's HTML and PDF (default: <REPORT_OUTPUT_DIR>/.preview/<edition>)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from pipeline.lib.errors import ReportError
    from pipeline.lib.sources import edition_dir

    args = parse_args(argv)
    paths = Paths.from_env()
    try:
        edition_dir(paths.sources, args.edition)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out_dir = (args.out or paths.reports / ".preview" / args.edition).resolve()

    def echo(line: str, failed: bool) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr if failed else sys.stdout, flush=True)

    preview = Preview(paths, args.edition, out_dir, echo)
    server = make_server(preview, args.host, args.port)
    host, port = server.server_address[:2]
    shown_host = f"[{host}]" if ":" in str(host) else host
    print(f"preview of {args.edition} at http://{shown_host}:{port}/ (PDF: /report.pdf); files in {out_dir}",
          flush=True)
    print(f"watching {paths.templates} and {paths.sources / args.edition}; Ctrl-C stops", flush=True)
    threading.Thread(target=server.serve_forever, name="preview-http", daemon=True).start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        preview.watch(stop)
    finally:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
