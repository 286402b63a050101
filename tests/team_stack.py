"""The team deployment profile, started for real on this machine: shared by tests/deploy/test_team_profile.py and
benchmarks/backfill.py. Not collected by pytest itself.

- :func:`postgres_server`: a PostgreSQL server from Debian's package (``/usr/lib/postgresql/<major>/bin``) with a
  temporary data directory, listening on 127.0.0.1 on a free port, with a password-protected role and an empty
  database. PostgreSQL refuses to run as root, so as root the data directory belongs to the ``postgres`` system
  user of the Debian package and the server binaries run under ``runuser -u postgres``.
- :func:`team_stack`: a temporary DAGSTER_HOME whose dagster.yaml is deploy/team/dagster.yaml, the environment of
  deploy/team/dagster.env plus the database's, temporary editions and archive (REPORT_SOURCES_DIR,
  REPORT_OUTPUT_DIR), and the profile's three processes: ``dagster code-server start`` (the code location, which
  also starts the runs), ``dagster-webserver`` and ``dagster-daemon run``, with deploy/team/workspace.yaml pointed
  at the code server's port.

Every process is started in its own process group and stopped (with everything it started: run workers, the code
server's child) when the context manager exits, on failure too.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TEAM_PROFILE = PROJECT_ROOT / "deploy" / "team"
BIN = Path(sys.executable).parent
LOCATION = "strategy_report"
REPOSITORY = "__repository__"
#: The report's job and partitions (pipeline.defs.partitions.names of the report xiaomi-ecosystem).
JOB = "build_xiaomi_ecosystem"
PARTITIONS = "xiaomi_ecosystem__editions"
PARTITION_TAG = "dagster/partition"
BACKFILL_TAG = "dagster/backfill"
PG_USER = "dagster"
PG_DB = "dagster"
START_TIMEOUT = 180  # seconds for the code server to load and the webserver to see it (2 cores, cold imports)

ADD_PARTITION = """
mutation AddEdition($repo: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $repo, partitionsDefName: $name, partitionKey: $key) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionKey }
    ... on Error { message }
  }
}"""

WORKSPACE = """
{ workspaceOrError { __typename
    ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename ... on PythonError { message } } } } } }"""

PARTITION_SETS = """
query PartitionSets($repo: RepositorySelector!, $job: String!) {
  partitionSetsOrError(repositorySelector: $repo, pipelineName: $job) {
    __typename
    ... on PartitionSets { results { name } }
    ... on Error { message }
  }
}"""

LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}"""

DAEMON_HEALTH = """
{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"""


