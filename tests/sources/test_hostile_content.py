"""Issue 6, hostile content: text from the sources is untrusted. Markup, script, CSS and template syntax in labels,
notes, entities, titles and citations reach the HTML and the PDF as the literal text they are; the PDF renderer
loads nothing outside the templates and fonts folders (no secret file, no network); and no edition name or linked
folder leads out of sources/ or reports/."""

from __future__ import annotations

import dataclasses
import http.server
import json
import logging
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import altair as alt
import pytest

from pipeline.lib.build import Built, build
from pipeline.lib.charts import build_charts
from pipeline.lib.errors import EditionNotFound, RenderError
from pipeline.lib.fetcher import ProjectURLFetcher
from pipeline.lib.pdf_facts import PdfFacts, read_pdf
from pipeline.lib.publish import PublishError, check_edition, publish
from pipeline.lib.render import layout_pdf, write_pdf
from pipeline.lib.report_def import ChartDecl
from pipeline.lib.sources import edition_dir, list_editions, read_edition
from tests.conftest import DEFAULT_EDITION, REAL, REPORT, archive_of, copy_edition, edition_folder

EDITION = DEFAULT_EDITION


def evidence(record_property, area: str, case: str, done: str, seen: str) -> None:
    """One row of docs/faults.md: what was tried and what the user sees (collected by scripts/fault_table.py)."""
    row = {"area": area, "case": case, "done": done, "seen": seen}
    record_property("fault_row", json.dumps(row, ensure_ascii=False))


def compact(text: str) -> str:
    """PDF text extraction breaks lines and may add spaces between glyph runs; compare without white space."""
    return re.sub(r"\s+", "", text)


# Every payload carries a marker "XSS-…" so a test can tell our text from the template's own markup and scripts.
TITLE = "小米战略分析</title><script>alert('XSS-TITLE')</script>"
PAYLOADS = {
    "edition.toml subtitle": "{{ 7*7 }} {% raw %}XSS-JINJA",
    "edition.toml author": "<img src=x onerror=alert('XSS-AUTHOR')>",
    "edition.toml note topic": "</style><style>body{display:none}</style>XSS-STYLE",
    "edition.toml note text": "<script>alert('XSS-NOTE')</script> &lt;b&gt;XSS-ENTITY&lt;/b&gt;",
    "metrics.csv label": "<img src=x onerror=alert('XSS-LABEL')>全球份额",
    "metrics.csv chart label": "<script>alert('XSS-CHART')</script>米家连接数",
    "metrics.csv entity": "{{ 7*7 }}XSS-ENTITY7",
    "metrics.csv note": "</style><style>*{color:red}</style>XSS-CSSNOTE",
    "metrics.csv locator": "<a href=\"javascript:alert('XSS-HREF')\">引言</a>",
    "references.csv title": "<script>alert('XSS-REF')</script>种子文稿",
    "references.csv publisher": "<iframe src=\"http://127.0.0.1:9/XSS-IFRAME\"></iframe>",
    "references.csv note": "<link rel=stylesheet href=\"http://127.0.0.1:9/XSS-LINK.css\">",
}


def csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def plant_payloads(folder: Path) -> None:
    """Put every payload where the report prints it; metrics.csv is then saved as GB18030 with CRLF line ends,
    as Chinese Excel does, so the same build shows the notice and that nothing turned into mojibake."""
    toml = (folder / "edition.toml").read_text(encoding="utf-8")
    toml = re.sub(r'^title = ".*"$', f"title = {toml_string(TITLE)}", toml, count=1, flags=re.M)
    toml = re.sub(r'^subtitle = "(.*)"$', lambda m: f"subtitle = {toml_string(m[1] + PAYLOADS['edition.toml subtitle'])}",
                  toml, count=1, flags=re.M)
    toml = re.sub(r'^author = ".*"$', f"author = {toml_string(PAYLOADS['edition.toml author'])}", toml, count=1,
                  flags=re.M)
    toml += (f"\n[[notes]]\ntopic = {toml_string(PAYLOADS['edition.toml note topic'])}\n"
             f"text = {toml_string(PAYLOADS['edition.toml note text'])}\n")
    (folder / "edition.toml").write_text(toml, encoding="utf-8")

    metrics = (folder / "metrics.csv").read_text(encoding="utf-8")
    metrics = metrics.replace(
        "smartphone_global_share,小米集团,2024,14,percent,,全球智能手机市场份额,seed_article_ref0,引言,",
        f"smartphone_global_share,{csv_cell(PAYLOADS['metrics.csv entity'])},2024,14,percent,,"
        f"{csv_cell(PAYLOADS['metrics.csv label'])},seed_article_ref0,{csv_cell(PAYLOADS['metrics.csv locator'])},"
        f"{csv_cell(PAYLOADS['metrics.csv note'])}", 1)
    metrics = metrics.replace(",米家智能设备连接数（年末）,", f",{csv_cell(PAYLOADS['metrics.csv chart label'])},", 1)
    (folder / "metrics.csv").write_bytes(metrics.replace("\n", "\r\n").encode("gb18030"))

    references = (folder / "references.csv").read_text(encoding="utf-8")
    references = references.replace(
        "seed_article,小米“人车家全生态”战略深度分析（种子文稿）,未署名,",
        f"seed_article,{csv_cell(PAYLOADS['references.csv title'])},{csv_cell(PAYLOADS['references.csv publisher'])},",
        1)
    references = references.replace("文稿只给出标记[0]，没有列出文献题名；此处登记以便区分“有引注”与“无引注”的数字",
                                    csv_cell(PAYLOADS["references.csv note"]), 1)
    (folder / "references.csv").write_text(references, encoding="utf-8")


