"""The published archive (pipeline.lib.publish): what readers can rely on when a build is published,
repeated, pruned, interrupted by kill -9, or run twice at once."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.lib.errors import ReportError
from pipeline.lib.publish import (
    PublishError,
    editions,
    get_version,
    history,
    latest,
    publish,
)
from tests.webhelpers import PROJECT_ROOT, TITLE, fingerprint, publish_text, server_env, sha256, tiny_pdf

EDITION = "xiaomi-ecosystem-2025h1"


def visible_names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_first_publish_writes_named_files_manifest_and_pointer(tmp_path: Path) -> None:
    pdf = tiny_pdf("第一版")
    html = "<html><body>第一版</body></html>".encode()
    now = datetime(2025, 7, 1, 16, 30, tzinfo=timezone(timedelta(hours=8)))

    v = publish(
        tmp_path,
        EDITION,
        pdf=pdf,
        html=html,
        pages=3,
        fingerprint=fingerprint("a"),
        code_version="abc123",
        now=now,
        title=TITLE,
    )

    folder = tmp_path / EDITION / "versions" / "v0001"
    assert (v.edition, v.version, v.reused) == (EDITION, "v0001", False)
    assert v.pdf_path == folder / f"{EDITION}_v0001.pdf"
    assert v.html_path == folder / f"{EDITION}_v0001.html"
    assert v.pdf_path.read_bytes() == pdf
    assert v.html_path.read_bytes() == html
    manifest = json.loads(v.manifest_path.read_text(encoding="utf-8"))
    assert manifest["edition"] == EDITION
    assert manifest["version"] == "v0001"
    assert manifest["built_at"] == "2025-07-01T08:30:00Z"  # converted to UTC
    assert manifest["sha256"] == sha256(v.pdf_path.read_bytes()) == v.sha256
    assert manifest["size"] == len(pdf) == v.size
    assert manifest["pages"] == 3
    assert manifest["fingerprint"] == fingerprint("a")
    assert manifest["code_version"] == "abc123"
    assert manifest["title"] == TITLE
    assert manifest["html_sha256"] == sha256(html)
    pointer = json.loads((tmp_path / EDITION / "latest.json").read_text(encoding="utf-8"))
    assert pointer == {"edition": EDITION, "version": "v0001"}
    assert latest(tmp_path, EDITION) == v
    assert editions(tmp_path) == [EDITION]
    # Last-Modified on the site is the build time, not the copy time.
    assert v.pdf_path.stat().st_mtime == now.timestamp()


def test_each_new_build_is_a_new_version_and_history_is_newest_first(tmp_path: Path) -> None:
    published = [publish_text(tmp_path, EDITION, f"版本 {n}") for n in range(1, 4)]

    assert [v.version for v in published] == ["v0001", "v0002", "v0003"]
    assert latest(tmp_path, EDITION) == published[-1]
    assert history(tmp_path, EDITION) == list(reversed(published))
    assert get_version(tmp_path, EDITION, "v0002") == published[1]
    # Earlier versions stay byte for byte what they were.
    assert [sha256(v.pdf_path.read_bytes()) for v in history(tmp_path, EDITION)] == [
        v.sha256 for v in reversed(published)
    ]


def test_rebuild_from_same_data_and_code_reuses_the_latest(tmp_path: Path) -> None:
    first = publish_text(tmp_path, EDITION, "同一份数据")
    before = first.pdf_path.stat().st_mtime_ns

    again = publish(
        tmp_path,
        EDITION,
        pdf=tiny_pdf("bytes differ, inputs do not"),
        html=b"<p>x</p>",
        pages=1,
        fingerprint=first.fingerprint,
        code_version=first.code_version,
    )

    assert again.reused is True
    assert again.version == first.version
    assert again.sha256 == first.sha256
    assert visible_names(tmp_path / EDITION / "versions") == {"v0001"}
    assert first.pdf_path.stat().st_mtime_ns == before
    assert latest(tmp_path, EDITION).reused is False  # readers see a version, not how it was reached


def test_new_code_or_data_makes_a_new_version_even_if_an_older_one_matches(tmp_path: Path) -> None:
    publish_text(tmp_path, EDITION, "数据 A")
    new_code = publish_text(tmp_path, EDITION, "数据 A", code_version="code-2")
    back_to_old_data = publish_text(tmp_path, EDITION, "数据 B", code_version="code-2")
    old_data_again = publish_text(tmp_path, EDITION, "数据 A", code_version="code-2")

    assert [v.version for v in (new_code, back_to_old_data, old_data_again)] == ["v0002", "v0003", "v0004"]
    assert not any(v.reused for v in (new_code, back_to_old_data, old_data_again))


def test_retention_keeps_the_newest_versions_only(tmp_path: Path) -> None:
    for n in range(1, 6):
        publish_text(tmp_path, EDITION, f"第 {n} 版", keep=3)

    assert [v.version for v in history(tmp_path, EDITION)] == ["v0005", "v0004", "v0003"]
    assert visible_names(tmp_path / EDITION / "versions") == {"v0003", "v0004", "v0005"}

    newest = publish_text(tmp_path, EDITION, "第 6 版", keep=1)
    assert [v.version for v in history(tmp_path, EDITION)] == [newest.version] == ["v0006"]
    assert newest.pdf_path.read_bytes() == tiny_pdf("第 6 版")
    # Numbers are never reused after pruning, so an old link cannot start serving a different report.
    assert publish_text(tmp_path, EDITION, "第 7 版").version == "v0007"


def test_refused_publish_leaves_the_previous_version_and_names_the_problem(tmp_path: Path) -> None:
    good = publish_text(tmp_path, EDITION, "正常")
    bad_inputs = [
        {"pdf": b"<html>not a pdf</html>"},
        {"html": b""},
        {"pages": 0},
        {"fingerprint": "not-a-sha256"},
        {"code_version": "line\nbreak"},
        {"keep": 0},
        {"now": datetime(2025, 7, 1, 8, 0)},  # naive: which zone?
        {"title": ""},
    ]
    for change in bad_inputs:
        args = {
            "pdf": tiny_pdf("坏"),
            "html": b"<p>x</p>",
            "pages": 1,
            "fingerprint": fingerprint("坏"),
            "code_version": "c",
            **change,
        }
        with pytest.raises(PublishError):
            publish(tmp_path, EDITION, **args)

    assert latest(tmp_path, EDITION) == good
    assert history(tmp_path, EDITION) == [good]
    assert visible_names(tmp_path / EDITION) == {".lock", "latest.json", "versions"}
    assert issubclass(PublishError, ReportError)  # the CLI prints these without a traceback


@pytest.mark.parametrize(
    "edition",
    ["", "../outside", "a/b", "/etc", "..", ".hidden", "-dash", "Upper", "a b", "a\n", "名字", "x" * 65, "a_b"],
)
def test_unsafe_edition_names_are_refused_before_touching_disk(tmp_path: Path, edition: str) -> None:
    archive = tmp_path / "reports"
    archive.mkdir()
    with pytest.raises(PublishError, match="invalid edition name"):
        publish_text(archive, edition, "x")
    with pytest.raises(PublishError):
        latest(archive, edition)
    with pytest.raises(PublishError):
        history(archive, edition)
    assert visible_names(tmp_path) == {"reports"}
    assert visible_names(archive) == set()


def test_longest_allowed_edition_name_works(tmp_path: Path) -> None:
    name = "a" + "-0" * 31 + "z"
    assert len(name) == 64
    assert publish_text(tmp_path, name, "x").pdf_path.name == f"{name}_v0001.pdf"


def test_edition_folder_symlinked_outside_the_archive_is_neither_read_nor_written(tmp_path: Path) -> None:
    archive, outside = tmp_path / "reports", tmp_path / "outside"
    publish_text(outside, "elsewhere", "外部")
    archive.mkdir()
    (archive / "elsewhere").symlink_to(outside / "elsewhere", target_is_directory=True)

    assert editions(archive) == []
    with pytest.raises(PublishError, match="outside the archive"):
        latest(archive, "elsewhere")
    with pytest.raises(PublishError, match="outside the archive"):
        publish_text(archive, "elsewhere", "新")
    assert [v.version for v in history(outside, "elsewhere")] == ["v0001"]


def test_readers_of_an_empty_archive_get_nothing(tmp_path: Path) -> None:
    assert editions(tmp_path / "missing") == []
    assert latest(tmp_path, EDITION) is None
    assert history(tmp_path, EDITION) == []
    with pytest.raises(PublishError):
        get_version(tmp_path, EDITION, "v0001")


# --- interrupted and concurrent publishes, in real processes ---------------------------------------------

# Runs publish() in a child process that stops at a chosen point and says so; the test then kill -9s it.
# The stop replaces one private step of publish(), so the kill lands at a known moment rather than by luck.
STALLING_PUBLISHER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import pipeline.lib.publish as publish
    import pipeline.lib.publish.local as publish_local
    from webhelpers import fingerprint, tiny_pdf

    archive, stage = Path(sys.argv[1]), sys.argv[2]

    def stall():
        print("STALLED", flush=True)
        time.sleep(60)

    if stage == "writing-pdf":
        def half_write(path, data, mtime):
            with open(path, "xb") as fh:
                fh.write(data[: len(data) // 2])
                fh.flush()
            stall()
        publish_local._write_file = half_write
    elif stage == "moving-pointer":
        publish_local._replace_pointer = lambda folder, pointer: stall()

    publish.publish(
        archive, "xiaomi-ecosystem-2025h1", pdf=tiny_pdf("被打断的版本") + b"%" * 4_000_000, html=b"<p>new</p>",
        pages=1, fingerprint=fingerprint("被打断的版本"), code_version="code-1",
    )
    """
)


