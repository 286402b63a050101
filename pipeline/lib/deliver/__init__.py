"""E-mail delivery of published reports: plain functions, no Dagster.

A published version is announced to the report's subscribers, each at most once per version, across reruns
and concurrent processes. The package is split by job:

- :mod:`.subscriptions`: who is subscribed (`subscriptions.toml` in the report's folder) and its checks;
- :mod:`.addresses`: address syntax (email-validator) and masking for display;
- :mod:`.item`: :class:`PublishedItem`, the facts about one published version the caller hands in;
- :mod:`.wording`: the sentences of a message, per language;
- :mod:`.message`: one `EmailMessage` per subscriber, header-injection safe, deterministic Message-ID;
- :mod:`.ledger`: the SQLite ledger that makes sending exactly-once (at-least-once after a crash mid-send);
- :mod:`.smtp`: :class:`SmtpSettings` and :func:`send` over smtplib, with the server's answer on failure;
- :mod:`.delivery`: :func:`deliver_version`, claim → send with retries → record, for every subscriber.
"""

from __future__ import annotations

from pipeline.lib.deliver.addresses import mask_address, normalize_address
from pipeline.lib.deliver.delivery import DeliveryResult, Failed, Sent, Skipped, deliver_version
from pipeline.lib.deliver.errors import DeliveryError, SubscriptionError
from pipeline.lib.deliver.item import PublishedItem
from pipeline.lib.deliver.ledger import LEDGER_FILE, Claim, DeliveryKey, DeliveryRecord, Ledger, read_deliveries
from pipeline.lib.deliver.message import DEFAULT_MAX_ATTACHMENT_BYTES, build_message, header_text, message_id
from pipeline.lib.deliver.smtp import SmtpFailure, SmtpSettings, send
from pipeline.lib.deliver.subscriptions import SUBSCRIPTIONS_FILE, Subscriber, load_subscriptions
from pipeline.lib.deliver.wording import EN, ZH_CN, Wording, wording_for

__all__ = [
    "DEFAULT_MAX_ATTACHMENT_BYTES", "EN", "LEDGER_FILE", "SUBSCRIPTIONS_FILE", "ZH_CN", "Claim", "DeliveryError", "DeliveryKey",
    "DeliveryRecord", "DeliveryResult", "Failed", "Ledger", "PublishedItem", "Sent", "Skipped", "SmtpFailure",
    "SmtpSettings", "Subscriber", "SubscriptionError", "Wording", "build_message", "deliver_version",
    "header_text", "load_subscriptions", "mask_address", "message_id", "normalize_address", "read_deliveries", "send", "wording_for",
]
