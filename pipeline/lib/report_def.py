"""A report is a folder of its own; the engine holds none.

The folder holds everything about one report and nothing about any other: `report.toml` (its title, language,
default edition and schedule, its data contract, its derived KPIs, its consistency rules and its charts'
titles and captions), its Jinja templates and stylesheet, and `charts.py` (how each declared chart is drawn,
with the engine's chart kit). `load_report` reads and checks it once: every formula is parsed against the
figures the contract declares and the KPIs before it, every chart has a builder, and an error names the file,
the line and the entry, before any edition is read."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import re
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from pipeline.lib.errors import ReportError
from pipeline.lib.formatting import locale_for
from pipeline.lib.formulas import Formula, FormulaError, parse
from pipeline.lib.units import UNITS

REPORT_FILE = "report.toml"
CHARTS_FILE = "charts.py"
PERIOD_RULES = ("same", "prior_year")  # a KPI's period: its first input's, or the year before it
#: In a KPI formula, `<id>_previous` is source figure <id> in the period before its latest one in the edition.
PREVIOUS = "_previous"


class ReportDefinitionError(ReportError):
    """The report's own folder is wrong (a formula, a unit, a missing builder): a fix for the report's author."""


@dataclass(frozen=True)
class Kpi:
    metric_id: str
    label: str  # may hold {period} or {part}: the KPI's period as the report writes it
    unit: str
    formula: Formula
    period: str  # one of PERIOD_RULES
    entity_from: str  # the input whose entity the KPI inherits
    note: str = ""  # printed after the formula, e.g. why a baseline equals itself

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.formula.names

    @property
    def shown_formula(self) -> str:
        return self.formula.shown + self.note


@dataclass(frozen=True)
class Rule:
    check_id: str
    title: str
    holds: Formula  # true when the figures are consistent
    passed: str  # Jinja text for the data note when it holds ({{ F.id }} prints a figure)
    failed: str  # … and when it does not

    @property
    def metric_ids(self) -> tuple[str, ...]:
        named = [*self.holds.names, *re.findall(r"F\.(\w+)", self.passed + self.failed)]
        return tuple(dict.fromkeys(named))


@dataclass(frozen=True)
class ChartDecl:
    chart_id: str
    title: str
    caption: str
    metric_ids: tuple[str, ...]
    build: Callable[..., Any]  # (kit) -> alt.Chart: charts.py's function of the same name (`ChartBuilder`)
    table_ids: tuple[str, ...] = ()  # the declared tables it draws


#: A table column's unit that is not a number: printed as it is.
TEXT_UNIT = "text"


@dataclass(frozen=True)
class ColumnDecl:
    name: str
    unit: str  # TEXT_UNIT or a unit of pipeline.lib.units
    label: str
    formula: Formula | None = None  # computed per row from the columns before it

    @property
    def numeric(self) -> bool:
        return self.unit != TEXT_UNIT


@dataclass(frozen=True)
class TableDecl:
    """A table an edition carries beside its figures (`<id>.csv`): rows of a dimension (a carrier, a day), each
    number in its column's unit and cited as `source_ref`; formula columns are computed, never read."""

    table_id: str
    title: str
    source_ref: str
    columns: tuple[ColumnDecl, ...]

    @property
    def file(self) -> str:
        return f"{self.table_id}.csv"

    @property
    def read_columns(self) -> tuple[ColumnDecl, ...]:
        """The columns the file holds (the others are formulas)."""
        return tuple(c for c in self.columns if c.formula is None)

    def column(self, name: str) -> ColumnDecl:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"table {self.table_id!r} has no column {name!r}")


@dataclass(frozen=True)
class Report:
    report_id: str
    folder: Path
    title: str
    language: str
    default_edition: str
    template: str
    schedule_cron: str
    schedule_timezone: str
    contract: dict[str, str]  # metric id -> unit the data contract expects
    kpis: tuple[Kpi, ...]
    rules: tuple[Rule, ...]
    charts: tuple[ChartDecl, ...]
    labels: dict[str, str] = field(default_factory=dict)  # words the engine's kit prints (legend, tooltips)
    tables: tuple[TableDecl, ...] = ()
    #: [warehouse]: the report's data comes from a database its warehouse.py fills (pipeline.lib.warehouse),
    #: not from edition folders; empty for a report of hand-kept editions
    warehouse: dict[str, str] = field(default_factory=dict)
    #: [schedule] edition: which edition the schedule builds: "latest" (the newest there is) or
    #: "previous_month" (the month before the tick's, as YYYY-MM)
    schedule_edition: str = "latest"

    def table(self, table_id: str) -> TableDecl:
        for table in self.tables:
            if table.table_id == table_id:
                return table
        raise KeyError(table_id)

    def label(self, key: str) -> str:
        try:
            return self.labels[key]
        except KeyError:
            raise ReportDefinitionError(f"{self.folder / REPORT_FILE}: [labels] has no {key!r}") from None


