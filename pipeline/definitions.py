"""The code location: assets, checks and resources wired together.

Execution is in-process on purpose: the steps are short (most well under a second), and the default multiprocess
executor would start a fresh Python process per step, which costs seconds each on this hardware."""

from dagster import Definitions, define_asset_job, in_process_executor

from pipeline.defs.assets import ASSETS
from pipeline.defs.checks import CHECKS
from pipeline.defs.partitions import editions
from pipeline.defs.resources import ReportSettings

build_report = define_asset_job("build_report", partitions_def=editions,
                                description="Build one edition: validate, compute, chart, render, publish.")

defs = Definitions(
    assets=ASSETS,
    asset_checks=CHECKS,
    jobs=[build_report],
    resources={"settings": ReportSettings()},
    executor=in_process_executor,
)
