"""Automation, per report: a sensor that builds new and changed editions, and a schedule that rebuilds the latest
edition. `report_schedule` and `report_sensor` make them for one report from its folder.

One mechanism per concern, and why:

- New or changed edition folders → a sensor (`edition_sources_sensor`). The trigger is outside Dagster (files in
  sources/), which only a sensor can look at. The same sensor is the one place that registers folders as
  partitions (SensorResult's dynamic partition requests), so a new folder needs no code change. Declarative
  automation (AutomationCondition) reacts to Dagster's own events and cannot notice a file change; it would
  need this sensor anyway, plus the automation-condition sensor, to do the same thing.
- The regular rebuild → a schedule (`latest_edition_schedule`): a plain cron trigger for one partition picked
  by a rule. AutomationCondition.on_cron has no notion of "the latest edition" for dynamic partitions; it would
  rebuild every edition.

Both start stopped: turn them on in the UI (Automation); the daemon, which `dagster dev` starts, evaluates them.
Both request the report's job (`build_<report>`), whose runs the UI shows with their trigger (sensor or schedule name). A
rebuild of unchanged data with unchanged code publishes nothing new (publish reuses the version), so repeated
requests cost build time only.
"""

import json
import os
import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DagsterInvalidDefinitionError,
    DynamicPartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    schedule,
    sensor,
)

if TYPE_CHECKING:  # the type define_asset_job returns; Dagster exports it only from its internals
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from pipeline.defs.assets import TRIGGER_TAG
from pipeline.defs.partitions import names
from pipeline.defs.resources import ReportSettings
from pipeline.lib.errors import SourceDataError
from pipeline.lib.report_def import Report
from pipeline.lib.sources import EDITION_FILE, decode, fingerprint, list_editions

CRON_ENV = "REPORT_SCHEDULE_CRON"
TIMEZONE_ENV = "REPORT_SCHEDULE_TIMEZONE"
#: When the report's definition names no schedule.
DEFAULT_CRON = "0 7 * * 1-5"  # 07:00 on weekdays
DEFAULT_TIMEZONE = "UTC"

#: How often the daemon evaluates the sources sensor. A tick hashes three small files per edition.
SENSOR_INTERVAL_SECONDS = 30


# --- which edition is the latest -----------------------------------------------------------------------------


def edition_date(folder: Path) -> date | None:
    """The `[edition] date` of the folder's edition.toml when it is an ISO date (2025-08-30), else None."""
    try:
        meta = tomllib.loads(decode((folder / EDITION_FILE).read_bytes(), EDITION_FILE, []))
        return date.fromisoformat(str(meta["edition"]["date"]).strip())
    except (OSError, SourceDataError, ValueError, KeyError, TypeError):  # TOMLDecodeError is a ValueError
        return None


def latest_edition(sources_root: Path) -> str | None:
    """The edition the schedule rebuilds: the one whose edition.toml carries the newest date; on equal dates, or
    among editions without a readable date (which rank below dated ones), the last by folder name.

    Why not simply the last folder name: names start with the subject (`acme-ecosystem-2025h1`), so with two
    subjects the alphabet, not time, would decide ("zeta-…-2025h1" after "acme-…-2026h1"). The date in
    edition.toml is the report's own date, which the data contract requires; the name order only breaks ties."""
    names = list_editions(sources_root)
    return max(names, key=lambda name: (edition_date(sources_root / name) or date.min, name), default=None)


# --- schedule ------------------------------------------------------------------------------------------------


def previous_month(moment: datetime) -> str:
    """The edition a monthly report's schedule builds at `moment`: the month before, as YYYY-MM (a tick on
    2 March builds February)."""
    first = moment.date().replace(day=1)
    last_month = first - timedelta(days=1)
    return f"{last_month.year:04d}-{last_month.month:02d}"



