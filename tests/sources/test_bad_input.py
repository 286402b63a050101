"""Issue 6, bad input: every broken source gives one clear message naming file, row, column and rule, with every
problem of the edition at once; the CLI and the Dagster check show the same message, and nothing is published.

Two kinds of cases: the corpus in tests/sources/bad_inputs/ (each folder holds the files that replace the real edition's,
and case.toml says what the user must be told), and byte-level mutations of a copy of the real edition (encodings,
line ends, links, sizes) that are clearer as code than as files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterInstance

from pipeline.config import PROJECT_ROOT
from pipeline.lib.errors import ReportError, SourceDataError
from pipeline.lib.sources import EDITION_FILES, read_edition
from pipeline.lib.validate import ValidatedEdition, validate_edition
from tests.conftest import DEFAULT_EDITION, REAL, REPORT, copy_edition, edition_folder, materialize_edition

CORPUS = Path(__file__).parent / "bad_inputs"
EDITION = DEFAULT_EDITION
DATA_FILES = set(EDITION_FILES)


def evidence(record_property, area: str, case: str, done: str, seen: str) -> None:
    """One row of docs/faults.md: what was tried and what the user sees (collected by scripts/fault_table.py)."""
    row = {"area": area, "case": case, "done": done, "seen": seen}
    record_property("fault_row", json.dumps(row, ensure_ascii=False))


@dataclass(frozen=True)
class Expected:
    """A problem the user must be told about; None fields are not checked, `rule` is a substring."""

    file: str
    rule: str
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def found_in(self, error: SourceDataError) -> bool:
        return any(
            p.file == self.file and self.rule in p.rule
            and (self.row is None or p.row == self.row)
            and (self.column is None or p.column == self.column)
            and (self.value is None or p.value == self.value)
            for p in error.problems
        )


@dataclass(frozen=True)
class Case:
    name: str
    about: str
    expect: tuple[Expected, ...]
    exact: bool  # the problems listed are all the problems there are


def corpus_case(name: str) -> Case:
    spec = tomllib.loads((CORPUS / name / "case.toml").read_text(encoding="utf-8"))
    return Case(name, spec["about"], tuple(Expected(**e) for e in spec["expect"]), spec.get("exact", False))


def edition_copy(tmp_path: Path, overlay: Path | None = None) -> Path:
    """A sources root holding a copy of the real edition, with the overlay folder's data files put over it."""
    sources = copy_edition(tmp_path)
    for path in (overlay.iterdir() if overlay else []):
        if path.name in DATA_FILES:
            (edition_folder(sources) / path.name).write_bytes(path.read_bytes())
    return sources


def validate(sources: Path) -> ValidatedEdition:
    """Read and validate the edition in the sources root `sources`, as the report's build does."""
    return validate_edition(read_edition(sources / REPORT.report_id, EDITION))


def refused(sources: Path) -> SourceDataError:
    """The error validating the edition raises; fails the test if it validates or raises anything else."""
    with pytest.raises(SourceDataError) as caught:
        validate(sources)
    return caught.value


def assert_well_formed(error: SourceDataError) -> None:
    """Every problem names a known file, a plausible row and a rule; the message is text, not a traceback."""
    assert error.problems
    for problem in error.problems:
        assert problem.file in DATA_FILES
        assert problem.row is None or problem.row >= 1
        assert problem.rule and "Traceback" not in problem.rule and "SchemaError" not in problem.rule
    assert str(error).startswith(f"{len(error.problems)} problem(s) in the sources:")


# --- the corpus --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.iterdir() if (p / "case.toml").is_file()))
def test_corpus_case_is_refused_with_file_row_column_and_rule(tmp_path: Path, name: str, record_property) -> None:
    case = corpus_case(name)
    error = refused(edition_copy(tmp_path, CORPUS / name))

    assert_well_formed(error)
    missing = [e for e in case.expect if not e.found_in(error)]
    assert not missing, f"not reported: {missing}\nreported:\n{error}"
    if case.exact:
        assert len(error.problems) == len(case.expect), str(error)
    evidence(record_property, "bad input", name, case.about, str(error))


def test_every_corpus_folder_has_a_case_file() -> None:
    folders = [p for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))]
    assert folders and all((p / "case.toml").is_file() for p in folders)


# --- byte-level mutations of the real edition ---------------------------------------------------------------

Mutation = Callable[[Path], None]


