"""The published archive on an object store (pipeline.lib.storage + pipeline.lib.publish through fsspec): the same
promises as the local folder — readers only ever see committed versions, the pointer is written last, a killed
publish leaves nothing visible, retention after success — checked on fsspec's memory filesystem and on the local
filesystem through a ``file://`` URL (the same code path an ``s3://`` archive takes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest
from upath import UPath

from pipeline.lib import atomic, storage
from pipeline.lib import publish as publish_module
from pipeline.lib.publish import PublishError, editions, get_version, history, latest, publish
from pipeline.lib.storage import ARCHIVE_URL_ENV, archive_location, as_archive_root, is_object_store, write_object
from tests.webhelpers import PROJECT_ROOT, fingerprint, publish_text, sha256, tiny_pdf

EDITION = "xiaomi-ecosystem-2025h1"


class Killed(BaseException):
    """Stands in for SIGKILL inside this process: not an Exception, so no cleanup code of publish() catches it."""


@pytest.fixture(params=["memory", "file"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UPath]:
    """An empty archive root on an fsspec filesystem: memory:// (a fresh prefix) or file:// (a temp folder)."""
    if request.param == "memory":
        url = f"memory://archive-tests/{uuid.uuid4().hex}"
        yield UPath(url)
        fs = fsspec.filesystem("memory")
        if fs.exists(UPath(url).path):
            fs.rm(UPath(url).path, recursive=True)
    else:
        folder = tmp_path / "archive"
        yield UPath(folder.as_uri())


def names(path: UPath) -> set[str]:
    return {p.name for p in path.iterdir()} if path.is_dir() else set()


def test_archive_location_chooses_the_local_folder_unless_a_url_is_given(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ARCHIVE_URL_ENV, raising=False)
    assert archive_location(tmp_path) == tmp_path and not is_object_store(archive_location(tmp_path))
    monkeypatch.setenv(ARCHIVE_URL_ENV, "  ")
    assert archive_location(tmp_path) == tmp_path
    monkeypatch.setenv(ARCHIVE_URL_ENV, "memory://bucket/prefix")
    chosen = archive_location(tmp_path)
    assert is_object_store(chosen) and str(chosen) == "memory://bucket/prefix"
    assert str(archive_location(tmp_path, url="file:///srv/reports")) == "file:///srv/reports"
    # A URL names the root of every report's archive: a report's own archive is the report's folder under it,
    # as the local layout has reports/<report id>/; the local default is already the report's folder.
    assert (str(archive_location(tmp_path, url="file:///srv/reports/", report="xiaomi-ecosystem"))
            == "file:///srv/reports/xiaomi-ecosystem")
    assert str(archive_location(tmp_path / "xiaomi-ecosystem", report="xiaomi-ecosystem")) == (
        "memory://bucket/prefix/xiaomi-ecosystem")
    monkeypatch.delenv(ARCHIVE_URL_ENV)
    assert archive_location(tmp_path / "xiaomi-ecosystem", report="xiaomi-ecosystem") == tmp_path / "xiaomi-ecosystem"
    # Plain paths, as str, Path or scheme-less UPath, stay on the local backend (flock, fsync, rename).
    for plain in (str(tmp_path), tmp_path, UPath(str(tmp_path))):
        assert type(as_archive_root(plain)) is type(tmp_path) and as_archive_root(plain) == tmp_path


def test_first_publish_writes_the_same_layout_as_the_local_archive(root: UPath) -> None:
    pdf, html = tiny_pdf("对象存储"), "<html><body>对象存储</body></html>".encode()

    v = publish(root, EDITION, pdf=pdf, html=html, pages=2, fingerprint=fingerprint("s"), code_version="c1",
                title="小米生态战略报告")

    folder = root / EDITION / "versions" / "v0001"
    assert (v.version, v.reused) == ("v0001", False)
    assert v.pdf_path == folder / f"{EDITION}_v0001.pdf" and isinstance(v.pdf_path, UPath)
    assert str(v.pdf_path).startswith(str(root))  # a URL a reader on another machine can open
    assert v.pdf_path.read_bytes() == pdf and v.html_path.read_bytes() == html
    manifest = json.loads(v.manifest_path.read_text(encoding="utf-8"))
    assert (manifest["edition"], manifest["version"], manifest["sha256"]) == (EDITION, "v0001", sha256(pdf))
    assert json.loads((root / EDITION / "latest.json").read_text()) == {"edition": EDITION, "version": "v0001"}
    assert names(root / EDITION) == {"latest.json", "versions"}  # no lock file: there is no flock here
    assert names(folder) == {f"{EDITION}_v0001.pdf", f"{EDITION}_v0001.html", "manifest.json"}
    assert latest(root, EDITION) == v == latest(str(root), EDITION)  # a URL string works as well
    assert editions(root) == [EDITION]


