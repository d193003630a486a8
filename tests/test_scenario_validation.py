"""Bad scenario input is refused with a message naming the field, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from medfed_ray.cli.app import app
from medfed_ray.errors import ScenarioError
from medfed_ray.scenario.loading import apply_overrides, load_scenario, parse_override
from medfed_ray.scenario.schema import Scenario

QUICKSTART = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.toml"


def problems_of(
    tmp_path: Path, text: str, overrides: list[str] | None = None
) -> list[str]:
    """Write ``text`` as a scenario and return the problems loading it reports."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, overrides)
    return [str(problem) for problem in caught.value.problems]


HOSPITALS = "[[hospitals]]\ncount = 4\nnum_cpus = 0.5\n"
MINIMAL = 'name = "t"\n' + HOSPITALS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "rounds = 0\n" + MINIMAL,
            "rounds: input should be greater than or equal to 1 (found 0)",
            id="rounds-below-range",
        ),
        pytest.param(
            "a = " + "[" * 3000 + "]" * 3000 + "\n" + MINIMAL,
            "file: is nested too deeply",
            id="nesting-too-deep",
        ),
        pytest.param(
            'rounds = "ten"\n' + MINIMAL,
            "rounds: input should be a valid integer (found 'ten')",
            id="rounds-wrong-type",
        ),
        pytest.param(
            'rounds = "5"\n' + MINIMAL,
            "rounds: input should be a valid integer (found '5')",
            id="number-as-string-is-not-converted",
        ),
        pytest.param(
            "rounds = true\n" + MINIMAL,
            "rounds: input should be a valid integer (found True)",
            id="boolean-is-not-a-count",
        ),
        pytest.param(
            'name = "t"\n[[hospitals]]\ncount = 2.0\n',
            "hospitals[0].count: input should be a valid integer (found 2.0)",
            id="float-is-not-a-count",
        ),
        pytest.param(
            'name = "t"\n[[hospitals]]\nnum_cpus = 1e-300\n',
            "hospitals[0].num_cpus: input should be greater than or equal to 0.0001 "
            "(found 1e-300)",
            id="cpu-share-below-ray-precision",
        ),
        pytest.param(
            'name = "t"\n[model]\nhidden_units = [1000000000]\n' + HOSPITALS,
            "model.hidden_units[0]: input should be less than or equal to 65536 "
            "(found 1000000000)",
            id="absurd-layer-width",
        ),
        pytest.param(
            'name = "t"\n[[hospitals]]\nbehaviour = "crash"\nactive_rounds = [3, 2]\n',
            "hospitals[0]: 'active_rounds' must be [first, last] with first <= last; "
            "found [3, 2]",
            id="active-rounds-reversed",
        ),
        pytest.param(
            'name = "t"\n[aggregator]\nname = "krum"\n' + HOSPITALS,
            "aggregator.params: ",
            id="rule-missing-required-parameter",
        ),
        pytest.param(
            'name = "t"\n[aggregator]\nname = "trimmed_mean"\n[aggregator.params]\n'
            "trim_fraction = 5.0\n" + HOSPITALS,
            "aggregator.params: ",
            id="rule-parameter-out-of-range",
        ),
        pytest.param(
            "seeed = 3\n" + MINIMAL,
            "seeed: unknown field; did you mean 'seed'? allowed: "
            + ", ".join(Scenario.model_fields),
            id="unknown-top-level-key",
        ),
        pytest.param(
            'name = "t"\n[aggregator]\nnmae = "median"\n' + HOSPITALS,
            "aggregator.nmae: unknown field; did you mean 'name'? allowed: name, params, "
            "server_learning_rate",
            id="unknown-nested-key",
        ),
        pytest.param(
            'name = "t"\n[aggregator]\nname = "medain"\n' + HOSPITALS,
            "aggregator.name: did you mean 'median'? must be one of: ",
            id="unknown-aggregator",
        ),
        pytest.param(
            'name = "t"\n[aggregator]\nname = "median"\n[aggregator.params]\nbeta = 1\n'
            + HOSPITALS,
            "aggregator.params.beta: is not a parameter of median; allowed: none (found 1)",
            id="unknown-aggregator-parameter",
        ),
        pytest.param(
            'name = "t"\n[local]\noptimizer = "rmsprop"\n' + HOSPITALS,
            "local.optimizer: input should be 'sgd' or 'adam' (found 'rmsprop')",
            id="optimizer-not-allowed",
        ),
        pytest.param(
            'name = "t"\n[local]\nlearning_rate = -0.1\n' + HOSPITALS,
            "local.learning_rate: input should be greater than 0 (found -0.1)",
            id="negative-learning-rate",
        ),
        pytest.param(
            'name = "t"\n[dataset]\nname = "mnist"\n' + HOSPITALS,
            "dataset.name: input should be 'breast_cancer', 'digits', 'medmnist', 'npz', "
            "'parquet' or 'synthetic' (found 'mnist')",
            id="unknown-dataset",
        ),
        pytest.param(
            'name = "t"\n[dataset]\ntest_fraction = 1.5\n' + HOSPITALS,
            "dataset.test_fraction: input should be less than 1 (found 1.5)",
            id="test-fraction-above-one",
        ),
        pytest.param(
            'name = "t"\n[partition]\nalpha = 0\n' + HOSPITALS,
            "partition.alpha: input should be greater than 0 (found 0)",
            id="zero-alpha",
        ),
        pytest.param(
            'name = "t"\n[[hospitals]]\ncount = 0\n',
            "hospitals[0]: 'count' must be at least 1; a group of no hospitals is "
            "allowed only as a 'fraction' of total_hospitals",
            id="zero-hospitals-in-group",
        ),
        pytest.param(
            'name = "t"\n[[hospitals]]\nnum_cpus = -1\n',
            "hospitals[0].num_cpus: input should be greater than or equal to 0.0001 (found -1)",
            id="negative-cpus",
        ),
        pytest.param(
            'name = "t"\n[[hospitals]]\nbehaviour = "evil"\n',
            "hospitals[0].behaviour: input should be 'honest', 'sign_flip', 'gaussian_noise', "
            "'label_flip', 'label_noise', 'scaling', 'free_rider', 'alie', 'ipm', "
            "'dropout', 'crash', 'hang' or 'nan_update' (found 'evil')",
            id="unknown-behaviour",
        ),
        pytest.param(
            'name = "t"\n[[hospitals]]\nscale = 2.0\n',
            "hospitals[0]: 'scale' applies only to behaviour 'sign_flip' and 'scaling', "
            "not 'honest'",
            id="parameter-of-another-behaviour",
        ),
        pytest.param('name = "t"\n', "hospitals: is required", id="no-hospitals"),
        pytest.param(
            'name = "t"\nhospitals = []\n',
            "hospitals: list should have at least 1 item after validation, not 0 (found [])",
            id="empty-hospitals",
        ),
        pytest.param(
            "min_hospitals = 5\n" + MINIMAL,
            "min_hospitals: must be at most the number of hospitals (4) (found 5)",
            id="quorum-above-hospitals",
        ),
        pytest.param(
            'name = "has space"\n[[hospitals]]\n',
            "name: string should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' "
            "(found 'has space')",
            id="name-not-a-safe-directory-name",
        ),
        pytest.param(
            'training = "centralised"\n' + MINIMAL,
            "training: input should be 'federated' or 'local' (found 'centralised')",
            id="unknown-training-mode",
        ),
    ],
)
def test_bad_value_is_reported_with_field_and_allowed_values(tmp_path, text, expected):
    """Each kind of bad value yields one problem naming field, allowed values and value."""
    problems = problems_of(tmp_path, text)

    assert any(problem.startswith(expected) for problem in problems), problems


