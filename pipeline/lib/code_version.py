"""Fingerprints of the code that shapes a report, so "same data and same code" can be recognised and a rebuild
reuses the published version instead of adding an identical one."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType

LIB_DIR = Path(__file__).resolve().parent


def tree_hash(*folders: Path) -> str:
    """sha256 over every file's relative path and bytes under the folders (caches excluded), first 12 hex."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def templates_version(templates: Path) -> str:
    """What a template edit changes: the steps from HTML onwards depend on it."""
    return tree_hash(templates)


def report_code_version(templates: Path) -> str:
    """Templates plus the pipeline's own code: recorded in each published version's manifest."""
    return tree_hash(templates, LIB_DIR)


def modules_version(*modules: ModuleType, templates: Path | None = None) -> str:
    """sha256 (first 12 hex) of the modules a step runs, plus the templates folder for the steps that use it.

    A fixed string such as "1" is only right until someone forgets to bump it; a hash cannot be forgotten."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    if templates is not None:
        digest.update(templates_version(templates).encode())
    return digest.hexdigest()[:12]
