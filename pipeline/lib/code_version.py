"""Fingerprints of the code that shapes a report, so "same data and same code" can be recognised and a rebuild
reuses the published version instead of adding an identical one.

A published version's code version must describe the code that built it, not the code on disk when it is
published: templates are read once per build into a snapshot (`read_tree`) that is both rendered and hashed,
and the engine's own code is hashed once, when this module is imported, which is the code the process runs."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType

LIB_DIR = Path(__file__).resolve().parent


def read_tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (caches excluded) by its relative POSIX path, read once."""
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file() and "__pycache__" not in path.parts}


def files_hash(*trees: dict[str, bytes]) -> str:
    """sha256 over every file's relative path and bytes, first 12 hex."""
    digest = hashlib.sha256()
    for tree in trees:
        for name in sorted(tree):
            digest.update(name.encode() + b"\0" + tree[name])
    return digest.hexdigest()[:12]


#: The library code this process imported (hashed at import, so an edit while a build runs does not count).
_ENGINE = read_tree(LIB_DIR)


def engine_code_version() -> str:
    """The pipeline's own code as this process imported it."""
    return files_hash(_ENGINE)


def report_code_version(templates: dict[str, bytes]) -> str:
    """The templates a build rendered plus the pipeline's own code: recorded in each published version's manifest."""
    return files_hash(templates, _ENGINE)


def _source_of(name: str) -> str | None:
    spec = importlib.util.find_spec(name)
    return spec.origin if spec is not None else None


def modules_version(*modules: ModuleType | str, templates: Path | None = None) -> str:
    """sha256 (first 12 hex) of the modules a step runs, plus the templates folder for the steps that use it. A
    module given by its dotted name is found without being imported (one that a step loads only when needed).

    A fixed string such as "1" is only right until someone forgets to bump it; a hash cannot be forgotten."""
    digest = hashlib.sha256()
    for module in modules:
        name, source = (module, _source_of(module)) if isinstance(module, str) else (module.__name__, module.__file__)
        assert source is not None, f"{name} has no source file"
        digest.update(Path(source).read_bytes())
    if templates is not None:
        digest.update(files_hash(read_tree(templates)).encode())
    return digest.hexdigest()[:12]
