"""The data contract as pandera schemas, and the typed tables that pass it.

Validation is lazy: every broken cell of every row is reported at once, as `Problem`s naming file, row, column
and rule, because people fix spreadsheets in one pass, not one error per build."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from pipeline.lib.errors import Problem, SourceDataError
from pipeline.lib.sources import EDITION_FILE, METRICS_FILE, REFERENCES_FILE, EditionSources
from pipeline.lib.units import QUALIFIERS, UNITS, in_range, range_rule

#: Bump when the contract changes; shown in asset metadata so a reader knows which rules a table passed.
SCHEMA_VERSION = "1"

NUMBER = r"-?[0-9]+(\.[0-9]+)?"
PERIOD = r"[0-9]{4}(H[12]|Q[1-4])?|undated"
IDENTIFIER = r"[a-z][a-z0-9_]*"
RANGE_RULE = "value lies within the range of its unit"
REQUIRED_META = ("title", "subtitle", "date", "author", "subject")

METRIC_COLUMNS = ("metric_id", "entity", "period", "value", "unit", "qualifier", "label", "source_ref",
                  "locator", "note")
REFERENCE_COLUMNS = ("source_id", "title", "publisher", "date", "locator", "note")


def _required(name: str, *checks: pa.Check) -> pa.Column:
    return pa.Column(str, [pa.Check.str_length(min_value=1, error="a value is required"), *checks], name=name)


def _optional(name: str, *checks: pa.Check) -> pa.Column:
    return pa.Column(str, list(checks), name=name)


def _values_in_unit_range(frame: pd.DataFrame) -> pd.Series:
    """Row-wise: True where the value fits its unit, or where value/unit are broken (reported by their own rules)."""

    def ok(row: pd.Series) -> bool:
        unit = UNITS.get(row["unit"])
        if unit is None or not re.fullmatch(NUMBER, row["value"]):
            return True
        return in_range(unit, float(row["value"]))

    return frame.apply(ok, axis=1).astype(bool)


def metrics_schema(source_ids: set[str]) -> pa.DataFrameSchema:
    """The metrics contract; source references must name a row of references.csv."""
    return pa.DataFrameSchema(
        {
            "metric_id": _required("metric_id", pa.Check.str_matches(
                f"^({IDENTIFIER})$", error="metric_id is snake_case ASCII (a-z, 0-9, _), starting with a letter")),
            "entity": _required("entity"),
            "period": _required("period", pa.Check.str_matches(
                f"^({PERIOD})$", error="period is YYYY, YYYYH1/H2, YYYYQ1–Q4 or 'undated'")),
            "value": _required("value", pa.Check.str_matches(
                f"^({NUMBER})$",
                error="value is a plain number: ASCII digits, '.' for decimals, no thousands separators or units")),
            "unit": _required("unit", pa.Check.isin(sorted(UNITS), error=f"unit is one of {', '.join(UNITS)}")),
            "qualifier": _optional("qualifier", pa.Check.isin(
                list(QUALIFIERS), error="qualifier is empty, approx, at_least or at_most")),
            "label": _required("label"),
            "source_ref": _required("source_ref", pa.Check.isin(
                sorted(source_ids), error="source_ref names a source_id of references.csv")),
            "locator": _optional("locator"),
            "note": _optional("note"),
        },
        checks=[pa.Check(_values_in_unit_range, error=RANGE_RULE)],
        unique=["metric_id", "period"],
        report_duplicates="all",
        strict=True,
        ordered=False,
        name=METRICS_FILE,
    )


REFERENCES_SCHEMA = pa.DataFrameSchema(
    {
        "source_id": _required("source_id", pa.Check.str_matches(
            f"^({IDENTIFIER})$", error="source_id is snake_case ASCII")),
        "title": _required("title"),
        "publisher": _optional("publisher"),
        "date": _optional("date"),
        "locator": _optional("locator"),
        "note": _optional("note"),
    },
    unique=["source_id"],
    report_duplicates="all",
    strict=True,
    name=REFERENCES_FILE,
)


def _problems(file: str, frame: pd.DataFrame, error: pa.errors.SchemaErrors) -> list[Problem]:
    """Translate pandera's failure cases into one `Problem` per (row, column, rule)."""
    seen: set[tuple[object, ...]] = set()
    problems = []
    for case in error.failure_cases.itertuples(index=False):
        check = str(case.check)
        row = None if pd.isna(case.index) else int(case.index)
        column = None if case.column is None or pd.isna(case.column) else str(case.column)
        value = None if pd.isna(case.failure_case) else str(case.failure_case)
        if check == "column_in_schema":
            rule, column, value = f"unexpected column; the contract allows {', '.join(frame_columns(file))}", value, None
        elif check == "column_in_dataframe":
            rule, column, value = "required column is missing", value, None
        elif check == "multiple_fields_uniqueness":
            rule = "duplicate key: metric_id and period together must be unique"
            if file == REFERENCES_FILE:
                rule = "duplicate key: source_id must be unique"
            column = "metric_id, period" if file == METRICS_FILE else "source_id"
            value = None if row is None else ", ".join(frame.loc[row, c] for c in column.split(", "))
        elif check == RANGE_RULE:
            unit = UNITS[frame.loc[row, "unit"]]
            rule, column, value = range_rule(unit), "value", frame.loc[row, "value"]
        elif check.startswith("field_uniqueness") or check == "unique":
            rule = f"{column} must be unique"
        else:
            rule = check
        key = (row, column, rule)
        if key not in seen:
            seen.add(key)
            problems.append(Problem(file, row, column, rule, value))
    return problems