def report_schedule(report: Report, job: "UnresolvedAssetJobDefinition", editions: DynamicPartitionsDefinition,
                    cron_schedule: str | None = None, timezone: str | None = None) -> ScheduleDefinition:
    """The report's schedule, with cron and timezone from the arguments, else REPORT_SCHEDULE_CRON and
    REPORT_SCHEDULE_TIMEZONE, else the report's [schedule], else 07:00 on weekdays in UTC. A bad value fails the code location's load
    with a message naming the variable, instead of a schedule that silently never fires."""
    cron_schedule = (cron_schedule or os.environ.get(CRON_ENV, "").strip() or report.schedule_cron
                     or DEFAULT_CRON)
    timezone = timezone or os.environ.get(TIMEZONE_ENV, "").strip() or report.schedule_timezone or DEFAULT_TIMEZONE
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise DagsterInvalidDefinitionError(f"{TIMEZONE_ENV}={timezone!r} is not an IANA time zone "
                                            f"(e.g. {DEFAULT_TIMEZONE})") from error

    def latest_edition_schedule(context: ScheduleEvaluationContext, settings: ReportSettings):
        sources_root = settings.paths(report.folder).sources
        edition: str | None
        if report.schedule_edition == "previous_month":
            edition = previous_month(context.scheduled_execution_time or datetime.now(ZoneInfo(timezone)))
        else:
            edition = latest_edition(sources_root)
        if edition is None:
            return SkipReason(f"no edition folders in {sources_root}")
        # Registering partitions is the sensor's job (one mechanism for it); a schedule cannot request it anyway.
        if not context.instance.has_dynamic_partition(cast(str, editions.name), edition):
            return SkipReason(f"the latest edition '{edition}' is not a partition yet: turn on "
                              f"{names(report).sensor}, which registers and builds new folders, or run "
                              f"`python -m pipeline build --edition {edition}`")
        return RunRequest(partition_key=edition, tags={TRIGGER_TAG: "schedule"})

    try:
        return schedule(
            name=names(report).schedule, cron_schedule=cron_schedule, execution_timezone=timezone, job=job,
            description=(f"Builds the previous month's edition ({cron_schedule}, {timezone}; set {CRON_ENV} and "
                         f"{TIMEZONE_ENV} to change)." if report.schedule_edition == "previous_month" else
                         f"Rebuilds the latest edition ({cron_schedule}, {timezone}; set {CRON_ENV} and "
                         f"{TIMEZONE_ENV} to change). Latest = newest date in edition.toml, then last folder name."),
        )(latest_edition_schedule)
    except DagsterInvalidDefinitionError as error:
        raise DagsterInvalidDefinitionError(f"{CRON_ENV}={cron_schedule!r}: {error}") from error


# --- sensor --------------------------------------------------------------------------------------------------


def read_cursor(cursor: str | None) -> dict[str, str]:
    """The sensor's cursor: a JSON object edition → fingerprint of the folder when a build was last requested."""
    if not cursor:
        return {}
    try:
        seen = json.loads(cursor)
    except json.JSONDecodeError:
        return {}
    if not isinstance(seen, dict):
        return {}
    return {str(k): str(v) for k, v in seen.items()}


def built_fingerprint(instance: DagsterInstance, source_key: AssetKey, edition: str) -> str | None:
    """The fingerprint of the files the edition's latest build read (its source_tables materialization), if any."""
    found = instance.fetch_materializations(AssetRecordsFilter(asset_key=source_key, asset_partitions=[edition]),
                                            limit=1).records
    if not found or found[0].asset_materialization is None:
        return None
    value = found[0].asset_materialization.metadata.get("fingerprint")
    return str(value.value) if value is not None else None


def run_key(edition: str, previous: str | None, current: str) -> str:
    """The run key of a build request: the edition and the change (fingerprint before → after).

    Dagster keeps run keys unique per sensor for all time. The key makes a re-evaluation of the same change (a
    tick retried after a daemon crash, before its cursor was saved) a no-op. It names the transition rather than
    only the new fingerprint so that undoing an edit (A → B → A) builds again: a key of edition + fingerprint
    alone would already exist for A and Dagster would skip the run, leaving the report built from B. (Repeating
    the very same transition later, A → B → A → B, is skipped: rebuild the partition from the UI then.)"""
    return f"{edition}:{current[:16]}:from:{previous[:16] if previous else 'new'}"


def report_sensor(report: Report, job: "UnresolvedAssetJobDefinition",
                  editions: DynamicPartitionsDefinition) -> SensorDefinition:
    """The report's sources sensor: it watches `sources/<report id>/`."""

    @sensor(
        name=names(report).sensor, job=job, minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        description=f"Watches sources/{report.report_id}/: registers a new edition folder as a partition and builds "
                    "it; rebuilds an edition whose files changed (sha256 of its files, kept per edition in the cursor).",
    )
    def edition_sources_sensor(context: SensorEvaluationContext, settings: ReportSettings) -> SensorResult:
        sources_root = settings.paths(report.folder).sources
        seen = read_cursor(context.cursor)
        current = {name: fingerprint(sources_root / name) for name in list_editions(sources_root)}

        registered = set(context.instance.get_dynamic_partitions(cast(str, editions.name)))
        new_partitions = [name for name in current if name not in registered]
        source_key = AssetKey([names(report).key, "source_tables"])
        requests = [
            RunRequest(partition_key=name, run_key=run_key(name, seen.get(name), digest),
                       tags={TRIGGER_TAG: "new-edition" if name not in registered else "sources-changed"})
            for name, digest in current.items()
            if seen.get(name) != digest
            # A first look (empty cursor, e.g. the sensor just turned on) at an edition already built from exactly
            # these files is no news: nothing to rebuild.
            and not (name not in seen and name in registered
                     and built_fingerprint(context.instance, source_key, name) == digest)
        ]
        # The cursor keeps only existing folders: a folder removed and later restored is built again.
        cursor = json.dumps(current, sort_keys=True)
        return SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[editions.build_add_request(new_partitions)] if new_partitions else [],
            cursor=cursor,
            skip_reason=None if requests else SkipReason(f"no edition changed in {sources_root} "
                                                         f"({len(current)} edition(s) checked)"),
        )

    return edition_sources_sensor
