"""Vega-Lite to SVG in a short-lived helper process.

vl-convert renders charts in an embedded JavaScript engine that takes about half a second to start and, once
started, keeps some 90 MiB until its process ends. A build needs it for a second; a worker that builds edition
after edition (or the preview) would carry it through every PDF stage, where WeasyPrint's own peak comes on top.
So the engine lives in a child process for one batch of charts: `prestart()` launches it early (the CLI does so
before importing Dagster, so the engine starts on the other core meanwhile), `to_svg()` converts a batch and ends
the child, freeing its memory.

Protocol: one JSON line in ({"specs": [...]}), one JSON line out ({"svgs": [...]} or {"error": "..."}); the child
exits when its input closes. It imports nothing but vl-convert."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from pipeline.config import PROJECT_ROOT
from pipeline.lib.errors import ChartError

#: A tiny chart converted at start-up: it starts the JavaScript engine before the real charts arrive.
WARM_UP = {"mark": "point", "data": {"values": [{"x": 1}]}, "encoding": {"x": {"field": "x", "type": "quantitative"}}}


class SvgEngine:
    """One helper process with vl-convert, fonts registered and its engine started."""

    def __init__(self, font_dir: Path):
        self.font_dir = font_dir
        env = dict(os.environ)  # the child imports this module by name, from wherever the parent was started
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.lib.svg_engine", str(font_dir.resolve())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", env=env,
        )

    def convert(self, specs: list[dict]) -> list[str]:
        """SVG for each spec, in order; the helper ends afterwards (one batch per process)."""
        try:
            out, err = self._process.communicate(json.dumps({"specs": specs}) + "\n")
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
        """End the helper without waiting for a batch (one started early and never used)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.communicate()


_lock = threading.Lock()
_waiting: SvgEngine | None = None


def prestart(font_dir: Path) -> None:
    """Start a helper now so its engine is ready when charts are drawn; a no-op if one is already waiting."""
    global _waiting
    with _lock:
        if _waiting is None:
            _waiting = SvgEngine(font_dir)


def to_svg(specs: list[dict], font_dir: Path) -> list[str]:
    """Convert a batch of Vega-Lite specs, with the prestarted helper if it has these fonts, else a new one."""
    global _waiting
    with _lock:
        engine, _waiting = _waiting, None
    if engine is None or engine.font_dir != font_dir:
        if engine is not None:
            engine.close()
        engine = SvgEngine(font_dir)
    return engine.convert(specs)


def _serve(font_dir: str) -> int:
    import vl_convert as vlc

    vlc.register_font_directory(font_dir)
    vlc.vegalite_to_svg(WARM_UP)
    for line in sys.stdin:
        try:
            reply = {"svgs": [vlc.vegalite_to_svg(spec) for spec in json.loads(line)["specs"]]}
        except Exception as error:  # any failure is the parent's ChartError, with this text
            reply = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1]))
