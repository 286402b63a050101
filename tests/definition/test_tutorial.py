"""The tutorial, as a test: write a new report of another kind (English, a made-up bakery, a quarterly time series)
in a folder of its own, and build it for real through the CLI next to the Xiaomi report, in one archive.

Everything the new report is lives in the strings below: its definition (report.toml), how its one chart is drawn
(charts.py), its template and stylesheet, and one edition of figures. The figures are this test's own, made up for
it; Northwind Bakery does not exist. Nothing under pipeline/ changes for it: the engine reads the folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import AssetKey, Definitions

from pipeline.config import PROJECT_ROOT
from pipeline.definitions import reports_definitions, shared_definitions
from pipeline.lib.chart_text import describe
from pipeline.lib.conformance import check_pdf
from pipeline.lib.formatting import figure_text, locale_for, period_label
from pipeline.lib.pdf_facts import CJK_TEXT, read_pdf
from pipeline.lib.report_def import ReportDefinitionError, load_report
from pipeline.lib.verify import embedded_files

EDITION = "northwind-bakery-2024q4"

# --- the English locale the report is written in ---------------------------------------------------------------


@pytest.mark.parametrize(("value", "unit", "qualifier", "expected"), [
    (336_776, "items", "", "336,776"),
    (580_000_000, "devices", "", "580,000,000 devices"),
    (1, "vehicles", "", "1 vehicle"),
    (75.5, "percent", "", "75.5%"),
    (14, "percent", "approx", "about 14.0%"),  # rates keep one decimal, so a column of them lines up
    (12.25, "change_pct", "", "12.3%"),  # half up, as the Chinese locale rounds
    (-1.5, "pp", "", "-1.5 percentage points"),
    (1, "pp", "", "1.0 percentage points"),
    (280_000_000_000, "cny", "", "CNY 280.0 bn"),
    (11_650_000, "cny", "", "CNY 11.7 mn"),
    (499_200, "cny", "", "CNY 499,200"),
    (2.5, "multiple", "", "2.5x"),
    (3, "rank", "", "3rd"),
    (500, "ms", "at_most", "at most 500 ms"),
    (100, "categories", "at_least", "at least 100 categories"),
])
def test_figures_read_in_english(value: float, unit: str, qualifier: str, expected: str) -> None:
    assert figure_text(value, unit, qualifier, "en") == expected


def test_periods_and_cross_references_read_in_english() -> None:
    assert [period_label(p, "en-GB") for p in ("2025H1", "2024", "2023Q4", "undated")] == [
        "H1 2025", "2024", "Q4 2023", "undated"]
    assert locale_for("en").xref["appendix"].format(letter="B") == "Appendix B"
    rows = [{"name": "North", "period": "2024", "value": 3.0, "text": "3 devices", "origin": "Computed"}]
    assert describe("Devices", rows, "bar", language="en") == "Devices (bar chart, one value): North 3 devices."
    with pytest.raises(ValueError, match="language 'fr' has no number formatting"):
        locale_for("fr")


# --- the report: its own folder ---------------------------------------------------------------------------------

REPORT_TOML = """\
# Northwind Bakery's quarterly review: a made-up bakery chain, an English report, a quarterly time series.
[report]
id = "northwind-bakery"
title = "Northwind Bakery quarterly review"
language = "en"
default_edition = "northwind-bakery-2024q4"
template = "bakery_review.html.j2"

# Words the engine's chart kit prints for this report (legend and tooltips), and the locator of derived figures.
[labels]
origin_source = "As reported"
origin_derived = "Computed"
origin_title = "Origin"
tooltip_name = "Figure"
tooltip_period = "Quarter"
tooltip_value = "Value"
tooltip_origin = "Origin"
derived_locator = "computed by the pipeline"

# The figures this report reads from metrics.csv, and the unit each must carry.
[contract]
metrics = [
  { id = "bakery_revenue", unit = "cny" },
  { id = "bakery_operating_profit", unit = "cny" },
  { id = "bakery_shops", unit = "items" },
  { id = "bakery_staff", unit = "items" },
  { id = "loaves_sold", unit = "items" },
  { id = "repeat_customer_share", unit = "percent" },
  { id = "repeat_customer_share_change", unit = "pp" },
]

