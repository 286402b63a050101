"""DuckDBWarehouse keeps the promises of `base.Warehouse`: text columns with NULLs and line numbers, an atomic
table swap, and results streamed in bounded chunks."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline.lib.warehouse.duckdb_store import DuckDBWarehouse


@pytest.fixture
def db(tmp_path: Path) -> DuckDBWarehouse:
    return DuckDBWarehouse(duckdb.connect(str(tmp_path / "w.duckdb")))


def test_load_csv_keeps_text_nulls_and_lines(db: DuckDBWarehouse, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('id,name,n\n007,"a, b",1\n2,NA,\n3,,x\n')
    assert db.load_csv("raw_t", path) == 3
    frame = db.query("SELECT * FROM raw_t ORDER BY line")
    assert list(frame.columns) == ["id", "name", "n", "line"]
    assert frame["id"].tolist() == ["007", "2", "3"]  # text: leading zeros survive
    assert frame["name"].iloc[0] == "a, b"
    assert frame["name"].isna().tolist() == [False, True, True]
    assert frame["n"].iloc[2] == "x"
    assert frame["line"].tolist() == [2, 3, 4]
    assert db.query("SELECT typeof(line) AS t, typeof(n) AS u FROM raw_t LIMIT 1").iloc[0].tolist() == [
        "BIGINT", "VARCHAR"]
    assert db.tables() == {"raw_t"}


def test_replace_table_swaps_and_a_failed_select_keeps_the_old(db: DuckDBWarehouse) -> None:
    assert db.replace_table("t", "SELECT 1 AS x UNION ALL SELECT 2") == 2
    assert db.replace_table("t", "SELECT 3 AS x") == 1
    with pytest.raises(duckdb.Error):
        db.replace_table("t", "SELECT no_such_column FROM t")
    assert db.query("SELECT x FROM t")["x"].tolist() == [3]


def test_chunks_are_bounded_and_survive_other_queries(db: DuckDBWarehouse) -> None:
    db.replace_table("r", "SELECT range AS i FROM range(10000)")
    seen = []
    for chunk in db.chunks("SELECT i FROM r ORDER BY i", 3000):
        assert 0 < len(chunk) <= 3000
        db.query("SELECT count(*) FROM r")  # another query between chunks does not end the stream
        seen += chunk["i"].tolist()
    assert seen == list(range(10000))
    assert [len(c) for c in db.chunks("SELECT i FROM r LIMIT 7", 3)] == [3, 3, 1]
