"""Issue 4, in-process: editions as partitions, the blocking data contract, the schedule and the sources sensor,
and the instance profiles in deploy/. Real Dagster objects from the code location, temporary folders, no mocks."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterInvalidDefinitionError,
    Definitions,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)
from dagster._core.instance.ref import InstanceRef

from pipeline.config import PROJECT_ROOT
from pipeline.definitions import defs
from pipeline.defs import automation
from pipeline.defs.automation import latest_edition, report_schedule
from pipeline.defs.partitions import editions_of
from pipeline.lib.sources import fingerprint
from pipeline.lib.validate import SCHEMA_VERSION
from tests.conftest import REPORT, archive_of, copy_edition, edition_folder, materialize_edition, settings_for

EDITION = "test-2025h1"
REPORT_ASSETS = {"validated_metrics", "report_figures", "report_charts", "report_html", "report_pdf",
                 "published_report"}
#: The report's Dagster names, written out (pipeline.defs.partitions derives them from the id xiaomi-ecosystem).
JOB = "build_xiaomi_ecosystem"
PARTITIONS = "xiaomi_ecosystem__editions"
SCHEDULE = "xiaomi_ecosystem__latest_edition_schedule"
SENSOR = "xiaomi_ecosystem__sources_sensor"
PREFIX = "xiaomi_ecosystem"
#: The flights report's, beside it in the same code location: its build job, and the ingest job of its warehouse.
FLIGHTS_JOBS = {"build_nyc_flights", "ingest_nyc_flights"}
FLIGHTS_SCHEDULE = "nyc_flights__latest_edition_schedule"
DG = Path(sys.executable).parent / "dg"  # the venv's (.venv/bin/dg)
DG_TIMEOUT = 60  # seconds for one dg command (about 4 s here)

build_report = defs.resolve_job_def(JOB)
latest_edition_schedule = defs.resolve_schedule_def(SCHEDULE)
edition_sources_sensor = defs.resolve_sensor_def(SENSOR)


def key(asset: str) -> AssetKey:
    return AssetKey([PREFIX, asset])


def editions_root(sources: Path) -> Path:
    """The report's folder of editions in a sources root (sources/<report id>/)."""
    return edition_folder(sources).parent


@pytest.fixture
def instance():
    """A persistent (SQLite, temporary folder) instance, as sensors and schedules need."""
    with instance_for_test() as instance:
        yield instance


def set_edition_date(folder: Path, value: str) -> None:
    """Rewrite the `date` of the [edition] table in edition.toml."""
    toml = folder / "edition.toml"
    text, count = re.subn(r'^date = ".*"$', f'date = "{value}"', toml.read_text(encoding="utf-8"), count=1,
                          flags=re.MULTILINE)
    assert count == 1, "edition.toml of the shipped edition has no date line"
    toml.write_text(text, encoding="utf-8")


def touch_metric(folder: Path, old: str, new: str) -> None:
    csv = folder / "metrics.csv"
    text = csv.read_text(encoding="utf-8")
    assert old in text
    csv.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- the code location ------------------------------------------------------------------------------------------


def test_code_location_loads_with_job_schedule_and_sensor():
    Definitions.validate_loadable(defs)
    job = defs.resolve_job_def(JOB)
    assert job.partitions_def is not None and job.partitions_def.name == PARTITIONS
    assert job.tags["report/id"] == "xiaomi-ecosystem"
    assert latest_edition_schedule.job_name == edition_sources_sensor.job_name == build_report.name == JOB
    every = defs.resolve_asset_graph().asset_nodes
    nodes = [node for node in every if node.key.path[0] == PREFIX]  # each report's assets under its own prefix
    assert {node.key for node in nodes} == {key(name) for name in ("source_tables", *REPORT_ASSETS)}
    assert {node.key.path[0] for node in every} == {PREFIX, "nyc_flights"}
    assert all(node.partitions_def == job.partitions_def for node in nodes)
    assert all(node.code_version and node.owners and node.group_name == PREFIX and node.description
               for node in nodes)