def rewrite(file: str, change: Callable[[bytes], bytes]) -> Mutation:
    def mutate(folder: Path) -> None:
        path = folder / file
        path.write_bytes(change(path.read_bytes()))
    return mutate


def reencode(file: str, encoding: str) -> Mutation:
    return rewrite(file, lambda data: data.decode("utf-8").encode(encoding))


def replace_text(file: str, old: str, new: str) -> Mutation:
    def change(data: bytes) -> bytes:
        text = data.decode("utf-8")
        assert old in text, old
        return text.replace(old, new, 1).encode("utf-8")
    return rewrite(file, change)


def link_outside(file: str) -> Mutation:
    def mutate(folder: Path) -> None:
        secret = folder.parents[2] / "secret.csv"  # beside the sources root
        secret.write_text("source_id,title\nsecret_token,TOP-SECRET-CONTENT\n", encoding="utf-8")
        (folder / file).unlink()
        (folder / file).symlink_to(secret)
    return mutate


def make_folder(file: str) -> Mutation:
    def mutate(folder: Path) -> None:
        (folder / file).unlink()
        (folder / file).mkdir()
    return mutate


def delete(file: str) -> Mutation:
    return lambda folder: (folder / file).unlink()


def sparse(file: str, size: int) -> Mutation:
    def mutate(folder: Path) -> None:
        with open(folder / file, "r+b") as fh:
            fh.truncate(size)
    return mutate


LATIN1_REFERENCES = "source_id,title,publisher\nseed_article,Zürich Müller Señor,Straße\n".encode("latin-1")
LABEL = "全球智能手机市场份额"

ACCEPTED: dict[str, tuple[str, Mutation, str | None]] = {
    "crlf_line_ends": ("metrics.csv and references.csv saved with Windows line ends (CRLF)",
                       lambda f: [rewrite(n, lambda d: d.replace(b"\n", b"\r\n"))(f) for n in ("metrics.csv",
                                                                                             "references.csv")],
                       None),
    "utf8_bom": ("metrics.csv saved as 'CSV UTF-8' by Excel, with a byte-order mark",
                 rewrite("metrics.csv", lambda d: b"\xef\xbb\xbf" + d), "metrics.csv: a UTF-8 byte-order mark was removed"),
    "gb18030_export": ("metrics.csv saved by Chinese Excel as GB18030",
                       reencode("metrics.csv", "gb18030"), "metrics.csv: not UTF-8; decoded as GB18030"),
    "gbk_export_crlf": ("references.csv saved as GBK (code page 936) with CRLF line ends",
                        lambda f: rewrite("references.csv",
                                          lambda d: d.decode().replace("\n", "\r\n").encode("gbk"))(f),
                        "references.csv: not UTF-8; decoded as GB18030"),
}

