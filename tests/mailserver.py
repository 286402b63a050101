"""A real SMTP server on loopback for the delivery tests: aiosmtpd with a handler that keeps what it accepts, or
refuses at RCPT or DATA with a fixed answer."""

from __future__ import annotations

import asyncio
import socket
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller

from pipeline.lib.deliver import SmtpSettings

FROM = "Reports <reports@example.org>"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Recorder:
    """An aiosmtpd handler that keeps every accepted message, or answers RCPT / DATA with a fixed refusal."""

    def __init__(self, rcpt_reply: str | None = None, data_reply: str | None = None, data_delay: float = 0.0):
        self.rcpt_reply, self.data_reply, self.data_delay = rcpt_reply, data_reply, data_delay
        self.rcpt_calls = 0
        self.received: list[tuple[str, list[str], bytes]] = []  # (mail from, recipients, message bytes)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        self.rcpt_calls += 1
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_reply:
            return self.data_reply
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(content) for _, _, content in self.received]  # type: ignore[misc]


class Server:
    def __init__(self, handler: Recorder) -> None:
        self.handler = handler
        self.port = free_port()
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port)

    def settings(self) -> SmtpSettings:
        return SmtpSettings(host="127.0.0.1", port=self.port, security="none", from_address=FROM, timeout=5)