def run_dg(home: Path, *args: str) -> subprocess.CompletedProcess:
    """`dg <args>` in the project root, as a developer runs it, with a temporary DAGSTER_HOME and no REPORT_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORT_")} | {"DAGSTER_HOME": str(home)}
    return subprocess.run([str(DG), *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=DG_TIMEOUT, check=False)


def test_dg_checks_and_lists_the_project_definitions(tmp_path):
    """Dagster's own project CLI loads the code location from pyproject.toml ([tool.dg]) and the report folder's
    defs.yaml, as `dg check defs` / `dg list defs` do for a developer."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    checked = run_dg(home, "check", "defs")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr

    listed = run_dg(home, "list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    assets = {item["asset_key"]: item for item in found["assets"]}
    assert "xiaomi_ecosystem/published_report" in assets
    assert assets["xiaomi_ecosystem/published_report"]["source"].startswith("templates/xiaomi-ecosystem/defs.yaml")
    assert {item["name"] for item in found["jobs"]} == {JOB, *FLIGHTS_JOBS}
    assert {item["name"] for item in found["schedules"]} == {SCHEDULE, FLIGHTS_SCHEDULE}
    assert {SENSOR, "orphaned_runs_sensor"} <= {item["name"] for item in found["sensors"]}


# --- partitioned materialization and metadata -------------------------------------------------------------------


def test_temporary_edition_materializes_as_its_own_partition_with_analyst_metadata(tmp_path, instance):
    sources = copy_edition(tmp_path, as_name=EDITION)
    reports = tmp_path / "reports"

    result = materialize_edition(sources, reports, EDITION, instance)

    assert result.success
    events = {e.asset_key.path[-1]: e for e in result.get_asset_materialization_events()}
    assert set(events) == {"source_tables", *REPORT_ASSETS}
    assert {e.partition for e in events.values()} == {EDITION}
    meta = {name: event.materialization.metadata for name, event in events.items()}

    folder = edition_folder(sources, EDITION)
    metric_rows = len((folder / "metrics.csv").read_text(encoding="utf-8").strip().splitlines()) - 1
    assert meta["source_tables"]["dagster/row_count"].value == metric_rows
    assert meta["source_tables"]["fingerprint"].value == fingerprint(folder)
    assert meta["validated_metrics"]["dagster/row_count"].value == metric_rows
    assert meta["validated_metrics"]["schema_version"].value == SCHEMA_VERSION
    columns = [c.name for c in meta["validated_metrics"]["dagster/column_schema"].value.columns]
    assert {"metric_id", "period", "value", "unit"} <= set(columns)

    kpis = meta["report_figures"]["kpis"].value  # a table in the report's own formatting, not 6e+01
    assert [c.name for c in kpis.schema.columns] == ["figure", "label", "period", "value", "raw_value", "unit",
                                                      "formula"]
    assert len(kpis.records) == meta["report_figures"]["kpi_count"].value > 0
    progress = next(r.data for r in kpis.records if r.data["figure"] == "su7_target_progress")
    assert progress == {"figure": "su7_target_progress", "label": "小米SU7上半年交付占全年目标的比例",
                        "period": "2025年上半年", "value": "60%", "raw_value": 60.0, "unit": "percent",
                        "formula": "su7_deliveries ÷ su7_delivery_target × 100"}
    revenue = next(r.data for r in kpis.records if r.data["figure"] == "group_revenue_prior")
    assert (revenue["period"], revenue["value"]) == ("2023年", "2592.6亿元")  # 2800亿 ÷ 1.08
    described = {c.name: c.description for c in meta["validated_metrics"]["dagster/column_schema"].value.columns}
    assert described["period"] == "the period it covers: YYYY, YYYYH1/H2, YYYYQ1-Q4, YYYY-MM, or undated"
    specs = meta["report_charts"]["specs"].value
    assert len(specs) == meta["report_charts"]["chart_count"].value > 0
    assert all(isinstance(spec, dict) and spec for spec in specs.values())

    published = meta["published_report"]
    pdf = Path(published["pdf_path"].value)
    assert pdf.is_file() and pdf.is_relative_to(archive_of(reports) / EDITION)
    data = pdf.read_bytes()
    assert published["size_bytes"].value == len(data)
    assert published["sha256"].value == hashlib.sha256(data).hexdigest()
    assert published["pages"].value == meta["report_pdf"]["pages"].value >= 10
    assert published["data_fingerprint"].value == fingerprint(folder)
    url = published["download"].value
    assert re.fullmatch(rf"https?://[^/]+/xiaomi-ecosystem/editions/{EDITION}/v0001/{EDITION}_v0001\.pdf", url), url

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["source_tables_valid"].passed and checks["pdf_publishable"].passed
    assert REPORT.rules and {rule.check_id for rule in REPORT.rules} <= set(checks)
    assert {e.asset_key for e in result.get_asset_check_evaluations()} <= {key(name) for name in
                                                                           ("source_tables", *REPORT_ASSETS)}
    # What the UI reads: the instance knows the partition and its latest materialization.
    assert instance.get_dynamic_partitions(PARTITIONS) == [EDITION]
    latest = instance.get_latest_materialization_event(key("published_report"))
    assert latest is not None and latest.dagster_event.partition == EDITION


def test_two_editions_in_one_instance_each_build_with_their_own_checks(tmp_path, instance):
    """Checks are partitioned like their assets: building one edition never loads another edition's data."""
    sources = copy_edition(tmp_path, as_name="first-2025h1")
    copy_edition(tmp_path, as_name="second-2025h1")
    reports = tmp_path / "reports"
    instance.add_dynamic_partitions(PARTITIONS, ["first-2025h1", "second-2025h1"])
    for edition in ("first-2025h1", "second-2025h1"):
        result = materialize_edition(sources, reports, edition, instance)
        assert result.success, edition
        evaluations = result.get_asset_check_evaluations()
        assert {e.check_name for e in evaluations} >= {"source_tables_valid", "pdf_publishable"}
    assert sorted(p.name for p in reports.iterdir() if not p.name.startswith(".")) == ["xiaomi-ecosystem"]
    assert sorted(p.name for p in archive_of(reports).iterdir() if not p.name.startswith(".")) == [
        "first-2025h1", "second-2025h1"]


def test_failing_blocking_check_stops_the_report_and_lists_failing_rows(tmp_path, instance):
    sources = copy_edition(tmp_path, as_name=EDITION)
    folder = edition_folder(sources, EDITION)
    lines = (folder / "metrics.csv").read_text(encoding="utf-8").splitlines()
    assert ",14,percent," in lines[1] and ",devices," in lines[3]
    lines[1] = lines[1].replace(",14,percent,", ",140,percent,")  # line 2: a share above 100
    lines[3] = lines[3].replace(",devices,", ",dev|ices,")  # line 4: unknown unit, with a pipe in the value
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    reports = tmp_path / "reports"
    instance.add_dynamic_partitions(PARTITIONS, [EDITION])

    # The job of the code location, as the UI, the schedule and the sensor run it.
    result = defs.resolve_job_def(JOB).execute_in_process(
        partition_key=EDITION, instance=instance, raise_on_error=False,
        resources={"settings": settings_for(sources, reports)},
    )

    assert not result.success
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == "source_tables_valid")
    assert not evaluation.passed and evaluation.severity.value == "ERROR"
    problems = evaluation.metadata["problems_json"].value
    assert all(set(p) >= {"file", "row", "column", "rule"} and p["rule"] for p in problems)
    assert {("metrics.csv", 2, "value"), ("metrics.csv", 4, "unit")} <= {(p["file"], p["row"], p["column"])
                                                                         for p in problems}
    table = evaluation.metadata["problems"].value  # shown as a table on the check's page
    assert [c.name for c in table.schema.columns] == ["file", "row", "column", "rule", "value"]
    assert len(table.records) == len(problems)
    assert {("metrics.csv", "2", "value"), ("metrics.csv", "4", "unit")} <= {
        (r.data["file"], r.data["row"], r.data["column"]) for r in table.records}
    assert any(r.data["value"] == "dev|ices" for r in table.records)  # a pipe in a cell stays in its cell

    # Blocking: the report steps never start (without blocking=True validated_metrics would start and fail).
    started = {e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START}
    assert started == {"xiaomi_ecosystem__source_tables", "xiaomi_ecosystem__source_tables_source_tables_valid"}, \
        started
    failed = {e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE}
    # the check fails the run; the data step succeeded
    assert failed == {"xiaomi_ecosystem__source_tables_source_tables_valid"}
    assert {e.asset_key for e in result.get_asset_materialization_events()} == {key("source_tables")}
    assert instance.get_latest_materialization_event(key("report_pdf")) is None
    assert not reports.exists() or not any(reports.rglob("*.pdf"))


