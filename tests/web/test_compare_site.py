"""The download site's compare pages as readers meet them: the real ``python -m pipeline.web`` process serving an
archive that publish() filled with real PDFs and figure snapshots. Every expected cell is written out by hand."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.lib.changes.snapshot import FigureValue, to_json
from pipeline.lib.publish import publish
from tests.webhelpers import fingerprint, get, running_server, tiny_pdf

REPORT = "flights-report"
LABELS = {"scheduled_flights": "计划航班", "delayed_share": "延误占比", "cancelled": "取消航班", "new_metric": "新指标",
          "old_metric": "旧指标"}
UNITS = {"delayed_share": "percent"}


def figures(period_values: dict[tuple[str, str], float], labels: dict[str, str] | None = None) -> bytes:
    return to_json([FigureValue(metric_id=m, period=p, value=v, unit=UNITS.get(m, "items"),
                                label=(labels or LABELS)[m], derived=False)
                    for (m, p), v in period_values.items()])


def publish_version(archive: Path, edition: str, n: int, snapshot: bytes | None) -> None:
    text = f"{edition} 第 {n} 版"
    publish(archive, edition, pdf=tiny_pdf(text), html=f"<p>{text}</p>".encode(), pages=1,
            fingerprint=fingerprint(text), code_version="code-1", title="航班月报", figures=snapshot,
            now=datetime(2013, 2, 1, tzinfo=UTC) + timedelta(days=n))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2013-01: v0001 published before snapshots existed, v0002 and v0003 with figures; 2013-02: one version;
    xss: a label with markup."""
    root = tmp_path_factory.mktemp("compare-site") / "reports"
    archive = root / REPORT
    publish_version(archive, "2013-01", 1, None)
    publish_version(archive, "2013-01", 2, figures({
        ("scheduled_flights", "2013Q1"): 27004, ("delayed_share", "2013Q1"): 20.0, ("cancelled", "2013Q1"): 521,
        ("old_metric", "2013Q1"): 9}))
    publish_version(archive, "2013-01", 3, figures({
        ("scheduled_flights", "2013Q1"): 27274, ("delayed_share", "2013Q1"): 25.0, ("cancelled", "2013Q1"): 521,
        ("new_metric", "2013Q1"): 3}))
    publish_version(archive, "2013-02", 1, figures({
        ("scheduled_flights", "2013Q1"): 27274, ("scheduled_flights", "2013Q2"): 24951,
        ("delayed_share", "2013Q2"): 25.0, ("cancelled", "2013Q2"): 600}))
    publish_version(archive, "xss", 1, figures({("new_metric", "2024"): 1},
                                               labels={"new_metric": '<script>alert("x")</script>'}))
    return root


@pytest.fixture(scope="module")
def base(root: Path) -> Iterator[str]:
    with running_server(root, root.parent / "server.log") as url:
        yield url


def table(page: str) -> list[tuple[str, list[str]]]:
    """(row class, cell texts) of every figure row, tags removed and spaces collapsed."""
    found = []
    for status, body in re.findall(r'<tr class="(\w+)" data-metric="[^"]*">(.*?)</tr>', page, re.S):
        cells = [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<td[^>]*>(.*?)</td>", body,
                                                                                          re.S)]
        found.append((status, cells))
    return found


