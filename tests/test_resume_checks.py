"""Resuming refuses a scenario.toml edited in ways that change what the rounds compute."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tomli_w

from medfed_ray.checkpoint import CheckpointError
from medfed_ray.coordinator_state import CoordinatorState
from medfed_ray.errors import RunStopped
from medfed_ray.resume_checks import (
    changed_fields,
    check_resumable,
    check_state_fits,
    scenario_record,
)
from medfed_ray.scenario.loading import load_scenario, validate_scenario
from medfed_ray.simulation import run_simulation

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.toml"))


def small_scenario(**top):
    return validate_scenario(
        {
            "name": "resume",
            "seed": 5,
            "rounds": 3,
            "checkpoint_every": 0,
            "partition": {"name": "iid", "min_samples": 20},
            "model": {"hidden_units": [4]},
            "local": {"batch_size": 64, "learning_rate": 0.1},
            "hospitals": [{"count": 3, "num_cpus": 0.5}],
            **top,
        }
    )


def shipped_runs() -> list:
    """Every scenario a shipped file runs: the file's own, or each sweep combination's."""
    from medfed_ray.scenario.loading import read_scenario_file
    from medfed_ray.sweep import expand_sweep

    runs = []
    for path in SCENARIOS:
        data = read_scenario_file(path)
        if data.get("sweep"):
            runs += [
                pytest.param(
                    combination.scenario, id=f"{path.stem}-{combination.label}"
                )
                for combination in expand_sweep(data, str(path))
            ]
        else:
            runs.append(pytest.param(load_scenario(path)[0], id=path.stem))
    return runs


@pytest.mark.parametrize("scenario", shipped_runs())
def test_a_scenario_written_to_a_run_directory_reads_back_unchanged(scenario, tmp_path):
    """What a run writes as scenario.toml is the scenario its checkpoints record."""
    written = tmp_path / "scenario.toml"
    written.write_text(
        tomli_w.dumps(scenario.model_dump(mode="json", exclude_none=True))
    )

    again, _ = load_scenario(written)

    assert changed_fields(scenario_record(scenario), scenario_record(again)) == []


def test_settings_of_failure_handling_may_change():
    """Quorum, deadlines, rounds, evaluation, packing and the budget are resumable."""
    before = small_scenario()
    after = small_scenario(
        rounds=9,
        round_timeout_s=900,
        min_hospitals=2,
        on_quorum_failure="retry",
        max_round_retries=5,
        checkpoint_every=1,
        hospitals_per_actor=3,
        evaluation={"every": 2},
    )

    check_resumable(scenario_record(before), after)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"seed": 6}, "seed"),
        ({"model": {"hidden_units": [8]}}, "model.hidden_units[0]"),
        ({"model": {"hidden_units": [4, 4]}}, "model.hidden_units[1]"),
        ({"local": {"batch_size": 32, "learning_rate": 0.1}}, "local.batch_size"),
        ({"aggregator": {"name": "median"}}, "aggregator.name"),
        (
            {"hospitals": [{"count": 3, "num_cpus": 0.5, "behaviour": "sign_flip"}]},
            "hospitals[0].behaviour",
        ),
        ({"training": "local"}, "training"),
    ],
    ids=["seed", "width", "depth", "batch", "rule", "behaviour", "training"],
)
def test_settings_that_change_the_rounds_are_refused(change, named):
    """The error names each changed field and the fields that may change."""
    before = small_scenario()

    with pytest.raises(CheckpointError) as caught:
        check_resumable(scenario_record(before), small_scenario(**change))

    message = str(caught.value)
    assert named in message
    assert "may change only name, rounds, round_timeout_s" in message


def test_a_checkpoint_without_a_recorded_scenario_is_checked_by_shape():
    """Older checkpoints recorded no scenario: the arrays must still fit."""
    state = CoordinatorState(2, np.zeros(10, dtype=np.float32))

    check_resumable(None, small_scenario(seed=99))
    check_state_fits(state, 10, 3, "federated")
    with pytest.raises(CheckpointError, match="holds 10 weights but the scenario's"):
        check_state_fits(state, 12, 3, "federated")
    with pytest.raises(CheckpointError, match=r"3 hospitals' weights .* shape None"):
        check_state_fits(state, 10, 3, "local")
    rows = CoordinatorState(2, state.weights, np.zeros((4, 10), dtype=np.float32))
    with pytest.raises(CheckpointError, match=r"shape \(4, 10\)"):
        check_state_fits(rows, 10, 3, "local")


def test_resuming_an_edited_run_refuses_a_changed_model(ray_runtime, tmp_path):
    """A checkpoint records its scenario; a wider model in scenario.toml is refused."""
    out = tmp_path / "run"
    with pytest.raises(RunStopped):
        run_simulation(small_scenario(), out, stop_after_round=1)
    toml = out / "scenario.toml"
    toml.write_text(
        toml.read_text().replace(
            "hidden_units = [\n    4,\n]", "hidden_units = [\n    8,\n]"
        )
    )
    edited, _ = load_scenario(toml)
    assert edited.model.hidden_units == [8]

    with pytest.raises(CheckpointError, match=r"model\.hidden_units\[0\]"):
        run_simulation(edited, out, resume=True)

    # Nothing of the run was lost: put the model back and it resumes.
    toml.write_text(
        toml.read_text().replace(
            "hidden_units = [\n    8,\n]", "hidden_units = [\n    4,\n]"
        )
    )
    restored, _ = load_scenario(toml)
    outcome = run_simulation(restored, out, resume=True)
    assert [result.round for result in outcome.rounds] == [2, 3]
