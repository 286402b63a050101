"""The download site as readers meet it: the real ``python -m pipeline.web`` process on 127.0.0.1, serving
an archive that publish() filled with real PDFs."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote

import pytest

from pipeline.lib.publish import PublishError
from pipeline.lib.urls import (
    DEFAULT_DOWNLOAD_BASE_URL,
    download_base_url,
    download_url,
    edition_url,
    html_url,
    latest_url,
    report_url,
)
from pipeline.web.files import content_disposition, display_filename
from tests.webhelpers import SECRET, TITLE, FilledArchive, fill_archive, get, publish_text, running_server, sha256


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> FilledArchive:
    return fill_archive(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def server_log(archive: FilledArchive) -> Path:
    return archive.root.parent / "server.log"


@pytest.fixture(scope="module")
def base(archive: FilledArchive, server_log: Path) -> Iterator[str]:
    with running_server(archive.root, server_log) as url:
        yield url


def test_index_lists_each_edition_with_its_latest_version_and_history_count(base: str) -> None:
    reply = get(base, "/")
    page = reply.body.decode()

    assert reply.status == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="zh-CN">' in page
    row = re.search(r'<tr>\s*<td><a href="/demo-report/editions/demo">demo</a>.*?</tr>', page, re.S)
    assert row, page
    assert TITLE in row.group(0)
    assert "<td>v0003</td>" in row.group(0)
    assert '<td class="num">3</td>' in row.group(0)  # three versions in the history
    assert 'href="/demo-report/latest/demo.pdf"' in row.group(0)
    assert 'href="/demo-report/editions/plain"' in page
    assert "(demo-report)" in row.group(0)  # each row says which report the edition is of
    # Editions that lead outside the archive are not offered.
    assert "linked" not in page
    assert '"/demo-report/editions/escaped"' not in page


#: pipeline/web/app.py checks a served file against the report's folder (`archive_root/<report>`, symlinks
#: followed), not against the archive root, and lists every folder of the root that is a directory once symlinks
#: are followed: a report folder that is a symlink to a folder outside the archive is listed and served.
def test_a_report_folder_leading_outside_the_archive_is_not_offered(base: str) -> None:
    page = get(base, "/").body.decode()
    assert "escaped-report" not in page
    assert "stolen" not in page


def test_pages_load_nothing_from_outside(base: str) -> None:
    for path in ("/", "/demo-report/editions/demo"):
        reply = get(base, path)
        assert not re.search(r'(src|href)="(https?:)?//', reply.body.decode())
        assert "default-src 'none'" in reply.headers["content-security-policy"]


def test_titles_are_html_escaped(base: str) -> None:
    page = get(base, "/").body.decode() + get(base, "/demo-report/editions/xss").body.decode()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; 报告" in page


def test_edition_page_lists_every_version_with_size_pages_date_and_sha256(base: str, archive: FilledArchive) -> None:
    reply = get(base, "/demo-report/editions/demo")
    page = reply.body.decode()

    assert reply.status == 200
    versions = re.findall(r"<td>(v\d{4})(?:（最新）)?</td>", page)
    assert versions == ["v0003", "v0002", "v0001"]  # newest first; the uncommitted v0004 is not listed
    for v in archive.demo:
        assert f"<code>{v.sha256}</code>" in page
        assert f'href="/demo-report/editions/demo/{v.version}/demo_{v.version}.pdf"' in page
        assert f'href="/demo-report/editions/demo/{v.version}/demo_{v.version}.html"' in page
        assert v.built_at[:10] in page
    assert "KB" in page
    assert f"{base}/demo-report/latest/demo.pdf" in page  # the stable link, absolute so it can be shared


def test_pdf_download_has_type_name_validators_and_the_published_bytes(base: str, archive: FilledArchive) -> None:
    v = archive.demo[1]
    reply = get(base, f"/demo-report/editions/demo/{v.version}/demo_{v.version}.pdf")

    assert reply.status == 200
    assert reply.headers["content-type"] == "application/pdf"
    disposition = reply.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert 'filename="demo_v0002.pdf"' in disposition  # ASCII fallback
    encoded = re.search(r"filename\*=UTF-8''(\S+)", disposition)
    assert encoded and unquote(encoded.group(1)) == f"{TITLE}_demo_v0002.pdf"
    assert disposition.isascii()  # the Chinese name travels percent-encoded (RFC 5987)
    assert reply.headers["etag"] == f'"{v.sha256}"'
    assert reply.headers["last-modified"] == "Thu, 03 Jul 2025 08:00:00 GMT"  # the build time
    assert reply.headers["accept-ranges"] == "bytes"
    assert sha256(reply.body) == v.sha256
    assert int(reply.headers["content-length"]) == v.size


def test_html_version_is_viewable_in_the_browser(base: str, archive: FilledArchive) -> None:
    v = archive.demo[0]
    reply = get(base, f"/demo-report/editions/demo/{v.version}/demo_{v.version}.html")

    assert reply.status == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert reply.headers["content-disposition"].startswith("inline;")
    assert reply.body == v.html_path.read_bytes()
    assert "第 1 版" in reply.body.decode()


def test_range_request_gets_206_and_exactly_those_bytes(base: str, archive: FilledArchive) -> None:
    v = archive.demo[2]
    whole = v.pdf_path.read_bytes()
    path = f"/demo-report/editions/demo/{v.version}/demo_{v.version}.pdf"

    middle = get(base, path, {"Range": "bytes=100-1123"})
    assert middle.status == 206
    assert middle.headers["content-range"] == f"bytes 100-1123/{len(whole)}"
    assert middle.body == whole[100:1124]

    tail = get(base, path, {"Range": "bytes=-64"})
    assert tail.status == 206
    assert tail.body == whole[-64:]

    beyond = get(base, path, {"Range": f"bytes={len(whole) + 10}-"})
    assert beyond.status == 416


def test_range_in_an_unknown_unit_is_ignored_and_gets_the_whole_file(base: str, archive: FilledArchive) -> None:
    v = archive.demo[2]
    whole = v.pdf_path.read_bytes()
    answer = get(base, f"/demo-report/editions/demo/{v.version}/demo_{v.version}.pdf", {"Range": "items=0-10"})
    assert answer.status == 200  # RFC 9110, section 14.2: a recipient ignores a range unit it does not understand
    assert answer.body == whole


def test_if_none_match_gets_304_without_a_body(base: str, archive: FilledArchive) -> None:
    v = archive.demo[2]
    for path in (f"/demo-report/editions/demo/{v.version}/demo_{v.version}.pdf", "/demo-report/latest/demo.pdf"):
        fresh = get(base, path, {"If-None-Match": f'"{v.sha256}"'})
        assert fresh.status == 304, path
        assert fresh.body == b""
        assert fresh.headers["etag"] == f'"{v.sha256}"'
        stale = get(base, path, {"If-None-Match": f'"{archive.demo[0].sha256}"'})
        assert stale.status == 200
        assert sha256(stale.body) == v.sha256


def test_latest_link_always_gives_the_newest_version(base: str, archive: FilledArchive) -> None:
    newest = archive.demo[-1]
    pdf = get(base, "/demo-report/latest/demo.pdf")
    assert pdf.status == 200
    assert sha256(pdf.body) == newest.sha256
    assert 'filename="demo_v0003.pdf"' in pdf.headers["content-disposition"]
    assert pdf.headers["cache-control"] == "no-cache"
    html = get(base, "/demo-report/latest/demo.html")
    assert html.body == newest.html_path.read_bytes()

    # Publish while the server runs: the same link now gives the new version, and the old ETag is stale.
    first = publish_text(archive.archive, "moving", "旧版")
    assert sha256(get(base, "/demo-report/latest/moving.pdf").body) == first.sha256
    second = publish_text(archive.archive, "moving", "新版")
    moved = get(base, "/demo-report/latest/moving.pdf", {"If-None-Match": f'"{first.sha256}"'})
    assert moved.status == 200
    assert sha256(moved.body) == second.sha256
    assert 'filename="moving_v0002.pdf"' in moved.headers["content-disposition"]


def test_download_url_is_the_link_the_site_serves(base: str, archive: FilledArchive) -> None:
    v = archive.demo[0]
    with urllib.request.urlopen(download_url(base, "demo-report", "demo", v.version), timeout=10) as response:
        assert hashlib.sha256(response.read()).hexdigest() == v.sha256
    with urllib.request.urlopen(latest_url(base + "/", "demo-report", "demo"), timeout=10) as response:
        assert hashlib.sha256(response.read()).hexdigest() == archive.demo[-1].sha256


TRAVERSALS = [
    "/demo-report/editions/../../../etc/passwd",
    "/demo-report/editions/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/demo-report/latest/..%2f..%2f..%2fetc%2fpasswd",
    "/demo-report/latest/%2e%2e%2fdemo%2flatest.json",
    "/demo-report/editions/demo/v0001/..%2fmanifest.json",
    "/demo-report/editions/demo/v0001/%2e%2e%2f%2e%2e%2flatest.json",
    "/demo-report/editions/demo/v0001/%2Fetc%2Fpasswd",
    "/demo-report/editions/demo/..%5c..%5clatest.json",
    "/demo-report/editions/demo/v0001/demo_v0001.pdf%00.html",
    "//etc/passwd",
    "/demo-report/latest/%2fetc%2fpasswd",
    "/demo-report/editions/demo/.lock",
    "/demo-report/editions/demo/.tmp-v0004-test/demo_v0004.pdf",  # a killed publish's temp folder
    "/demo-report/editions/demo/v0004/demo_v0004.pdf",  # a version folder above the latest pointer (uncommitted)
    "/demo-report/editions/demo/v0001/manifest.json",  # in the archive, but not a file the site offers
    "/demo-report/latest/linked.pdf",  # the PDF is a symlink to a file outside the archive
    "/demo-report/editions/linked/v0001/linked_v0001.pdf",
    "/demo-report/latest/escaped.pdf",  # the edition folder is a symlink to a folder outside the archive
    "/demo-report/editions/escaped/v0001/escaped_v0001.pdf",
    "/demo-report/editions/escaped",
    # The report folder itself is a symlink to a report archive outside.
    "/escaped-report/latest/stolen.pdf",
    "/escaped-report/editions/stolen/v0001/stolen_v0001.pdf",
    "/escaped-report/editions/stolen",
    "/escaped-report",
    "/%2e%2e/editions/demo",  # the report segment is checked like the others
    "/..%2freports/latest/demo.pdf",
    "/.builds/latest/demo.pdf",  # the build locks' folder at the archive root is not a report
    "/demo-report/editions/demo/..%2f..%2fdemo-report%2flatest.json",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_nothing_outside_the_published_files_is_reachable(base: str, server_log: Path, path: str) -> None:
    reply = get(base, path)

    assert reply.status == 404
    assert SECRET not in reply.body
    assert b"root:" not in reply.body
    assert b'"version"' not in reply.body
    # Each refusal is logged on the pipeline.web logger, with the path as it was sent.
    expected = f"WARNING pipeline.web: 404 for GET {path!r}"
    deadline = time.monotonic() + 5
    while expected not in server_log.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert expected in server_log.read_text(errors="replace")


def test_there_are_no_write_endpoints(base: str, archive: FilledArchive) -> None:
    for method, path in (("POST", "/"), ("POST", "/demo-report"), ("PUT", "/demo-report/latest/demo.pdf"),
                         ("DELETE", "/demo-report/editions/demo/v0001/demo_v0001.pdf")):
        assert get(base, path, method=method).status == 405
    assert archive.demo[0].pdf_path.is_file()


def test_32_parallel_downloads_all_arrive_intact(base: str, archive: FilledArchive) -> None:
    expected = {v.version: v.sha256 for v in archive.demo}
    jobs = [archive.demo[i % 3].version for i in range(32)]

    def fetch(version: str) -> tuple[str, str]:
        with urllib.request.urlopen(download_url(base, "demo-report", "demo", version), timeout=20) as response:
            return version, hashlib.sha256(response.read()).hexdigest()

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(fetch, jobs, timeout=60))

    assert len(results) == 32
    assert all(digest == expected[version] for version, digest in results)


def test_download_links_for_the_dagster_materialisation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPORT_DOWNLOAD_BASE_URL", raising=False)
    assert download_base_url() == DEFAULT_DOWNLOAD_BASE_URL
    monkeypatch.setenv("REPORT_DOWNLOAD_BASE_URL", "https://reports.example.test/strategy/")
    assert (
        download_url(download_base_url(), "xiaomi-ecosystem", "xiaomi-ecosystem-2025h1", "v0007")
        == "https://reports.example.test/strategy/xiaomi-ecosystem/editions/xiaomi-ecosystem-2025h1/v0007/"
           "xiaomi-ecosystem-2025h1_v0007.pdf"
    )
    assert (
        html_url(download_base_url(), "xiaomi-ecosystem", "xiaomi-ecosystem-2025h1", "v0007")
        == "https://reports.example.test/strategy/xiaomi-ecosystem/editions/xiaomi-ecosystem-2025h1/v0007/"
           "xiaomi-ecosystem-2025h1_v0007.html"
    )
    assert (latest_url("http://127.0.0.1:8000/", "xiaomi-ecosystem", "xiaomi-ecosystem-2025h1", "html")
            == "http://127.0.0.1:8000/xiaomi-ecosystem/latest/xiaomi-ecosystem-2025h1.html")
    assert (edition_url("http://127.0.0.1:8000", "xiaomi-ecosystem", "xiaomi-ecosystem-2025h1")
            == "http://127.0.0.1:8000/xiaomi-ecosystem/editions/xiaomi-ecosystem-2025h1")
    assert report_url("http://127.0.0.1:8000/", "xiaomi-ecosystem") == "http://127.0.0.1:8000/xiaomi-ecosystem"
    for edition, version in (("../etc", "v0001"), ("demo", "../../x"), ("demo", "latest")):
        with pytest.raises(PublishError):
            download_url("http://127.0.0.1:8000", "xiaomi-ecosystem", edition, version)
    for report in ("../etc", "a/b", "", ".builds"):  # the report is a URL segment and a folder name: same rule
        with pytest.raises(ValueError):
            download_url("http://127.0.0.1:8000", report, "demo", "v0001")


def test_download_names_survive_awkward_titles(archive: FilledArchive) -> None:
    """A title with slashes, quotes or a backslash must neither become a path nor break the header."""
    v = dataclasses.replace(archive.demo[0], title='季度/年度 "报告": 草稿?\\终版')
    name = display_filename(v, "pdf")
    assert name == "季度_年度 _报告_ 草稿_终版_demo_v0001.pdf"
    header = content_disposition("attachment", "demo_v0001.pdf", name)
    assert header.isascii()
    assert header.count('"') == 2  # only the ones around the ASCII fallback
    assert unquote(header.split("filename*=UTF-8''")[1]) == name


@pytest.mark.parametrize("path", ["/no-such-report/editions/x", "/no-such-report", "/no-such-report/latest/demo.pdf",
                                  "/no-such-report/editions/demo/v0001/demo_v0001.pdf"])
def test_an_unknown_report_is_a_clean_404(base: str, server_log: Path, path: str) -> None:
    """A report that is not in the archive gets the site's own 404 page, not an error, and the refusal is logged
    (at INFO: a mistyped link is no attack, but an operator can still find it)."""
    reply = get(base, path)

    assert reply.status == 404
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    page = reply.body.decode()
    assert "<h1>未找到</h1>" in page
    assert "Traceback" not in page and "no-such-report" not in page  # nothing of the request echoed back
    expected = f"pipeline.web: 404 for GET {path!r}"
    deadline = time.monotonic() + 5
    while expected not in server_log.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server_log.read_text(errors="replace")
    assert expected in log
    assert "Traceback" not in log


def test_two_reports_in_one_archive_are_listed_together_and_apart(tmp_path: Path) -> None:
    """The archive root holds one folder per report: `/` lists every report's editions, `/<report>` only its
    own, and an edition name two reports share stays two editions, each with its own files."""
    root = tmp_path / "reports"
    alpha = [publish_text(root / "alpha-report", "shared", "alpha 共同版次"),
             publish_text(root / "alpha-report", "alpha-only", "alpha 独有")]
    beta = [publish_text(root / "beta-report", "shared", "beta 共同版次"),
            publish_text(root / "beta-report", "beta-only", "beta 独有")]

    with running_server(root, tmp_path / "server.log") as base:
        index = get(base, "/")
        assert index.status == 200
        page = index.body.decode()
        for report, edition in (("alpha-report", "shared"), ("alpha-report", "alpha-only"),
                                ("beta-report", "shared"), ("beta-report", "beta-only")):
            row = re.search(rf'<tr>\s*<td><a href="/{report}/editions/{edition}">{edition}</a> '
                            rf'<span class="muted">\({report}\)</span>.*?</tr>', page, re.S)
            assert row, (report, edition, page)
            assert f'href="/{report}/latest/{edition}.pdf"' in row.group(0)

        own = {"alpha-report": ("alpha-only", "beta-only"), "beta-report": ("beta-only", "alpha-only")}
        for report, (mine, theirs) in own.items():
            reply = get(base, f"/{report}")
            assert reply.status == 200, report
            listing = reply.body.decode()
            assert f'href="/{report}/editions/{mine}"' in listing
            assert f'href="/{report}/editions/shared"' in listing
            assert theirs not in listing
            other = "beta-report" if report == "alpha-report" else "alpha-report"
            assert other not in listing
            assert len(re.findall(r'<tr>\s*<td><a href=', listing)) == 2  # its two editions, no more

        # The shared edition name is two editions: each report's links give its own bytes.
        for report, versions in (("alpha-report", alpha), ("beta-report", beta)):
            shared = versions[0]
            assert sha256(get(base, f"/{report}/latest/shared.pdf").body) == shared.sha256
            got = get(base, f"/{report}/editions/shared/v0001/shared_v0001.pdf")
            assert got.status == 200
            assert sha256(got.body) == shared.sha256
            edition_page = get(base, f"/{report}/editions/shared").body.decode()
            assert f"<code>{shared.sha256}</code>" in edition_page
            assert f'href="/{report}/editions/shared/v0001/shared_v0001.pdf"' in edition_page
        assert alpha[0].sha256 != beta[0].sha256
        # An edition of one report is not found under the other.
        assert get(base, "/beta-report/latest/alpha-only.pdf").status == 404
        assert get(base, "/alpha-report/editions/beta-only").status == 404
