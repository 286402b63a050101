"""One e-mail for one subscriber and one published version, as an `email.message.EmailMessage`.

Every header value passes through `header_text` first: titles, edition notes and names come from files people
edit, and a line break in one must never become a header of its own (`"…\\r\\nBcc: evil@x"`). The policy is
`email.policy.SMTP` (CRLF line ends, as sent), which would also refuse a raw line break; collapsing first means
a hostile title yields a harmless subject instead of a failed delivery.

The Message-ID is derived from (report, edition, version, address), so a resend after a crash carries the same
id and mail clients and people can recognise it as the same message."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import UTC, datetime
from email import policy
from email.header import Header
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from pipeline.lib.deliver.addresses import address_key
from pipeline.lib.deliver.errors import DeliveryError
from pipeline.lib.deliver.item import PublishedItem
from pipeline.lib.deliver.subscriptions import Subscriber
from pipeline.lib.deliver.wording import Wording

MIB = 1024 * 1024
#: Above this a subscriber who asked for the PDF gets the link: many mail servers refuse messages over 10–25 MB,
#: and base64 makes the attachment a third larger on the wire.
DEFAULT_MAX_ATTACHMENT_BYTES = 10 * MIB

# Any run of whitespace or control characters (C0, DEL, C1, and the Unicode line/paragraph separators).
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class _EncodedSubject(UnstructuredHeader, BaseHeader):
    """A Subject folded by the legacy `email.header.Header` encoder.

    The modern folder (Python 3.11–3.13) drops the space between two encoded words when it folds there, so
    "分析 — 2025年" arrives as "分析— 2025年". The legacy encoder keeps every space inside an encoded word, and
    its output is still RFC 2047 (encoded words of at most 75 characters)."""

    def fold(self, *, policy: policy.Policy) -> str:
        text = str(self)
        encoded = Header(text, "us-ascii" if text.isascii() else "utf-8", maxlinelen=policy.max_line_length,
                         header_name=self.name).encode(linesep=policy.linesep)
        return f"{self.name}: {encoded}{policy.linesep}"


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("subject", _EncodedSubject)
#: CRLF line ends as sent, and the subject folded without losing spaces.
POLICY = policy.SMTP.clone(header_factory=_HEADERS)


def header_text(value: str) -> str:
    """`value` as one line: every run of whitespace or control characters becomes a single space."""
    return _UNSAFE.sub(" ", value).strip()


def attachment_name(item: PublishedItem) -> str:
    return f"{item.edition}-{item.version}.pdf"


def message_id(item: PublishedItem, address: str, domain: str) -> str:
    """The same id for the same version and subscriber, whenever and however often it is built."""
    key = "\0".join((item.report_id, item.edition, item.version, address_key(address)))
    return f"<report.{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{domain}>"


def envelope_address(from_address: str) -> str:
    """The bare address of a From value such as `Reports <reports@example.org>`."""
    address = parseaddr(header_text(from_address))[1]
    if "@" not in address:
        raise DeliveryError(f"from address {from_address!r} has no user@domain part")
    return address


def _size(n: int) -> str:
    """1.5 MiB, 10 MiB, 12 KiB: as a reader compares sizes, not to the byte."""
    if n < MIB:
        return f"{max(1, round(n / 1024))} KiB"
    return f"{n / MIB:.1f}".removesuffix(".0") + " MiB"


def build_message(item: PublishedItem, subscriber: Subscriber, *, from_address: str, wording: Wording,
                  max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
                  date: datetime | None = None) -> EmailMessage:
    """The message announcing `item` to `subscriber`: text (and an HTML alternative) in the caller's `wording`,
    with the PDF attached when the subscriber asked for it and it is at most `max_attachment_bytes`.

    Raises DeliveryError when the PDF to attach is not the published one (its sha256 differs): mailing bytes
    other than those the archive vouches for would be worse than not mailing."""
    sender = envelope_address(from_address)
    size = item.pdf_path.stat().st_size
    attach = subscriber.format == "attachment" and size <= max_attachment_bytes
    filename = attachment_name(item)

    paragraphs: list[str] = [
        wording.greeting_named.format(name=subscriber.name) if subscriber.name else wording.greeting,
        wording.intro.format(title=item.report_title, edition=item.shown_edition, version=item.version),
        f"{wording.summary_heading}\n{item.summary.strip()}",
    ]
    if item.changes and item.changes.strip():
        paragraphs.append(f"{wording.changes_heading}\n{item.changes.strip()}")
    if attach:
        paragraphs.append(wording.attached.format(filename=filename))
    elif subscriber.format == "attachment":
        paragraphs.append(wording.too_large.format(size=_size(size), limit=_size(max_attachment_bytes)))
    paragraphs.append(wording.download.format(url=item.download_url))
    paragraphs.append(wording.footer)

    message = EmailMessage(policy=POLICY)
    message["Subject"] = header_text(f"{item.report_title} — {item.shown_edition}")
    message["From"] = header_text(from_address)
    message["To"] = Address(display_name=header_text(subscriber.name or ""), addr_spec=subscriber.address)
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = message_id(item, subscriber.address, sender.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    # base64, not 8bit: raw 8-bit text is only allowed after the server offers 8BITMIME, which smtplib does not
    # check, and CJK text is a third shorter in base64 than in quoted-printable.
    message.set_content("\n\n".join(paragraphs) + "\n", cte="base64")
    message.add_alternative(_html(paragraphs, item), subtype="html", cte="base64")
    if attach:
        data = item.pdf_path.read_bytes()
        if hashlib.sha256(data).hexdigest() != item.pdf_sha256:
            raise DeliveryError(f"{item.pdf_path}: its sha256 is not the published {item.pdf_sha256}; the file "
                                f"changed after publishing, so it is not mailed")
        message.add_attachment(data, maintype="application", subtype="pdf", filename=filename)
    # Last: set_content and add_attachment move or drop the Content-* headers already set.
    message["Content-Language"] = header_text(item.language)
    return message


def _html(paragraphs: list[str], item: PublishedItem) -> str:
    """The same paragraphs as HTML, every text escaped; the download link becomes a link."""
    blocks = []
    for text in paragraphs:
        escaped = html.escape(text).replace("\n", "<br>\n")
        url = html.escape(item.download_url)
        escaped = escaped.replace(url, f'<a href="{url}">{url}</a>')
        blocks.append(f"<p>{escaped}</p>")
    lang = html.escape(item.language, quote=True)
    return f'<!DOCTYPE html>\n<html lang="{lang}"><body>\n' + "\n".join(blocks) + "\n</body></html>\n"
