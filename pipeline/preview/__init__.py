"""The edit loop behind ``make preview``: rebuild one edition on every change to templates/ or its sources, and
reload the page in the browser.

The preview is a warm process that calls the pipeline's stage functions directly, not Dagster: the point is a
short edit loop. The HTML and PDF go to a preview folder (default ``reports/.preview/<edition>/``, a dot folder
the published archive ignores), never into the archive. A failed build (bad data, a template error, a renderer
warning) is shown in a banner over the last good page and printed in the terminal; the last good HTML and PDF stay.

One job per module:

- `builder`: the build cache (`Preview`): which steps to run again for a change, and the build records;
- `state`: what the server shows (`State`, `Snapshot`), shared between the build thread and the server;
- `watcher`: which file changes call for a rebuild;
- `server`: the HTTP side (the pages, the PDF, the live-reload long-poll);
- `__main__`: the command line, ``python -m pipeline.preview --edition E``."""

from pipeline.preview.builder import DATA_STEPS, TEMPLATE_STEPS, BuildRecord, Preview
from pipeline.preview.state import Snapshot, State

__all__ = ["DATA_STEPS", "TEMPLATE_STEPS", "BuildRecord", "Preview", "Snapshot", "State"]
