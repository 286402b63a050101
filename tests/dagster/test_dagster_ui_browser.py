"""The Dagster UI as an analyst uses it, in a real headless Chromium against the real webserver and daemon
(`dagster dev`): open the report's lineage, Materialize all for an edition, wait for the run, read the published
report's metadata, then do the same for an edition with a bad cell and read the failed check's page."""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import time
from collections.abc import Iterator

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from tests.conftest import archive_of, edition_folder
from tests.dagster.test_dagster_webserver import (  # noqa: F401 (dagster_ui is a fixture)
    ADD_PARTITION,
    EDITION,
    LOCATION,
    PARTITIONS,
    REPOSITORY,
    RUN_TIMEOUT,
    DagsterUI,
    dagster_ui,
)
from tests.webhelpers import CHROMIUM, CHROMIUM_ARGS

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

BAD_EDITION = "bad-2025h1"


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def add_edition(ui: DagsterUI, edition: str) -> None:
    added = ui.graphql(ADD_PARTITION, {"repo": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY},
                                       "name": PARTITIONS, "key": edition})["addDynamicPartition"]
    assert added["__typename"] == "AddDynamicPartitionSuccess", added


def materialize_from_lineage(page: Page, ui: DagsterUI, edition: str) -> str:
    """What a person does: the report's lineage, Materialize all…, the edition, Launch; returns the run's status
    once it finished (read from the instance, which is what the Runs page shows)."""
    # the report's own group in its code location (the global lineage collapses groups when there are several)
    page.goto(f"http://127.0.0.1:{ui.port}/locations/{REPOSITORY}@{LOCATION}/asset-groups/xiaomi_ecosystem")
    for name in ("published_report", "report_pdf", "source_tables"):  # the report's own lineage
        expect(page.get_by_text(name, exact=True).first).to_be_visible()
    with contextlib.suppress(PlaywrightTimeout):  # the community dialog a new instance shows once, a moment later
        page.get_by_role("button", name="Skip").click(timeout=10_000)
    page.get_by_role("button", name="Materialize all…").click()
    page.get_by_text("Select a partition or create one").click()
    page.keyboard.type(edition)  # the dialog's partition search
    expect(page.get_by_text("Select all (", exact=False)).to_be_visible()
    [*_, option] = [m for m in page.get_by_text(edition, exact=True).all() if m.is_visible()]
    option.click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Launch 1 run").click()
    return wait_for_run(ui, edition)


def wait_for_run(ui: DagsterUI, edition: str) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT
    instance = DagsterInstance.from_config(str(ui.home))
    try:
        while time.monotonic() < deadline:
            runs = instance.get_runs(RunsFilter(tags={"dagster/partition": edition}))
            if runs and runs[0].status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE):
                return runs[0].status.value
            time.sleep(1)
    finally:
        instance.dispose()
    pytest.fail(f"no finished run of {edition} within {RUN_TIMEOUT} s:\n{ui.log_tail()}")


def test_an_analyst_builds_an_edition_and_reads_a_failed_check_in_the_ui(dagster_ui: DagsterUI,  # noqa: F811
                                                                         page: Page) -> None:
    ui = dagster_ui
    add_edition(ui, EDITION)
    assert materialize_from_lineage(page, ui, EDITION) == "SUCCESS"

    pdf = archive_of(ui.reports) / EDITION / "versions" / "v0001" / f"{EDITION}_v0001.pdf"
    page.goto(f"http://127.0.0.1:{ui.port}/assets/xiaomi_ecosystem/published_report?partition={EDITION}")
    expect(page.get_by_text(hashlib.sha256(pdf.read_bytes()).hexdigest(), exact=True)).to_be_visible()  # in full
    expect(page.get_by_text(str(pdf), exact=True)).to_be_visible()
    page.goto(f"http://127.0.0.1:{ui.port}/assets/xiaomi_ecosystem/report_figures?partition={EDITION}")
    expect(page.get_by_text("2592.6亿元").first).to_be_visible()  # the KPI table in the report's units

    bad = edition_folder(ui.sources, BAD_EDITION)
    shutil.copytree(edition_folder(ui.sources, EDITION), bad)
    metrics = bad / "metrics.csv"
    lines = metrics.read_text(encoding="utf-8").splitlines()
    lines[3] = re.sub(r"^([^,]*,[^,]*,[^,]*),[^,]*,", r"\1,abc,", lines[3])  # line 4: a value that is no number
    metrics.write_text("\n".join(lines) + "\n", encoding="utf-8")
    add_edition(ui, BAD_EDITION)
    assert materialize_from_lineage(page, ui, BAD_EDITION) == "FAILURE"
    assert not (archive_of(ui.reports) / BAD_EDITION).exists()  # nothing published

    page.goto(f"http://127.0.0.1:{ui.port}/assets/xiaomi_ecosystem/source_tables?view=checks")
    expect(page.get_by_text("Failed").first).to_be_visible()
    table = page.locator("table").filter(has_text="metrics.csv")
    expect(table.first).to_be_visible()  # the failing cells as a table, without opening anything
    row = table.first.locator("tr").filter(has_text="abc")
    expect(row.first).to_contain_text("metrics.csv")
    expect(row.first).to_contain_text("4")
    expect(row.first).to_contain_text("value")