REFUSED: dict[str, tuple[str, Mutation, Expected]] = {
    "utf16_export": ("metrics.csv saved as Excel 'Unicode text' (UTF-16)", reencode("metrics.csv", "utf-16"),
                     Expected("metrics.csv", "file is UTF-16 (Excel's 'Unicode text' or a Windows editor); save it as "
                                             "'CSV UTF-8' instead")),
    "utf16_settings": ("edition.toml saved as UTF-16 by a Windows editor", reencode("edition.toml", "utf-16"),
                       Expected("edition.toml", "file is UTF-16 (Excel's 'Unicode text' or a Windows editor); save "
                                                "it as UTF-8 (in a text editor: Save with encoding → UTF-8)")),
    "too_many_rows": ("metrics.csv with 501 valid rows, one more than the contract's limit",
                      rewrite("metrics.csv", lambda d: d + "".join(
                          f"extra_{n},小米集团,2024,{n},items,,额外{n},seed_article,,\n" for n in range(462)
                      ).encode()),
                      Expected("metrics.csv", "the table has 501 data rows; the data contract allows at most 500 "
                                              "rows per table")),
    "latin1_file": ("references.csv in Latin-1 whose bytes happen to decode as GB18030 (would be mojibake)",
                    lambda f: (f / "references.csv").write_bytes(LATIN1_REFERENCES),
                    Expected("references.csv", "file is neither UTF-8 nor GB18030 Chinese text")),
    "binary_file": ("metrics.csv replaced by the bytes of a PNG image",
                    lambda f: (f / "metrics.csv").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4),
                    Expected("metrics.csv", "file is neither UTF-8 nor GB18030")),
    "missing_file": ("references.csv deleted", delete("references.csv"),
                     Expected("references.csv", "required file is missing")),
    "missing_edition_toml": ("edition.toml deleted", delete("edition.toml"),
                             Expected("edition.toml", "required file is missing")),
    "file_is_a_folder": ("metrics.csv is a folder", make_folder("metrics.csv"),
                         Expected("metrics.csv", "not a regular file")),
    "link_outside": ("references.csv is a symlink to a file outside the edition folder",
                     link_outside("references.csv"),
                     Expected("references.csv", "file is a link to a place outside the edition folder")),
    "too_large": ("metrics.csv is 21 MB", sparse("metrics.csv", 21 * 1024 * 1024),
                  Expected("metrics.csv", "source files are small tables of at most 20 MB")),
    "control_character": ("a label holding a NUL and a terminal escape",
                          replace_text("metrics.csv", LABEL, LABEL + "\x00\x1b[2J"),
                          Expected("metrics.csv", "control characters are not allowed", 2, "label")),
    "replacement_character": ("a label already garbled by an earlier wrong decoding (U+FFFD)",
                              replace_text("metrics.csv", LABEL, "全球智能\ufffd\ufffd市场份额"),
                              Expected("metrics.csv", "contains U+FFFD", 2, "label")),
    "giant_cell": ("a note of 200000 characters", replace_text("metrics.csv", "引言,\n", "引言," + "长" * 200_000 + "\n"),
                   Expected("metrics.csv", "not a readable CSV file (field larger than field limit")),
    "header_shifted": ("the header lost its first column name: every row has one cell more than the header",
                       replace_text("metrics.csv", "metric_id,entity", "entity"),
                       Expected("metrics.csv", "the header has 9 columns but every row has 10 cells", 1)),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_harmless_encodings_and_line_ends_are_accepted_without_mojibake(tmp_path: Path, name: str,
                                                                        record_property) -> None:
    about, mutate, notice = ACCEPTED[name]
    original = validate(copy_edition(tmp_path / "original"))
    sources = copy_edition(tmp_path / "mutated")
    mutate(edition_folder(sources))

    validated = validate(sources)

    pd.testing.assert_frame_equal(validated.metrics, original.metrics)  # every label as the original says it
    pd.testing.assert_frame_equal(validated.references, original.references)
    if notice:
        assert any(n.startswith(notice) for n in validated.notices), validated.notices
    else:
        assert validated.notices == []
    seen = "accepted; " + ("notice: " + "; ".join(validated.notices) if validated.notices else "no notice needed")
    evidence(record_property, "bad input", name, about, seen)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unreadable_files_are_refused_with_a_clear_problem(tmp_path: Path, name: str, record_property) -> None:
    about, mutate, expected = REFUSED[name]
    sources = copy_edition(tmp_path)
    mutate(edition_folder(sources))

    error = refused(sources)

    assert_well_formed(error)
    assert expected.found_in(error), str(error)
    assert "TOP-SECRET-CONTENT" not in str(error)
    assert "\x00" not in str(error) and "\x1b" not in str(error)  # quoted, never raw, on a terminal
    evidence(record_property, "bad input", name, about, str(error))


# --- the CLI and Dagster say the same, without a traceback --------------------------------------------------


