"""The `Warehouse` over an embedded DuckDB database: the default for a report's raw, validated and KPI tables.

The connection is passed in (the Dagster resource owns its life and its file); this class only adds the few
operations `base.Warehouse` promises, written so a report's code never needs DuckDB-specific SQL of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.lib.warehouse.base import LINE_COLUMN, MISSING_TEXT

#: The suffix of the table `replace_table` builds before it swaps it in; readers never see it half-written.
NEW_SUFFIX = "__new"
#: The suffix of the staging table `load_csv` reads the file into before numbering its rows.
STAGING_SUFFIX = "__csv"
#: DuckDB hands results out in vectors of this many rows; `fetch_df_chunk` counts in vectors.
VECTOR_ROWS = 2048


def quote(identifier: str) -> str:
    """An SQL identifier, double-quoted, so a table named like a keyword (or with a capital) still works."""
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBWarehouse:
    """One DuckDB connection as the report's warehouse (dialect "duckdb")."""

    dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def load_csv(self, table: str, path: Path) -> int:
        """The file as text columns plus its CSV line numbers.

        Every column is VARCHAR so a malformed cell reaches the contract (which names it) instead of failing the
        read. DuckDB's reader gives no line numbers, but a table it fills keeps the file's order in its rowids
        (insertion order is preserved), so line = rowid + 2: the header is line 1. Like `raw_files.read_table`
        this assumes no quoted line breaks, which none of the landed files has."""
        staging = table + STAGING_SUFFIX
        reader = (f"read_csv({_literal(str(path))}, header = true, delim = ',', quote = '\"', escape = '\"', "
                  f"all_varchar = true, nullstr = [{_literal(MISSING_TEXT)}, ''], normalize_names = false)")
        self.con.execute(f"DROP TABLE IF EXISTS {quote(staging)}")
        setting = self.con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
        try:
            self.con.execute("SET preserve_insertion_order = true")  # the default; the rowids depend on it
            self.con.execute(f"CREATE TABLE {quote(staging)} AS SELECT * FROM {reader}")
            columns = [row[0] for row in self.con.execute(f"DESCRIBE {quote(staging)}").fetchall()]
            if LINE_COLUMN in columns:
                raise ValueError(f"{path}: has a column {LINE_COLUMN!r}, the name the warehouse gives line numbers")
            listed = ", ".join(quote(c) for c in columns)
            return self.replace_table(table, f"SELECT {listed}, CAST(rowid + 2 AS BIGINT) AS {quote(LINE_COLUMN)} "
                                             f"FROM {quote(staging)} ORDER BY rowid")
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS {quote(staging)}")
            if setting is not None:
                self.con.execute(f"SET preserve_insertion_order = {bool(setting[0])}")

    def replace_table(self, table: str, select: str) -> int:
        """Build `<table>__new` from the SELECT, then drop the old table and rename the new one in one transaction:
        a reader (or a failed SELECT) never leaves the table missing or half-filled."""
        new = table + NEW_SUFFIX
        self.con.execute(f"DROP TABLE IF EXISTS {quote(new)}")
        self.con.execute(f"CREATE TABLE {quote(new)} AS {select}")
        count = self.con.execute(f"SELECT count(*) FROM {quote(new)}").fetchone()
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(f"DROP TABLE IF EXISTS {quote(table)}")
            self.con.execute(f"ALTER TABLE {quote(new)} RENAME TO {quote(table)}")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return int(count[0]) if count else 0

    def query(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).fetchdf()

    def chunks(self, sql: str, rows: int) -> Iterator[pd.DataFrame]:
        """Streamed from DuckDB's result, never materialised whole. A cursor of its own keeps the stream alive
        while the caller runs other queries on the warehouse between chunks."""
        if rows < 1:
            raise ValueError(f"rows must be at least 1 (got {rows})")
        vectors = max(1, rows // VECTOR_ROWS)  # whole vectors: a chunk is split only when `rows` is below one
        cursor = self.con.cursor()
        try:
            result = cursor.execute(sql)
            while True:
                frame = result.fetch_df_chunk(vectors)
                if len(frame) == 0:
                    break
                for start in range(0, len(frame), rows):
                    yield frame.iloc[start:start + rows].reset_index(drop=True)
        finally:
            cursor.close()

    def tables(self) -> set[str]:
        found = self.con.execute("SELECT table_name FROM information_schema.tables "
                                 "WHERE table_schema = current_schema()").fetchall()
        return {str(row[0]) for row in found}
