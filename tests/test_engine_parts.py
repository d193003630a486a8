"""Engine parts in one process: flat weights, update checks, behaviours, metrics, partition."""

from __future__ import annotations

import numpy as np
import pytest

from medfed_ray.data.partition import partition
from medfed_ray.metrics import score
from medfed_ray.round_result import HospitalStatus
from medfed_ray.scenario.schema import LocalTrainingConfig, ModelConfig, PartitionConfig
from medfed_ray.update_checks import check_update


@pytest.fixture(scope="module")
def trainer():
    """One small trainer shared by the tests of this module (TensorFlow is slow to start)."""
    from medfed_ray.local_training import LocalTrainer
    from medfed_ray.runtime import configure_tensorflow

    configure_tensorflow(1.0, seed=3)
    config = LocalTrainingConfig(batch_size=8, learning_rate=0.1, optimizer="adam")
    return LocalTrainer(ModelConfig(hidden_units=[5]), config, (4,), 3)


def test_flat_layout_covers_every_model_variable(trainer):
    """The flat vector has one entry per scalar of every variable, in layout order."""
    layout = trainer.weights.layout
    expected = sum(int(np.prod(variable.shape)) for variable in trainer.model.variables)

    assert layout.size == expected == trainer.weights.get().size
    assert layout.names == tuple(variable.path for variable in trainer.model.variables)


def test_flat_weights_round_trip_through_the_variables(trainer):
    """Setting a flat vector and reading it back gives the same vector, variable by variable."""
    flat = (
        np.random.default_rng(0)
        .normal(size=trainer.weights.layout.size)
        .astype(np.float32)
    )
    flat.setflags(write=False)

    trainer.weights.set(flat)

    np.testing.assert_array_equal(trainer.weights.get(), flat)
    offset = 0
    for variable in trainer.model.variables:
        size = int(np.prod(variable.shape))
        expected = flat[offset : offset + size].reshape(variable.shape)
        np.testing.assert_array_equal(np.asarray(variable.numpy()), expected)
        offset += size


def test_optimizer_reset_restores_its_state_as_built(trainer):
    """After training, a reset puts every optimizer variable back (learning rate included)."""
    before = [np.array(variable.numpy()) for variable in trainer.optimizer.variables]
    x = np.random.default_rng(1).normal(size=(20, 4)).astype(np.float32)
    y = np.arange(20, dtype=np.int64) % 3

    trainer.train(x, y, np.random.default_rng(2))
    trainer.reset_optimizer()

    after = [np.array(variable.numpy()) for variable in trainer.optimizer.variables]
    for first, second in zip(before, after, strict=True):
        np.testing.assert_array_equal(first, second)


def make_hospital(behaviour: str, **fields):
    from medfed_ray.hospital import Hospital, HospitalSpec

    spec = HospitalSpec(
        hospital_id=0,
        group=0,
        behaviour=behaviour,
        scale=fields.get("scale", 1.0),
        std=fields.get("std", 1.0),
        seed=np.random.SeedSequence(11),
    )
    rng = np.random.default_rng(5)
    x = rng.normal(size=(24, 4)).astype(np.float32)
    y = (np.arange(24) % 3).astype(np.int64)
    x.setflags(write=False)
    return Hospital(spec, x, y)


def test_sign_flip_sends_minus_scale_times_the_honest_update(trainer):
    """A sign-flipping hospital's update is exactly -scale x what it would honestly send."""
    start = trainer.weights.get()
    start.setflags(write=False)

    honest, _ = make_hospital("honest").run_round(trainer, 1, start)
    flipped, report = make_hospital("sign_flip", scale=3.0).run_round(trainer, 1, start)

    np.testing.assert_array_equal(flipped, np.float32(-3.0) * honest)
    assert report.update_norm == pytest.approx(
        3.0 * np.linalg.norm(honest.astype(np.float64))
    )


def test_honest_update_is_new_weights_minus_start_and_start_is_untouched(trainer):
    """The update is the change local training made; the read-only start vector is not written."""
    start = trainer.weights.get()
    kept = start.copy()
    start.setflags(write=False)

    update, report = make_hospital("honest").run_round(trainer, 1, start)

    np.testing.assert_array_equal(start, kept)
    np.testing.assert_allclose(update, trainer.weights.get() - start)
    assert report.examples == 24
    assert np.linalg.norm(update) > 0


def test_gaussian_noise_sends_noise_of_the_given_std(trainer):
    """A noisy hospital sends zero-mean noise of standard deviation ``std``, no training."""
    start = np.zeros(trainer.weights.layout.size, dtype=np.float32)

    update, report = make_hospital("gaussian_noise", std=2.0).run_round(
        trainer, 1, start
    )

    assert np.isnan(report.local_loss)
    # With d ~ 50 draws the sample std is within 30% of 2.0 with overwhelming probability.
    assert update.std() == pytest.approx(2.0, rel=0.3)