@dataclass
class Page(HTMLParser):
    """What a browser would make of an HTML page: its elements, their attributes, the text shown, the scripts."""

    elements: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    scripts: list[tuple[dict[str, str | None], str]] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    _open: str | None = None
    _attrs: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open, self._attrs = tag, dict(attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open == "script":
            self.scripts.append((self._attrs, data))
        elif self._open == "style":
            self.styles.append(data)
        else:
            self.text.append(data)

    @classmethod
    def parse(cls, html: str) -> Page:
        page = cls()
        page.feed(html)
        page.close()
        return page


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The real edition with every payload planted, built once with the real templates and fonts."""
    root = tmp_path_factory.mktemp("hostile")
    sources = copy_edition(root)
    plant_payloads(edition_folder(sources))
    paths = dataclasses.replace(REAL, sources=sources / REPORT.report_id, reports=archive_of(root / "reports"))
    return build(paths, EDITION)


@pytest.fixture(scope="module")
def pdf_facts(hostile: Built) -> PdfFacts:
    return read_pdf(hostile.pdf.data)


@pytest.fixture(scope="module")
def pdf_text(pdf_facts: PdfFacts) -> str:
    return compact(pdf_facts.text)


@pytest.mark.parametrize("version", ["interactive", "print"])
def test_markup_from_data_is_shown_as_text_in_the_html(hostile: Built, version: str, record_property) -> None:
    page = Page.parse(getattr(hostile.html, version))
    shown = "".join(page.text)

    for where, payload in {**PAYLOADS, "edition.toml title": TITLE}.items():
        assert payload.strip() in shown, f"{where}: {payload!r} is not shown as text"
    assert not [tag for tag, _ in page.elements if tag in ("iframe", "link", "object", "embed")]
    images = [attrs for tag, attrs in page.elements if tag == "img"]  # only the template's charts, as SVG data
    assert len(images) == (0 if version == "interactive" else len(hostile.charts))
    assert all(a["src"].startswith("data:image/svg+xml;base64,") for a in images)
    assert not [(t, a) for t, a in page.elements if any(name.startswith("on") for name in a)]
    assert not [a for t, a in page.elements if t == "a" and "javascript:" in (a.get("href") or "")]
    assert page.styles and not any("XSS" in css for css in page.styles)  # only the project's own CSS
    executable = [body for attrs, body in page.scripts if attrs.get("type") != "application/json"]
    assert not any("XSS-" in body for body in executable)
    assert len(executable) == (2 if version == "interactive" else 0)  # the template's vega bundle and its loader
    evidence(record_property, "hostile content", f"html_{version}",
             f"{len(PAYLOADS) + 1} payloads (script, img onerror, </style>, javascript: link, iframe, link, "
             "{{ 7*7 }}) in edition.toml, metrics.csv and references.csv",
             f"the {version} HTML shows each payload as text; no element, attribute, style or script from data")


def test_chart_specs_carry_labels_as_data_not_markup(hostile: Built) -> None:
    page = Page.parse(hostile.html.interactive)
    specs = {attrs["id"]: json.loads(body) for attrs, body in page.scripts if attrs.get("type") == "application/json"}

    assert specs == {f"spec-{chart.chart_id}": chart.spec for chart in hostile.charts}  # no element ended early
    assert PAYLOADS["metrics.csv chart label"] in json.dumps(specs, ensure_ascii=False)
    assert "</script" not in "".join(body for attrs, body in page.scripts if attrs.get("type") == "application/json")


def test_pdf_shows_the_literal_text(pdf_facts: PdfFacts, pdf_text: str, record_property) -> None:
    for where in ("edition.toml author", "edition.toml note topic", "edition.toml note text", "metrics.csv label",
                  "metrics.csv entity", "metrics.csv note", "metrics.csv locator", "references.csv title",
                  "references.csv publisher", "references.csv note"):
        assert compact(PAYLOADS[where]) in pdf_text, where
    assert compact(TITLE) in pdf_text
    assert pdf_facts.metadata.get("Title") == TITLE
    evidence(record_property, "hostile content", "pdf", "the same payloads, rendered to PDF by WeasyPrint",
             "the PDF text shows each payload literally (also the PDF title); nothing was fetched or hidden")


def test_gb18030_sources_reach_the_report_without_mojibake(hostile: Built, pdf_text: str) -> None:
    notice = "metrics.csv: not UTF-8; decoded as GB18030"
    assert any(n.startswith(notice) for n in hostile.analysis.edition.notices)
    # The notice is for the person who can re-save the file, not for the report's readers.
    assert notice not in "".join(Page.parse(hostile.html.print).text)
    assert notice not in pdf_text
    for label in ("米家连接数", "全球份额", "全球智能手机厂商排名", "米家用户数"):
        assert label in pdf_text


def test_chart_labels_from_data_are_escaped_in_svg_and_pdf(hostile: Built, tmp_path: Path,
                                                          record_property) -> None:
    ids = ("smartphone_global_share", "mihome_connected_devices")
    spec = ChartDecl("hostile_labels", "标签", "标签来自数据。", ids,
                     lambda kit: alt.Chart(kit.rows(ids)).mark_bar().encode(
                         alt.X("name:N", axis=alt.Axis(labelLimit=0, labelAngle=0)), alt.Y("value:Q")))
    report = dataclasses.replace(hostile.analysis.report, charts=(spec,))
    [chart] = build_charts(hostile.analysis.figures, report, REAL.fonts)

    svg = ET.fromstring(chart.svg)
    tags = {element.tag.rsplit("}", 1)[-1] for element in svg.iter()}
    assert not tags & {"script", "foreignObject", "image", "a", "iframe"}
    assert not [a for e in svg.iter() for a in e.attrib if a.lower().startswith("on")]
    labels = "".join(e.text or "" for e in svg.iter() if e.tag.endswith("text"))
    assert PAYLOADS["metrics.csv chart label"] in labels

    html = f'<html lang="zh-CN"><body style="font-family: \'Noto Sans CJK SC\'">{chart.svg}</body></html>'
    text = compact(read_pdf(write_pdf(layout_pdf(html, REAL.templates, REAL.fonts))).text)
    assert compact(PAYLOADS["metrics.csv chart label"]) in text
    evidence(record_property, "hostile content", "chart_labels", "a chart whose axis labels are the hostile labels",
             "the SVG holds them as escaped <text>; the PDF shows them literally")


# --- the PDF renderer fetches nothing it should not -------------------------------------------------------------


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers everything and writes down each request, so a test can prove there were none."""

    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { color: red }")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def loopback() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 in a thread; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@dataclass(frozen=True)
class Folders:
    templates: Path
    secret: Path  # a folder beside the templates holding what must never be read


@pytest.fixture
def folders(tmp_path: Path) -> Folders:
    templates, secret = tmp_path / "templates", tmp_path / "secret"
    templates.mkdir()
    secret.mkdir()
    (templates / "allowed.css").write_text("p { color: #123456 }", encoding="utf-8")
    (secret / "secret.css").write_text('body::after { content: "TOP-SECRET" }', encoding="utf-8")
    (secret / "secret.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><text>'
                                       'TOP-SECRET</text></svg>', encoding="utf-8")
    (templates / "linked.css").symlink_to(secret / "secret.css")
    return Folders(templates, secret)


def svg_data_url(inner: str) -> str:
    from urllib.parse import quote

    return "data:image/svg+xml," + quote(f'<svg xmlns="http://www.w3.org/2000/svg" '
                                         f'xmlns:xlink="http://www.w3.org/1999/xlink" width="9" height="9">'
                                         f"{inner}</svg>")


FORBIDDEN: dict[str, str] = {
    "img_loopback": '<img src="{net}/pixel.png">',
    "stylesheet_loopback": '<link rel="stylesheet" href="{net}/style.css">',
    "css_import_loopback": "<style>@import url({net}/imported.css);</style>",
    "css_background_loopback": '<p style="background: url({net}/bg.png)">x</p>',
    "font_face_loopback": "<style>@font-face {{ font-family: X; src: url({net}/font.woff) }} p {{ font-family: X }}"
                          "</style><p>x</p>",
    "object_loopback": '<object data="{net}/object.svg" type="image/svg+xml"></object>',
    "nested_in_data_css": '<link rel="stylesheet" href="data:text/css,@import url({net}/nested.css);">',
    "nested_in_data_svg": '<img src="{svg_nested}">',
    "img_secret_file": '<img src="file://{secret}/secret.svg">',
    "stylesheet_secret_file": '<link rel="stylesheet" href="file://{secret}/secret.css">',
    "relative_escape": '<link rel="stylesheet" href="../secret/secret.css">',
    "encoded_escape": '<link rel="stylesheet" href="%2e%2e/secret/secret.css">',
    "localhost_file_url": '<link rel="stylesheet" href="file://localhost{secret}/secret.css">',
    "symlink_in_templates": '<link rel="stylesheet" href="linked.css">',
    "ftp_url": '<img src="ftp://127.0.0.1/x.png">',
}


def render_html(body: str, net: str, folders: Folders) -> str:
    svg_nested = svg_data_url(f'<image xlink:href="{net}/in-svg.png" width="9" height="9"/>')
    return f"<html><body><p>报告</p>{body.format(net=net, secret=folders.secret, svg_nested=svg_nested)}</body></html>"


class Logged(logging.Handler):
    """The records of one logger during a test (the suite runs with pytest's logging plugin off)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def fetcher_log() -> Iterator[Logged]:
    handler, logger = Logged(), logging.getLogger("pipeline.fetcher")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.mark.parametrize("case", sorted(FORBIDDEN))
def test_renderer_refuses_network_and_files_outside_its_folders(case: str, loopback: str, folders: Folders,
                                                                fetcher_log: Logged, record_property) -> None:
    Recorder.requests.clear()
    html = render_html(FORBIDDEN[case], loopback, folders)

    with pytest.raises(RenderError) as refused:  # images inside SVG are fetched at export, not at layout
        write_pdf(layout_pdf(html, folders.templates, REAL.fonts))

    assert Recorder.requests == [], "the renderer reached the network"
    assert "refused to fetch" in str(refused.value)
    assert any("refused to fetch" in r.getMessage() for r in fetcher_log.records)
    assert "TOP-SECRET" not in str(refused.value)
    shown = {"net": "http://127.0.0.1:<port>", "secret": "<tmp>/secret",
             "svg_nested": "data:image/svg+xml,<svg><image href=http://127.0.0.1:<port>/in-svg.png/></svg>"}
    seen = str(refused.value).replace(str(folders.templates.parent), "<tmp>").replace(loopback, shown["net"])
    evidence(record_property, "hostile content", f"fetch_{case}",
             f"PDF rendering of HTML containing {FORBIDDEN[case].format(**shown)}", f"RenderError: {seen}")


def test_renderer_still_loads_what_it_may(folders: Folders, loopback: str) -> None:
    """The policy refuses the forbidden, not everything: a file under templates/ and a data: image load."""
    Recorder.requests.clear()
    image = svg_data_url('<rect width="9" height="9"/>')
    html = f'<html><head><link rel="stylesheet" href="allowed.css"></head><body><p>报告</p><img src="{image}"></body></html>'
    assert read_pdf(write_pdf(layout_pdf(html, folders.templates, REAL.fonts))).pages == 1
    assert Recorder.requests == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "file:///%2e%2e/etc/passwd", "file://evil.example/etc/passwd",
                                 "http://127.0.0.1/", "https://127.0.0.1/", "file:///templates/%00/../x",
                                 "file:///templates/%ff", "javascript:alert(1)", "not a url"])
def test_fetch_policy_refuses_urls_it_cannot_vouch_for(url: str) -> None:
    fetcher = ProjectURLFetcher([Path("/templates")])
    assert not fetcher.allows(url)


# --- names and links cannot leave sources/ or reports/ ------------------------------------------------------------

UNSAFE_NAMES = ["..", ".", "/etc", "a/../b", "../etc", "%2e%2e", "..%2f..%2fetc", "a%2fb", "a/b", "a\\b", "~root",
                "", " ", "abc\n", "abc\x00", "-abc", "ABC", "ａｂｃ", "a" * 65, "a b", "x;rm -rf", "edition?x=1"]


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_unsafe_edition_names_are_refused_by_sources_and_publish(tmp_path: Path, name: str) -> None:
    sources = copy_edition(tmp_path) / REPORT.report_id  # the report's editions
    with pytest.raises(EditionNotFound, match="is not allowed"):
        edition_dir(sources, name)
    with pytest.raises(PublishError, match="invalid edition name"):
        check_edition(name)


def test_edition_folder_linked_outside_sources_is_refused(tmp_path: Path, record_property) -> None:
    outside = edition_folder(copy_edition(tmp_path / "outside"))  # a complete, valid edition somewhere else
    sources = tmp_path / "sources" / REPORT.report_id  # the report's editions
    sources.mkdir(parents=True)
    (sources / "linked").symlink_to(outside, target_is_directory=True)

    with pytest.raises(EditionNotFound, match="is a link to a place outside") as refused:
        read_edition(sources, "linked")
    assert list_editions(sources) == []
    evidence(record_property, "hostile content", "linked_edition_folder",
             "sources/xiaomi-ecosystem/linked is a symlink to an edition folder outside sources/",
             f"EditionNotFound: {str(refused.value).replace(str(tmp_path), '<tmp>')}")


def test_edition_folder_linked_outside_reports_is_not_written(tmp_path: Path) -> None:
    reports, outside = archive_of(tmp_path / "reports"), tmp_path / "outside"
    reports.mkdir(parents=True)
    outside.mkdir()
    (reports / "linked").symlink_to(outside, target_is_directory=True)
    pdf = write_pdf(layout_pdf("<p>报告</p>", REAL.templates, REAL.fonts))

    with pytest.raises(PublishError, match="outside the archive"):
        publish(reports, "linked", pdf=pdf, html=b"<p>x</p>", pages=1, fingerprint="0" * 64, code_version="c")
    assert list(outside.iterdir()) == []
