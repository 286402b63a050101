"""Vega-Lite to SVG in a short-lived helper process, with the results cached on disk.

vl-convert renders charts in an embedded JavaScript engine that takes about half a second to start and, once
started, keeps some 90 MiB until its process ends. A build needs it for a second; a worker that builds edition
after edition (or the preview) would carry it through every PDF stage, where WeasyPrint's own peak comes on top.
So the engine lives in a child process for one batch of charts: `to_svg()` starts it, converts the batch and ends
it, freeing its memory.

An SVG is a pure function of its Vega-Lite spec, vl-convert's version and the font files, so it is cached under
that key (`disk_cache`): a rebuild after a template edit, or after a data edit that touches one chart, draws only
what changed, and when nothing did no helper is started at all.

Protocol: one JSON line in ({"specs": [...]}), one JSON line out ({"svgs": [...]} or {"error": "..."}); the child
exits when its input closes. Besides vl-convert it loads only this module and its few standard-library imports (no
pandas, Altair or Dagster), so it starts in a few tens of milliseconds."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import cast

from pipeline.config import PROJECT_ROOT
from pipeline.lib import disk_cache
from pipeline.lib.errors import ChartError
from pipeline.lib.fonts import font_files

#: A build's charts take about a second; a helper that has not answered by then is stuck, not slow.
TIMEOUT_SECONDS = 120


class SvgEngine:
    """One helper process with vl-convert and the fonts registered."""

    def __init__(self, font_dir: Path):
        env = dict(os.environ)  # the child imports this module by name, from wherever the parent was started
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "pipeline.lib.svg_engine", str(font_dir.resolve())], env=env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
            )
        except OSError as error:
            raise ChartError(f"could not start the chart helper process: {error}") from error

    def convert(self, specs: list[dict]) -> list[str]:
        """SVG for each spec, in order; the helper ends afterwards (one batch per process)."""
        try:
            out, err = self._process.communicate(json.dumps({"specs": specs}) + "\n", timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.close()
            raise ChartError(f"the chart helper process did not answer within {TIMEOUT_SECONDS} s; "
                             "it was stopped") from None
        except OSError as error:  # it died before reading its input
            self.close()
            raise ChartError(f"the chart helper process stopped ({error})") from error
        try:
            reply = json.loads(out)
        except ValueError:
            tail = err.strip()[-1500:]
            raise ChartError(f"the chart helper process ended without an answer (exit status "
                             f"{self._process.returncode})" + (f":\n{tail}" if tail else "")) from None
        if "error" in reply:
            raise ChartError(f"a chart could not be drawn: {reply['error']}")
        return reply["svgs"]

    def close(self) -> None:
        """End the helper at once (after a failure or a timeout)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.communicate()


def to_svg(specs: list[dict], font_dir: Path) -> list[str]:
    """SVG for each Vega-Lite spec, in order: from the cache, the rest drawn by one helper process."""
    context = drawing_context(font_dir)
    keys = [_key(spec, context) for spec in specs]
    svgs = [disk_cache.read("svg", key) for key in keys]
    missing = [i for i, svg in enumerate(svgs) if svg is None]
    if missing:
        drawn = SvgEngine(font_dir).convert([specs[i] for i in missing])
        for i, svg in zip(missing, drawn, strict=True):
            svgs[i] = svg
        disk_cache.write("svg", {keys[i]: cast(str, svgs[i]) for i in missing})
    return cast("list[str]", svgs)  # every one missing from the cache was drawn just above


def _key(spec: dict, context: str) -> str:
    spec_text = json.dumps(spec, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(f"{context}\n{spec_text}".encode()).hexdigest() + ".svg"


@cache
def drawing_context(font_dir: Path) -> str:
    """What an SVG depends on besides its spec: vl-convert's version, and each font file's name, size and
    modification time (a font update changes text metrics). Read once per process."""
    fonts = [(str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in font_files(font_dir.resolve())]
    return json.dumps({"vl_convert": version("vl-convert-python"), "fonts": fonts})


def _serve(font_dir: str) -> int:
    import vl_convert as vlc

    vlc.register_font_directory(font_dir)
    for line in sys.stdin:
        try:
            reply: dict[str, object] = {"svgs": [vlc.vegalite_to_svg(spec) for spec in json.loads(line)["specs"]]}
        except Exception as error:  # any failure is the parent's ChartError, with this text
            reply = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1]))
