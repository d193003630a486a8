"""Sweeps: expansion through --set, validation of every combination, table and plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from medfed_ray.errors import ScenarioError
from medfed_ray.scenario.loading import load_scenario, parse_override
from medfed_ray.sweep import (
    combination_label,
    expand_sweep,
    mean_std,
    plot_sweep,
    run_combination,
    toml_value,
    write_sweep_table,
)

BASE = """
name = "s"
rounds = 2
total_hospitals = 8

[dataset]
name = "breast_cancer"

[[hospitals]]
num_cpus = 0.25

[[hospitals]]
fraction = 0.25
behaviour = "sign_flip"
num_cpus = 0.25
"""


def load(tmp_path: Path, sweep: str):
    path = tmp_path / "s.toml"
    path.write_text(BASE + "\n[sweep]\n" + sweep)
    return load_scenario(path)


def test_every_combination_in_axis_order(tmp_path):
    _, data = load(
        tmp_path,
        '"aggregator.name" = ["mean", "median"]\n'
        '"hospitals[1].fraction" = [0.0, 0.5]\nseed = [0, 1, 2]\n',
    )
    combinations = expand_sweep(data)

    assert len(combinations) == 12
    last = combinations[-1]
    assert last.values == {
        "aggregator.name": "median",
        "hospitals[1].fraction": 0.5,
        "seed": 2,
    }
    assert last.label == "011-median-0.5-2"
    assert last.scenario.aggregator.name == "median"
    assert [g.count for g in last.scenario.hospitals] == [4, 4]
    assert [g.count for g in combinations[0].scenario.hospitals] == [8, 0]
    assert last.scenario.seed == 2 and last.scenario.sweep is None


def test_a_table_value_replaces_the_whole_field(tmp_path):
    _, data = load(
        tmp_path,
        'aggregator = [{ name = "fedavg", max_norm = 2.0 },'
        ' { name = "krum", params = { num_malicious = 2 } }]\n',
    )
    first, second = expand_sweep(data)
    assert first.scenario.aggregator.max_norm == 2.0
    assert second.scenario.aggregator.params == {"num_malicious": 2}
    assert second.scenario.aggregator.max_norm is None
    assert second.label == "001-krum_num_malicious=2"


def test_an_invalid_combination_is_refused_at_load_naming_it(tmp_path):
    """Krum with f = 2 needs 7 hospitals; the 8-hospital scenario with f = 3 fails."""
    with pytest.raises(ScenarioError) as caught:
        load(
            tmp_path,
            'aggregator = [{ name = "krum", params = { num_malicious = 3 } }]\n'
            '"hospitals[1].fraction" = [0.25, 0.75]\n',
        )
    assert [str(p) for p in caught.value.problems] == [
        "sweep 000-krum_num_malicious=3-0.25: aggregator.params: krum needs "
        "n >= 2 * num_malicious + 3 hospitals; found n=8, num_malicious=3",
        "sweep 001-krum_num_malicious=3-0.75: aggregator.params: krum needs "
        "n >= 2 * num_malicious + 3 hospitals; found n=8, num_malicious=3",
    ]


def test_an_axis_naming_an_unknown_field_is_refused(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, '"aggregator.nmae" = ["median"]\n')
    assert str(caught.value.problems[0]).startswith(
        "sweep 000-median: aggregator.nmae: unknown field; did you mean 'name'?"
    )


@pytest.mark.parametrize(
    "value",
    [3, 0.25, True, "median", [1, 2], {"name": "krum", "params": {"f": 1}}],
)
def test_values_round_trip_through_the_set_syntax(value):
    assert parse_override(f"x={toml_value(value)}") == (["x"], value)


def test_labels_are_safe_folder_names():
    label = combination_label(7, {"a": "x/y z", "b": {"name": "m", "k": 1}})
    assert label == "007-x_y_z-m_k=1"


def rows():
    made = []
    for rule, offset in (("mean", 0.0), ("median", 0.1)):
        for fraction in (0.0, 0.25):
            for seed in (0, 1):
                made.append(
                    {
                        "combination": len(made),
                        "run": f"r{len(made)}",
                        "aggregator.name": rule,
                        "hospitals[1].fraction": fraction,
                        "seed": seed,
                        "accuracy": 0.8 - fraction + offset + 0.01 * seed,
                        "balanced_accuracy": 0.5,
                        "auroc": float("nan"),
                        "loss": 1.0,
                        "wall_seconds": 3.0,
                        "status": "ok",
                        "error": None,
                    }
                )
    return made


def test_sweep_table_has_one_row_per_combination_with_typed_axes(tmp_path):
    path = tmp_path / "sweep.parquet"
    write_sweep_table(path, rows())
    table = pq.read_table(path)
    assert table.num_rows == 8
    assert table.column_names[:5] == [
        "combination",
        "run",
        "aggregator.name",
        "hospitals[1].fraction",
        "seed",
    ]
    assert str(table.schema.field("hospitals[1].fraction").type) == "double"
    assert table.column("accuracy").to_pylist()[0] == pytest.approx(0.8)


def test_plot_puts_the_fraction_on_x_with_one_line_per_rule(tmp_path):
    path = plot_sweep(
        rows(), ["aggregator.name", "hospitals[1].fraction", "seed"], tmp_path
    )
    assert path == tmp_path / "sweep_accuracy.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mean_and_sample_std():
    mean, std = mean_std([0.8, 0.9, 1.0])
    assert mean == pytest.approx(0.9)
    assert std == pytest.approx(0.1)
    assert mean_std([0.5]) == (0.5, 0.0)


def test_a_finished_combination_is_read_back_not_rerun(tmp_path):
    """Rerunning a sweep into the same folder keeps what is already done."""
    _, data = load(tmp_path, "seed = [4]\n")
    (combo,) = expand_sweep(data)
    run_dir = tmp_path / "runs" / combo.label
    run_dir.mkdir(parents=True)
    final = {"accuracy": 0.75, "balanced_accuracy": 0.7, "auroc": 0.8, "loss": 0.5}
    (run_dir / "summary.json").write_text(
        json.dumps({"final": final, "wall_seconds": 12.0})
    )

    row = run_combination(combo, run_dir, address=None)

    assert row["status"] == "reused" and row["seed"] == 4
    assert row["accuracy"] == 0.75 and row["wall_seconds"] == 12.0
    assert not math.isnan(row["auroc"])


def test_combinations_run_side_by_side_only_when_their_hospitals_fit(
    ray_runtime, tmp_path
):
    """The session runtime has 2 CPUs: 8 x 0.25 CPU fits once, 4 x 0.125 four times."""
    from medfed_ray.sweep import parallel_slots

    _, data = load(tmp_path, "seed = [0, 1, 2, 3, 4]\n")
    big = [combo.scenario for combo in expand_sweep(data)]
    _, small_data = load(
        tmp_path,
        "seed = [0, 1, 2, 3, 4]\n",
    )
    small_data["total_hospitals"] = 4
    for group in small_data["hospitals"]:
        group["num_cpus"] = 0.125
    small = [combo.scenario for combo in expand_sweep(small_data)]

    assert ray_runtime.cluster_resources()["CPU"] == 2
    assert parallel_slots(big) == 1
    assert parallel_slots(small) == 4
    assert parallel_slots(small[:3]) == 3


def rendered(table) -> str:
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def test_sweep_summary_gives_mean_and_spread_over_seeds():
    """With a seed axis, each row is the mean ± sample std of its seeds."""
    from medfed_ray.cli.sweep import sweep_table

    text = rendered(
        sweep_table(rows(), ["aggregator.name", "hospitals[1].fraction", "seed"])
    )

    assert "mean ± sample std over seeds" in text
    # mean 0.805, sample std of 0.80 and 0.81 = 0.00707
    assert "0.8050 ± 0.0071" in text


def test_sweep_summary_without_seeds_shows_each_run_without_a_spread():
    """One run per row has no spread: no ± and no claim about seeds."""
    from medfed_ray.cli.sweep import sweep_table

    single = [row for row in rows() if row["seed"] == 0]

    text = rendered(sweep_table(single, ["aggregator.name", "hospitals[1].fraction"]))

    assert "±" not in text and "seeds" not in text
    assert "0.8000" in text


def test_local_only_summary_says_its_scores_are_means_over_hospitals():
    from medfed_ray.cli.run import summary_table

    summary = {
        "scenario": "s",
        "training": "local",
        "final": {"accuracy": 0.8, "accuracy_std": 0.1},
        "rounds": 2,
        "hospitals": 3,
        "wall_seconds": 1.0,
    }

    text = rendered(summary_table(summary, 1.0))

    assert "accuracy (mean over hospitals)" in text
    assert "accuracy spread (std over hospitals)" in text
