"""The analyst's click, timed: an edition launched through the real Dagster UI server until its run succeeds,
against the floor (WeasyPrint alone rendering the same print HTML in a new process) measured in the same run.

    .venv/bin/python benchmarks/ui_click.py [--runs 5] [--variant LABEL=DIR ...] [--keep]

(Not `benchmarks/click.py`: a script's folder comes first on sys.path, so a click.py there would shadow the `click`
package for every script in benchmarks/ that imports Dagster, run.py's workers included.)

Per column (this project, and each --variant copy of it): `dagster dev -w workspace.yaml` on a free loopback port,
as `make ui` runs it, with a temporary DAGSTER_HOME holding the column's deploy/local/dagster.yaml, a temporary
archive (REPORT_OUTPUT_DIR), temporary sources (copies of the real edition under new names, REPORT_SOURCES_DIR) and
its own XDG cache. Each run builds a new edition name, registered through GraphQL beforehand, so every run
publishes a first version (v0001) rather than reusing one; the data are those of the real edition. The run is
launched through GraphQL as the UI's Materialize button submits it (tests/dagster/test_dagster_webserver.py), and
timed from the launch call's return to the run's RUN_SUCCESS event; the breakdown comes from the event log:

  launch call     the GraphQL request that creates the queued run (not part of the total)
  queued          launch return → RUN_STARTING: until the daemon's run coordinator dequeues the run and hands it
                  to the run launcher (Dagster 1.13 records no RUN_DEQUEUED event for it)
  launcher        RUN_STARTING → the launcher's engine event: the code server has spawned the run's process
  worker start    → RUN_START: that new Python process imports Dagster and the code location, loads the job
  set-up          RUN_START → first STEP_START: resources, execution plan
  steps           first STEP_START → last step's end, and each step's own STEP_START → STEP_SUCCESS
  wrap-up         last step's end → RUN_SUCCESS

One untimed warm-up run per column first (the code server's and the caches' first use). All columns' `dagster dev`
run at once and are measured round-robin, a floor sample and a click of each column per round, so a change in the
machine's load hits every column alike (the idle ones add only their daemons' ticks). The floor is
`benchmarks/run.py`'s `floor_once` on this project's print HTML of the real edition, taken a moment after the
previous run's end; the ratio is a column's median click over the median of all floor samples of the run. Each
launch waits a random pause first (the same draws in every column), so that where it falls in the daemon's queue
cycle is left to chance, as with a person's click.
Prints Markdown tables; a script, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.team_stack import (  # noqa: E402  (the project root must be importable first)
    ADD_PARTITION,
    JOB,
    LOCATION,
    PARTITION_TAG,
    PARTITIONS,
    REPOSITORY,
    WORKSPACE,
    free_port,
    make_editions,
    stop_group,
)


def _bench_run():
    """benchmarks/run.py as a module (it is a script, not a package): its floor is the one this compares with."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


bench = _bench_run()
#: Before each launch, a pause drawn from [0, this) s, the same draws in every column: a click comes at any moment
#: of the daemon's queue cycle (5 s is Dagster's default, the longest compared), not in step with the benchmark's
#: own rhythm, which would otherwise decide the queue wait.
CLICK_JITTER = 5.0
#: Pause after a run's RUN_SUCCESS before the next floor sample: the run's process is still exiting then.
SETTLE = 2.0
START_TIMEOUT = 180  # seconds for dagster dev to load the code location (2 cores, cold imports)
RUN_TIMEOUT = 300
PHASES = ("queued", "launcher", "worker start", "set-up", "steps", "wrap-up", "total")


@dataclass
class Click:
    edition: str
    launch_call: float
    phases: dict[str, float]
    steps: dict[str, float]


