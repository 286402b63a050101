"""E-mail delivery against a real SMTP server (aiosmtpd on loopback), a real SQLite ledger and a real PDF.

Every expected header, body and error text is written out by hand; servers that refuse, are down, or drop the
connection are real servers (or a real socket) that do exactly that."""

from __future__ import annotations

import hashlib
import multiprocessing
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import weasyprint

from pipeline.lib.deliver import (
    DeliveryError,
    Ledger,
    PublishedItem,
    SmtpSettings,
    Subscriber,
    SubscriptionError,
    build_message,
    deliver_version,
    load_subscriptions,
    mask_address,
)
from pipeline.lib.deliver.wording import EN, ZH_CN
from tests.mailserver import FROM, Recorder, Server, free_port

TITLE = "小米“人车家全生态”战略分析"
EDITION = "xiaomi-ecosystem-2025h1"
URL = "https://reports.example.org/latest/xiaomi-ecosystem-2025h1.pdf"
ANA = Subscriber(address="ana@example.org", format="attachment", language="zh-CN", name="Ana")
BO = Subscriber(address="bo@example.org", format="link", language="zh-CN")
CY = Subscriber(address="cy@example.org", format="attachment", language="zh-CN")


# --- fixtures: a PDF, an SMTP server, the item -------------------------------------------------------------------

@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    path.write_bytes(weasyprint.HTML(string="<p>hi</p>").write_pdf())
    return path


def make_item(pdf: Path, **changes: Any) -> PublishedItem:
    fields: dict[str, Any] = dict(
        report_id="xiaomi-ecosystem", report_title=TITLE, language="zh-CN", edition=EDITION,
        edition_title="2025年上半年", version="v0002", pdf_path=pdf,
        pdf_sha256=hashlib.sha256(pdf.read_bytes()).hexdigest(), download_url=URL,
        summary="营收同比增长 30%。", changes="更正了 IoT 设备数。")
    fields.update(changes)
    return PublishedItem(**fields)


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """A factory: `smtp_server(Recorder(...))` starts a real SMTP server on loopback, stopped after the test."""
    started: list[Server] = []

    def start(handler: Recorder | None = None) -> Server:
        server = Server(handler or Recorder())
        server.controller.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.controller.stop()


