"""Issue 6, faults: a build that fails at any stage, a build killed while it writes the PDF, two builds of one edition
at once and a full disk all leave readers with a complete, readable published report and nothing partial.

The builds here run the real pipeline (Dagster, WeasyPrint, publish) with a one-page template, so a fault costs
seconds rather than a full report; the template is not what is under test. Publish-level kills and races with
tiny PDFs are in test_publish.py; these are the same faults end to end, through `python -m pipeline build`."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize

import pipeline.lib.publish.local as publish_local
from pipeline.cli import _failure_messages
from pipeline.config import PROJECT_ROOT
from pipeline.defs.component import DEFS_FILE
from pipeline.defs.resources import ReportSettings
from pipeline.lib.errors import ReportError
from pipeline.lib.publish import PublishedVersion, PublishError, get_version, history, latest, publish
from pipeline.lib.sources import read_edition
from tests.conftest import DEFAULT_EDITION, NAMES, REAL, archive_of, copy_edition, edition_folder, report_graph

EDITION = DEFAULT_EDITION
NO_SPACE = os.strerror(errno.ENOSPC)  # "No space left on device"

ONE_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ meta.title }}</title><style>{{ stylesheet }}</style></head>
<body><h1>{{ meta.title }}</h1><p>小米手机全球份额为{{ F.smartphone_global_share }}。</p>{{ BODY }}</body></html>
"""
STYLESHEET = 'html { font-family: "Noto Sans CJK SC", sans-serif; } @page { size: A4; }'


def evidence(record_property, area: str, case: str, done: str, seen: str) -> None:
    """One row of docs/faults.md: what was tried and what the user sees (collected by scripts/fault_table.py)."""
    row = {"area": area, "case": case, "done": done, "seen": seen}
    record_property("fault_row", json.dumps(row, ensure_ascii=False))


def report_folder(folder: Path) -> Path:
    """A report folder with the real report's definition (report.toml, charts.py, and the defs.yaml through which
    the code location loads it, e.g. in a CLI build with REPORT_TEMPLATES_DIR) and no templates yet."""
    folder.mkdir(parents=True)
    for name in ("report.toml", "charts.py", DEFS_FILE):
        shutil.copy(REAL.templates / name, folder / name)
    return folder


def templates(folder: Path, body: str = "", stylesheet: str = STYLESHEET) -> Path:
    """A report folder with the one-page template; `body` is extra markup in it (e.g. a forbidden image)."""
    report_folder(folder)
    (folder / "strategy_report.html.j2").write_text(ONE_PAGE.replace("{{ BODY }}", body), encoding="utf-8")
    (folder / "report.css").write_text(stylesheet, encoding="utf-8")
    return folder


def run_build(sources: Path, reports: Path, templates_dir: Path, fonts: Path = REAL.fonts):
    """The whole asset graph of the report in `templates_dir` for the edition in this process, as the CLI runs it
    (checks included). `sources` and `reports` are roots (one folder per report id)."""
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(NAMES.editions, [EDITION])
    settings = ReportSettings(sources_dir=str(sources), reports_dir=str(reports), font_dir=str(fonts))
    return materialize(report_graph(templates_dir), partition_key=EDITION, instance=instance,
                       resources={"settings": settings}, raise_on_error=False)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Snapshot:
    """What readers of one edition's archive can see: the latest version and every file of every version."""

    latest: PublishedVersion | None
    files: dict[str, str]  # path relative to the archive root (dot names excluded) -> sha256

    @classmethod
    def of(cls, reports: Path) -> Snapshot:
        """Of the archive root `reports` (every report's archive in it, the build locks excluded)."""
        files = {str(p.relative_to(reports)): sha256(p) for p in sorted(reports.rglob("*"))
                 if p.is_file() and not any(part.startswith(".") for part in p.relative_to(reports).parts)}
        return cls(latest(archive_of(reports), EDITION), files)


def assert_readers_see_whole_versions(reports: Path) -> None:
    """Every committed version in the report's archive under the root `reports` is complete: its files match the
    sizes and hashes its manifest records."""
    versions = history(archive_of(reports), EDITION)
    assert versions and versions[0] == latest(archive_of(reports), EDITION)
    for version in versions:
        manifest = json.loads(version.manifest_path.read_text(encoding="utf-8"))
        assert sha256(version.pdf_path) == manifest["sha256"] and version.pdf_path.stat().st_size == manifest["size"]
        assert sha256(version.html_path) == manifest["html_sha256"]
        assert version.pdf_path.read_bytes().rstrip().endswith(b"%%EOF")


