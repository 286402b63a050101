"""The preview's HTTP server (Starlette on uvicorn): the last good page with the live-reload script (and the error
banner when the last build failed), the print HTML, the PDF, and the long-poll the script waits on.

Routes: ``/`` the interactive report, ``/print`` the print HTML, ``/report.pdf`` the PDF, ``/_preview/version``
(``?since=N`` waits up to 20 s for a newer version) and ``/_preview/log`` (the build records as JSON). What is
added to the pages lives in ``pages/`` next to this file, as Jinja templates and a script.

uvicorn runs in a thread of its own on a socket bound beforehand, so the caller knows the port (``--port 0``)
before anything is served and keeps the main thread for the watcher and its signal handlers."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import jinja2
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from pipeline.preview.state import Snapshot, State

#: How long a ``/_preview/version?since=N`` request waits for a newer version before answering anyway.
LONG_POLL_SECONDS = 20.0
#: How long stopping waits for open requests once the long polls have been answered.
SHUTDOWN_SECONDS = 3

#: The report's charts are inline scripts (vega-embed) that compile expressions with `Function`; the reload script
#: is inline too and talks only to this server.
CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
       "img-src data: blob:; font-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'")
#: Every answer is the state of the moment: never cached, never sniffed.
HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff"}

PAGES = Path(__file__).with_name("pages")
_BODY_END = re.compile(r"</body\s*>", flags=re.IGNORECASE)


def page_templates() -> jinja2.Environment:
    """The pages' own markup, autoescaped (the error message is the build's text, not markup)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(PAGES), autoescape=True,
                              undefined=jinja2.StrictUndefined)


def inject(page: str, snapshot: Snapshot, pages: jinja2.Environment) -> str:
    """The page with the reload script (and the error banner when the last build failed) before its last </body>."""
    extra = pages.get_template("reload.html.j2").render(version=snapshot.version, good_build=snapshot.good_build)
    if snapshot.error:
        extra = pages.get_template("error.html.j2").render(number=snapshot.error_build,
                                                            message=snapshot.error) + extra
    at = max((m.start() for m in _BODY_END.finditer(page)), default=len(page))
    return page[:at] + extra + page[at:]


def create_app(state: State, edition: str) -> Starlette:
    """The preview's routes over `state`. Only GET and HEAD exist."""
    pages = page_templates()

    def show(which: str) -> Response:
        snapshot = state.snapshot()
        page = getattr(snapshot, which)
        if page is None:
            page = pages.get_template("placeholder.html.j2").render(edition=edition, failed=bool(snapshot.error))
        return HTMLResponse(inject(page, snapshot, pages), headers={**HEADERS, "content-security-policy": CSP})

    async def interactive(request: Request) -> Response:
        return show("interactive")

    async def print_html(request: Request) -> Response:
        return show("print_html")

    async def pdf(request: Request) -> Response:
        data = state.snapshot().pdf
        if data is None:
            return PlainTextResponse("no PDF built yet\n", status_code=404, headers=HEADERS)
        return Response(data, media_type="application/pdf", headers=HEADERS)

    async def version(request: Request) -> Response:
        since = request.query_params.get("since")
        if since is not None and since.lstrip("-").isdigit():
            await state.wait_for_version(int(since), LONG_POLL_SECONDS)
        s = state.snapshot()
        return JSONResponse({"version": s.version, "building": s.building, "error": s.error,
                             "good_build": s.good_build, "pdf": s.pdf is not None}, headers=HEADERS)

    async def log(request: Request) -> Response:
        return JSONResponse(state.records(), headers=HEADERS)

    async def not_found(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("not found\n", status_code=404, headers=HEADERS)

    return Starlette(
        routes=[
            Route("/", interactive, methods=["GET"]),
            Route("/index.html", interactive, methods=["GET"]),
            Route("/print", print_html, methods=["GET"]),
            Route("/report.pdf", pdf, methods=["GET"]),
            Route("/_preview/version", version, methods=["GET"]),
            Route("/_preview/log", log, methods=["GET"]),
        ],
        exception_handlers={404: not_found},
    )


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on `host` (IPv6 when it has a colon, as uvicorn does) and `port` (0: any free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


@contextmanager
def serving(app: Starlette, sock: socket.socket, on_stop: Callable[[], None] | None = None) -> Iterator[None]:
    """Serve `app` on `sock` from a background thread while the block runs; then stop it, calling `on_stop` once it
    has been told to (to answer requests that would otherwise hold it up), and close `sock`. uvicorn's own logging
    is kept to warnings: the terminal is for the builds."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False, lifespan="off",
                            timeout_graceful_shutdown=SHUTDOWN_SECONDS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="preview-http", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.should_exit = True
        if on_stop is not None:
            on_stop()
        thread.join(timeout=SHUTDOWN_SECONDS + 2)
        sock.close()