def frame_columns(file: str) -> tuple[str, ...]:
    return METRIC_COLUMNS if file == METRICS_FILE else REFERENCE_COLUMNS


def _add_optional_columns(frame: pd.DataFrame, columns: tuple[str, ...], required: set[str]) -> pd.DataFrame:
    """Optional columns may be left out of the file; they read as empty strings."""
    missing = [c for c in columns if c not in frame.columns and c not in required]
    return frame.assign(**{c: "" for c in missing}) if missing else frame


@dataclass(frozen=True)
class ValidatedEdition:
    """Typed, contract-abiding tables of one edition."""

    name: str
    meta: dict[str, object]
    metrics: pd.DataFrame  # value as float, index = line number in metrics.csv
    references: pd.DataFrame
    fingerprint: str
    notices: list[str]


def check_meta(meta: dict[str, object]) -> list[Problem]:
    edition = meta.get("edition")
    if not isinstance(edition, dict):
        return [Problem(EDITION_FILE, None, "[edition]", "an [edition] table is required")]
    return [
        Problem(EDITION_FILE, None, f"edition.{key}", "a non-empty text value is required")
        for key in REQUIRED_META
        if not isinstance(edition.get(key), str) or not edition[key].strip()
    ]


def validate_edition(raw: EditionSources) -> ValidatedEdition:
    """Apply the contract to every table; raise `SourceDataError` with all problems, or return typed tables."""
    problems = check_meta(raw.meta)
    references = _add_optional_columns(raw.references, REFERENCE_COLUMNS, {"source_id", "title"})
    try:
        references = REFERENCES_SCHEMA.validate(references, lazy=True)
    except pa.errors.SchemaErrors as error:
        problems += _problems(REFERENCES_FILE, references, error)
    source_ids = set(references["source_id"]) if "source_id" in references else set()
    metrics = _add_optional_columns(raw.metrics, METRIC_COLUMNS, {"metric_id", "value", "unit", "period"})
    try:
        metrics = metrics_schema(source_ids).validate(metrics, lazy=True)
    except pa.errors.SchemaErrors as error:
        problems += _problems(METRICS_FILE, metrics, error)
    if problems:
        raise SourceDataError(problems)
    typed = metrics.loc[:, list(METRIC_COLUMNS)].assign(value=metrics["value"].astype(float))
    return ValidatedEdition(raw.name, raw.meta, typed, references.loc[:, list(REFERENCE_COLUMNS)],
                            raw.fingerprint, list(raw.notices))
