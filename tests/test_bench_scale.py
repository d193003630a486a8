"""``medfed bench scale`` at a tiny size: every measure reported, bad input refused."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from medfed_ray.bench.scale import cpu_share
from medfed_ray.cli.bench import bench_app


def test_scale_benchmark_reports_time_memory_and_slope_per_size(tmp_path):
    out = tmp_path / "scale.json"

    result = CliRunner().invoke(
        bench_app,
        ["scale", "--hospitals", "4,2", "--rounds", "2", "--json", str(out)],
        terminal_width=200,
    )

    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text())["records"]
    assert [record["hospitals"] for record in records] == [2, 4]
    for record in records:
        assert len(record["round_seconds"]) == 2
        assert record["updates_per_round"] == record["hospitals"]
        assert record["hospital_actors"] >= 1
        for key in ("startup_seconds", "seconds_per_round", "updates_per_second"):
            assert math.isfinite(record[key]) and record[key] > 0, (key, record)
        assert record["peak_pss_mib"] > 0 and record["processes_at_peak"] > 1
    assert records[0]["memory_per_hospital_kib"] is None
    assert math.isfinite(records[1]["memory_per_hospital_kib"])
    assert "KiB/hospital" in result.output


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--hospitals", "10,x"], "must be whole numbers separated by commas"),
        (["--hospitals", "1"], "needs counts of at least 2; found '1'"),
        (["--hospitals", "10,,20"], "must be whole numbers separated by commas"),
        (
            ["--json", "/nonexistent-folder/x.json"],
            "'/nonexistent-folder/x.json': its folder '/nonexistent-folder' does not "
            "exist",
        ),
        (["--fraction", "0"], "must be in (0, 1]; found 0"),
        (["--fraction", "1.5"], "must be in (0, 1]; found 1.5"),
        (
            ["--hospitals", "2,3,2"],
            "gives 2 more than once; give each count once (found '2,3,2')",
        ),
        (
            ["--training", "local", "--fraction", "0.5"],
            "local-only training trains every hospital in every round",
        ),
        (["--training", "central"], "'central' is not one of 'federated', 'local'"),
    ],
)
def test_bad_options_are_refused_naming_the_option(arguments, expected):
    result = CliRunner().invoke(bench_app, ["scale", *arguments], terminal_width=200)

    assert result.exit_code == 2
    # Rich draws the message in a box and may wrap it; compare the words alone.
    words = " ".join(result.output.replace("│", " ").split())
    assert expected in words


def test_each_hospital_gets_an_even_share_of_the_cores_in_rays_precision():
    assert cpu_share(10_000, 2) == pytest.approx(0.0002)
    assert cpu_share(3, 2) == pytest.approx(0.6666)
    assert cpu_share(1, 2) == 1.0
    with pytest.raises(ValueError, match="use at most 20000 hospitals"):
        cpu_share(30_000, 2)
