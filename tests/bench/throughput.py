"""Requests/s and latency of one RPC against the baseline and against sessiond, same load.

One function for every method (``measure_rpc``): each round warms up and measures every
target in turn, the order flipping each round (A B, B A...) so a drift of the shared
machine's load does not always favour the same target.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from tests.bench.ghz import LoadResult, LoadSettings, run_ghz
from tests.bench.workload import Rpc

CpuMeter = Callable[[], float]  # CPU seconds a process has used so far


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    address: str
    meters: dict[str, CpuMeter]  # e.g. {"server": ..., "redis": ...}


@dataclass(slots=True)
class TargetFigures:
    result: LoadResult = field(default_factory=LoadResult)
    round_rps: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # meter -> CPU seconds over the measured runs

    def cpu_percent(self, meter: str) -> float:
        return 100 * self.cpu.get(meter, 0.0) / self.result.seconds if self.result.seconds else 0.0


@dataclass(slots=True)
class RpcFigures:
    method: str
    targets: dict[str, TargetFigures]

    def ratio(self, name: str, baseline: str) -> float:
        base = self.targets[baseline].result.rps
        return self.targets[name].result.rps / base if base else 0.0

    def round_ratios(self, name: str, baseline: str) -> list[float]:
        pairs = zip(self.targets[name].round_rps, self.targets[baseline].round_rps, strict=True)
        return [mine / base for mine, base in pairs if base]


def measure_rpc(
    ghz: str,
    rpc: Rpc,
    session_ids: list[str],
    targets: list[Target],
    settings: LoadSettings,
    *,
    warmup: float,
    rounds: int,
    work_dir: Path,
) -> RpcFigures:
    data_file = work_dir / f"{rpc.method}.json"
    data_file.write_text(json.dumps(rpc.data(session_ids)))
    report = work_dir / f"{rpc.method}.ghz.json"
    figures = RpcFigures(rpc.method, {t.name: TargetFigures() for t in targets})
    for round_number in range(rounds):
        for target in targets if round_number % 2 == 0 else list(reversed(targets)):
            run_ghz(ghz, target.address, rpc.full_name, data_file, replace(settings, duration=warmup), report)
            before = {name: meter() for name, meter in target.meters.items()}
            result = run_ghz(ghz, target.address, rpc.full_name, data_file, settings, report)
            mine = figures.targets[target.name]
            for name, meter in target.meters.items():
                mine.cpu[name] = mine.cpu.get(name, 0.0) + meter() - before[name]
            mine.result.add(result)
            mine.round_rps.append(result.rps)
    return figures