def test_two_versions_of_an_edition_are_compared_figure_by_figure(base: str) -> None:
    reply = get(base, f"/{REPORT}/compare/2013-01/v0002/v0003")
    page = reply.body.decode()

    assert reply.status == 200
    assert table(page) == [
        # 20 → 25: +5, 5 / 20 = +25.0%, the largest change first
        ("changed", ["延误占比 delayed_share", "2013Q1", "20 percent", "25 percent", "+5", "+25.0%", "有变化"]),
        # 27004 → 27274: +270, 270 / 27004 = 0.99985% → +1.0%
        ("changed", ["计划航班 scheduled_flights", "2013Q1", "27004 items", "27274 items", "+270", "+1.0%", "有变化"]),
        ("added", ["新指标 new_metric", "2013Q1", "", "3 items", "", "", "新增"]),
        ("removed", ["旧指标 old_metric", "2013Q1", "9 items", "", "", "", "删除"]),
        ("unchanged", ["取消航班 cancelled", "2013Q1", "521 items", "521 items", "", "", "不变"]),
    ]
    assert "2 个数字有变化，1 个不变，新增 1 个，删除 1 个。" in page
    assert f'href="/{REPORT}/editions/2013-01/v0002/2013-01_v0002.pdf"' in page
    assert f'href="/{REPORT}/editions/2013-01/v0003/2013-01_v0003.pdf"' in page
    assert f'href="/{REPORT}/compare/2013-01/v0002/v0003?changed=1"' in page
    assert "default-src 'none'" in reply.headers["content-security-policy"]
    assert "<script" not in page


def test_the_changed_only_filter_leaves_out_unchanged_figures(base: str) -> None:
    page = get(base, f"/{REPORT}/compare/2013-01/v0002/v0003?changed=1").body.decode()

    assert [(status, cells[0]) for status, cells in table(page)] == [
        ("changed", "延误占比 delayed_share"),
        ("changed", "计划航班 scheduled_flights"),
        ("added", "新指标 new_metric"),
        ("removed", "旧指标 old_metric"),
    ]
    assert f'<a href="/{REPORT}/compare/2013-01/v0002/v0003">显示全部</a>' in page
    # anything but 1 shows everything
    assert len(table(get(base, f"/{REPORT}/compare/2013-01/v0002/v0003?changed=yes").body.decode())) == 5


def test_two_editions_are_compared_on_each_metrics_latest_period(base: str) -> None:
    reply = get(base, f"/{REPORT}/compare-editions/2013-01/2013-02")
    page = reply.body.decode()

    assert reply.status == 200
    assert table(page) == [
        # 521 → 600: +79, 79 / 521 = 15.163% → +15.2%
        ("changed", ["取消航班 cancelled", "2013Q1 → 2013Q2", "521 items", "600 items", "+79", "+15.2%", "有变化"]),
        # January's latest (2013Q1, 27274) against February's (2013Q2, 24951): −2323, −2323 / 27274 = −8.517%
        ("changed", ["计划航班 scheduled_flights", "2013Q1 → 2013Q2", "27274 items", "24951 items", "-2323", "-8.5%",
                     "有变化"]),
        ("removed", ["新指标 new_metric", "2013Q1", "3 items", "", "", "", "删除"]),
        ("unchanged", ["延误占比 delayed_share", "2013Q1 → 2013Q2", "25 percent", "25 percent", "", "", "不变"]),
    ]
    assert f'href="/{REPORT}/editions/2013-01/v0003/2013-01_v0003.pdf"' in page  # the latest of each
    assert f'href="/{REPORT}/editions/2013-02/v0001/2013-02_v0001.pdf"' in page
    assert f'href="/{REPORT}/compare-editions/2013-01/2013-02?changed=1"' in page


def test_a_version_without_figures_is_named_and_its_pdf_linked(base: str) -> None:
    reply = get(base, f"/{REPORT}/compare/2013-01/v0001/v0002")
    page = reply.body.decode()

    assert reply.status == 200
    assert table(page) == []
    assert "2013-01 v0001\n发布时没有记录数字，无法逐项比较" in page
    assert f'href="/{REPORT}/editions/2013-01/v0001/2013-01_v0001.pdf"' in page


def test_the_edition_page_says_how_many_figures_changed_against_the_version_before(base: str) -> None:
    page = get(base, f"/{REPORT}/editions/2013-01").body.decode()
    rows = dict(re.findall(r"<td>(v\d{4})(?:（最新）)?</td>(.*?)</tr>", page, re.S))

    assert (f'<a href="/{REPORT}/compare/2013-01/v0002/v0003">较 v0002：2 个数字有变化</a>，新增 1 个，删除 1 个'
            in rows["v0003"])
    assert "较 v0001" not in rows["v0002"]  # v0001 has no figures to compare with
    assert "compare" not in rows["v0001"]
    assert "上一版次" not in page  # 2013-01 is the first edition of its series

    february = get(base, f"/{REPORT}/editions/2013-02").body.decode()
    assert f'<a href="/{REPORT}/compare-editions/2013-01/2013-02">有哪些变化</a>' in february


