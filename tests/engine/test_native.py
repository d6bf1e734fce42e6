"""The compiled engine core: which one runs, when a build counts as current, and that
the compiled and the pure-Python modules behave byte for byte alike."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from engine import native
from engine.events import TOPICS
from tests.engine.test_differential import random_stream

pytestmark = pytest.mark.unit


def test_the_suite_runs_the_compiled_core_unless_pure_is_asked_for() -> None:
    # `make test` builds the core first (make install), so a missing or stale build
    # here means the suite would silently test the slow path instead.
    if native.pure_requested():
        assert native.mode == native.PURE_FORCED
        assert not native.is_compiled()
    else:
        assert native.mode == native.COMPILED, f"core is {native.mode}: run `make core`"
        assert native.is_compiled()


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Copies of the core's sources, with stand-in extension files, as the package dir."""
    for module in native.COMPILED_MODULES:
        shutil.copy(native.source_path(module), tmp_path)
    monkeypatch.setattr(native, "PACKAGE_DIR", tmp_path)
    monkeypatch.setattr(native, "STAMP", tmp_path / ".core-build")
    for path in native.extension_paths():
        path.write_bytes(b"")
    return tmp_path


def test_a_build_is_current_only_for_the_sources_it_was_made_from(fake_package: Path) -> None:
    assert not native.build_is_current()  # no stamp yet
    native.STAMP.write_text(native.source_digest() + "\n")
    assert native.build_is_current()

    source = native.source_path("engine.matching")
    source.write_text(source.read_text() + "\n# an edit\n")
    assert not native.build_is_current()


def test_a_build_with_a_missing_extension_is_not_current(fake_package: Path) -> None:
    native.STAMP.write_text(native.source_digest() + "\n")
    native.extension_paths()[-1].unlink()
    assert not native.build_is_current()


def test_the_digest_covers_every_compiled_module(fake_package: Path) -> None:
    before = native.source_digest()
    for module in native.COMPILED_MODULES:
        source = native.source_path(module)
        original = source.read_bytes()
        source.write_bytes(original + b"\n")
        assert native.source_digest() != before, module
        source.write_bytes(original)
    assert native.source_digest() == before


def _replay_in_subprocess(source: Path, out: Path, *, pure: bool) -> str:
    env = dict(os.environ)
    env.pop(native.PURE_ENV, None)
    if pure:
        env[native.PURE_ENV] = "1"
    script = (
        "import sys; from pathlib import Path; from engine import native; "
        "from engine.config import EngineConfig; from engine.replay import replay; "
        "stats = replay(Path(sys.argv[1]), Path(sys.argv[2]), EngineConfig(depth=5)); "
        "print(native.mode, native.is_compiled(), stats.state_hash)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(source), str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_compiled_and_pure_cores_write_identical_replays(tmp_path: Path) -> None:
    if not native.build_is_current():
        pytest.fail("the compiled core is not built: run `make install`")
    orders = random_stream(11, 20_000)
    source = tmp_path / "orders.jsonl"
    source.write_bytes(msgspec.json.Encoder().encode_lines(orders))

    compiled = _replay_in_subprocess(source, tmp_path / "compiled", pure=False)
    pure = _replay_in_subprocess(source, tmp_path / "pure", pure=True)

    assert compiled.split()[:2] == [native.COMPILED, "True"]
    assert pure.split()[:2] == ["pure", "(OB_ENGINE_PURE)"]
    assert compiled.split()[-1] == pure.split()[-1]  # the final state hash
    for topic in TOPICS:
        written = (tmp_path / "compiled" / f"{topic}.jsonl").read_bytes()
        assert written, topic
        assert written == (tmp_path / "pure" / f"{topic}.jsonl").read_bytes(), topic
