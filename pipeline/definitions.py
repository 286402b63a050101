"""The code location: every report's definitions (one Component per report folder) plus what they share — the
settings resource, the executor, the loggers and the sensor that fails runs whose process died.

Reports are found as Dagster finds components: each folder of `templates/` holding a `defs.yaml` is loaded by
Dagster's component tree, which instantiates the component the file names (`ReportComponent`). With
`REPORT_TEMPLATES_DIR` set (a report folder anywhere: the tests' temporary reports), that folder is the only one.

Execution is in-process on purpose: the steps are short (most well under a second), and the default multiprocess
executor would start a fresh Python process per step, which costs seconds each on this hardware. A run launched
from the UI (or by a schedule or a sensor) still runs in its own process, started by the instance's run
launcher; only the steps inside it share that process.

Step outputs are passed in memory (`mem_io_manager`), never through files shared between runs: Dagster's
filesystem IO manager keeps them under DAGSTER_HOME/storage/<asset>/<edition>, which every run of an edition
shares, so two runs of one edition could read each other's step outputs and publish one run's PDF under the other
run's data fingerprint. In memory, a run publishes exactly what it read. The price: an asset cannot be
re-materialized alone from stored upstream outputs; every build runs the whole job, which is what every entry
point does anyway.

The `progress` logger is declared here for the CLI, which enables it in its run config; other runs use Dagster's
default loggers.

The imports and the definitions are made with the garbage collector off (`startup_without_gc`): a run launched
from the UI starts a new Python process that imports this module before its first step, so the collector's
repeated walks over the freshly imported libraries would delay every click of Materialize; the CLI does the same
around its own start-up."""

from __future__ import annotations

import hashlib
import sys
import types
from pathlib import Path

from pipeline.gc_startup import startup_without_gc

with startup_without_gc():  # the libraries the steps use are imported here, in every run worker
    from dagster import Definitions, colored_console_logger, in_process_executor, mem_io_manager
    from dagster.components.core.component_tree import ComponentTree

    from pipeline.config import report_folders
    from pipeline.defs.component import DEFS_FILE
    from pipeline.defs.delivery import SmtpResource
    from pipeline.defs.progress import progress_logger
    from pipeline.defs.resources import ReportSettings
    from pipeline.defs.runs import orphaned_runs_sensor
    from pipeline.defs.warehouse import WarehouseResource
    from pipeline.lib.report_def import ReportDefinitionError

__all__ = ["defs", "reports_definitions", "shared_definitions"]


def _folder_module(root: Path) -> types.ModuleType:
    """`root` as a namespace package, the form Dagster's component tree walks (templates/ holds no Python package:
    report folders are named with '-', and their charts.py is loaded by the engine, not imported)."""
    name = f"report_folders_{hashlib.sha256(str(root).encode()).hexdigest()[:12]}"  # the same in every process
    module = sys.modules.get(name)
    if module is None:
        module = types.ModuleType(name)
        module.__path__ = [str(root)]
        module.__file__ = str(root / "__init__.py")
        sys.modules[name] = module
    return module


def reports_definitions(folders: list[Path] | None = None) -> Definitions:
    """The definitions of the report folders (default: `report_folders()`), each loaded from its defs.yaml."""
    folders = report_folders() if folders is None else folders
    for folder in folders:
        if not (folder / DEFS_FILE).is_file():
            raise ReportDefinitionError(f"{folder}: no {DEFS_FILE}; a report folder declares its Dagster component "
                                        "there (see the README, 'Write a new report')")
    merged = []
    for root in dict.fromkeys(folder.parent for folder in folders):
        tree = ComponentTree.from_module(defs_module=_folder_module(root), project_root=root.parent)
        merged += [tree.build_defs(Path(folder.name)) for folder in folders if folder.parent == root]
    return Definitions.merge(*merged)


def shared_definitions() -> Definitions:
    """What every report's assets use, and the one sensor that is about runs rather than a report."""
    return Definitions(
        sensors=[orphaned_runs_sensor],
        resources={"settings": ReportSettings(), "smtp": SmtpResource(), "warehouse": WarehouseResource(),
                   "io_manager": mem_io_manager},
        executor=in_process_executor,
        loggers={"console": colored_console_logger, "progress": progress_logger},
    )


with startup_without_gc():
    defs = Definitions.merge(reports_definitions(), shared_definitions())