def _line_of(text: str, needle: str) -> int | None:
    """The line of `report.toml` where `needle` first appears (tomllib keeps no positions)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle and needle in line:
            return number
    return None


class _Where:
    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text

    def __call__(self, table: str, entry_id: str, needle: str = "") -> str:
        line = _line_of(self.text, needle) or _line_of(self.text, f'"{entry_id}"')
        return f"{self.path}{f', line {line}' if line else ''}, {table} {entry_id!r}"


def _text(entry: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ReportDefinitionError(f"{where}: {key} is required (text)")
    return value


def report_module(folder: Path, name: str) -> ModuleType | None:
    """The Python module `<name>.py` of the report in `folder` (charts.py, warehouse.py, a helper they import), or
    None if the folder has no such file. One module per folder and name, loaded again when the file changed (the
    preview reloads an edited report): two copies of a report (a test's, an edited one) never replace each
    other, and a report's modules import each other with this, not sys.path."""
    path = folder / f"{name}.py"
    if not path.is_file():
        return None
    # One module name per folder: two copies of a report (a test's, an edited one) must not replace each other.
    tag = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]
    module_name = f"report_{re.sub(r'[^A-Za-z0-9_]', '_', folder.name)}_{tag}_{name}"
    stamp = (path.stat().st_mtime_ns, path.stat().st_size)
    loaded = sys.modules.get(module_name)
    if loaded is not None and getattr(loaded, "__report_stamp__", None) == stamp:
        return loaded
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ReportDefinitionError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    module.__report_stamp__ = stamp  # type: ignore[attr-defined]
    sys.modules[spec.name] = module  # importable by name, so its functions pickle like any other
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


@dataclass(frozen=True)
class ChartBuilder:
    """A chart's function in the report's charts.py, imported when a chart is first drawn: a build whose charts
    come from `chart_cache` never loads charts.py, nor Altair with it."""

    folder: Path
    name: str

    def __call__(self, kit: Any) -> Any:
        return getattr(report_module(self.folder, CHARTS_FILE.removesuffix(".py")), self.name)(kit)


def _chart_functions(folder: Path) -> set[str]:
    """The functions charts.py defines at its top level, read from its syntax tree without running it."""
    path = folder / CHARTS_FILE
    if not path.is_file():
        return set()
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as error:
        raise ReportDefinitionError(f"{path}, line {error.lineno}: not valid Python ({error.msg})") from None
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def report_definition_version(folder: Path) -> str:
    """sha256 of the report's definition files (report.toml, charts.py): what a KPI, rule or chart change edits."""
    digest = hashlib.sha256()
    for name in (REPORT_FILE, CHARTS_FILE):
        path = folder / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b""))
    return digest.hexdigest()[:12]


