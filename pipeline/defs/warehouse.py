"""A database-backed report's ingestion in Dagster: the warehouse resource, the three warehouse assets (raw →
validated → KPI tables) with their job, and the sensor that ingests newly landed data and builds the editions
it changes.

Why this shape:
- One writer. DuckDB lets one process write a database file, so every write (the three ingestion assets) holds
  an exclusive lock on the file, and every read (an edition's `source_tables`) a shared one, with a read-only
  connection: any number of editions build at once, an ingest waits for their short reads and they for it, and
  nobody meets DuckDB's own lock or a half-written table (`replace_table` swaps tables in one transaction).
  PostgreSQL (the team profile) needs no file lock; its writers take an advisory lock per report.
- Ingestion is its own job and asset group, unpartitioned: the landed files hold every month, and one SQL pass
  builds every month's KPI tables. The editions (months and the year) are the partitions of the report's own
  lineage, registered from the KPI tables when they are built.
- Assets return `MaterializeResult`: the data lives in the database, so nothing goes through an IO manager."""

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, cast

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    AssetsDefinition,
    ConfigurableResource,
    DagsterInstance,
    DynamicPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
    define_asset_job,
    sensor,
)

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from pipeline.defs.partitions import names
from pipeline.defs.resources import ReportSettings
from pipeline.lib import locks
from pipeline.lib.report_def import Report
from pipeline.lib.warehouse import stages
from pipeline.lib.warehouse.base import Warehouse

OWNERS = ["team:data-engineering"]
URL_ENV = "REPORT_WAREHOUSE_URL"
#: How often the sensor looks at the landing folder and the KPI tables' editions.
SENSOR_INTERVAL_SECONDS = 30
ROW_COUNT = "dagster/row_count"


class WarehouseResource(ConfigurableResource):
    """Where a database-backed report keeps its tables. `url` empty: REPORT_WAREHOUSE_URL, else one DuckDB file
    per report beside the archive (`reports/.warehouse/<report id>.duckdb`, created by the first ingest). A
    `postgresql://…` URL puts every report's tables in that database, one schema per report."""

    url: str = ""

    def location(self, report: Report, reports_root: Path) -> str:
        import os

        url = self.url or os.environ.get(URL_ENV, "").strip()
        return url or str(reports_root / ".warehouse" / f"{report.report_id}.duckdb")

    @contextmanager
    def connect(self, report: Report, reports_root: Path, *, write: bool) -> Iterator[Warehouse]:
        """A connection for one stage: exclusive for `write`, shared and read-only otherwise."""
        where = self.location(report, reports_root)
        schema = names(report).key
        if where.startswith(("postgresql://", "postgres://")):
            import psycopg2  # type: ignore[import-untyped]  # no stubs in the lock

            from pipeline.lib.warehouse.postgres_store import PostgresWarehouse

            con = psycopg2.connect(where)
            try:
                with con.cursor() as cursor:
                    cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                    cursor.execute(f'SET search_path TO "{schema}"')
                    if write:  # one writer per report at a time; released when the session ends
                        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", (schema,))
                con.commit()
                yield PostgresWarehouse(con)
            finally:
                con.close()
            return
        from dagster_duckdb import DuckDBResource

        from pipeline.lib.warehouse.duckdb_store import DuckDBWarehouse

        path = Path(where)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not write and not path.exists():
            raise stages.ReportError(f"{report.report_id} has no warehouse yet ({path}): run its ingest job "
                                     f"({names(report).ingest_job}) or `python -m pipeline build --report "
                                     f"{report.folder.name}`, which ingests first")
        with locks.held(path.with_suffix(".lock"), exclusive=write):
            resource = DuckDBResource(database=str(path),
                                      connection_config={} if write else {"access_mode": "READ_ONLY"})
            with resource.get_connection() as con:
                try:
                    yield DuckDBWarehouse(con)
                finally:  # get_connection closes only on success: a failed stage would keep the file open
                    con.close()


def _rows_table(rows: dict[str, int]) -> MetadataValue:
    return MetadataValue.table(
        records=[TableRecord({"table": name, "rows": count}) for name, count in rows.items()],
        schema=TableSchema(columns=[TableColumn("table", "string"),
                                    TableColumn("rows", "int", description="rows in the table after this step")]))