# --- schedule -----------------------------------------------------------------------------------------------------


def schedule_tick(schedule, instance: DagsterInstance, sources: Path, reports: Path):
    """One evaluation as the daemon does it (partition tags resolved). The context opens its own instance from the
    instance's ref; closing it matters: an open instance stays Dagster's current one for later tests."""
    with build_schedule_context(instance=instance, resources={"settings": settings_for(sources, reports)},
                                repository_def=defs.get_repository_def()) as context:
        return schedule.evaluate_tick(context)


def test_schedule_cron_and_timezone_default_and_come_from_the_environment(monkeypatch):
    monkeypatch.delenv(automation.CRON_ENV, raising=False)
    monkeypatch.delenv(automation.TIMEZONE_ENV, raising=False)

    def build_latest_edition_schedule():
        return report_schedule(REPORT, build_report, editions_of(REPORT))

    default = build_latest_edition_schedule()  # the report's [schedule]
    assert (default.cron_schedule, default.execution_timezone) == ("0 7 * * 1-5", "Asia/Shanghai")
    assert default.name == SCHEDULE and default.job_name == JOB
    loaded = defs.resolve_schedule_def(SCHEDULE)  # the code location's, made the same way when it loaded
    assert (loaded.cron_schedule, loaded.execution_timezone) == ("0 7 * * 1-5", "Asia/Shanghai")

    monkeypatch.setenv(automation.CRON_ENV, "30 6 * * *")
    monkeypatch.setenv(automation.TIMEZONE_ENV, "Europe/Berlin")
    configured = build_latest_edition_schedule()
    assert (configured.cron_schedule, configured.execution_timezone) == ("30 6 * * *", "Europe/Berlin")

    monkeypatch.setenv(automation.TIMEZONE_ENV, "Mars/Olympus")
    with pytest.raises(DagsterInvalidDefinitionError, match=automation.TIMEZONE_ENV):
        build_latest_edition_schedule()
    monkeypatch.setenv(automation.TIMEZONE_ENV, "Asia/Shanghai")
    monkeypatch.setenv(automation.CRON_ENV, "every morning")
    with pytest.raises(DagsterInvalidDefinitionError, match=automation.CRON_ENV):
        build_latest_edition_schedule()


