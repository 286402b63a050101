"""Formulas of derived figures and consistency rules: one string that is both evaluated and printed.

A formula is written in the report's definition (`report.toml`) in Python's arithmetic syntax over figure ids,
e.g. ``deliveries / delivery_target * 100``. It is checked when the report is loaded (syntax, only
arithmetic and comparisons, every name a figure the report knows, no division by a literal zero), evaluated with
simpleeval (no attribute access, no calls, no imports: a formula can compute, nothing else), and printed with the
typographic operators readers expect (``÷``, ``×``, ``−``), so appendix B shows exactly what was computed."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass

from simpleeval import SimpleEval

from pipeline.lib.errors import ReportError

#: What a formula may contain: numbers, figure ids, + − × ÷, parentheses, comparisons and and/or/not.
_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.Constant, ast.Name, ast.Load,
            ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or,
            ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
_SHOWN = {"/": "÷", "*": "×", "-": "−"}


class FormulaError(ReportError):
    """A formula that cannot be evaluated: a syntax error, an unknown figure, a division by zero."""


@dataclass(frozen=True)
class Formula:
    text: str
    names: tuple[str, ...]  # the figure ids it reads, in order of first appearance

    def evaluate(self, values: Mapping[str, float]) -> float:
        """The formula's value for these figures (every name must be given)."""
        try:
            return float(SimpleEval(names=dict(values), functions={}).eval(self.text))
        except ZeroDivisionError:
            inputs = ", ".join(f"{name} = {values[name]:g}" for name in self.names)
            raise FormulaError(f"formula {self.text!r} divides by zero for this edition's figures ({inputs})") from None

    @property
    def shown(self) -> str:
        """As printed: ``a ÷ (1 + b ÷ 100)``."""
        return "".join(_SHOWN.get(char, char) for char in self.text)


def parse(text: str, known: set[str], where: str) -> Formula:
    """Check `text` and return it as a Formula; `where` names the file and entry for the error message."""
    if not isinstance(text, str) or not text.strip():
        raise FormulaError(f"{where}: a formula is required")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise FormulaError(f"{where}: formula {text!r} is not valid ({error.msg})") from None
    names: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise FormulaError(f"{where}: formula {text!r} may only use figure ids, numbers, + - * /, parentheses "
                               f"and comparisons (found {type(node).__name__})")
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise FormulaError(f"{where}: formula {text!r} holds {node.value!r}, which is not a number")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant) \
                and node.right.value == 0:
            raise FormulaError(f"{where}: formula {text!r} divides by zero")
    for node in sorted((n for n in ast.walk(tree) if isinstance(n, ast.Name)), key=lambda n: n.col_offset):
        if node.id not in known:
            raise FormulaError(f"{where}: formula {text!r} names {node.id!r}, which is neither a figure of the "
                               "report's data contract nor a KPI declared before it")
        if node.id not in names:
            names.append(node.id)
    return Formula(text.strip(), tuple(names))
