"""Who has been sent which version: an exactly-once ledger in SQLite, shared by every process that delivers.

One row per (report, edition, version, address). A delivery is *claimed* before it is sent: `claim` turns the
row into "sending" inside `BEGIN IMMEDIATE`, which takes SQLite's write lock before reading, so of two processes
claiming the same row one waits and then sees the other's claim; they never both send. A row that is "sent" is
never claimed again: a rerun, a second run, or a run of another process sends nothing to that address.

**A crash between sending and `mark_sent`.** SMTP gives no idempotency: once the server has accepted the
message there is no way to ask it whether it did, so a "sending" row left by a process that died cannot tell
whether the mail went out. We choose *at-least-once* for that case: a "sending" row older than `stale_after`
(default 30 minutes, far longer than any send with its retries) may be claimed again, and the message then goes
out a second time with the same Message-ID, which mail clients and people can recognise. The alternative,
at-most-once (never retry a stale "sending"), would silently drop the report for that subscriber; a duplicate
of an announcement is the smaller harm. A "failed" row is claimed again by the next run.

The file is opened in WAL mode (readers, such as the download site's "who got it", never block a sender) with
`synchronous=FULL`, so a committed "sent" survives a power cut and is never followed by a resend."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from types import TracebackType

from pipeline.lib.locks import exclusive

#: The ledger's file in a report's local archive folder (a dot name: the archive's readers ignore it).
LEDGER_FILE = ".deliveries.sqlite3"
#: How long a "sending" row is taken to be in progress before another process may take it over.
DEFAULT_STALE_AFTER = timedelta(minutes=30)
#: How long a process waits for another's write lock before giving up (claims hold it for milliseconds).
BUSY_TIMEOUT_SECONDS = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    report TEXT NOT NULL,
    edition TEXT NOT NULL,
    version TEXT NOT NULL,
    address TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at TEXT,
    message_id TEXT,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (report, edition, version, address)
)
"""


@dataclass(frozen=True)
class DeliveryKey:
    report: str
    edition: str
    version: str
    address: str  # as normalized by load_subscriptions


class Claim(Enum):
    CLAIMED = "claimed"  # this caller may send now
    ALREADY_SENT = "already sent"
    IN_PROGRESS = "in progress"  # another process claimed it less than stale_after ago


@dataclass(frozen=True)
class DeliveryRecord:
    address: str
    status: str  # "sending", "sent" or "failed"
    attempts: int  # SMTP attempts over all runs
    last_error: str | None
    sent_at: datetime | None
    message_id: str | None


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class Ledger:
    """The ledger in one SQLite file; one instance per thread (sqlite3 connections are not shared)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions, so BEGIN IMMEDIATE below is the only one.
        self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        # Switching a new file to WAL needs an exclusive lock for which SQLite does not wait (two processes
        # opening a fresh ledger at once: "database is locked"), so opening is serialised by a flock beside it.
        with exclusive(path.with_name(path.name + ".lock")):
            self._db.execute("PRAGMA journal_mode=WAL")
            with self._write():
                self._db.execute(_SCHEMA)
        self._db.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that holds the lock from its first read (BEGIN IMMEDIATE)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def claim(self, key: DeliveryKey, message_id: str, *,
              stale_after: timedelta = DEFAULT_STALE_AFTER) -> Claim:
        """Mark `key` as "sending" by this caller, unless it is sent or another caller's claim is still fresh."""
        now = _now()
        with self._write() as db:
            row = db.execute("SELECT status, claimed_at FROM deliveries WHERE report=? AND edition=? AND version=? "
                             "AND address=?", (key.report, key.edition, key.version, key.address)).fetchone()
            if row is None:
                db.execute("INSERT INTO deliveries (report, edition, version, address, status, message_id, "
                           "claimed_at) VALUES (?, ?, ?, ?, 'sending', ?, ?)",
                           (key.report, key.edition, key.version, key.address, message_id, _stamp(now)))
                return Claim.CLAIMED
            status, claimed_at = row
            if status == "sent":
                return Claim.ALREADY_SENT
            if status == "sending" and now - datetime.fromisoformat(claimed_at) < stale_after:
                return Claim.IN_PROGRESS
            db.execute("UPDATE deliveries SET status='sending', message_id=?, claimed_at=? WHERE report=? AND "
                       "edition=? AND version=? AND address=?",
                       (message_id, _stamp(now), key.report, key.edition, key.version, key.address))
            return Claim.CLAIMED

    def mark_sent(self, key: DeliveryKey, *, attempts: int) -> None:
        """The server accepted the message after `attempts` tries of this run."""
        with self._write() as db:
            db.execute("UPDATE deliveries SET status='sent', attempts=attempts+?, last_error=NULL, sent_at=? "
                       "WHERE report=? AND edition=? AND version=? AND address=?",
                       (attempts, _stamp(_now()), key.report, key.edition, key.version, key.address))

    def mark_failed(self, key: DeliveryKey, error: str, *, attempts: int) -> None:
        """Every try of this run failed; `error` is the last answer. A later run claims the row again."""
        with self._write() as db:
            db.execute("UPDATE deliveries SET status='failed', attempts=attempts+?, last_error=? "
                       "WHERE report=? AND edition=? AND version=? AND address=? AND status != 'sent'",
                       (attempts, error, key.report, key.edition, key.version, key.address))

    def record(self, key: DeliveryKey) -> DeliveryRecord | None:
        for found in self._select("AND address=?", (key.report, key.edition, key.version, key.address)):
            return found
        return None

    def deliveries_for(self, report: str, edition: str, version: str) -> list[DeliveryRecord]:
        """Every address this version was sent to or tried, with its outcome, sorted by address."""
        return self._select("ORDER BY address", (report, edition, version))

    def _select(self, tail: str, parameters: tuple[str, ...]) -> list[DeliveryRecord]:
        rows = self._db.execute("SELECT address, status, attempts, last_error, sent_at, message_id FROM deliveries "
                                f"WHERE report=? AND edition=? AND version=? {tail}", parameters).fetchall()
        return [DeliveryRecord(address=address, status=status, attempts=attempts, last_error=last_error,
                               sent_at=datetime.fromisoformat(sent_at) if sent_at else None, message_id=message_id)
                for address, status, attempts, last_error, sent_at, message_id in rows]


def read_deliveries(path: Path, report: str, edition: str) -> dict[str, list[DeliveryRecord]]:
    """Version → its deliveries, read-only, for readers such as the download site: {} when nothing was ever sent.

    Opened with `mode=ro`, so a reader never creates the file or takes a write lock; WAL lets it read while a
    sender writes."""
    if not path.is_file():
        return {}
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
    try:
        rows = db.execute("SELECT version, address, status, attempts, last_error, sent_at, message_id FROM "
                          "deliveries WHERE report=? AND edition=? ORDER BY version, address",
                          (report, edition)).fetchall()
    finally:
        db.close()
    found: dict[str, list[DeliveryRecord]] = {}
    for version, address, status, attempts, last_error, sent_at, message_id in rows:
        found.setdefault(version, []).append(DeliveryRecord(
            address=address, status=status, attempts=attempts, last_error=last_error,
            sent_at=datetime.fromisoformat(sent_at) if sent_at else None, message_id=message_id))
    return found
