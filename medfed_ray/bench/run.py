"""Wall time, start-up time and peak memory of one whole simulation run."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from medfed_ray.bench.memory import PeakMemory
from medfed_ray.scenario.schema import Scenario


def measure_run(scenario: Scenario, address: str | None = None) -> dict[str, float]:
    """Run ``scenario`` in a fresh Ray runtime and return its costs.

    Memory is the peak summed PSS of this process and every process below it
    (Ray's GCS and raylet, the hospital and coordinator actors), so it only
    covers a local runtime that this process starts.
    """
    import ray

    from medfed_ray.simulation import connect, run_simulation

    started = time.perf_counter()
    already_running = ray.is_initialized()
    with PeakMemory() as memory, tempfile.TemporaryDirectory() as folder:
        connect(address)
        outcome = run_simulation(scenario, Path(folder) / "run", address=address)
        if not already_running:
            ray.shutdown()
    wall_seconds = time.perf_counter() - started

    rounds = outcome.rounds
    steady = [result.round_seconds for result in rounds[1:]] or [
        rounds[0].round_seconds
    ]
    final = outcome.summary.get("final") or {}
    return {
        "hospitals": scenario.num_hospitals,
        "rounds": len(rounds),
        "wall_seconds": wall_seconds,
        "startup_seconds": outcome.summary["startup_seconds"],
        "mean_round_seconds": sum(steady) / len(steady),
        "peak_pss_mib": memory.peak_bytes / 2**20,
        "processes_at_peak": memory.peak_processes,
        "final_accuracy": final.get("accuracy", float("nan")),
    }
