"""``python -m pipeline.preview --edition E``: rebuild one edition on every change to templates/ or its sources, and
reload the page in the browser (see `pipeline.preview`)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from pipeline.config import Paths
from pipeline.preview.builder import Preview
from pipeline.preview.server import create_app, listen, serving


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline.preview", description=__doc__.splitlines()[0])
    parser.add_argument("--edition", help="edition folder in sources/ (default: the report's default edition)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port, 0 for any free one (default: 8001)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the preview's HTML and PDF (default: <REPORT_OUTPUT_DIR>/.preview/<edition>)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from pipeline.lib.errors import ReportError
    from pipeline.lib.report_def import load_report
    from pipeline.lib.sources import edition_dir

    args = parse_args(argv)
    try:
        paths = Paths.from_env()
        args.edition = args.edition or load_report(paths.templates).default_edition
        edition_dir(paths.sources, args.edition)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out_dir = (args.out or paths.reports / ".preview" / args.edition).resolve()

    def echo(line: str, failed: bool) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr if failed else sys.stdout, flush=True)

    try:
        sock = listen(args.host, args.port)
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror or error}", file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in str(host) else host
    preview = Preview(paths, args.edition, out_dir, echo)
    print(f"preview of {args.edition} at http://{shown_host}:{port}/ (PDF: /report.pdf); files in {out_dir}",
          flush=True)
    print(f"watching {paths.templates} and {paths.sources / args.edition}; Ctrl-C stops", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # Stopping answers the open long polls at once, so the server need not wait for them.
    with serving(create_app(preview.state, args.edition), sock, on_stop=preview.state.close):
        preview.watch(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
