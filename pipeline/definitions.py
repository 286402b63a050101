"""The code location: assets, checks, the build job, the schedule and the sensor, wired to one resource.

Execution is in-process on purpose: the steps are short (most well under a second), and the default multiprocess
executor would start a fresh Python process per step, which costs seconds each on this hardware. A run launched
from the UI (or by the schedule or the sensor) still runs in its own process, started by the instance's run
launcher; only the steps inside it share that process. Step outputs go through Dagster's default IO manager
(pickles under DAGSTER_HOME/storage), so re-materializing only the later assets of an edition from the UI reuses
the earlier ones."""

from dagster import Definitions, in_process_executor

from pipeline.defs.assets import ASSETS, build_report
from pipeline.defs.automation import SCHEDULES, SENSORS
from pipeline.defs.checks import CHECKS
from pipeline.defs.resources import ReportSettings

__all__ = ["build_report", "defs"]

defs = Definitions(
    assets=ASSETS,
    asset_checks=CHECKS,
    jobs=[build_report],
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources={"settings": ReportSettings()},
    executor=in_process_executor,
)
