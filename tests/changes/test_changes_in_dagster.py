"""Changes as Dagster shows them: a second version after a one-value change carries that one change (and nothing
else) in its materialization, with a link to the site's compare page; KPIs are numeric metadata Dagster plots."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

from dagster import AssetKey, DagsterInstance

from pipeline.lib.pdf_facts import read_pdf
from pipeline.lib.publish import history
from pipeline.lib.verify import verify
from tests.conftest import DEFAULT_EDITION, NAMES, REAL, archive_of, copy_edition, edition_folder, materialize_edition


def flat(text: str) -> str:
    """Text without whitespace: a sentence may wrap anywhere in Chinese, also at a space it holds."""
    return re.sub(r"\s", "", text)


def latest_metadata(instance: DagsterInstance, asset: str) -> dict:
    event = instance.get_latest_materialization_event(AssetKey([NAMES.key, asset]))
    assert event is not None and event.asset_materialization is not None
    return dict(event.asset_materialization.metadata)


def test_a_one_value_change_is_the_one_change_of_the_next_version(tmp_path: Path) -> None:
    sources, reports = copy_edition(tmp_path), tmp_path / "reports"
    instance = DagsterInstance.ephemeral()
    assert materialize_edition(sources, reports, DEFAULT_EDITION, instance).success
    first = latest_metadata(instance, "published_report")
    assert first["changes"].value == "nothing to compare with (the first version with figures)"
    assert latest_metadata(instance, "report_figures")["kpi/su7_target_progress"].value == 60.0

    metrics = edition_folder(sources) / "metrics.csv"
    text = metrics.read_text(encoding="utf-8")
    assert "smartphone_global_share,小米集团,2024,14,percent" in text  # a figure no KPI is computed from
    metrics.write_text(text.replace("smartphone_global_share,小米集团,2024,14,percent",
                                    "smartphone_global_share,小米集团,2024,15,percent"), encoding="utf-8")
    assert materialize_edition(sources, reports, DEFAULT_EDITION, instance).success

    second = latest_metadata(instance, "published_report")
    assert second["version"].value == "v0002"
    assert (second["figures_changed"].value, second["figures_added"].value, second["figures_removed"].value) == (1, 0, 0)
    assert second["compared_with"].value == f"{DEFAULT_EDITION} v0001"
    [row] = [r.data for r in second["top_changes"].value.records]
    assert row == {"figure": "smartphone_global_share", "label": "全球智能手机市场份额", "before": "14%",
                   "after": "15%", "change": "+7.1%", "period": "2024年"}  # 1 / 14 = 7.14 %
    assert second["compare"].value.endswith(
        f"/xiaomi-ecosystem/compare/{DEFAULT_EDITION}/v0001/v0002")
    assert (archive_of(reports) / DEFAULT_EDITION / "versions" / "v0002" / "figures.json").is_file()

    first_text = flat(read_pdf(Path(first["pdf_path"].value).read_bytes()).text)
    second_pdf = Path(second["pdf_path"].value)
    second_text = flat(read_pdf(second_pdf.read_bytes()).text)
    assert "本期变化" not in first_text  # a first version has nothing to compare with
    assert flat("与本版次的上一版本 v0001 相比，有 1 个数字发生变化。") in second_text
    assert flat("全球智能手机市场份额（2024年）由14%升至15%（+7.1%）；这是对同一期间数字的修订，v0001 中为14%。") \
        in second_text
    # The PDF carries what it compared with, so a rebuild from its own embedded files gives the same bytes.
    verdict = verify(second_pdf, replace(REAL, sources=sources / REAL.report_id, reports=archive_of(reports)))
    assert verdict.ok, "\n".join(verdict.lines)

    assert materialize_edition(sources, reports, DEFAULT_EDITION, instance).success  # unchanged: reused
    third = latest_metadata(instance, "published_report")
    assert third["version"].value == "v0002" and third["reused_existing_version"].value is True


def test_a_template_that_contradicts_a_change_fails_the_build_saying_so(tmp_path: Path) -> None:
    """`claim(change, word)` is how a template states a direction by hand; a wrong one stops the build."""
    folder = tmp_path / "templates" / "xiaomi-ecosystem"
    shutil.copytree(REAL.templates, folder)
    template = folder / "strategy_report.html.j2"
    text = template.read_text(encoding="utf-8")
    anchor = "{% for c in changes.top %}"
    assert anchor in text
    template.write_text(text.replace(anchor, "{{ claim(changes.top[0], '降至') }}" + anchor), encoding="utf-8")
    sources, reports = copy_edition(tmp_path), tmp_path / "reports"
    instance = DagsterInstance.ephemeral()
    assert materialize_edition(sources, reports, DEFAULT_EDITION, instance, folder).success  # no change yet
    metrics = edition_folder(sources) / "metrics.csv"
    metrics.write_text(metrics.read_text(encoding="utf-8").replace(
        "smartphone_global_share,小米集团,2024,14,percent", "smartphone_global_share,小米集团,2024,15,percent"),
        encoding="utf-8")

    result = materialize_edition(sources, reports, DEFAULT_EDITION, instance, folder)

    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == NAMES.node("report_html")
    error, message = failure.step_failure_data.error, ""
    while error is not None:  # Dagster's wrapper, then the template's error, then ours
        message, error = message + error.message, error.cause
    assert ("the text says '降至' for smartphone_global_share (2024), but it went up: 14 → 15 percent"
            in message), message
    assert [v.version for v in history(archive_of(reports), DEFAULT_EDITION)] == ["v0001"]  # nothing published
