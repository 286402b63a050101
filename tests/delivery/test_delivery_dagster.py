"""Delivery through Dagster: a copy of the Xiaomi report with a subscriptions.toml, built for real, mailed to a real
SMTP server on loopback. One message per subscriber per new version; nothing for a rebuild of unchanged data; a
server that is down fails the delivery step only, and the next build delivers what it held up, once."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    build_sensor_context,
    in_process_executor,
    instance_for_test,
    materialize,
    mem_io_manager,
)

from pipeline.config import PROJECT_ROOT
from pipeline.defs.component import report_defs
from pipeline.defs.delivery import SmtpResource
from pipeline.lib.report_def import load_report
from tests.conftest import NAMES, REAL, copy_edition, edition_folder, report_graph, settings_for
from tests.mailserver import FROM, Recorder, Server, free_port
from tests.webhelpers import get, running_server

SUBSCRIPTIONS = """\
[[subscriber]]
address = "ana@example.org"
name = "Ana"
format = "attachment"

[[subscriber]]
address = "bo@example.org"
format = "link"
"""


@pytest.fixture
def report_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "templates" / "xiaomi-ecosystem"
    shutil.copytree(REAL.templates, folder)
    (folder / "subscriptions.toml").write_text(SUBSCRIPTIONS, encoding="utf-8")
    return folder


def build(folder: Path, root: Path, instance: DagsterInstance, smtp: SmtpResource):
    edition = load_report(folder).default_edition
    instance.add_dynamic_partitions(NAMES.editions, [edition])
    return materialize(report_graph(folder), partition_key=edition, instance=instance, raise_on_error=False,
                       resources={"settings": settings_for(root / "sources", root / "reports"), "smtp": smtp})


def smtp_for(port: int) -> SmtpResource:
    return SmtpResource(host="127.0.0.1", port=port, security="none", from_address=FROM, base_delay_seconds=0.05)


def attachment_sha(message: EmailMessage) -> str | None:
    for part in message.iter_attachments():
        return hashlib.sha256(part.get_payload(decode=True)).hexdigest()  # type: ignore[arg-type]
    return None


def test_a_new_version_reaches_each_subscriber_once(report_copy: Path, tmp_path: Path) -> None:
    copy_edition(tmp_path)
    recorder = Recorder()
    server = Server(recorder)
    server.controller.start()
    instance = DagsterInstance.ephemeral()
    try:
        first = build(report_copy, tmp_path, instance, smtp_for(server.port))
        assert first.success
        published = first.output_for_node(NAMES.node("published_report"))
        messages = recorder.messages()
        assert sorted(m["To"].addresses[0].addr_spec for m in messages) == ["ana@example.org", "bo@example.org"]
        by_to = {m["To"].addresses[0].addr_spec: m for m in messages}
        assert by_to["ana@example.org"]["Subject"] == "小米“人车家全生态”战略分析 — 小米“人车家全生态”战略分析"
        assert attachment_sha(by_to["ana@example.org"]) == published["sha256"]
        assert attachment_sha(by_to["bo@example.org"]) is None  # a link, no attachment
        body = by_to["bo@example.org"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert ("http://127.0.0.1:8000/xiaomi-ecosystem/editions/xiaomi-ecosystem-2025h1/v0001/"
                "xiaomi-ecosystem-2025h1_v0001.pdf") in body
        event = instance.get_latest_materialization_event(AssetKey([NAMES.key, "delivered_report"]))
        assert event is not None and event.asset_materialization.metadata["sent"].value == 2  # type: ignore[union-attr]

        with running_server(tmp_path / "reports", tmp_path / "site.log") as base:  # who got it, masked
            page = get(base, "/xiaomi-ecosystem/editions/xiaomi-ecosystem-2025h1").body.decode()
        assert "a***a@example.org" in page and "b***@example.org" in page
        assert "ana@example.org" not in page and "bo@example.org" not in page

        again = build(report_copy, tmp_path, instance, smtp_for(server.port))  # unchanged data: reused version
        assert again.success
        assert again.output_for_node(NAMES.node("published_report"))["reused"] is True
        assert len(recorder.received) == 2, "a rebuild that reused the version sent mail"
    finally:
        server.controller.stop()


def test_a_server_that_is_down_fails_delivery_only_and_the_next_build_delivers(report_copy: Path,
                                                                               tmp_path: Path) -> None:
    copy_edition(tmp_path)
    instance = DagsterInstance.ephemeral()
    down = build(report_copy, tmp_path, instance, smtp_for(free_port()))  # nothing listens there
    assert not down.success
    failures = [e for e in down.all_events if e.is_step_failure]
    assert [e.step_key for e in failures] == [NAMES.node("delivered_report")]
    message = failures[0].step_failure_data.error.message  # type: ignore[union-attr]
    assert "2 of 2 message(s) of xiaomi-ecosystem-2025h1 v0001 were not delivered" in message
    assert "the report is published" in message
    published = down.output_for_node(NAMES.node("published_report"))
    assert Path(published["pdf"]).is_file() and published["version"] == "v0001"

    recorder = Recorder()
    server = Server(recorder)
    server.controller.start()
    try:
        later = build(report_copy, tmp_path, instance, smtp_for(server.port))
        assert later.success
        assert later.output_for_node(NAMES.node("published_report"))["reused"] is True
        assert sorted(to for _, tos, _ in recorder.received for to in tos) == ["ana@example.org", "bo@example.org"]
        build(report_copy, tmp_path, instance, smtp_for(server.port))
        assert len(recorder.received) == 2, "delivered twice"
    finally:
        server.controller.stop()


def test_a_report_without_subscriptions_has_no_delivery_step(tmp_path: Path) -> None:
    keys = {spec.key for a in report_defs(REAL.templates).assets or [] for spec in a.specs}  # type: ignore[union-attr]
    assert AssetKey([NAMES.key, "delivered_report"]) not in keys
    assert AssetKey([NAMES.key, "published_report"]) in keys
    assert edition_folder(copy_edition(tmp_path)).is_dir()


def test_a_sensor_triggered_build_of_a_new_edition_delivers_once_per_subscriber(report_copy: Path,
                                                                               tmp_path: Path) -> None:
    """The path a scheduled reader relies on: the report's sources sensor sees a new edition folder, its run request
    goes through the report's job, and each subscriber gets one message; the next tick requests nothing."""
    sources = copy_edition(tmp_path)
    recorder = Recorder()
    server = Server(recorder)
    server.controller.start()
    resources = {"settings": settings_for(sources, tmp_path / "reports"), "smtp": smtp_for(server.port),
                 "io_manager": mem_io_manager}
    defs = Definitions.merge(report_defs(report_copy), Definitions(resources=resources,
                                                                   executor=in_process_executor))
    sensor = defs.get_sensor_def(NAMES.sensor)
    try:
        with instance_for_test() as instance:
            cursor = None
            for tick in range(2):
                with build_sensor_context(instance=instance, instance_ref=instance.get_ref(), cursor=cursor,
                                          resources=resources, definitions=defs) as context:
                    data = sensor.evaluate_tick(context)
                for request in data.dynamic_partitions_requests:
                    instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
                for run in data.run_requests:
                    result = defs.resolve_job_def(NAMES.job).execute_in_process(
                        partition_key=run.partition_key, tags=run.tags, instance=instance)
                    assert result.success
                    assert result.dagster_run.tags["report/trigger"] == "new-edition"
                assert len(data.run_requests) == (1 if tick == 0 else 0)
                cursor = data.cursor
        assert sorted(to for _, tos, _ in recorder.received for to in tos) == ["ana@example.org", "bo@example.org"]
    finally:
        server.controller.stop()


