"""faults-report.json: one entry per scenario, rewritten after each one.

Written after every scenario (not only at the end) so that a suite cut short still
leaves the scenarios it finished. The layout is described in docs/reliability.md.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Fault:
    kind: str  # e.g. "engine SIGKILL", "broker SIGKILL + restart"
    at_progress: float | None = None  # share of the scenario's orders committed, 0..1
    recovery_s: float | None = None  # from the fault's end to the first progress after it
    detail: str = ""


@dataclass
class ScenarioResult:
    scenario: str
    title: str
    faults: list[Fault] = field(default_factory=list)
    orders: int = 0
    trades: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    book_hash_equal: bool | None = None
    seconds: float = 0.0
    passed: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def max_recovery_s(self) -> float | None:
        times = [f.recovery_s for f in self.faults if f.recovery_s is not None]
        return max(times) if times else None


class FaultsReport:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = time.time()
        self.results: list[ScenarioResult] = []

    def add(self, result: ScenarioResult) -> None:
        self.results.append(result)
        self.write()

    def write(self) -> None:
        scenarios = []
        for result in self.results:
            entry = asdict(result)
            entry["faults_injected"] = len(result.faults)
            entry["time_to_recover_s"] = result.max_recovery_s
            scenarios.append(entry)
        body = {
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "wall_seconds": round(time.time() - self.started, 1),
            "totals": {
                "scenarios": len(self.results),
                "passed": sum(r.passed for r in self.results),
                "faults_injected": sum(len(r.faults) for r in self.results),
                "orders": sum(r.orders for r in self.results),
                "trades": sum(r.trades for r in self.results),
                "lost": sum(r.lost for r in self.results),
                "duplicated": sum(r.duplicated for r in self.results),
                "reordered": sum(r.reordered for r in self.results),
            },
            "scenarios": scenarios,
        }
        self.path.write_text(json.dumps(body, indent=2) + "\n")