class DroppingServer:
    """A raw socket server that greets, answers EHLO and MAIL, then closes the connection at RCPT."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn, conn.makefile("rb") as lines:
                conn.sendall(b"220 drop.test ESMTP\r\n")
                for line in lines:
                    verb = line[:4].upper()
                    if verb == b"RCPT":
                        break  # close mid-session
                    conn.sendall(b"250 drop.test\r\n" if verb == b"EHLO" else b"250 OK\r\n")

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()


# --- the message as received -------------------------------------------------------------------------------------

def test_a_subscriber_receives_the_report_with_its_pdf(smtp_server: Any, pdf: Path, tmp_path: Path) -> None:
    server = smtp_server()
    result = deliver_version(make_item(pdf), [ANA], server.settings(), tmp_path / "ledger.sqlite3", base_delay=0.01)

    assert [s.address for s in result.sent] == ["ana@example.org"] and not result.failed and not result.skipped
    (mail_from, recipients, _), = server.handler.received
    assert mail_from == "reports@example.org"
    assert recipients == ["ana@example.org"]
    message, = server.handler.messages()
    assert message["From"] == "Reports <reports@example.org>"
    assert message["To"] == "Ana <ana@example.org>"
    assert message["Subject"] == "小米“人车家全生态”战略分析 — 2025年上半年"
    assert message["Content-Language"] == "zh-CN"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] == result.sent[0].message_id
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == (
        "Ana，您好：\n\n"
        "小米“人车家全生态”战略分析（2025年上半年）已发布新版本 v0002。\n\n"
        "摘要\n营收同比增长 30%。\n\n"
        "本版变化\n更正了 IoT 设备数。\n\n"
        "PDF 文件见附件（xiaomi-ecosystem-2025h1-v0002.pdf）。\n\n"
        "下载链接：https://reports.example.org/latest/xiaomi-ecosystem-2025h1.pdf\n\n"
        "您收到此邮件，是因为您订阅了本报告。如需退订，请联系报告负责人。\n")
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    assert '<a href="https://reports.example.org/latest/xiaomi-ecosystem-2025h1.pdf">' in html.get_content()
    attachment, = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "xiaomi-ecosystem-2025h1-v0002.pdf"
    assert hashlib.sha256(attachment.get_content()).hexdigest() == hashlib.sha256(pdf.read_bytes()).hexdigest()


def test_a_link_subscriber_gets_no_attachment_and_english_text(pdf: Path) -> None:
    bo = Subscriber(address="bo@example.org", format="link", language="en")
    item = make_item(pdf, report_title="Bakery review", language="en", edition_title=None, changes=None,
                     summary="Revenue rose.")
    message = build_message(item, bo, from_address=FROM, wording=EN)

    assert message["Subject"] == "Bakery review — xiaomi-ecosystem-2025h1"
    assert message["To"] == "bo@example.org"
    assert list(message.iter_attachments()) == []
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == (
        "Hello,\n\n"
        "A new version of Bakery review (xiaomi-ecosystem-2025h1) is published: v0002.\n\n"
        "Summary\nRevenue rose.\n\n"
        "Download: https://reports.example.org/latest/xiaomi-ecosystem-2025h1.pdf\n\n"
        "You receive this because you are subscribed to this report; to stop, ask the report's operator.\n")


def test_a_pdf_over_the_limit_is_linked_with_the_reason(pdf: Path) -> None:
    size_kib = round(pdf.stat().st_size / 1024)
    assert size_kib > 1  # the generated PDF is a few KiB
    message = build_message(make_item(pdf), ANA, from_address=FROM, wording=ZH_CN, max_attachment_bytes=1024)
    assert list(message.iter_attachments()) == []
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert f"PDF 文件（{size_kib} KiB）超过邮件附件上限（1 KiB），因此本邮件只附下载链接。" in body.get_content()


def test_a_pdf_that_is_not_the_published_one_is_not_mailed(pdf: Path) -> None:
    with pytest.raises(DeliveryError, match="its sha256 is not the published"):
        build_message(make_item(pdf, pdf_sha256="0" * 64), ANA, from_address=FROM, wording=ZH_CN)


def test_the_message_id_is_the_same_for_a_resend_and_differs_per_subscriber(pdf: Path) -> None:
    item = make_item(pdf)
    first = build_message(item, ANA, from_address=FROM, wording=ZH_CN)["Message-ID"]
    again = build_message(item, ANA, from_address=FROM, wording=ZH_CN)["Message-ID"]
    other = build_message(item, CY, from_address=FROM, wording=ZH_CN)["Message-ID"]
    assert first == again != other
    assert first.startswith("<report.") and first.endswith("@example.org>")


def test_header_injection_creates_no_header_and_no_recipient(smtp_server: Any, pdf: Path, tmp_path: Path) -> None:
    server = smtp_server()
    item = make_item(pdf, report_title="Quarterly\r\nBcc: evil@example.org", edition_title="H1\nX-Evil: 1")
    sly = Subscriber(address="ana@example.org", format="link", language="zh-CN",
                     name="Ana\r\nBcc: evil@example.org")
    result = deliver_version(item, [sly], server.settings(), tmp_path / "ledger.sqlite3", base_delay=0.01)

    assert len(result.sent) == 1
    (_, recipients, raw), = server.handler.received
    assert recipients == ["ana@example.org"]
    assert b"\r\nBcc:" not in raw and b"\r\nX-Evil:" not in raw
    message, = server.handler.messages()
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == "Quarterly Bcc: evil@example.org — H1 X-Evil: 1"
    assert [a.addr_spec for a in message["To"].addresses] == ["ana@example.org"]
    assert message["To"].addresses[0].display_name == "Ana Bcc: evil@example.org"


# --- failures -----------------------------------------------------------------------------------------------------

def test_a_temporary_refusal_is_retried_then_failed_and_a_later_run_delivers_once(
        smtp_server: Any, pdf: Path, tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.sqlite3"
    busy = smtp_server(Recorder(rcpt_reply="451 try again later"))
    result = deliver_version(make_item(pdf), [ANA], busy.settings(), ledger_path, attempts=3, base_delay=0.01)

    assert busy.handler.rcpt_calls == 3
    assert result.sent == [] and len(result.failed) == 1
    failed = result.failed[0]
    assert failed.attempts == 3
    assert failed.error == f"127.0.0.1:{busy.port} refused the recipient: ana@example.org: 451 try again later"
    with Ledger(ledger_path) as ledger:
        record, = ledger.deliveries_for("xiaomi-ecosystem", EDITION, "v0002")
    assert (record.status, record.attempts, record.last_error, record.sent_at) == ("failed", 3, failed.error, None)

    working = smtp_server()
    later = deliver_version(make_item(pdf), [ANA], working.settings(), ledger_path, base_delay=0.01)
    again = deliver_version(make_item(pdf), [ANA], working.settings(), ledger_path, base_delay=0.01)
    assert [s.address for s in later.sent] == ["ana@example.org"]
    assert again.sent == [] and [(s.address, s.reason) for s in again.skipped] == [("ana@example.org", "already sent")]
    assert len(working.handler.received) == 1
    with Ledger(ledger_path) as ledger:
        record, = ledger.deliveries_for("xiaomi-ecosystem", EDITION, "v0002")
    assert (record.status, record.attempts, record.last_error) == ("sent", 4, None)
    assert record.sent_at is not None


def test_a_permanent_refusal_is_not_repeated_at_once(smtp_server: Any, pdf: Path, tmp_path: Path) -> None:
    refusing = smtp_server(Recorder(rcpt_reply="550 mailbox unavailable"))
    result = deliver_version(make_item(pdf), [ANA, CY], refusing.settings(), tmp_path / "l.sqlite3",
                             attempts=3, base_delay=0.01)
    assert refusing.handler.rcpt_calls == 2  # one try per subscriber: the server said no for good
    assert [(f.address, f.error, f.attempts) for f in result.failed] == [
        ("ana@example.org", f"127.0.0.1:{refusing.port} refused the recipient: ana@example.org: 550 mailbox unavailable", 1),
        ("cy@example.org", f"127.0.0.1:{refusing.port} refused the recipient: cy@example.org: 550 mailbox unavailable", 1),
    ]


def test_a_refused_message_body_fails_with_the_servers_answer(smtp_server: Any, pdf: Path, tmp_path: Path) -> None:
    refusing = smtp_server(Recorder(data_reply="554 message rejected as spam"))
    result = deliver_version(make_item(pdf), [ANA], refusing.settings(), tmp_path / "l.sqlite3", base_delay=0.01)
    assert [(f.error, f.attempts) for f in result.failed] == [
        (f"127.0.0.1:{refusing.port} answered 554 message rejected as spam", 1)]


def test_a_server_that_is_down_fails_after_the_retries(pdf: Path, tmp_path: Path) -> None:
    port = free_port()  # bound and released: nothing listens there
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none", from_address=FROM, timeout=5)
    result = deliver_version(make_item(pdf), [ANA, CY], settings, tmp_path / "l.sqlite3", attempts=2, base_delay=0.01)
    assert [(f.address, f.error, f.attempts) for f in result.failed] == [
        ("ana@example.org", f"cannot connect to 127.0.0.1:{port}: Connection refused", 2),
        ("cy@example.org", f"cannot connect to 127.0.0.1:{port}: Connection refused", 2),
    ]


def test_a_server_that_drops_the_connection_fails_clearly(pdf: Path, tmp_path: Path) -> None:
    dropping = DroppingServer()
    try:
        settings = SmtpSettings(host="127.0.0.1", port=dropping.port, security="none", from_address=FROM, timeout=5)
        result = deliver_version(make_item(pdf), [ANA], settings, tmp_path / "l.sqlite3", attempts=2, base_delay=0.01)
    finally:
        dropping.stop()
    assert dropping.connections == 2
    assert [(f.error, f.attempts) for f in result.failed] == [
        (f"127.0.0.1:{dropping.port} closed the connection during the session (Connection unexpectedly closed)", 2)]


def test_starttls_against_a_server_without_it_says_so(smtp_server: Any, pdf: Path, tmp_path: Path) -> None:
    server = smtp_server()
    settings = SmtpSettings(host="127.0.0.1", port=server.port, security="starttls", from_address=FROM, timeout=5)
    result = deliver_version(make_item(pdf), [ANA], settings, tmp_path / "l.sqlite3", base_delay=0.01)
    assert [f.error for f in result.failed] == [
        f"127.0.0.1:{server.port}: STARTTLS extension not supported by server."]
    assert server.handler.received == []


# --- exactly once -------------------------------------------------------------------------------------------------

def test_a_rerun_sends_nothing_new(smtp_server: Any, pdf: Path, tmp_path: Path) -> None:
    server = smtp_server()
    ledger_path = tmp_path / "ledger.sqlite3"
    first = deliver_version(make_item(pdf), [ANA, BO], server.settings(), ledger_path, base_delay=0.01)
    second = deliver_version(make_item(pdf), [ANA, BO], server.settings(), ledger_path, base_delay=0.01)

    assert [s.address for s in first.sent] == ["ana@example.org", "bo@example.org"]
    assert second.sent == [] and [s.reason for s in second.skipped] == ["already sent", "already sent"]
    assert sorted(r for _, (r,), _ in server.handler.received) == ["ana@example.org", "bo@example.org"]
    with Ledger(ledger_path) as ledger:
        records = ledger.deliveries_for("xiaomi-ecosystem", EDITION, "v0002")
    assert [(r.address, r.status, r.attempts) for r in records] == [
        ("ana@example.org", "sent", 1), ("bo@example.org", "sent", 1)]
    # a new version is a new delivery
    third = deliver_version(make_item(pdf, version="v0003"), [ANA], server.settings(), ledger_path, base_delay=0.01)
    assert [s.address for s in third.sent] == ["ana@example.org"]


def _deliver_in_process(port: int, ledger_path: str, pdf_path: str, barrier: Any, out: Any) -> None:
    """A child process's delivery run; reports whom it sent to and whom it skipped."""
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none", from_address=FROM, timeout=10)
    item = make_item(Path(pdf_path))
    barrier.wait(timeout=60)
    result = deliver_version(item, [ANA, BO, CY], settings, Path(ledger_path), base_delay=0.01)
    out.put(([s.address for s in result.sent], [s.address for s in result.skipped], len(result.failed)))