def test_latest_edition_is_the_newest_edition_date_not_the_last_name(tmp_path):
    sources = copy_edition(tmp_path, as_name="acme-2026h1")
    copy_edition(tmp_path, as_name="xiaomi-ecosystem-2025h1")
    copy_edition(tmp_path, as_name="zz-undated-2025h1")
    editions = editions_root(sources)
    set_edition_date(editions / "acme-2026h1", "2026-12-20")
    set_edition_date(editions / "xiaomi-ecosystem-2025h1", "2026-06-30")
    set_edition_date(editions / "zz-undated-2025h1", "下半年")
    assert latest_edition(editions) == "acme-2026h1"  # by name it would be zz-…, then xiaomi-…

    set_edition_date(editions / "xiaomi-ecosystem-2025h1", "2026-12-20")
    assert latest_edition(editions) == "xiaomi-ecosystem-2025h1"  # same date: the name decides
    assert latest_edition(tmp_path / "nowhere") is None


def test_schedule_requests_a_build_of_the_latest_registered_edition(tmp_path, instance):
    sources = copy_edition(tmp_path, as_name="acme-2026h1")
    copy_edition(tmp_path, as_name="xiaomi-ecosystem-2025h1")
    set_edition_date(edition_folder(sources, "acme-2026h1"), "2027-01-15")
    reports = tmp_path / "reports"

    unregistered = schedule_tick(latest_edition_schedule, instance, sources, reports)
    assert unregistered.run_requests == []
    assert "acme-2026h1" in unregistered.skip_message and SENSOR in unregistered.skip_message

    instance.add_dynamic_partitions(PARTITIONS, ["acme-2026h1", "xiaomi-ecosystem-2025h1"])
    data = schedule_tick(latest_edition_schedule, instance, sources, reports)
    assert [r.partition_key for r in data.run_requests] == ["acme-2026h1"]
    tags = data.run_requests[0].tags
    assert tags["dagster/partition"] == "acme-2026h1"
    assert tags["dagster/schedule_name"] == SCHEDULE

    empty = tmp_path / "empty"
    editions_root(empty).mkdir(parents=True)  # the report's folder of editions, with no edition in it
    assert schedule_tick(latest_edition_schedule, instance, empty, reports).run_requests == []
    # Editions of another report in the same sources root are not this report's.
    shutil.copytree(edition_folder(sources, "acme-2026h1"), empty / "other-report" / "acme-2026h1")
    assert schedule_tick(latest_edition_schedule, instance, empty, reports).run_requests == []


