"""What rendering would refuse, found before rendering: the template named in edition.toml exists, and every
figure and chart the template uses exists in the edition.

The check renders the print document once with the charts' specs but without their SVG (the SVG export is the
expensive part of a build), so it sees exactly what the real render sees: a guarded `{% if 'x' in F %}` is fine,
a figure used inside a macro or an included file is found, and the problem names the template's line. The
real render translates its errors with the same function, so `validate` and `build` say the same thing."""

from __future__ import annotations

import traceback

import jinja2

from pipeline.lib.errors import Problem
from pipeline.lib.report_context import MissingFigure
from pipeline.lib.sources import EDITION_FILE

TEMPLATE_RULE = "no such template in the templates folder; template names a .html.j2 file there"


def template_name(meta: dict[str, object], default: str) -> str:
    """The template an edition is rendered with: its edition.toml's, else the report's (`default`)."""
    edition = meta.get("edition")
    return str(edition.get("template", default)) if isinstance(edition, dict) else default


def _template_line(error: BaseException, names: set[str]) -> tuple[str | None, int | None]:
    """The innermost template frame of the error's traceback (Jinja names its frames after the templates)."""
    if isinstance(error, jinja2.TemplateSyntaxError):
        return error.name or error.filename, error.lineno
    found: tuple[str | None, int | None] = (None, None)
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename in names:
            found = (frame.filename, frame.lineno)
    return found


def render_problems(error: Exception, template: str, names: set[str]) -> list[Problem] | None:
    """The problems a failed render of `template` means for the person editing the edition, or None if the error
    is not about the template or the edition (a bug, a full disk: those stay errors of their own)."""
    if isinstance(error, jinja2.TemplateNotFound):
        if error.name == template:
            available = ", ".join(sorted(n for n in names if n.endswith(".html.j2"))) or "none"
            return [Problem(EDITION_FILE, None, "edition.template", f"{TEMPLATE_RULE} (available: {available})",
                            template)]
        file, line = _template_line(error, names)
        return [Problem(file or template, line, None, f"includes or imports a template that does not exist: "
                                                      f"{error.name!r}")]
    file, line = _template_line(error, names)
    if isinstance(error, MissingFigure):
        what = str(error.args[0])
        if what.startswith("chart:"):
            rule = ("uses a chart this edition does not have (an unknown chart id, or one whose figures are "
                    "missing from metrics.csv)")
            return [Problem(file or template, line, "chart", rule, what.removeprefix("chart:"))]
        return [Problem(file or template, line, "figure", "uses a figure that is neither a row of metrics.csv nor "
                                                          "a derived KPI of this edition", what)]
    if isinstance(error, jinja2.TemplateError):
        return [Problem(file or template, line, None, f"template error: {error.message or error}")]
    return None
