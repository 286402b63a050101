"""A build's figures as a JSON document (``figures.json`` beside the PDF of a published version) and back.

The PDF is what readers read; it is no data source for a later build that wants to say what changed. So each
version also keeps the figures it printed, one entry per (metric, period), in a form that needs neither pandas
nor the report's definition to read. The bytes are deterministic (entries sorted by metric id and period, keys
sorted, no timestamps), so an unchanged build gives byte-identical JSON; publishing still decides reuse on the
data fingerprint and code version alone, which determine these figures anyway.

Format (``format`` 1)::

    {"figures": [{"derived": false, "entity": "Xiaomi", "label": "…", "metric_id": "…", "period": "2025H1",
                  "unit": "vehicles", "value": 157000.0}, …],
     "format": 1}
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import pandas as pd

from pipeline.lib.errors import ReportError

FORMAT = 1
FIGURES_NAME = "figures.json"
_COLUMNS = ("metric_id", "period", "value", "unit", "label", "entity", "derived")
_TEXT_FIELDS = ("metric_id", "period", "unit", "label", "entity")


class SnapshotError(ReportError):
    """Figures that cannot be written as a snapshot, or a snapshot document that cannot be read."""


@dataclass(frozen=True)
class FigureValue:
    """One figure as a version printed it: the value of one metric for one period.

    ``entity`` has a default so that code comparing figures can build them without one; the snapshot always
    records it."""

    metric_id: str
    period: str
    value: float
    unit: str
    label: str
    derived: bool
    entity: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """What identifies a figure within one version: the data contract makes (metric_id, period) unique."""
        return (self.metric_id, self.period)


def figure_values(figures: pd.DataFrame) -> list[FigureValue]:
    """The rows of an ``Analysis.figures`` table as FigureValues, sorted by metric id and period.

    Raises SnapshotError for a missing column, a value that is not a finite number, or a (metric, period) that
    occurs twice (the contract forbids it; a snapshot that kept both would make every comparison ambiguous)."""
    missing = [c for c in _COLUMNS if c not in figures.columns]
    if missing:
        raise SnapshotError(f"the figures table lacks the column(s) {', '.join(missing)}")
    found: dict[tuple[str, str], FigureValue] = {}
    for row in figures.loc[:, list(_COLUMNS)].itertuples(index=False):
        record = dict(zip(_COLUMNS, row, strict=True))
        value = _finite(record["value"], f"{record['metric_id']} ({record['period']})")
        figure = FigureValue(
            metric_id=str(record["metric_id"]), period=str(record["period"]), value=value, unit=str(record["unit"]),
            label=str(record["label"]), derived=bool(record["derived"]),
            entity="" if pd.isna(record["entity"]) else str(record["entity"]),
        )
        if figure.key in found:
            raise SnapshotError(f"figure {figure.metric_id} ({figure.period}) occurs twice in the figures table")
        found[figure.key] = figure
    return [found[key] for key in sorted(found)]


def figures_json(figures: pd.DataFrame) -> bytes:
    """The ``figures.json`` document of a figures table (what ``publish(..., figures=...)`` takes)."""
    return to_json(figure_values(figures))


def to_json(values: Sequence[FigureValue]) -> bytes:
    """FigureValues as the snapshot document: sorted, keys sorted, UTF-8 as written (Chinese labels stay legible)."""
    ordered = sorted(values, key=lambda f: f.key)
    keys = [f.key for f in ordered]
    if len(set(keys)) != len(keys):
        raise SnapshotError("a snapshot holds each (metric_id, period) once")
    document = {"format": FORMAT, "figures": [asdict(f) | {"value": float(f.value)} for f in ordered]}
    return (json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True, allow_nan=False) + "\n").encode()


def from_json(data: bytes) -> list[FigureValue]:
    """Read a snapshot document back; raises SnapshotError saying what is wrong with it."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SnapshotError(f"not a figures document: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SnapshotError(f"not a figures document of format {FORMAT}")
    entries = document.get("figures")
    if not isinstance(entries, list):
        raise SnapshotError("a figures document needs a 'figures' list")
    values = [_entry(n, entry) for n, entry in enumerate(entries, start=1)]
    keys = [f.key for f in values]
    if len(set(keys)) != len(keys):
        raise SnapshotError("a figures document holds each (metric_id, period) once")
    return sorted(values, key=lambda f: f.key)


def _entry(number: int, entry: object) -> FigureValue:
    if not isinstance(entry, dict):
        raise SnapshotError(f"figure {number} is not an object")
    for name in _TEXT_FIELDS:
        if not isinstance(entry.get(name), str):
            raise SnapshotError(f"figure {number}: {name!r} must be text")
    if not isinstance(entry.get("derived"), bool):
        raise SnapshotError(f"figure {number}: 'derived' must be true or false")
    value = entry.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SnapshotError(f"figure {number}: 'value' must be a number")
    return FigureValue(metric_id=entry["metric_id"], period=entry["period"], value=float(value), unit=entry["unit"],
                       label=entry["label"], derived=entry["derived"], entity=entry["entity"])


def _finite(value: object, what: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise SnapshotError(f"figure {what}: value {value!r} is not a number") from exc
    if not math.isfinite(number):
        raise SnapshotError(f"figure {what}: value {value!r} is not a finite number")
    return number