# KPIs are computed from the latest period of each input (here Q4 2024); {period} is that period in English.
[[kpis]]
id = "operating_margin"
label = "Operating margin, {period}"
unit = "percent"
formula = "bakery_operating_profit / bakery_revenue * 100"

[[kpis]]
id = "revenue_per_shop"
label = "Revenue per shop, {period}"
unit = "cny"
formula = "bakery_revenue / bakery_shops"

[[rules]]
id = "profit_within_revenue"
title = "Operating profit does not exceed revenue"
holds = "bakery_operating_profit <= bakery_revenue"
passed = "Operating profit ({{ F.bakery_operating_profit }}) is below revenue ({{ F.bakery_revenue }})."
failed = "Operating profit ({{ F.bakery_operating_profit }}) exceeds revenue ({{ F.bakery_revenue }})."

[[charts]]
id = "revenue_by_quarter"
title = "Revenue by quarter"
caption = "Quarterly revenue, eight quarters, as reported."
figures = ["bakery_revenue"]
"""

CHARTS_PY = '''\
"""How the bakery report draws its chart: one function per chart of report.toml, named by its id."""

import altair as alt

from pipeline.lib.charts import ChartKit


def revenue_by_quarter(kit: ChartKit) -> alt.LayerChart:
    frame = kit.series("bakery_revenue", 1e6)  # every quarter, oldest first, named "Q1 2023" ...
    return kit.bars(frame, "name", "Revenue (CNY mn)", in_order=True)  # oldest quarter on the left
'''

TEMPLATE = """\
{#- Northwind Bakery quarterly review. Every number is F.<id>, series(<id>) or figure(<id>, period). -#}
{% macro heading(id, title) -%}
<h2 id="{{ id }}">{{ declare('section', id, title) }}. {{ title }}</h2>
{%- endmacro %}
{% macro chart_figure(id) -%}
{%- set c = chart(id) -%}
{%- set n = declare('figure', id, c.title) -%}
<figure class="chart" id="fig-{{ id }}">
  {% if interactive %}
  <div class="vega" data-spec-id="spec-{{ id }}" role="img" aria-label="{{ c.alt_text }}"></div>
  <script type="application/json" id="spec-{{ id }}">{{ c.spec | tojson }}</script>
  {% else %}
  <img class="chart" src="{{ c.svg_data_url }}" alt="{{ c.alt_text }}">
  {% endif %}
  <figcaption><strong>Figure {{ n }}.</strong> {{ c.title }}. {{ c.caption }} Source:
    {% for ref in c.source_refs %}{{ cite(ref) }}{% endfor %}</figcaption>
</figure>
{%- endmacro %}
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ meta.title }}</title>
<meta name="author" content="{{ meta.author }}">
<meta name="description" content="{{ meta.subject }}">
<meta name="keywords" content="{{ meta.keywords | default('') }}">
<meta name="dcterms.created" content="{{ meta.date }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{{ stylesheet }}</style>
</head>
<body>
<h1>{{ meta.title }}</h1>
<p class="subtitle">{{ meta.subtitle }}. {{ meta.author }}, {{ meta.date }}.</p>

<main>
{{ heading('summary', 'Summary') }}
<p>In {{ F.bakery_revenue.period | period }} the bakery's {{ F.bakery_shops }} shops sold {{ F.loaves_sold }} loaves
for revenue of {{ F.bakery_revenue }}{{ cite(F.bakery_revenue) }}. Operating profit was
{{ F.bakery_operating_profit }}, an operating margin of {{ F.operating_margin }}; each shop took
{{ F.revenue_per_shop }} on average. {{ figref('revenue_by_quarter') }} and {{ tabref('quarters') }} show
revenue over eight quarters; {{ secref('notes') }} says how the figures were checked.</p>
<ul>
  <li>Staff: {{ F.bakery_staff }}.</li>
  <li>Repeat customers: {{ F.repeat_customer_share }} of sales, {{ F.repeat_customer_share_change }} more than a
    year earlier.</li>
</ul>