def test_two_processes_at_once_never_both_send(smtp_server: Any, pdf: Path, tmp_path: Path) -> None:
    server = smtp_server(Recorder(data_delay=0.2))  # slow acceptance: the two runs overlap for sure
    context = multiprocessing.get_context("spawn")  # no fork of a process that runs the server's thread
    barrier, out = context.Barrier(2), context.Queue()
    args = (server.port, str(tmp_path / "ledger.sqlite3"), str(pdf), barrier, out)
    workers = [context.Process(target=_deliver_in_process, args=args) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    outcomes = [out.get(timeout=5) for _ in workers]

    assert sorted(r for _, (r,), _ in server.handler.received) == ["ana@example.org", "bo@example.org",
                                                                    "cy@example.org"]
    sent_by_either = sorted(address for sent, _, _ in outcomes for address in sent)
    assert sent_by_either == ["ana@example.org", "bo@example.org", "cy@example.org"]  # each by one process only
    assert sorted(address for _, skipped, _ in outcomes for address in skipped) == sent_by_either
    assert [failed for _, _, failed in outcomes] == [0, 0]


def test_a_stale_claim_may_be_taken_over(tmp_path: Path) -> None:
    from datetime import timedelta

    from pipeline.lib.deliver import Claim, DeliveryKey

    key = DeliveryKey("r", "e", "v0001", "ana@example.org")
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        assert ledger.claim(key, "<a@x>") is Claim.CLAIMED  # and then the process "dies"
        assert ledger.claim(key, "<a@x>") is Claim.IN_PROGRESS
        assert ledger.claim(key, "<a@x>", stale_after=timedelta(0)) is Claim.CLAIMED
        ledger.mark_sent(key, attempts=1)
        assert ledger.claim(key, "<a@x>", stale_after=timedelta(0)) is Claim.ALREADY_SENT


# --- subscriptions.toml -------------------------------------------------------------------------------------------

def write(folder: Path, text: str) -> Path:
    path = folder / "subscriptions.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_subscriptions_file(tmp_path: Path) -> None:
    write(tmp_path, '# who gets the report\n'
                    '[[subscriber]]\n'
                    'address = "Ana.Lopez@Example.ORG"\n'
                    'name = "Ana López"\n'
                    'format = "attachment"\n'
                    '\n'
                    '[[subscriber]]\n'
                    'address = "bo@example.org"\n'
                    'format = "link"\n'
                    'language = "en"\n')
    assert load_subscriptions(tmp_path, default_language="zh-CN", languages=("zh-CN", "en")) == (
        Subscriber(address="Ana.Lopez@example.org", format="attachment", language="zh-CN", name="Ana López"),
        Subscriber(address="bo@example.org", format="link", language="en", name=None),
    )


def test_no_subscriptions_file_means_no_subscribers(tmp_path: Path) -> None:
    assert load_subscriptions(tmp_path, default_language="zh-CN") == ()


def test_a_bad_address_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[[subscriber]]\n'
                           'address = "ana@example.org"\n'
                           'format = "link"\n'
                           '\n'
                           '[[subscriber]]\n'
                           'name = "Bo"\n'
                           'address = "bo at example.org"\n'
                           'format = "link"\n')
    with pytest.raises(SubscriptionError) as raised:
        load_subscriptions(tmp_path, default_language="zh-CN")
    assert str(raised.value).startswith(f"{path}, line 7: 'bo at example.org' is not a valid e-mail address: ")


