"""The project's own error types. Every problem in the input names file, row, column and rule, so a person
can fix a spreadsheet without reading a traceback."""

from __future__ import annotations

from dataclasses import asdict, dataclass


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
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column '{self.column}'"
        got = "" if self.value is None else f" (got {self.value!r})"
        return f"{where}: {self.rule}{got}"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class ReportError(Exception):
    """Base of every error the pipeline raises on purpose (the CLI prints these without a traceback)."""


class SourceDataError(ReportError):
    """The edition's sources break the data contract; carries every problem found, not only the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.row or 0, p.column or "", p.rule))
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the sources:\n{lines}")


class EditionNotFound(ReportError):
    """The edition name is not a folder of the sources (or is not a safe name)."""


class FontMissingError(ReportError):
    """A font the report requires is not installed; building would silently fall back to the wrong glyphs."""


class RenderError(ReportError):
    """The renderer warned or failed; a warning is treated as a failure so no degraded PDF is published."""
