"""Markdown tables for asset and check metadata (the Dagster UI renders them)."""


def cell(value: object) -> str:
    """A Markdown table cell: a '|' or a line break in a spreadsheet value must not break the table."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def table(rows: list[dict], columns: list[str]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(cell(r.get(c)) for c in columns) + " |\n" for r in rows)
