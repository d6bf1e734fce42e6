"""A small reader of docker/platform.Dockerfile: instructions, stages, ARG defaults."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Instruction:
    keyword: str
    text: str

    def words(self) -> list[str]:
        """Exec form (JSON array) or shell form, flags included."""
        if self.text.startswith("["):
            return json.loads(self.text)
        return shlex.split(self.text)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def of(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def instructions(path: Path) -> list[Instruction]:
    """Logical lines (continuations joined, comments dropped) as instructions."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    result = []
    for line in logical:
        keyword, _, text = line.partition(" ")
        result.append(Instruction(keyword.upper(), text.strip()))
    return result


def stages(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults, and each stage with its base image resolved."""
    args: dict[str, str] = {}
    found: list[Stage] = []
    for instruction in instructions(path):
        if instruction.keyword == "FROM":
            words = [w for w in instruction.text.split() if not w.startswith("--")]
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            found.append(Stage(base, name))
        elif instruction.keyword == "ARG" and not found:
            name, _, default = instruction.text.partition("=")
            args[name] = default
        elif found:
            found[-1].instructions.append(instruction)
    return args, found
