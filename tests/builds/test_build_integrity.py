"""A published version is always what its data says, whatever else happens around the build: two builds of one
edition with an edit of the sources between their starts, a build killed while a run waits in the daemon's queue,
a build stopped with SIGTERM or Ctrl+C, a template that would lay out hundreds of pages, and a Dagster home on a
full or read-only disk. Every case runs the real CLI (`python -m pipeline …`) in its own process; the daemon case
runs the real `dagster dev`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

from pipeline.cli import _failure_messages
from pipeline.config import PROJECT_ROOT
from pipeline.lib.pdf_facts import read_pdf
from pipeline.lib.publish import history, latest
from pipeline.lib.sources import read_edition
from tests.builds.test_faults import cli_env, evidence, run_build, templates
from tests.conftest import DEFAULT_EDITION, REAL, REPORT, archive_of, copy_edition, edition_folder
from tests.dagster.test_dagster_webserver import ADD_PARTITION, LOCATION, REPOSITORY, TERMINAL, dagster_ui  # noqa: F401

EDITION = DEFAULT_EDITION
SHARE_ROW = "smartphone_global_share,小米集团,2024,14,percent"
EDITED_ROW = "smartphone_global_share,小米集团,2024,13.7,percent"

pytestmark = pytest.mark.filterwarnings("ignore:Using variable_values and operation_name:DeprecationWarning")


def start_cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=PROJECT_ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_stderr(proc: subprocess.Popen[str], needle: str, timeout: float = 180.0) -> list[str]:
    """Read the CLI's standard error until a line containing `needle`; returns the lines read."""
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line.rstrip("\n"))
        if needle in line:
            return lines
    proc.kill()
    pytest.fail(f"the build never printed {needle!r}:\n" + "\n".join(lines))


def edit_share(sources: Path) -> None:
    metrics = edition_folder(sources) / "metrics.csv"
    text = metrics.read_text(encoding="utf-8")
    assert SHARE_ROW in text
    metrics.write_text(text.replace(SHARE_ROW, EDITED_ROW), encoding="utf-8")


def pdf_text(path: Path) -> str:
    return "".join(read_pdf(path.read_bytes()).text.split())


# --- two builds of one edition around an edit --------------------------------------------------------------


@pytest.mark.parametrize("offset", [1.0, 4.0])
def test_two_builds_around_an_edit_each_publish_what_they_read_and_the_edit_ends_up_published(
        tmp_path: Path, offset: float, record_property) -> None:
    """Build A starts, the share is edited from 14 to 13.7 `offset` seconds later, then build B starts, with one
    Dagster home and one archive. Whichever data each build read, the PDF it published shows that data and its
    manifest fingerprints it; and the newest version holds the edit."""
    sources = copy_edition(tmp_path / "now")
    before = copy_edition(tmp_path / "before")  # the data as it was, for its fingerprint
    reports = tmp_path / "reports"
    env = cli_env(sources, reports, REAL.templates, tmp_path / "dagster_home")

    first = start_cli(env, "build", "--edition", EDITION)
    time.sleep(offset)
    edit_share(sources)
    second = start_cli(env, "build", "--edition", EDITION)
    for proc in (first, second):
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "Traceback" not in err

    old = read_edition(before / REPORT.report_id, EDITION).fingerprint
    new = read_edition(sources / REPORT.report_id, EDITION).fingerprint
    archive = archive_of(reports)
    versions = history(archive, EDITION)
    assert versions, "nothing was published"
    for version in versions:
        text = pdf_text(version.pdf_path)
        assert version.fingerprint in (old, new), version
        if version.fingerprint == new:
            assert "13.7%" in text, f"{version.version} carries the edited data's fingerprint but not its figure"
        else:
            assert "13.7%" not in text and "14%" in text, f"{version.version} mixes the old data with the new"
    newest = latest(archive, EDITION)
    assert newest is not None and newest.fingerprint == new
    assert "13.7%" in pdf_text(newest.pdf_path)
    # The build lock they took turns on is the edition's, at the archive root, not inside the report's archive.
    assert (reports / ".builds" / f"{EDITION}.lock").is_file()
    assert not (archive / ".builds").exists()
    evidence(record_property, "integrity", f"edit_between_builds_{offset:g}s",
             f"build A of one edition, the share edited 14 → 13.7 {offset:g} s later, then build B; one Dagster "
             "home, one archive",
             f"{len(versions)} version(s) published, each PDF showing the data its manifest fingerprints; the "
             "newest holds 13.7% (builds of one edition take turns on the edition's build lock)")


# --- a killed build does not block the queue ---------------------------------------------------------------

#: README: a run whose process died is failed within about a minute (the housekeeping sensor runs every 20 s).
ORPHAN_BOUND_SECONDS = 90


