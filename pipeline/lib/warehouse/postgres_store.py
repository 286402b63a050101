"""The warehouse on PostgreSQL (the team profile): `Warehouse` over one psycopg2 connection.

Why it is written the way it is:

- **Loading goes through COPY.** Row-by-row INSERTs of a 336,776-row fact table take minutes; COPY takes
  seconds. The CSV is parsed here, by Python's csv module, and re-sent to the server as CSV with the line number
  appended on the fly (`_CopyStream`), because only the parser knows where a record starts: a quoted line break
  makes a record span two lines, and then "data row n is line n + 1" would point a person at the wrong line.
  Parsing here also lets a malformed record be refused with its line number, and maps `NA` to NULL whether
  quoted or not (as pandas and the contract read these files).
- **Every replacement is one transaction.** The new table is built under `<table>__new`, then the old one is
  dropped and the new one renamed in the same transaction: PostgreSQL's DDL is transactional, so a reader on
  another connection sees the old table or the new one, never an empty or half-loaded one (a reader that
  arrives during the swap waits for the lock and then reads the new table).
- **Every method ends its transaction.** A reader left "idle in transaction" keeps its lock on the tables it
  read, and the next `replace_table` of those tables from any connection would wait for it forever; so `query`,
  `tables` and `chunks` commit too. On an autocommit connection each method still runs as one transaction
  (autocommit is switched off for its duration), so the swap is atomic there as well.
- **Results look like DuckDB's.** NUMERIC (what PostgreSQL's SUM and AVG of integers return) arrives as float,
  not `decimal.Decimal`, so a report's pandas code runs unchanged on either database.
"""

from __future__ import annotations

import contextlib
import csv
import io
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg2.extensions  # type: ignore[import-untyped]  # psycopg2 ships no types and the lock has no stubs
from psycopg2 import sql

from pipeline.lib.warehouse.base import LINE_COLUMN, MISSING_TEXT

#: Suffix of the table a replacement is built under before it is swapped in.
NEW_SUFFIX = "__new"
#: PostgreSQL cuts longer identifiers silently (NAMEDATALEN - 1), which could merge two names into one.
MAX_IDENTIFIER_BYTES = 63
#: Records per block of CSV text handed to COPY: large enough that the per-block overhead vanishes, small
#: enough that a block is a few megabytes at most.
COPY_BLOCK_RECORDS = 5000


def _float_or_none(value: str | None, _cursor: Any) -> float | None:
    return None if value is None else float(value)


#: NUMERIC as float for the cursors of this module only (registered per cursor, so the caller's connection
#: keeps psycopg2's default Decimal for its own queries).
NUMERIC_AS_FLOAT = psycopg2.extensions.new_type(psycopg2.extensions.DECIMAL.values, "WAREHOUSE_NUMERIC_AS_FLOAT",
                                                _float_or_none)


class PostgresWarehouse:
    """One open psycopg2 connection to a report's PostgreSQL database; tables live in its current schema.

    The connection stays the caller's: it is never closed here, and is usable after every call, after a failed
    one too (its transaction is rolled back)."""

    dialect = "postgres"

    def __init__(self, con: Any) -> None:
        self.con = con

    # -- writing

    def load_csv(self, table: str, path: Path) -> int:
        """Replace `table` with the CSV file at `path`: one TEXT column per header name, `line` BIGINT last.

        An empty or `NA` cell (quoted or not) is NULL; `line` is the line the record starts at (header = 1). A
        record whose field count differs from the header's is refused with its line, and nothing is replaced."""
        path = Path(path)
        with open(path, encoding="utf-8-sig", newline="") as handle:  # -sig: a spreadsheet's byte-order mark
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise ValueError(f"{path}: no header line")
            _check_columns(path, header)
            columns = [*header, LINE_COLUMN]
            stream = _CopyStream(_records(reader, path, len(header)))
            new = _new_name(table)
            with self._transaction() as cursor:
                cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(new)))
                cursor.execute(sql.SQL("CREATE TABLE {} ({}, {} BIGINT)").format(
                    sql.Identifier(new),
                    sql.SQL(", ").join(sql.SQL("{} TEXT").format(sql.Identifier(c)) for c in header),
                    sql.Identifier(LINE_COLUMN)))
                copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
                    sql.Identifier(new), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
                cursor.copy_expert(copy.as_string(cursor), stream)
                # Fresh statistics now: the report's validation queries run right after the load, before
                # autovacuum would get to the table.
                cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(new)))
                self._swap(cursor, table, new)
        return stream.records

    def replace_table(self, table: str, select: str) -> int:
        """Replace `table` with the rows of `select` in one transaction (CREATE TABLE … AS, then the swap).

        `select` may read `table` itself: the old table is dropped only after the new one is built."""
        new = _new_name(table)
        with self._transaction() as cursor:
            cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(new)))
            cursor.execute(sql.SQL("CREATE TABLE {} AS ").format(sql.Identifier(new)) + sql.SQL(select))
            rows = int(cursor.rowcount)  # CREATE TABLE AS reports "SELECT <n>"
            self._swap(cursor, table, new)
        return rows

    @staticmethod
    def _swap(cursor: Any, table: str, new: str) -> None:
        """Drop `table` and give `new` its name, inside the caller's transaction. A view or another object that
        depends on the old table makes the DROP fail (no CASCADE: silently dropping a report's views would be
        worse than an error)."""
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        cursor.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(new), sql.Identifier(table)))

    # -- reading

    def query(self, select: str) -> pd.DataFrame:
        """The whole result of `select` as a DataFrame (NULL as None/NaN, NUMERIC as float)."""
        with self._transaction() as cursor:
            cursor.execute(select)
            return _frame(cursor.fetchall(), cursor.description)

    def chunks(self, select: str, rows: int) -> Iterator[pd.DataFrame]:
        """The result of `select` in DataFrames of at most `rows` rows, fetched from a server-side (named)
        cursor, so only one frame's rows are ever on this side of the connection.

        The cursor lives in a transaction that lasts while the iteration does; it ends (commits) when the
        iterator is exhausted or closed early (`break` in a for loop closes it once it is garbage-collected;
        `contextlib.closing` or `.close()` closes it at once). Until then other statements on the same
        connection run inside that transaction."""
        if rows < 1:
            raise ValueError(f"rows must be at least 1, not {rows}")
        return self._chunks(select, rows)

    def _chunks(self, select: str, rows: int) -> Iterator[pd.DataFrame]:
        # A named cursor is DECLAREd, which PostgreSQL allows in a transaction only: _transaction provides one
        # on autocommit connections too.
        with self._transaction(name=f"warehouse_chunks_{uuid.uuid4().hex}") as cursor:
            cursor.itersize = rows
            cursor.execute(select)
            while batch := cursor.fetchmany(rows):
                yield _frame(batch, cursor.description)

    def tables(self) -> set[str]:
        """The tables and views of the connection's current schema (what unqualified names in SQL resolve to
        first); another session's half-built `__new` table is invisible until it commits, and then it is gone."""
        with self._transaction() as cursor:
            cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
            return {name for (name,) in cursor.fetchall()}

    # -- transactions

    @contextlib.contextmanager
    def _transaction(self, name: str | None = None) -> Iterator[Any]:
        """A cursor in a transaction that is committed when the block ends (a generator closed early counts as
        ended, not failed) and rolled back when it raises, so the connection is never left in an aborted or
        open transaction. An autocommit connection runs the block as one transaction too, and gets its
        autocommit back afterwards."""
        con = self.con
        autocommit = bool(con.autocommit)
        if autocommit:
            con.autocommit = False
        try:
            cursor = con.cursor(name) if name else con.cursor()
            try:
                psycopg2.extensions.register_type(NUMERIC_AS_FLOAT, cursor)
                yield cursor
            finally:
                cursor.close()
            con.commit()
        except GeneratorExit:
            con.commit()  # `chunks` closed before its end: nothing failed, the reading just stopped
            raise
        except BaseException:
            if not con.closed:
                con.rollback()
            raise
        finally:
            if autocommit and not con.closed:
                con.autocommit = True