@dataclass
class Column:
    label: str
    root: Path
    clicks: list[Click] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)
    warmup: Click | None = None


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class Stack:
    """`dagster dev` for one column, and what the benchmark asks of it."""

    def __init__(self, column: Column, work: Path, editions: list[str]):
        self.column, self.work = column, work
        self.home = work / "dagster_home"
        self.home.mkdir(parents=True)
        shutil.copy(column.root / "deploy" / "local" / "dagster.yaml", self.home / "dagster.yaml")
        self.sources = make_editions(work, editions)
        self.reports = work / "reports"
        self.port = free_port()
        self.log = work / "dagster.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REPORT_", "DAGSTER_"))}
        if os.environ.get("REPORT_FONT_DIR"):
            env["REPORT_FONT_DIR"] = os.environ["REPORT_FONT_DIR"]
        self.env = env | {"PYTHONPATH": str(column.root), "DAGSTER_HOME": str(self.home),
                          "REPORT_SOURCES_DIR": str(self.sources), "REPORT_OUTPUT_DIR": str(self.reports),
                          "XDG_CACHE_HOME": str(work / "xdg-cache")}
        self.process: subprocess.Popen | None = None
        self.instance = None

    def __enter__(self) -> Stack:
        import signal

        from dagster import DagsterInstance

        dagster = Path(sys.executable).parent / "dagster"
        # An ignored SIGINT stays ignored across exec and dagster dev would never stop (see the webserver test).
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            with self.log.open("wb") as log:
                self.process = subprocess.Popen(
                    [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.port)],
                    cwd=self.column.root, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            signal.signal(signal.SIGINT, previous)
        try:
            self._wait_until_loaded()
            self.instance = DagsterInstance.from_config(str(self.home))
        except BaseException:
            stop_group(self.process)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.instance is not None:
            self.instance.dispose()
        if self.process is not None:
            stop_group(self.process)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        from dagster_graphql import DagsterGraphQLClient

        client = DagsterGraphQLClient("127.0.0.1", port_number=self.port, timeout=60)
        return client._execute(query, variables or {})

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def _wait_until_loaded(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dagster dev exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                workspace = self.graphql(WORKSPACE)["workspaceOrError"]
            except Exception:  # not listening yet
                time.sleep(0.5)
                continue
            entry = {e["name"]: e for e in workspace.get("locationEntries", [])}.get(LOCATION)
            if entry and entry["loadStatus"] == "LOADED":
                if entry["locationOrLoadError"]["__typename"] != "RepositoryLocation":
                    raise RuntimeError(f"{LOCATION} did not load: {entry['locationOrLoadError']}")
                return
            time.sleep(0.5)
        raise TimeoutError(f"dagster dev did not load {LOCATION} within {START_TIMEOUT} s:\n{self.log_tail()}")

    def add_edition(self, edition: str) -> None:
        repo = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
        added = self.graphql(ADD_PARTITION, {"repo": repo, "name": PARTITIONS, "key": edition})["addDynamicPartition"]
        if added["__typename"] != "AddDynamicPartitionSuccess":
            raise RuntimeError(f"registering {edition}: {added}")

    def click(self, edition: str) -> Click:
        """Launch the job for `edition` as the UI does and wait for the run to end; its timing from the event log."""
        from dagster import DagsterRunStatus
        from dagster_graphql import DagsterGraphQLClient

        client = DagsterGraphQLClient("127.0.0.1", port_number=self.port, timeout=60)
        called = time.time()
        run_id = client.submit_job_execution(JOB, repository_location_name=LOCATION, repository_name=REPOSITORY,
                                             tags={PARTITION_TAG: edition})
        returned = time.time()
        deadline = time.monotonic() + RUN_TIMEOUT
        terminal = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
        while True:
            run = self.instance.get_run_by_id(run_id)
            if run is not None and run.status in terminal:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} of {edition} not done after {RUN_TIMEOUT} s:\n{self.log_tail()}")
            time.sleep(0.2)
        if run.status != DagsterRunStatus.SUCCESS:
            raise RuntimeError(f"run {run_id} of {edition}: {run.status.value}\n{self.log_tail()}")
        published = list((self.reports).glob(f"*/{edition}/versions/v0001/{edition}_v0001.pdf"))
        if len(published) != 1:
            raise RuntimeError(f"run {run_id} succeeded but published no v0001 PDF of {edition}")
        return timing(self.instance, run_id, edition, called, returned)


