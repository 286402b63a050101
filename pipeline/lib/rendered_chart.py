"""A drawn chart as the templates use it: its number, title, caption, Vega-Lite spec (interactive HTML), SVG
(PDF) and text alternative. Its own module, without Altair, so that code that only uses drawn charts (the
templates' context, a build whose charts come from `chart_cache`) never imports the chart library."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass
from typing import Any

from pipeline.lib import chart_text
from pipeline.lib.formatting import DEFAULT_LANGUAGE


@dataclass(frozen=True)
class RenderedChart:
    chart_id: str
    number: int
    title: str
    caption: str
    metric_ids: tuple[str, ...]
    source_refs: tuple[str, ...]
    has_derived: bool
    spec: dict  # Vega-Lite JSON, for the interactive HTML
    svg: str  # vector, for the PDF
    data: list[dict]  # the plotted rows, for tests and metadata
    language: str = DEFAULT_LANGUAGE  # the report's: the words of the text alternative
    derived_label: str = ""  # what the report's charts call a derived value ([labels] origin_derived)

    @property
    def svg_data_url(self) -> str:
        """The SVG as a `data:` URL for an <img>, which is how the print HTML embeds it.

        Inline <svg> would make WeasyPrint parse some 8,000 chart elements with its HTML parser and run the CSS
        cascade on each (measured: 14 % of the layout time); as an image it is parsed once by the SVG renderer and
        stays vector in the PDF."""
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode("utf-8")).decode("ascii")

    @property
    def alt_text(self) -> str:
        """The chart's text alternative, written from the rows it plots (`chart_text`): <img alt>, aria-label."""
        return chart_text.describe(self.title, chart_text.plotted_rows(self.spec), chart_text.chart_kind(self.spec),
                                   chart_text.words_for(self.language, self.derived_label), self.language)

    def to_json(self) -> dict[str, Any]:
        """The chart as JSON values (what `chart_cache` stores); `from_json` gives it back equal."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RenderedChart:
        return cls(**{**data, "metric_ids": tuple(data["metric_ids"]), "source_refs": tuple(data["source_refs"])})