def test_versions_history_reuse_and_retention(root: UPath) -> None:
    published = [publish_text(root, EDITION, f"版本 {n}", keep=3) for n in range(1, 6)]
    assert [v.version for v in published] == ["v0001", "v0002", "v0003", "v0004", "v0005"]
    assert [v.version for v in history(root, EDITION)] == ["v0005", "v0004", "v0003"]
    assert names(root / EDITION / "versions") == {"v0003", "v0004", "v0005"}
    assert get_version(root, EDITION, "v0004") == published[3]
    with pytest.raises(PublishError):
        get_version(root, EDITION, "v0001")  # pruned

    again = publish_text(root, EDITION, "版本 5", keep=3)
    assert again.reused and again.version == "v0005"
    assert names(root / EDITION / "versions") == {"v0003", "v0004", "v0005"}
    assert publish_text(root, EDITION, "版本 6", keep=1).version == "v0006"
    assert names(root / EDITION / "versions") == {"v0006"}
    assert publish_text(root, EDITION, "版本 7").version == "v0007"  # numbers are never reused


def test_refused_inputs_and_unsafe_names_never_touch_the_store(root: UPath) -> None:
    good = publish_text(root, EDITION, "正常")
    with pytest.raises(PublishError):
        publish(root, EDITION, pdf=b"<html>", html=b"<p>x</p>", pages=1, fingerprint=fingerprint("x"),
                code_version="c")
    for bad in ("../outside", "a/b", ".hidden", "Upper"):
        with pytest.raises(PublishError, match="invalid edition name"):
            publish_text(root, bad, "x")
    assert latest(root, EDITION) == good
    assert names(root) == {EDITION}


def test_pointer_is_written_last_and_readers_see_the_previous_version_until_then(root: UPath, monkeypatch) -> None:
    before = publish_text(root, EDITION, "上一版")
    written: list[str] = []
    real_write = storage.write_object

    def watching_write(path: UPath, data: bytes, *, exclusive: bool = False) -> None:
        # Before every object of the new version lands, readers still see exactly the previous version.
        assert latest(root, EDITION) == before
        assert history(root, EDITION) == [before]
        written.append(path.name)
        real_write(path, data, exclusive=exclusive)

    monkeypatch.setattr(storage, "write_object", watching_write)
    after = publish_text(root, EDITION, "下一版")

    assert written == [f"{EDITION}_v0002.pdf", f"{EDITION}_v0002.html", "manifest.json", "latest.json"]
    assert latest(root, EDITION) == after and [v.version for v in history(root, EDITION)] == ["v0002", "v0001"]


@pytest.mark.parametrize("stage", ["after-pdf", "before-pointer"])
def test_publish_killed_midway_leaves_nothing_visible_and_the_next_publish_cleans_up(
    root: UPath, monkeypatch, stage: str
) -> None:
    before = publish_text(root, EDITION, "上一版")
    real_write = storage.write_object

    def dying_write(path: UPath, data: bytes, *, exclusive: bool = False) -> None:
        if stage == "before-pointer" and path.name == "latest.json":
            raise Killed
        real_write(path, data, exclusive=exclusive)
        if stage == "after-pdf" and path.name.endswith(".pdf"):
            raise Killed

    monkeypatch.setattr(storage, "write_object", dying_write)
    with pytest.raises(Killed):
        publish_text(root, EDITION, "被打断的版本")
    monkeypatch.setattr(storage, "write_object", real_write)

    assert "v0002" in names(root / EDITION / "versions"), "the kill left the half-written version in the store"
    assert latest(root, EDITION) == before and history(root, EDITION) == [before]
    with pytest.raises(PublishError):
        get_version(root, EDITION, "v0002")

    after = publish_text(root, EDITION, "下一版")
    assert after.version == "v0002" and after.pdf_path.read_bytes() == tiny_pdf("下一版")
    assert [v.version for v in history(root, EDITION)] == ["v0002", "v0001"]
    assert names(root / EDITION / "versions" / "v0002") == {f"{EDITION}_v0002.pdf", f"{EDITION}_v0002.html",
                                                             "manifest.json"}


