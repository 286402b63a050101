"""Delivering one published version to its subscribers: claim in the ledger, send with retries, record.

Each subscriber is independent: a refused address or a server that is down for one message is recorded as
failed and the next subscriber is tried. A run therefore always finishes with every subscriber in one of four
states, which `DeliveryResult` lists: sent now, already sent (by an earlier run), in progress in another
process, or failed with the server's last answer. The ledger's docstring says what a crash in the middle
leads to (at-least-once)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from pipeline.lib.deliver.errors import DeliveryError
from pipeline.lib.deliver.item import PublishedItem
from pipeline.lib.deliver.ledger import DEFAULT_STALE_AFTER, Claim, DeliveryKey, Ledger
from pipeline.lib.deliver.message import (
    DEFAULT_MAX_ATTACHMENT_BYTES,
    build_message,
    envelope_address,
    message_id,
)
from pipeline.lib.deliver.smtp import SmtpFailure, SmtpSettings, send
from pipeline.lib.deliver.subscriptions import Subscriber
from pipeline.lib.deliver.wording import Wording, wording_for


@dataclass(frozen=True)
class Sent:
    address: str
    message_id: str
    attempts: int


@dataclass(frozen=True)
class Skipped:
    address: str
    reason: str  # "already sent" or "in progress" (another process claimed it)


@dataclass(frozen=True)
class Failed:
    address: str
    error: str  # the server's last answer, e.g. "127.0.0.1:2525 answered 550 mailbox unavailable"
    attempts: int


@dataclass(frozen=True)
class DeliveryResult:
    sent: list[Sent] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def deliver_version(item: PublishedItem, subscribers: Sequence[Subscriber], settings: SmtpSettings,
                    ledger_path: Path, *, wording: Wording | None = None, attempts: int = 3,
                    base_delay: float = 2.0, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
                    stale_after: timedelta = DEFAULT_STALE_AFTER) -> DeliveryResult:
    """Send `item` to every subscriber of its language that has not had it yet, at most once each.

    A try that fails for a reason that may pass (a 4yz reply, a lost or refused connection) is repeated up to
    `attempts` tries in all, waiting `base_delay` seconds, then twice that, and so on. A permanent refusal (a 5yz
    reply) is not repeated within the run: the server has said no, and asking again at once only looks like
    abuse; the row is "failed" and the next run tries it again. Subscribers who chose another language are not
    this item's audience; they receive the item published in their language, by its own call."""
    if attempts < 1:
        raise DeliveryError(f"attempts must be at least 1 (got {attempts})")
    wording = wording or wording_for(item.language)
    if not item.pdf_path.is_file():
        raise DeliveryError(f"{item.pdf_path}: the published PDF is missing; nothing was sent")
    domain = envelope_address(settings.from_address).rpartition("@")[2]
    result = DeliveryResult()
    with Ledger(ledger_path) as ledger:
        for subscriber in subscribers:
            if subscriber.language != item.language:
                continue
            key = DeliveryKey(item.report_id, item.edition, item.version, subscriber.address)
            msgid = message_id(item, subscriber.address, domain)
            claim = ledger.claim(key, msgid, stale_after=stale_after)
            if claim is not Claim.CLAIMED:
                result.skipped.append(Skipped(subscriber.address, claim.value))
                continue
            tries = 0
            try:
                message = build_message(item, subscriber, from_address=settings.from_address, wording=wording,
                                        max_attachment_bytes=max_attachment_bytes)
                while True:
                    tries += 1
                    try:
                        send(settings, message, recipients=[subscriber.address])
                        break
                    except SmtpFailure as failure:
                        if failure.permanent or tries >= attempts:
                            raise
                        time.sleep(base_delay * 2 ** (tries - 1))
            except SmtpFailure as failure:
                ledger.mark_failed(key, failure.text, attempts=tries)
                result.failed.append(Failed(subscriber.address, failure.text, tries))
                continue
            except BaseException as error:  # a bug or a bad PDF: never leave the row "sending" while we live
                ledger.mark_failed(key, f"{type(error).__name__}: {error}", attempts=tries)
                raise
            ledger.mark_sent(key, attempts=tries)
            result.sent.append(Sent(subscriber.address, msgid, tries))
    return result