def _frame(rows: Sequence[tuple[Any, ...]], description: Sequence[Any] | None) -> pd.DataFrame:
    """A result as a DataFrame with the result's column names, also when it has no rows."""
    if description is None:
        raise ValueError("the statement returned no result set (a SELECT was expected)")
    return pd.DataFrame.from_records(list(rows), columns=[column.name for column in description])


def _new_name(table: str) -> str:
    if not table:
        raise ValueError("a table needs a name")
    new = table + NEW_SUFFIX
    if len(new.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise ValueError(f"table name {table!r} is too long for PostgreSQL "
                         f"(at most {MAX_IDENTIFIER_BYTES - len(NEW_SUFFIX)} bytes)")
    return new


def _check_columns(path: Path, header: list[str]) -> None:
    """Refuse a header PostgreSQL would turn into a different or an impossible table: blank, duplicate or
    over-long names, or the `line` column this module adds."""
    seen: set[str] = set()
    for number, name in enumerate(header, start=1):
        if not name.strip():
            raise ValueError(f"{path}: column {number} of the header has no name")
        if name == LINE_COLUMN:
            raise ValueError(f"{path}: the header has a column {LINE_COLUMN!r}, which load_csv adds itself")
        if name in seen:
            raise ValueError(f"{path}: the header names column {name!r} twice")
        if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
            raise ValueError(f"{path}: column name {name!r} is longer than PostgreSQL's "
                             f"{MAX_IDENTIFIER_BYTES} bytes")
        seen.add(name)


def _records(reader: Any, path: Path, width: int) -> Iterator[list[Any]]:
    """The data records of `reader` (positioned after the header), `NA` as None and the record's first line
    appended; blank lines are skipped (they hold no record), a record of the wrong width raises."""
    end = reader.line_num  # the last line read so far: a record starts on the line after it
    for record in reader:
        start, end = end + 1, reader.line_num
        if len(record) != width:
            if not record:
                continue
            raise ValueError(f"{path}, line {start}: {len(record)} fields, the header has {width}")
        if MISSING_TEXT in record:  # a C-speed scan: only the few records with an NA are rebuilt
            record = [None if cell == MISSING_TEXT else cell for cell in record]
        record.append(start)
        yield record


class _CopyStream:
    """A file-like object for psycopg2's `copy_expert`: CSV text, a block of records per `read`.

    Written by csv.writer, so quoting round-trips exactly; an empty cell and None both come out as an unquoted
    empty field, which COPY's CSV format reads as NULL (and a non-empty value is never written unquoted-empty)."""

    def __init__(self, records: Iterable[list[Any]]) -> None:
        self._records = iter(records)
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self.records = 0

    def read(self, _size: int = -1) -> str:
        """The next block (any length: copy_expert sends what it gets), or "" at the end."""
        block = [record for _, record in zip(range(COPY_BLOCK_RECORDS), self._records, strict=False)]
        if not block:
            return ""
        self.records += len(block)
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerows(block)
        return self._buffer.getvalue()