def test_a_killed_cli_build_frees_its_edition_for_a_run_queued_in_the_daemon(dagster_ui, record_property) -> None:  # noqa: F811
    ui = dagster_ui
    edition = "web-2025h1"
    added = ui.graphql(ADD_PARTITION, {"repo": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY},
                                       "name": "xiaomi_ecosystem__editions", "key": edition})["addDynamicPartition"]
    assert added["__typename"] == "AddDynamicPartitionSuccess"
    env = cli_env(ui.sources, ui.reports, REAL.templates, ui.home)
    killed = start_cli(env, "build", "--edition", edition)
    wait_for_stderr(killed, "report_figures")
    killed.kill()
    killed.communicate()
    killed_at = time.monotonic()

    client = DagsterGraphQLClient("127.0.0.1", port_number=ui.port)
    run_id = client.submit_job_execution("build_xiaomi_ecosystem", repository_location_name=LOCATION,
                                         repository_name=REPOSITORY, tags={"dagster/partition": edition})
    started_after = None
    status = client.get_run_status(run_id)
    while status not in TERMINAL and time.monotonic() - killed_at < ORPHAN_BOUND_SECONDS + 240:
        if started_after is None and status not in (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED):
            started_after = time.monotonic() - killed_at
        time.sleep(0.5)
        status = client.get_run_status(run_id)
    assert status == DagsterRunStatus.SUCCESS, f"{status}\n{ui.log_tail()}"
    assert started_after is not None and started_after < ORPHAN_BOUND_SECONDS, started_after

    instance = DagsterInstance.from_config(str(ui.home))
    try:
        runs = instance.get_runs()
        (orphan,) = [r for r in runs if r.run_id != run_id]
        assert orphan.status == DagsterRunStatus.FAILURE
        assert orphan.tags["report/pid"] == str(killed.pid)
    finally:
        instance.dispose()
    evidence(record_property, "integrity", "killed_cli_build", "`python -m pipeline build` SIGKILLed during its "
             "steps, then a run of the same edition queued in the UI",
             f"the killed run is marked failed by orphaned_runs_sensor; the queued run started "
             f"{started_after:.0f} s after the kill and published")


# --- stopping a build ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_a_build_stopped_in_the_pdf_stage_ends_within_seconds_and_says_what_was_kept(
        tmp_path: Path, how: signal.Signals, record_property) -> None:
    sources = copy_edition(tmp_path)
    metrics = edition_folder(sources) / "metrics.csv"
    metrics.write_bytes(metrics.read_text(encoding="utf-8").encode("gb18030"))  # a notice for the person building
    reports = tmp_path / "reports"
    env = cli_env(sources, reports, REAL.templates, tmp_path / "dagster_home")
    proc = start_cli(env, "build", "--edition", EDITION)
    said = wait_for_stderr(proc, "report_pdf")
    time.sleep(0.5)
    proc.send_signal(how)
    asked = time.monotonic()
    out, err = proc.communicate(timeout=60)
    took = time.monotonic() - asked
    lines = [*said, *err.splitlines()]

    assert proc.returncode == 130
    assert took < 10, f"the build took {took:.1f} s to stop"
    assert "Traceback" not in err
    assert lines[-1] == (f"build of edition '{EDITION}' stopped on request; nothing was published (the edition "
                         "has no published version yet).")
    assert "  note: metrics.csv: not UTF-8; decoded as GB18030 (Chinese Excel export). Save as UTF-8 to silence " \
           "this." in lines
    assert out == ""
    assert not (archive_of(reports) / EDITION / "latest.json").exists()
    instance = DagsterInstance.from_config(str(tmp_path / "dagster_home"))
    try:
        (run,) = instance.get_runs()
        assert run.status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)
    finally:
        instance.dispose()
    evidence(record_property, "integrity", f"stopped_{how.name}", f"{how.name} to `python -m pipeline build` in "
             "the PDF stage", f"exit 130 after {took:.1f} s; stderr ends: {lines[-1]}")


# --- size ----------------------------------------------------------------------------------------------------


def test_a_document_beyond_the_page_limit_is_refused_before_anything_is_written(tmp_path: Path,
                                                                                record_property) -> None:
    sources = copy_edition(tmp_path)
    reports = tmp_path / "reports"
    body = "{% for n in range(120) %}<p style='break-after: page'>page {{ n }}</p>{% endfor %}"
    result = run_build(sources, reports, templates(tmp_path / "templates", body))
    assert not result.success
    assert _failure_messages(result) == ["the report lays out to 120 pages; the data contract allows at most 80 "
                                         "pages per document (is a table or section repeated once per row?)"]
    assert not (archive_of(reports) / EDITION / "latest.json").exists()
    evidence(record_property, "integrity", "page_limit", "a template that lays out 120 pages",
             "the PDF step fails: the report lays out to 120 pages; the data contract allows at most 80 pages per "
             "document (is a table or section repeated once per row?)")


