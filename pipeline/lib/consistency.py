"""Cross-figure consistency: the report's rules (report.toml `[[rules]]`) over its figures.

A rule is a comparison (`holds`, e.g. ``share_top3_total <= 100``) and two texts, for when it holds and when it
does not, in which ``{{ F.id }}`` prints a figure as the report writes it. A finding never changes a figure. It is
reported (as a Dagster asset check with a severity and in the report's data notes) so the reader learns where the
source disagrees with itself. Only rules whose figures the edition has are run: the others never applied."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from jinja2.sandbox import SandboxedEnvironment

from pipeline.lib.formatting import DEFAULT_LANGUAGE, figure_text
from pipeline.lib.kpis import latest_by_metric
from pipeline.lib.report_def import Rule


@dataclass(frozen=True)
class Finding:
    check_id: str
    title: str
    passed: bool
    severity: str  # "WARN" when the figures disagree; the report still publishes them as the source states
    message: str
    metric_ids: tuple[str, ...]


class _Texts:
    """`F.id` in a rule's text: the figure as the report writes it (plain text; the page escapes it)."""

    def __init__(self, latest: pd.DataFrame, language: str) -> None:
        self._latest, self._language = latest, language

    def __getattr__(self, metric_id: str) -> str:
        row = self._latest.loc[metric_id]
        return figure_text(row["value"], row["unit"], row["qualifier"], self._language)


_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


def applicable(rules: tuple[Rule, ...], figures: pd.DataFrame) -> list[Rule]:
    """The rules whose every figure the edition has."""
    present = set(figures["metric_id"])
    return [rule for rule in rules if set(rule.metric_ids) <= present]


def check_consistency(figures: pd.DataFrame, rules: tuple[Rule, ...],
                      language: str = DEFAULT_LANGUAGE) -> list[Finding]:
    """Run every rule whose figures exist; messages print figures in the report's `language`."""
    latest = latest_by_metric(figures)
    texts = _Texts(latest, language)
    findings = []
    for rule in applicable(rules, figures):
        passed = bool(rule.holds.evaluate({m: float(latest.loc[m, "value"]) for m in rule.holds.names}))
        message = _ENV.from_string(rule.passed if passed else rule.failed).render(F=texts)
        findings.append(Finding(rule.check_id, rule.title, passed, "WARN", message, rule.metric_ids))
    return findings
