"""Resuming refuses a scenario.toml edited in ways that change what the rounds compute."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w

from medfed_ray.checkpoint import (
    CheckpointError,
    latest_checkpoint_path,
    read_checkpoint,
    read_latest_checkpoint,
)
from medfed_ray.coordinator_state import CoordinatorState
from medfed_ray.errors import RunStopped
from medfed_ray.resume_checks import (
    as_current,
    changed_fields,
    check_resumable,
    check_same_data,
    check_state_fits,
    data_digest,
    open_resumption,
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
    assert as_current(scenario_record(scenario)) == scenario_record(scenario)


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

    check_resumable(scenario_record(before), after, completed_round=1)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"seed": 6}, "seed"),
        ({"model": {"hidden_units": [8]}}, "model.hidden_units"),
        ({"model": {"hidden_units": [4, 4]}}, "model.hidden_units"),
        (
            {"hospitals": [{"count": 3, "num_cpus": 0.5, "active_rounds": [1, 2]}]},
            "hospitals[0].active_rounds",
        ),
        ({"local": {"batch_size": 32, "learning_rate": 0.1}}, "local.batch_size"),
        ({"aggregator": {"name": "median"}}, "aggregator.name"),
        (
            {"hospitals": [{"count": 3, "num_cpus": 0.5, "behaviour": "sign_flip"}]},
            "hospitals[0].behaviour",
        ),
        ({"training": "local"}, "training"),
    ],
    ids=[
        "seed",
        "width",
        "depth",
        "active-rounds",
        "batch",
        "rule",
        "behaviour",
        "training",
    ],
)
def test_settings_that_change_the_rounds_are_refused(change, named):
    """The error names each changed field and the fields that may change."""
    before = small_scenario()

    with pytest.raises(CheckpointError) as caught:
        check_resumable(
            scenario_record(before), small_scenario(**change), completed_round=1
        )

    message = str(caught.value)
    assert f"compute: {named}. A resumed run" in message
    assert "may change only name, rounds, round_timeout_s" in message


def test_a_checkpoint_without_a_recorded_scenario_is_checked_by_shape():
    """Older checkpoints recorded no scenario: the arrays must still fit."""
    state = CoordinatorState(2, np.zeros(10, dtype=np.float32))

    check_resumable(None, small_scenario(seed=99), completed_round=2)
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

    with pytest.raises(CheckpointError, match=r"compute: model\.hidden_units\. "):
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


def test_a_run_with_no_rounds_left_is_not_resumed():
    """rounds at or below the checkpoint's round: nothing to run, say how to go on."""
    recorded = scenario_record(small_scenario())

    with pytest.raises(CheckpointError, match="raise rounds above 3"):
        check_resumable(recorded, small_scenario(rounds=3), completed_round=3)
    with pytest.raises(CheckpointError, match="says rounds = 2: nothing is left"):
        check_resumable(recorded, small_scenario(rounds=2), completed_round=3)


def test_fields_added_after_a_checkpoint_was_written_count_as_their_defaults():
    """A record without a newer field is read with the field's default: no change."""
    scenario = small_scenario()
    recorded = scenario_record(scenario)
    del recorded["sampling"]
    del recorded["aggregator"]["max_norm"]

    check_resumable(recorded, scenario, completed_round=1)
    with pytest.raises(CheckpointError, match=r"sampling\.mode"):
        check_resumable(
            recorded, small_scenario(sampling={"mode": "fixed", "fraction": 0.5}), 1
        )


def test_replaced_data_is_refused():
    """One changed value anywhere in the data changes its digest."""
    from medfed_ray.data.datasets import Dataset

    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(20, 3)), rng.integers(0, 2, 20)] * 2
    dataset = Dataset("d", *arrays, num_classes=2)
    digest = data_digest(dataset)
    changed = arrays[2].copy()
    changed[7, 1] += 1e-9

    check_same_data(digest, data_digest(Dataset("d", *arrays, num_classes=2)))
    check_same_data(None, digest)
    with pytest.raises(CheckpointError, match="the dataset differs"):
        check_same_data(
            digest, data_digest(Dataset("d", *arrays[:2], changed, arrays[3], 2))
        )
    as_float32 = [arrays[0].astype(np.float32), *arrays[1:]]
    assert data_digest(Dataset("d", *as_float32, num_classes=2)) != digest


def write_record(folder: Path, record) -> Path:
    folder.mkdir(parents=True)
    (folder / "checkpoint.json").write_text(json.dumps(record))
    np.save(folder / "weights.npy", np.zeros(3, dtype=np.float32))
    return folder


GOOD = {"format_version": 1, "completed_round": 2}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ([1, 2], "must hold a JSON object; found list"),
        ({"format_version": 1}, "completed_round must be a whole number"),
        ({**GOOD, "completed_round": None}, "found None"),
        ({**GOOD, "completed_round": "two"}, "found 'two'"),
        ({**GOOD, "completed_round": 0}, "of at least 1; found 0"),
        ({**GOOD, "completed_round": True}, "found True"),
        ({**GOOD, "has_momentum": "yes"}, "has_momentum must be true or false"),
        ({**GOOD, "scenario": "tampered"}, "must be a JSON object; found str"),
        ({**GOOD, "scenario": None}, "must be a JSON object; found NoneType"),
        ({**GOOD, "scenario": []}, "must be a JSON object; found list"),
        ({**GOOD, "data_sha256": 5}, "data_sha256 must be a text digest"),
        ({**GOOD, "format_version": 7}, "has format version 7"),
    ],
    ids=[
        "list",
        "no-round",
        "null-round",
        "text-round",
        "round-zero",
        "bool-round",
        "bad-flag",
        "text-scenario",
        "null-scenario",
        "list-scenario",
        "bad-digest",
        "version",
    ],
)
def test_malformed_checkpoint_records_are_refused_by_name(tmp_path, record, expected):
    """A damaged checkpoint.json is a clear error, never a traceback or a skipped check."""
    folder = write_record(tmp_path / "checkpoints" / "round-000002", record)

    with pytest.raises(CheckpointError, match=re.escape(expected)):
        read_checkpoint(folder)
    with pytest.raises(CheckpointError, match=re.escape(expected)):
        open_resumption(tmp_path, small_scenario())


