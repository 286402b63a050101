"""Issue 8 figures: how fast the team profile's run queue works through a backfill on this machine.

    .venv/bin/python benchmarks/backfill.py [--editions 20] [--limits 1,2] [--timeout 1800]

For each limit (DAGSTER_MAX_CONCURRENT_RUNS): a fresh PostgreSQL server and a fresh team stack (tests/team_stack.py:
`dagster code-server start`, dagster-webserver, dagster-daemon against deploy/team/dagster.yaml), ``--editions``
temporary editions (copies of the real one under new names, in a temporary folder), registered through GraphQL,
then one backfill of all of them through GraphQL launchPartitionBackfill, exactly as the UI launches one. Nothing
else is timed; the figures come from the event log Dagster stored for each run:

  queued          run created → handed to the launcher (RUN_STARTING): waiting for a slot
  process start   RUN_STARTING → RUN_START: a new Python process starts, imports the code, loads the job
  set-up          RUN_START → first STEP_START: resources, execution plan
  steps           first STEP_START → last step end: the build itself (all assets and checks, in one process)
  wrap-up         last step end → RUN_SUCCESS

plus, per limit: wall time from the backfill request to the last run's end, throughput, the most runs in progress
at once, and how busy the slots were (sum of in-progress time / (limit × span from first launch to last end)).
Prints Markdown tables. This is a script, not a test; it takes several minutes (20 builds at one at a time).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.team_stack import (  # noqa: E402  (the project root must be importable first)
    BACKFILL_TAG,
    RunTiming,
    make_editions,
    max_overlap,
    median,
    postgres_server,
    run_timings,
    team_stack,
    wait_for_runs,
)


def measure(limit: int, editions: list[str], timeout: float, keep: bool) -> dict:
    from dagster import DagsterRunStatus, RunsFilter

    root = Path(tempfile.mkdtemp(prefix=f"backfill-bench-{limit}-"))
    sources = make_editions(root, editions)
    load_before = os.getloadavg()[0]
    with postgres_server() as pg, team_stack(root, sources, pg, max_concurrent_runs=limit) as stack:
        stack.add_editions(editions)
        requested = time.time()
        backfill_id = stack.launch_backfill(editions, title=f"benchmark, {limit} at a time")
        records = wait_for_runs(stack, RunsFilter(tags={BACKFILL_TAG: backfill_id}), len(editions), timeout)
        with stack.instance() as instance:
            timings = run_timings(instance, [r.dagster_run.run_id for r in records])
        load_after = os.getloadavg()[0]
    failed = [r.dagster_run.tags.get("dagster/partition") for r in records
              if r.dagster_run.status != DagsterRunStatus.SUCCESS]
    if not keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return {"limit": limit, "timings": timings, "requested": requested, "failed": failed, "load_before": load_before,
            "load_after": load_after, "root": root}


def summary_row(result: dict) -> str:
    timings: list[RunTiming] = result["timings"]
    limit = result["limit"]
    first_launch = min(t.launched for t in timings)
    last_end = max(t.ended for t in timings)
    wall = last_end - result["requested"]
    busy = sum(t.in_progress_s for t in timings) / (limit * (last_end - first_launch))
    return (f"| {limit} | {len(timings)} | {wall:.0f} | {len(timings) / wall * 60:.1f} | "
            f"{first_launch - result['requested']:.1f} | {max_overlap((t.launched, t.ended) for t in timings)} | "
            f"{busy:.0%} | {len(result['failed'])} | {result['load_before']:.1f} / {result['load_after']:.1f} |")


def breakdown_row(result: dict) -> str:
    timings: list[RunTiming] = result["timings"]
    parts = [median(t.process_start_s for t in timings), median(t.setup_s for t in timings),
             median(t.steps_s for t in timings), median(t.teardown_s for t in timings)]
    total = median(t.in_progress_s for t in timings)
    start_share = (parts[0] + parts[1]) / total
    return (f"| {result['limit']} | {parts[0]:.1f} | {parts[1]:.1f} | {parts[2]:.1f} | {parts[3]:.1f} | "
            f"{total:.1f} | {start_share:.0%} | {median(t.queued_s for t in timings):.0f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--editions", type=int, default=20)
    parser.add_argument("--limits", default="1,2", help="comma-separated DAGSTER_MAX_CONCURRENT_RUNS values")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for one backfill's runs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (logs, archive)")
    args = parser.parse_args()

    editions = [f"bench-{n:02d}" for n in range(1, args.editions + 1)]
    results = []
    for limit in (int(x) for x in args.limits.split(",")):
        print(f"backfill of {len(editions)} editions, {limit} at a time ...", file=sys.stderr, flush=True)
        results.append(measure(limit, editions, args.timeout, args.keep))

    print(f"\nBackfill of {len(editions)} temporary editions through the team profile's run queue "
          f"(this machine: {os.cpu_count()} cores, Python {platform.python_version()}).\n")
    print("| concurrent runs | runs | wall s (request → last end) | editions/min | request → first launch s | "
          "most in progress | slots busy | failed | load avg at start / end |")
    print("|---|---|---|---|---|---|---|---|---|")
    for result in results:
        print(summary_row(result))
    print("\nWhere a run's time goes (medians over the runs, seconds; from each run's event log):\n")
    print("| concurrent runs | process start | set-up | steps (the build) | wrap-up | run total | start-up share | "
          "queued |")
    print("|---|---|---|---|---|---|---|---|")
    for result in results:
        print(breakdown_row(result))
    def wall(result: dict) -> float:
        return max(t.ended for t in result["timings"]) - result["requested"]

    base = min(results, key=lambda r: r["limit"])
    for other in sorted(results, key=lambda r: r["limit"]):
        if other is not base:
            print(f"\nSpeed-up of {other['limit']} over {base['limit']} concurrent runs: "
                  f"{wall(base) / wall(other):.2f}×")
    return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