# --- sensor -------------------------------------------------------------------------------------------------------


def sensor_tick(instance: DagsterInstance, sources: Path, cursor: str | None):
    """One evaluation as the daemon does it: resolve the requests, then apply the partition requests. (The ref lets
    the context check partition keys against the instance, as the daemon's context does.)"""
    with build_sensor_context(instance=instance, instance_ref=instance.get_ref(), cursor=cursor,
                              resources={"settings": settings_for(sources, sources.parent / "reports")},
                              definitions=defs) as context:
        data = edition_sources_sensor.evaluate_tick(context)
    for request in data.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return data


def added_partitions(data) -> list[str]:
    return [key for request in data.dynamic_partitions_requests for key in request.partition_keys]


def test_sensor_registers_and_builds_a_new_folder_then_stays_quiet(tmp_path, instance):
    sources = copy_edition(tmp_path, as_name=EDITION)
    digest = fingerprint(edition_folder(sources, EDITION))

    first = sensor_tick(instance, sources, None)

    assert added_partitions(first) == [EDITION]
    assert [r.partitions_def_name for r in first.dynamic_partitions_requests] == [PARTITIONS]
    assert instance.get_dynamic_partitions(PARTITIONS) == [EDITION]
    assert [r.partition_key for r in first.run_requests] == [EDITION]
    request = first.run_requests[0]
    assert request.run_key.startswith(f"{EDITION}:{digest[:16]}")
    assert request.tags["dagster/partition"] == EDITION
    assert request.tags["dagster/sensor_name"] == SENSOR
    assert json.loads(first.cursor) == {EDITION: digest}

    again = sensor_tick(instance, sources, first.cursor)
    assert again.run_requests == [] and added_partitions(again) == []
    assert again.skip_message and again.cursor == first.cursor


def test_sensor_requests_a_build_only_for_the_edition_whose_files_changed(tmp_path, instance):
    sources = copy_edition(tmp_path, as_name=EDITION)
    copy_edition(tmp_path, as_name="other-2025h1")
    first = sensor_tick(instance, sources, None)
    assert sorted(r.partition_key for r in first.run_requests) == ["other-2025h1", EDITION]

    touch_metric(edition_folder(sources, EDITION), ",14,percent,", ",15,percent,")
    changed = sensor_tick(instance, sources, first.cursor)

    assert [r.partition_key for r in changed.run_requests] == [EDITION]
    assert added_partitions(changed) == []
    new_digest = fingerprint(edition_folder(sources, EDITION))
    assert changed.run_requests[0].run_key.startswith(f"{EDITION}:{new_digest[:16]}")
    assert changed.run_requests[0].run_key not in {r.run_key for r in first.run_requests}
    assert json.loads(changed.cursor) == {EDITION: new_digest,
                                          "other-2025h1": fingerprint(edition_folder(sources, "other-2025h1"))}
    assert sensor_tick(instance, sources, changed.cursor).run_requests == []


def test_sensor_adds_only_the_new_folder_and_forgets_removed_ones(tmp_path, instance):
    sources = copy_edition(tmp_path, as_name=EDITION)
    first = sensor_tick(instance, sources, None)
    copy_edition(tmp_path, as_name="next-2025h2")

    second = sensor_tick(instance, sources, first.cursor)

    assert added_partitions(second) == ["next-2025h2"]
    assert [r.partition_key for r in second.run_requests] == ["next-2025h2"]
    assert sorted(instance.get_dynamic_partitions(PARTITIONS)) == ["next-2025h2", EDITION]

    shutil.rmtree(edition_folder(sources, "next-2025h2"))
    third = sensor_tick(instance, sources, second.cursor)
    assert third.run_requests == [] and json.loads(third.cursor) == {
        EDITION: fingerprint(edition_folder(sources, EDITION))}


