"""The data contract as pandera schemas, and the typed tables that pass it.

Validation is lazy: every broken cell of every row is reported at once, as `Problem`s naming file, row, column
and rule, because people fix spreadsheets in one pass, not one error per build. Each cell gets the one rule that
explains it best ("full-width digits are not allowed", not just "not a number"), since the person reading the
message has a spreadsheet open, not this file."""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import pandera.pandas as pa

from pipeline.lib.errors import Problem, SourceDataError
from pipeline.lib.report_def import TableDecl
from pipeline.lib.sources import EDITION_FILE, METRICS_FILE, REFERENCES_FILE, EditionSources
from pipeline.lib.units import QUALIFIERS, UNITS, Unit, in_range, range_rule

#: Bump when the contract changes; shown in asset metadata so a reader knows which rules a table passed.
SCHEMA_VERSION = "2"

NUMBER = r"-?[0-9]+(\.[0-9]+)?"
PERIOD = r"(19|20)[0-9]{2}(H[12]|Q[1-4]|-(0[1-9]|1[0-2]))?|undated"  # a year a business figure can have: 1900–2099
IDENTIFIER = r"[a-z][a-z0-9_]*"
TEMPLATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\.html\.j2")
REQUIRED_META = ("title", "subtitle", "date", "author", "subject")
OPTIONAL_META = ("keywords", "template")
META_TABLES = ("edition", "notes")

METRIC_COLUMNS = ("metric_id", "entity", "period", "value", "unit", "qualifier", "label", "source_ref",
                  "locator", "note")
REFERENCE_COLUMNS = ("source_id", "title", "publisher", "date", "locator", "note")
REQUIRED_COLUMNS = {
    METRICS_FILE: ("metric_id", "entity", "period", "value", "unit", "label", "source_ref"),
    REFERENCES_FILE: ("source_id", "title"),
}
#: How alike a wrong name and an allowed one must be (difflib's ratio) to be offered as "did you mean": a typo
#: keeps most of the letters ('device' → 'devices', 'lable' → 'label'); difflib's default, 0.6, offered 'years' for
#: 'cars', which is no typo of it.
TYPO_CUTOFF = 0.75
KEYS = {METRICS_FILE: ("metric_id", "period"), REFERENCES_FILE: ("source_id",)}

# Rule texts. They are what a person reads next to a cell, so each says what to write instead.
REQUIRED_RULE = "a value is required"
FULLWIDTH_RULE = "full-width digits are not allowed; use ASCII 0-9"
THOUSANDS_RULE = "thousands separators are not allowed; write 1234, not 1,234"
UNIT_IN_VALUE_RULE = ("the value carries a unit or symbol (%, 亿, 万, 元 …); write the bare number in base units "
                      "(2800亿元 is 280000000000) and name the unit in the unit column")
NUMBER_RULE = "value is a plain number: ASCII digits, an optional leading '-', '.' for decimals (e.g. 12.5)"
TOO_LARGE_RULE = "value is too large to be a number"
PERIOD_RULE = "period is YYYY, YYYYH1/H2, YYYYQ1–Q4, YYYY-MM or 'undated', with a year from 1900 to 2099"
UNIT_RULE = f"unknown unit; the unit is one of {', '.join(UNITS)}"
QUALIFIER_RULE = "qualifier is empty, approx, at_least or at_most"
SOURCE_REF_RULE = "unknown source: source_ref must be a source_id listed in references.csv"
CONTROL_RULE = "control characters are not allowed (a binary file, or text pasted from another program?)"
REPLACEMENT_RULE = ("contains U+FFFD (�), the mark of text already garbled by a wrong encoding; re-export the file "
                    "from the original spreadsheet as UTF-8")
RANGE_RULE = "value lies within the range of its unit"

