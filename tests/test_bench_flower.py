"""The Flower side of ``medfed bench simulation`` at a tiny size (only where flwr is installed)."""

from __future__ import annotations

import math

import pytest

from medfed_ray.bench.simulation import measure

pytest.importorskip("flwr")


def test_flower_side_trains_as_the_loop_does_and_reports_its_costs():
    """Flower's run reaches the loop's global model and reports finite costs.

    Same data, seeds and train step per client update, so the final weights
    agree up to the order in which the averages are summed.
    """
    flower = measure("flower", 2, 3, 1)
    loop = measure("loop", 2, 3)

    assert flower["side"] == "flower"
    assert flower["actors"] == 1
    assert len(flower["round_seconds"]) == 3
    for key in ("updates_per_second", "startup_seconds", "peak_pss_mib"):
        assert math.isfinite(flower[key]) and flower[key] > 0, (key, flower)
    # The driver, Ray's services and the one actor are all counted.
    assert flower["processes_at_peak"] >= 3
    assert flower["final_weights_l2"] == pytest.approx(
        loop["final_weights_l2"], rel=1e-5
    )