def test_sensor_builds_an_undone_edit_and_a_partition_registered_elsewhere(tmp_path, instance):
    sources = copy_edition(tmp_path, as_name=EDITION)
    instance.add_dynamic_partitions(PARTITIONS, [EDITION])  # e.g. by `python -m pipeline build`

    first = sensor_tick(instance, sources, None)
    assert added_partitions(first) == [] and [r.partition_key for r in first.run_requests] == [EDITION]

    touch_metric(edition_folder(sources, EDITION), ",14,percent,", ",15,percent,")
    edited = sensor_tick(instance, sources, first.cursor)
    touch_metric(edition_folder(sources, EDITION), ",15,percent,", ",14,percent,")
    undone = sensor_tick(instance, sources, edited.cursor)

    # Back to the first content, but a new change: Dagster would skip a run key it has seen before.
    assert undone.cursor == first.cursor
    keys = [data.run_requests[0].run_key for data in (first, edited, undone)]
    assert len(set(keys)) == 3, keys


def test_sensor_survives_a_cursor_it_cannot_read(tmp_path, instance):
    sources = copy_edition(tmp_path, as_name=EDITION)
    data = sensor_tick(instance, sources, "not json")
    assert [r.partition_key for r in data.run_requests] == [EDITION]
    assert json.loads(data.cursor) == {EDITION: fingerprint(edition_folder(sources, EDITION))}


# --- instance profiles --------------------------------------------------------------------------------------------


def test_local_profile_is_sqlite_without_telemetry_and_queues_runs(tmp_path):
    shutil.copy(PROJECT_ROOT / "deploy" / "local" / "dagster.yaml", tmp_path / "dagster.yaml")
    instance = DagsterInstance.from_config(str(tmp_path))
    try:
        assert instance.get_settings("telemetry") == {"enabled": False}
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert Path(instance.root_directory) == tmp_path
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"  # the daemon starts the runs
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 2
        assert [limit["key"] for limit in queue.tag_concurrency_limits] == ["dagster/partition"]
    finally:
        instance.dispose()


STEP_THAT_TALKS = """
import os, sys
import psutil
from dagster import DagsterInstance, asset, materialize

@asset
def talks():
    print("printed by a step")
    os.write(2, "written to descriptor 2 by a library, 中文\\n".encode())
    print(f"processes started beside the run: {len(psutil.Process().children(recursive=True))}")
    kept_by_a_library.extend([os.dup(1), os.dup(2)])  # as vl-convert's JavaScript runtime does when it starts

kept_by_a_library = []

instance = DagsterInstance.get()
result = materialize([talks], instance=instance)
print(f"run {result.run_id} success={result.success}")
"""