def warehouse_assets(report: Report, editions: DynamicPartitionsDefinition) -> list[AssetsDefinition]:
    """raw_tables → validated_tables → kpi_tables of `report`, in its warehouse group."""
    key, group = names(report).key, names(report).warehouse_group
    pool = f"{key}_warehouse"  # a Dagster concurrency pool: limit it to 1 on a shared instance (README)

    @asset(key=[key, "raw_tables"], group_name=group, kinds={"csv", "sql"}, owners=OWNERS, pool=pool,
           description=f"The landed files of {report.report_id} loaded as raw text tables (raw_<name>), each row "
                       "keeping its CSV line for error messages.")
    def raw_tables(context: AssetExecutionContext, settings: ReportSettings,
                   warehouse: WarehouseResource) -> MaterializeResult:
        paths = settings.paths(report.folder)
        fingerprint = stages.landed_fingerprint(report, paths.sources)
        with tempfile.TemporaryDirectory(prefix="landing-") as work:
            files = stages.raw_files(report, paths.sources, Path(work))
            with warehouse.connect(report, paths.reports.parent, write=True) as db:
                rows = stages.load_raw(db, files)
        return MaterializeResult(metadata={
            ROW_COUNT: sum(rows.values()), "tables": _rows_table(rows), "landing_fingerprint": fingerprint,
            "landing": str(stages.landing_folder(paths.sources) or "the report's default data"),
            "database": warehouse.location(report, paths.reports.parent).split("@")[-1]})

    @asset(key=[key, "validated_tables"], group_name=group, kinds={"pandera", "sql"}, owners=OWNERS, pool=pool,
           deps=[raw_tables],
           description="The raw tables checked against the report's contract (every problem named by file, line, "
                       "column and rule), then typed by its sql/validated queries.")
    def validated_tables(settings: ReportSettings, warehouse: WarehouseResource) -> MaterializeResult:
        paths = settings.paths(report.folder)
        with warehouse.connect(report, paths.reports.parent, write=True) as db:
            stages.validate_raw(report, db)
            rows = stages.run_sql(report, db, "validated")
        return MaterializeResult(metadata={ROW_COUNT: sum(rows.values()), "tables": _rows_table(rows)})

    @asset(key=[key, "kpi_tables"], group_name=group, kinds={"sql"}, owners=OWNERS, pool=pool,
           deps=[validated_tables],
           description="The report's KPI tables (sql/kpis), by month; registers the editions they support.")
    def kpi_tables(context: AssetExecutionContext, settings: ReportSettings,
                   warehouse: WarehouseResource) -> MaterializeResult:
        paths = settings.paths(report.folder)
        fingerprint = stages.landed_fingerprint(report, paths.sources)
        with warehouse.connect(report, paths.reports.parent, write=True) as db:
            rows = stages.run_sql(report, db, "kpis")
            stages.record_ingest(db, fingerprint)
            prints = stages.edition_fingerprints(report, db)
        name = cast(str, editions.name)
        new = [e for e in prints if not context.instance.has_dynamic_partition(name, e)]
        if new:
            context.instance.add_dynamic_partitions(name, new)
        return MaterializeResult(metadata={
            ROW_COUNT: sum(rows.values()), "tables": _rows_table(rows),
            "editions": MetadataValue.json(sorted(prints)), "edition_fingerprints": MetadataValue.json(prints),
            "landing_fingerprint": fingerprint})

    return [raw_tables, validated_tables, kpi_tables]


def ingest_job(report: Report) -> "UnresolvedAssetJobDefinition":
    return define_asset_job(names(report).ingest_job, selection=f"group:{names(report).warehouse_group}",
                            tags={"report/id": report.report_id},
                            description=f"Ingest {report.report_id}'s landed data: raw, validated and KPI tables.")


def _latest_metadata(instance: DagsterInstance, key: AssetKey, field: str) -> object:
    found = instance.fetch_materializations(AssetRecordsFilter(asset_key=key), limit=1).records
    if not found or found[0].asset_materialization is None:
        return None
    value = found[0].asset_materialization.metadata.get(field)
    return value.value if value is not None else None


def warehouse_sensor(report: Report, job: "UnresolvedAssetJobDefinition", ingest: "UnresolvedAssetJobDefinition",
                     editions: DynamicPartitionsDefinition) -> SensorDefinition:
    """Newly landed data → an ingest run; editions whose files the KPI tables changed (or new ones, e.g. a new
    month) → a build of each."""
    from pipeline.defs.assets import TRIGGER_TAG
    from pipeline.defs.automation import built_fingerprint, read_cursor, run_key

    key = names(report).key

    @sensor(name=names(report).sensor, jobs=[job, ingest], minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
            description=f"Watches the landing folder sources/{report.report_id}/: ingests new files, then builds "
                        "every edition whose data changed, and new editions (a new month) as they appear.")
    def warehouse_sources_sensor(context: SensorEvaluationContext, settings: ReportSettings) -> SensorResult:
        paths = settings.paths(report.folder)
        landed = stages.landed_fingerprint(report, paths.sources)
        requests: list[RunRequest] = []
        ingested = _latest_metadata(context.instance, AssetKey([key, "kpi_tables"]), "landing_fingerprint")
        if ingested != landed:
            requests.append(RunRequest(job_name=ingest.name, run_key=f"ingest:{landed[:16]}",
                                       tags={TRIGGER_TAG: "data-landed"}))
        prints = cast("dict[str, str] | None", _latest_metadata(
            context.instance, AssetKey([key, "kpi_tables"]), "edition_fingerprints")) or {}
        seen = read_cursor(context.cursor)
        source_key = AssetKey([key, "source_tables"])
        for edition, digest in sorted(prints.items()):
            if seen.get(edition) == digest or built_fingerprint(context.instance, source_key, edition) == digest:
                continue
            requests.append(RunRequest(job_name=job.name, partition_key=edition,
                                       run_key=run_key(edition, seen.get(edition), digest),
                                       tags={TRIGGER_TAG: "new-edition" if edition not in seen else "data-changed"}))
        return SensorResult(run_requests=requests, cursor=json.dumps(prints, sort_keys=True),
                            skip_reason=None if requests else SkipReason(
                                f"no new data in {paths.sources} and every edition is built from its KPI tables"))

    return warehouse_sources_sensor
