"""Which consistency findings appeared or were resolved since the version or edition compared with.

The earlier findings are not stored: they are the report's rules evaluated again on the figures the earlier
version printed (the comparison basis holds them). So the answer uses today's rules on both sides, and a rule
added since then counts as appearing only if it fails now."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.lib.changes.compare import latest_figures
from pipeline.lib.changes.snapshot import FigureValue
from pipeline.lib.consistency import Finding
from pipeline.lib.report_def import Rule


@dataclass(frozen=True)
class FindingChanges:
    appeared: list[Finding]  # fail now; held (or could not be checked) before
    resolved: list[Finding]  # hold now; failed before

    def __bool__(self) -> bool:
        return bool(self.appeared or self.resolved)


def held_before(rules: Sequence[Rule], figures: Sequence[FigureValue]) -> dict[str, bool]:
    """Whether each rule held on these figures (each figure's latest period), for the rules they can check."""
    latest = latest_figures(figures)
    return {rule.check_id: bool(rule.holds.evaluate({m: latest[m].value for m in rule.holds.names}))
            for rule in rules if set(rule.holds.names) <= set(latest)}


def finding_changes(findings: Sequence[Finding], rules: Sequence[Rule],
                    earlier: Sequence[FigureValue]) -> FindingChanges:
    before = held_before(rules, earlier)
    return FindingChanges(
        appeared=[f for f in findings if not f.passed and before.get(f.check_id, True)],
        resolved=[f for f in findings if f.passed and before.get(f.check_id) is False])
