"""The project's own error types. Every problem in the input names file, row, column and rule, so a person
can fix a spreadsheet without reading a traceback."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

#: A cell quoted in a message is cut here: the point is to find the cell, not to reprint a pasted essay.
VALUE_SHOWN = 80
#: Problems printed in one message; all of them stay in `SourceDataError.problems` (and the check's metadata).
PROBLEMS_SHOWN = 200


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one cell (or row, or file) of the sources."""

    file: str
    row: int | None  # 1-based line number in the file, header = 1; None for file-level problems
    column: str | None
    rule: str
    value: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:  # a spreadsheet has rows; a template or a settings file has lines
            where += f", {'row' if self.file.endswith('.csv') else 'line'} {self.row}"
        if self.column:
            where += f", column '{_printable(self.column)}'"
        return f"{where}: {self.rule}{self._got()}"

    def _got(self) -> str:
        if self.value is None:
            return ""
        shown = self.value if len(self.value) <= VALUE_SHOWN else self.value[:VALUE_SHOWN] + "…"
        return f" (got {shown!r})"  # repr: control characters and trailing spaces stay visible

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _printable(text: str) -> str:
    """Text from a file as a terminal may show it: control characters (a NUL, an ANSI escape) as \\x.. codes."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


class ReportError(Exception):
    """Base of every error the pipeline raises on purpose (the CLI prints these without a traceback)."""


class SourceDataError(ReportError):
    """The edition's sources break the data contract; carries every problem found, not only the first."""

    def __init__(self, problems: list[Problem], shown: int = PROBLEMS_SHOWN):
        self.problems = sorted(problems, key=lambda p: (p.file, p.row or 0, p.column or "", p.rule))
        listed = self.problems[:shown]
        lines = "\n".join(f"  - {p}" for p in listed)
        more = len(self.problems) - len(listed)
        tail = f"\n  … and {more} more; fix these and validate again" if more else ""
        if more:  # a fact table can break one rule a million times: say how often each rule is broken
            counts = Counter(f"{p.file}: {p.rule}" for p in self.problems)
            tail += "\nproblems per rule:\n" + "\n".join(f"  {n:>9,}  {rule}" for rule, n in counts.most_common())
        super().__init__(f"{len(self.problems)} problem(s) in the sources:\n{lines}{tail}")


class EditionNotFound(ReportError):
    """The edition name is not a folder of the sources (or is not a safe name)."""


class FontMissingError(ReportError):
    """A font the report requires is not installed; building would silently fall back to the wrong glyphs."""


class RenderError(ReportError):
    """The renderer warned or failed; a warning is treated as a failure so no degraded PDF is published."""


class ChartError(ReportError):
    """A chart could not be converted to SVG (a bad spec, or the chart helper process failed)."""
