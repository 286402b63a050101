"""The NYC flights report as its users get it: the landed files ingested through Dagster into a real database,
editions built and published as PDFs, and the PDF text read back. The figures printed are the data's: each
expected value is computed here with DuckDB straight from the landed CSV files (its own type inference, its own
SQL written in this file), never with the report's SQL or warehouse.py. One flight changed in a copy of the data
changes the figures it affects; a copy with bad rows is refused with every problem named, and the last published
edition stays."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import DagsterInstance, materialize

from pipeline.defs.component import report_defs
from pipeline.defs.resources import ReportSettings
from pipeline.defs.warehouse import WarehouseResource
from pipeline.lib.pdf_facts import read_pdf
from pipeline.lib.report_def import report_module

FOLDER = Path(__file__).resolve().parents[2] / "templates" / "nyc-flights"
REPORT_ID = "nyc-flights"
raw_files: Any = report_module(FOLDER, "raw_files")
PUBLISHED = "nyc_flights__published_report"


def land(sources: Path) -> Path:
    """The package's five files, landed as a user would land them: sources/nyc-flights/<table>.csv[.zip]."""
    landing = sources / REPORT_ID
    landing.mkdir(parents=True)
    for file in raw_files.FILES.values():
        shutil.copy2(raw_files.data_dir() / file, landing / file)
    return landing


def _is_ingest(asset: Any) -> bool:
    return "warehouse" in asset.group_names_by_key[next(iter(asset.keys))]


class Site:
    """One report's Dagster definitions over temporary sources, archive and database."""

    def __init__(self, root: Path, warehouse: WarehouseResource | None = None) -> None:
        self.sources, self.reports = root / "sources", root / "reports"
        self.landing = land(self.sources)
        self.defs = report_defs(FOLDER)
        self.resources = {"settings": ReportSettings(sources_dir=str(self.sources), reports_dir=str(self.reports)),
                          "warehouse": warehouse or WarehouseResource()}
        self.instance = DagsterInstance.ephemeral()

    def ingest(self) -> Any:
        assets = [a for a in self.defs.assets if _is_ingest(a)]
        return materialize(assets, instance=self.instance, resources=self.resources, raise_on_error=False)

    def build(self, edition: str) -> dict[str, Any]:
        assets = [a for a in self.defs.assets if not _is_ingest(a)]
        result = materialize(assets, partition_key=edition, instance=self.instance, resources=self.resources,
                             selection=[a.key for a in assets if a.key.path[-1] != "delivered_report"],
                             raise_on_error=False)
        assert result.success, f"building {edition} failed"
        return result.output_for_node(PUBLISHED)


def pdf_text(published: dict[str, Any]) -> str:
    return re.sub(r"\s+", " ", read_pdf(Path(published["pdf"]).read_bytes()).text)


def raw_views(landing: Path, workdir: Path) -> duckdb.DuckDBPyConnection:
    """The landed CSV files as DuckDB views: the independent side of every comparison."""
    flights = raw_files.extract_flights(workdir, landing)
    con = duckdb.connect()
    con.execute(f"CREATE VIEW flights AS SELECT * FROM read_csv('{flights}', nullstr = 'NA')")
    con.execute(f"CREATE VIEW airlines AS SELECT * FROM read_csv('{landing / 'airlines.csv'}', nullstr = 'NA')")
    return con


def one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def one_decimal(value: float) -> str:
    """A number as a reader rounds it by hand to one decimal (half up on the decimal digits, 2.25 → 2.3)."""
    return f"{Decimal(repr(value)).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):,f}"


