"""Requests/s and latency of one RPC against the baseline and against sessiond, same load.

One function for every method (``measure_rpc``): each round warms up and measures every
target in turn, the order flipping each round (A B, B A...) so a drift of the shared
machine's load does not always favour the same target.

A round counts only if the baseline (the first target) got at least BASELINE_MIN_CPU of
its core: below that the machine, not the server, set its pace, and a ratio to it says
nothing. Refused rounds are counted and replaced, up to as many again as asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from tests.bench.ghz import LoadResult, LoadSettings, run_ghz
from tests.bench.workload import Rpc

CpuMeter = Callable[[], float]  # CPU seconds a process has used so far
BASELINE_MIN_CPU = 0.8  # share of one core the baseline's server needs for its round to count


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
    refused: list[float] = field(default_factory=list)  # the baseline's CPU share of each refused round
    baseline_cpu: list[float] = field(default_factory=list)  # ... and of each round counted
    min_baseline_cpu: float = BASELINE_MIN_CPU

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
    min_baseline_cpu: float = BASELINE_MIN_CPU,
) -> RpcFigures:
    data_file = work_dir / f"{rpc.method}.json"
    data_file.write_text(json.dumps(rpc.data(session_ids)))
    report = work_dir / f"{rpc.method}.ghz.json"
    figures = RpcFigures(rpc.method, {t.name: TargetFigures() for t in targets}, min_baseline_cpu=min_baseline_cpu)
    baseline = targets[0]
    attempts = 0
    while len(figures.targets[baseline.name].round_rps) < rounds and attempts < 2 * rounds:
        order = targets if attempts % 2 == 0 else list(reversed(targets))
        attempts += 1
        measured: dict[str, tuple[LoadResult, dict[str, float]]] = {}
        for target in order:
            run_ghz(ghz, target.address, rpc.full_name, data_file, replace(settings, duration=warmup), report)
            before = {name: meter() for name, meter in target.meters.items()}
            result = run_ghz(ghz, target.address, rpc.full_name, data_file, settings, report)
            measured[target.name] = result, {name: meter() - before[name] for name, meter in target.meters.items()}
        base_result, base_cpu = measured[baseline.name]
        share = base_cpu["server"] / base_result.seconds if base_result.seconds else 0.0
        if share < min_baseline_cpu:
            figures.refused.append(share)
            continue
        figures.baseline_cpu.append(share)
        for name, (result, cpu) in measured.items():
            mine = figures.targets[name]
            for meter, seconds in cpu.items():
                mine.cpu[meter] = mine.cpu.get(meter, 0.0) + seconds
            mine.result.add(result)
            mine.round_rps.append(result.rps)
    return figures
