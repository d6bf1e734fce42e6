"""Which engine core runs: the mypyc-compiled one, or the same modules as plain Python.

The hot modules (COMPILED_MODULES) are ordinary type-annotated Python. `make install`
(engine/build_core.py) compiles them in place with mypyc into C extensions beside the
sources (`engine/matching.cpython-311-x86_64-linux-gnu.so`, ..., plus the shared
`engine/core__mypyc.*.so`); Python's import system prefers an extension module to a
`.py` of the same name, so nothing else has to change. `engine/__init__.py` calls
`select()` before it imports any of them, and the pure-Python sources are used instead
when

- `OB_ENGINE_PURE=1` is set (forced: debugging, profiling, comparing), or
- the build is missing or incomplete, or
- the build is stale: the sources changed since it was made (their digest differs from
  the one the build recorded), which also warns, so an edit is never silently ignored.

All modules are compiled or none: compiled code relies on the compiled classes of its
siblings. This module imports only the standard library (the build script loads it by
path, without importing the package).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from pathlib import Path

PURE_ENV = "OB_ENGINE_PURE"
# Dependency order. Their sources must stay mypy-clean: mypyc type-checks them.
COMPILED_MODULES = (
    "engine.events",
    "engine.ticks",
    "engine.validation",
    "engine.book",
    "engine.matching",
    "engine.wire",
)
GROUP = "engine.core"  # mypyc's shared library of the group: engine/core__mypyc.<abi>.so

PACKAGE_DIR = Path(__file__).resolve().parent
STAMP = PACKAGE_DIR / ".core-build"

COMPILED = "compiled"
PURE_FORCED = "pure (OB_ENGINE_PURE)"
PURE_NOT_BUILT = "pure (not built)"
PURE_STALE = "pure (build is stale)"

mode = PURE_NOT_BUILT  # what select() decided


def source_path(module: str) -> Path:
    return PACKAGE_DIR / f"{module.rpartition('.')[2]}.py"


def extension_paths() -> list[Path]:
    """Where the compiled modules of this interpreter live, shared library first."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]  # e.g. .cpython-311-x86_64-linux-gnu.so
    names = [GROUP.rpartition(".")[2] + "__mypyc"]
    names += [module.rpartition(".")[2] for module in COMPILED_MODULES]
    return [PACKAGE_DIR / f"{name}{suffix}" for name in names]


def source_digest() -> str:
    """sha256 of the compiled modules' sources and the interpreter's extension ABI."""
    digest = hashlib.sha256(importlib.machinery.EXTENSION_SUFFIXES[0].encode())
    for module in COMPILED_MODULES:
        digest.update(b"\0" + module.encode() + b"\0")
        digest.update(source_path(module).read_bytes())
    return digest.hexdigest()


def pure_requested() -> bool:
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def build_is_current() -> bool:
    """Every extension is present and was built from the sources as they are now."""
    try:
        recorded = STAMP.read_text().strip()
    except OSError:
        return False
    return recorded == source_digest() and all(path.is_file() for path in extension_paths())


class _PureFinder:
    """A meta path finder that loads the core modules from their `.py` sources."""

    @staticmethod
    def find_spec(fullname: str, path: object = None, target: object = None):
        if fullname in COMPILED_MODULES:
            return importlib.util.spec_from_file_location(fullname, source_path(fullname))
        return None


def _force_pure() -> None:
    if not any(isinstance(finder, _PureFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PureFinder())


def select() -> str:
    """Decide compiled or pure before the first core import; returns the mode."""
    global mode
    if pure_requested():
        _force_pure()
        mode = PURE_FORCED
    elif build_is_current():
        mode = COMPILED
    elif any(path.exists() for path in extension_paths()):
        _force_pure()
        mode = PURE_STALE
        warnings.warn(
            "the compiled engine core does not match its sources; using the pure-Python "
            "modules (run `make install` to rebuild it)",
            RuntimeWarning,
            stacklevel=2,
        )
    else:
        mode = PURE_NOT_BUILT
    return mode


def is_compiled() -> bool:
    """Whether the core modules, as this process imports them, are the compiled ones."""
    flags = []
    for module in COMPILED_MODULES:
        loaded = importlib.import_module(module)  # not every module is imported yet
        filename = getattr(loaded, "__file__", None) or ""
        flags.append(filename.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)))
    return all(flags)
