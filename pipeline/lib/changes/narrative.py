"""Words for a change that cannot contradict the data, for report templates (Jinja globals).

The engine types no prose: the report passes its own words for each direction, e.g.
``{"up": "rose", "down": "fell", "flat": "was unchanged"}`` or ``{"up": "增长", "down": "下降", "flat": "持平"}``.

- ``{{ direction(c, words) }}`` prints the word for the direction the data says.
- ``{{ claim(c, "up") }}`` is for prose written by hand around a change ("revenue rose again"): it prints
  nothing (or the report's word, given ``words``) and fails the build with NarrativeError if the data moved the
  other way, so a data update can never leave a sentence that says the opposite of the table beside it.

A change within the comparison's float tolerance (see :func:`.compare.same_value`) is flat.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pipeline.lib.changes.compare import Change, same_value
from pipeline.lib.changes.plain import value_text
from pipeline.lib.errors import ReportError

DIRECTIONS = ("up", "down", "flat")


class NarrativeError(ReportError):
    """A template states a direction the figures do not have, or lacks a word for a direction."""


def sign(change: Change) -> str:
    """'up', 'down' or 'flat': the direction of ``change.absolute``."""
    if same_value(change.before, change.after):
        return "flat"
    return "up" if change.absolute > 0 else "down"


def direction(change: Change, words: Mapping[str, str]) -> str:
    """The report's word for the direction of ``change``; NarrativeError if ``words`` has none for it."""
    return _word(words, sign(change))


def claim(change: Change, said: str, words: Mapping[str, str] | None = None) -> str:
    """Check that ``said`` (a direction, 'up', 'down' or 'flat', or one of the report's ``words``) is the
    direction of ``change``; return the report's word for it when ``words`` is given, else ''.

    Raises NarrativeError naming the metric, the period, before → after, and the word used."""
    stated = _direction_of(said, words)
    actual = sign(change)
    if stated != actual:
        period = (change.period_after if change.period_before == change.period_after
                  else f"{change.period_before} → {change.period_after}")
        raise NarrativeError(
            f"the text says {said!r} for {change.metric_id} ({period}), but it went {actual}: "
            f"{value_text(change.before)} → {value_text(change.after)} {change.unit}"
        )
    return _word(words, actual) if words is not None else ""


def jinja_globals() -> dict[str, Callable[..., str]]:
    """What a template environment adds to use these: ``env.globals.update(jinja_globals())``."""
    return {"direction": direction, "claim": claim}


def _direction_of(said: str, words: Mapping[str, str] | None) -> str:
    if said in DIRECTIONS:
        return said
    for key, word in (words or {}).items():
        if word == said and key in DIRECTIONS:
            return key
    raise NarrativeError(f"{said!r} is not a direction: use one of {', '.join(DIRECTIONS)} or one of the words "
                         f"passed ({', '.join(repr(w) for w in (words or {}).values()) or 'none'})")


def _word(words: Mapping[str, str], key: str) -> str:
    try:
        return words[key]
    except KeyError:
        raise NarrativeError(f"no word for the direction {key!r}: the words passed are for "
                             f"{', '.join(sorted(words)) or 'no direction'}") from None
