"""Issue 7: `make preview` rebuilds on a template change in a warm process, re-running only the template-dependent
steps, and shows bad data as an error over the last good page. The preview runs as a real process on a free port
with temporary copies of sources/ and templates/."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from markupsafe import escape

from pipeline.config import PROJECT_ROOT
from tests.conftest import DEFAULT_EDITION, REAL, REPORT, edition_folder
from tests.webhelpers import stop_process

T = TypeVar("T")
LISTENING = re.compile(r"at http://127\.0\.0\.1:(\d+)/")
MARKER = "preview-test-edit-marker"
#: Everything this test waits for, together; a cold first build is ~10 s on the 2-core CI machine.
TOTAL_SECONDS = 75.0


def until(what: str, probe: Callable[[], T | None], deadline: float, log: Path) -> T:
    """Poll `probe` until it returns something truthy, or fail with the preview's terminal output."""
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; preview output:\n{log.read_text(errors='replace')}")


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get_json(port: int, path: str):
    status, body = get(port, path)
    assert status == 200, (path, status, body[:200])
    return json.loads(body)


def listening_port(proc: subprocess.Popen[bytes], log: Path) -> int | None:
    """The port the preview says it serves on, once it has said so."""
    assert proc.poll() is None, f"preview exited with {proc.returncode}:\n{log.read_text(errors='replace')}"
    match = LISTENING.search(log.read_text(errors="replace"))
    return int(match.group(1)) if match else None


