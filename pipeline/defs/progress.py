"""A Dagster logger for the command line: one line per step as it starts, and the messages meant for the person
running the build (notes about the sources, waiting for another build of the edition), on standard error.

It is declared on the code location but enabled only by the CLI's run config: runs from the UI, the schedule and
the sensor use Dagster's default loggers and show the same messages in the run's log."""

from __future__ import annotations

import logging
import sys

from dagster import Field, InitLoggerContext, logger

#: Steps log what the person building should read with this prefix (`context.log.warning(f"{NOTE}…")`); the rest of
#: the run's log (Dagster's own lines included) stays in the run's log in the UI.
NOTE = "note: "


class _StepLines(logging.Handler):
    def __init__(self, total: int) -> None:
        super().__init__(logging.DEBUG)  # step events come at DEBUG level
        self.total = total
        self.started = 0

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is not None:
            if event.event_type_value == "STEP_START":
                self.started += 1
                print(f"  [{self.started}/{self.total}] {meta.get('step_key')}", file=sys.stderr, flush=True)
            return
        message = str(meta.get("orig_message", ""))
        if message.startswith(NOTE) or meta.get("resource_name"):
            print(f"  {message}", file=sys.stderr, flush=True)


@logger(config_schema={"steps": Field(int, default_value=0, description="how many steps the run has")},
        description="Step-by-step progress and notes on standard error, for `python -m pipeline build`.")
def progress_logger(context: InitLoggerContext) -> logging.Logger:
    log = logging.Logger("pipeline.progress", logging.DEBUG)
    log.addHandler(_StepLines(context.logger_config["steps"]))
    return log
