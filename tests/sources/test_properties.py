"""Issue 6, property-based: whatever bytes land in metrics.csv, reading and validating ends in a validated table or
in the project's own error (a `ReportError`, which the CLI prints without a traceback), never in anything else.
And where a single cell is broken, the error names that very row and column.

Examples are kept modest so the suite stays fast; hypothesis keeps the failing examples it finds in .hypothesis/."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline.lib.errors import ReportError, SourceDataError
from pipeline.lib.sources import EDITION_FILES, read_edition
from pipeline.lib.units import QUALIFIERS, UNITS, in_range
from pipeline.lib.validate import METRIC_COLUMNS, ValidatedEdition, validate_edition
from tests.conftest import DEFAULT_EDITION, REAL

EDITION = DEFAULT_EDITION
REAL_METRICS = (REAL.sources / EDITION / "metrics.csv").read_bytes()
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(PROPERTY, max_examples=100)


@pytest.fixture(scope="module")
def edition(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sources/ folder with a copy of the real edition; each example overwrites its metrics.csv."""
    sources = tmp_path_factory.mktemp("prop") / "sources"
    shutil.copytree(REAL.sources / EDITION, sources / EDITION)
    return sources


def outcome(sources: Path, metrics: bytes) -> ValidatedEdition | ReportError:
    """Validate the edition with `metrics` as metrics.csv; any exception other than ReportError fails the test."""
    (sources / EDITION / "metrics.csv").write_bytes(metrics)
    try:
        return validate_edition(read_edition(sources, EDITION))
    except ReportError as error:
        return error


def assert_sound(result: ValidatedEdition | ReportError, metrics: bytes) -> None:
    """A validated table keeps the contract; an error names known files and rows that exist in the file."""
    if isinstance(result, ValidatedEdition):
        table = result.metrics
        assert list(table.columns) == list(METRIC_COLUMNS)
        assert not table.duplicated(["metric_id", "period"]).any()
        assert all(in_range(UNITS[u], v) for u, v in zip(table["unit"], table["value"], strict=True))
        assert set(table["qualifier"]) <= set(QUALIFIERS)
        return
    assert isinstance(result, SourceDataError), result
    lines = metrics.count(b"\n") + metrics.count(b"\r") + 1
    for problem in result.problems:
        assert problem.file in EDITION_FILES
        assert problem.row is None or 1 <= problem.row <= lines
        assert problem.rule.strip()
    assert "Traceback" not in str(result)


@PROPERTY
@given(data=st.binary(max_size=3000))
def test_any_bytes_as_metrics_give_a_table_or_a_report_error(edition: Path, data: bytes) -> None:
    assert_sound(outcome(edition, data), data)


# Cells a spreadsheet may plausibly hold: valid values, near misses, Chinese text, separators, quotes, controls.
NASTY_CELL = st.one_of(
    st.sampled_from(["", " ", "14", "-0", "1e5", "1,234", "１２", "14%", "2800亿", "nan", "inf", "9" * 400,
                     "2024", "2025H1", "undated", "２０２４", "percent", "devices", "rank", "approx", "seed_article",
                     "smartphone_global_share", '"', '""', "\x00", "\ufeff", "\ufffd", "a\nb", "米家", "=1+1",
                     "<script>", "{{ 7*7 }}"]),
    st.text(max_size=12),
    st.text(alphabet="0123456789.-,０１２", max_size=8),
)
HEADERS = st.lists(st.sampled_from([*METRIC_COLUMNS, "extra", "", "Value", "metric_id"]), min_size=0,
                   max_size=12)


def to_csv(rows: list[list[str]], line_end: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator=line_end).writerows(rows)
    return out.getvalue()


@PROPERTY
@given(header=st.one_of(st.just(list(METRIC_COLUMNS)), HEADERS),
       rows=st.lists(st.lists(NASTY_CELL, min_size=0, max_size=12), max_size=6),
       line_end=st.sampled_from(["\n", "\r\n"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_any_table_of_awkward_cells_gives_a_table_or_a_report_error(edition: Path, header: list[str],
                                                                  rows: list[list[str]], line_end: str,
                                                                  encoding: str) -> None:
    text = to_csv([header, *rows], line_end)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        assume(False)  # a lone surrogate cannot be written in that encoding; nothing to read
    assert_sound(outcome(edition, data), data)


@FEWER
@given(edits=st.lists(st.tuples(st.integers(0, len(REAL_METRICS)), st.integers(0, 8), st.binary(max_size=6)),
                      min_size=1, max_size=4))
def test_random_edits_of_the_real_file_give_a_table_or_a_report_error(edition: Path,
                                                                     edits: list[tuple[int, int, bytes]]) -> None:
    data = REAL_METRICS
    for at, cut, insert in edits:
        data = data[:at] + insert + data[at + cut:]
    assert_sound(outcome(edition, data), data)


# --- one broken cell is named by row and column ---------------------------------------------------------------

REAL_TABLE = pd.read_csv(io.BytesIO(REAL_METRICS), dtype=str, keep_default_na=False)
BAD_CELLS = {
    "value": st.sampled_from(["", "１４", "1,234", "14%", "abc", "1e5", "nan", "- 3", "9" * 400]),
    "unit": st.sampled_from(["", "percentage", "台", "Percent", "%"]),
    "period": st.sampled_from(["", "2024年", "２０２４", "24", "2024H3", "FY2024"]),
    "source_ref": st.sampled_from(["", "nowhere", "seed_article;seed_article_ref0"]),
    "metric_id": st.sampled_from(["", "Mixed_Case", "两个字", "has space", "1starts_with_digit"]),
    "label": st.sampled_from(["", "bell\x07", "nul\x00"]),
}


@FEWER
@given(row=st.integers(0, len(REAL_TABLE) - 1), column=st.sampled_from(sorted(BAD_CELLS)), data=st.data())
def test_one_broken_cell_is_reported_at_its_row_and_column(edition: Path, row: int, column: str,
                                                          data: st.DataObject) -> None:
    bad = data.draw(BAD_CELLS[column])
    table = REAL_TABLE.copy()
    table.loc[row, column] = bad
    metrics = table.to_csv(index=False).encode("utf-8")

    result = outcome(edition, metrics)

    assert isinstance(result, SourceDataError), f"{column}={bad!r} on line {row + 2} was accepted"
    assert any(p.file == "metrics.csv" and p.row == row + 2 and p.column == column for p in result.problems), \
        str(result)


@FEWER
@given(row=st.integers(0, len(REAL_TABLE) - 1),
       label=st.text(alphabet=st.characters(categories=["Lo", "Ll", "Lu", "Nd", "Po", "Zs"]), min_size=1,
                     max_size=20).filter(str.strip),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]), line_end=st.sampled_from(["\n", "\r\n"]))
def test_a_valid_label_reads_back_exactly_in_every_accepted_encoding(edition: Path, row: int, label: str,
                                                                    encoding: str, line_end: str) -> None:
    table = REAL_TABLE.copy()
    table.loc[row, "label"] = label
    text = table.to_csv(index=False, lineterminator=line_end)
    try:
        metrics = text.encode(encoding)
    except UnicodeEncodeError:
        assume(False)

    result = outcome(edition, metrics)

    if isinstance(result, SourceDataError) and encoding == "gb18030":
        # GB18030 can carry any character, but a label of rare ones is refused as probably not Chinese text.
        assert any("neither UTF-8 nor GB18030" in p.rule for p in result.problems), str(result)
        return
    assert isinstance(result, ValidatedEdition), str(result)
    assert result.metrics.iloc[row]["label"] == label.strip()
