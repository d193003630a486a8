"""A run survives crashed, hung and garbage-sending hospitals, and resumes bit-identically.

Every test is bounded: round deadlines are short and each run has few rounds.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medfed_ray.bench.memory import descendants
from medfed_ray.checkpoint import read_latest_checkpoint
from medfed_ray.errors import QuorumError, ResourceError, RunStopped
from medfed_ray.scenario.loading import load_scenario, validate_scenario
from medfed_ray.simulation import run_simulation

TIMING_COLUMNS = ["aggregation_seconds", "round_seconds"]


def scenario_with(*groups: dict, **top: object):
    """A tiny breast-cancer scenario with the given hospital groups and top-level fields."""
    data = {
        "name": "faults",
        "seed": 3,
        "rounds": 3,
        "round_timeout_s": 60,
        "min_hospitals": 1,
        "checkpoint_every": 0,
        # Honest hospitals share an actor (packing is within a group), so a
        # faulty group's crash never takes an honest hospital down with it.
        "hospitals_per_actor": 2,
        "partition": {"name": "iid", "min_samples": 20},
        "model": {"hidden_units": [4]},
        "local": {"batch_size": 64, "learning_rate": 0.1},
        "hospitals": [{"num_cpus": 0.5, **group} for group in groups],
        **top,
    }
    return validate_scenario(data)


def statuses(run: Path) -> dict[tuple[int, int], str]:
    """(round, hospital) -> status, from ``hospitals.parquet``."""
    table = pd.read_parquet(run / "hospitals.parquet")
    rows = zip(table["round"], table["hospital"], table["status"], strict=True)
    return {(r, h): s for r, h, s in rows}


def test_crashing_hospital_is_recorded_and_restarted(ray_runtime, tmp_path):
    """A hospital whose process dies in round 2 is 'crashed' there and back in round 3."""
    scenario = scenario_with(
        {"count": 2},
        {"count": 1, "behaviour": "crash", "active_rounds": [2, 2]},
    )

    outcome = run_simulation(scenario, tmp_path / "run")

    found = statuses(outcome.path)
    assert found[(2, 2)] == "crashed"
    assert found[(3, 2)] == "ok"
    assert [result.updates_received for result in outcome.rounds] == [3, 2, 3]


def test_local_training_scores_a_hospital_that_crashed_in_the_last_round(
    ray_runtime, tmp_path
):
    """Its own model from the round before is scored, so the mean covers everyone."""
    scenario = scenario_with(
        {"count": 2},
        {"count": 1, "behaviour": "crash", "active_rounds": [2, 2]},
        rounds=2,
        training="local",
    )

    outcome = run_simulation(scenario, tmp_path / "run")

    assert statuses(outcome.path)[(2, 2)] == "crashed"
    table = pd.read_parquet(outcome.path / "hospitals.parquet")
    last = table[table["round"] == 2].set_index("hospital")
    assert last["test_accuracy"].notna().all()
    assert outcome.rounds[-1].accuracy == pytest.approx(last["test_accuracy"].mean())


def test_hospital_killed_mid_round_does_not_fail_the_run(ray_runtime, tmp_path):
    """SIGKILL to a hospital's process while it works: the round closes without it."""
    scenario = scenario_with(
        {"count": 2},
        {"count": 1, "behaviour": "hang", "active_rounds": [2, 2]},
        round_timeout_s=120,
    )
    killed: list[int] = []

    def kill_the_busy_hospital() -> None:
        # Ray names the running method in the process title. The honest
        # hospitals finish a round's training in well under a second, so only
        # the hanging hospital's process stays inside its train call for
        # seconds on end; a process seen there only once may be an honest one
        # that is about to go idle, and killing it would leave the hung
        # hospital to time out instead.
        deadline = time.monotonic() + 60
        busy_since: dict[int, float] = {}
        while time.monotonic() < deadline:
            now = time.monotonic()
            training = set()
            for pid in descendants(os.getpid()):
                try:
                    title = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"HospitalHost.train" in title:
                    training.add(pid)
            busy_since = {pid: busy_since.get(pid, now) for pid in training}
            for pid, since in busy_since.items():
                if now - since >= 5:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.2)

    def on_round(result) -> None:
        if result.round == 1:
            threading.Thread(target=kill_the_busy_hospital, daemon=True).start()

    outcome = run_simulation(scenario, tmp_path / "run", on_round=on_round)

    assert killed, "no hospital process was found working in round 2"
    found = statuses(outcome.path)
    assert found[(2, 2)] == "crashed"
    assert found[(3, 2)] == "ok"
    assert len(outcome.rounds) == 3


