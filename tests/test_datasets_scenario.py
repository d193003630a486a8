"""The dataset, partition and model fields of a scenario, and the data they lead to."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from medfed_ray.cli.app import app
from medfed_ray.data.datasets import load_dataset
from medfed_ray.data.errors import DataError
from medfed_ray.data.hospital_data import prepare_hospital_data
from medfed_ray.errors import ScenarioError
from medfed_ray.scenario.loading import load_scenario
from medfed_ray.scenario.schema import DatasetConfig

HOSPITALS = "[[hospitals]]\ncount = 3\nnum_cpus = 0.5\n"


def problems_of(tmp_path: Path, text: str) -> list[str]:
    """Write ``text`` as a scenario and return the problems loading it reports."""
    path = tmp_path / "bad.toml"
    path.write_text('name = "t"\n' + text + HOSPITALS)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '[dataset]\nname = "medmnist"\n',
            "dataset: dataset 'medmnist' needs 'path' (one file) or 'files' (one file per "
            "hospital), or 'flavour' (e.g. \"pneumoniamnist\") to use a file fetched with "
            "`medfed data fetch` (found ",
            id="medmnist-without-path",
        ),
        pytest.param(
            '[dataset]\nname = "digits"\npath = "x.npz"\n',
            "dataset: 'path' and 'files' apply only to datasets read from files "
            "(medmnist, npz, parquet), not 'digits' (found ",
            id="path-for-built-in",
        ),
        pytest.param(
            '[dataset]\nname = "npz"\npath = "a.npz"\nfiles = ["b.npz"]\n',
            "dataset: give either 'path' or 'files', not both (found ",
            id="path-and-files",
        ),
        pytest.param(
            '[dataset]\nname = "npz"\npath = "a.npz"\nlabel_column = "y"\n',
            "dataset: 'label_column' applies only to dataset 'parquet', not 'npz' (found ",
            id="parquet-field-for-npz",
        ),
        pytest.param(
            '[dataset]\nname = "synthetic"\nsynthetic_shape = []\n',
            "dataset.synthetic_shape: list should have at least 1 item after validation, "
            "not 0 (found [])",
            id="empty-synthetic-shape",
        ),
        pytest.param(
            '[dataset]\nname = "medmnist"\nflavour = "pneumoniamnist"\nsize = 32\n',
            "dataset.size: input should be 28, 64, 128 or 224 (found 32)",
            id="unofficial-medmnist-size",
        ),
        pytest.param(
            "[dataset]\nvalidation_fraction = 1.0\n",
            "dataset.validation_fraction: input should be less than 1 (found 1.0)",
            id="validation-fraction-of-one",
        ),
        pytest.param(
            '[dataset]\nname = "npz"\npath = "a.npz"\ntest_features_key = "xt"\n',
            "dataset: 'test_features_key' and 'test_labels_key' go together: give both "
            "or neither (found ",
            id="half-a-test-split",
        ),
        pytest.param(
            '[partition]\nname = "label_skew"\n',
            "partition.name: input should be 'iid', 'dirichlet', 'shards', 'quantity' or "
            "'by_file' (found 'label_skew')",
            id="unknown-partition",
        ),
        pytest.param(
            '[partition]\nname = "dirichlet"\nclasses_per_hospital = 3\n',
            "partition: 'classes_per_hospital' applies only to partition 'shards', not "
            "'dirichlet' (found ",
            id="shards-field-for-dirichlet",
        ),
        pytest.param(
            '[partition]\nname = "quantity"\ndistribution = "zipf"\n',
            "partition.distribution: input should be 'lognormal' or 'powerlaw' "
            "(found 'zipf')",
            id="unknown-quantity-distribution",
        ),
        pytest.param(
            '[partition]\nname = "quantity"\nexponent = 2.0\n',
            "partition: 'exponent' applies only to distribution 'powerlaw' (found ",
            id="exponent-for-lognormal",
        ),
        pytest.param(
            '[model]\nname = "resnet"\n',
            "model.name: input should be 'mlp' or 'cnn' (found 'resnet')",
            id="unknown-model",
        ),
        pytest.param(
            "[model]\nconv_filters = [8]\n",
            "model: 'conv_filters' and 'kernel_size' apply only to model 'cnn', not 'mlp' "
            "(found ",
            id="conv-filters-for-mlp",
        ),
        pytest.param(
            '[model]\nname = "cnn"\nconv_filters = [0]\n',
            "model.conv_filters[0]: input should be greater than or equal to 1 (found 0)",
            id="zero-filters",
        ),
    ],
)
def test_bad_data_fields_name_field_value_and_allowed(tmp_path, text, expected):
    """Each bad dataset/partition/model value is reported with its field and what is allowed."""
    problems = problems_of(tmp_path, text)

    assert any(problem.startswith(expected) for problem in problems), problems


def test_quickstart_data_is_unchanged():
    """The default data: 569 patients, a stratified 20% test set, standardized floats."""
    dataset = load_dataset(DatasetConfig(), np.random.SeedSequence(0))

    assert (len(dataset.y_train), len(dataset.y_test), dataset.x_train.dtype) == (
        456,
        113,
        np.float32,
    )
    assert np.allclose(dataset.x_train.mean(axis=0), 0.0, atol=1e-5)


def test_synthetic_data_is_seeded_and_shaped():
    """Same seed, same data; any sample count, class count and input shape."""
    config = DatasetConfig(
        name="synthetic",
        synthetic_samples=500,
        synthetic_classes=7,
        synthetic_shape=[6, 6, 2],
    )

    first = load_dataset(config, np.random.SeedSequence(3))
    second = load_dataset(config, np.random.SeedSequence(3))
    other = load_dataset(config, np.random.SeedSequence(4))

    assert first.input_shape == (6, 6, 2) and first.num_classes == 7
    assert len(first.y_train) + len(first.y_test) == 500
    assert np.array_equal(first.x_train, second.x_train)
    assert not np.array_equal(first.x_train, other.x_train)


def test_max_train_samples_subsamples_the_training_part():
    """Only the training part shrinks; the global test set is kept whole."""
    config = DatasetConfig(name="digits", max_train_samples=200)

    dataset = load_dataset(config, np.random.SeedSequence(0))

    assert (len(dataset.y_train), len(dataset.y_test)) == (200, 359)


def write_site(path: Path, label_offset: int, count: int) -> Path:
    """One hospital's own .npz file: uint8 images, a train and a test split."""
    rng = np.random.default_rng(label_offset)
    np.savez(
        path,
        x=rng.integers(0, 256, (count, 8, 8), dtype=np.uint8),
        y=(np.arange(count) + label_offset) % 3,
        xt=rng.integers(0, 256, (4, 8, 8), dtype=np.uint8),
        yt=np.arange(4) % 3,
    )
    return path