def test_a_duplicate_address_names_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, '[[subscriber]]\n'
                           'address = "ana@example.org"\n'
                           'format = "link"\n'
                           '[[subscriber]]\n'
                           'format = "attachment"\n'
                           'address = "ANA@example.org"\n')
    with pytest.raises(SubscriptionError) as raised:
        load_subscriptions(tmp_path, default_language="zh-CN")
    assert str(raised.value) == (f"{path}, line 6: 'ANA@example.org' is already subscribed (subscriber 1, {path}, "
                                 f"line 2); each address may appear once")


def test_an_unknown_format_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[[subscriber]]\n'
                           'address = "ana@example.org"\n'
                           'name = "Ana"\n'
                           'format = "pdf"\n')
    with pytest.raises(SubscriptionError) as raised:
        load_subscriptions(tmp_path, default_language="zh-CN")
    assert str(raised.value) == f"{path}, line 4: format must be one of 'attachment', 'link' (got 'pdf')"


def test_an_unknown_key_and_an_unoffered_language_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[[subscriber]]\naddress = "ana@example.org"\nformat = "link"\nadress = "x"\n')
    with pytest.raises(SubscriptionError) as raised:
        load_subscriptions(tmp_path, default_language="zh-CN")
    assert str(raised.value) == f"{path}, line 4: unknown key 'adress'; one of address, name, format, language"

    write(tmp_path, '[[subscriber]]\naddress = "ana@example.org"\nformat = "link"\nlanguage = "fr"\n')
    with pytest.raises(SubscriptionError) as raised:
        load_subscriptions(tmp_path, default_language="zh-CN")
    assert str(raised.value) == (f"{path}, line 4: language 'fr' is not one the report is published in (zh-CN)")


def test_mask_address() -> None:
    assert mask_address("ana.lopez@example.org") == "a***z@example.org"
    assert mask_address("al@example.org") == "a***@example.org"
