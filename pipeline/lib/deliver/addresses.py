"""E-mail addresses: checked once when the operator's file is read, and masked wherever they are shown to others.

Syntax only (email-validator with `check_deliverability=False`): a DNS look-up at load time would make reading a
settings file depend on the network, and the SMTP server's answer is the real test of deliverability anyway."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


def normalize_address(address: str) -> str:
    """The address as it is sent and keyed in the ledger; raises ValueError with email-validator's reason.

    SMTPUTF8 (non-ASCII before the @) is refused: smtplib and many servers cannot carry it, and a refusal when
    the file is read beats a failure at every send. An internationalized domain becomes its ASCII (punycode) form."""
    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    return checked.ascii_email or checked.normalized


def address_key(address: str) -> str:
    """What makes two addresses the same subscriber: case does not matter in practice, although RFC 5321 lets a
    server treat the local part's case as significant; no real mailbox relies on that."""
    return address.casefold()


def mask_address(address: str) -> str:
    """`ana.lopez@example.org` -> `a***z@example.org`: enough for a subscriber to recognise their own address on the
    download site, not enough to harvest it. Local parts of one or two characters keep only the first."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    if len(local) <= 2:
        return f"{local[:1]}***@{domain}"
    return f"{local[0]}***{local[-1]}@{domain}"