def test_labels_from_the_snapshot_are_escaped(base: str) -> None:
    page = get(base, f"/{REPORT}/compare/xss/v0001/v0001").body.decode()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


@pytest.mark.parametrize("path", [
    f"/{REPORT}/compare/2013-01/v0002/v0009",  # no such version
    f"/{REPORT}/compare/2013-01/v2/v3",  # not version ids
    f"/{REPORT}/compare/2013-09/v0001/v0002",  # no such edition
    f"/{REPORT}/compare/..%2f..%2foutside/v0001/v0002",
    f"/{REPORT}/compare/2013-01/v0002",
    f"/{REPORT}/compare-editions/2013-01/2013-09",
    f"/{REPORT}/compare-editions/Bad_Name/2013-01",
    "/no-such-report/compare/2013-01/v0002/v0003",
    "/no-such-report/compare-editions/2013-01/2013-02",
])
def test_unknown_versions_and_editions_are_a_clean_404(base: str, path: str) -> None:
    reply = get(base, path)
    assert reply.status == 404
    assert "没有这个报告或版本" in reply.body.decode()
    assert "Traceback" not in reply.body.decode()


def test_the_compare_page_names_the_pdf_pages_that_differ_and_how(base: str) -> None:
    page = get(base, f"/{REPORT}/compare/2013-01/v0002/v0003").body.decode()
    section = page[page.index('id="pages"'):]
    assert "1 页的文字不同" in section
    assert '<li data-page="1"><strong>第 1 页</strong>' in section
    assert "<del>2013-01 第 2 版</del>" in section  # the earlier PDF's line, read back from the PDF
    assert "<ins>2013-01 第 3 版</ins>" in section


def test_a_version_compared_with_itself_has_no_differing_page(base: str) -> None:
    page = get(base, f"/{REPORT}/compare/2013-01/v0003/v0003").body.decode()
    assert "两份 PDF 每一页的文字都相同。" in page


def test_a_reader_compares_versions_and_editions_in_a_real_browser(base: str, root: Path) -> None:
    """Headless Chromium: the changed-only filter as a reader clicks it, the page diff, a PDF downloaded from the
    page, then two editions; nothing the page asks for fails (the site's CSP allows no script, so a blocked
    request would show here)."""
    from tests.webhelpers import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(accept_downloads=True, locale="zh-CN").new_page()
        failed: list[str] = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.goto(f"{base}/{REPORT}/compare/2013-01/v0002/v0003")
        rows = page.locator("table.compare tbody tr")
        expect(rows).to_have_count(5)
        expect(page.locator('tr[data-metric="cancelled"] td').last).to_have_text("不变")
        page.get_by_role("link", name="只显示有变化的数字").click()
        expect(page).to_have_url(f"{base}/{REPORT}/compare/2013-01/v0002/v0003?changed=1")
        expect(rows).to_have_count(4)
        expect(page.locator('tr[data-metric="cancelled"]')).to_have_count(0)
        expect(page.locator('li[data-page="1"] ins')).to_have_text("2013-01 第 3 版")
        with page.expect_download() as download:
            page.get_by_role("link", name="下载 PDF").last.click()
        saved = Path(download.value.path())
        assert saved.read_bytes() == (root / REPORT / "2013-01" / "versions" / "v0003" / "2013-01_v0003.pdf"
                                      ).read_bytes()

        page.goto(f"{base}/{REPORT}/compare-editions/2013-01/2013-02")
        expect(page.locator('tr[data-metric="scheduled_flights"] td').nth(3)).to_have_text("24951 items")
        expect(page.locator('tr[data-metric="scheduled_flights"] td').nth(5)).to_have_text("-8.5%")
        browser.close()
    assert failed == []