def test_the_newest_checkpoint_is_found_by_round_number(tmp_path):
    """round-1000000 is newer than round-999999; a folder being written is ignored."""
    for name in ("round-999999", "round-1000000"):
        write_record(tmp_path / "checkpoints" / name, GOOD)
    (tmp_path / "checkpoints" / "round-1000001.partial").mkdir()

    assert latest_checkpoint_path(tmp_path).name == "round-1000000"


def test_a_finished_run_goes_on_when_its_rounds_are_raised(ray_runtime, tmp_path):
    """A run ends with a checkpoint; raising rounds continues it as one longer run."""
    whole = run_simulation(small_scenario(), tmp_path / "whole")
    out = tmp_path / "extended"
    run_simulation(small_scenario(rounds=2), out)
    toml = out / "scenario.toml"

    with pytest.raises(CheckpointError, match="raise rounds above 2"):
        run_simulation(load_scenario(toml)[0], out, resume=True)
    toml.write_text(toml.read_text().replace("rounds = 2", "rounds = 3"))
    extended = run_simulation(load_scenario(toml)[0], out, resume=True)

    assert [result.round for result in extended.rounds] == [3]
    assert extended.summary["resumes"][0]["changed"] == {
        "rounds": {"before": 2, "after": 3}
    }
    columns = ["round", "hospital", "local_loss", "update_norm"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "hospitals.parquet")[columns],
        pd.read_parquet(whole.path / "hospitals.parquet")[columns],
        check_exact=True,
    )
    np.testing.assert_array_equal(
        read_latest_checkpoint(out).weights,
        read_latest_checkpoint(whole.path).weights,
    )


def test_a_checkpoint_folder_and_its_record_must_agree_on_the_round(tmp_path):
    """A record edited to an earlier round would apply rounds twice."""
    folder = write_record(
        tmp_path / "checkpoints" / "round-000004", {**GOOD, "completed_round": 2}
    )

    with pytest.raises(CheckpointError, match="names round 4 but checkpoint.json"):
        read_checkpoint(folder)


@pytest.mark.parametrize("name", ["weights.npy", "momentum.npy"])
def test_non_finite_checkpoint_arrays_are_refused(tmp_path, name):
    folder = write_record(
        tmp_path / "checkpoints" / "round-000002", {**GOOD, "has_momentum": True}
    )
    np.save(folder / "momentum.npy", np.zeros(3, dtype=np.float32))
    np.save(folder / name, np.array([0.0, np.nan, 1.0], dtype=np.float32))

    with pytest.raises(CheckpointError, match=f"{name} holds NaN or infinite"):
        read_checkpoint(folder)


@pytest.mark.parametrize(
    ("top", "refused"),
    [
        ({"aggregator": {"name": "fedavg", "server_momentum": 0.9}}, True),
        (
            {
                "aggregator": {
                    "name": "centered_clipping",
                    "params": {"clip_radius": 1.0},
                }
            },
            True,
        ),
        ({"aggregator": {"name": "fedavg"}}, False),
        (
            {
                "aggregator": {"name": "fedavg", "server_momentum": 0.9},
                "sampling": {"mode": "poisson", "fraction": 0.5},
            },
            False,
        ),
    ],
    ids=["momentum", "centered-clipping", "no-buffer", "poisson-may-skip"],
)
def test_a_lost_server_buffer_is_refused(top, refused):
    """Without Poisson sampling every completed round stepped, so the buffer exists."""
    from medfed_ray.resume_checks import check_momentum_kept

    state = CoordinatorState(2, np.zeros(3, dtype=np.float32))
    scenario = small_scenario(**top)

    if refused:
        with pytest.raises(CheckpointError, match="has no momentum.npy"):
            check_momentum_kept(state, scenario)
    else:
        check_momentum_kept(state, scenario)
    kept = CoordinatorState(2, state.weights, None, np.zeros(3, dtype=np.float32))
    check_momentum_kept(kept, scenario)


@pytest.mark.parametrize(
    "entries",
    ['{"after_round": 1}', '[1, "x", null]', '[{"after_round": "1", "changed": {}}]'],
    ids=["object", "not-objects", "text-round"],
)
def test_a_damaged_resume_record_is_refused(tmp_path, entries):
    from medfed_ray.errors import RunDirectoryError
    from medfed_ray.run_directory import RunDirectory

    run_dir = RunDirectory(tmp_path / "run", small_scenario())
    (run_dir.path / "resumes.json").write_text(entries)

    with pytest.raises(RunDirectoryError, match="must hold a JSON list of resumes"):
        run_dir.resumes()
