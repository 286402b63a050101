"""Who receives a report by e-mail: `subscriptions.toml` in the report's folder, beside `report.toml`.

The file is edited by an operator, not by the report's author, so it lives apart from the definition and its
absence simply means nobody is subscribed (delivery is off until someone writes it). Its format::

    # One table per subscriber.
    [[subscriber]]
    address = "ana@example.org"   # required
    name = "Ana"                  # optional; the To header's display name
    format = "attachment"         # required: "attachment" (the PDF, when small enough) or "link"
    language = "zh-CN"            # optional; one of the report's languages, default the report's

Every entry is checked when the file is read (address syntax, no DNS; known keys only; a known format; no
address twice), and an error names the file and the line of the offending entry. tomllib keeps no positions,
so the line is found by scanning the text for the entry's `[[subscriber]]` header and the key inside it."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from pipeline.lib.deliver.addresses import address_key, normalize_address
from pipeline.lib.deliver.errors import SubscriptionError

SUBSCRIPTIONS_FILE = "subscriptions.toml"
FORMATS = ("attachment", "link")
KEYS = ("address", "name", "format", "language")
Format = Literal["attachment", "link"]

_HEADER = re.compile(r"^\s*\[\[\s*subscriber\s*\]\]\s*(#.*)?$")
_TABLE = re.compile(r"^\s*\[")  # any table header: where one subscriber's block ends


@dataclass(frozen=True)
class Subscriber:
    address: str  # normalized by email-validator (domain lowercased, IDN as punycode)
    format: Format
    language: str
    name: str | None = None


class _Lines:
    """Finds the line of an entry (or of a key inside it) in the file's text."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.headers = [n for n, line in enumerate(self.lines, start=1) if _HEADER.match(line)]

    def block(self, index: int) -> range:
        """Line numbers of entry `index`'s block: from its header to the next table header."""
        start = self.headers[index]
        end = start
        while end < len(self.lines) and not _TABLE.match(self.lines[end]):
            end += 1
        return range(start, end + 1)

    def of(self, index: int, key: str | None = None) -> int | None:
        if index >= len(self.headers):  # not written as [[subscriber]] tables (an inline array): no line to name
            return None
        if key is not None:
            pattern = re.compile(rf"^\s*(\"{re.escape(key)}\"|'{re.escape(key)}'|{re.escape(key)})\s*=")
            for number in self.block(index):
                if pattern.match(self.lines[number - 1]):
                    return number
        return self.headers[index]

    def where(self, index: int, key: str | None = None) -> str:
        line = self.of(index, key)
        return f"{self.path}, line {line}" if line else f"{self.path}, subscriber {index + 1}"

    def top_level(self, key: str) -> str:
        pattern = re.compile(rf"^\s*\[*\s*{re.escape(key)}\b")
        for number, line in enumerate(self.lines, start=1):
            if pattern.match(line):
                return f"{self.path}, line {number}"
        return str(self.path)


def load_subscriptions(report_folder: Path, *, default_language: str,
                       languages: Collection[str] = ()) -> tuple[Subscriber, ...]:
    """The subscribers of the report in `report_folder`, in file order; () when it has no subscriptions file.

    `languages` are the languages the report is published in (default: only `default_language`); a subscriber
    may pick one of them."""
    path = report_folder / SUBSCRIPTIONS_FILE
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        return ()
    except UnicodeDecodeError as error:
        raise SubscriptionError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SubscriptionError(f"{path}: not valid TOML ({error})") from None
    lines = _Lines(path, text)
    for key in data:
        if key != "subscriber":
            raise SubscriptionError(f"{lines.top_level(key)}: unknown key {key!r}; the file holds only "
                                    f"[[subscriber]] tables")
    entries = data.get("subscriber", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SubscriptionError(f"{lines.top_level('subscriber')}: 'subscriber' must be [[subscriber]] tables")
    allowed = {default_language, *languages}
    subscribers: list[Subscriber] = []
    first_line: dict[str, int] = {}
    for index, entry in enumerate(cast(list[dict[str, Any]], entries)):
        subscriber = _subscriber(entry, index, lines, default_language, allowed)
        key = address_key(subscriber.address)
        if key in first_line:
            earlier = first_line[key]
            raise SubscriptionError(f"{lines.where(index, 'address')}: {subscriber.address!r} is already subscribed "
                                    f"(subscriber {earlier + 1}, {lines.where(earlier, 'address')}); "
                                    f"each address may appear once")
        first_line[key] = index
        subscribers.append(subscriber)
    return tuple(subscribers)


def _subscriber(entry: dict[str, Any], index: int, lines: _Lines, default_language: str,
                allowed: set[str]) -> Subscriber:
    for key in entry:
        if key not in KEYS:
            raise SubscriptionError(f"{lines.where(index, key)}: unknown key {key!r}; one of {', '.join(KEYS)}")
    address = entry.get("address")
    if not isinstance(address, str) or not address.strip():
        raise SubscriptionError(f"{lines.where(index)}: address is required (text)")
    try:
        normalized = normalize_address(address.strip())
    except ValueError as error:
        raise SubscriptionError(f"{lines.where(index, 'address')}: {address!r} is not a valid e-mail address: "
                                f"{error}") from None
    form = entry.get("format")
    if form not in FORMATS:
        got = "" if form is None else f" (got {form!r})"
        raise SubscriptionError(f"{lines.where(index, 'format' if form is not None else None)}: format must be "
                                f"one of {', '.join(repr(f) for f in FORMATS)}{got}")
    name = entry.get("name")
    if name is not None:
        # A display name goes into the To header: no line breaks or control characters, ever.
        if not isinstance(name, str) or not name.strip() or any(not c.isprintable() for c in name):
            raise SubscriptionError(f"{lines.where(index, 'name')}: name must be one line of printable text "
                                    f"(got {name!r})")
        name = name.strip()
    language = entry.get("language", default_language)
    if not isinstance(language, str) or language not in allowed:
        raise SubscriptionError(f"{lines.where(index, 'language')}: language {language!r} is not one the report "
                                f"is published in ({', '.join(sorted(allowed))})")
    return Subscriber(address=normalized, format=cast(Format, form), language=language, name=name)