def test_every_problem_is_reported_at_once(tmp_path):
    """Three independent mistakes give three problems in one error."""
    text = "rounds = 0\nseeed = 1\n" + MINIMAL + '[local]\noptimizer = "x"\n'

    problems = problems_of(tmp_path, text)

    assert len(problems) == 3
    assert [problem.split(":")[0] for problem in problems] == [
        "rounds",
        "local.optimizer",
        "seeed",
    ]


def test_file_that_is_not_toml_is_refused(tmp_path):
    """A syntax error names the file and says it is not valid TOML."""
    problems = problems_of(tmp_path, "rounds = = 3\n")

    assert problems[0].startswith("file: is not valid TOML: ")


def test_missing_file_is_refused(tmp_path):
    """A path that does not exist is a clear error, not a traceback."""
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "absent.toml")


def test_overrides_apply_with_toml_types():
    """``--set`` values are read as TOML; bare words become strings."""
    scenario, data = load_scenario(
        QUICKSTART, ["rounds=5", "aggregator.name=median", "hospitals[0].count=10"]
    )

    assert (scenario.rounds, scenario.aggregator.name, scenario.num_hospitals) == (
        5,
        "median",
        10,
    )
    assert data["rounds"] == 5


def test_override_goes_through_the_same_checks():
    """An override with a bad value is reported like a bad value in the file."""
    with pytest.raises(ScenarioError) as caught:
        load_scenario(QUICKSTART, ["rounds=-2", "local.optimiser=adam"])

    problems = [str(problem) for problem in caught.value.problems]
    assert (
        problems[0] == "rounds: input should be greater than or equal to 1 (found -2)"
    )
    assert problems[1].startswith(
        "local.optimiser: unknown field; did you mean 'optimizer'?"
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("rounds", "--set expects KEY=VALUE, e.g. rounds=5; found 'rounds'"),
        ("=5", "--set expects KEY=VALUE, e.g. rounds=5; found '=5'"),
        ("a..b=1", "--set key 'a..b' has an empty part"),
    ],
)
def test_malformed_override_is_refused(override, message):
    """An override that is not KEY=VALUE says what form it expects."""
    with pytest.raises(ValueError) as caught:
        parse_override(override)

    assert str(caught.value) == message


