"""Behaviours and robust rules in scenario files: parameters, group sizes, preconditions."""

from __future__ import annotations

from pathlib import Path

import pytest

from medfed_ray.errors import ScenarioError
from medfed_ray.scenario.loading import load_scenario, most_malicious

HEAD = 'name = "t"\nrounds = 10\n'


def load(tmp_path: Path, text: str, overrides: list[str] | None = None):
    path = tmp_path / "s.toml"
    path.write_text(HEAD + text)
    return load_scenario(path, overrides)[0]


def problems(tmp_path: Path, text: str, overrides: list[str] | None = None):
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, text, overrides)
    return [str(problem) for problem in caught.value.problems]


def group(**fields) -> str:
    lines = "".join(
        f"{key} = {value!r}\n" if not isinstance(value, str) else f'{key} = "{value}"\n'
        for key, value in fields.items()
    )
    return "[[hospitals]]\n" + lines.replace("'", '"').replace("True", "true")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"behaviour": "honest", "probability": 0.2},
            "'probability' applies only to behaviour 'dropout', not 'honest'",
        ),
        (
            {"behaviour": "label_flip", "scale": 3.0},
            "'scale' applies only to behaviour 'sign_flip' and 'scaling', "
            "not 'label_flip'",
        ),
        (
            {"behaviour": "ipm", "z": 1.0},
            "'z' applies only to behaviour 'alie', not 'ipm'",
        ),
        (
            {"behaviour": "free_rider", "mode": "add"},
            "'mode' of behaviour 'free_rider' must be one of 'unchanged', 'zeros'; "
            "found 'add'",
        ),
        (
            {"behaviour": "sign_flip", "mode": "zeros"},
            "'mode' applies only to behaviour 'gaussian_noise' and 'free_rider', "
            "not 'sign_flip'",
        ),
    ],
)
def test_parameter_on_the_wrong_behaviour_is_refused(tmp_path, fields, message):
    found = problems(tmp_path, group(count=4, **fields))
    assert len(found) == 1
    assert found[0].startswith(f"hospitals[0]: {message}")


def test_parameters_at_their_defaults_are_accepted_on_any_behaviour(tmp_path):
    """A resolved scenario spells every field out; it must load again."""
    scenario = load(
        tmp_path,
        group(count=4, behaviour="honest", scale=1.0, probability=0.5, epsilon=0.1),
    )
    assert scenario.hospitals[0].behaviour == "honest"


def test_groups_sized_by_fraction_of_total_hospitals(tmp_path):
    scenario = load(
        tmp_path,
        "total_hospitals = 10\n"
        + group(behaviour="honest")
        + group(fraction=0.25, behaviour="sign_flip"),
    )
    assert [g.count for g in scenario.hospitals] == [7, 3]
    assert scenario.num_hospitals == 10


def test_a_zero_fraction_leaves_the_group_empty(tmp_path):
    scenario = load(
        tmp_path,
        "total_hospitals = 4\n"
        + group(behaviour="honest")
        + group(fraction=0.0, behaviour="sign_flip"),
    )
    assert [g.count for g in scenario.hospitals] == [4, 0]
    assert scenario.hospital_groups() == [0, 0, 0, 0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            group(fraction=0.5),
            "hospitals[0].fraction needs total_hospitals, the number of hospitals "
            "it is a fraction of",
        ),
        (
            "total_hospitals = 4\n" + group() + group(),
            "hospitals[0, 1] give neither count nor fraction; with total_hospitals "
            "at most one group may take the hospitals left over",
        ),
        (
            "total_hospitals = 4\n" + group(count=2) + group(count=1),
            "the hospital groups add up to 3 hospitals but total_hospitals = 4",
        ),
        (
            "total_hospitals = 4\n" + group(count=2, fraction=0.75),
            "hospitals[0] gives count = 2 and fraction = 0.75 of total_hospitals = 4 "
            "(3 hospitals); give one of them",
        ),
    ],
)
def test_bad_group_sizes_are_refused(tmp_path, text, message):
    assert problems(tmp_path, text) == [f"hospitals: {message}"]


def test_a_group_of_no_hospitals_needs_a_fraction(tmp_path):
    found = problems(tmp_path, group(count=0))
    assert found[0].startswith(
        "hospitals[0]: 'count' must be at least 1; a group of no hospitals is "
        "allowed only as a 'fraction' of total_hospitals"
    )


def test_most_malicious_counts_the_worst_round(tmp_path):
    """Groups active in disjoint rounds never add up; overlapping ones do."""
    scenario = load(
        tmp_path,
        group(count=10)
        + group(count=2, behaviour="sign_flip", active_rounds=[1, 3])
        + group(count=3, behaviour="alie", active_rounds=[5, 8])
        + group(count=1, behaviour="ipm", active_rounds=[8, 10])
        + group(count=4, behaviour="dropout")
        + group(count=5, behaviour="label_flip", active_rounds=[11, 20]),
    )
    # Round 8: 3 ALIE + 1 IPM; dropout sends nothing; rounds 11+ never run.
    assert most_malicious(scenario) == 4


def test_krum_precondition_is_checked_against_the_worst_round(tmp_path):
    """Told f = 1, Krum still needs n >= 2f + 3 for the 2 attackers of round 3."""
    text = (
        '[aggregator]\nname = "krum"\nparams = { num_malicious = 1 }\n'
        + group(count=4)
        + group(count=1, behaviour="sign_flip")
        + group(count=1, behaviour="ipm", active_rounds=[3, 3])
    )
    assert problems(tmp_path, text) == [
        "hospitals: krum needs n >= 2f + 3 hospitals for the f = 2 that send "
        "harmful updates in one round, i.e. n >= 7; found n=6"
    ]
    # The same hospitals pass when the IPM group never acts within the rounds.
    assert load(tmp_path, text, ["hospitals[2].active_rounds=[11, 12]"])


def test_missing_num_malicious_quotes_the_worst_round(tmp_path):
    text = (
        '[aggregator]\nname = "multi_krum"\n'
        + group(count=9)
        + group(count=2, behaviour="scaling", active_rounds=[2, 4])
        + group(count=1, behaviour="label_noise", active_rounds=[4, 6])
    )
    assert problems(tmp_path, text) == [
        "aggregator.params: multi_krum needs num_malicious, the number of malicious "
        "hospitals it must tolerate; none given (the scenario has 3)"
    ]


def test_norm_bounding_and_momentum_are_aggregator_fields(tmp_path):
    scenario = load(
        tmp_path,
        '[aggregator]\nname = "median"\nmax_norm = 2.0\nserver_momentum = 0.9\n'
        + group(count=3),
    )
    assert scenario.aggregator.max_norm == 2.0
    assert scenario.aggregator.server_momentum == 0.9
    found = problems(
        tmp_path, "[aggregator]\nmax_norm = 0\nserver_momentum = 1.0\n" + group()
    )
    assert found == [
        "aggregator.server_momentum: input should be less than 1 (found 1.0)",
        "aggregator.max_norm: input should be greater than 0 (found 0)",
    ]
