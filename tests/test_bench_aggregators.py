"""``medfed bench aggregators`` at a tiny size: every rule reported with finite numbers."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from medfed_ray.aggregators import AGGREGATORS
from medfed_ray.cli.bench import bench_app


def test_bench_aggregators_reports_every_rule_with_finite_numbers(tmp_path):
    """The table names every rule and the JSON holds finite timings and ratios."""
    output = tmp_path / "bench.json"

    result = CliRunner().invoke(
        bench_app,
        [
            "aggregators",
            "--n",
            "5",
            "--d",
            "1000",
            "--repeats",
            "1",
            "--json",
            str(output),
        ],
    )

    assert result.exit_code == 0, result.output
    records = json.loads(output.read_text())["records"]
    assert [record["rule"] for record in records] == list(AGGREGATORS)
    for record in records:
        assert record["rule"] in result.output
        for key in ("seconds", "values_per_second", "vs_floor", "speedup"):
            assert math.isfinite(record[key]) and record[key] > 0, (record["rule"], key)
        # The fast rule and its reference agree to float32 rounding.
        assert record["max_abs_difference"] < 1e-5, record["rule"]


def test_bench_aggregators_names_an_unknown_rule_and_the_choices():
    """A misspelt rule is a usage error listing the registered rules."""
    result = CliRunner().invoke(bench_app, ["aggregators", "--rules", "mean,krums"])

    assert result.exit_code == 2
    assert "unknown rule(s) krums; choose from fedavg, mean" in " ".join(
        result.output.split()
    )


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            ["--n", "2", "--rules", "krum"],
            "krum needs n >= 2 * num_malicious + 3 hospitals; found n=2, "
            "num_malicious=0; raise --n or leave those rules out of --rules",
        ),
        (
            ["--json", "/nonexistent-folder/x.json"],
            "its folder '/nonexistent-folder' does not exist",
        ),
    ],
)
def test_bench_aggregators_refuses_bad_options_before_timing(arguments, expected):
    """Too few rows for a rule, or a --json file that cannot be written: usage errors."""
    result = CliRunner().invoke(
        bench_app, ["aggregators", "--d", "10", *arguments], terminal_width=200
    )

    assert result.exit_code == 2
    words = " ".join(result.output.replace("│", " ").split())
    assert expected in words
