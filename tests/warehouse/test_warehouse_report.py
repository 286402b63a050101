"""A report whose data lives in a database, end to end through Dagster: landed CSV → raw, validated and KPI
tables in DuckDB → editions registered by month → a published PDF whose figures and table rows are the data's.

The report is this test's own (a made-up ferry operator, in a folder of its own); nothing under pipeline/ names it.
Expected numbers are computed here from the landed rows with Python's csv module, not with the report's SQL."""

from __future__ import annotations

import csv
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize

from pipeline.defs.component import report_defs
from pipeline.defs.resources import ReportSettings
from pipeline.defs.warehouse import WarehouseResource
from pipeline.lib.pdf_facts import read_pdf
from tests.definition.test_tutorial import REPORT_CSS

REPORT_TOML = """\
[report]
id = "harbour-ferries"
title = "Harbour ferries: monthly trips"
language = "en"
default_edition = "2024-02"
template = "monthly.html.j2"

[schedule]
cron = "0 6 2 * *"
edition = "previous_month"

[labels]
origin_source = "From the data"
origin_derived = "Computed"
origin_title = "Origin"
tooltip_name = "Figure"
tooltip_period = "Month"
tooltip_value = "Value"
tooltip_origin = "Origin"
derived_locator = "computed by the pipeline"

[warehouse]
module = "warehouse.py"

[contract]
metrics = [
  { id = "trips", unit = "items" },
  { id = "late", unit = "items" },
]

[[kpis]]
id = "late_rate"
label = "Late trips"
unit = "percent"
formula = "late / trips * 100"

[[kpis]]
id = "trips_change"
label = "Change in trips on the month before"
unit = "change_pct"
formula = "(trips - trips_previous) / trips_previous * 100"

[[tables]]
id = "routes"
title = "Trips by route"
source_ref = "log"
columns = [
  { name = "route", unit = "text", label = "Route" },
  { name = "trips", unit = "items", label = "Trips" },
  { name = "late", unit = "items", label = "Late" },
  { name = "late_rate", unit = "percent", label = "Late (%)", formula = "late / trips * 100" },
]
"""

WAREHOUSE_PY = '''\
"""The ferry report's data: one landed file of trips, checked, aggregated by month in SQL, written as editions."""

import csv
import io
from pathlib import Path

from pipeline.lib.errors import Problem


def raw_files(landing, workdir):
    return {"trips": Path(landing) / "trips.csv"}


def validate(db):
    problems = []
    for chunk in db.chunks("SELECT line, month, route, minutes_late FROM raw_trips ORDER BY line", 2):
        for row in chunk.itertuples(index=False):
            if row.minutes_late is None or not row.minutes_late.lstrip("-").isdigit():
                problems.append(Problem("trips.csv", int(row.line), "minutes_late", "a whole number", row.minutes_late))
            elif int(row.minutes_late) < 0:
                problems.append(Problem("trips.csv", int(row.line), "minutes_late", "must be 0 or more",
                                        row.minutes_late))
    return problems


def editions(db):
    return sorted(db.query("SELECT DISTINCT month FROM kpi_monthly")["month"])


def _csv(rows, header):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def edition_files(db, edition):
    monthly = db.query(f"SELECT * FROM kpi_monthly WHERE month <= '{edition}' ORDER BY month DESC LIMIT 2")
    metrics = []
    for r in monthly.itertuples(index=False):
        metrics.append(("trips", "Harbour ferries", r.month, int(r.trips), "items", "", "Trips", "log", "kpi_monthly"))
        if r.month == edition:
            metrics.append(("late", "Harbour ferries", r.month, int(r.late), "items", "", "Late trips", "log",
                            "kpi_monthly"))
    routes = db.query(f"SELECT route, trips, late FROM kpi_routes WHERE month = '{edition}' ORDER BY route")
    toml = (f'[edition]\\ntitle = "Harbour ferries, {edition}"\\nsubtitle = "Trips"\\ndate = "2024-06-01"\\n'
            'author = "Tests"\\nsubject = "Ferry trips"\\n')
    return {
        "edition.toml": toml.encode(),
        "metrics.csv": _csv(metrics, ["metric_id", "entity", "period", "value", "unit", "qualifier", "label",
                                      "source_ref", "locator"]),
        "references.csv": _csv([("log", "Trip log", "Harbour ferries")], ["source_id", "title", "publisher"]),
        "routes.csv": _csv([(r.route, int(r.trips), int(r.late)) for r in routes.itertuples(index=False)],
                           ["route", "trips", "late"]),
    }
'''