@pytest.mark.parametrize(
    ("update", "status"),
    [
        (np.zeros(5, dtype=np.float32), HospitalStatus.OK),
        (np.array([0, np.nan, 0, 0, 0], dtype=np.float32), HospitalStatus.NONFINITE),
        (np.array([0, 0, np.inf, 0, 0], dtype=np.float32), HospitalStatus.NONFINITE),
        (np.zeros(4, dtype=np.float32), HospitalStatus.BAD_SHAPE),
        (np.zeros((5, 1), dtype=np.float32), HospitalStatus.BAD_SHAPE),
        (np.zeros(5, dtype=np.float64), HospitalStatus.BAD_SHAPE),
        ([0.0] * 5, HospitalStatus.BAD_SHAPE),
    ],
    ids=["ok", "nan", "inf", "short", "2-d", "float64", "list"],
)
def test_updates_are_classified_before_aggregation(update, status):
    """NaN/Inf and wrongly shaped updates are recognised and never aggregated."""
    found, message = check_update(update, 5)

    assert found == status
    assert (message is None) == (status == HospitalStatus.OK)


def slow_balanced_accuracy(labels, predictions):
    recalls = []
    for label in sorted(set(labels)):
        members = [i for i, value in enumerate(labels) if value == label]
        recalls.append(sum(predictions[i] == label for i in members) / len(members))
    return sum(recalls) / len(recalls)


def test_scores_match_slow_references_on_random_inputs():
    """Accuracy, balanced accuracy and loss agree with loops written out by hand."""
    rng = np.random.default_rng(4)
    for _ in range(20):
        n, k = int(rng.integers(5, 60)), int(rng.integers(2, 5))
        logits = rng.normal(size=(n, k))
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        labels = rng.integers(0, k, size=n)

        scores = score(probabilities, labels)

        predictions = [int(np.argmax(row)) for row in probabilities]
        assert scores["accuracy"] == pytest.approx(
            np.mean(np.array(predictions) == labels)
        )
        assert scores["balanced_accuracy"] == pytest.approx(
            slow_balanced_accuracy(labels.tolist(), predictions)
        )
        expected_loss = -sum(np.log(probabilities[i, labels[i]]) for i in range(n)) / n
        assert scores["loss"] == pytest.approx(expected_loss)


def test_binary_auroc_matches_pair_counting():
    """Binary AUROC equals the share of (positive, negative) pairs ranked correctly."""
    rng = np.random.default_rng(8)
    labels = rng.integers(0, 2, size=40)
    p1 = rng.uniform(size=40)
    probabilities = np.stack([1 - p1, p1], axis=1)

    positives, negatives = p1[labels == 1], p1[labels == 0]
    pairs = [(a > b) + 0.5 * (a == b) for a in positives for b in negatives]

    assert score(probabilities, labels)["auroc"] == pytest.approx(np.mean(pairs))


@pytest.mark.parametrize("name", ["iid", "dirichlet"])
def test_partition_assigns_every_sample_once_and_is_seeded(name):
    """Every sample lands in exactly one shard; the same seed gives the same split."""
    labels = np.random.default_rng(0).integers(0, 3, size=300)
    config = PartitionConfig(name=name, alpha=0.3, min_samples=15)

    first = partition(labels, 7, config, np.random.SeedSequence(42))
    second = partition(labels, 7, config, np.random.SeedSequence(42))
    other = partition(labels, 7, config, np.random.SeedSequence(43))

    assert sorted(np.concatenate(first).tolist()) == list(range(300))
    assert all(len(shard) >= 15 for shard in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_impossible_minimum_is_refused_at_once():
    """Asking for more samples than exist names the numbers and the knobs to turn."""
    labels = np.zeros(50, dtype=np.int64)

    with pytest.raises(ValueError) as caught:
        partition(labels, 6, PartitionConfig(min_samples=10), np.random.SeedSequence(0))

    assert str(caught.value) == (
        "partition.min_samples = 10 for 6 hospitals needs 60 training samples, but the "
        "dataset has 50; lower partition.min_samples or the number of hospitals"
    )


def test_scores_of_a_model_that_predicts_nan_are_nan_not_an_error():
    """A global model blown up by an attack is scored NaN; evaluation does not crash."""
    probabilities = np.full((6, 2), np.nan)

    scores = score(probabilities, np.array([0, 1, 0, 1, 0, 1]))

    assert all(np.isnan(value) for value in scores.values())