@contextmanager
def preview_process(root: Path, log: Path, out: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """The preview of the report copied to root/templates, its editions in the sources root root/sources, the
    archive root root/reports; its HTML and PDF go to `out`, else to its default folder in the archive."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORT_")}
    env.update(REPORT_SOURCES_DIR=str(root / "sources"), REPORT_TEMPLATES_DIR=str(root / "templates"),
               REPORT_OUTPUT_DIR=str(root / "reports"), PYTHONPATH=str(PROJECT_ROOT))
    with open(log, "wb") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.preview", "--edition", DEFAULT_EDITION, "--host", "127.0.0.1",
             "--port", "0", *(["--out", str(out)] if out is not None else [])],
            cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        stop_process(proc)


def test_template_edit_rebuilds_only_template_steps_and_bad_data_keeps_last_good_page(tmp_path):
    shutil.copytree(REAL.sources / DEFAULT_EDITION, edition_folder(tmp_path / "sources"))
    shutil.copytree(REAL.templates, tmp_path / "templates")
    template = tmp_path / "templates" / "strategy_report.html.j2"
    metrics = edition_folder(tmp_path / "sources") / "metrics.csv"
    log = tmp_path / "preview.log"
    out = tmp_path / "preview"
    deadline = time.monotonic() + TOTAL_SECONDS

    with preview_process(tmp_path, log, out) as proc:
        p = until("the preview's address", lambda: listening_port(proc, log), deadline, log)
        first = until("the first build with its PDF",
                      lambda: (s := get_json(p, "/_preview/version"))["good_build"] == 1 and s["pdf"] and s,
                      deadline, log)
        assert first["error"] is None
        status, page = get(p, "/")
        assert status == 200
        text = page.decode()
        assert '<html lang="zh-CN">' in text and MARKER not in text
        assert "/_preview/version" in text, "the page must carry the reload script"
        status, pdf = get(p, "/report.pdf")
        assert status == 200 and pdf.startswith(b"%PDF-")

        # A template-only edit: the served page changes and only HTML and PDF are rebuilt.
        source = template.read_text(encoding="utf-8")
        edited, count = re.subn(r"(<body[^>]*>)", rf'\1<p class="flush">{MARKER}</p>', source, count=1)
        assert count == 1, "the template has no <body> tag to put the marker after"
        template.write_text(edited, encoding="utf-8")
        until("the served page to show the template edit", lambda: MARKER in get(p, "/")[1].decode(), deadline, log)

        def template_build() -> dict | None:
            return next((r for r in get_json(p, "/_preview/log") if r["trigger"] == "templates"), None)

        record = until("the template rebuild to finish", template_build, deadline, log)
        assert record["ok"], record["error"]
        assert record["ran"] == ["html", "pdf"], record
        assert set(record["reused"]) == {"read", "validate", "analyse", "charts"}, record
        assert record["changed"] == ["templates/strategy_report.html.j2"], record
        assert record["fingerprint"] == get_json(p, "/_preview/log")[0]["fingerprint"]
        assert MARKER in (out / f"{DEFAULT_EDITION}.html").read_text(encoding="utf-8")
        assert (out / f"{DEFAULT_EDITION}.pdf").read_bytes().startswith(b"%PDF-")

        # Bad data: the error shows over the last good page and in the terminal; the last good preview stays.
        version = get_json(p, "/_preview/version")["version"]
        lines = metrics.read_text(encoding="utf-8").splitlines()
        header = lines[0].split(",")
        cells = lines[1].split(",")
        cells[header.index("value")] = "not-a-number"
        metrics.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n", encoding="utf-8")
        state = until("the failed build", lambda: (s := get_json(p, f"/_preview/version?since={version}"))["error"]
                      and s, deadline, log)
        assert "metrics.csv" in state["error"]
        status, page = get(p, "/")
        text = page.decode()
        assert status == 200 and MARKER in text, "the last good page must stay"
        assert 'id="preview-error"' in text and "metrics.csv" in text
        failed = get_json(p, "/_preview/log")[-1]
        assert not failed["ok"] and failed["trigger"] == "sources" and "html" not in failed["ran"]
        assert get(p, "/report.pdf")[1].startswith(b"%PDF-")
        until("the failure in the terminal", lambda: "FAILED" in log.read_text(errors="replace"), deadline, log)


def test_template_error_banner_long_poll_wakes_and_stop_answers_open_polls(tmp_path):
    """A template error shows in a banner (escaped, naming the template) over the last good page and goes when
    fixed; a waiting long poll is answered by the build, not after its 20 s; SIGTERM answers the open long polls
    and the process exits with 0 straight away."""
    shutil.copytree(REAL.sources / DEFAULT_EDITION, edition_folder(tmp_path / "sources"))
    shutil.copytree(REAL.templates, tmp_path / "templates")
    template = tmp_path / "templates" / "strategy_report.html.j2"
    log = tmp_path / "preview.log"
    # No --out: the preview's default folder is the report's own in the archive root, a dot folder readers never see.
    default_out = tmp_path / "reports" / "xiaomi-ecosystem" / ".preview" / DEFAULT_EDITION
    deadline = time.monotonic() + TOTAL_SECONDS

    with preview_process(tmp_path, log) as proc:
        p = until("the preview's address", lambda: listening_port(proc, log), deadline, log)

        def idle() -> dict | None:  # the last build is over, PDF included
            state = get_json(p, "/_preview/version")
            return state if state["good_build"] and state["pdf"] and not state["building"] else None

        version = until("the first build with its PDF", idle, deadline, log)["version"]
        assert b"/_preview/version" in get(p, "/")[1]
        assert REPORT.report_id == "xiaomi-ecosystem"
        assert (default_out / f"{DEFAULT_EDITION}.pdf").read_bytes().startswith(b"%PDF-")
        assert (default_out / f"{DEFAULT_EDITION}.html").is_file()

        source = template.read_text(encoding="utf-8")
        broken, count = re.subn(r"(<body[^>]*>)", r"\1{% if %}", source, count=1)
        assert count == 1, "the template has no <body> tag to break"
        started = time.monotonic()
        template.write_text(broken, encoding="utf-8")
        state = get_json(p, f"/_preview/version?since={version}")  # waits for the failed build
        assert time.monotonic() - started < 10, "the long poll must be answered by the build"
        assert state["version"] > version and state["good_build"] == 1, state
        assert "strategy_report.html.j2, line" in state["error"], state
        for route in ("/", "/print"):
            status, page = get(p, route)
            text = page.decode()
            assert status == 200 and '<html lang="zh-CN">' in text, route
            assert 'id="preview-error"' in text and str(escape(state["error"])) in text, route

        template.write_text(source, encoding="utf-8")
        until("the banner to go after the fix", lambda: b'id="preview-error"' not in get(p, "/")[1], deadline, log)
        version = until("the fixed build with its PDF", idle, deadline, log)["version"]
        failed, fixed = get_json(p, "/_preview/log")[-2:]
        assert not failed["ok"] and fixed["ok"] and fixed["ran"] == ["html", "pdf"], (failed, fixed)

        answer: list[tuple[int, float]] = []

        def long_poll() -> None:
            began = time.monotonic()
            status, _ = get(p, f"/_preview/version?since={version}")
            answer.append((status, time.monotonic() - began))

        poller = threading.Thread(target=long_poll, daemon=True)
        poller.start()
        time.sleep(0.5)  # let the request reach the server
        proc.terminate()
        assert proc.wait(timeout=10) == 0, log.read_text(errors="replace")
        poller.join(timeout=5)
        assert answer and answer[0][0] == 200 and answer[0][1] < 10, answer