def test_a_runs_output_reaches_the_ui_log_tabs_and_the_terminal_without_helper_processes(tmp_path):
    """What a step prints is in the run's stdout/stderr tabs (Dagster's log API, as the UI reads it) and on the
    terminal of `make report` or `make ui`; the copying starts no process next to the build, and the run still
    ends when a library keeps its own copy of stdout and stderr open."""
    shutil.copy(PROJECT_ROOT / "deploy" / "local" / "dagster.yaml", tmp_path / "dagster.yaml")
    proc = subprocess.run([sys.executable, "-c", STEP_THAT_TALKS], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DAGSTER_HOME": str(tmp_path)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "printed by a step" in proc.stdout
    assert "processes started beside the run: 0" in proc.stdout
    assert "written to descriptor 2 by a library, 中文" in proc.stderr
    run_id = re.search(r"run (\S+) success=True", proc.stdout).group(1)

    instance = DagsterInstance.from_config(str(tmp_path))
    try:
        (captured,) = instance.all_logs(run_id, of_type=DagsterEventType.LOGS_CAPTURED)
        file_key = captured.dagster_event.logs_captured_data.file_key
        manager = instance.compute_log_manager
        log_key = [run_id, "compute_logs", file_key]
        assert manager.is_capture_complete(log_key)
        data = manager.get_log_data(log_key)
        assert data.stdout.decode().splitlines()[:2] == ["printed by a step", "processes started beside the run: 0"]
        assert "written to descriptor 2 by a library, 中文" in data.stderr.decode()
    finally:
        instance.dispose()


def test_team_profile_is_valid_instance_config_with_postgres_credentials_from_the_environment(tmp_path):
    # Dagster's own loader and schema for dagster.yaml (an internal module: there is no public validator), so a
    # typo in the team profile fails here rather than on the team's server. dagster-postgres is not installed, so
    # the instance itself cannot be opened here.
    from dagster._core.instance.config import dagster_instance_config

    shutil.copy(PROJECT_ROOT / "deploy" / "team" / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    database = config["storage"]["postgres"]["postgres_db"]
    # Where the database is and who logs in come from the environment; no credential is written in the file.
    assert all(set(database[key]) == {"env"} for key in ("hostname", "db_name", "username", "password"))
    assert config["telemetry"] == {"enabled": False}


# --- trigger tags, editions without a folder, removing an edition (what the UI's user meets) -------------------


def test_the_sensor_does_not_rebuild_an_edition_already_built_from_the_same_files(tmp_path, instance):
    """Turning the sensor on (empty cursor) over editions built before: no run for one built from these files,
    a run tagged sources-changed for one whose files changed since, new-edition for a new folder."""
    sources = copy_edition(tmp_path, as_name=EDITION)
    copy_edition(tmp_path, as_name="changed-2025h1")
    instance.add_dynamic_partitions(PARTITIONS, [EDITION, "changed-2025h1"])
    for edition in (EDITION, "changed-2025h1"):
        built = defs.resolve_job_def(JOB).execute_in_process(
            partition_key=edition, instance=instance, resources={"settings": settings_for(sources, tmp_path / "r")})
        assert built.success and built.dagster_run.tags["report/trigger"] == "manual"  # the job's own tag
    metrics = edition_folder(sources, "changed-2025h1") / "metrics.csv"
    metrics.write_text(metrics.read_text(encoding="utf-8").replace(",14,percent,", ",15,percent,", 1),
                       encoding="utf-8")
    shutil.copytree(edition_folder(sources, EDITION), edition_folder(sources, "new-2025h1"))

    data = sensor_tick(instance, sources, None)

    assert {r.partition_key: r.tags["report/trigger"] for r in data.run_requests} == {
        "changed-2025h1": "sources-changed", "new-2025h1": "new-edition"}
    assert sorted(json.loads(data.cursor)) == ["changed-2025h1", "new-2025h1", EDITION]


def test_an_edition_without_a_folder_fails_before_any_step_with_what_to_do(tmp_path, instance):
    """What the UI's "Add partition" can create: a partition with no folder behind it."""
    sources = copy_edition(tmp_path, as_name=EDITION)
    instance.add_dynamic_partitions(PARTITIONS, ["typo-2025h1"])
    result = defs.resolve_job_def(JOB).execute_in_process(
        partition_key="typo-2025h1", instance=instance, raise_on_error=False,
        resources={"settings": settings_for(sources, tmp_path / "reports")})
    assert not result.success
    assert not [e for e in result.all_events if e.event_type == DagsterEventType.STEP_START]
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.RUN_FAILURE)
    text = str(failure.event_specific_data)
    assert "edition 'typo-2025h1' of xiaomi-ecosystem has no folder" in text
    assert "python -m pipeline editions --report xiaomi-ecosystem remove typo-2025h1" in text
    assert f"editions with a folder: {EDITION}" in text


def test_editions_remove_deletes_the_partition_and_says_what_stays(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "REPORT_SOURCES_DIR": str(copy_edition(tmp_path)),
           "REPORT_OUTPUT_DIR": str(tmp_path / "reports")}
    env.pop("REPORT_TEMPLATES_DIR", None)
    cli = [sys.executable, "-m", "pipeline", "editions"]
    built = subprocess.run([sys.executable, "-m", "pipeline", "build"], env=env, cwd=PROJECT_ROOT,
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    removed = subprocess.run([*cli, "remove", REPORT.default_edition], env=env, cwd=PROJECT_ROOT,
                             capture_output=True, text=True, timeout=120)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.splitlines()[:3] == [
        f"removed edition {REPORT.default_edition} of xiaomi-ecosystem from Dagster's partitions.",
        "  its runs and materializations stay in the run history (the UI no longer lists it as a partition);",
        "  its 1 published version(s) stay in the archive, and the download site keeps serving them;"]
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "home"))) as instance:
        assert instance.get_dynamic_partitions(PARTITIONS) == []
    assert (archive_of(tmp_path / "reports") / REPORT.default_edition / "latest.json").is_file()
    again = subprocess.run([*cli, "remove", REPORT.default_edition], env=env, cwd=PROJECT_ROOT,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1
    assert again.stderr == (f"error: '{REPORT.default_edition}' is not an edition of xiaomi-ecosystem in Dagster "
                            "(editions: none)\n")
