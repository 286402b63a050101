"""Read one edition folder of `sources/` into string tables, exactly as the files say.

Typing and rules belong to `validate`; this module only decodes bytes and splits CSV, keeping each row's line
number in the file so every later error can point at the spreadsheet row a person has to fix.

Reading is lenient on purpose: a broken file becomes a `Problem` in `EditionSources.problems` (and an empty table)
instead of an exception, so that `validate` reports it together with every problem of the other files and the
Dagster run fails at the data-contract check with the whole list. Only an edition name that is unsafe or has no
folder raises here (`EditionNotFound`): then there is nothing to read at all."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.lib.errors import EditionNotFound, Problem, SourceDataError

METRICS_FILE = "metrics.csv"
REFERENCES_FILE = "references.csv"
EDITION_FILE = "edition.toml"
EDITION_FILES = (EDITION_FILE, METRICS_FILE, REFERENCES_FILE)

#: An edition name is a folder name and a partition key; keeping it to this alphabet keeps it inside sources/.
EDITION_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")

#: Source files are small hand-kept tables; anything bigger is the wrong file and is not read into memory.
MAX_FILE_BYTES = 20 * 1024 * 1024
#: Part of the data contract: the most data rows a table may have. Every row is printed in the report's
#: appendices, so the row count decides the page count and the build time; a table far beyond this is not a
#: report's input but an export of something else, and is refused before anything is laid out.
MAX_ROWS = 500

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
#: In a genuine GB18030/GBK export nearly every non-ASCII character is a common (GB2312) one. Latin-1 or
#: Windows-1252 bytes that happen to decode as GB18030 give rare characters instead; below this share the file is
#: refused rather than put in a report as mojibake.
MIN_GB2312_SHARE = 0.5
#: tomllib ends its messages with "(at line 3, column 7)"; the line becomes the problem's row.
TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")
#: The two halves of an unquoted 1,234 that the comma split into two cells.
DIGITS_BEFORE_COMMA = re.compile(r"-?[0-9]{1,3}")
DIGITS_AFTER_COMMA = re.compile(r"[0-9]{3}(\.[0-9]+)?")
THOUSANDS_RULE = "thousands separators are not allowed; write 1234, not 1,234"


@dataclass(frozen=True)
class EditionSources:
    """The raw content of one edition: metadata plus string tables indexed by their line number in the file.

    `problems` are what reading found (undecodable bytes, ragged rows, a missing file…); `unreadable` names the
    files whose table or metadata could not be read at all, so validation does not pile rule violations on top
    of an empty table."""

    name: str
    meta: dict[str, object]
    metrics: pd.DataFrame
    references: pd.DataFrame
    fingerprint: str
    notices: list[str] = field(default_factory=list)  # e.g. "metrics.csv was GB18030, decoded"
    problems: list[Problem] = field(default_factory=list)
    unreadable: frozenset[str] = frozenset()
    contents: dict[str, bytes] = field(default_factory=dict, repr=False)  # the bytes read, for embedding in the PDF
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # declared tables by file name, as text


def _file_problem(file: str, rule: str, row: int | None = None, column: str | None = None) -> SourceDataError:
    """The error for a file that cannot be read at all (no table, no metadata)."""
    return SourceDataError([Problem(file, row, column, rule)])


def edition_dir(sources_root: Path, name: str) -> Path:
    """The folder of edition `name`, refusing names (and symlinks) that could lead out of `sources_root`."""
    if not isinstance(name, str) or not EDITION_NAME.fullmatch(name):
        raise EditionNotFound(
            f"edition name {name!r} is not allowed: use 1 to 64 characters, lower-case letters, digits and '-', "
            "starting with a letter or digit (e.g. 'acme-2025h1')"
        )
    root = sources_root.resolve()
    folder = (root / name).resolve()
    if folder.parent != root:
        raise EditionNotFound(
            f"edition folder {name!r} is a link to a place outside {sources_root}; copy the files into it instead"
        )
    if not folder.is_dir():
        raise EditionNotFound(f"no edition folder {name!r} in {sources_root}")
    return folder


def list_editions(sources_root: Path) -> list[str]:
    """Edition folders: a valid name, inside the sources folder (no link out), holding a metrics file; sorted."""
    return [name for name, reason in scan_editions(sources_root) if reason is None]


def scan_editions(sources_root: Path) -> list[tuple[str, str | None]]:
    """Every folder of the sources folder with the reason it is not an edition, or None if it is one; sorted.
    Files and hidden folders (.git, .DS_Store…) are not listed."""
    if not sources_root.is_dir():
        return []
    root = sources_root.resolve()
    found = []
    for path in sorted(sources_root.iterdir()):
        if path.name.startswith(".") or not path.is_dir():
            continue
        if not EDITION_NAME.fullmatch(path.name):
            reason = ("not an edition name: 1 to 64 characters, lower-case letters, digits and '-', starting with "
                      "a letter or digit")
        elif path.resolve().parent != root:
            reason = "a link to a folder outside the sources folder"
        elif not (path / METRICS_FILE).is_file():
            reason = f"has no {METRICS_FILE}"
        else:
            reason = None
        found.append((path.name, reason))
    return found


def edition_file_names(table_files: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The files of an edition: the three every edition has, then the report's declared tables (`<id>.csv`)."""
    return EDITION_FILES + tuple(table_files)


