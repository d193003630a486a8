"""Partition invariants, checked on many random label sets with hypothesis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfed_ray.data.errors import PartitionError
from medfed_ray.data.partition import partition, split_validation
from medfed_ray.data.quantity import quantity_sizes
from medfed_ray.data.summary import label_counts, label_skew
from medfed_ray.scenario.schema import PartitionConfig

CONFIGS = {
    "iid": PartitionConfig(name="iid", min_samples=3),
    "dirichlet": PartitionConfig(name="dirichlet", alpha=0.3, min_samples=3),
    "shards": PartitionConfig(name="shards", classes_per_hospital=2, min_samples=1),
    "quantity-lognormal": PartitionConfig(name="quantity", sigma=2.0, min_samples=3),
    "quantity-powerlaw": PartitionConfig(
        name="quantity", distribution="powerlaw", exponent=1.2, min_samples=3
    ),
}


@st.composite
def label_sets(draw):
    """Labels of 2-6 classes, 2-8 hospitals, enough samples for every partitioner."""
    num_classes = draw(st.integers(2, 6))
    num_hospitals = draw(st.integers(max(2, (num_classes + 1) // 2), 8))
    extra = draw(st.integers(0, 300))
    # Every class has at least num_hospitals samples, so no shard is ever empty.
    base = np.repeat(np.arange(num_classes), 3 * num_hospitals)
    rest = np.random.default_rng(extra).integers(0, num_classes, extra)
    return np.concatenate([base, rest]), num_hospitals


@pytest.mark.parametrize("name", CONFIGS)
@settings(max_examples=40, deadline=None)
@given(data=label_sets(), seed=st.integers(0, 2**32 - 1))
def test_every_sample_lands_in_exactly_one_hospital(name, data, seed):
    """The shards are disjoint and together hold every index once."""
    labels, num_hospitals = data
    shards = partition(
        labels, num_hospitals, CONFIGS[name], np.random.SeedSequence(seed)
    )

    assert len(shards) == num_hospitals
    assert np.array_equal(np.sort(np.concatenate(shards)), np.arange(len(labels)))


@pytest.mark.parametrize("name", CONFIGS)
@settings(max_examples=25, deadline=None)
@given(data=label_sets(), seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_split_whatever_the_global_state(name, data, seed):
    """Reseeding numpy's global generator between calls changes nothing."""
    labels, num_hospitals = data
    np.random.seed(1)
    first = partition(
        labels, num_hospitals, CONFIGS[name], np.random.SeedSequence(seed)
    )
    np.random.seed(2)
    np.random.rand(10)
    second = partition(
        labels, num_hospitals, CONFIGS[name], np.random.SeedSequence(seed)
    )

    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize("name", CONFIGS)
@settings(max_examples=40, deadline=None)
@given(data=label_sets(), seed=st.integers(0, 2**32 - 1))
def test_every_hospital_gets_the_minimum(name, data, seed):
    """min_samples holds for every hospital after the (bounded) repair."""
    labels, num_hospitals = data
    config = CONFIGS[name]
    shards = partition(labels, num_hospitals, config, np.random.SeedSequence(seed))

    assert min(len(shard) for shard in shards) >= config.min_samples