FULLWIDTH = re.compile(r"[０-９．－＋，]")
THOUSANDS = re.compile(r"[0-9][,，][0-9]|[0-9][ '\u00a0\u2009\u202f][0-9]{3}")
UNIT_SYMBOL = re.compile(r"[%％‰亿万千元¥￥$]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
COUNT_UNITS = {name for name, unit in UNITS.items() if unit.integer and unit.minimum == 0}


def number_rule(text: str) -> str | None:
    """The rule a `value` cell breaks, or None if it is a plain finite number (or empty: that is its own rule)."""
    if text == "":
        return None
    if FULLWIDTH.search(text):
        return FULLWIDTH_RULE
    if THOUSANDS.search(text):
        return THOUSANDS_RULE
    if UNIT_SYMBOL.search(text):
        return UNIT_IN_VALUE_RULE
    if not re.fullmatch(NUMBER, text):
        return NUMBER_RULE
    if not math.isfinite(float(text)):
        return TOO_LARGE_RULE
    return None


def period_rule(text: str) -> str | None:
    """The rule a `period` cell breaks, or None."""
    if text == "" or re.fullmatch(PERIOD, text):
        return None
    return FULLWIDTH_RULE if FULLWIDTH.search(text) else PERIOD_RULE


def _cells(diagnose: Callable[[str], str | None], rule: str) -> pa.Check:
    """A check failing exactly the cells whose diagnosis is `rule`, so each cell gets one, specific, rule."""
    return pa.Check(lambda s: s.map(diagnose) != rule, error=rule)


def _rules(diagnose: Callable[[str], str | None], *rules: str) -> list[pa.Check]:
    return [_cells(diagnose, rule) for rule in rules]


def _text_rule(text: str) -> str | None:
    if CONTROL.search(text):
        return CONTROL_RULE
    if "\ufffd" in text:
        return REPLACEMENT_RULE
    return None


TEXT_CHECKS = _rules(_text_rule, CONTROL_RULE, REPLACEMENT_RULE)


#: What each column of the data contract holds, in the words the Dagster catalog shows beside the column.
COLUMN_DESCRIPTIONS = {
    "metric_id": "the figure's id (snake_case), the name templates and formulas use",
    "entity": "who the figure is about",
    "period": "the period it covers: YYYY, YYYYH1/H2, YYYYQ1-Q4, YYYY-MM, or undated",
    "value": "the number as the source states it, in its unit",
    "unit": "the unit (pipeline.lib.units): what the value counts and how it is printed",
    "qualifier": "how the source qualifies the value (about, over, up to), if it does",
    "label": "the figure's name as the report prints it",
    "source_ref": "the source_id in references.csv the figure is cited from",
    "locator": "where in the source (page, section, table)",
    "note": "a remark printed with the figure",
    "source_id": "the id rows of metrics.csv cite",
    "title": "the source's title",
    "publisher": "who published it",
    "date": "when it was published",
}


def _column(name: str, *checks: pa.Check, required: bool) -> pa.Column:
    """A string column; required columns need a value in every row. Every column refuses control characters."""
    first = [pa.Check.str_length(min_value=1, error=REQUIRED_RULE)] if required else []
    return pa.Column(str, [*first, *checks, *TEXT_CHECKS], name=name, description=COLUMN_DESCRIPTIONS.get(name))


def _one_of(allowed: set[str], rule: str) -> pa.Check:
    """Membership that leaves empty cells to the 'required' rule instead of reporting them twice."""
    return pa.Check(lambda s: s.eq("") | s.isin(sorted(allowed)), error=rule)


def _values_in_unit_range(frame: pd.DataFrame) -> pd.Series:
    """Row-wise: True where the value fits its unit, or where value/unit are broken (reported by their own rules)."""

    def ok(row: pd.Series) -> bool:
        unit = UNITS.get(row["unit"])
        if unit is None or row["value"] == "" or number_rule(row["value"]) is not None:
            return True
        return in_range(unit, float(row["value"]))

    return frame.apply(ok, axis=1).astype(bool)


def metrics_columns(source_ids: set[str] | None) -> dict[str, pa.Column]:
    """The metrics columns; source references are checked only when references.csv could be read."""
    value_rules = (FULLWIDTH_RULE, THOUSANDS_RULE, UNIT_IN_VALUE_RULE, NUMBER_RULE, TOO_LARGE_RULE)
    source_checks = [] if source_ids is None else [_one_of(source_ids, SOURCE_REF_RULE)]
    return {
        "metric_id": _column("metric_id", pa.Check.str_matches(
            f"^({IDENTIFIER})?$", error="metric_id is snake_case ASCII (a-z, 0-9, _), starting with a letter"),
            required=True),
        "entity": _column("entity", required=True),
        "period": _column("period", *_rules(period_rule, FULLWIDTH_RULE, PERIOD_RULE), required=True),
        "value": _column("value", *_rules(number_rule, *value_rules), required=True),
        "unit": _column("unit", _one_of(set(UNITS), UNIT_RULE), required=True),
        "qualifier": _column("qualifier", _one_of(set(QUALIFIERS), QUALIFIER_RULE), required=False),
        "label": _column("label", required=True),
        "source_ref": _column("source_ref", *source_checks, required=True),
        "locator": _column("locator", required=False),
        "note": _column("note", required=False),
    }


def reference_columns() -> dict[str, pa.Column]:
    return {
        "source_id": _column("source_id", pa.Check.str_matches(
            f"^({IDENTIFIER})?$", error="source_id is snake_case ASCII (a-z, 0-9, _), starting with a letter"),
            required=True),
        "title": _column("title", required=True),
        **{name: _column(name, required=False) for name in ("publisher", "date", "locator", "note")},
    }


def _schema(file: str, columns: dict[str, pa.Column], present: set[str]) -> pa.DataFrameSchema:
    """The contract for the columns the file has: a missing column is reported once, not once per row."""
    keys = list(KEYS[file])
    checks = []
    if file == METRICS_FILE and {"value", "unit"} <= present:
        checks.append(pa.Check(_values_in_unit_range, error=RANGE_RULE))
    return pa.DataFrameSchema(
        {name: column for name, column in columns.items() if name in present},
        checks=checks,
        unique=keys if set(keys) <= present else None,
        report_duplicates="all",
        strict=True,
        name=file,
    )


def metrics_schema(source_ids: set[str]) -> pa.DataFrameSchema:
    """The full metrics contract (every column present); source references must name a row of references.csv."""
    return _schema(METRICS_FILE, metrics_columns(source_ids), set(METRIC_COLUMNS))


REFERENCES_SCHEMA = _schema(REFERENCES_FILE, reference_columns(), set(REFERENCE_COLUMNS))


def frame_columns(file: str) -> tuple[str, ...]:
    return METRIC_COLUMNS if file == METRICS_FILE else REFERENCE_COLUMNS


def _column_problems(file: str, frame: pd.DataFrame) -> list[Problem]:
    """Header-level problems: required columns that are missing and columns the contract does not know."""
    allowed = frame_columns(file)
    problems = []
    for name in frame.columns:
        if name not in allowed:
            near = difflib.get_close_matches(name.lower(), allowed, n=1, cutoff=TYPO_CUTOFF)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            problems.append(Problem(file, 1, name, f"unexpected column; the contract allows {', '.join(allowed)}{hint}"))
    problems += [Problem(file, 1, name, "required column is missing")
                 for name in REQUIRED_COLUMNS[file] if name not in frame.columns]
    return problems


def _range_rule(unit: Unit, value: float) -> str:
    """Why a value is out of its unit's range, with the likely mix-up when there is a common one."""
    rule = range_rule(unit)
    if unit.name in COUNT_UNITS and value < 0:
        return f"a count cannot be negative; {rule}"
    if unit.integer and unit.minimum <= value <= unit.maximum:
        return f"a count must be a whole number; {rule}"
    if unit.name == "percent":
        return f"{rule} (a share of a whole; a change or a ratio above 100% is 'change_pct')"
    return rule


def _duplicate_rule(file: str, frame: pd.DataFrame, row: int) -> tuple[str, str, str]:
    """(rule, column, value) of a duplicate key, naming the other rows that carry the same key."""
    keys = list(KEYS[file])
    key = tuple(frame.loc[row, keys])
    same = frame.index[(frame[keys] == pd.Series(key, index=keys)).all(axis=1)]
    others = ", ".join(str(r) for r in same if r != row)
    what = " and ".join(keys) + (" together" if len(keys) > 1 else "")
    return f"duplicate key: {what} must be unique (also on row {others})", ", ".join(keys), ", ".join(key)


def _unit_hint(value: str | None) -> str:
    near = difflib.get_close_matches(value or "", list(UNITS), n=1, cutoff=TYPO_CUTOFF)
    return f"{UNIT_RULE}; did you mean '{near[0]}'?" if near else UNIT_RULE


def _problems(file: str, frame: pd.DataFrame, error: pa.errors.SchemaErrors) -> list[Problem]:
    """Translate pandera's failure cases into one `Problem` per (row, column, rule)."""
    seen: set[tuple[object, ...]] = set()
    problems = []
    for case in error.failure_cases.itertuples(index=False):
        check = str(case.check)
        row = None if pd.isna(case.index) else int(case.index)
        column = None if case.column is None or pd.isna(case.column) else str(case.column)
        value = None if pd.isna(case.failure_case) else str(case.failure_case)
        rule = check
        if check == "multiple_fields_uniqueness" or check.startswith("field_uniqueness") or check == "unique":
            if row is None:
                continue
            rule, column, value = _duplicate_rule(file, frame, row)
        elif check == RANGE_RULE:
            if row is None:
                continue
            value = frame.loc[row, "value"]
            rule, column = _range_rule(UNITS[frame.loc[row, "unit"]], float(value)), "value"
        elif check == UNIT_RULE:
            rule = _unit_hint(value)
        elif check in ("column_in_schema", "column_in_dataframe", "dataframe_column_labels_unique"):
            continue  # header problems are found by _column_problems, before pandera
        elif check == REQUIRED_RULE:
            value = None  # an empty cell: quoting '' adds nothing
        key = (row, column, rule)
        if key not in seen:
            seen.add(key)
            problems.append(Problem(file, row, column, rule, value))
    return problems


def _add_optional_columns(frame: pd.DataFrame, file: str) -> pd.DataFrame:
    """Optional columns may be left out of the file; they read as empty strings."""
    required = set(REQUIRED_COLUMNS[file])
    missing = [c for c in frame_columns(file) if c not in frame.columns and c not in required]
    return frame.assign(**{c: "" for c in missing}) if missing else frame


def _validate_table(file: str, frame: pd.DataFrame, columns: dict[str, pa.Column]
                    ) -> tuple[pd.DataFrame, list[Problem]]:
    """One table against its contract: header problems first, then every cell of the columns it has."""
    problems = _column_problems(file, frame)
    known = _add_optional_columns(frame.loc[:, [c for c in frame.columns if c in columns]], file)
    try:
        _schema(file, columns, set(known.columns)).validate(known, lazy=True)
    except pa.errors.SchemaErrors as error:
        problems += _problems(file, known, error)
    return known, problems


@dataclass(frozen=True)
class ValidatedEdition:
    """Typed, contract-abiding tables of one edition."""

    name: str
    meta: dict[str, object]
    metrics: pd.DataFrame  # value as float, index = line number in metrics.csv
    references: pd.DataFrame
    fingerprint: str
    notices: list[str]
    contents: dict[str, bytes] = field(default_factory=dict, repr=False)  # the files' bytes, as read
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # declared tables by id, typed


def _text_problem(where: str, value: object, *, required: bool = True) -> Problem | None:
    """The problem of one edition.toml text setting, or None if it is fine."""
    if value is None and not required:
        return None
    if isinstance(value, dt.date | dt.time):
        return Problem(EDITION_FILE, None, where, f'must be text in quotes, e.g. {where.split(".")[-1]} = "{value}"')
    if not isinstance(value, str) or not value.strip():
        return Problem(EDITION_FILE, None, where, "a non-empty text value is required")
    rule = _text_rule(value)
    return Problem(EDITION_FILE, None, where, rule) if rule else None


def _notes_problems(notes: object) -> list[Problem]:
    """[[notes]] is optional; each note needs a topic and a text."""
    if notes is None:
        return []
    if not isinstance(notes, list):
        return [Problem(EDITION_FILE, None, "notes", "notes are [[notes]] tables, each with topic and text")]
    problems: list[Problem] = []
    for i, note in enumerate(notes, start=1):
        if not isinstance(note, dict):
            problems.append(Problem(EDITION_FILE, None, f"notes[{i}]", "a note is a table with topic and text"))
            continue
        problems += [p for key in ("topic", "text") if (p := _text_problem(f"notes[{i}].{key}", note.get(key)))]
    return problems


def check_meta(meta: dict[str, object]) -> list[Problem]:
    """edition.toml: the [edition] settings the report prints, the template name, and the editorial notes."""
    problems = [Problem(EDITION_FILE, None, name, "unknown setting; edition.toml has an [edition] table and [[notes]]")
                for name in meta if name not in META_TABLES]
    edition = meta.get("edition")
    if not isinstance(edition, dict):
        return [*problems, Problem(EDITION_FILE, None, "[edition]", "an [edition] table is required")]
    problems += [p for key in REQUIRED_META if (p := _text_problem(f"edition.{key}", edition.get(key)))]
    problems += [p for key in OPTIONAL_META
                 if (p := _text_problem(f"edition.{key}", edition.get(key), required=False))]
    template = edition.get("template")
    if isinstance(template, str) and not TEMPLATE_NAME.fullmatch(template):
        problems.append(Problem(EDITION_FILE, None, "edition.template",
                                "template is a file name in templates/ ending in .html.j2, without folders",
                                template))
    return problems + _notes_problems(meta.get("notes"))


def validate_edition(raw: EditionSources, tables: tuple[TableDecl, ...] = ()) -> ValidatedEdition:
    """Apply the contract to every table (and the report's declared `tables`); raise `SourceDataError` with all
    problems, or return typed tables."""
    from pipeline.lib.tables import validate_table  # it builds on this module's cell rules

    problems = list(raw.problems)
    typed_tables: dict[str, pd.DataFrame] = {}
    for decl in tables:
        if decl.file in raw.tables and decl.file not in raw.unreadable:
            typed_tables[decl.table_id], found = validate_table(decl, raw.tables[decl.file])
            problems += found
    if EDITION_FILE not in raw.unreadable:
        problems += check_meta(raw.meta)
    references, metrics = raw.references, raw.metrics
    if REFERENCES_FILE not in raw.unreadable:
        references, found = _validate_table(REFERENCES_FILE, raw.references, reference_columns())
        problems += found
    readable_refs = REFERENCES_FILE not in raw.unreadable and "source_id" in references
    if METRICS_FILE not in raw.unreadable:
        source_ids = set(references["source_id"]) if readable_refs else None
        metrics, found = _validate_table(METRICS_FILE, raw.metrics, metrics_columns(source_ids))
        problems += found
    if problems:
        raise SourceDataError(problems)
    typed = metrics.loc[:, list(METRIC_COLUMNS)].assign(value=metrics["value"].astype(float))
    return ValidatedEdition(raw.name, raw.meta, typed, references.loc[:, list(REFERENCE_COLUMNS)],
                            raw.fingerprint, list(raw.notices), dict(raw.contents), typed_tables)