def month_counts(con: duckdb.DuckDBPyConnection, month: int) -> dict[str, float]:
    """The month's operations, written from the definitions in the report's appendix."""
    where = f"year = 2013 AND month = {month}"
    return {
        "scheduled": one(con, f"SELECT count(*) FROM flights WHERE {where}"),
        "cancelled": one(con, f"SELECT count(*) FROM flights WHERE {where} AND dep_time IS NULL"),
        "arrived": one(con, f"SELECT count(*) FROM flights WHERE {where} AND arr_delay IS NOT NULL"),
        "on_time": one(con, f"SELECT count(*) FROM flights WHERE {where} AND arr_delay < 15"),
        "dep_delay_mean": one(con, f"SELECT avg(dep_delay) FROM flights WHERE {where}"),
        "jfk": one(con, f"SELECT count(*) FROM flights WHERE {where} AND origin = 'JFK'"),
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    built = Site(tmp_path_factory.mktemp("flights-site"))
    assert built.ingest().success
    return built


@pytest.fixture(scope="module")
def raw(site: Site, tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    return raw_views(site.landing, tmp_path_factory.mktemp("raw"))


@pytest.fixture(scope="module")
def january(site: Site) -> dict[str, Any]:
    return site.build("2013-01")


def test_the_ingest_registers_every_month_and_the_year(site: Site) -> None:
    editions = site.instance.get_dynamic_partitions("nyc_flights__editions")
    assert sorted(editions) == sorted([f"2013-{m:02d}" for m in range(1, 13)] + ["2013"])


def test_a_monthly_edition_prints_the_datas_figures(january: dict[str, Any], raw: duckdb.DuckDBPyConnection) -> None:
    text = pdf_text(january)
    n = month_counts(raw, 1)
    assert f"In January 2013, {n['scheduled']:,} flights were scheduled" in text
    assert f"{one_decimal(n['on_time'] / n['arrived'] * 100)}% of the flights that arrived were on time" in text
    assert f"{n['cancelled']:,} flights were cancelled ({one_decimal(n['cancelled'] / n['scheduled'] * 100)}%" in text
    assert f"JFK (John F Kennedy Intl) scheduled {n['jfk']:,} flights" in text
    assert f"The mean departure delay was {one_decimal(n['dep_delay_mean'])} min" in text


def test_the_airline_table_names_each_airline_with_its_own_figures(january: dict[str, Any],
                                                                   raw: duckdb.DuckDBPyConnection) -> None:
    text = pdf_text(january)
    rows = raw.execute("""
        SELECT a.name, count(*), count(*) FILTER (WHERE arr_delay < 15) * 100.0 / count(arr_delay)
        FROM flights f JOIN airlines a USING (carrier) WHERE year = 2013 AND month = 1
        GROUP BY a.name ORDER BY count(*) DESC LIMIT 3""").fetchall()
    assert rows[0][0] == "United Air Lines Inc."  # the busiest carrier at the three airports in January 2013
    for name, flights, on_time in rows:
        assert f"{name} {flights:,} {one_decimal(on_time)}%" in text


def test_a_month_compares_itself_with_the_month_before(site: Site, january: dict[str, Any],
                                                       raw: duckdb.DuckDBPyConnection) -> None:
    """February, built after January was published: the month-over-month section from the data, and the "What
    changed" section against the previous edition, with the direction and the relative change."""
    text = pdf_text(site.build("2013-02"))
    jan, feb = month_counts(raw, 1), month_counts(raw, 2)
    change = (feb["scheduled"] - jan["scheduled"]) / jan["scheduled"] * 100
    assert f"Compared with January 2013, the flights scheduled changed by {one_decimal(change)}%" in text
    assert f"Flights scheduled {jan['scheduled']:,} flights {feb['scheduled']:,} flights" in text
    assert "What changed Against the previous edition, 2013-01 (v0001)" in text
    cancelled = (feb["cancelled"] - jan["cancelled"]) / jan["cancelled"] * 100
    assert (f"Flights cancelled (February 2013) rose to {feb['cancelled']:,} flights from {jan['cancelled']:,} "
            f"flights (+{one_decimal(cancelled)}%)") in text


def test_the_annual_edition_has_its_months_and_a_page_per_airline(site: Site, raw: duckdb.DuckDBPyConnection
                                                                  ) -> None:
    published = site.build("2013")
    text = pdf_text(published)
    total = one(raw, "SELECT count(*) FROM flights WHERE year = 2013")
    assert f"In 2013, {total:,} flights were scheduled" in text
    carriers = raw.execute("SELECT DISTINCT a.name, carrier FROM flights JOIN airlines a USING (carrier) "
                           "ORDER BY carrier").fetchall()
    assert len(carriers) == 16
    for name, code in carriers:
        assert f"{name} ({code}) {name} scheduled" in text
    pdf = read_pdf(Path(published["pdf"]).read_bytes())
    airline_pages = [i for i, page in enumerate(pdf.page_texts) if "month by month" in page and
                     "Airline by airline" in page]
    assert len(airline_pages) >= len(carriers)  # one page each, at least


#: The bad cells `write_bad_rows` makes: (CSV line, column).
BAD_CELLS = ((3, "month"), (4, "carrier"), (5, "distance"), (6, "dep_time"))


def write_bad_rows(archive: Path, lines: list[str]) -> None:
    """The flights archive rewritten from `lines` (header first) with four bad rows: month 13, an unknown
    carrier, a negative distance, an arrival without a departure."""
    header = lines[0].split(",")
    bad = lines[:]
    bad[2] = bad[2].replace("2013,1,1,", "2013,13,1,", 1)
    bad[3] = bad[3].replace(",AA,", ",ZZ,", 1)
    cells = bad[4].split(",")
    cells[header.index("distance")] = "-" + cells[header.index("distance")]
    bad[4] = ",".join(cells)
    cells = bad[5].split(",")
    cells[header.index("dep_time")] = "NA"
    bad[5] = ",".join(cells)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("flights.csv", "\n".join(bad))


def test_validate_checks_the_landed_files_without_touching_the_warehouse(tmp_path: Path) -> None:
    """`python -m pipeline validate` on a bad landed copy: every bad cell, exit 1, no traceback, and no warehouse
    created (it checks in a scratch database)."""
    sources, reports = tmp_path / "sources", tmp_path / "reports"
    archive = land(sources) / raw_files.FILES["flights"]
    with zipfile.ZipFile(archive) as zipped:
        lines = zipped.read("flights.csv").decode("utf-8").split("\n")
    write_bad_rows(archive, lines)
    env = {**os.environ, "REPORT_SOURCES_DIR": str(sources), "REPORT_OUTPUT_DIR": str(reports),
           "DAGSTER_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "pipeline", "validate", "--report", "nyc-flights", "--edition",
                           "2013-01"], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    for line, column in BAD_CELLS:
        assert f"flights.csv, row {line}, column '{column}'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (reports / ".warehouse").exists()


def test_one_changed_flight_changes_the_figures_and_bad_rows_are_refused(tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    assert site.ingest().success
    first = site.build("2013-01")
    before = pdf_text(first)
    archive = site.landing / raw_files.FILES["flights"]
    with zipfile.ZipFile(archive) as zipped:
        lines = zipped.read("flights.csv").decode("utf-8").split("\n")
    header = lines[0].split(",")
    fields = lines[1].split(",")  # the first flight of the year: UA 1545, EWR to IAH, 1 January 2013
    assert (fields[header.index("carrier")], fields[header.index("origin")]) == ("UA", "EWR")
    for column in ("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"):
        fields[header.index(column)] = "NA"  # the flight never left: cancelled
    lines[1] = ",".join(fields)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("flights.csv", "\n".join(lines))
    raw = raw_views(site.landing, tmp_path / "raw")
    n = month_counts(raw, 1)
    assert site.ingest().success
    changed = pdf_text(site.build("2013-01"))
    assert f"{n['cancelled']:,} flights were cancelled" in changed
    assert f"{n['cancelled'] - 1:,} flights were cancelled" in before  # the original data had one fewer

    write_bad_rows(archive, lines)
    refused = site.ingest()
    assert not refused.success
    error = next(e.event_specific_data.error for e in refused.all_events if e.is_step_failure)
    message = ""
    while error is not None:
        message, error = message + error.message, error.cause
    for line, column in BAD_CELLS:
        assert f"flights.csv, row {line}, column '{column}'" in message
    assert "Traceback" not in message
    kept = site.build("2013-01")  # the KPI tables are still the last good data's: the edition is reused
    assert kept["reused"] and pdf_text(kept) == changed


def test_the_templates_hold_no_typed_figures() -> None:
    for template in FOLDER.glob("*.j2"):
        text = template.read_text(encoding="utf-8")
        bare = re.sub(r"{{.*?}}|{%.*?%}|{#.*?#}", "", text, flags=re.S)
        bare = re.sub(r"<style.*?</style>|<meta[^>]*>|<!DOCTYPE[^>]*>", "", bare, flags=re.S)
        bare = re.sub(r'(id|class|href|data-[a-z-]+|lang|charset|content)="[^"]*"', "", bare)
        bare = re.sub(r"</?h[1-6]|</?h\{\{", "", bare)
        assert not re.findall(r"\d", bare), f"{template.name}: {re.findall(r'.{10}[0-9].{10}', bare)[:5]}"


def test_an_edition_builds_from_postgresql(tmp_path: Path, postgres_url: str, raw: duckdb.DuckDBPyConnection
                                           ) -> None:
    site = Site(tmp_path / "pg", WarehouseResource(url=postgres_url))
    assert site.ingest().success
    text = pdf_text(site.build("2013-07"))
    n = month_counts(raw, 7)
    assert f"In July 2013, {n['scheduled']:,} flights were scheduled" in text
    assert f"{one_decimal(n['on_time'] / n['arrived'] * 100)}% of the flights that arrived were on time" in text


def test_the_landing_fingerprint_is_stable_until_a_file_is_landed_again(tmp_path: Path) -> None:
    """The sensor compares it every tick and `build` before every build: a zipped table must not read as new data
    each time it is looked at (that would re-ingest the year at every tick)."""
    from pipeline.lib.report_def import load_report
    from pipeline.lib.warehouse.stages import landed_fingerprint

    report = load_report(FOLDER)
    empty = tmp_path / "none" / REPORT_ID  # no landing folder: the package's data, flights zipped
    assert landed_fingerprint(report, empty) == landed_fingerprint(report, empty)
    sources = tmp_path / "sources"
    landing = land(sources)
    first = landed_fingerprint(report, landing)
    assert landed_fingerprint(report, landing) == first
    archive = landing / raw_files.FILES["flights"]
    archive.write_bytes(archive.read_bytes())  # landed again: same bytes, a new file
    assert landed_fingerprint(report, landing) != first