@dataclass(frozen=True)
class Published:
    sources: Path
    reports: Path
    templates: Path
    version: PublishedVersion


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    """One good version, built and published through Dagster; each test works on a copy of this archive."""
    root = tmp_path_factory.mktemp("published")
    sources, reports = copy_edition(root), root / "reports"
    tpl = templates(root / "templates")
    result = run_build(sources, reports, tpl)
    assert result.success, _failure_messages(result)
    return Published(sources, reports, tpl, latest(archive_of(reports), EDITION))


@pytest.fixture
def archive(published: Published, tmp_path: Path) -> Path:
    reports = tmp_path / "reports"
    shutil.copytree(published.reports, reports, symlinks=True)
    return reports


# --- a build that fails at any stage leaves the last published report -----------------------------------------


def edit_source(sources: Path, old: str, new: str) -> None:
    path = edition_folder(sources, EDITION) / "metrics.csv"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def fsync_fails_in(folder: Path) -> Callable[[int], None]:
    """An os.fsync that raises ENOSPC for files and folders under `folder`, as on a full disk."""
    real = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder)):
            raise OSError(errno.ENOSPC, NO_SPACE)
        real(fd)
    return fsync


@dataclass(frozen=True)
class Stage:
    about: str
    expect: str  # what the user is told (a substring of the CLI's failure messages)
    step: str  # the asset or check that fails


STAGES = {
    "data": Stage("metrics.csv gets a full-width value (validation fails)", "full-width digits are not allowed",
                  "source_tables_valid"),
    "fonts": Stage("the font folder holds no Noto CJK fonts (charts fail)", "font(s) Noto Sans CJK SC",
                   "report_charts"),
    "template": Stage("the template asks for a figure the edition lacks (HTML fails)", "no_such_metric",
                      "report_html"),
    "renderer": Stage("the template loads an image from the network (PDF layout refuses it)", "refused to fetch",
                      "report_pdf"),
    "pdf_check": Stage("the template prints no Chinese in a CJK font (the PDF check fails)",
                       "no Noto CJK SC font is used", "pdf_publishable"),
    "disk_full": Stage("the disk of the archive is full while publishing (fsync fails with ENOSPC)", NO_SPACE,
                       "published_report"),
}


def break_stage(stage: str, published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                reports: Path) -> tuple[Path, Path, Path]:
    """(sources, templates, fonts) for a build that fails at `stage`; the data always differs from the published
    version, so nothing can be reused and each build really tries to publish."""
    sources = copy_edition(tmp_path)
    edit_source(sources, "全球智能手机市场份额", "全球智能手机市场份额（新）")
    tpl, fonts = published.templates, REAL.fonts
    if stage == "data":
        edit_source(sources, ",14,percent,", ",１４,percent,")
    elif stage == "fonts":
        fonts = tmp_path / "no-fonts"
        fonts.mkdir()
    elif stage == "template":
        tpl = templates(tmp_path / "templates", "<p>{{ F.no_such_metric }}</p>")
    elif stage == "renderer":
        tpl = templates(tmp_path / "templates", '<img src="http://127.0.0.1:9/chart.png">')
    elif stage == "pdf_check":
        tpl = report_folder(tmp_path / "templates")
        (tpl / "strategy_report.html.j2").write_text('<html lang="en"><head><title>t</title></head><body><p>'
                                                     "{{ F.smartphone_global_share.text }}</p></body></html>",
                                                     encoding="utf-8")
        (tpl / "report.css").write_text("html { font-family: monospace; }", encoding="utf-8")
    elif stage == "disk_full":
        monkeypatch.setattr(os, "fsync", fsync_fails_in(reports))
    return sources, tpl, fonts


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_build_failing_at_any_stage_leaves_the_published_report(stage: str, published: Published, archive: Path,
                                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  record_property) -> None:
    before = Snapshot.of(archive)
    sources, tpl, fonts = break_stage(stage, published, tmp_path, monkeypatch, archive)

    result = run_build(sources, archive, tpl, fonts)
    monkeypatch.undo()

    assert not result.success
    messages = _failure_messages(result)
    assert any(STAGES[stage].expect in m for m in messages), messages
    assert Snapshot.of(archive) == before  # same latest version, same bytes in every published file
    assert_readers_see_whole_versions(archive)
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert "published_report" not in materialized
    shown = "\n".join(messages).replace(str(tmp_path), "<tmp>")
    evidence(record_property, "fault", f"fails_at_{stage}", STAGES[stage].about,
             f"build fails at {STAGES[stage].step}; the published {before.latest.version} stays. "
             f"The CLI prints:\n{shown}")


# --- a full disk: a clear ReportError and no partial file, whichever write runs out of space ------------------


