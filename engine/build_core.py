"""Compile the engine core with mypyc, in place: `python engine/build_core.py [--force]`.

`make install` (and so `make run` / `make test`) runs it after `uv sync`. It compiles
engine.native.COMPILED_MODULES into C extensions beside their sources and records the
digest of the sources they were built from (engine/.core-build), which
engine/native.py checks at import. Nothing to do when that digest is current; skipped
when OB_ENGINE_PURE=1. Needs a C compiler and the Python headers; mypy (which ships
mypyc) and setuptools are dev dependencies in uv.lock.

Run as a script, not `python -m engine...`: importing the package would load the very
extensions this replaces. Each finished extension is moved into place with an atomic
rename, so a process that has the old one loaded keeps a valid file.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# As a script, sys.path[0] is engine/: its modules (events, settings, ...) must not
# shadow top-level ones for mypy and setuptools.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

_spec = importlib.util.spec_from_file_location("_engine_native", HERE / "native.py")
assert _spec is not None and _spec.loader is not None
native = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(native)

BUILD_DIR = ROOT / "build" / "engine-core"


def build(force: bool = False) -> int:
    if native.pure_requested():
        print(f"engine core: {native.PURE_ENV} is set, not compiling")
        return 0
    if not force and native.build_is_current():
        print("engine core: compiled build is up to date")
        return 0

    from mypyc.build import mypycify  # only when building
    from setuptools import setup

    started = time.monotonic()
    digest = native.source_digest()
    native.STAMP.unlink(missing_ok=True)  # a failed build must not look current
    print("engine core: compiling with mypyc (a minute or two)...", flush=True)
    os.chdir(ROOT)
    sources = [str(native.source_path(m).relative_to(ROOT)) for m in native.COMPILED_MODULES]
    extensions = mypycify(
        sources, opt_level="3", group_name=native.GROUP, target_dir=str(BUILD_DIR / "c")
    )
    lib_dir = BUILD_DIR / "lib"
    # Away from the project's pyproject.toml, which is hatchling's, not setuptools'.
    os.chdir(BUILD_DIR)
    setup(
        name="orderbook-engine-core",
        packages=[],
        py_modules=[],
        ext_modules=extensions,
        script_args=[
            "--quiet",
            "build_ext",
            "--build-lib",
            str(lib_dir),
            "--build-temp",
            str(BUILD_DIR / "temp"),
        ],
    )
    for target in native.extension_paths():
        built = lib_dir / target.relative_to(ROOT)
        os.chdir(ROOT)
        if not built.is_file():
            raise SystemExit(f"engine core: mypyc did not produce {built}")
        staging = target.with_name(f".{target.name}.new")
        shutil.copyfile(built, staging)
        os.replace(staging, target)
    if native.source_digest() != digest:
        raise SystemExit("engine core: the sources changed during the build; run it again")
    native.STAMP.write_text(digest + "\n")
    print(f"engine core: compiled in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(build(force="--force" in sys.argv[1:]))
