"""Changes as Dagster shows them: a second version after a one-value change carries that one change (and nothing
else) in its materialization, with a link to the site's compare page; KPIs are numeric metadata Dagster plots."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey, DagsterInstance

from tests.conftest import DEFAULT_EDITION, NAMES, archive_of, copy_edition, edition_folder, materialize_edition


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

    assert materialize_edition(sources, reports, DEFAULT_EDITION, instance).success  # unchanged: reused
    third = latest_metadata(instance, "published_report")
    assert third["version"].value == "v0002" and third["reused_existing_version"].value is True
