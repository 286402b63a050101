"""Runs whose process is gone are failed, so they free their queue slot and their edition.

A run records the process that executes it (host, pid, and the process's start time, which tells a reused pid
apart) in its tags when its resources start (`ReportSettings.yield_for_execution`). A run that is still STARTED
while that process no longer exists died without saying so: a SIGKILLed `python -m pipeline build`, or a run
worker killed by the OOM killer. Dagster's own run monitoring cannot see this on the local profile (its default
run launcher has no health check, and CLI runs are not launched by it at all), so such runs would count against
`max_concurrent_runs` and the per-edition limit for good. `fail_orphaned_runs` reports them failed; it runs at
the start of every CLI build and on every tick of `orphaned_runs_sensor`, which is on by default."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import psutil
from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

PARTITION_TAG = "dagster/partition"
HOST_TAG, PID_TAG, STARTED_TAG = "report/host", "report/pid", "report/process-started"

#: How often the daemon looks for runs whose process died; with its own loop this bounds how long such a run
#: blocks the queue (README: within a minute).
ORPHAN_SENSOR_INTERVAL_SECONDS = 20


def _process_started(pid: int) -> str | None:
    """The process's start time as recorded in tags, or None if no such process exists."""
    try:
        return f"{psutil.Process(pid).create_time():.2f}"
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def process_tags() -> dict[str, str]:
    """The tags that name the process executing a run."""
    pid = os.getpid()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), STARTED_TAG: _process_started(pid) or ""}


def holder_text(run_id: str) -> str:
    """Who holds an edition's build lock, as a waiting build prints it."""
    return f"run {run_id[:8]}, pid {os.getpid()} on {socket.gethostname()}"


def process_gone(tags: Mapping[str, str]) -> bool:
    """True when the tags name a process on this host that no longer runs (a pid now used by another process
    counts as gone). Runs of other hosts, and runs that never recorded a process, are not judged here."""
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return False
    return _process_started(int(tags[PID_TAG])) != tags.get(STARTED_TAG)


def fail_orphaned_runs(instance: DagsterInstance) -> list[str]:
    """Report every in-progress run whose process is gone as failed; returns their run ids."""
    failed = []
    for run in instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING])):
        if process_gone(run.tags):
            instance.report_run_failed(
                run, f"the process that ran this build (pid {run.tags[PID_TAG]} on {run.tags[HOST_TAG]}) ended "
                     "without finishing it (killed?); marked failed so the edition can be built again")
            failed.append(run.run_id)
    return failed


@sensor(name="orphaned_runs_sensor", minimum_interval_seconds=ORPHAN_SENSOR_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description="Housekeeping, on by default: fails runs whose process died (a killed CLI build, a crashed run "
                    "worker), so they stop holding a queue slot and their edition. Requests no runs.")
def orphaned_runs_sensor(context: SensorEvaluationContext) -> SkipReason:
    failed = fail_orphaned_runs(context.instance)
    if failed:
        return SkipReason(f"marked {len(failed)} run(s) whose process died as failed: {', '.join(failed)}")
    return SkipReason("no run whose process died")