VALID_SQL = ("SELECT line, month, route, CAST(minutes_late AS INTEGER) AS minutes_late FROM raw_trips")
MONTHLY_SQL = ("SELECT month, count(*) AS trips, count(*) FILTER (WHERE minutes_late >= 5) AS late "
               "FROM valid_trips GROUP BY month")
ROUTES_SQL = ("SELECT month, route, count(*) AS trips, count(*) FILTER (WHERE minutes_late >= 5) AS late "
              "FROM valid_trips GROUP BY month, route")

TEMPLATE = """\
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ meta.title }}</title><meta name="author" content="{{ meta.author }}">
<meta name="description" content="{{ meta.subject }}"><meta name="dcterms.created" content="{{ meta.date }}">
<style>{{ stylesheet }}</style></head>
<body>
<h1>{{ meta.title }}</h1>
<main>
<h2 id="summary">Summary</h2>
<p>In {{ F.trips.period | period }} the ferries made {{ F.trips }} trips{{ cite(F.trips) }}, {{ F.trips_change }}
on the month before; {{ F.late_rate }} were late.</p>
<table>
  <caption id="tab-routes"><strong>Table {{ declare('table', 'routes', 'Routes') }}.</strong> Trips by route</caption>
  <thead><tr>{% for c in table_columns('routes') %}<th scope="col">{{ c.label }}</th>{% endfor %}</tr></thead>
  <tbody>{% for r in T.routes %}<tr><td>{{ r.route }}</td><td>{{ r.trips }}</td><td>{{ r.late }}</td>
    <td>{{ r.late_rate }}</td></tr>{% endfor %}</tbody>
</table>
<p>Late (%) = {{ table_formula('routes', 'late_rate') }}.</p>
<h2 id="sources">Sources</h2>
<ol>{% for ref in references %}<li id="ref-{{ ref.source_id }}">{{ ref.title }}</li>{% endfor %}</ol>
</main>
</body>
</html>
"""

ROWS = [("2024-01", "North", 2), ("2024-01", "North", 9), ("2024-01", "South", 0),
        ("2024-02", "North", 12), ("2024-02", "North", 1), ("2024-02", "South", 7), ("2024-02", "South", 0),
        ("2024-02", "East", 3)]


