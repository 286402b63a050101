"""Does a PDF keep the promises the report makes (PDF/UA-1 and PDF/A-3a)? Judged by the offline validator `page`
(PyPI: page-validation), profile by profile, with every failed rule named. The blocking asset check and
`python -m pipeline verify` both ask here."""

from __future__ import annotations

import time
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import page

from pipeline.lib.pdf_archival import PROFILES


@dataclass(frozen=True)
class FailedRule:
    profile: str  # the validator's profile name, e.g. "ua1"
    rule_id: str  # e.g. "PDFUA1-LI-KIDS-001"
    message: str
    count: int = 1  # how many times the validator reported this rule


@dataclass(frozen=True)
class ProfileResult:
    profile: str
    compliant: bool
    rules_checked: int
    failed: tuple[FailedRule, ...]


@dataclass(frozen=True)
class Conformance:
    """The verdict on one PDF: one result per profile, and how long the validator took for all of them."""

    profiles: tuple[ProfileResult, ...]
    seconds: float
    validator: str  # "page-validation 0.11.0"

    @property
    def passed(self) -> bool:
        return all(p.compliant and not p.failed for p in self.profiles)

    @property
    def failed(self) -> list[FailedRule]:
        return [rule for p in self.profiles for rule in p.failed]

    def summary(self) -> str:
        parts = [f"{p.profile}: {'pass' if p.compliant and not p.failed else f'{len(p.failed)} failed rules'} "
                 f"({p.rules_checked} rules)" for p in self.profiles]
        return "; ".join(parts)


def _profile_result(profile: str, report: page.ValidationReport) -> ProfileResult:
    rules: dict[str, FailedRule] = {}
    for failure in report.failures:
        seen = rules.get(failure.rule_id)
        rules[failure.rule_id] = (FailedRule(profile, failure.rule_id, failure.message) if seen is None else
                                  FailedRule(profile, seen.rule_id, seen.message, seen.count + 1))
    return ProfileResult(profile, bool(report.is_compliant), int(report.rules.total), tuple(rules.values()))


def check_pdf(pdf: bytes | str | PathLike[str], profiles: tuple[str, ...] = PROFILES) -> Conformance:
    """Validate a PDF (its bytes, or a path) against each profile; a file the validator cannot parse fails every
    profile with the validator's message as the rule."""
    data = pdf if isinstance(pdf, bytes | bytearray) else Path(pdf).read_bytes()
    start = time.perf_counter()
    results = []
    for profile in profiles:
        try:
            results.append(_profile_result(profile, page.validate_pdf_bytes(data, profile=profile)))
        except page.PageError as error:
            results.append(ProfileResult(profile, False, 0,
                                         (FailedRule(profile, type(error).__name__, str(error)),)))
    return Conformance(tuple(results), time.perf_counter() - start, f"page-validation {page.__version__}")