def _fingerprint(contents: dict[str, bytes | None], files: tuple[str, ...] = EDITION_FILES) -> str:
    digest = hashlib.sha256()
    for name in files:
        data = contents.get(name)
        digest.update(name.encode())
        digest.update(b"<missing>" if data is None else data)
    return digest.hexdigest()


def fingerprint(folder: Path, files: tuple[str, ...] = EDITION_FILES) -> str:
    """sha256 over the edition's files (names and bytes): the identity of the data a report was built from."""
    return _fingerprint({name: (folder / name).read_bytes() if (folder / name).is_file() else None
                         for name in files}, files)


def read_source_file(folder: Path, name: str) -> bytes:
    """The bytes of `folder/name` if it is a regular file of sane size inside the edition folder.

    A link to a file elsewhere is refused: its content would show up in error messages and the report."""
    path = folder / name
    if not path.exists() and not path.is_symlink():
        raise _file_problem(name, "required file is missing")
    if not path.resolve().is_relative_to(folder.resolve()):
        raise _file_problem(name, "file is a link to a place outside the edition folder; copy the file in instead")
    if not path.is_file():
        raise _file_problem(name, "not a regular file (a folder, a broken link or a device)")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _file_problem(name, f"file has {size} bytes; source files are small tables of at most "
                                      f"{MAX_FILE_BYTES // (1024 * 1024)} MB")
        return path.read_bytes()
    except OSError as error:
        raise _file_problem(name, f"file cannot be read ({error.strerror or error})") from None


def _looks_like_chinese(text: str) -> bool:
    """True if most non-ASCII characters are common Chinese ones (GB2312), as in a genuine GB18030 export."""
    wide = [char for char in text if ord(char) > 127]
    if not wide:
        return True
    common = 0
    for char in wide:
        try:
            char.encode("gb2312")
        except UnicodeEncodeError:
            continue
        common += 1
    return common / len(wide) >= MIN_GB2312_SHARE


