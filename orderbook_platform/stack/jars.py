"""Fetch the stack's JVM artifacts with Maven, once, into a cache outside git."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from rich.console import Console

from orderbook_platform.stack.errors import StackError

POM = Path(__file__).with_name("pom.xml")
CLASSPATHS = ("kafka", "spark", "s3proxy")
_STAMP = ".pom-sha256"


def require_tool(name: str, install_hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StackError(f"`{name}` not found on PATH: install {install_hint}")
    return path


def require_java() -> str:
    return require_tool(
        "java", "a JDK 17 or newer (e.g. `apt-get install openjdk-17-jdk-headless`)"
    )


def _poms_digest() -> str:
    digest = hashlib.sha256()
    for pom in sorted(POM.parent.rglob("pom.xml")):
        digest.update(pom.relative_to(POM.parent).as_posix().encode())
        digest.update(pom.read_bytes())
    return digest.hexdigest()


def jars_are_current(jars_dir: Path) -> bool:
    stamp = jars_dir / _STAMP
    return (
        stamp.is_file()
        and stamp.read_text().strip() == _poms_digest()
        and all(any((jars_dir / name).glob("*.jar")) for name in CLASSPATHS)
    )


def classpath(jars_dir: Path, name: str) -> str:
    folder = jars_dir / name
    if not any(folder.glob("*.jar")):
        raise StackError(f"no jars in {folder}: run `orderbook stack fetch` first")
    return f"{folder}/*"


def jar_files(jars_dir: Path, name: str) -> list[Path]:
    return sorted((jars_dir / name).glob("*.jar"))


def fetch_jars(jars_dir: Path, console: Console | None = None) -> Path:
    """Resolve the pom into `jars_dir/{kafka,spark,s3proxy}`; a no-op when up to date."""
    console = console or Console(stderr=True)
    jars_dir = jars_dir.expanduser().resolve()
    if jars_are_current(jars_dir):
        return jars_dir
    require_java()
    mvn = require_tool("mvn", "Apache Maven 3.8+ (e.g. `apt-get install maven`)")
    for name in CLASSPATHS:  # stale versions must not linger on a classpath
        shutil.rmtree(jars_dir / name, ignore_errors=True)
    jars_dir.mkdir(parents=True, exist_ok=True)
    command = [
        mvn, "-B", "-ntp", "-f", str(POM),
        "dependency:copy-dependencies", f"-Djars.dir={jars_dir}",
    ]  # fmt: skip
    tail: list[str] = []
    with console.status("[bold]Fetching JVM artifacts from Maven Central[/] (first run only)"):
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        copied = 0
        for line in process.stdout:
            tail = [*tail[-40:], line.rstrip()]
            if "Copying" in line:
                copied += 1
                console.log(f"[dim]{line.strip().removeprefix('[INFO] ')}[/]", highlight=False)
        returncode = process.wait()
    if returncode != 0:
        detail = "\n".join(line for line in tail if "ERROR" in line) or "\n".join(tail[-10:])
        raise StackError(f"mvn dependency:copy-dependencies failed:\n{detail}")
    (jars_dir / _STAMP).write_text(_poms_digest() + "\n")
    console.log(f"JVM artifacts ready in {jars_dir} ({copied} jars)")
    return jars_dir