@cache
def load_report(folder: Path) -> Report:
    """Read and check the report in `folder` (cached per folder for the life of the process)."""
    path = folder / REPORT_FILE
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ReportDefinitionError(f"{folder}: no {REPORT_FILE}; a report folder holds its definition there") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ReportDefinitionError(f"{path}: not valid TOML ({error})") from None
    where = _Where(path, text)
    report = data.get("report", {})
    report_id = _text(report, "id", f"{path}, [report]")

    contract: dict[str, str] = {}
    for entry in data.get("contract", {}).get("metrics", []):
        metric_id, unit = _text(entry, "id", f"{path}, [[contract.metrics]]"), entry.get("unit")
        if unit not in UNITS:
            raise ReportDefinitionError(f"{where('contract metric', metric_id)}: unknown unit {unit!r}; one of "
                                        f"{', '.join(UNITS)}")
        contract[metric_id] = unit

    known = set(contract)
    previous = {f"{metric_id}{PREVIOUS}" for metric_id in contract}
    kpis = []
    for entry in data.get("kpis", []):
        kpi_id = _text(entry, "id", f"{path}, [[kpis]]")
        here = where("kpi", kpi_id, entry.get("formula", ""))
        if kpi_id in known or kpi_id in previous:
            raise ReportDefinitionError(f"{here}: the id is already a figure of the contract or an earlier KPI "
                                        f"(or names a figure's previous period: {PREVIOUS})")
        try:
            formula = parse(entry.get("formula", ""), known | previous, here)
        except FormulaError as error:
            raise ReportDefinitionError(str(error)) from None
        unit, period = entry.get("unit"), entry.get("period", "same")
        if unit not in UNITS:
            raise ReportDefinitionError(f"{here}: unknown unit {unit!r}")
        if period not in PERIOD_RULES:
            raise ReportDefinitionError(f"{here}: period is one of {', '.join(PERIOD_RULES)} (got {period!r})")
        entity_from = entry.get("entity_from", formula.names[0] if formula.names else "")
        if entity_from not in formula.names:
            raise ReportDefinitionError(f"{here}: entity_from must name one of the formula's figures")
        kpis.append(Kpi(kpi_id, _text(entry, "label", here), unit, formula, period, entity_from,
                        entry.get("note", "")))
        known.add(kpi_id)

    rules = []
    for entry in data.get("rules", []):
        rule_id = _text(entry, "id", f"{path}, [[rules]]")
        here = where("rule", rule_id, entry.get("holds", ""))
        try:
            holds = parse(entry.get("holds", ""), known, here)
        except FormulaError as error:
            raise ReportDefinitionError(str(error)) from None
        rule = Rule(rule_id, _text(entry, "title", here), holds, _text(entry, "passed", here),
                    _text(entry, "failed", here))
        unknown = [m for m in rule.metric_ids if m not in known]
        if unknown:
            raise ReportDefinitionError(f"{here}: its messages name unknown figures {', '.join(unknown)}")
        rules.append(rule)

    tables = _tables(data, where, path)
    table_ids = {t.table_id for t in tables}

    builders = _chart_functions(folder)
    charts = []
    for entry in data.get("charts", []):
        chart_id = _text(entry, "id", f"{path}, [[charts]]")
        here = where("chart", chart_id)
        if chart_id not in builders:
            raise ReportDefinitionError(f"{here}: {folder / CHARTS_FILE} has no function {chart_id}(kit)")
        build = ChartBuilder(folder, chart_id)
        figures, drawn = tuple(entry.get("figures", [])), tuple(entry.get("tables", []))
        unknown = [m for m in figures if m not in known] + [t for t in drawn if t not in table_ids]
        if not (figures or drawn) or unknown:
            raise ReportDefinitionError(f"{here}: figures and tables must list figures and tables of the report "
                                        f"({'unknown: ' + ', '.join(unknown) if unknown else 'none listed'})")
        charts.append(ChartDecl(chart_id, _text(entry, "title", here), _text(entry, "caption", here), figures, build,
                                drawn))

    language = _text(report, "language", f"{path}, [report]")
    try:
        locale_for(language)
    except ValueError as error:
        raise ReportDefinitionError(f"{path}, [report]: {error}") from None
    schedule = data.get("schedule", {})
    return Report(
        report_id=report_id, folder=folder, title=_text(report, "title", f"{path}, [report]"),
        language=language,
        default_edition=_text(report, "default_edition", f"{path}, [report]"),
        template=_text(report, "template", f"{path}, [report]"),
        schedule_cron=schedule.get("cron", ""), schedule_timezone=schedule.get("timezone", ""),
        contract=contract, kpis=tuple(kpis), rules=tuple(rules), charts=tuple(charts),
        labels={str(k): str(v) for k, v in data.get("labels", {}).items()},
        tables=tables, warehouse={str(k): str(v) for k, v in data.get("warehouse", {}).items()},
        schedule_edition=_schedule_edition(schedule, path),
    )


SCHEDULE_EDITIONS = ("latest", "previous_month")


def _schedule_edition(schedule: dict[str, Any], path: Path) -> str:
    rule = schedule.get("edition", "latest")
    if rule not in SCHEDULE_EDITIONS:
        raise ReportDefinitionError(f"{path}, [schedule]: edition is one of {', '.join(SCHEDULE_EDITIONS)} "
                                    f"(got {rule!r})")
    return str(rule)


def _tables(data: dict[str, Any], where: _Where, path: Path) -> tuple[TableDecl, ...]:
    """[[tables]]: each column a text or a unit; a formula column names numeric columns declared before it."""
    tables = []
    for entry in data.get("tables", []):
        table_id = _text(entry, "id", f"{path}, [[tables]]")
        here = where("table", table_id)
        if not re.fullmatch(r"[a-z][a-z0-9_]*", table_id) or table_id in ("metrics", "references"):
            raise ReportDefinitionError(f"{here}: a table id is snake_case and not metrics or references")
        columns: list[ColumnDecl] = []
        for column in entry.get("columns", []):
            name = _text(column, "name", f"{here}, a column")
            unit = column.get("unit")
            if unit != TEXT_UNIT and unit not in UNITS:
                raise ReportDefinitionError(f"{here}, column {name!r}: unit is {TEXT_UNIT} or one of "
                                            f"{', '.join(UNITS)} (got {unit!r})")
            if any(c.name == name for c in columns):
                raise ReportDefinitionError(f"{here}: column {name!r} is declared twice")
            formula = None
            if "formula" in column:
                numeric = {c.name for c in columns if c.numeric}
                try:
                    formula = parse(column["formula"], numeric, f"{here}, column {name!r}")
                except FormulaError as error:
                    raise ReportDefinitionError(str(error)) from None
                if unit == TEXT_UNIT:
                    raise ReportDefinitionError(f"{here}, column {name!r}: a formula column is a number")
            columns.append(ColumnDecl(name, unit, _text(column, "label", f"{here}, column {name!r}"), formula))
        if not columns:
            raise ReportDefinitionError(f"{here}: columns are required")
        tables.append(TableDecl(table_id, _text(entry, "title", here), _text(entry, "source_ref", here),
                                tuple(columns)))
    return tuple(tables)