def child_env() -> dict[str, str]:
    env = server_env()
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env["PYTHONPATH"]])
    return env


def wait_for_line(proc: subprocess.Popen[str], expected: str, timeout: float = 30.0) -> None:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    if line.strip() != expected:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"child did not reach the stall point (got {line!r}):\n{err}")


@pytest.mark.parametrize("stage", ["writing-pdf", "moving-pointer"])
def test_publish_killed_midway_leaves_previous_version_readable(tmp_path: Path, stage: str) -> None:
    before = publish_text(tmp_path, EDITION, "上一版")
    proc = subprocess.Popen(
        [sys.executable, "-c", STALLING_PUBLISHER, str(tmp_path), stage],
        cwd=PROJECT_ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_line(proc, "STALLED")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    # The kill really left a half-done publish on disk...
    folder = tmp_path / EDITION
    leftovers = {n for n in visible_names(folder) if n.startswith(".tmp-")}
    leftovers |= visible_names(folder / "versions") - {"v0001"}
    assert leftovers, "the child was killed before it wrote anything"
    # ...and readers still see exactly the previous version, intact.
    assert latest(tmp_path, EDITION) == before
    assert history(tmp_path, EDITION) == [before]
    assert sha256(before.pdf_path.read_bytes()) == before.sha256
    assert editions(tmp_path) == [EDITION]

    # The next publish is not blocked by the dead process's lock, clears the leftovers, and takes v0002.
    after = publish_text(tmp_path, EDITION, "下一版")
    assert after.version == "v0002"
    assert visible_names(folder) == {".lock", "latest.json", "versions"}
    assert visible_names(folder / "versions") == {"v0001", "v0002"}
    assert [v.version for v in history(tmp_path, EDITION)] == ["v0002", "v0001"]


CONCURRENT_PUBLISHER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from webhelpers import publish_text

    archive, who, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    print("READY", flush=True)
    while not go.exists():
        time.sleep(0.001)
    for n in range(5):
        publish_text(archive, "xiaomi-ecosystem-2025h1", f"{who}-{n}", keep=50)
    """
)


def test_two_processes_publishing_at_once_leave_a_consistent_archive(tmp_path: Path) -> None:
    archive, go = tmp_path / "reports", tmp_path / "go"
    tiny_pdf("warm")  # each child renders its own PDFs; make sure weasyprint works before racing
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_PUBLISHER, str(archive), who, str(go)],
            cwd=PROJECT_ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("left", "right")
    ]
    for proc in procs:
        wait_for_line(proc, "READY")  # both imported and polling, so they start together
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err

    versions = history(archive, EDITION)
    assert [v.version for v in versions] == [f"v{n:04d}" for n in range(10, 0, -1)]
    assert {v.fingerprint for v in versions} == {fingerprint(f"{w}-{n}") for w in ("left", "right") for n in range(5)}
    for v in versions:
        assert sha256(v.pdf_path.read_bytes()) == v.sha256
        assert json.loads(v.manifest_path.read_text(encoding="utf-8"))["version"] == v.version
    assert latest(archive, EDITION) == versions[0]
    assert visible_names(archive / EDITION) == {".lock", "latest.json", "versions"}


def test_publish_waits_for_a_concurrent_publisher_holding_the_lock(tmp_path: Path) -> None:
    """The lock is what keeps two publishes apart: while another process holds it, publish() waits."""
    publish_text(tmp_path, EDITION, "第一版")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            "fh = open(sys.argv[1], 'a+b'); fcntl.flock(fh, fcntl.LOCK_EX); print('LOCKED', flush=True)\n"
            "time.sleep(1.0)",
            str(tmp_path / EDITION / ".lock"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_line(holder, "LOCKED")
    started = time.monotonic()
    second = publish_text(tmp_path, EDITION, "第二版")
    waited = time.monotonic() - started
    holder.communicate(timeout=10)

    assert second.version == "v0002"
    assert waited >= 0.5, f"publish did not wait for the lock holder (took {waited:.2f}s)"
    assert latest(tmp_path, EDITION) == second


def test_built_at_defaults_to_now_in_utc(tmp_path: Path) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    v = publish_text(tmp_path, EDITION, "现在")
    built = datetime.fromisoformat(v.built_at)
    assert v.built_at.endswith("Z")
    assert before <= built <= datetime.now(UTC)
