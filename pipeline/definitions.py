"""The code location: assets, checks, the build job, the schedule and the sensor, wired to one resource.

Execution is in-process on purpose: the steps are short (most well under a second), and the default multiprocess
executor would start a fresh Python process per step, which costs seconds each on this hardware. A run launched
from the UI (or by the schedule or the sensor) still runs in its own process, started by the instance's run
launcher; only the steps inside it share that process.

Step outputs are passed in memory (`mem_io_manager`), never through files shared between runs: Dagster's
filesystem IO manager keeps them under DAGSTER_HOME/storage/<asset>/<edition>, which every run of an edition
shares, so two runs of one edition could read each other's step outputs and publish one run's PDF under the other
run's data fingerprint. In memory, a run publishes exactly what it read. The price: an asset cannot be
re-materialized alone from stored upstream outputs; every build runs the whole job, which is what every entry
point does anyway.

The `progress` logger is declared here for the CLI, which enables it in its run config; other runs use Dagster's
default loggers."""

from dagster import Definitions, colored_console_logger, in_process_executor, mem_io_manager

from pipeline.defs.assets import ASSETS, build_report
from pipeline.defs.automation import SCHEDULES, SENSORS
from pipeline.defs.checks import CHECKS
from pipeline.defs.progress import progress_logger
from pipeline.defs.resources import ReportSettings

__all__ = ["build_report", "defs"]

defs = Definitions(
    assets=ASSETS,
    asset_checks=CHECKS,
    jobs=[build_report],
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources={"settings": ReportSettings(), "io_manager": mem_io_manager},
    executor=in_process_executor,
    loggers={"console": colored_console_logger, "progress": progress_logger},
)