def timing(instance, run_id: str, edition: str, called: float, returned: float) -> Click:
    from dagster import DagsterEventType as E

    first: dict = {}
    last: dict = {}
    launched = None  # the launcher's engine event, the first one after RUN_STARTING
    starts: dict[str, float] = {}
    steps: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        first.setdefault(event.event_type, entry.timestamp)
        if event.event_type == E.ENGINE_EVENT and E.RUN_STARTING in first and launched is None:
            launched = entry.timestamp
        last[event.event_type] = entry.timestamp
        if event.event_type == E.STEP_START:
            starts[event.step_key] = entry.timestamp
        elif event.event_type in (E.STEP_SUCCESS, E.STEP_FAILURE) and event.step_key in starts:
            steps[event.step_key] = entry.timestamp - starts[event.step_key]
    last_step = max(last[k] for k in (E.STEP_SUCCESS, E.STEP_FAILURE) if k in last)
    marks = [returned, first[E.RUN_STARTING], launched or first[E.RUN_STARTING], first[E.RUN_START],
             first[E.STEP_START], last_step, first[E.RUN_SUCCESS]]
    phases = {name: b - a for name, a, b in zip(PHASES, marks, marks[1:], strict=False)}
    phases["total"] = first[E.RUN_SUCCESS] - returned
    return Click(edition, returned - called, phases, steps)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> str:
    if not values:
        return "–"
    return f"{median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def measure(columns: list[Column], base: Path, runs: int, floor_tree, html: Path) -> None:
    """Every column's `dagster dev` up at once, then round-robin: each round measures a floor and a click for every
    column in turn, so a change in the machine's load during the benchmark hits all columns alike."""
    with contextlib.ExitStack() as started:
        stacks = []
        for i, column in enumerate(columns):
            slug = re.sub(r"[^a-z0-9]+", "-", column.label.lower()).strip("-") or "column"
            editions = [f"click-{slug}"[:60] + f"-{n}" for n in range(runs + 1)]
            say(f"{column.label}: starting dagster dev ({column.root})")
            stack = started.enter_context(Stack(column, base / f"column-{i}", editions))
            for edition in editions:
                stack.add_edition(edition)
            stacks.append((column, stack, editions))
        draws = random.Random(7)
        for n in range(runs + 1):
            for column, stack, editions in stacks:
                if n:
                    time.sleep(SETTLE)
                    column.floors.append(bench.floor_once(floor_tree, html).seconds)
                time.sleep(draws.uniform(0, CLICK_JITTER))
                click = stack.click(editions[n])
                if n == 0:
                    column.warmup = click
                else:
                    column.clicks.append(click)
                floor = f", floor {column.floors[-1]:.2f} s" if n else " (warm-up)"
                say(f"  {column.label} run {n}: {click.phases['total']:.2f} s{floor}, "
                    f"load {os.getloadavg()[0]:.2f}")


def render(columns: list[Column]) -> str:
    lines = ["| seconds (median, min–max) | " + " | ".join(c.label for c in columns) + " |",
             "|---|" + "---|" * len(columns)]

    def row(name: str, values) -> None:
        lines.append(f"| {name} | " + " | ".join(spread(values(c)) for c in columns) + " |")

    row("launch call (GraphQL, not in total)", lambda c: [k.launch_call for k in c.clicks])
    for phase in PHASES[:-1]:
        row(phase, lambda c, p=phase: [k.phases[p] for k in c.clicks])
    row("**launch → RUN_SUCCESS**", lambda c: [k.phases["total"] for k in c.clicks])
    row("floor (WeasyPrint alone, new process), before this column's clicks", lambda c: [*c.floors])
    pooled = median([f for c in columns for f in c.floors])
    lines.append(f"| floor, all samples of the run (the ratio's denominator) | {pooled:.2f} |"
                 + " |" * (len(columns) - 1))
    lines.append("| **ratio: median total / median floor (all samples)** | " + " | ".join(
        f"{median([k.phases['total'] for k in c.clicks]) / pooled:.2f}×" if c.clicks else "–"
        for c in columns) + " |")
    row("warm-up run (untimed in the above)", lambda c: [c.warmup.phases["total"]] if c.warmup else [])
    lines += ["", "| step (median s) | " + " | ".join(c.label for c in columns) + " |",
              "|---|" + "---|" * len(columns)]
    keys = list(dict.fromkeys(k for c in columns for click in c.clicks for k in click.steps))
    for key in keys:
        lines.append(f"| {key} | " + " | ".join(
            f"{median([click.steps[key] for click in c.clicks if key in click.steps]):.2f}" for c in columns) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per column (median, min, max); default 5")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=DIR",
                        help="also measure another copy of the project (its code and its deploy/local/dagster.yaml)")
    parser.add_argument("--label", default="as is", help="column label of this project (default 'as is')")
    parser.add_argument("--skip-self", action="store_true", help="measure only the --variant columns")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, PDFs)")
    args = parser.parse_args(argv)
    columns = [] if args.skip_self else [Column(args.label, ROOT)]
    for spec in args.variant:
        label, _, folder = spec.partition("=")
        if not folder or not (Path(folder) / "pipeline").is_dir():
            parser.error(f"--variant {spec!r}: expected LABEL=DIR, DIR a copy of the project")
        columns.append(Column(label, Path(folder).resolve()))
    base = Path(tempfile.mkdtemp(prefix="click-bench-"))
    try:
        floor_tree = bench.Tree("floor", ROOT, base / "floor")
        floor_tree.work.mkdir()
        say("print HTML of the real edition, for the floor")
        html = bench.make_print_html(floor_tree, bench.DEFAULT_EDITION)
        measure(columns, base, args.runs, floor_tree, html)
        print()
        print(render(columns))
    finally:
        if args.keep:
            say(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
