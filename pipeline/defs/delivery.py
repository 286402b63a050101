"""Delivery as a Dagster asset: after a build publishes a version, its report's subscribers get one e-mail each.

`delivered_report` exists only for a report whose folder has a `subscriptions.toml` (read when the code location
loads; reload it in the UI after adding the file), so delivery is off by default and a report without
subscribers has no delivery step at all. It is downstream of `published_report`, a separate asset: a failed
send fails this step only, and the publication that already happened stays.

Exactly once per version and subscriber comes from the ledger (`pipeline.lib.deliver.ledger`), a SQLite file in
the report's archive folder, so a re-executed run, a second build or a concurrent run sends nothing twice. A
rebuild that reuses the published version announces nothing new: it only retries subscribers whose earlier
delivery of that version failed (or never finished), so the next successful run delivers what a down server
held up.

SMTP is a resource (`SmtpResource`), configured from REPORT_SMTP_* variables; with subscribers but no host the
step fails saying so rather than silently sending nothing."""


import os
from pathlib import Path
from typing import cast

from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    ConfigurableResource,
    DynamicPartitionsDefinition,
    Failure,
    MetadataValue,
    Output,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
)

from pipeline.defs.partitions import names
from pipeline.defs.resources import ReportSettings
from pipeline.lib import deliver
from pipeline.lib.deliver import DeliveryKey, Ledger, PublishedItem, SmtpSettings, Subscriber
from pipeline.lib.report_def import Report

#: How many tries a temporary SMTP failure gets within one run, and the first wait between them (doubling).
ATTEMPTS, BASE_DELAY_SECONDS = 3, 2.0


class SmtpResource(ConfigurableResource):
    """The mail server. Empty values mean the REPORT_SMTP_* variables (HOST, PORT, SECURITY = starttls | tls |
    none, USER, PASSWORD, FROM), read when the step runs; the password is only ever read from the environment."""

    host: str = ""
    port: int = 0
    security: str = ""
    username: str = ""
    from_address: str = ""
    attempts: int = ATTEMPTS
    base_delay_seconds: float = BASE_DELAY_SECONDS

    def settings(self) -> SmtpSettings | None:
        """The server to use, or None when none is configured."""
        host = self.host or os.environ.get("REPORT_SMTP_HOST", "")
        if not host:
            return None
        user = self.username or os.environ.get("REPORT_SMTP_USER", "")
        return SmtpSettings(
            host=host,
            port=self.port or int(os.environ.get("REPORT_SMTP_PORT", "587")),
            security=cast("deliver.smtp.Security", self.security or os.environ.get("REPORT_SMTP_SECURITY",
                                                                                     "starttls")),
            username=user or None,
            password=os.environ.get("REPORT_SMTP_PASSWORD") if user else None,
            from_address=self.from_address or os.environ.get("REPORT_SMTP_FROM", ""),
        )


def has_subscriptions(report: Report) -> bool:
    return (report.folder / deliver.SUBSCRIPTIONS_FILE).is_file()


def ledger_path(archive_folder: Path) -> Path:
    return archive_folder / deliver.LEDGER_FILE


def _pending(subscribers: tuple[Subscriber, ...], ledger: Path, report: Report, edition: str,
             version: str) -> tuple[Subscriber, ...]:
    """Subscribers with an unfinished delivery of this version: what a rebuild that reused it still owes."""
    if not ledger.exists():
        return ()
    with Ledger(ledger) as book:
        records = {s.address: book.record(DeliveryKey(report.report_id, edition, version, s.address))
                   for s in subscribers}
    return tuple(s for s in subscribers if (r := records[s.address]) is not None and r.status != "sent")


def delivery_asset(report: Report, editions: DynamicPartitionsDefinition,
                   published: AssetsDefinition) -> AssetsDefinition:
    key = names(report).key

    @asset(
        partitions_def=editions, group_name=key, key_prefix=[key], kinds={"email"},
        ins={"published_report": AssetIn(key=published.key)},
        description="E-mails the newly published version to the report's subscribers (subscriptions.toml), once "
                    "per version and subscriber. A failure here means a message did not go out; the report is "
                    "published all the same, and the next build retries the failed addresses.",
    )
    def delivered_report(context: AssetExecutionContext, published_report: dict, settings: ReportSettings,
                         smtp: SmtpResource) -> Output[dict]:
        subscribers = deliver.load_subscriptions(report.folder, default_language=report.language)
        paths = settings.paths(report.folder)
        ledger = ledger_path(paths.reports)
        edition, version = published_report["edition"], published_report["version"]
        audience = (_pending(subscribers, ledger, report, edition, version) if published_report["reused"]
                    else subscribers)
        if not audience:
            return Output({"sent": [], "version": version}, metadata={
                "sent": 0, "subscribers": len(subscribers),
                "why_nothing_sent": "the version was reused and every subscriber already has it"
                if subscribers else "no subscribers"})
        server = smtp.settings()
        if server is None:
            raise Failure(f"{report.folder / deliver.SUBSCRIPTIONS_FILE} has {len(audience)} subscriber(s) but no "
                          "mail server is configured: set REPORT_SMTP_HOST (and REPORT_SMTP_FROM, …)")
        item = PublishedItem(
            report_id=report.report_id, report_title=report.title, language=report.language, edition=edition,
            edition_title=published_report.get("title"), version=version, pdf_path=Path(published_report["pdf"]),
            pdf_sha256=published_report["sha256"], download_url=published_report["download"],
            summary=published_report.get("summary") or published_report.get("title") or edition,
            changes=published_report.get("changes"),
        )
        result = deliver.deliver_version(item, audience, server, ledger, attempts=smtp.attempts,
                                         base_delay=smtp.base_delay_seconds)
        with Ledger(ledger) as book:
            records = book.deliveries_for(report.report_id, edition, version)
        table = MetadataValue.table(
            records=[TableRecord({"address": r.address, "status": r.status, "attempts": r.attempts,
                                  "sent_at": r.sent_at.isoformat(timespec="seconds") if r.sent_at else "", "last_error": r.last_error or ""}) for r in records],
            schema=TableSchema(columns=[TableColumn("address", "string"), TableColumn("status", "string"),
                                        TableColumn("attempts", "int"), TableColumn("sent_at", "string",
                                                                                    description="UTC"),
                                        TableColumn("last_error", "string")]))
        if result.failed:
            context.add_output_metadata({"deliveries": table})
            raise Failure(
                f"{len(result.failed)} of {len(audience)} message(s) of {edition} {version} were not delivered "
                "(the report is published; the next build retries them): "
                + "; ".join(f"{f.address}: {f.error} after {f.attempts} tries" for f in result.failed),
                metadata={"deliveries": table})
        return Output({"sent": [s.address for s in result.sent], "version": version}, metadata={
            "sent": len(result.sent), "already_sent": len(result.skipped), "subscribers": len(subscribers),
            "deliveries": table})

    return delivered_report
