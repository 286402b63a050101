"""A report's warehouse: the database its raw tables are landed in, validated and aggregated.

A report whose data is a fact table of hundreds of thousands to millions of rows does not keep its edition as a
hand-kept CSV in sources/; its `report.toml` has a [warehouse] table and its folder a `warehouse.py` that loads the
landed files into raw tables, checks them against its contract, and builds validated and KPI tables with SQL.
`base.Warehouse` is the one interface the engine and the report use; DuckDB (the embedded default) and PostgreSQL
(the team profile) implement it."""