def decode(data: bytes, file: str, notices: list[str]) -> str:
    """UTF-8 (with or without BOM) as the contract says; GB18030, as Chinese Excel exports it, is decoded and said.

    Anything else (UTF-16, Latin-1, binary) is refused with a problem naming the file rather than turned into
    mojibake: a garbled label in a published report is worse than a failed build."""
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
        notices.append(f"{file}: a UTF-8 byte-order mark was removed")
    elif data.startswith(UTF16_BOMS):
        advice = ("save it as 'CSV UTF-8' instead" if file.endswith(".csv")
                  else "save it as UTF-8 (in a text editor: Save with encoding → UTF-8)")
        raise _file_problem(file, f"file is UTF-16 (Excel's 'Unicode text' or a Windows editor); {advice}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as utf8_error:
        refusal = _file_problem(
            file,
            f"file is neither UTF-8 nor GB18030 Chinese text (first non-UTF-8 byte at offset {utf8_error.start}); "
            "save it as UTF-8 CSV",
        )
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise refusal from None
        if not _looks_like_chinese(text):
            raise refusal from None
        notices.append(f"{file}: not UTF-8; decoded as GB18030 (Chinese Excel export). Save as UTF-8 to silence this.")
        return text


def _split_number(header: list[str], record: list[str]) -> tuple[str, str] | None:
    """(column, '1,234') when a row has one cell too many because an unquoted 1,234 was split at its comma."""
    for i in range(min(len(header), len(record) - 1)):
        left, right = record[i].strip(), record[i + 1].strip()
        if DIGITS_BEFORE_COMMA.fullmatch(left) and DIGITS_AFTER_COMMA.fullmatch(right):
            return header[i], f"{left},{right}"
    return None


def _ragged_row(file: str, line: int, header: list[str], record: list[str]) -> Problem:
    """The problem of a row whose cell count differs from the header's, naming the likely cause when it is clear."""
    if len(record) == len(header) + 1 and (split := _split_number(header, record)):
        column, value = split
        return Problem(file, line, column, f"{THOUSANDS_RULE} (the unquoted comma split the number into two cells)",
                       value)
    hint = "; a comma inside a value needs quotes around the value" if len(record) > len(header) else ""
    return Problem(file, line, None, f"row has {len(record)} cells but the header has {len(header)}{hint}")


def _header(file: str, first: list[str]) -> list[str]:
    """The column names of the first line, refusing a header that cannot name the table's columns."""
    header = [name.strip() for name in first]
    if not any(header):
        raise _file_problem(file, "the first line must be the header row naming the columns", row=1)
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise SourceDataError([Problem(file, 1, name or "(empty name)", "the header names this column more than once")
                               for name in twice])
    return header


def _records(file: str, text: str) -> tuple[list[str], list[tuple[int, list[str]]], list[tuple[int, list[str]]]]:
    """Header, then (line, cells) of every non-blank row that fits the header and of every row that does not."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = _header(file, next(reader))
        rows: list[tuple[int, list[str]]]
        ragged: list[tuple[int, list[str]]]
        rows, ragged, end = [], [], reader.line_num
        for record in reader:
            line, end = end + 1, reader.line_num  # a quoted cell may span lines; name the line the row starts on
            if not any(cell.strip() for cell in record):
                continue  # a blank line
            (rows if len(record) == len(header) else ragged).append((line, record))
    except csv.Error as error:
        raise _file_problem(file, f"not a readable CSV file ({error})", row=reader.line_num or None) from None
    return header, [(line, [cell.strip() for cell in record]) for line, record in rows], ragged


def _ragged_problems(file: str, header: list[str], ragged: list[tuple[int, list[str]]], fitting: int
                     ) -> list[Problem]:
    """One problem per row that does not fit the header; just one when no row fits and all agree on their width,
    because then the header is what is wrong."""
    widths = {len(record) for _, record in ragged}
    if not fitting and len(ragged) > 1 and len(widths) == 1:
        return [Problem(file, 1, None, f"the header has {len(header)} columns but every row has {widths.pop()} "
                                       "cells; is a column name missing from the header, or one too many?")]
    return [_ragged_row(file, line, header, record) for line, record in ragged]


def parse_csv(data: bytes, file: str, notices: list[str], *, may_be_empty: bool = False
              ) -> tuple[pd.DataFrame, list[Problem]]:
    """All cells as stripped strings, indexed by the line number of each row in the file (header is line 1), and
    the problems of rows that could not be read. Raises `SourceDataError` for a file without a usable table."""
    text = decode(data, file, notices)
    if not text.strip():
        raise _file_problem(file, "file is empty: a header row and data rows are required")
    header, rows, ragged = _records(file, text)
    if len(rows) + len(ragged) > MAX_ROWS:
        raise _file_problem(file, f"the table has {len(rows) + len(ragged)} data rows; the data contract allows at "
                                  f"most {MAX_ROWS} rows per table")
    problems = _ragged_problems(file, header, ragged, len(rows))
    if not rows and not problems and not may_be_empty:
        raise _file_problem(file, "file has a header but no data rows")
    frame = pd.DataFrame([cells for _, cells in rows], columns=header,
                         index=pd.Index([line for line, _ in rows], name="row"), dtype=str)
    return frame, problems


def read_csv_table(path: Path, notices: list[str]) -> pd.DataFrame:
    """One CSV file as a string table; raises `SourceDataError` with every problem of the file."""
    frame, problems = parse_csv(read_source_file(path.parent, path.name), path.name, notices)
    if problems:
        raise SourceDataError(problems)
    return frame


def parse_meta(data: bytes, notices: list[str]) -> dict[str, object]:
    """edition.toml as a dict; a syntax error names the line tomllib reports."""
    try:
        return tomllib.loads(decode(data, EDITION_FILE, notices))
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        line = TOML_LINE.search(message)
        raise _file_problem(EDITION_FILE, f"not valid TOML: {message}", row=int(line[1]) if line else None) from None


def _empty_table() -> pd.DataFrame:
    return pd.DataFrame(dtype=str, index=pd.Index([], name="row"))


def read_edition(sources_root: Path, name: str, table_files: tuple[str, ...] = ()) -> EditionSources:
    """Read edition `name` (edition.toml, metrics.csv, references.csv, and the report's declared tables),
    collecting every reading problem."""
    folder = edition_dir(sources_root, name)
    contents: dict[str, bytes | None] = {}
    read_problems: dict[str, list[Problem]] = {}
    for file in edition_file_names(table_files):
        if file in table_files and not (folder / file).exists():
            continue  # a declared table this edition does not carry
        try:
            contents[file] = read_source_file(folder, file)
        except SourceDataError as error:
            contents[file], read_problems[file] = None, error.problems
    return parse_edition(name, contents, table_files, read_problems)


def parse_edition(name: str, contents: dict[str, bytes | None], table_files: tuple[str, ...] = (),
                  read_problems: dict[str, list[Problem]] | None = None) -> EditionSources:
    """An edition from its files' bytes (a folder's, or those a report's warehouse wrote): the same decoding,
    CSV splitting and problems whichever way the bytes came."""
    notices: list[str] = []
    problems: list[Problem] = []
    unreadable: set[str] = set()
    meta: dict[str, object] = {}
    tables = {METRICS_FILE: _empty_table(), REFERENCES_FILE: _empty_table()}
    for file in edition_file_names(table_files):
        data = contents.get(file)
        if data is None and file in table_files and not (read_problems or {}).get(file):
            continue  # a declared table an edition does not carry (an annual-only table in a month)
        try:
            if data is None:
                raise SourceDataError((read_problems or {}).get(file) or [Problem(file, None, None,
                                                                                  "required file is missing")])
            if file == EDITION_FILE:
                meta = parse_meta(data, notices)
            else:
                tables[file], row_problems = parse_csv(data, file, notices, may_be_empty=file in table_files)
                problems.extend(row_problems)
        except SourceDataError as error:
            problems.extend(error.problems)
            unreadable.add(file)
    files = edition_file_names(table_files)
    return EditionSources(
        name=name,
        meta=meta,
        metrics=tables[METRICS_FILE],
        references=tables[REFERENCES_FILE],
        fingerprint=_fingerprint(contents, files),
        notices=notices,
        problems=problems,
        unreadable=frozenset(unreadable),
        contents={file: data for file, data in contents.items() if data is not None and file in files},
        tables={file: tables[file] for file in table_files if file in tables},
    )