def test_hung_hospital_is_cut_off_at_the_deadline(ray_runtime, tmp_path):
    """A hospital that never answers is 'timeout' after round_timeout_s, then restarted."""
    scenario = scenario_with(
        {"count": 2},
        {"count": 1, "behaviour": "hang", "active_rounds": [2, 2]},
        round_timeout_s=15,
    )

    outcome = run_simulation(scenario, tmp_path / "run")

    table = pd.read_parquet(outcome.path / "hospitals.parquet")
    hung = table[(table["round"] == 2) & (table["hospital"] == 2)].iloc[0]
    assert hung["status"] == "timeout"
    assert hung["error"] == "no answer within round_timeout_s = 15"
    assert statuses(outcome.path)[(3, 2)] == "ok"
    assert outcome.rounds[1].round_seconds >= 15


def test_nan_updates_are_rejected_and_never_aggregated(ray_runtime, tmp_path):
    """An update of NaNs is recorded as 'nonfinite' and the global model stays finite."""
    scenario = scenario_with(
        {"count": 2}, {"count": 1, "behaviour": "nan_update"}, rounds=2
    )

    outcome = run_simulation(scenario, tmp_path / "run")

    table = pd.read_parquet(outcome.path / "hospitals.parquet")
    bad = table[table["hospital"] == 2]
    assert (bad["status"] == "nonfinite").all()
    assert bad["error"].str.startswith("update holds").all()
    assert bad["decision"].isna().all()
    assert all(result.updates_rejected == 1 for result in outcome.rounds)
    assert np.isfinite(outcome.rounds[-1].loss)


def test_below_quorum_stops_with_a_message_naming_the_round(ray_runtime, tmp_path):
    """With on_quorum_failure = "stop", too few updates end the run with a clear error."""
    scenario = scenario_with(
        {"count": 2},
        {"count": 1, "behaviour": "nan_update", "active_rounds": [2, 2]},
        min_hospitals=3,
    )

    with pytest.raises(QuorumError) as caught:
        run_simulation(scenario, tmp_path / "run")

    assert str(caught.value).startswith(
        "round 2: only 2 hospital(s) sent a usable update, fewer than min_hospitals = 3."
        " Left out: hospital 2 nonfinite (update holds "
    )
    assert "hospitals.parquet has every hospital's status" in str(caught.value)
    rounds = pd.read_parquet(tmp_path / "run" / "rounds.parquet")
    assert rounds["round"].tolist() == [1]


def test_below_quorum_leaves_a_checkpoint_to_resume_from(ray_runtime, tmp_path):
    """The completed rounds are kept: lower the quorum in scenario.toml and go on."""
    scenario = scenario_with(
        {"count": 2},
        {"count": 1, "behaviour": "nan_update", "active_rounds": [2, 2]},
        min_hospitals=3,
    )
    out = tmp_path / "run"

    with pytest.raises(QuorumError) as caught:
        run_simulation(scenario, out)

    assert f"medfed run --resume {out}" in str(caught.value)
    assert read_latest_checkpoint(out).completed_round == 1
    toml = out / "scenario.toml"
    assert toml.read_text().count("min_hospitals = 3") == 1
    toml.write_text(toml.read_text().replace("min_hospitals = 3", "min_hospitals = 2"))
    edited, _ = load_scenario(toml)

    outcome = run_simulation(edited, out, resume=True)

    assert [result.round for result in outcome.rounds] == [2, 3]
    rounds = pd.read_parquet(out / "rounds.parquet")
    assert rounds["round"].tolist() == [1, 2, 3]
    assert rounds["updates_received"].tolist() == [3, 2, 3]
    # The edit is on record: the rounds before it ran with a quorum of 3.
    (resume,) = outcome.summary["resumes"]
    assert resume["after_round"] == 1
    assert resume["changed"] == {"min_hospitals": {"before": 3, "after": 2}}


def test_below_quorum_is_retried_as_configured(ray_runtime, tmp_path):
    """With "retry", the round is attempted 1 + max_round_retries times, each recorded."""
    scenario = scenario_with(
        {"count": 2},
        {"count": 1, "behaviour": "nan_update", "active_rounds": [1, 1]},
        min_hospitals=3,
        on_quorum_failure="retry",
        max_round_retries=2,
        rounds=1,
    )

    with pytest.raises(QuorumError):
        run_simulation(scenario, tmp_path / "run")

    table = pd.read_parquet(tmp_path / "run" / "hospitals.parquet")
    assert sorted(set(table["attempt"])) == [1, 2, 3]
    assert (table[table["hospital"] == 2]["status"] == "nonfinite").all()


