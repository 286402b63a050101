"""A report as a Dagster Component: the `defs.yaml` in a report's folder names `ReportComponent`, and the engine
makes that report's assets, checks, partitions, job, schedule and sensor from the folder (`report_defs`).

Why a Component: it is Dagster's own way to declare a reusable piece once and instantiate it from YAML, so a new
report is a new folder with a `defs.yaml`, and `dg list defs` / `dg check defs` see every report. The folder is
the one that holds the `defs.yaml`; the component has no attributes because everything else about the report is
in its `report.toml`, which the engine reads with its own checks (file, line, formula)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipeline.defs.assets import report_assets, report_job
from pipeline.defs.automation import report_schedule, report_sensor
from pipeline.defs.checks import report_checks
from pipeline.defs.delivery import delivery_asset, has_subscriptions
from pipeline.defs.partitions import editions_of
from pipeline.defs.warehouse import ingest_job, warehouse_assets, warehouse_sensor
from pipeline.lib.report_def import load_report

#: The file in a report's folder that makes Dagster load it, and the line it holds.
DEFS_FILE = "defs.yaml"
DEFS_YAML = "type: pipeline.defs.component.ReportComponent\n"


def report_defs(folder: Path) -> dg.Definitions:
    """Everything Dagster knows of the report in `folder`, with no resource: the code location supplies those."""
    report = load_report(folder)
    editions = editions_of(report)
    assets = report_assets(report, editions)
    checks = report_checks(report, assets, editions)
    if has_subscriptions(report):  # delivery is off unless the folder says who gets the report
        assets.append(delivery_asset(report, editions, assets[-1]))
    job = report_job(report)
    jobs = [job]
    sensor = report_sensor(report, job, editions)
    if report.warehouse:  # a report from a database: its ingestion assets, job and sensor
        ingest = ingest_job(report)
        assets = [*warehouse_assets(report, editions), *assets]
        jobs.append(ingest)
        sensor = warehouse_sensor(report, job, ingest, editions)
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=jobs,
        schedules=[report_schedule(report, job, editions)],
        sensors=[sensor],
    )


class ReportComponent(dg.Component, dg.Model, dg.Resolvable):
    """A report folder (report.toml, templates, charts.py) as Dagster definitions: one lineage per report."""

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return report_defs(context.path)
