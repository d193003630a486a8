"""Engine parts in one process: flat weights, update checks, behaviours, metrics, partition."""

from __future__ import annotations

import warnings

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


def test_scores_match_scikit_learn_on_random_inputs_with_ties():
    """Balanced accuracy and AUROC equal scikit-learn's, ties and absent classes included."""
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    rng = np.random.default_rng(12)
    for trial in range(60):
        n, k = int(rng.integers(4, 300)), int(rng.integers(2, 6))
        logits = rng.normal(size=(n, k))
        if trial % 2:
            # Coarse probabilities tie often, within and across classes.
            logits = np.round(logits, 1)
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        labels = rng.integers(0, k, size=n)
        if trial % 3 == 0:
            # Some classes are predicted but never the label.
            labels = labels % max(1, k - 1)

        scores = score(probabilities, labels)

        predictions = probabilities.argmax(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = balanced_accuracy_score(labels, predictions)
        assert scores["balanced_accuracy"] == pytest.approx(expected, abs=1e-12)
        if len(set(labels.tolist())) < k:
            assert np.isnan(scores["auroc"])
        elif k == 2:
            expected = roc_auc_score(labels, probabilities[:, 1])
            assert scores["auroc"] == pytest.approx(expected, abs=1e-12)
        else:
            # The rows are normalised before scoring, as score() does.
            rows = probabilities / probabilities.sum(axis=1, keepdims=True)
            expected = roc_auc_score(labels, rows, multi_class="ovr")
            assert scores["auroc"] == pytest.approx(expected, abs=1e-12)


def test_ranks_average_over_ties():
    """Tied values share the mean of the ranks they span."""
    from medfed_ray.metrics import average_ranks

    ranks = average_ranks(np.array([0.5, 0.1, 0.5, 0.9, 0.5]))

    np.testing.assert_array_equal(ranks, [3.0, 1.0, 3.0, 5.0, 3.0])


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


def test_scoring_several_local_models_in_one_call_matches_one_call_each(trainer):
    """``evaluate_each`` gives, row by row, exactly what ``evaluate`` gives alone."""
    from medfed_ray.hospital_actor import HospitalHost

    host = HospitalHost.__new__(HospitalHost)
    host.trainer = trainer
    rng = np.random.default_rng(7)
    rows = rng.normal(size=(3, trainer.weights.layout.size)).astype(np.float32)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = np.arange(40, dtype=np.int64) % 3

    together = host.evaluate_each(rows, x, y)

    assert together == [host.evaluate(row, x, y) for row in rows]
    assert len({scores["loss"] for scores in together}) == 3


def test_a_local_model_that_cannot_be_scored_leaves_the_others_scored(trainer):
    """A row of the wrong length gets None; the rows around it are scored."""
    from medfed_ray.hospital_actor import HospitalHost

    host = HospitalHost.__new__(HospitalHost)
    host.trainer = trainer
    size = trainer.weights.layout.size
    good = np.zeros(size, dtype=np.float32)
    rows = [good, np.zeros(size - 1, dtype=np.float32), good]
    x = np.zeros((6, 4), dtype=np.float32)
    y = np.arange(6, dtype=np.int64) % 3

    scores = host.evaluate_each(rows, x, y)

    assert scores[1] is None
    assert scores[0] == scores[2] == host.evaluate(good, x, y)


@pytest.mark.parametrize(
    ("shape", "count"),
    [((2, 5), 3), ((3, 5, 1), 3), ((), 1)],
    ids=["rows-for-another-count", "three-dimensional", "scalar"],
)
def test_start_weights_of_the_wrong_shape_are_refused(shape, count):
    """One vector or one row per hospital; anything else names the shape found."""
    from medfed_ray.hospital_actor import rows_per_hospital

    with pytest.raises(ValueError, match=r"one row per hospital .*found shape"):
        rows_per_hospital(np.zeros(shape, dtype=np.float32), count)


def test_start_weights_are_shared_or_taken_row_by_row():
    """A vector is every hospital's start; a matrix gives each hospital its row."""
    from medfed_ray.hospital_actor import rows_per_hospital

    vector = np.arange(4, dtype=np.float32)
    matrix = np.arange(8, dtype=np.float32).reshape(2, 4)

    shared = rows_per_hospital(vector, 3)
    own = rows_per_hospital(matrix, 2)

    assert len(shared) == 3 and all(start is vector for start in shared)
    np.testing.assert_array_equal(own[1], matrix[1])