# --- the Dagster home on a full or read-only disk -----------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs of its own (the tests run as root in CI and here)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_under_the_dagster_home_is_one_clear_line(tmp_path: Path, small_disk: Path,
                                                                record_property) -> None:
    filler = small_disk / "filler"
    with open(filler, "wb") as fh, pytest.raises(OSError):  # fill the disk to the last byte
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    env = cli_env(copy_edition(tmp_path), tmp_path / "reports", REAL.templates, small_disk / "dagster_home")
    proc = start_cli(env, "build", "--edition", EDITION)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: the Dagster home {small_disk / 'dagster_home'} or the output folder cannot be "
                           "written (")
    assert "free space on its disk, make it writable, or set DAGSTER_HOME / REPORT_OUTPUT_DIR" in line
    assert len(err.strip().splitlines()) <= 2
    evidence(record_property, "integrity", "dagster_home_full", "`python -m pipeline build` with DAGSTER_HOME on "
             "a full 4 MB tmpfs", line.replace(str(small_disk), "<disk>"))


def test_a_read_only_dagster_home_is_one_clear_line(tmp_path: Path, small_disk: Path, record_property) -> None:
    home = small_disk / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    env = cli_env(copy_edition(tmp_path), tmp_path / "reports", REAL.templates, home)
    proc = start_cli(env, "build", "--edition", EDITION)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: the Dagster home {home} or the output folder cannot be written (")
    evidence(record_property, "integrity", "dagster_home_read_only", "`python -m pipeline build` with DAGSTER_HOME "
             "on a read-only file system", line.replace(str(small_disk), "<disk>"))


# --- the CLI's smaller promises ------------------------------------------------------------------------------


def test_validate_refuses_a_missing_template_and_a_figure_the_template_uses(tmp_path: Path,
                                                                             record_property) -> None:
    sources = copy_edition(tmp_path)
    env = cli_env(sources, tmp_path / "reports", REAL.templates, tmp_path / "dagster_home")
    settings = edition_folder(sources) / "edition.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        'template = "strategy_report.html.j2"', 'template = "x.html.j2"'), encoding="utf-8")
    proc = start_cli(env, "validate", "--edition", EDITION)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert ("  - edition.toml, column 'edition.template': no such template in the templates folder; template names "
            "a .html.j2 file there (available: _macros.html.j2, strategy_report.html.j2) (got 'x.html.j2')"
            ) in err.splitlines()

    shutil.rmtree(sources)
    sources = copy_edition(tmp_path)
    metrics = edition_folder(sources) / "metrics.csv"
    rows = metrics.read_text(encoding="utf-8").splitlines(keepends=True)
    metrics.write_text("".join(r for r in rows if not r.startswith("su7_deliveries,")), encoding="utf-8")
    proc = start_cli(env, "validate", "--edition", EDITION)
    _out, err = proc.communicate(timeout=120)
    template_lines = (REAL.templates / "strategy_report.html.j2").read_text(encoding="utf-8").splitlines()
    first_use = next(n for n, line in enumerate(template_lines, start=1) if "F.su7_deliveries" in line)
    assert proc.returncode == 1
    assert (f"  - strategy_report.html.j2, line {first_use}, column 'figure': uses a figure that is neither a row of "
            "metrics.csv nor a derived KPI of this edition (got 'su7_deliveries')") in err.splitlines()
    evidence(record_property, "integrity", "validate_is_the_whole_gate", "`validate` with template = \"x.html.j2\", "
             "then with the su7_deliveries row deleted", "both refused before any build, naming edition.toml's "
             "field and the template's line")


def test_editions_says_which_folders_it_leaves_out(tmp_path: Path) -> None:
    sources = copy_edition(tmp_path)
    editions = sources / "xiaomi-ecosystem"  # the report's editions in the sources root
    (editions / "Bad_Name").mkdir()
    (editions / ("a" * 65)).mkdir()
    (editions / "empty-2025").mkdir()
    shutil.copytree(editions / EDITION, sources / "other-report" / "other-2025")  # another report's edition
    env = cli_env(sources, tmp_path / "reports", REAL.templates, tmp_path / "dagster_home")
    proc = start_cli(env, "editions")
    out, err = proc.communicate(timeout=60)
    assert out.splitlines() == [EDITION]
    assert err.splitlines() == [
        f"note: {editions / 'Bad_Name'} is left out: not an edition name: 1 to 64 characters, lower-case letters, "
        "digits and '-', starting with a letter or digit",
        f"note: {editions / ('a' * 65)} is left out: not an edition name: 1 to 64 characters, lower-case letters, "
        "digits and '-', starting with a letter or digit",
        f"note: {editions / 'empty-2025'} is left out: has no metrics.csv",
    ]


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path: Path) -> None:
    env = cli_env(copy_edition(tmp_path), tmp_path / "reports", REAL.templates, tmp_path / "dagster_home")
    read, write = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "validate", "--edition", EDITION], cwd=PROJECT_ROOT,
                            env=env, stdout=write, stderr=subprocess.PIPE, text=True)
    os.close(write)
    os.close(read)  # as `| head -0` would: nobody reads what validate prints
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert err == ""