def test_override_of_missing_list_item_is_refused():
    """Indexing past the end of a list names the path that does not exist."""
    with pytest.raises(ValueError, match=r"hospitals.3 does not exist"):
        apply_overrides({"hospitals": [{}]}, ["hospitals[3].count=2"])


def test_original_data_is_not_changed_by_overrides():
    """Overrides work on a copy: the caller's data is left as it was."""
    data = {"rounds": 3, "aggregator": {"name": "fedavg"}}

    apply_overrides(data, ["aggregator.name=median"])

    assert data == {"rounds": 3, "aggregator": {"name": "fedavg"}}


def test_validate_command_lists_all_problems_with_exit_code_2(tmp_path):
    """``medfed validate`` prints every problem and exits with 2, without starting Ray."""
    path = tmp_path / "bad.toml"
    path.write_text("rounds = 0\nseeed = 1\n" + MINIMAL)

    result = CliRunner().invoke(app, ["validate", str(path)])

    assert result.exit_code == 2
    assert "2 problems" in result.output
    assert (
        "rounds: input should be greater than or equal to 1 (found 0)" in result.output
    )
    assert "seeed: unknown field; did you mean 'seed'?" in result.output


def test_validate_command_checks_partition_feasibility(tmp_path):
    """Too many hospitals for the data is caught by validate, before any actor starts."""
    path = tmp_path / "big.toml"
    path.write_text(
        'name = "t"\n[partition]\nmin_samples = 100\n[[hospitals]]\ncount = 8\n'
    )

    result = CliRunner().invoke(app, ["validate", str(path)])

    assert result.exit_code == 2
    assert (
        "partition.min_samples: 8 hospitals x min_samples needs 800 training samples"
        in (result.output)
    )


def test_validate_command_accepts_the_quickstart():
    """The shipped default scenario is valid."""
    result = CliRunner().invoke(app, ["validate", str(QUICKSTART)])

    assert result.exit_code == 0, result.output
    assert (
        "valid (8 hospitals, 20 rounds, federated training, aggregator fedavg)"
        in result.output
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda tmp: tmp,
            "file: is not a regular file; give the path of a .toml scenario file",
        ),
        (lambda tmp: Path("/dev/zero"), "file: is not a regular file"),
        (
            lambda tmp: (
                (tmp / "huge.toml").write_bytes(b"#" * (2 << 20)) and tmp / "huge.toml"
            ),
            "file: is 2097152 bytes; scenario files may be at most 1048576",
        ),
        (
            lambda tmp: (
                (tmp / "bin.toml").write_bytes(b"\xff\xfe\x00") and tmp / "bin.toml"
            ),
            "file: is not UTF-8 text (byte 0)",
        ),
    ],
    ids=["directory", "device", "too-large", "binary"],
)
def test_files_that_are_not_small_text_are_refused_before_reading(
    tmp_path, make, message
):
    """Directories, devices, huge and binary files give a clear error and use no memory."""
    with pytest.raises(ScenarioError) as caught:
        load_scenario(make(tmp_path))

    assert str(caught.value.problems[0]).startswith(message)
