"""WCAG 2.1 AA, checked by axe-core in the headless Chromium the browser tests use: the interactive report as a
reader opens it on the download site (after its charts have drawn), and the site's own pages.

axe-core is an npm package pinned in package.json / package-lock.json at the project root; `make test` installs
it into node_modules/ (npm ci). Missing, the tests fail rather than skip: an accessibility check that silently
does not run is worse than none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NAMES
from tests.webhelpers import CHROMIUM, CHROMIUM_ARGS, PROJECT_ROOT, FilledArchive, fill_archive, running_server

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: WCAG 2.1 level A and AA; axe's best-practice rules (beyond WCAG) are not part of the bar.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: Desktop (the report's contents become a sidebar from 1200 px) and a narrow window (one column).
VIEWPORTS = {"wide": {"width": 1280, "height": 800}, "narrow": {"width": 800, "height": 800}}


@pytest.fixture(scope="module")
def axe_source() -> Path:
    if not AXE.is_file():
        pytest.fail(f"{AXE.relative_to(PROJECT_ROOT)} is missing: run `make test` (or `npm ci` in the project root)")
    return AXE


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=sorted(VIEWPORTS))
def page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    # bypass_csp: the pages' Content-Security-Policy rightly refuses inline scripts, and axe is injected as one.
    context = browser.new_context(locale="zh-CN", bypass_csp=True, viewport=VIEWPORTS[request.param])
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> FilledArchive:
    return fill_archive(tmp_path_factory.mktemp("a11y"))


@pytest.fixture(scope="module")
def site(archive: FilledArchive) -> Iterator[str]:
    with running_server(archive.root, archive.root.parent / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def report_site(real_build, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real report, published by a real Dagster build, served by the real site."""
    with running_server(real_build.reports, tmp_path_factory.mktemp("a11y-report") / "server.log") as url:
        yield url


def axe_violations(page: Page, axe: Path) -> list[dict]:
    page.add_script_tag(path=str(axe))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    return result["violations"]


def describe(violations: list[dict], nodes: int = 3) -> str:
    lines = [f"{len(violations)} WCAG 2.1 AA violation(s):"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} node(s), {v['helpUrl']}")
        for node in v["nodes"][:nodes]:
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {node['target']}: {summary[:300]}")
    return "\n".join(lines)


def test_the_interactive_report_is_accessible(page: Page, report_site: str, real_build, axe_source: Path) -> None:
    charts = len(real_build.result.output_for_node(NAMES.node("report_charts")))
    page.goto(f"{report_site}/xiaomi-ecosystem/latest/{real_build.edition}.html")
    page.wait_for_function(f"document.querySelectorAll('.vega svg').length >= {charts}", timeout=30_000)
    violations = axe_violations(page, axe_source)
    assert not violations, describe(violations)


@pytest.mark.parametrize("path", ["/", "/demo-report", "/demo-report/editions/demo", "/no-such-report/editions/x"],
                         ids=["index", "report", "edition", "404"])
def test_the_download_site_pages_are_accessible(page: Page, site: str, path: str, axe_source: Path) -> None:
    response = page.goto(f"{site}{path}")
    assert response is not None
    assert response.status == (404 if "no-such" in path else 200)
    violations = axe_violations(page, axe_source)
    assert not violations, describe(violations)