{{ heading('quarters-section', 'Revenue by quarter') }}
{{ chart_figure('revenue_by_quarter') }}
<table>
  <caption id="tab-quarters"><strong>Table {{ declare('table', 'quarters', 'Quarters') }}.</strong> Revenue and
    operating profit by quarter</caption>
  <thead><tr><th>Quarter</th><th class="num">Revenue</th><th class="num">Operating profit</th></tr></thead>
  <tbody>
  {% for r in series('bakery_revenue') %}
    <tr><td>{{ r.period | period }}</td><td class="num">{{ r }}</td>
      <td class="num">{{ figure('bakery_operating_profit', r.period) }}</td></tr>
  {% endfor %}
  </tbody>
</table>

{{ heading('notes', 'Data notes') }}
<table>
  <caption id="tab-kpis"><strong>Table {{ declare('table', 'kpis', 'KPIs') }}.</strong> Computed figures</caption>
  <thead><tr><th>Figure</th><th>Formula</th><th class="num">Value</th></tr></thead>
  <tbody>
  {% for f in derived_rows %}
    <tr><td>{{ f.label }}</td><td><code>{{ f.formula }}</code></td><td class="num">{{ f }}</td></tr>
  {% endfor %}
  </tbody>
</table>
{% for finding in findings %}
<p class="note">{{ 'Consistent' if finding.passed else 'Inconsistent' }}: {{ finding.title }}. {{ finding.message }}</p>
{% endfor %}

{{ heading('sources', 'Sources') }}
<ol class="references">
{% for ref in references %}
  <li id="ref-{{ ref.source_id }}">{{ ref.title }}. {{ ref.publisher }}, {{ ref.date }}.</li>
{% endfor %}
</ol>
</main>
{% if interactive %}
<script>{{ vega_bundle }}</script>
<script>
  document.querySelectorAll(".vega").forEach(function (el) {
    var spec = JSON.parse(document.getElementById(el.dataset.specId).textContent);
    vegaEmbed(el, spec, {renderer: "svg", actions: false}).catch(console.error);
  });