class FullDiskFile:
    """A file object that writes half of what it is given, then fails as a full disk does."""

    def __init__(self, path: Path, mode: str) -> None:
        self.fh = open(path, mode)  # noqa: SIM115 - closed by __exit__, as publish uses it in a with block

    def write(self, data: bytes) -> int:
        self.fh.write(data[: len(data) // 2])
        self.fh.flush()
        raise OSError(errno.ENOSPC, NO_SPACE)

    def __getattr__(self, name: str):
        return getattr(self.fh, name)

    def __enter__(self) -> FullDiskFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()


def new_build(archive_root: Path) -> dict[str, object]:
    """publish() arguments for a build that differs from the published one (`archive_root`: the report's archive)."""
    current = latest(archive_root, EDITION)
    return {"pdf": current.pdf_path.read_bytes() + b"%new\n%%EOF\n", "html": b"<p>new</p>", "pages": 1,
            "fingerprint": "f" * 64, "code_version": current.code_version}


def test_disk_full_while_writing_a_file_gives_a_clear_error_and_no_partial_file(
        archive: Path, monkeypatch: pytest.MonkeyPatch, record_property) -> None:
    before = Snapshot.of(archive)
    monkeypatch.setattr(publish_local, "open", FullDiskFile, raising=False)  # the local backend writes the files

    with pytest.raises(ReportError) as caught:
        publish(archive_of(archive), EDITION, **new_build(archive_of(archive)))
    monkeypatch.undo()

    assert isinstance(caught.value, PublishError) and NO_SPACE in str(caught.value)
    assert Snapshot.of(archive) == before
    assert sorted(p.name for p in (archive_of(archive) / EDITION).iterdir()) == [".lock", "latest.json", "versions"]
    shown = str(caught.value).replace(str(archive_of(archive)), "<archive>")
    evidence(record_property, "fault", "disk_full_mid_write", "publish() with a disk that fills up halfway through "
             "writing the PDF", f"PublishError: {shown}; no file "
             "left behind, the previous version stays latest")


def count_fsyncs(archive: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many fsyncs one publish makes, measured on a scratch copy (so the test follows publish's code)."""
    scratch = archive.parent / "scratch"
    shutil.copytree(archive, scratch)
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd))[1])
    publish(archive_of(scratch), EDITION, **new_build(archive_of(scratch)))
    monkeypatch.undo()
    shutil.rmtree(scratch)
    return len(calls)


def fsync_failing_at(n: int) -> Callable[[int], None]:
    real, calls = os.fsync, [0]

    def fsync(fd: int) -> None:
        calls[0] += 1
        if calls[0] == n:
            raise OSError(errno.ENOSPC, NO_SPACE)
        real(fd)
    return fsync


def test_disk_full_at_any_fsync_leaves_readers_a_whole_version(archive: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the 1st, 2nd, … fsync of a publish in turn. Whatever happens, readers see one whole version and the
    error, if any, is a PublishError naming the lack of space."""
    fsyncs = count_fsyncs(archive, monkeypatch)
    assert fsyncs >= 3
    for n in range(1, fsyncs + 1):
        copy = tmp_path / f"n{n}"
        shutil.copytree(archive, copy)
        monkeypatch.setattr(os, "fsync", fsync_failing_at(n))
        try:
            publish(archive_of(copy), EDITION, **new_build(archive_of(copy)))
        except PublishError as error:
            assert NO_SPACE in str(error), (n, str(error))
        finally:
            monkeypatch.undo()
        assert latest(archive_of(copy), EDITION) is not None
        assert_readers_see_whole_versions(copy)
        # no half-written staging folder or pointer
        assert not list((archive_of(copy) / EDITION).glob(".tmp-*")), n


def test_a_publish_that_reports_failure_has_not_replaced_the_latest(archive: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    before = latest(archive_of(archive), EDITION)
    fsyncs = count_fsyncs(archive, monkeypatch)
    monkeypatch.setattr(os, "fsync", fsync_failing_at(fsyncs))  # the last one: after the commit point
    with pytest.raises(PublishError):
        publish(archive_of(archive), EDITION, **new_build(archive_of(archive)))
    monkeypatch.undo()
    assert latest(archive_of(archive), EDITION) == before


# --- real processes: killed while writing the PDF, and two builds at once ------------------------------------

# Runs the CLI build in a child whose publish stops halfway through writing the PDF and says so; the test then
# kill -9s it. Only the private writer of publish is replaced, so the kill lands at a known moment.
STALLING_BUILD = textwrap.dedent(
    """
    import os, sys, time
    import pipeline.lib.publish.local as publish_local
    from pipeline.cli import main

    def half_write(path, data, mtime):
        with open(path, "xb") as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            os.fsync(fh.fileno())
        print("STALLED " + str(path), flush=True)
        time.sleep(120)

    publish_local._write_file = half_write
    sys.exit(main(["build", "--edition", sys.argv[1]]))
    """
)


def cli_env(sources: Path, reports: Path, templates_dir: Path, dagster_home: Path) -> dict[str, str]:
    return {**os.environ, "REPORT_SOURCES_DIR": str(sources), "REPORT_OUTPUT_DIR": str(reports),
            "REPORT_TEMPLATES_DIR": str(templates_dir), "DAGSTER_HOME": str(dagster_home),
            "PYTHONPATH": str(PROJECT_ROOT)}


def wait_for_line(proc: subprocess.Popen[str], prefix: str, timeout: float = 120.0) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
        line = proc.stdout.readline() if ready else ""
        if line.startswith(prefix):
            return line.strip()
        if not line and proc.poll() is not None:
            break
    proc.kill()
    _, err = proc.communicate()
    pytest.fail(f"the build never reached {prefix!r}:\n{err}")


def test_build_killed_while_writing_the_pdf_leaves_no_partial_file_where_readers_look(
        published: Published, archive: Path, tmp_path: Path, record_property) -> None:
    before = Snapshot.of(archive)
    sources = copy_edition(tmp_path)
    edit_source(sources, "全球智能手机市场份额", "全球智能手机市场份额（被打断）")
    proc = subprocess.Popen([sys.executable, "-c", STALLING_BUILD, EDITION], cwd=PROJECT_ROOT, text=True,
                            env=cli_env(sources, archive, published.templates, tmp_path / "dagster_home"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stalled = wait_for_line(proc, "STALLED ")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)

    assert proc.returncode == -signal.SIGKILL
    half = Path(stalled.removeprefix("STALLED "))
    assert half.is_file() and any(part.startswith(".tmp-") for part in half.relative_to(archive_of(archive)).parts)
    assert Snapshot.of(archive) == before  # readers see the previous version, byte for byte
    assert_readers_see_whole_versions(archive)
    with pytest.raises(PublishError):
        get_version(archive_of(archive), EDITION, "v0002")

    # The next build is not blocked by the dead process's lock and clears what it left.
    after = publish(archive_of(archive), EDITION, **new_build(archive_of(archive)))
    assert after.version == "v0002" and not half.exists()
    assert sorted(p.name for p in (archive_of(archive) / EDITION).iterdir()) == [".lock", "latest.json", "versions"]
    evidence(record_property, "fault", "killed_writing_pdf", "`python -m pipeline build` killed with SIGKILL "
             "halfway through writing the PDF", f"the half PDF lies in a dot-named staging folder readers never "
             f"open; latest stays {before.latest.version}; the next publish removes it and takes v0002")


def test_two_builds_of_one_edition_at_once_leave_a_consistent_archive(published: Published, archive: Path,
                                                                      tmp_path: Path, record_property) -> None:
    """Two `python -m pipeline build` processes, separate Dagster instances, one archive, different data: both
    publish, as two distinct and complete versions."""
    runs = []
    for who in ("left", "right"):
        sources = copy_edition(tmp_path / who)
        edit_source(sources, "全球智能手机市场份额", f"全球智能手机市场份额（{who}）")
        env = cli_env(sources, archive, published.templates, tmp_path / who / "dagster_home")
        runs.append((sources, subprocess.Popen([sys.executable, "-m", "pipeline", "build", "--edition", EDITION],
                                               cwd=PROJECT_ROOT, env=env, text=True, stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE)))
    outputs = [(sources, *proc.communicate(timeout=240), proc.returncode) for sources, proc in runs]

    for _, out, err, code in outputs:
        assert code == 0, err
        assert "published" in out and "Traceback" not in err
    versions = history(archive_of(archive), EDITION)
    assert [v.version for v in versions] == ["v0003", "v0002", "v0001"]
    assert_readers_see_whole_versions(archive)
    fingerprints = {read_edition(edition_folder(sources, EDITION).parent, EDITION).fingerprint
                    for sources, *_ in outputs}
    assert {v.fingerprint for v in versions[:2]} == fingerprints
    said = {line.split()[3] for _, out, _, _ in outputs for line in out.splitlines() if line.startswith("edition ")}
    assert said == {"v0002", "v0003"}
    assert sorted(p.name for p in (archive_of(archive) / EDITION).iterdir()) == [".lock", "latest.json", "versions"]
    assert sorted(p.name for p in archive.iterdir()) == [".builds", "xiaomi-ecosystem"]  # the build lock at the root
    evidence(record_property, "fault", "two_builds_at_once", "two `python -m pipeline build` processes, one archive, "
             "different data, started together", "both succeed, one as v0002 and one as v0003 (the publish lock "
             "takes them in turn); every version complete, no leftovers")
