"""Everything a template may use, built from data only: figures, charts, findings, references, numbering.

Templates never hold a number. They ask for `F.metric_id` (a source row or a derived KPI, printed through the
formatting filters), `T.table_id` (the rows of a declared table, each cell printed in its column's unit),
`cite(...)`, `figref(...)`, and numbering that is assigned in order of appearance."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import cast

import pandas as pd
from markupsafe import Markup

from pipeline.lib.changes.basis import Basis
from pipeline.lib.changes.findings import finding_changes
from pipeline.lib.changes.narrative import claim
from pipeline.lib.changes.shown import report_changes
from pipeline.lib.changes.snapshot import figure_values
from pipeline.lib.consistency import Finding
from pipeline.lib.errors import ReportError
from pipeline.lib.formatting import DEFAULT_LANGUAGE, Locale, figure_markup, figure_text, locale_for
from pipeline.lib.kpis import latest_by_metric, period_order
from pipeline.lib.rendered_chart import RenderedChart
from pipeline.lib.report_def import TEXT_UNIT, Report
from pipeline.lib.validate import ValidatedEdition


class MissingFigure(ReportError, KeyError):
    """The template asked for a figure the edition does not have."""

    def __str__(self) -> str:
        return f"the template uses figure {self.args[0]!r}, which is neither a row of metrics.csv nor a derived KPI"


@dataclass(frozen=True)
class FigureRef:
    """One figure as a template sees it; renders as a traceable <span> through the formatting filters."""

    row: dict
    language: str = DEFAULT_LANGUAGE  # the report's: how the figure reads

    def __getattr__(self, name: str):
        try:
            return self.row[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def text(self) -> str:
        return figure_text(self.row["value"], self.row["unit"], self.row["qualifier"], self.language)

    def _markup(self, qualifier: str) -> Markup:
        ref = f"{self.row['metric_id']}@{self.row['period']}"
        return figure_markup(self.row["value"], self.row["unit"], qualifier, ref, self.row["derived"], self.language)

    def __html__(self) -> str:
        return self._markup(self.row["qualifier"])

    @property
    def bare(self) -> Markup:
        """The figure without its qualifier, for prose that already says 约 or 以上 in its own words."""
        return self._markup("")

    def __str__(self) -> str:
        return self.text


class FigureIndex:
    """`F.metric_id` or `F['metric_id']`: the latest-period row of that metric. Every period stays available:
    `series(id)` in a template gives them all, oldest first, and `figure(id, period)` one of them."""

    def __init__(self, figures: pd.DataFrame, language: str = DEFAULT_LANGUAGE):
        self._rows = {k: FigureRef(v, language) for k, v in latest_by_metric(figures).to_dict(orient="index").items()}
        ordered = figures.assign(_order=figures["period"].map(period_order)).sort_values(["metric_id", "_order"])
        self._series: dict[str, list[FigureRef]] = defaultdict(list)
        for row in ordered.drop(columns="_order").to_dict(orient="records"):
            self._series[row["metric_id"]].append(FigureRef(row, language))

    def series(self, name: str) -> list[FigureRef]:
        """Every period of a figure, oldest first."""
        if name not in self._series:
            raise MissingFigure(name)
        return list(self._series[name])

    def at(self, name: str, period: str) -> FigureRef:
        """The figure for one period."""
        for ref in self.series(name):
            if ref.row["period"] == period:
                return ref
        raise MissingFigure(f"{name}@{period}")

    def __getattr__(self, name: str) -> FigureRef:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> FigureRef:
        try:
            return self._rows[name]
        except KeyError:
            raise MissingFigure(name) from None

    def __contains__(self, name: str) -> bool:
        return name in self._rows


class Cell:
    """One cell of a declared table: prints as the report writes its column's unit (counts bare: the header names
    the unit), or "–" when the row has no value; `.value` is the raw number or text."""

    NO_VALUE = "–"

    def __init__(self, value: object, unit: str, locale: Locale) -> None:
        self.value = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
        self.unit, self._locale = unit, locale

    def __str__(self) -> str:
        if self.value is None:
            return self.NO_VALUE
        if self.unit == TEXT_UNIT:
            return str(self.value)
        return self._locale.cell_text(float(cast("float", self.value)), self.unit)

    def __html__(self) -> str:
        return str(Markup.escape(str(self)))

    def __bool__(self) -> bool:
        return self.value is not None


class TableIndex:
    """`T.<table id>` in a template: the table's rows (each a dict of column name → `Cell`), in file order; a
    table the edition does not have is an error naming it, like a missing figure."""

    def __init__(self, report: Report, tables: dict[str, pd.DataFrame]) -> None:
        self._report, self._tables = report, tables
        self._locale = locale_for(report.language)

    def __getattr__(self, table_id: str) -> list[dict[str, Cell]]:
        if table_id.startswith("_"):
            raise AttributeError(table_id)
        return self[table_id]

    def __getitem__(self, table_id: str) -> list[dict[str, Cell]]:
        if table_id not in self._tables:
            raise MissingFigure(f"table:{table_id}")
        decl = self._report.table(table_id)
        units = {c.name: c.unit for c in decl.columns}
        return [{name: Cell(value, units[name], self._locale) for name, value in record.items()}
                for record in self._tables[table_id].to_dict(orient="records")]

    def __contains__(self, table_id: str) -> bool:
        return table_id in self._tables


@dataclass
class Numbering:
    """Numbers for sections, figures and tables in order of appearance.

    The template is rendered twice: the first pass records the order (so the TOC and forward references know
    every number), the second pass prints them."""

    order: dict[str, list[tuple[str, object]]] = field(default_factory=lambda: defaultdict(list))
    frozen: bool = False

    def declare(self, kind: str, key: str, title: object = "") -> int:
        entries = self.order[kind]
        keys = [k for k, _ in entries]
        if not self.frozen and key not in keys:
            entries.append((key, title))
            keys.append(key)
        return keys.index(key) + 1

    def number(self, kind: str, key: str) -> int | None:
        keys = [k for k, _ in self.order[kind]]
        return keys.index(key) + 1 if key in keys else None


@dataclass(frozen=True)
class ReportContext:
    report: Report
    edition: ValidatedEdition
    figures: pd.DataFrame
    charts: list[RenderedChart]
    findings: list[Finding]
    skipped_kpis: list[str]
    #: what this version is compared with (pipeline.lib.changes.basis); None: a first version, no "what changed"
    basis: Basis | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # declared tables, formulas computed

    @property
    def template(self) -> str:
        edition = cast("dict[str, object]", self.edition.meta["edition"])  # a table (validate.check_meta)
        return str(edition.get("template", self.report.template))

    def as_template_vars(self, numbering: Numbering | None = None) -> dict[str, object]:
        numbering = numbering or Numbering()
        refs = self.edition.references.reset_index(drop=True)
        ref_number = {sid: i + 1 for i, sid in enumerate(refs["source_id"])}
        charts = {c.chart_id: c for c in self.charts}
        language = self.report.language
        words = locale_for(language).xref

        def cite(*items: object) -> Markup:
            ids: list[str] = []
            for item in items:
                source = item.source_ref if isinstance(item, FigureRef) else str(item)
                ids += [s for s in source.split(";") if s not in ids]
            links = Markup("").join(
                Markup('<a class="cite" href="#ref-{}">[{}]</a>').format(s, ref_number[s]) for s in ids)
            return Markup('<sup class="cites">{}</sup>').format(links)

        def xref(kind: str, key: str) -> Markup:
            n = numbering.number(kind, key)
            shown = "?" if n is None else str(n)
            if kind == "section" and n is None and numbering.number("appendix", key) is not None:
                letter = dict(numbering.order["appendix"])[key]
                text = words["appendix"].format(letter=letter)
            else:
                text = words[kind].format(n=shown)
            anchor = {"figure": "fig-", "table": "tab-", "section": ""}[kind] + key
            return Markup('<a class="xref" href="#{}">{}</a>').format(anchor, text)

        def chart(chart_id: str) -> RenderedChart:
            if chart_id not in charts:
                raise MissingFigure(f"chart:{chart_id}")
            return charts[chart_id]

        sources = self.figures[~self.figures["derived"]].copy()
        sources["order"] = sources["period"].map(period_order)
        figures = FigureIndex(self.figures, language)
        return {
            "meta": self.edition.meta["edition"],
            "edition_name": self.edition.name,
            "fingerprint": self.edition.fingerprint,
            "notes": self.edition.meta.get("notes", []),
            "F": figures,
            "series": figures.series,
            "figure": figures.at,
            "source_rows": [FigureRef(r, language) for r in sources.to_dict(orient="records")],
            "derived_rows": [FigureRef(r, language)
                             for r in self.figures[self.figures["derived"]].to_dict(orient="records")],
            "references": [dict(r, number=ref_number[r["source_id"]]) for r in refs.to_dict(orient="records")],
            "findings": self.findings,
            "skipped_kpis": self.skipped_kpis,
            "cite": cite,
            "figref": lambda key: xref("figure", key),
            "tabref": lambda key: xref("table", key),
            "secref": lambda key: xref("section", key),
            "declare": numbering.declare,
            "numbering": numbering,
            "chart": chart,
            "changes": (report_changes(self.basis, figure_values(self.figures), language)
                        if self.basis is not None else None),
            # consistency findings that appeared or were resolved against the same basis (None without one)
            "finding_changes": (finding_changes(self.findings, self.report.rules, self.basis.figures)
                                if self.basis is not None else None),
            # the report's word for a change's direction (labels change_up / change_down / change_flat), and
            # the check that a word typed in the template is the change's direction (fails the build if not)
            "direction": lambda shown: self.report.label(f"change_{shown.sign}"),
            "claim": lambda shown, said: claim(shown.change, said, self._direction_words()),
            "T": TableIndex(self.report, self.tables),
            "table_columns": lambda table_id: self.report.table(table_id).columns,
            "table_formula": self._table_formula,
        }

    def _table_formula(self, table_id: str, column: str) -> str:
        """How a table's formula column is computed, as printed (late ÷ trips × 100); '' for a read one."""
        formula = self.report.table(table_id).column(column).formula
        return formula.shown if formula is not None else ""

    def _direction_words(self) -> dict[str, str]:
        return {d: self.report.labels[f"change_{d}"] for d in ("up", "down", "flat")
                if f"change_{d}" in self.report.labels}