</script>
{% endif %}
</body>
</html>
"""

# Only properties WeasyPrint supports (its warnings fail the build); the engine's one font family, Noto Sans CJK SC,
# which has Latin letters too (the charts use it whatever the report's language).
REPORT_CSS = """\
html { font-family: "Noto Sans CJK SC", sans-serif; font-size: 10.5pt; line-height: 1.5; color: #1a1a1a; }
h1 { font-size: 22pt; color: #7a4a1f; }
h2 { font-size: 14pt; color: #7a4a1f; border-bottom: 1pt solid #7a4a1f; }
.subtitle { color: #666; }
.fig { white-space: nowrap; }
.fig.derived { text-decoration: underline dotted #b08a5a; }
sup.cites { font-size: 0.7em; line-height: 0; }
a { color: #7a4a1f; text-decoration: none; }
figure.chart { margin: 1em 0; text-align: center; }
figure.chart img { max-width: 100%; height: auto; }
figcaption { font-size: 9pt; color: #555; text-align: left; }
table { width: 100%; border-collapse: collapse; margin: 0.8em 0; font-size: 9.5pt; }
caption { caption-side: top; text-align: left; }
th { background: #f3ece4; text-align: left; }
th, td { border-bottom: 0.5pt solid #d8c8b4; padding: 3pt 5pt; }
td.num, th.num { text-align: right; }
code { font-family: inherit; font-size: 0.9em; }
@media print { @page { size: A4; margin: 20mm 18mm; } }
"""

#: The line that makes Dagster load the folder as a report (its component).
DEFS_YAML = "type: pipeline.defs.component.ReportComponent\n"

REPORT_FILES = {"report.toml": REPORT_TOML, "defs.yaml": DEFS_YAML, "charts.py": CHARTS_PY,
                "bakery_review.html.j2": TEMPLATE, "report.css": REPORT_CSS}

# --- one edition of it: the test's own, made-up figures ----------------------------------------------------------

EDITION_TOML = """\
[edition]
title = "Northwind Bakery quarterly review"
subtitle = "Eight quarters of a fictional bakery chain"
date = "2025-01-31"
author = "Tutorial"
subject = "Revenue, profit and customers of Northwind Bakery, a made-up example"
keywords = "tutorial, bakery, quarterly"
template = "bakery_review.html.j2"
"""

QUARTERS = ["2023Q1", "2023Q2", "2023Q3", "2023Q4", "2024Q1", "2024Q2", "2024Q3", "2024Q4"]
REVENUE = [9_120_000, 9_860_000, 10_340_000, 11_750_000, 10_210_000, 10_980_000, 11_650_000, 12_480_000]
PROFIT = [900_000, 1_050_000, 1_120_000, 1_380_000, 1_100_000, 1_260_000, 1_390_000, 1_560_000]
LATEST = [("bakery_shops", 25, "items", "Shops"), ("bakery_staff", 1250, "items", "Staff"),
          ("loaves_sold", 336_776, "items", "Loaves sold"),
          ("repeat_customer_share", 75.5, "percent", "Share of sales to repeat customers"),
          ("repeat_customer_share_change", 1.5, "pp", "Change in the repeat customers' share on a year earlier")]


def metrics_csv() -> str:
    lines = ["metric_id,entity,period,value,unit,qualifier,label,source_ref,locator,note"]
    for period, revenue, profit in zip(QUARTERS, REVENUE, PROFIT, strict=True):
        lines.append(f"bakery_revenue,Northwind Bakery,{period},{revenue},cny,,Revenue,ledger,Income statement,")
        lines.append(f"bakery_operating_profit,Northwind Bakery,{period},{profit},cny,,Operating profit,ledger,"
                     "Income statement,")
    for metric_id, value, unit, label in LATEST:
        lines.append(f"{metric_id},Northwind Bakery,2024Q4,{value},{unit},,{label},ledger,Operations,")
    return "\n".join(lines) + "\n"


REFERENCES_CSV = ("source_id,title,publisher,date,locator,note\n"
                  "ledger,Northwind Bakery management accounts (fictional),Northwind Bakery,2025-01-15,,"
                  "Made up for the tutorial\n")

#: What the PDF must say, written out by hand: the English locale's numbers, periods and cross-references.
EXPECTED = [
    "CNY 12.5 mn",  # Q4 2024 revenue, 12,480,000
    "CNY 11.7 mn",  # Q3 2024 revenue, 11,650,000: half up (round-half-even would print 11.6)
    "CNY 9.1 mn",  # Q1 2023, the first of the series
    "CNY 1.6 mn",  # Q4 2024 operating profit
    "12.5%",  # operating margin = 1,560,000 / 12,480,000 × 100
    "CNY 499,200",  # revenue per shop = 12,480,000 / 25
    "336,776",  # loaves sold
    "1,250",  # staff
    "75.5%",
    "1.5 percentage points",
    "Q1 2023", "Q4 2024",  # periods as English writes them
    "Operating margin, Q4 2024",  # a KPI label with its {period}
    "bakery_operating_profit ÷ bakery_revenue × 100",  # the formula as printed
    "Figure 1", "Table 1", "Section 3",  # cross-references in English
    "Operating profit (CNY 1.6 mn) is below revenue (CNY 12.5 mn).",  # the rule's message
]


def write_tutorial(root: Path) -> tuple[Path, Path]:
    """The report folder and a sources root holding the repository's editions (sources/xiaomi-ecosystem/…) and the
    tutorial's (sources/northwind-bakery/…)."""
    report = root / "northwind-bakery"
    report.mkdir()
    for name, text in REPORT_FILES.items():
        (report / name).write_text(text, encoding="utf-8")
    sources = root / "sources"
    shutil.copytree(PROJECT_ROOT / "sources", sources)
    edition = sources / "northwind-bakery" / EDITION
    edition.mkdir(parents=True)
    (edition / "edition.toml").write_text(EDITION_TOML, encoding="utf-8")
    (edition / "metrics.csv").write_text(metrics_csv(), encoding="utf-8")
    (edition / "references.csv").write_text(REFERENCES_CSV, encoding="utf-8")
    return report, sources


def run_build(env: dict[str, str], report: Path | None, edition: str | None = None) -> subprocess.CompletedProcess:
    env = dict(env)
    if report is not None:
        env["REPORT_TEMPLATES_DIR"] = str(report)
    args = [sys.executable, "-m", "pipeline", "build", *(["--edition", edition] if edition else [])]
    done = subprocess.run(args, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"build failed:\n{done.stdout}\n{done.stderr}"
    return done


@dataclass(frozen=True)
class Published:
    """What the CLI says it published: `python -m pipeline build` prints the version, its state and the files."""

    version: str
    state: str  # "published", or "unchanged (same data and templates), reused"
    pdf: Path
    html: Path

    @classmethod
    def of(cls, stdout: str) -> Published:
        match = re.search(r"version (\S+) (published|unchanged \(same data and templates\), reused)\n"
                          r"\s*PDF : (.+)\n\s*HTML: (.+)", stdout)
        assert match, stdout
        return cls(match[1], match[2], Path(match[3].strip()), Path(match[4].strip()))


@dataclass(frozen=True)
class Archive:
    report: Path  # the tutorial's report folder
    xiaomi: Published
    tutorial: Published
    xiaomi_again: Published


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    """Xiaomi's default edition, then the tutorial's, then Xiaomi's again, into one archive, each through the CLI
    (the real Dagster job, in a process of its own, against one Dagster home)."""
    root = tmp_path_factory.mktemp("tutorial")
    report, sources = write_tutorial(root)
    env = {k: v for k, v in os.environ.items() if k not in ("REPORT", "REPORT_TEMPLATES_DIR")}
    env.update(REPORT_SOURCES_DIR=str(sources), REPORT_OUTPUT_DIR=str(root / "reports"),
               DAGSTER_HOME=str(root / "dagster_home"))
    xiaomi = Published.of(run_build(env, None).stdout)  # templates/xiaomi-ecosystem, its default edition
    tutorial = Published.of(run_build(env, report, EDITION).stdout)
    return Archive(report, xiaomi, tutorial, Published.of(run_build(env, None).stdout))


def test_the_tutorial_report_builds_and_its_pdf_says_what_the_figures_are(archive: Archive) -> None:
    assert archive.tutorial.state == "published"
    assert archive.tutorial.pdf.parts[-5:-2] == ("northwind-bakery", EDITION, "versions")  # its own archive folder
    data = archive.tutorial.pdf.read_bytes()
    facts = read_pdf(data)
    text = re.sub(r"[ \t]*\n[ \t]*", " ", facts.text)  # a figure may wrap at its space
    missing = [e for e in EXPECTED if e not in text]
    assert not missing, f"not in the PDF: {missing}\n{text[:3000]}"
    axis = "\n".join(f"{q[4:]} {q[:4]}" for q in QUARTERS)
    assert f"\n{axis}\n" in facts.text, "the chart's axis runs from the oldest quarter to the newest"
    assert not CJK_TEXT.search(facts.text), "an English report printed Chinese words"
    assert facts.metadata["Lang"] == "en"
    assert facts.metadata["Title"] == "Northwind Bakery quarterly review"
    assert facts.problems() == []
    assert check_pdf(data).passed  # the build's blocking PDF/UA-1 + PDF/A-3a check passed; so does a re-check


def test_the_tutorial_chart_is_described_in_english(archive: Archive) -> None:
    alt = re.search(r'aria-label="([^"]+)"', archive.tutorial.html.read_text(encoding="utf-8"))[1]
    assert alt == ("Revenue by quarter (bar chart, 8 values): Q1 2023 CNY 9.1 mn; Q2 2023 CNY 9.9 mn; Q3 2023 CNY "
                   "10.3 mn; Q4 2023 CNY 11.8 mn; Q1 2024 CNY 10.2 mn; Q2 2024 CNY 11.0 mn; Q3 2024 CNY 11.7 mn; "
                   "Q4 2024 CNY 12.5 mn. Highest Q4 2024 (CNY 12.5 mn), lowest Q1 2023 (CNY 9.1 mn).")


def test_a_second_report_in_the_archive_leaves_the_first_one_unchanged(archive: Archive) -> None:
    assert archive.xiaomi.state == "published"
    assert archive.xiaomi_again.state == "unchanged (same data and templates), reused"
    assert archive.xiaomi_again.version == archive.xiaomi.version
    assert archive.xiaomi_again.pdf == archive.xiaomi.pdf


def test_two_reports_are_two_lineages_in_one_code_location(tmp_path: Path) -> None:
    """Loaded together, as templates/ with two report folders would be: each report has its own assets, checks,
    partitions, job, schedule and sensor, and the bakery gets only its own rule as a check, not Xiaomi's."""
    bakery = write_tutorial(tmp_path)[0]
    defs = Definitions.merge(reports_definitions([PROJECT_ROOT / "templates" / "xiaomi-ecosystem", bakery]),
                             shared_definitions())
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    stages = ["source_tables", "validated_metrics", "report_figures", "report_charts", "report_html", "report_pdf",
              "published_report"]
    assert keys == {f"{prefix}/{stage}" for prefix in ("xiaomi_ecosystem", "northwind_bakery") for stage in stages}
    graph = defs.resolve_asset_graph()
    assert {graph.get(AssetKey(["northwind_bakery", s])).group_name for s in stages} == {"northwind_bakery"}
    assert graph.get(AssetKey(["northwind_bakery", "validated_metrics"])).parent_keys == {
        AssetKey(["northwind_bakery", "source_tables"])}
    bakery_checks = {c.name for c in graph.asset_check_keys if c.asset_key.path[0] == "northwind_bakery"}
    assert bakery_checks == {"source_tables_valid", "profit_within_revenue", "pdf_publishable", "pdf_conformant"}
    assert {j.name for j in defs.resolve_all_job_defs()} >= {"build_xiaomi_ecosystem", "build_northwind_bakery"}
    assert {s.name for s in defs.schedules or []} == {"xiaomi_ecosystem__latest_edition_schedule",
                                                       "northwind_bakery__latest_edition_schedule"}
    assert {s.name for s in defs.sensors or []} == {"xiaomi_ecosystem__sources_sensor",
                                                     "northwind_bakery__sources_sensor", "orphaned_runs_sensor"}
    partitions = {graph.get(AssetKey([p, "published_report"])).partitions_def.name  # type: ignore[union-attr]
                  for p in ("xiaomi_ecosystem", "northwind_bakery")}
    assert partitions == {"xiaomi_ecosystem__editions", "northwind_bakery__editions"}


def test_a_report_folder_without_its_component_file_is_named(tmp_path: Path) -> None:
    bakery = write_tutorial(tmp_path)[0]
    (bakery / "defs.yaml").unlink()
    with pytest.raises(ReportDefinitionError, match=r"northwind-bakery: no defs\.yaml"):
        reports_definitions([bakery])


def test_the_engine_names_nothing_of_the_tutorial_report(tmp_path: Path) -> None:
    """Nothing of the new report is spelled out in pipeline/: the engine took it from the folder alone."""
    report = load_report(write_tutorial(tmp_path)[0])
    declared = {report.report_id, report.title, report.default_edition, *report.contract}
    declared |= {k.metric_id for k in report.kpis} | {k.label for k in report.kpis}
    declared |= {k.formula.text for k in report.kpis} | {r.holds.text for r in report.rules}
    declared |= {r.check_id for r in report.rules} | {r.title for r in report.rules}
    declared |= {c.chart_id for c in report.charts} | {c.title for c in report.charts} | {c.caption for c in report.charts}
    declared |= {"Northwind", "bakery", "loaves"}
    engine = {p: p.read_text(encoding="utf-8") for p in (PROJECT_ROOT / "pipeline").rglob("*") if p.suffix in
              (".py", ".j2", ".toml", ".css")}
    hits = [(str(path.relative_to(PROJECT_ROOT)), text) for path, source in engine.items() for text in declared
            if text.lower() in source.lower()]
    assert hits == []


def test_verify_rebuilds_the_tutorial_pdf_with_the_report_its_manifest_names(archive: Archive) -> None:
    """`pipeline verify` reads the report id from the PDF's manifest and rebuilds with that report's folder."""
    manifest = json.loads(embedded_files(archive.tutorial.pdf.read_bytes())["build-manifest.json"])
    assert manifest["report"] == "northwind-bakery"
    env = {k: v for k, v in os.environ.items() if k != "REPORT"}
    env.update(REPORT_TEMPLATES_DIR=str(archive.report), REPORT_OUTPUT_DIR=str(archive.tutorial.pdf.parents[4]))
    done = subprocess.run([sys.executable, "-m", "pipeline", "verify", str(archive.tutorial.pdf)], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "from the embedded sources: identical bytes" in done.stdout
    assert done.stdout.rstrip().endswith("verified: the PDF keeps its promises")
