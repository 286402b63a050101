"""Helpers shared by the archive and download-site tests: real PDFs, an archive filled by publish(), and the
real server process (``python -m pipeline.web``) on a free loopback port. Not collected by pytest itself."""

from __future__ import annotations

import functools
import hashlib
import http.client
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import weasyprint

from pipeline.lib.publish import PublishedVersion, publish

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TITLE = "小米生态战略报告"
SECRET = b"%PDF-1.7 secret outside the archive"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright's own browser downloads are not used
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_LISTENING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@functools.cache
def tiny_pdf(text: str) -> bytes:
    """A small real PDF (WeasyPrint, the report's own renderer), different for each ``text``."""
    return weasyprint.HTML(string=f"<p>{text}</p>").write_pdf()


def fingerprint(label: str) -> str:
    """A data fingerprint as the pipeline makes them (sha256 hex), distinct per label."""
    return hashlib.sha256(label.encode()).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def publish_text(
    archive: Path, edition: str, text: str, *, title: str | None = TITLE, code_version: str = "code-1", **kw
) -> PublishedVersion:
    """Publish a one-page report whose PDF and HTML say ``text`` (the fingerprint follows the text)."""
    return publish(
        archive,
        edition,
        pdf=tiny_pdf(text),
        html=f'<!doctype html><html lang="zh-CN"><body><h1>{text}</h1></body></html>'.encode(),
        pages=1,
        fingerprint=fingerprint(text),
        code_version=code_version,
        title=title,
        **kw,
    )


#: The report the site tests publish into: the archive root holds one folder per report (<root>/<report id>/).
SITE_REPORT = "demo-report"


@dataclass
class FilledArchive:
    """The archive the site tests serve, and what they expect to find in it."""

    root: Path  # the archive root the site serves: one folder per report
    outside: Path  # a folder beside the archive that must never be reachable
    demo: list[PublishedVersion]  # oldest first
    report: str = SITE_REPORT

    @property
    def archive(self) -> Path:
        """The report's own archive, where its editions are published: <root>/<report id>/."""
        return self.root / self.report


def fill_archive(base: Path) -> FilledArchive:
    """An archive root holding one report, SITE_REPORT, with: 'demo' (3 versions, Chinese title), 'plain' (no
    title), 'xss' (markup in the title), leftovers of a killed publish in 'demo', and two symlinks that lead outside
    the archive: 'linked' (its PDF is a symlink to a file outside) and 'escaped' (the edition folder itself is).
    Beside the report, 'escaped-report' is a report folder that is itself a symlink to a report archive outside."""
    root, outside = base / "reports", base / "outside"
    archive = root / SITE_REPORT
    outside.mkdir(parents=True)
    start = datetime(2025, 7, 1, 8, 0, tzinfo=UTC)
    demo = [publish_text(archive, "demo", f"第 {n} 版", now=start + timedelta(days=n)) for n in (1, 2, 3)]
    publish_text(archive, "plain", "plain report", title=None, now=start)
    publish_text(archive, "xss", "xss", title='<script>alert("x")</script> & 报告', now=start)

    # What a publish killed halfway leaves: a temp folder and a version folder above the latest pointer.
    leftover = archive / "demo" / ".tmp-v0004-test"
    leftover.mkdir()
    (leftover / "demo_v0004.pdf").write_bytes(SECRET)
    uncommitted = archive / "demo" / "versions" / "v0004"
    uncommitted.mkdir()
    (uncommitted / "demo_v0004.pdf").write_bytes(SECRET)

    (outside / "secret.pdf").write_bytes(SECRET)
    linked = publish_text(archive, "linked", "linked", now=start)
    linked.pdf_path.unlink()
    linked.pdf_path.symlink_to(outside / "secret.pdf")
    publish_text(outside, "escaped", "escaped", now=start)
    (archive / "escaped").symlink_to(outside / "escaped", target_is_directory=True)
    publish_text(outside / "stolen-report", "stolen", "stolen", now=start)
    (root / "escaped-report").symlink_to(outside / "stolen-report", target_is_directory=True)
    return FilledArchive(root=root, outside=outside, demo=demo)


def server_env() -> dict[str, str]:
    """The environment for the server process: the project importable, no REPORT_* from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


@contextmanager
def running_server(archive: Path, log_path: Path, timeout: float = 20.0) -> Iterator[str]:
    """Run ``python -m pipeline.web`` on 127.0.0.1 and a free port; yield its base URL, stop it after.

    Port 0 lets the kernel pick the port and uvicorn logs which, so there is no race for a port."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.web", "--host", "127.0.0.1", "--port", "0", "--archive", str(archive)],
            cwd=PROJECT_ROOT,
            env=server_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base = _wait_until_serving(proc, log_path, timeout)
        yield base
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM, as Ctrl-C or a supervisor would stop a server; SIGKILL if it has not exited after `timeout`."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_until_serving(proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
        match = _LISTENING.search(log_path.read_text(errors="replace"))
        if match:
            base = f"http://127.0.0.1:{match.group(1)}"
            if get(base, "/").status == 200:
                return base
        time.sleep(0.05)
    raise RuntimeError(f"server did not answer within {timeout}s:\n{log_path.read_text(errors='replace')}")


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def get(base: str, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Reply:
    """One request with ``path`` sent exactly as written (no normalising of '..' or %-escapes)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()
