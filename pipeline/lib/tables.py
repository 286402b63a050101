"""The declared tables of an edition (report.toml [[tables]]): typed against their columns' units, and their
formula columns computed.

A table holds rows of a dimension (a carrier, a day, an hour) where figures hold one number each. Its numbers
obey the same rules as a figure's value (a plain number, within its unit's range), so a bad cell is a `Problem`
naming file, row and column like any other; a column with a `formula` is never read but computed per row with
the same safe evaluator as a KPI, and a row that lacks an input or would divide by zero gets no value, which the
page prints as such, rather than a made-up zero."""

from __future__ import annotations

import math

import pandas as pd

from pipeline.lib.errors import Problem
from pipeline.lib.formulas import FormulaError
from pipeline.lib.report_def import TableDecl
from pipeline.lib.units import UNITS, in_range, range_rule
from pipeline.lib.validate import CONTROL, CONTROL_RULE, number_rule


def _cell_problem(file: str, row: int, column: str, unit: str, text: str) -> Problem | None:
    if unit == "text":
        return Problem(file, row, column, CONTROL_RULE, text) if CONTROL.search(text) else None
    rule = number_rule(text)
    if rule is None and text and not in_range(UNITS[unit], float(text)):
        rule = range_rule(UNITS[unit])
    return Problem(file, row, column, rule, text) if rule else None


def validate_table(decl: TableDecl, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """The table typed (numbers as float, NaN where a cell is empty; text as str, None where empty) and every
    problem of its cells and header."""
    file, problems = decl.file, []
    expected = [c.name for c in decl.read_columns]
    problems += [Problem(file, 1, name, "required column is missing") for name in expected if name not in frame]
    problems += [Problem(file, 1, str(name), "unexpected column: the report's [[tables]] does not declare it "
                                             "(a formula column is computed, not read)")
                 for name in frame.columns if name not in expected]
    typed = pd.DataFrame(index=frame.index)
    for column in decl.read_columns:
        if column.name not in frame:
            continue
        cells = frame[column.name].fillna("")
        problems += [p for row, text in cells.items()
                     if (p := _cell_problem(file, int(row), column.name, column.unit, str(text)))]
        if column.numeric:
            typed[column.name] = pd.to_numeric(cells.where(cells != ""), errors="coerce").astype(float)
        else:
            typed[column.name] = cells.where(cells != "", None).astype(object)
    return typed, problems


def with_formulas(decl: TableDecl, typed: pd.DataFrame) -> pd.DataFrame:
    """The table with every formula column computed, in declared column order."""
    frame = typed.copy()
    for column in decl.columns:
        if column.formula is None:
            continue
        values = []
        for record in frame[list(column.formula.names)].to_dict(orient="records"):
            inputs = {k: float(v) for k, v in record.items()}
            try:
                value = column.formula.evaluate(inputs) if not any(map(math.isnan, inputs.values())) else math.nan
            except FormulaError:  # a division by zero in this row: it has no value
                value = math.nan
            values.append(value)
        frame[column.name] = pd.Series(values, index=frame.index, dtype=float)
    return frame[[c.name for c in decl.columns]]
