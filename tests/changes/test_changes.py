"""The engine for "what changed since the last edition": figure snapshots in the real archive, comparisons of
versions and of editions, revisions, which version or edition comes before, and direction words that cannot
contradict the data. Expected numbers are worked out by hand in the comments."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pandas as pd
import pytest
from upath import UPath

from pipeline.lib.build import analyse
from pipeline.lib.changes.basis import basis_for
from pipeline.lib.changes.compare import Change, Changes, compare
from pipeline.lib.changes.narrative import NarrativeError, claim, direction
from pipeline.lib.changes.plain import figure_text, percent, signed, value_text
from pipeline.lib.changes.predecessor import previous_edition
from pipeline.lib.changes.revisions import Revision, revisions
from pipeline.lib.changes.snapshot import FigureValue, SnapshotError, figure_values, figures_json, from_json, to_json
from pipeline.lib.publish import PublishError, load_figures, publish
from pipeline.lib.sources import read_edition
from pipeline.lib.validate import validate_edition
from tests.conftest import REAL, REPORT
from tests.webhelpers import fingerprint, tiny_pdf

EDITION = "xiaomi-ecosystem-2025h1"
WORDS = {"up": "rose", "down": "fell", "flat": "was unchanged"}


def fv(metric_id: str, period: str, value: float, unit: str = "items", label: str = "") -> FigureValue:
    return FigureValue(metric_id=metric_id, period=period, value=value, unit=unit, label=label or metric_id,
                       derived=False)


def real_figures() -> pd.DataFrame:
    return analyse(REPORT, validate_edition(read_edition(REAL.sources, EDITION))).figures


def publish_figures(archive: Path | UPath, edition: str, text: str, figures: bytes | None, **kw: object):
    return publish(archive, edition, pdf=tiny_pdf(text), html=f"<p>{text}</p>".encode(), pages=1,
                   fingerprint=fingerprint(text), code_version="code-1", figures=figures, **kw)  # type: ignore[arg-type]


# --- snapshot ------------------------------------------------------------------------------------------


def test_snapshot_of_the_real_edition_is_deterministic_and_reads_back() -> None:
    first, second = figures_json(real_figures()), figures_json(real_figures())

    assert first == second  # two analyses of unchanged data: the same bytes
    values = from_json(first)
    assert len(values) == 58  # 58 rows in the edition's figures table (source figures and KPIs)
    assert values == figure_values(real_figures())
    assert FigureValue(metric_id="auto_revenue", period="2025H1", value=40000000000.0, unit="cny",
                       label="汽车业务收入", derived=False, entity="小米集团汽车业务") in values
    assert [f.key for f in values] == sorted(f.key for f in values)
    assert "汽车业务收入" in first.decode("utf-8")  # labels stay legible, not \\u escapes


def test_snapshot_bytes_are_sorted_with_sorted_keys_and_float_values() -> None:
    frame = pd.DataFrame([
        {"metric_id": "b_rate", "period": "2024", "value": 12, "unit": "percent", "label": "B", "entity": "E",
         "derived": True, "formula": "a / c", "qualifier": ""},
        {"metric_id": "a_count", "period": "2025H1", "value": 3, "unit": "items", "label": "甲", "entity": "E",
         "derived": False, "formula": "", "qualifier": ""},
    ])

    assert figures_json(frame).decode() == """{
 "figures": [
  {
   "derived": false,
   "entity": "E",
   "label": "甲",
   "metric_id": "a_count",
   "period": "2025H1",
   "unit": "items",
   "value": 3.0
  },
  {
   "derived": true,
   "entity": "E",
   "label": "B",
   "metric_id": "b_rate",
   "period": "2024",
   "unit": "percent",
   "value": 12.0
  }
 ],
 "format": 1
}
"""


def test_snapshot_refuses_what_no_comparison_could_use() -> None:
    row = {"metric_id": "a", "period": "2024", "value": 1.0, "unit": "items", "label": "A", "entity": "E",
           "derived": False}
    with pytest.raises(SnapshotError, match=r"a \(2024\) occurs twice"):
        figures_json(pd.DataFrame([row, row]))
    with pytest.raises(SnapshotError, match="not a finite number"):
        figures_json(pd.DataFrame([{**row, "value": float("nan")}]))
    with pytest.raises(SnapshotError, match="lacks the column"):
        figures_json(pd.DataFrame([{"metric_id": "a"}]))
    with pytest.raises(SnapshotError, match="format 1"):
        from_json(b'{"format": 2, "figures": []}')
    with pytest.raises(SnapshotError, match="'value' must be a number"):
        from_json(b'{"format": 1, "figures": [{"metric_id": "a", "period": "2024", "unit": "items", "label": "A",'
                  b' "entity": "E", "derived": false, "value": "1"}]}')
    assert from_json(to_json([fv("a", "2024", 1.0)])) == [fv("a", "2024", 1.0)]


# --- the archive keeps the snapshot ---------------------------------------------------------------------


def test_publish_stores_figures_json_before_the_manifest_records_its_sha256(tmp_path: Path) -> None:
    figures = figures_json(real_figures())
    v = publish_figures(tmp_path, EDITION, "第一版", figures)

    folder = tmp_path / EDITION / "versions" / "v0001"
    assert (folder / "figures.json").read_bytes() == figures
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["figures_file"] == "figures.json"
    assert manifest["figures_sha256"] == hashlib.sha256(figures).hexdigest() == v.figures_sha256
    assert load_figures(tmp_path, EDITION, "v0001") == from_json(figures)


def test_a_version_published_without_figures_has_none(tmp_path: Path) -> None:
    publish_figures(tmp_path, EDITION, "旧版", None)

    assert load_figures(tmp_path, EDITION, "v0001") is None
    manifest = json.loads((tmp_path / EDITION / "versions" / "v0001" / "manifest.json").read_text())
    assert "figures_file" not in manifest and "figures_sha256" not in manifest
    assert not (tmp_path / EDITION / "versions" / "v0001" / "figures.json").exists()


def test_rebuild_of_unchanged_data_still_reuses_the_published_version(tmp_path: Path) -> None:
    first = publish_figures(tmp_path, EDITION, "同一数据", figures_json(real_figures()))
    again = publish_figures(tmp_path, EDITION, "同一数据", figures_json(real_figures()))

    assert (first.reused, again.reused) == (False, True)
    assert again.version == "v0001"
    assert sorted(p.name for p in (tmp_path / EDITION / "versions").iterdir()) == ["v0001"]


def test_a_damaged_or_unreadable_snapshot_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="figures: not a figures document"):
        publish_figures(tmp_path, EDITION, "坏数据", b"not json")
    assert not (tmp_path / EDITION / "versions").exists() or not any((tmp_path / EDITION / "versions").iterdir())

    v = publish_figures(tmp_path, EDITION, "好数据", to_json([fv("a", "2024", 1.0)]))
    assert v.figures_path is not None
    v.figures_path.write_bytes(to_json([fv("a", "2024", 2.0)]))  # edited by hand after publishing
    with pytest.raises(PublishError, match="does not match the sha256 in its manifest"):
        load_figures(tmp_path, EDITION, v.version)
    with pytest.raises(PublishError, match="no such published version"):
        load_figures(tmp_path, EDITION, "v0002")


def test_an_object_store_archive_keeps_the_snapshot_too() -> None:
    root = UPath(f"memory://changes-tests/{uuid.uuid4().hex}")
    figures = to_json([fv("a", "2024", 1.0), fv("b", "2024", 2.5)])
    publish_figures(root, EDITION, "对象存储", figures)

    assert (root / EDITION / "versions" / "v0001" / "figures.json").read_bytes() == figures
    assert load_figures(root, EDITION, "v0001") == [fv("a", "2024", 1.0), fv("b", "2024", 2.5)]


# --- compare --------------------------------------------------------------------------------------------


def test_two_versions_of_an_edition_are_compared_figure_by_figure() -> None:
    before = [fv("deliveries", "2025H1", 180000, "vehicles"), fv("deliveries", "2024H1", 100000, "vehicles"),
              fv("share", "2025H1", 12.0, "percent"), fv("gone", "2024", 7, "items")]
    after = [fv("deliveries", "2025H1", 189000, "vehicles"), fv("deliveries", "2024H1", 100000, "vehicles"),
             fv("share", "2025H1", 9.0, "percent"), fv("new", "2024", 1, "items")]

    changes = compare(before, after, key="same_period")

    assert changes.moved == [
        # share: 9 − 12 = −3, −3 / 12 = −0.25: the largest relative change comes first
        Change("share", "share", "percent", "2025H1", "2025H1", 12.0, 9.0, -3.0, -0.25),
        # deliveries: 189000 − 180000 = 9000, 9000 / 180000 = 0.05
        Change("deliveries", "deliveries", "vehicles", "2025H1", "2025H1", 180000, 189000, 9000, 0.05),
    ]
    assert (changes.count, changes.unchanged_count) == (2, 1)
    assert changes.added == [fv("new", "2024", 1, "items")]
    assert changes.removed == [fv("gone", "2024", 7, "items")]


def test_two_editions_are_compared_on_each_metrics_latest_period() -> None:
    january = [fv("scheduled_flights", "2012", 300000), fv("scheduled_flights", "2013Q1", 27004),
               fv("delayed_share", "undated", 20.0, "percent"), fv("only_january", "2013Q1", 5)]
    february = [fv("scheduled_flights", "2013Q1", 27004), fv("scheduled_flights", "2013Q2", 24951),
                fv("delayed_share", "undated", 20.0, "percent"), fv("only_february", "2013Q2", 6)]

    changes = compare(january, february, key="latest")

    # 2013Q1 of January against 2013Q2 of February: 24951 − 27004 = −2053; −2053 / 27004 = −0.076025…
    assert changes.moved == [Change("scheduled_flights", "scheduled_flights", "items", "2013Q1", "2013Q2",
                                    27004, 24951, -2053, -2053 / 27004)]
    assert changes.unchanged_count == 1
    assert [f.metric_id for f in changes.added] == ["only_february"]
    assert [f.metric_id for f in changes.removed] == ["only_january"]


def test_float_noise_is_no_change_and_a_change_from_zero_has_no_relative_size() -> None:
    before = [fv("kpi", "2024", 0.1 + 0.2), fv("from_zero", "2024", 0.0), fv("small", "2024", 1000.0),
              fv("big_abs", "2024", 100000.0)]
    after = [fv("kpi", "2024", 0.3), fv("from_zero", "2024", 5.0), fv("small", "2024", 1010.0),
             fv("big_abs", "2024", 101000.0)]

    changes = compare(before, after)

    assert changes.unchanged_count == 1  # 0.30000000000000004 and 0.3
    # from zero first (no relative size: counted as the largest); small and big_abs both moved by 1 %, the
    # larger absolute change (1000 against 10) first
    assert [c.metric_id for c in changes.moved] == ["from_zero", "big_abs", "small"]
    assert changes.moved[0].relative is None
    assert changes.moved[0].absolute == 5.0


def test_a_figure_whose_unit_changed_is_removed_and_added_not_compared() -> None:
    changes = compare([fv("margin", "2024", 18.0, "percent")], [fv("margin", "2024", 0.18, "multiple")])
    assert changes == Changes(added=[fv("margin", "2024", 0.18, "multiple")],
                              removed=[fv("margin", "2024", 18.0, "percent")])


def test_compare_refuses_ambiguous_input() -> None:
    with pytest.raises(ValueError, match="occurs twice"):
        compare([fv("a", "2024", 1), fv("a", "2024", 2)], [])
    with pytest.raises(ValueError, match="key must be"):
        compare([], [], key="by_name")  # type: ignore[arg-type]


# --- revisions -------------------------------------------------------------------------------------------


def test_revisions_name_the_latest_earlier_version_that_printed_the_figure() -> None:
    current = [fv("q3", "2024Q3", 1250), fv("q2", "2024Q2", 900), fv("q1", "2024Q1", 800), fv("new", "2024Q4", 1)]
    earlier = [
        ("v0003", [fv("q3", "2024Q3", 1250), fv("q2", "2024Q2", 880)]),   # q3 as now; q2 was 880
        ("v0002", [fv("q3", "2024Q3", 1200), fv("q2", "2024Q2", 870), fv("q1", "2024Q1", 790)]),
        ("v0001", [fv("q1", "2024Q1", 800)]),
    ]

    assert revisions(current, earlier) == [
        Revision("q1", "2024Q1", 800, 790, "v0002"),  # v0002 is the newest earlier version with q1
        Revision("q2", "2024Q2", 900, 880, "v0003"),
        # q3: v0003 printed 1250 as now; that v0002 printed 1200 was already revised by v0003
    ]
    assert revisions(current, []) == []


# --- predecessor ------------------------------------------------------------------------------------------


def test_previous_edition_is_the_greatest_name_below_of_the_same_shape(tmp_path: Path) -> None:
    for name in ("2012-12", "2013-01", "2013-02", "2013-q1", "xiaomi-ecosystem-2024h2", "xiaomi-ecosystem-2025h1",
                 "acme-2025h1"):
        publish_figures(tmp_path, name, name, None)

    assert previous_edition(tmp_path, "2013-02") == "2013-01"
    assert previous_edition(tmp_path, "2013-01") == "2012-12"  # across the year
    assert previous_edition(tmp_path, "2012-12") is None
    assert previous_edition(tmp_path, "2013-q1") is None  # another series
    assert previous_edition(tmp_path, "xiaomi-ecosystem-2025h1") == "xiaomi-ecosystem-2024h2"
    assert previous_edition(tmp_path, "acme-2025h1") is None
    assert previous_edition(tmp_path, "2013-03") == "2013-02"  # not yet published itself


def test_the_basis_is_the_newest_committed_version_with_figures_below(tmp_path: Path) -> None:
    """What a version is compared with: skipping a version without figures and an interrupted publish."""
    for n, figures in ((1, [fv("shops", "2024", 25)]), (2, None), (3, [fv("shops", "2024", 27)])):
        publish_figures(tmp_path, EDITION, f"版本 {n}", to_json(figures) if figures else None)
    (tmp_path / EDITION / "versions" / "v0004").mkdir()  # an interrupted publish: not committed

    nxt = basis_for(tmp_path, EDITION)  # the next version's: the newest of all
    assert (nxt.against, nxt.version, nxt.figures) == ("version", "v0003", (fv("shops", "2024", 27),))  # type: ignore[union-attr]
    assert [v for v, _ in nxt.earlier] == ["v0003", "v0001"]  # type: ignore[union-attr]
    assert basis_for(tmp_path, EDITION, below="v0003").version == "v0001"  # type: ignore[union-attr]  # v0002: none
    assert basis_for(tmp_path, EDITION, below="v0001") is None  # nothing before, and no previous edition
    assert basis_for(tmp_path, "never-published") is None


# --- narrative and plain text --------------------------------------------------------------------------------


FELL = Change("scheduled_flights", "Scheduled flights", "flights", "2013-01", "2013-02", 27004, 24951, -2053,
              -2053 / 27004)
ROSE = Change("revenue", "Revenue", "cny", "2024", "2024", 100.0, 101.5, 1.5, 0.015)


def test_direction_prints_the_reports_word_for_the_sign() -> None:
    assert direction(FELL, WORDS) == "fell"
    assert direction(ROSE, WORDS) == "rose"
    assert direction(Change("x", "x", "items", "2024", "2024", 0.3, 0.1 + 0.2, 0.1 + 0.2 - 0.3, 0.0), WORDS) == \
        "was unchanged"
    assert direction(ROSE, {"up": "增长", "down": "下降", "flat": "持平"}) == "增长"


def test_claim_passes_when_the_data_agrees_and_fails_the_build_when_it_does_not() -> None:
    assert claim(ROSE, "up") == ""
    assert claim(ROSE, "up", WORDS) == "rose"
    assert claim(FELL, "fell", WORDS) == "fell"

    with pytest.raises(NarrativeError) as caught:
        claim(FELL, "up")
    assert str(caught.value) == ("the text says 'up' for scheduled_flights (2013-01 → 2013-02), but it went down: "
                                 "27004 → 24951 flights")
    with pytest.raises(NarrativeError) as caught:
        claim(ROSE, "fell", WORDS)
    assert str(caught.value) == "the text says 'fell' for revenue (2024), but it went up: 100 → 101.5 cny"


def test_narrative_refuses_unknown_words() -> None:
    with pytest.raises(NarrativeError, match="'soared' is not a direction"):
        claim(ROSE, "soared", WORDS)
    with pytest.raises(NarrativeError, match="no word for the direction 'down'"):
        direction(FELL, {"up": "rose"})


def test_plain_text_shows_values_as_stored_and_changes_with_a_sign() -> None:
    assert value_text(1.1 - 1.0) == "0.1"
    assert value_text(280000000000.0) == "280000000000"
    assert figure_text(27004.0, "flights") == "27004 flights"
    assert signed(1.5) == "+1.5"
    assert signed(-2053.0) == "-2053"
    assert signed(0.0) == "0"
    assert percent(0.015) == "+1.5%"
    assert percent(-2053 / 27004) == "-7.6%"  # −7.6025…
    assert percent(0.0125) == "+1.3%"  # 1.25 rounded half up (round-half-even would print 1.2)
    assert percent(2.0) == "+200.0%"
    assert percent(None) == ""


def test_findings_that_appeared_or_were_resolved_are_the_rules_on_both_sides() -> None:
    """The real edition fails `implied_half_year_revenue_vs_full_year` (the implied half year exceeds the full
    year). An earlier version whose implied figure was below the year held that rule: against it, the finding
    appeared; against this version's own figures nothing changed; and seen from the earlier one it is resolved."""
    from dataclasses import replace

    from pipeline.lib.changes.findings import finding_changes
    from pipeline.lib.consistency import check_consistency

    figures = real_figures()
    now = check_consistency(figures, REPORT.rules, REPORT.language)
    assert not {f.check_id: f.passed for f in now}["implied_half_year_revenue_vs_full_year"]
    current = figure_values(figures)
    year = next(f.value for f in current if f.metric_id == "group_revenue")
    earlier = [replace(f, value=year - 1) if f.metric_id == "group_revenue_implied_2025h1" else f for f in current]

    changed = finding_changes(now, REPORT.rules, earlier)
    assert [f.check_id for f in changed.appeared] == ["implied_half_year_revenue_vs_full_year"]
    assert changed.resolved == []
    assert not finding_changes(now, REPORT.rules, current)  # the same figures: nothing appeared or resolved

    earlier_frame = figures.copy()
    earlier_frame.loc[earlier_frame["metric_id"] == "group_revenue_implied_2025h1", "value"] = year - 1
    then = check_consistency(earlier_frame, REPORT.rules, REPORT.language)
    back = finding_changes(then, REPORT.rules, current)
    assert [f.check_id for f in back.resolved] == ["implied_half_year_revenue_vs_full_year"]
    assert back.appeared == []