def test_a_failed_write_removes_the_uncommitted_version(root: UPath, monkeypatch) -> None:
    before = publish_text(root, EDITION, "上一版")
    real_write = storage.write_object

    def failing_write(path: UPath, data: bytes, *, exclusive: bool = False) -> None:
        if path.name == "manifest.json":
            raise OSError("store unavailable")
        real_write(path, data, exclusive=exclusive)

    monkeypatch.setattr(storage, "write_object", failing_write)
    with pytest.raises(PublishError, match="store unavailable"):
        publish_text(root, EDITION, "失败")
    assert latest(root, EDITION) == before
    assert names(root / EDITION / "versions") == {"v0001"}


@pytest.mark.parametrize("had_previous", [True, False])
def test_a_pointer_write_that_took_effect_but_reported_an_error_is_taken_back(
    root: UPath, monkeypatch, had_previous: bool
) -> None:
    """A publish that raises has not replaced the latest version, even if the store applied the pointer write."""
    before = publish_text(root, EDITION, "上一版") if had_previous else None
    real_write = storage.write_object

    def applied_then_failed(path: UPath, data: bytes, *, exclusive: bool = False) -> None:
        real_write(path, data, exclusive=exclusive)
        if path.name == "latest.json":
            monkeypatch.setattr(storage, "write_object", real_write)  # the store works again for the rollback
            raise OSError("connection reset after the write")

    monkeypatch.setattr(storage, "write_object", applied_then_failed)
    with pytest.raises(PublishError, match="the previous version stays"):
        publish_text(root, EDITION, "新版")
    assert latest(root, EDITION) == before
    assert names(root / EDITION / "versions") == ({"v0001"} if had_previous else set())


def test_local_folder_a_publish_that_raises_after_the_pointer_moved_puts_the_previous_one_back(
    tmp_path: Path, monkeypatch
) -> None:
    """The local backend's counterpart: the fsync of the edition folder fails after latest.json was replaced."""
    before = publish_text(tmp_path, EDITION, "上一版")
    real_fsync_dir = atomic.fsync_dir
    edition_folder = tmp_path / EDITION
    failures = []

    def failing_fsync_dir(path: Path) -> None:
        if path == edition_folder and not failures:
            failures.append(path)
            raise OSError(28, "No space left on device")
        real_fsync_dir(path)

    monkeypatch.setattr(atomic, "fsync_dir", failing_fsync_dir)  # publish replaces the pointer through it
    with pytest.raises(PublishError, match="No space left on device"):
        publish_text(tmp_path, EDITION, "新版")
    assert failures, "the fault was not injected after the pointer moved"
    assert latest(tmp_path, EDITION) == before
    assert [v.version for v in history(tmp_path, EDITION)] == ["v0001"]
    assert publish_text(tmp_path, EDITION, "再来一版").version == "v0002"  # the leftover is cleared


def test_a_second_publisher_of_the_same_edition_fails_instead_of_mixing_files(root: UPath, monkeypatch) -> None:
    """The run queue keeps publishers of one edition apart; if that is bypassed, publish fails loudly."""
    before = publish_text(root, EDITION, "上一版")
    real_write = storage.write_object
    intruder = tiny_pdf("另一个发布者")

    def racing_write(path: UPath, data: bytes, *, exclusive: bool = False) -> None:
        if path.name == f"{EDITION}_v0002.pdf" and not (root / EDITION / "versions" / "v0002").exists():
            real_write(path, intruder, exclusive=True)  # the other publisher got to v0002 first
        real_write(path, data, exclusive=exclusive)

    monkeypatch.setattr(storage, "write_object", racing_write)
    with pytest.raises(PublishError, match="another publish"):
        publish_text(root, EDITION, "我的版本")
    assert (root / EDITION / "versions" / "v0002" / f"{EDITION}_v0002.pdf").read_bytes() == intruder  # not ours
    assert latest(root, EDITION) == before


def test_a_publisher_whose_pointer_moved_meanwhile_does_not_commit(root: UPath, monkeypatch) -> None:
    publish_text(root, EDITION, "第一版")
    real_write = storage.write_object
    other: list = []

    def racing_write(path: UPath, data: bytes, *, exclusive: bool = False) -> None:
        real_write(path, data, exclusive=exclusive)
        if path.name == "manifest.json" and not other:
            # Ours is written but not committed; a publish that bypassed the run queue now runs to the end: it
            # takes our uncommitted v0002 for an interrupted publish's leftover, replaces it and commits.
            monkeypatch.setattr(storage, "write_object", real_write)
            other.append(publish_text(root, EDITION, "别人的版本"))

    monkeypatch.setattr(storage, "write_object", racing_write)
    with pytest.raises(PublishError, match="another publish committed v0002"):
        publish_text(root, EDITION, "我的版本")
    # Ours stopped short of its commit and left the other's version alone: the archive is consistent.
    assert latest(root, EDITION) == other[0]
    assert [v.version for v in history(root, EDITION)] == ["v0002", "v0001"]
    assert other[0].pdf_path.read_bytes() == tiny_pdf("别人的版本")


