"""The interface to a report's database, the same for DuckDB and PostgreSQL.

Small on purpose: what ingestion, validation and the KPI tables need and nothing more, so a report's SQL and
Python run unchanged on either database. Readers never see a half-written table: `replace_table` builds the new
table under a temporary name and swaps it in within one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pandas as pd

#: The column `load_csv` adds to every raw table: the row's line in its CSV file (header = line 1), so a
#: problem found in the database names the line a person opens the file at.
LINE_COLUMN = "line"
#: How the landed files spell a missing value (besides an empty cell).
MISSING_TEXT = "NA"


class Warehouse(Protocol):
    """One open connection to a report's database."""

    #: "duckdb" or "postgres": for the rare SQL a report has to write per database.
    dialect: str

    def load_csv(self, table: str, path: Path) -> int:
        """Replace `table` with the rows of the CSV file at `path` (a header line, comma-separated): every column
        as text, an empty or `NA` cell as NULL, plus `line` (bigint). Returns the number of rows."""
        ...

    def replace_table(self, table: str, select: str) -> int:
        """Replace `table` with the rows of the SELECT statement `select`, atomically; returns the number of rows."""
        ...

    def query(self, sql: str) -> pd.DataFrame:
        """The result of a SELECT as a DataFrame (SQL NULL as None/NaN)."""
        ...

    def chunks(self, sql: str, rows: int) -> Iterator[pd.DataFrame]:
        """The result of a SELECT in DataFrames of at most `rows` rows: a whole fact table never sits in memory."""
        ...

    def tables(self) -> set[str]:
        """The names of the tables that exist."""
        ...