def test_two_builds_of_one_edition_at_once_deliver_once(report_copy: Path, tmp_path: Path) -> None:
    """Two `python -m pipeline build` of the same new edition started together (as two queued runs would be):
    they take turns on the edition's build lock, the second reuses the first's version, and each subscriber
    gets exactly one message."""
    sources = copy_edition(tmp_path)
    recorder = Recorder()
    server = Server(recorder)
    server.controller.start()
    env = {**os.environ, "REPORT_TEMPLATES_DIR": str(report_copy), "REPORT_SOURCES_DIR": str(sources),
           "REPORT_OUTPUT_DIR": str(tmp_path / "reports"), "DAGSTER_HOME": str(tmp_path / "home"),
           "REPORT_SMTP_HOST": "127.0.0.1", "REPORT_SMTP_PORT": str(server.port), "REPORT_SMTP_SECURITY": "none",
           "REPORT_SMTP_FROM": FROM}
    try:
        builds = [subprocess.Popen([sys.executable, "-m", "pipeline", "build"], cwd=PROJECT_ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [build.communicate(timeout=600) for build in builds]
        assert [b.returncode for b in builds] == [0, 0], outputs
        states = sorted("reused" if "reused" in out else "published" for out, _ in outputs)
        assert states == ["published", "reused"], outputs
        assert sorted(to for _, tos, _ in recorder.received for to in tos) == ["ana@example.org", "bo@example.org"]
    finally:
        server.controller.stop()


def test_the_message_of_a_changed_version_says_what_changed(report_copy: Path, tmp_path: Path) -> None:
    sources = copy_edition(tmp_path)
    recorder = Recorder()
    server = Server(recorder)
    server.controller.start()
    instance = DagsterInstance.ephemeral()
    try:
        assert build(report_copy, tmp_path, instance, smtp_for(server.port)).success
        first = recorder.messages()[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "本版变化" not in first  # a first version: nothing to compare with
        metrics = edition_folder(sources) / "metrics.csv"
        metrics.write_text(metrics.read_text(encoding="utf-8").replace(
            "smartphone_global_share,小米集团,2024,14,percent", "smartphone_global_share,小米集团,2024,15,percent"),
            encoding="utf-8")
        assert build(report_copy, tmp_path, instance, smtp_for(server.port)).success
        bodies = [m.get_body(("plain",)).get_content() for m in recorder.messages()]  # type: ignore[union-attr]
        later = [b for b in bodies if "v0002" in b]
        assert len(bodies) == 4 and len(later) == 2  # one message per subscriber per version
        body = later[0].replace("\r\n", "\n")  # SMTP line ends
        assert "本版变化\n全球智能手机市场份额, 2024年: 14% → 15% (+7.1%)" in body
    finally:
        server.controller.stop()