def test_pruning_deletes_the_manifest_first_so_a_half_pruned_version_is_not_listed(root: UPath, monkeypatch) -> None:
    for n in (1, 2):
        publish_text(root, EDITION, f"第 {n} 版", keep=5)
    real_remove = storage.remove

    def interrupted_remove(path: UPath, *, first: str | None = None) -> None:
        if first is not None:
            (path / first).unlink()
        raise Killed  # the pruner dies right after the first delete

    monkeypatch.setattr(storage, "remove", interrupted_remove)
    with pytest.raises(Killed):
        publish_text(root, EDITION, "第 3 版", keep=1)
    monkeypatch.setattr(storage, "remove", real_remove)

    assert names(root / EDITION / "versions") == {"v0001", "v0002", "v0003"}
    assert [v.version for v in history(root, EDITION)] == ["v0003", "v0001"]  # v0002 lost its manifest first
    assert latest(root, EDITION).version == "v0003"
    publish_text(root, EDITION, "第 4 版", keep=1)  # the next publish finishes the pruning
    assert names(root / EDITION / "versions") == {"v0004"}


def test_write_object_is_whole_or_nothing_and_exclusive_on_request(root: UPath) -> None:
    target = root / "objects" / "a.bin"
    write_object(target, b"first")
    write_object(target, b"second")
    assert target.read_bytes() == b"second"
    with pytest.raises(FileExistsError):
        write_object(target, b"third", exclusive=True)
    assert target.read_bytes() == b"second"
    assert names(root / "objects") == {"a.bin"}  # no temp objects left beside it


# --- a real kill -9 on the file:// store ------------------------------------------------------------------------

STALLING_PUBLISHER = textwrap.dedent(
    """
    import sys, time
    from upath import UPath
    import pipeline.lib.storage as storage
    from webhelpers import publish_text

    root, stage = UPath(sys.argv[1]), sys.argv[2]
    real_write = storage.write_object

    def stalling_write(path, data, *, exclusive=False):
        if stage == "writing-pdf" and path.name.endswith(".pdf"):
            real_write(path.parent / (path.name + ".part"), data[: len(data) // 2])  # a torn object beside it
            print("STALLED", flush=True)
            time.sleep(60)
        if stage == "moving-pointer" and path.name == "latest.json":
            print("STALLED", flush=True)
            time.sleep(60)
        real_write(path, data, exclusive=exclusive)

    storage.write_object = stalling_write
    publish_text(root, "xiaomi-ecosystem-2025h1", "被打断的版本")
    """
)


@pytest.mark.parametrize("stage", ["writing-pdf", "moving-pointer"])
def test_kill_9_during_a_file_url_publish_leaves_the_previous_version(tmp_path: Path, stage: str) -> None:
    root = UPath((tmp_path / "archive").as_uri())
    before = publish_text(root, EDITION, "上一版")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), str(PROJECT_ROOT)])}
    proc = subprocess.Popen([sys.executable, "-c", STALLING_PUBLISHER, str(root), stage], cwd=PROJECT_ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "STALLED", proc.stderr.read() if proc.poll() is not None else line
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)

    versions = root / EDITION / "versions"
    assert "v0002" in names(versions), "the child was killed before it wrote anything"
    assert latest(root, EDITION) == before and history(root, EDITION) == [before]
    assert sha256(before.pdf_path.read_bytes()) == before.sha256

    after = publish_text(root, EDITION, "下一版")
    assert after.version == "v0002"
    assert names(root / EDITION) == {"latest.json", "versions"}
    assert names(versions / "v0002") == {f"{EDITION}_v0002.pdf", f"{EDITION}_v0002.html", "manifest.json"}


def test_publish_module_keeps_its_public_api() -> None:
    for name in ("publish", "latest", "history", "get_version", "editions", "check_edition", "version_number",
                 "version_id", "pdf_name", "html_name", "PublishedVersion", "PublishError"):
        assert hasattr(publish_module, name), name
