"""Static checks of docker/platform.Dockerfile and .dockerignore (no docker engine here)."""

from __future__ import annotations

import fnmatch
import re
import tomllib

import pytest
from packaging.specifiers import SpecifierSet

from tests.helm.accepted import accepted_env_names
from tests.helm.chart import ROOT
from tests.helm.dockerfile import Stage, stages

pytestmark = pytest.mark.unit

DOCKERFILE = ROOT / "docker" / "platform.Dockerfile"
ARGS, STAGES = stages(DOCKERFILE)
BY_NAME = {stage.name: stage for stage in STAGES if stage.name}
RUNTIME = STAGES[-1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|libc6-dev|python3-dev|maven|jdk)\b")


def _copies(stage: Stage) -> list[tuple[str | None, list[str], str]]:
    """(from stage or None, sources, destination) of each COPY."""
    result = []
    for copy in stage.of("COPY"):
        words = copy.words()
        origin = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
        paths = [w for w in words if not w.startswith("--")]
        result.append((origin, paths[:-1], paths[-1]))
    return result


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(path: str) -> bool:
    path = path.rstrip("/")
    return any(
        fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern + "/*")
        for pattern in _dockerignore()
    )


def test_base_images_are_pinned_by_a_version_tag() -> None:
    local = {stage.name for stage in STAGES}
    external = [stage.base for stage in STAGES if stage.base not in local]
    assert external
    for image in external:
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag, f"{image} has no tag"
        assert tag != "latest" and re.search(r"\d", tag), f"{image} is not pinned"


def test_base_python_satisfies_the_project() -> None:
    version = re.match(r"python:(\d+\.\d+\.\d+)", ARGS["PYTHON_IMAGE"])
    assert version, ARGS["PYTHON_IMAGE"]
    assert version.group(1) in SpecifierSet(PROJECT["project"]["requires-python"])


def test_every_copied_source_is_in_the_repo_and_in_the_build_context() -> None:
    local_copies = [
        (src, stage)
        for stage in STAGES
        for origin, srcs, _ in _copies(stage)
        if origin is None
        for src in srcs
    ]
    assert local_copies
    for source, _stage in local_copies:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repo"
        assert not _ignored(source), f"COPY {source}: excluded by .dockerignore"


def test_copies_from_stages_name_stages_or_pinned_images() -> None:
    for stage in STAGES:
        for origin, _, _ in _copies(stage):
            if origin is not None:
                assert origin in BY_NAME or re.search(r":\S*\d", origin), origin


def test_every_uv_sync_is_frozen_and_the_shipped_venv_has_no_dev_tools() -> None:
    syncs = [
        (stage, command)
        for stage in STAGES
        for run in stage.of("RUN")
        for command in run.text.split("&&")
        if "uv sync" in command
    ]
    assert syncs
    assert all("--frozen" in command for _, command in syncs)
    # The runtime's /app (with .venv) comes from one stage; every sync there is --no-dev.
    (origin,) = {o for o, srcs, _ in _copies(RUNTIME) if "/app" in srcs}
    assert all("--no-dev" in command for stage, command in syncs if stage.name == origin)


def test_the_runtime_has_no_compiler_and_gets_the_compiled_core() -> None:
    installs = " ".join(run.text for run in RUNTIME.of("RUN"))
    assert not COMPILERS.search(installs), COMPILERS.search(installs)
    assert "openjdk-17-jre-headless" in installs  # PySpark
    core_copies = [srcs for origin, srcs, _ in _copies(RUNTIME) if origin == "core"]
    assert core_copies == [["/app/engine/*.so", "/app/engine/.core-build"]]
    core_runs = " ".join(run.text for run in BY_NAME["core"].of("RUN"))
    assert "engine/build_core.py" in core_runs and "gcc" in core_runs


def test_the_runtime_gets_the_spark_jars_where_the_settings_point() -> None:
    from orderbook_platform.stack.jars import CLASSPATHS

    fetch = " ".join(run.text for run in BY_NAME["jars"].of("RUN"))
    assert "orderbook stack fetch" in fetch
    jars_dir = re.search(r"OB__STACK__JARS_DIR=(\S+)", fetch).group(1)
    env = " ".join(i.text for i in RUNTIME.of("ENV"))
    assert f"OB__STACK__JARS_DIR={jars_dir}" in env
    (copy,) = [(srcs, dest) for origin, srcs, dest in _copies(RUNTIME) if origin == "jars"]
    assert copy == ([f"{jars_dir}/spark"], f"{jars_dir}/spark")
    assert "spark" in CLASSPATHS


def test_the_default_command_is_a_console_script_of_the_project() -> None:
    (cmd,) = RUNTIME.of("CMD")
    assert cmd.words()[0] in PROJECT["project"]["scripts"]
    assert not RUNTIME.of("ENTRYPOINT")
    env = " ".join(i.text for i in RUNTIME.of("ENV"))
    assert "PATH=/app/.venv/bin:" in env  # where uv sync puts the console scripts


def test_image_ob_variables_are_ones_the_platform_accepts() -> None:
    names = set(
        re.findall(r"\b(OB__\w+)=", " ".join(i.text for s in STAGES for i in s.instructions))
    )
    assert names
    assert names <= accepted_env_names(), names - accepted_env_names()


def test_dockerignore_keeps_local_builds_and_secrets_out() -> None:
    for path in (
        ".venv",
        ".git",
        ".orderbook",
        "engine/core__mypyc.cpython-311-x86_64-linux-gnu.so",
        "engine/.core-build",
        "tests",
    ):
        assert _ignored(path), path
    for path in (
        "uv.lock",
        "pyproject.toml",
        "engine/matching.py",
        "orderbook_platform/stack/pom.xml",
    ):
        assert not _ignored(path), path
