"""The preview's HTTP server: the last good page with a live-reload script (and the error banner when the last
build failed), the print HTML, the PDF, and the long-poll the script uses.

Routes: ``/`` the interactive report, ``/print`` the print HTML, ``/report.pdf`` the PDF, ``/_preview/version``
(``?since=N`` waits up to 20 s for a newer version) and ``/_preview/log`` (the build records as JSON)."""

from __future__ import annotations

import html
import json
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from pipeline.preview.state import Snapshot, State

#: How long a ``/_preview/version?since=N`` request waits for a newer version before answering anyway.
LONG_POLL_SECONDS = 20.0

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


def _inject(page: str, snapshot: Snapshot) -> str:
    """The page with the reload script (and the error banner when the last build failed) before </body>."""
    extra = _RELOAD.replace("__VERSION__", str(snapshot.version)).replace("{version}", str(snapshot.good_build))
    if snapshot.error:
        extra = _ERROR_BANNER.format(number=snapshot.error_build, message=html.escape(snapshot.error)) + extra
    at = max((m.start() for m in re.finditer(r"</body\s*>", page, flags=re.IGNORECASE)), default=len(page))
    return page[:at] + extra + page[at:]


class _Handler(BaseHTTPRequestHandler):
    state: State  # set on the subclass made by make_server
    edition: str
    server_version = "pipeline-preview"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:  # requests are not news; builds are
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        route = url.path
        snapshot = self.state.snapshot()
        if route == "/_preview/version":
            since = parse_qs(url.query).get("since", [None])[0]
            if since is not None and since.lstrip("-").isdigit():
                self.state.wait_for_version(int(since), LONG_POLL_SECONDS)
                snapshot = self.state.snapshot()
            body = {"version": snapshot.version, "building": snapshot.building, "error": snapshot.error,
                    "good_build": snapshot.good_build, "pdf": snapshot.pdf is not None}
            return self._send(HTTPStatus.OK, "application/json", json.dumps(body).encode())
        if route == "/_preview/log":
            return self._send(HTTPStatus.OK, "application/json",
                              json.dumps(self.state.records(), ensure_ascii=False).encode())
        if route in ("/", "/index.html", "/print"):
            page = snapshot.interactive if route != "/print" else snapshot.print_html
            if page is None:
                text = "正在构建预览…" if not snapshot.error else "构建失败，修正后会自动重试。"
                page = _PLACEHOLDER.format(edition=html.escape(self.edition), text=text)
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


def make_server(state: State, edition: str, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("PreviewHandler", (_Handler,), {"state": state, "edition": edition})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
