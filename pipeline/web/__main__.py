"""``python -m pipeline.web``: serve the published archive with uvicorn.

Binds 127.0.0.1 by default: the site has no authentication, so exposing it is a decision to make on the
command line (``--host 0.0.0.0``), not a default. ``--port 0`` picks a free port and uvicorn logs which."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import uvicorn

from pipeline.config import Roots
from pipeline.lib.urls import BASE_URL_ENV
from pipeline.web.app import create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline.web", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind, 0 for any free one (default: 8000)")
    parser.add_argument(
        "--archive",
        type=Path,
        default=None,
        help="archive folder to serve, one subfolder per report (default: $REPORT_OUTPUT_DIR, else the project's reports/)",
    )
    parser.add_argument(
        "--base-url",
        default=os.environ.get(BASE_URL_ENV, ""),
        help=f"public URL prefix for links in pages (default: ${BASE_URL_ENV}, else links relative to the host)",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    archive = (args.archive or Roots.from_env().reports).resolve()
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("pipeline.web")
    log.info("serving the archive at %s", archive)
    if not archive.is_dir():
        log.warning("%s does not exist yet: the site lists no reports until something is published", archive)
    uvicorn.run(
        create_app(archive, base_url=args.base_url),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        server_header=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