def write_report(root: Path) -> Path:
    folder = root / "harbour-ferries"
    for name, text in {"report.toml": REPORT_TOML, "defs.yaml": "type: pipeline.defs.component.ReportComponent\n",
                       "warehouse.py": WAREHOUSE_PY, "monthly.html.j2": TEMPLATE, "report.css": REPORT_CSS,
                       "sql/validated/valid_trips.sql": VALID_SQL, "sql/kpis/kpi_monthly.sql": MONTHLY_SQL,
                       "sql/kpis/kpi_routes.sql": ROUTES_SQL}.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def land(sources: Path, rows: list[tuple[str, str, object]]) -> Path:
    landing = sources / "harbour-ferries"
    landing.mkdir(parents=True, exist_ok=True)
    with open(landing / "trips.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["month", "route", "minutes_late"])
        writer.writerows(rows)
    return landing / "trips.csv"


@pytest.fixture()
def setup(tmp_path: Path):
    folder = write_report(tmp_path)
    sources, reports = tmp_path / "sources", tmp_path / "reports"
    landed = land(sources, ROWS)
    defs = report_defs(folder)
    resources = {"settings": ReportSettings(sources_dir=str(sources), reports_dir=str(reports)),
                 "warehouse": WarehouseResource()}
    return folder, defs, resources, landed, reports


def _ingest(defs, resources, instance):
    assets = [a for a in defs.assets if "warehouse" in (a.group_names_by_key[next(iter(a.keys))])]
    return materialize(assets, instance=instance, resources=resources, raise_on_error=False)


def _edition(defs, resources, instance, edition):
    assets = [a for a in defs.assets if "warehouse" not in (a.group_names_by_key[next(iter(a.keys))])]
    return materialize(assets, partition_key=edition, instance=instance, resources=resources,
                       selection=[a.key for a in assets if a.key.path[-1] != "delivered_report"],
                       raise_on_error=False)


@pytest.mark.parametrize("database", ["duckdb", "postgres"])
def test_a_database_report_ingests_registers_its_months_and_publishes_the_data(setup, database: str,
                                                                                request: pytest.FixtureRequest
                                                                                ) -> None:
    _, defs, resources, landed, _ = setup
    if database == "postgres":
        resources = {**resources, "warehouse": WarehouseResource(url=request.getfixturevalue("postgres_url"))}
    instance = DagsterInstance.ephemeral()
    assert _ingest(defs, resources, instance).success
    assert instance.get_dynamic_partitions("harbour_ferries__editions") == ["2024-01", "2024-02"]
    result = _edition(defs, resources, instance, "2024-02")
    assert result.success
    published = result.output_for_node("harbour_ferries__published_report")
    text = re.sub(r"\s+", " ", read_pdf(Path(published["pdf"]).read_bytes()).text)

    with open(landed, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    trips = Counter(r["month"] for r in rows)
    late = sum(1 for r in rows if r["month"] == "2024-02" and int(r["minutes_late"]) >= 5)
    change = (trips["2024-02"] - trips["2024-01"]) / trips["2024-01"] * 100  # 5 against 3 trips
    assert f"In February 2024 the ferries made {trips['2024-02']} trips" in text
    assert f"{change:.1f}%" in text
    assert f"{late / trips['2024-02'] * 100:.1f}% were late" in text
    north = [r for r in rows if r["month"] == "2024-02" and r["route"] == "North"]
    north_late = sum(int(r["minutes_late"]) >= 5 for r in north)
    assert f"North {len(north)} {north_late} {north_late / len(north) * 100:.1f}%" in text
    assert "late ÷ trips × 100" in text


def test_bad_landed_rows_are_refused_by_line_and_the_published_edition_stays(setup) -> None:
    _, defs, resources, landed, reports = setup
    instance = DagsterInstance.ephemeral()
    assert _ingest(defs, resources, instance).success
    first = _edition(defs, resources, instance, "2024-02").output_for_node("harbour_ferries__published_report")
    land(landed.parent.parent, [*ROWS, ("2024-02", "East", -4), ("2024-02", "East", "soon")])
    failed = _ingest(defs, resources, instance)
    assert not failed.success
    error = next(e.event_specific_data.error for e in failed.all_events if e.is_step_failure)
    message = ""
    while error is not None:  # Dagster wraps the step's own error: read down the chain
        message, error = message + error.message, error.cause
    assert "trips.csv, row 10, column 'minutes_late': must be 0 or more (got '-4')" in message
    assert "trips.csv, row 11, column 'minutes_late': a whole number (got 'soon')" in message
    assert Path(first["pdf"]).is_file()
    again = _edition(defs, resources, instance, "2024-02").output_for_node("harbour_ferries__published_report")
    assert again["version"] == first["version"] and again["reused"]  # the KPI tables are still the good data's
    shutil.rmtree(reports)  # keep tmp small


def test_the_sensor_ingests_newly_landed_data_and_then_builds_each_new_month(setup) -> None:
    from dagster import build_sensor_context

    _, defs, resources, landed, _ = setup
    instance = DagsterInstance.ephemeral()
    sensor = next(iter(defs.sensors or []))

    def tick(cursor: str | None = None):
        with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
            return sensor(context)

    first = tick()
    assert [r.job_name for r in first.run_requests] == ["ingest_harbour_ferries"]  # nothing ingested yet
    assert _ingest(defs, resources, instance).success
    second = tick()
    assert [(r.job_name, r.partition_key) for r in second.run_requests] == [
        ("build_harbour_ferries", "2024-01"), ("build_harbour_ferries", "2024-02")]
    assert tick(second.cursor).run_requests == []  # nothing new: nothing to do

    land(landed.parent.parent, [*ROWS, ("2024-03", "North", 4)])  # a new month lands
    third = tick(second.cursor)
    assert [r.job_name for r in third.run_requests] == ["ingest_harbour_ferries"]
    assert _ingest(defs, resources, instance).success
    fourth = tick(second.cursor)
    assert [(r.job_name, r.partition_key) for r in fourth.run_requests] == [("build_harbour_ferries", "2024-03")]


def test_a_monthly_schedule_builds_the_month_before_its_tick() -> None:
    from datetime import datetime

    from pipeline.defs.automation import previous_month

    assert previous_month(datetime(2013, 3, 2, 6)) == "2013-02"
    assert previous_month(datetime(2014, 1, 2, 6)) == "2013-12"