@settings(max_examples=40, deadline=None)
@given(data=label_sets(), seed=st.integers(0, 2**32 - 1))
def test_dirichlet_repair_respects_a_tight_minimum(data, seed):
    """With the minimum at the most the data allows, tiny alpha is still repaired."""
    labels, num_hospitals = data
    config = PartitionConfig(alpha=0.01, min_samples=len(labels) // num_hospitals)

    shards = partition(labels, num_hospitals, config, np.random.SeedSequence(seed))

    assert min(len(shard) for shard in shards) == config.min_samples
    assert np.array_equal(np.sort(np.concatenate(shards)), np.arange(len(labels)))


@settings(max_examples=40, deadline=None)
@given(data=label_sets(), seed=st.integers(0, 2**32 - 1), k=st.integers(1, 3))
def test_shards_give_every_hospital_exactly_k_classes(data, seed, k):
    """The pathological split: each hospital sees exactly classes_per_hospital classes."""
    labels, num_hospitals = data
    num_classes = len(np.unique(labels))
    if k > num_classes or num_hospitals * k < num_classes:
        return
    config = PartitionConfig(name="shards", classes_per_hospital=k, min_samples=1)

    shards = partition(labels, num_hospitals, config, np.random.SeedSequence(seed))

    counts = label_counts(labels, shards, num_classes)
    assert ((counts > 0).sum(axis=1) == k).all()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_label_skew_grows_as_alpha_falls(seed):
    """Lower Dirichlet alpha gives hospitals label mixes further from the pooled mix."""
    labels = np.repeat(np.arange(10), 300)
    skews = []
    for alpha in (100.0, 1.0, 0.05):
        config = PartitionConfig(alpha=alpha, min_samples=1)
        shards = partition(labels, 10, config, np.random.SeedSequence(seed))
        skews.append(label_skew(label_counts(labels, shards, 10)))

    assert skews[0] < skews[1] < skews[2]


@settings(max_examples=50, deadline=None)
@given(
    num_hospitals=st.integers(1, 50),
    min_samples=st.integers(1, 20),
    extra=st.integers(0, 5000),
    distribution=st.sampled_from(["lognormal", "powerlaw"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_quantity_sizes_are_exact(
    num_hospitals, min_samples, extra, distribution, seed
):
    """Sizes sum to the sample count exactly and none is below the minimum."""
    total = num_hospitals * min_samples + extra
    sizes = quantity_sizes(
        total,
        num_hospitals,
        min_samples,
        distribution,
        1.0,
        1.5,
        np.random.default_rng(seed),
    )

    assert sizes.sum() == total and sizes.min() >= min_samples


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 60), min_size=1, max_size=8),
    fraction=st.floats(0.0, 0.9),
    seed=st.integers(0, 2**32 - 1),
)
def test_validation_split_partitions_each_shard(sizes, fraction, seed):
    """Train and validation are disjoint, cover the shard, and train keeps a sample."""
    bounds = np.cumsum([0, *sizes])
    shards = [
        np.arange(start, stop)
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True)
    ]

    pairs = split_validation(shards, fraction, np.random.SeedSequence(seed))

    for shard, (train, validation) in zip(shards, pairs, strict=True):
        assert np.array_equal(np.sort(np.concatenate([train, validation])), shard)
        assert len(validation) == min(
            int(fraction * len(shard)), max(len(shard) - 1, 0)
        )


def test_by_file_gives_each_hospital_its_file():
    """Hospital i holds exactly the samples of file i."""
    groups = np.array([0, 0, 1, 2, 2, 2, 1])
    config = PartitionConfig(name="by_file", min_samples=1)

    shards = partition(np.zeros(7, int), 3, config, np.random.SeedSequence(0), groups)

    assert [shard.tolist() for shard in shards] == [[0, 1], [2, 6], [3, 4, 5]]


@pytest.mark.parametrize(
    ("labels", "num_hospitals", "config", "groups", "expected"),
    [
        pytest.param(
            np.repeat(np.arange(3), 10),
            2,
            PartitionConfig(name="shards", classes_per_hospital=4, min_samples=1),
            None,
            "partition 'shards': classes_per_hospital = 4 but the training data has only "
            "3 classes; lower partition.classes_per_hospital",
            id="more-classes-per-hospital-than-classes",
        ),
        pytest.param(
            np.repeat(np.arange(10), 10),
            4,
            PartitionConfig(name="shards", classes_per_hospital=2, min_samples=1),
            None,
            "partition 'shards': 4 hospitals x classes_per_hospital = 2 gives 8 shards, "
            "too few for 10 classes (every sample must go to a hospital); raise "
            "partition.classes_per_hospital or the number of hospitals",
            id="too-few-shards",
        ),
        pytest.param(
            np.array([0] * 40 + [1] * 2),
            4,
            PartitionConfig(name="shards", classes_per_hospital=2, min_samples=1),
            None,
            "partition 'shards': class 1 has 2 training samples but 4 hospitals hold it, "
            "one shard each; lower partition.classes_per_hospital or the number of "
            "hospitals",
            id="class-smaller-than-its-shards",
        ),
        pytest.param(
            np.zeros(6, int),
            2,
            PartitionConfig(name="by_file", min_samples=1),
            np.array([0, 0, 0, 1, 1, 2]),
            "partition 'by_file' gives each hospital its own file, but dataset.files "
            "lists 3 files for 2 hospitals",
            id="files-do-not-match-hospitals",
        ),
        pytest.param(
            np.zeros(6, int),
            2,
            PartitionConfig(name="by_file", min_samples=2),
            np.array([0, 0, 0, 0, 0, 1]),
            "partition 'by_file' gives hospital 1 1 training samples, fewer than "
            "partition.min_samples = 2; lower partition.min_samples",
            id="file-below-minimum",
        ),
        pytest.param(
            np.zeros(6, int),
            2,
            PartitionConfig(name="by_file", min_samples=1),
            None,
            "partition 'by_file' needs one file per hospital: set dataset.files",
            id="by-file-without-files",
        ),
    ],
)
def test_impossible_partitions_fail_at_once(
    labels, num_hospitals, config, groups, expected
):
    """Each impossible request names the numbers and the setting to change."""
    with pytest.raises(PartitionError) as caught:
        partition(labels, num_hospitals, config, np.random.SeedSequence(0), groups)

    assert str(caught.value) == expected
