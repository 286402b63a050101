"""Issue 4, the way people use it: the real Dagster UI server (`dagster dev -w workspace.yaml`, as `make ui` runs
it) on a free loopback port, with a temporary instance from deploy/local and temporary sources and archive. The
test registers an edition through the UI's GraphQL API, launches the report's job (`build_xiaomi_ecosystem`) for it
as the Materialize button does, and checks the run, the published PDF and the recorded checks.

Why `dagster dev` and not `dagster-webserver` alone: Dagster 1.13's default run coordinator queues runs, and
only the daemon (which `dagster dev` starts) dequeues them; with the webserver alone a launched run stays QUEUED."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

from tests.conftest import REPORT, archive_of, copy_edition
from tests.team_stack import WORKSPACE, stop_group

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAGSTER = Path(sys.executable).parent / "dagster"
LOCATION = "strategy_report"
REPOSITORY = "__repository__"
EDITION = "web-2025h1"
JOB = "build_xiaomi_ecosystem"
PARTITIONS = "xiaomi_ecosystem__editions"
START_TIMEOUT = 120  # seconds until the UI has loaded the code location (2 cores, cold imports)
RUN_TIMEOUT = 240  # seconds for one queued, launched and finished edition build (~15 s when idle)
TERMINAL = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}

# dagster_graphql's client calls gql in a way gql deprecates; not ours to change.
pytestmark = pytest.mark.filterwarnings("ignore:Using variable_values and operation_name:DeprecationWarning")

ADD_PARTITION = """
mutation AddEdition($repo: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $repo, partitionsDefName: $name, partitionKey: $key) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionKey }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
    ... on DuplicateDynamicPartitionError { partitionName }
  }
}"""

MATERIALIZATION = """
query Latest($key: AssetKeyInput!, $partition: String!) {
  assetOrError(assetKey: $key) { __typename
    ... on Asset { assetMaterializations(partitions: [$partition], limit: 1) { partition runId
        metadataEntries { label __typename ... on UrlMetadataEntry { url } ... on PathMetadataEntry { path } } } } }
}"""


@dataclass
class DagsterUI:
    port: int
    home: Path
    sources: Path
    reports: Path
    log: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/graphql", data=json.dumps({"query": query, "variables": variables or {}}
                                                                      ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.load(response)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_loaded(ui: DagsterUI, process: subprocess.Popen) -> None:
    """Until the UI answers and has loaded our code location; fails early if the server exits or cannot load it."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster dev exited with {process.returncode}:\n{ui.log_tail()}")
        try:
            workspace = ui.graphql(WORKSPACE)["workspaceOrError"]
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
            continue
        entries = {e["name"]: e for e in workspace.get("locationEntries", [])}
        entry = entries.get(LOCATION)
        if entry and entry["loadStatus"] == "LOADED":
            location = entry["locationOrLoadError"]
            assert location["__typename"] == "RepositoryLocation", location
            return
        time.sleep(0.5)
    pytest.fail(f"the UI did not load {LOCATION} within {START_TIMEOUT} s:\n{ui.log_tail()}")


@pytest.fixture
def dagster_ui(tmp_path):
    sources = copy_edition(tmp_path, as_name=EDITION)
    reports = tmp_path / "reports"
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    ui = DagsterUI(free_port(), home, sources, reports, tmp_path / "dagster.log")
    env = {**os.environ, "DAGSTER_HOME": str(home), "REPORT_SOURCES_DIR": str(sources),
           "REPORT_OUTPUT_DIR": str(reports)}
    # Started from a background job, this process ignores SIGINT, and an ignored signal stays ignored across exec:
    # dagster dev would then ignore SIGINT and SIGTERM (it maps SIGTERM to the SIGINT handler) and never stop. A
    # handler, unlike SIG_IGN, is reset to the default in the child, so one is installed while starting it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with ui.log.open("wb") as log:
            process = subprocess.Popen(
                [str(DAGSTER), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(ui.port)],
                cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, so the finalizer stops every child it starts
            )
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        wait_until_loaded(ui, process)
        yield ui
    finally:
        stop_group(process)


def test_edition_materialized_from_the_ui_publishes_the_pdf_and_records_checks(dagster_ui, record_property):
    ui = dagster_ui
    added = ui.graphql(ADD_PARTITION, {"repo": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY},
                                       "name": PARTITIONS, "key": EDITION})["addDynamicPartition"]
    assert added == {"__typename": "AddDynamicPartitionSuccess", "partitionKey": EDITION}

    client = DagsterGraphQLClient("127.0.0.1", port_number=ui.port)
    started = time.monotonic()
    run_id = client.submit_job_execution(JOB, repository_location_name=LOCATION,
                                         repository_name=REPOSITORY, tags={"dagster/partition": EDITION})
    status = client.get_run_status(run_id)
    while status not in TERMINAL and time.monotonic() - started < RUN_TIMEOUT:
        time.sleep(0.5)
        status = client.get_run_status(run_id)
    elapsed = time.monotonic() - started
    record_property("ui_materialization_seconds", round(elapsed, 1))
    assert status == DagsterRunStatus.SUCCESS, f"run {run_id}: {status} after {elapsed:.0f} s\n{ui.log_tail()}"

    pdf = archive_of(ui.reports) / EDITION / "versions" / "v0001" / f"{EDITION}_v0001.pdf"
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF-")

    instance = DagsterInstance.from_config(str(ui.home))
    try:
        run = instance.get_run_by_id(run_id)
        assert run.tags["dagster/partition"] == EDITION
        assert run.job_name == JOB and run.tags["report/id"] == "xiaomi-ecosystem"
        evaluations = [record.asset_check_evaluation for record in instance.all_logs(
            run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)]
        by_name = {e.check_name: e for e in evaluations}
        assert {"source_tables_valid", "pdf_publishable", *(rule.check_id for rule in REPORT.rules)} <= set(by_name)
        assert by_name["source_tables_valid"].passed and by_name["pdf_publishable"].passed
    finally:
        instance.dispose()

    # What the asset page shows for the edition: its latest publication, with the PDF's path and download link.
    asset = ui.graphql(MATERIALIZATION, {"key": {"path": ["xiaomi_ecosystem", "published_report"]},
                                         "partition": EDITION})["assetOrError"]
    (materialization,) = asset["assetMaterializations"]
    assert materialization["runId"] == run_id and materialization["partition"] == EDITION
    entries = {e["label"]: e for e in materialization["metadataEntries"]}
    assert Path(entries["pdf_path"]["path"]) == pdf
    assert entries["download"]["url"].endswith(f"/xiaomi-ecosystem/editions/{EDITION}/v0001/{EDITION}_v0001.pdf")