def test_by_file_keeps_each_site_whole_and_images_uint8(tmp_path):
    """Each hospital holds exactly its own file's samples; the test splits are pooled."""
    files = [
        write_site(tmp_path / f"site{index}.npz", index, 10 + index)
        for index in range(3)
    ]
    scenario_path = tmp_path / "sites.toml"
    scenario_path.write_text(
        'name = "sites"\n[dataset]\nname = "npz"\nfiles = ['
        + ", ".join(f'"{path}"' for path in files)
        + ']\ntest_features_key = "xt"\ntest_labels_key = "yt"\n'
        '[partition]\nname = "by_file"\nmin_samples = 5\n' + HOSPITALS
    )
    scenario, _ = load_scenario(scenario_path)

    dataset, shards = prepare_hospital_data(
        scenario, np.random.SeedSequence(0), np.random.SeedSequence(1)
    )

    assert [len(shard) for shard in shards] == [10, 11, 12]
    assert shards[1].tolist() == list(range(10, 21))
    assert dataset.x_train.dtype == np.uint8 and dataset.input_shape == (8, 8, 1)
    assert len(dataset.y_test) == 12


def test_cnn_on_tabular_data_is_refused_before_any_actor_starts(tmp_path):
    """The CNN needs images; breast-cancer features are a flat vector."""
    path = tmp_path / "cnn.toml"
    path.write_text('name = "t"\n[model]\nname = "cnn"\n' + HOSPITALS)
    scenario, _ = load_scenario(path)

    with pytest.raises(DataError) as caught:
        prepare_hospital_data(
            scenario, np.random.SeedSequence(0), np.random.SeedSequence(1)
        )

    assert str(caught.value) == (
        "model.name = 'cnn' needs image examples of shape (height, width, channels); "
        "this dataset's examples have shape (30,). Use model.name = 'mlp' or an image "
        "dataset"
    )


def test_cnn_learns_digits():
    """The CNN trains on 8x8 digit images to well above chance (0.1) in two epochs."""
    import keras

    from medfed_ray.local_training import LocalTrainer
    from medfed_ray.scenario.schema import LocalTrainingConfig, ModelConfig

    keras.utils.set_random_seed(0)
    dataset = load_dataset(DatasetConfig(name="digits"), np.random.SeedSequence(0))
    trainer = LocalTrainer(
        ModelConfig(name="cnn", conv_filters=[8, 16], hidden_units=[32]),
        LocalTrainingConfig(epochs=2, optimizer="adam", learning_rate=0.01),
        dataset.input_shape,
        dataset.num_classes,
    )

    trainer.train(dataset.x_train, dataset.y_train, np.random.default_rng(0))
    accuracy = np.mean(trainer.predict(dataset.x_test).argmax(axis=1) == dataset.y_test)

    assert accuracy > 0.8


def test_partition_command_prints_the_table_and_writes_the_heatmap(tmp_path):
    """Per-hospital samples and label counts, and a PNG of hospitals x classes."""
    path = tmp_path / "digits.toml"
    path.write_text(
        'name = "digits_shards"\n[dataset]\nname = "digits"\nvalidation_fraction = 0.2\n'
        '[partition]\nname = "shards"\nclasses_per_hospital = 4\n' + HOSPITALS
    )
    png = tmp_path / "heat.png"

    result = CliRunner().invoke(
        app, ["data", "partition", str(path), "--png", str(png)]
    )

    assert result.exit_code == 0, result.output
    rows = re.findall(
        r"^│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│", result.output, re.M
    )
    assert [int(row[0]) for row in rows] == [0, 1, 2]
    assert sum(int(row[1]) for row in rows) == 1438
    assert all(int(row[1]) == int(row[2]) + int(row[3]) for row in rows)
    assert "1438 training samples over 3 hospitals; global test set 359 samples" in (
        " ".join(result.output.split())
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_partition_command_reports_an_impossible_split(tmp_path):
    """An impossible partition is an error message and exit code 1, not a traceback."""
    path = tmp_path / "few.toml"
    path.write_text(
        'name = "few"\n[dataset]\nname = "digits"\n'
        '[partition]\nname = "shards"\nclasses_per_hospital = 3\n' + HOSPITALS
    )

    result = CliRunner().invoke(app, ["data", "partition", str(path)])

    assert result.exit_code == 1
    assert (
        "Error: partition 'shards': 3 hospitals x classes_per_hospital = 3 gives 9 "
        in (" ".join(result.output.split()))
    )
