"""Step output captured for the UI and still shown on the terminal, mirrored by a thread instead of processes.

Dagster's `LocalComputeLogManager` redirects a run's stdout and stderr into files (the UI's stdout/stderr tabs)
and mirrors each file back to the terminal with a `tail -F` process plus a Python process that watches for
that tail being orphaned: four processes per run, which start beside the build and stay resident through its PDF
stage. This manager redirects into the same files, so the UI reads them as before, but a thread of the run's own
process follows each file to the terminal. Nothing can be orphaned (a killed run takes its thread with it), and
nothing is cut off at the end of a run (the thread copies what is left before the capture ends, where Dagster's
`tail` is stopped without waiting for its next look).

Configured in each profile's `dagster.yaml` (`deploy/*/dagster.yaml`) under `compute_logs`."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import IO, Any

from dagster import DagsterInstance, Field, StringSource
from dagster._core.execution.compute_logs import redirect_to_file
from dagster._core.storage.compute_log_manager import CapturedLogContext, ComputeIOType
from dagster._core.storage.local_compute_log_manager import IO_TYPE_EXTENSION, LocalComputeLogManager
from dagster._serdes import ConfigurableClassData
from dagster._utils import ensure_file, touch_file

#: Bytes copied to the terminal at a time, and how often the thread looks for more (a line shows within this).
CHUNK = 65536
POLL_SECONDS = 0.1


class MirroredComputeLogManager(LocalComputeLogManager):
    """`LocalComputeLogManager` (files under `base_dir`, by default `$DAGSTER_HOME/storage`) whose terminal copy is
    written by a thread."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir or "", inst_data=inst_data)  # without one, the instance's own (register_instance)

    def register_instance(self, instance: DagsterInstance) -> None:
        super().register_instance(instance)
        if not self._base_dir:  # where Dagster's default manager keeps them, so switching managers loses no log
            self._base_dir = os.path.join(instance.root_directory, "storage")

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,
                          config_value: Mapping[str, Any]) -> MirroredComputeLogManager:
        return cls(base_dir=config_value.get("base_dir"), inst_data=inst_data)

    @contextmanager
    def capture_logs(self, log_key: Sequence[str]) -> Generator[CapturedLogContext, None, None]:
        with ExitStack() as streams:
            for stream, io_type in ((sys.stdout, ComputeIOType.STDOUT), (sys.stderr, ComputeIOType.STDERR)):
                path = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[io_type])
                streams.enter_context(_mirrored(stream, path))
            yield CapturedLogContext(log_key)
        touch_file(self.complete_artifact_path(log_key))  # as Dagster's: the UI then knows the capture is complete


@contextmanager
def _mirrored(stream: IO[str], path: str) -> Iterator[None]:
    """While inside, whatever is written to `stream`'s descriptor (by Python, or by a library writing to the
    descriptor directly) is appended to `path` (Dagster's own `redirect_to_file`), and a thread copies what the
    file gains to where the descriptor pointed before.

    The descriptor points at the file itself, as with Dagster's manager, not at a pipe: a library that keeps its
    own copy of the descriptor (vl-convert's JavaScript runtime duplicates stdout and stderr when it starts) then
    holds the file open, which is harmless, where a pipe would never reach its end and the run could not finish."""
    try:
        terminal = os.dup(stream.fileno())
    except (AttributeError, OSError, ValueError):  # a test runner's stand-in stream: nothing to capture
        yield
        return
    ensure_file(path)
    stop = threading.Event()
    try:
        with open(path, "rb", buffering=0) as reader:
            reader.seek(0, os.SEEK_END)  # what an earlier attempt of this step wrote was shown then
            copier = threading.Thread(target=_follow, args=(reader, terminal, stop), daemon=True,
                                      name=f"compute-log-{stream.fileno()}")
            copier.start()
            try:
                with redirect_to_file(stream, path):
                    yield
            finally:  # the descriptor is back where it was: the copier passes on what is left, then ends
                stop.set()
                copier.join()
    finally:
        os.close(terminal)


def _follow(reader: IO[bytes], terminal: int, stop: threading.Event) -> None:
    while True:
        stopping = stop.wait(POLL_SECONDS)
        while chunk := reader.read(CHUNK):
            try:
                while chunk and terminal >= 0:
                    chunk = chunk[os.write(terminal, chunk):]
            except OSError:  # the terminal went away (a closed pipe): the file still gets everything
                terminal = -1
        if stopping:
            return
