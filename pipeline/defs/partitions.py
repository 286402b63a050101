"""A report's editions are the partitions of its assets, and every Dagster name of a report derives from its id here,
in one place: the asset key prefix and group, the partitions, the job, the schedule and the sensor.

Editions are folders of `sources/<report id>/`, so the set is dynamic: the report's sources sensor
(pipeline.defs.automation) registers a folder as a partition the first time it sees it, and so does the CLI's
`build`; no code change is needed for a new edition. Partitions are never deleted automatically: the runs and
materializations of an edition stay in the history even when its folder goes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dagster import DynamicPartitionsDefinition

from pipeline.lib.report_def import Report


@dataclass(frozen=True)
class ReportNames:
    """The Dagster names of one report. Report ids may hold '-', which Dagster names may not: it becomes '_'."""

    report_id: str

    @property
    def key(self) -> str:
        """The asset key prefix and the asset group of the report's lineage."""
        return re.sub(r"[^A-Za-z0-9_]", "_", self.report_id)

    @property
    def editions(self) -> str:
        return f"{self.key}__editions"

    @property
    def job(self) -> str:
        return f"build_{self.key}"

    @property
    def schedule(self) -> str:
        return f"{self.key}__latest_edition_schedule"

    @property
    def sensor(self) -> str:
        return f"{self.key}__sources_sensor"

    @property
    def warehouse_group(self) -> str:
        """The asset group of a database-backed report's ingestion (raw, validated and KPI tables)."""
        return f"{self.key}_warehouse"

    @property
    def ingest_job(self) -> str:
        return f"ingest_{self.key}"

    def node(self, asset: str) -> str:
        """The op name Dagster gives the report's asset `asset` (its key path joined by '__')."""
        return f"{self.key}__{asset}"


def names(report: Report) -> ReportNames:
    return ReportNames(report.report_id)


def editions_of(report: Report) -> DynamicPartitionsDefinition:
    return DynamicPartitionsDefinition(name=names(report).editions)