# --- PostgreSQL ------------------------------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries of Debian's package, or None if it is not installed."""
    found = [d for d in Path("/usr/lib/postgresql").glob("*/bin")
             if all((d / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres", "createdb"))]
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0, default=None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    db: str
    root: Path  # data directory, socket and log live under it
    bin: Path

    def env(self) -> dict[str, str]:
        """The team profile's connection variables (deploy/team/dagster.yaml) for this server."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": self.user,
                "DAGSTER_PG_PASSWORD": self.password, "DAGSTER_PG_DB": self.db}

    def log_tail(self, lines: int = 30) -> str:
        return _tail(self.root / "postgres.log", lines)


@contextlib.contextmanager
def postgres_server(bin_dir: Path | None = None) -> Iterator[Postgres]:
    """Start a throwaway PostgreSQL server; stops it and deletes its data directory on exit."""
    bin_dir = bin_dir or postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
                           "(Debian package: postgresql)")
    as_root = os.geteuid() == 0
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    # Under the system temp dir, not pytest's: pytest's folders are private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="team-pg-"))
    password = os.urandom(12).hex()
    server = Postgres("127.0.0.1", free_port(), PG_USER, password, PG_DB, root, bin_dir)
    started = False
    try:
        (root / "pwfile").write_text(password + "\n", encoding="utf-8")
        if as_root:
            owner = pwd.getpwnam("postgres")
            for path in (root, root / "pwfile"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        _run([*run_as, str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", PG_USER,
              f"--pwfile={root / 'pwfile'}", "--auth-local=trust", "--auth-host=scram-sha-256",
              "--encoding=UTF8", "--no-locale"])
        options = (f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")  # a throwaway database
        _run([*run_as, str(bin_dir / "pg_ctl"), "start", "-D", str(root / "data"), "-l", str(root / "postgres.log"),
              "-w", "-t", "60", "-o", options])
        started = True
        _run([str(bin_dir / "createdb"), "-h", server.host, "-p", str(server.port), "-U", PG_USER, PG_DB],
             env={**os.environ, "PGPASSWORD": password})
        yield server
    finally:
        if started:
            stopped = subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "stop", "-D", str(root / "data"),
                                      "-m", "fast", "-w", "-t", "30"], capture_output=True, check=False)
            if stopped.returncode != 0:
                _kill_postmaster(root / "data")
        shutil.rmtree(root, ignore_errors=True)


def _kill_postmaster(data: Path) -> None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)


def _run(command: Sequence[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(list(command), capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


# --- the Dagster processes ---------------------------------------------------------------------------------------


def profile_defaults() -> dict[str, str]:
    """deploy/team/dagster.env: the profile's default environment (KEY=value lines)."""
    values = {}
    for line in (TEAM_PROFILE / "dagster.env").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def make_editions(root: Path, names: Iterable[str]) -> Path:
    """A sources root under ``root`` with a copy of the real edition under each name (sources/<report id>/<name>/);
    returns the root, as REPORT_SOURCES_DIR takes it."""
    from tests.conftest import copy_edition

    sources = root / "sources"
    for name in names:
        if copy_edition(root, as_name=name) != sources:
            raise RuntimeError(f"copy_edition made its sources root elsewhere than {sources}")
    return sources


@dataclass
class TeamStack:
    root: Path
    home: Path
    sources: Path
    reports: Path
    env: dict[str, str]
    webserver_port: int
    code_port: int
    logs: dict[str, Path] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def repo(self) -> dict[str, str]:
        return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}

    def client(self):
        from dagster_graphql import DagsterGraphQLClient

        return DagsterGraphQLClient("127.0.0.1", port_number=self.webserver_port, timeout=60)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        """One GraphQL request to the webserver (dagster_graphql's client, which raises on GraphQL errors)."""
        return self.client()._execute(query, variables or {})

    def log_tail(self, lines: int = 25) -> str:
        return "\n".join(f"--- {name} ---\n{_tail(path, lines)}" for name, path in self.logs.items())

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log_tail()}")

    # -- what a user does through the UI's API

    def add_editions(self, names: Iterable[str]) -> None:
        for name in names:
            result = self.graphql(ADD_PARTITION, {"repo": self.repo, "name": PARTITIONS, "key": name})
            outcome = result["addDynamicPartition"]
            if outcome["__typename"] != "AddDynamicPartitionSuccess":
                raise RuntimeError(f"registering {name}: {outcome}")

    def launch_run(self, edition: str) -> str:
        """One run of the report's job for ``edition``, as the UI's Materialize button submits it (queued)."""
        return self.client().submit_job_execution(JOB, repository_location_name=LOCATION,
                                                  repository_name=REPOSITORY, tags={PARTITION_TAG: edition})

    def launch_backfill(self, editions: Sequence[str], title: str = "") -> str:
        """A backfill of the report's job over ``editions`` through launchPartitionBackfill; returns its id."""
        sets = self.graphql(PARTITION_SETS, {"repo": self.repo, "job": JOB})["partitionSetsOrError"]
        if sets["__typename"] != "PartitionSets" or len(sets["results"]) != 1:
            raise RuntimeError(f"no single partition set for {JOB}: {sets}")
        params = {"selector": {"partitionSetName": sets["results"][0]["name"], "repositorySelector": self.repo},
                  "partitionNames": list(editions), "fromFailure": False}
        if title:
            params["title"] = title
        outcome = self.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if outcome["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"backfill refused: {outcome}")
        return outcome["backfillId"]

    def daemons_healthy(self) -> bool:
        statuses = self.graphql(DAEMON_HEALTH)["instance"]["daemonHealth"]["allDaemonStatuses"]
        return all(s["healthy"] for s in statuses if s["required"])

    # -- reading the shared instance

    @contextlib.contextmanager
    def instance(self):
        """The team instance (PostgreSQL) opened in this process, as any process of the profile opens it."""
        from dagster import DagsterInstance

        saved = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)  # the instance's env: entries are resolved now, while it loads
        try:
            instance = DagsterInstance.from_config(str(self.home))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        try:
            yield instance
        finally:
            instance.dispose()


@contextlib.contextmanager
def team_stack(root: Path, sources: Path, pg: Postgres, *, max_concurrent_runs: int | None = None,
               reports: Path | None = None) -> Iterator[TeamStack]:
    """Start the team profile's code server, webserver and daemon against ``pg``; stops all of them on exit.

    ``max_concurrent_runs`` overrides DAGSTER_MAX_CONCURRENT_RUNS; None keeps deploy/team/dagster.env's default."""
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(TEAM_PROFILE / "dagster.yaml", home / "dagster.yaml")
    code_port, webserver_port = free_port(), free_port()
    workspace = yaml.safe_load((TEAM_PROFILE / "workspace.yaml").read_text(encoding="utf-8"))
    for entry in workspace["load_from"]:
        entry["grpc_server"]["port"] = code_port
    (root / "workspace.yaml").write_text(yaml.safe_dump(workspace), encoding="utf-8")

    reports = reports or root / "reports"
    env = {**profile_defaults(), **pg.env(), "DAGSTER_HOME": str(home), "REPORT_SOURCES_DIR": str(sources),
           "REPORT_OUTPUT_DIR": str(reports)}
    if max_concurrent_runs is not None:
        env["DAGSTER_MAX_CONCURRENT_RUNS"] = str(max_concurrent_runs)
    env.pop("REPORT_ARCHIVE_URL", None)
    stack = TeamStack(root, home, sources, reports, env, webserver_port, code_port)
    process_env = {k: v for k, v in os.environ.items() if k != "REPORT_ARCHIVE_URL"} | env
    commands = {
        "code-server": [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(code_port),
                        "-m", "pipeline.definitions"],
        "webserver": [str(BIN / "dagster-webserver"), "-w", str(root / "workspace.yaml"), "-h", "127.0.0.1",
                      "-p", str(webserver_port)],
        "daemon": [str(BIN / "dagster-daemon"), "run", "-w", str(root / "workspace.yaml")],
    }
    try:
        for name, command in commands.items():
            stack.logs[name] = root / f"{name}.log"
            stack.processes[name] = _start(command, process_env, stack.logs[name])
            if name == "code-server":
                _wait_for_code_server(stack)
        _wait_for_webserver(stack)
        yield stack
    finally:
        for name in ("daemon", "webserver", "code-server"):  # the daemon first: it stops starting runs
            if name in stack.processes:
                stop_group(stack.processes[name])


def _start(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    # Started from a background job, this process may ignore SIGINT, and an ignored signal stays ignored across
    # exec; Dagster's processes map SIGTERM to their SIGINT handling, so they would never stop. A handler, unlike
    # SIG_IGN, is reset to the default in the child, so one is installed while starting it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with log_path.open("wb") as log:
            return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, previous)


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the process group, as a supervisor would send it; SIGKILL for whatever is left after a wait."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    deadline = time.monotonic() + 10  # children (code server's child, run workers) finish a moment later
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _wait_for_code_server(stack: TeamStack) -> None:
    from dagster._grpc.client import DagsterGrpcClient

    client = DagsterGrpcClient(port=stack.code_port, host="127.0.0.1")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            client.list_repositories()  # answers once the code location has loaded
            return
        except Exception:  # not listening yet, or still loading: both are retried until the deadline
            time.sleep(1.0)
    raise TimeoutError(f"the code server did not load within {START_TIMEOUT} s:\n{stack.log_tail()}")


def _wait_for_webserver(stack: TeamStack) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            workspace = stack.graphql(WORKSPACE)["workspaceOrError"]
        except Exception:  # not listening yet
            time.sleep(1.0)
            continue
        entries = {e["name"]: e for e in workspace.get("locationEntries", [])}
        entry = entries.get(LOCATION)
        if entry and entry["loadStatus"] == "LOADED":
            location = entry["locationOrLoadError"]
            if location["__typename"] != "RepositoryLocation":
                raise RuntimeError(f"the webserver could not load {LOCATION}: {location}")
            return
        time.sleep(1.0)
    raise TimeoutError(f"the webserver did not load {LOCATION} within {START_TIMEOUT} s:\n{stack.log_tail()}")


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- what the run records say ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunTiming:
    """One run's life from its event log (Unix timestamps), as the queue and the run worker recorded it."""

    run_id: str
    edition: str
    status: str
    created: float  # submitted (queued)
    launched: float  # dequeued and handed to the launcher (RUN_STARTING): from here it holds a queue slot
    started: float  # the run worker process is up and has loaded the code (RUN_START)
    first_step: float  # first STEP_START
    last_step: float  # last step's end (STEP_SUCCESS / STEP_FAILURE)
    ended: float  # RUN_SUCCESS / RUN_FAILURE / RUN_CANCELED

    @property
    def queued_s(self) -> float:
        return self.launched - self.created

    @property
    def process_start_s(self) -> float:
        return self.started - self.launched

    @property
    def setup_s(self) -> float:
        return self.first_step - self.started

    @property
    def steps_s(self) -> float:
        return self.last_step - self.first_step

    @property
    def teardown_s(self) -> float:
        return self.ended - self.last_step

    @property
    def in_progress_s(self) -> float:
        return self.ended - self.launched


def run_timings(instance, run_ids: Iterable[str]) -> list[RunTiming]:
    """The timing of each finished run, from the events Dagster stored for it."""
    from dagster import DagsterEventType

    ends = {DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED}
    step_ends = {DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
    timings = []
    for run_id in run_ids:
        record = instance.get_run_record_by_id(run_id)
        first: dict[DagsterEventType, float] = {}
        last: dict[DagsterEventType, float] = {}
        for entry in instance.all_logs(run_id):
            if entry.dagster_event is None:
                continue
            kind = entry.dagster_event.event_type
            first.setdefault(kind, entry.timestamp)
            last[kind] = entry.timestamp
        end = min((first[k] for k in ends if k in first), default=float("nan"))
        timings.append(RunTiming(
            run_id=run_id,
            edition=record.dagster_run.tags.get(PARTITION_TAG, ""),
            status=record.dagster_run.status.value,
            created=record.create_timestamp.timestamp(),
            launched=first.get(DagsterEventType.RUN_STARTING, float("nan")),
            started=first.get(DagsterEventType.RUN_START, float("nan")),
            first_step=first.get(DagsterEventType.STEP_START, float("nan")),
            last_step=max((last[k] for k in step_ends if k in last), default=float("nan")),
            ended=end,
        ))
    return timings


def max_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """The largest number of [start, end) intervals in progress at one moment (an end before a start at a tie)."""
    intervals = list(intervals)
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                    key=lambda p: (p[0], p[1]))
    current = peak = 0
    for _, delta in points:
        current += delta
        peak = max(peak, current)
    return peak


def wait_for_runs(stack: TeamStack, run_filter, expected: int, timeout: float, poll: float = 2.0) -> list:
    """Poll the instance until ``expected`` runs match ``run_filter`` and all have finished; returns their records."""
    from dagster import DagsterRunStatus

    terminal = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    deadline = time.monotonic() + timeout
    with stack.instance() as instance:
        while True:
            stack.check_alive()
            records = instance.get_run_records(filters=run_filter)
            if len(records) >= expected and all(r.dagster_run.status in terminal for r in records):
                return records
            if time.monotonic() > deadline:
                states = sorted(f"{r.dagster_run.tags.get(PARTITION_TAG)}:{r.dagster_run.status.value}"
                                for r in records)
                raise TimeoutError(f"{len(records)}/{expected} runs after {timeout:.0f} s: {states}\n"
                                   f"{stack.log_tail()}")
            time.sleep(poll)


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))