def test_unschedulable_hospitals_are_reported_before_any_round(ray_runtime, tmp_path):
    """Asking for more CPUs than the runtime has fails at once, with the numbers."""
    scenario = scenario_with({"count": 3, "num_cpus": 1.0})

    with pytest.raises(ResourceError) as caught:
        run_simulation(scenario, tmp_path / "run")

    assert str(caught.value) == (
        "the hospitals ask for 3 CPUs in all (count x num_cpus over hospital groups) but "
        "the Ray cluster has 2. Lower num_cpus per hospital group, or run on a larger "
        "cluster with --address."
    )


def test_resumed_run_ends_bit_identical_to_an_uninterrupted_one(ray_runtime, tmp_path):
    """Stopped after round 2 and resumed, a run ends with exactly the same weights."""
    scenario = scenario_with({"count": 3}, rounds=4, checkpoint_every=1)

    whole = run_simulation(scenario, tmp_path / "whole")
    with pytest.raises(RunStopped) as caught:
        run_simulation(scenario, tmp_path / "parted", stop_after_round=2)
    resumed = run_simulation(scenario, tmp_path / "parted", resume=True)

    assert "Resume with: medfed run --resume" in str(caught.value)
    final = "checkpoints/round-000004/weights.npy"
    np.testing.assert_array_equal(
        np.load(whole.path / final), np.load(resumed.path / final), strict=True
    )
    first = pd.read_parquet(whole.path / "rounds.parquet").drop(columns=TIMING_COLUMNS)
    second = pd.read_parquet(resumed.path / "rounds.parquet").drop(
        columns=TIMING_COLUMNS
    )
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    assert resumed.summary["rounds"] == 4


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path):
    """Resuming a folder with no checkpoint says where it looked."""
    from medfed_ray.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="has no checkpoint to resume from"):
        read_latest_checkpoint(tmp_path)


def test_ctrl_c_writes_a_checkpoint_and_says_how_to_resume(tiny_scenario, tmp_path):
    """SIGINT to a running ``medfed run`` leaves a checkpoint and exits with 130."""
    import subprocess
    import sys

    out = tmp_path / "run"
    command = [sys.executable, "-m", "medfed_ray", "run", str(tiny_scenario)]
    command += [
        "--out",
        str(out),
        "--set",
        "rounds=100000",
        "--set",
        "checkpoint_every=0",
    ]
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )

    # Without a terminal, the CLI prints one line per finished round.
    lines = []
    for line in child.stdout:
        lines.append(line)
        if line.startswith("round 3/"):
            child.send_signal(signal.SIGINT)
            break
    output = "".join(lines) + child.communicate(timeout=120)[0]

    assert child.returncode == 130, output
    assert "Resume with: medfed run --resume" in output
    checkpoints = sorted(path.name for path in (out / "checkpoints").iterdir())
    assert len(checkpoints) == 1 and int(checkpoints[0].split("-")[1]) >= 3


def test_a_quorum_error_names_at_most_five_left_out_hospitals():
    """Six hospitals left out: five named with their reasons, the sixth counted."""
    from medfed_ray.round_log import describe_left_out
    from medfed_ray.round_result import HospitalRound, HospitalStatus, RoundResult

    rows = [HospitalRound(4, hospital, 0, "honest", "", 1) for hospital in range(8)]
    for row in rows[:6]:
        row.status, row.error = HospitalStatus.TIMEOUT, "no answer"
    rows[6].status, rows[6].error = HospitalStatus.OK, None
    rows[7].status, rows[7].error = HospitalStatus.DROPPED, None
    result = RoundResult(4, 1, 7, 0.0, 0.0, hospitals=rows)

    text = describe_left_out(result)

    assert text.startswith("hospital 0 timeout (no answer); hospital 1 timeout")
    assert "hospital 4 timeout (no answer); and 2 more" in text
    assert "hospital 6" not in text


@pytest.mark.parametrize("local", [True, False], ids=["local", "federated"])
def test_missing_scores_are_warned_on_the_driver(caplog, local):
    """The coordinator's warnings stay in its actor; the driver says what is missing."""
    from medfed_ray.round_log import warn_unscored
    from medfed_ray.round_result import HospitalRound, HospitalStatus, RoundResult

    rows = [
        HospitalRound(3, hospital, 0, "honest", HospitalStatus.OK, examples=5)
        for hospital in range(4)
    ]
    for row in rows[:3]:
        row.test_accuracy = 0.8
    result = RoundResult(3, 4, 0, 0.0, 0.0, hospitals=rows, evaluated=True)
    result.accuracy = 0.8 if local else float("nan")

    with caplog.at_level("WARNING", logger="medfed_ray.round_log"):
        warn_unscored(result, local)

    expected = (
        "round 3: 1 of 4 hospitals' own models have no score"
        if local
        else "round 3: the global model has no score"
    )
    assert expected in caplog.text
