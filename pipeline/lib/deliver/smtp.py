"""Sending one message through an SMTP server with the standard library, and saying why it failed.

One connection per message: deliveries are a handful of messages per published version, and a fresh
connection per try means a retry never inherits a half-broken session."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

from pipeline.lib.deliver.errors import DeliveryError
from pipeline.lib.deliver.message import envelope_address

Security = Literal["starttls", "tls", "none"]
SECURITIES = ("starttls", "tls", "none")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: Security = "starttls"  # "tls": implicit TLS (usually port 465); "none": only for a loopback relay
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line or a traceback's locals repr
    from_address: str = ""  # e.g. "Reports <reports@example.org>"
    timeout: float = 30.0  # seconds for connecting and for each server answer

    def __post_init__(self) -> None:
        if self.security not in SECURITIES:
            raise DeliveryError(f"SMTP security must be one of {', '.join(SECURITIES)} (got {self.security!r})")
        if not 0 < self.port < 65536:
            raise DeliveryError(f"SMTP port must be 1-65535 (got {self.port})")
        if (self.username is None) != (self.password is None):
            raise DeliveryError("SMTP username and password go together: give both or neither")
        envelope_address(self.from_address)  # raises DeliveryError when it has no address


class SmtpFailure(Exception):
    """One try failed; `text` is what the server answered (or why there was no server), `permanent` whether
    trying again could help (RFC 5321: a 5yz reply is a permanent failure, a 4yz or a lost connection is not)."""

    def __init__(self, text: str, *, permanent: bool) -> None:
        super().__init__(text)
        self.text = text
        self.permanent = permanent


def _reply(code: int, answer: bytes | str) -> str:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer
    return f"{code} {' '.join(text.split())}"


def describe(error: Exception, settings: SmtpSettings) -> SmtpFailure:
    """The failure as a person reads it: the server's code and words, or the connection error."""
    server = f"{settings.host}:{settings.port}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = [(code, _reply(code, answer)) for code, answer in error.recipients.values()]
        text = "; ".join(f"{address}: {reply}" for address, (_, reply) in zip(error.recipients, replies, strict=True))
        return SmtpFailure(f"{server} refused the recipient: {text}",
                           permanent=all(code >= 500 for code, _ in replies))
    if isinstance(error, smtplib.SMTPResponseException):  # sender refused, DATA refused, login refused, …
        return SmtpFailure(f"{server} answered {_reply(error.smtp_code, error.smtp_error)}",
                           permanent=error.smtp_code >= 500)
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return SmtpFailure(f"{server} closed the connection during the session ({error or 'no reason given'})",
                           permanent=False)
    if isinstance(error, smtplib.SMTPNotSupportedError):  # e.g. STARTTLS required but not offered
        return SmtpFailure(f"{server}: {error}", permanent=True)
    if isinstance(error, ssl.SSLError):
        return SmtpFailure(f"TLS with {server} failed: {error}", permanent=True)
    if isinstance(error, TimeoutError):
        return SmtpFailure(f"{server} did not answer within {settings.timeout:g} s", permanent=False)
    if isinstance(error, OSError):  # refused, unreachable, name not resolved
        return SmtpFailure(f"cannot connect to {server}: {error.strerror or error}", permanent=False)
    return SmtpFailure(f"{server}: {type(error).__name__}: {error}", permanent=True)


def send(settings: SmtpSettings, message: EmailMessage, *, recipients: Sequence[str] | None = None) -> None:
    """Send `message` to `recipients` (default: the addresses of its To header) and return once the server has
    accepted it for every recipient; raises SmtpFailure otherwise.

    The envelope recipients are given explicitly, never read from Cc or Bcc headers: whatever a header holds, the
    message goes only where the caller says."""
    to = list(recipients) if recipients is not None else [a.addr_spec for a in message["To"].addresses]
    client: smtplib.SMTP | None = None
    try:
        context = ssl.create_default_context()
        client = (smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
                  if settings.security == "tls" else smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout))
        if settings.security == "starttls":
            client.starttls(context=context)
        if settings.username is not None and settings.password is not None:
            client.login(settings.username, settings.password)
        refused = client.send_message(message, from_addr=envelope_address(settings.from_address), to_addrs=to)
    except (smtplib.SMTPException, OSError) as error:
        raise describe(error, settings) from error
    finally:
        if client is not None:
            _quit(client)
    if refused:  # only when some recipients were accepted; deliveries send to one, so this is defensive
        raise describe(smtplib.SMTPRecipientsRefused(refused), settings)


def _quit(client: smtplib.SMTP) -> None:
    """Say goodbye, ignoring the answer: once DATA was accepted the message is the server's, and a failed QUIT
    must not turn a delivered message into a failure that a retry would send again."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
