"""A reader's path through the download site in a real headless browser (Debian's Chromium driven by
Playwright): index → edition page → download, and the file saved is the published PDF."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NAMES
from tests.webhelpers import CHROMIUM, CHROMIUM_ARGS, TITLE, FilledArchive, fill_archive, running_server

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> FilledArchive:
    return fill_archive(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def base(archive: FilledArchive) -> Iterator[str]:
    with running_server(archive.root, archive.root.parent / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_reader_finds_the_edition_and_downloads_the_published_pdf(
    page: Page, base: str, archive: FilledArchive, tmp_path: Path
) -> None:
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))

    page.goto(f"{base}/")
    expect(page).to_have_title("战略报告下载")
    page.get_by_role("link", name="demo", exact=True).click()

    expect(page).to_have_url(f"{base}/demo-report/editions/demo")
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    wanted = archive.demo[1]
    row = page.get_by_role("row").filter(has_text=wanted.version)
    with page.expect_download() as download_info:
        row.get_by_role("link", name="下载 PDF").click()
    download = download_info.value

    saved = tmp_path / "saved.pdf"
    download.save_as(saved)
    assert download.suggested_filename == f"{TITLE}_demo_{wanted.version}.pdf"
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == wanted.sha256
    assert failed == []


def test_reader_gets_the_newest_pdf_from_the_index_and_reads_the_html(
    page: Page, base: str, archive: FilledArchive
) -> None:
    newest = archive.demo[-1]
    page.goto(f"{base}/")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="demo", exact=True))
    with page.expect_download() as download_info:
        row.get_by_role("link", name="下载最新 PDF").click()
    assert hashlib.sha256(Path(download_info.value.path()).read_bytes()).hexdigest() == newest.sha256

    row.get_by_role("link", name="在线阅读").click()
    expect(page).to_have_url(f"{base}/demo-report/latest/demo.html")
    expect(page.get_by_role("heading", level=1)).to_have_text("第 3 版")


def test_the_published_report_opens_on_the_site_with_its_interactive_charts(
    browser: Browser, real_build, tmp_path: Path
) -> None:
    """The real report, published by a real Dagster build, served by the real site: its charts draw."""
    charts = len(real_build.result.output_for_node(NAMES.node("report_charts")))
    with running_server(real_build.reports, tmp_path / "server.log") as url:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        page.goto(f"{url}/xiaomi-ecosystem/latest/{real_build.edition}.html")
        page.wait_for_function(f"document.querySelectorAll('.vega svg').length >= {charts}", timeout=30_000)
        page.close()
    assert not errors