def cli(*args: str, sources: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`python -m pipeline ...` in a real process against temporary sources, archive and Dagster instance."""
    env = {**os.environ, "REPORT_SOURCES_DIR": str(sources), "REPORT_OUTPUT_DIR": str(tmp_path / "reports"),
           "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=PROJECT_ROOT, env=env, text=True,
                          capture_output=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def many_problems(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SourceDataError]:
    sources = edition_copy(tmp_path_factory.mktemp("many"), CORPUS / "every_problem_at_once")
    return sources, refused(sources)


def test_cli_validate_prints_every_problem_and_exits_non_zero(many_problems, tmp_path: Path,
                                                             record_property) -> None:
    sources, error = many_problems
    run = cli("validate", "--edition", EDITION, sources=sources, tmp_path=tmp_path)

    assert run.returncode == 1
    assert run.stderr == f"error: {error}\n"
    assert run.stdout == ""
    evidence(record_property, "bad input", "cli_validate", "`python -m pipeline validate` on every_problem_at_once",
             f"exit {run.returncode}; stderr:\n{run.stderr.strip()}")


def test_cli_build_fails_at_validation_with_the_same_message_and_publishes_nothing(
        many_problems, tmp_path: Path, record_property) -> None:
    sources, error = many_problems
    run = cli("build", "--edition", EDITION, sources=sources, tmp_path=tmp_path)

    assert run.returncode == 1
    progress, _, failure = run.stderr.partition(f"build of edition '{EDITION}' failed")
    assert progress.splitlines() == [f"building xiaomi-ecosystem edition {EDITION} (8 steps)",
                                     "  [1/8] xiaomi_ecosystem__source_tables",
                                     "  [2/8] xiaomi_ecosystem__source_tables_source_tables_valid"]
    assert failure == ("; nothing was published (the edition has no published version yet).\n"
                       f"check source_tables_valid failed: {error}\n")  # no Dagster log, no stack trace
    assert not list((tmp_path / "reports").rglob("*.pdf"))
    evidence(record_property, "bad input", "cli_build", "`python -m pipeline build` on every_problem_at_once",
             f"exit {run.returncode}; stderr:\n{run.stderr.strip()}")


@pytest.mark.parametrize("args, message", [
    (("validate", "--edition", "../etc"), "error: edition name '../etc' is not allowed"),
    (("build", "--edition", "no-such-edition"), "error: no edition folder 'no-such-edition'"),
])
def test_cli_refuses_bad_edition_names_without_a_traceback(tmp_path: Path, args: tuple[str, ...], message: str,
                                                          record_property) -> None:
    run = cli(*args, sources=copy_edition(tmp_path), tmp_path=tmp_path)

    assert run.returncode == 1
    assert run.stderr.startswith(message) and "Traceback" not in run.stderr
    evidence(record_property, "bad input", f"cli_{args[0]}_{args[2]}", f"`python -m pipeline {' '.join(args)}`",
             f"exit 1; stderr: {run.stderr.strip()}")


def test_a_failed_cli_build_leaves_the_garbage_collector_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`build()` starts up with the collector off (pipeline/cli.py says why); a long-lived caller that builds
    edition after edition must get it back even when a build fails, or every later cycle would leak."""
    import gc

    from pipeline import cli
    from pipeline.lib.errors import EditionNotFound

    monkeypatch.setenv("REPORT_SOURCES_DIR", str(copy_edition(tmp_path)))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster-home"))
    assert gc.isenabled()
    with pytest.raises(EditionNotFound):
        cli.build(REAL.templates, "no-such-edition")
    assert gc.isenabled()


def test_cli_validate_reports_the_gb18030_notice(tmp_path: Path) -> None:
    sources = copy_edition(tmp_path)
    reencode("metrics.csv", "gb18030")(edition_folder(sources))

    run = cli("validate", "--edition", EDITION, sources=sources, tmp_path=tmp_path)

    assert run.returncode == 0, run.stderr
    assert "note: metrics.csv: not UTF-8; decoded as GB18030" in run.stdout


@pytest.mark.parametrize("case", ["every_problem_at_once", "empty_file"])
def test_dagster_run_fails_at_the_check_with_the_problems_in_its_metadata(tmp_path: Path, case: str) -> None:
    sources = edition_copy(tmp_path, CORPUS / case)
    error = refused(sources)
    reports = tmp_path / "reports"

    instance = DagsterInstance.ephemeral()
    result = materialize_edition(sources, reports, EDITION, instance)

    assert not result.success
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "source_tables_valid")
    assert not check.passed
    assert check.description == str(error)
    assert check.metadata["problems_json"].value == [p.as_dict() for p in error.problems]
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert materialized == {"source_tables"}  # nothing after the blocking check ran
    assert not reports.exists() or not list(reports.rglob("*.pdf"))


def test_problems_are_a_report_error_so_every_caller_can_print_them() -> None:
    assert issubclass(SourceDataError, ReportError)


def test_a_unit_is_suggested_for_a_typo_and_not_for_another_word(tmp_path: Path) -> None:
    sources = edition_copy(tmp_path)
    metrics = edition_folder(sources) / "metrics.csv"
    lines = metrics.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    for line_number, unit in ((2, "vehicle"), (3, "cars")):
        cells = lines[line_number - 1].split(",")
        cells[header.index("unit")] = unit
        lines[line_number - 1] = ",".join(cells)
    metrics.write_text("\n".join(lines) + "\n", encoding="utf-8")

    rules = {p.value: p.rule for p in refused(sources).problems if p.column == "unit"}
    assert rules["vehicle"].endswith("; did you mean 'vehicles'?")
    assert rules["cars"].startswith("unknown unit; the unit is one of percent, pp, change_pct, cny, devices")
    assert "did you mean" not in rules["cars"]  # 'years' is as near as difflib's default allowed, and no typo of it
