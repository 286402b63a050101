"""`python -m pipeline`: the command line, ended without tearing the interpreter down.

When `main()` returns, a command has written and closed all it writes (the published version, the Dagster run's
events, the step logs: each behind a context manager), and the project registers no exit handlers. What is left is
Python's own teardown of a heap that holds Dagster, pandas, pandera and WeasyPrint, a noticeable part of a short
build like `make report`. So the two streams are flushed and the process ends at once. An exception out of `main()`
still ends the usual way, with its traceback."""

import os
import sys

from pipeline.cli import main

status = main()
try:
    sys.stdout.flush()
    sys.stderr.flush()
except BrokenPipeError:  # the reader left (`| head -1`); main() has said all it will
    pass
os._exit(status or 0)
