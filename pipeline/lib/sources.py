"""Read one edition folder of `sources/` into string tables, exactly as the files say.

Typing and rules belong to `validate`; this module only decodes bytes and splits CSV, keeping each row's line
number in the file so every later error can point at the spreadsheet row a person has to fix."""

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


@dataclass(frozen=True)
class EditionSources:
    """The raw content of one edition: metadata plus string tables indexed by their line number in the file."""

    name: str
    meta: dict[str, object]
    metrics: pd.DataFrame
    references: pd.DataFrame
    fingerprint: str
    notices: list[str] = field(default_factory=list)  # e.g. "metrics.csv was GB18030, decoded"


def edition_dir(sources_root: Path, name: str) -> Path:
    """The folder of edition `name`, refusing names that could leave `sources_root`."""
    if not EDITION_NAME.fullmatch(name):
        raise EditionNotFound(
            f"edition name {name!r} is not allowed: use lower-case letters, digits and '-' (e.g. 'acme-2025h1')"
        )
    folder = (sources_root / name).resolve()
    if folder.parent != sources_root.resolve() or not folder.is_dir():
        raise EditionNotFound(f"no edition folder {name!r} in {sources_root}")
    return folder


def list_editions(sources_root: Path) -> list[str]:
    """Edition folders: those with a valid name holding a metrics file, sorted by name."""
    if not sources_root.is_dir():
        return []
    return sorted(
        p.name for p in sources_root.iterdir()
        if p.is_dir() and EDITION_NAME.fullmatch(p.name) and (p / METRICS_FILE).is_file()
    )


def fingerprint(folder: Path) -> str:
    """sha256 over the edition's files (names and bytes): the identity of the data a report was built from."""
    digest = hashlib.sha256()
    for name in EDITION_FILES:
        path = folder / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()


def decode(data: bytes, file: str, notices: list[str]) -> str:
    """UTF-8 (with or without BOM) as the contract says; GB18030, as Chinese Excel exports it, is decoded and said.

    Anything else is refused rather than turned into mojibake."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        notices.append(f"{file}: a UTF-8 byte-order mark was removed")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as utf8_error:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise SourceDataError([Problem(
                file, None, None,
                f"file is neither UTF-8 nor GB18030 (first bad byte at offset {utf8_error.start}); "
                "save it as UTF-8 CSV",
            )]) from None
        notices.append(f"{file}: not UTF-8; decoded as GB18030 (Chinese Excel export). Save as UTF-8 to silence this.")
        return text


def read_csv_table(path: Path, notices: list[str]) -> pd.DataFrame:
    """All cells as stripped strings; the index is the line number of each row in the file (header is line 1)."""
    file = path.name
    if not path.is_file():
        raise SourceDataError([Problem(file, None, None, "required file is missing")])
    text = decode(path.read_bytes(), file, notices)
    if not text.strip():
        raise SourceDataError([Problem(file, None, None, "file is empty: a header row and data rows are required")])
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader)]
    rows, lines, problems = [], [], []
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue  # blank line
        if len(record) != len(header):
            problems.append(Problem(file, reader.line_num, None,
                                    f"row has {len(record)} cells but the header has {len(header)}"))
            continue
        rows.append([cell.strip() for cell in record])
        lines.append(reader.line_num)
    if problems:
        raise SourceDataError(problems)
    if not rows:
        raise SourceDataError([Problem(file, None, None, "file has a header but no data rows")])
    if len(set(header)) != len(header):
        raise SourceDataError([Problem(file, 1, None, "header names a column twice")])
    return pd.DataFrame(rows, columns=header, index=pd.Index(lines, name="row"), dtype=str)


def read_edition(sources_root: Path, name: str) -> EditionSources:
    """Read edition `name`: edition.toml, metrics.csv and references.csv, all problems at once."""
    folder = edition_dir(sources_root, name)
    notices: list[str] = []
    problems: list[Problem] = []
    tables: dict[str, pd.DataFrame] = {}
    for file in (METRICS_FILE, REFERENCES_FILE):
        try:
            tables[file] = read_csv_table(folder / file, notices)
        except SourceDataError as error:
            problems.extend(error.problems)
    try:
        meta = tomllib.loads(decode((folder / EDITION_FILE).read_bytes(), EDITION_FILE, notices))
    except FileNotFoundError:
        problems.append(Problem(EDITION_FILE, None, None, "required file is missing"))
    except tomllib.TOMLDecodeError as error:
        problems.append(Problem(EDITION_FILE, None, None, f"not valid TOML: {error}"))
    except SourceDataError as error:
        problems.extend(error.problems)
    if problems:
        raise SourceDataError(problems)
    return EditionSources(
        name=name,
        meta=meta,
        metrics=tables[METRICS_FILE],
        references=tables[REFERENCES_FILE],
        fingerprint=fingerprint(folder),
        notices=notices,
    )
