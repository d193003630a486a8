"""Load the scenario's dataset and split off the global test set the coordinator keeps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medfed_ray.data.errors import DataError, DataFileError
from medfed_ray.data.raw import RawSplits
from medfed_ray.scenario.schema import DatasetConfig


@dataclass(frozen=True)
class Dataset:
    """Features and labels split into a pooled training part and a global test set.

    The training part is what the partitioner spreads over hospitals; the test
    set stays with the coordinator and scores the global model. ``groups``
    gives the source file of each training sample when the data came from
    several files (``dataset.files``), else it is ``None``. Images keep their
    dtype (uint8 stays uint8 until the model sees it).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    groups: np.ndarray | None = None
    scaling: tuple[np.ndarray, np.ndarray] | None = None
    """The (mean, std) every feature was standardised with, or None if it was not:
    new patients' features must be scaled the same way before the model sees them."""

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example."""
        return tuple(self.x_train.shape[1:])


SYNTHETIC_STREAM = 0x53594E
"""Spawn-key tag of the stream that generates synthetic data."""


def read_source(
    config: DatasetConfig, seed: np.random.SeedSequence
) -> tuple[RawSplits, np.ndarray | None]:
    """Read the configured source; return its arrays and, for several files, each sample's file."""
    if config.name in ("breast_cancer", "digits"):
        from medfed_ray.data.builtin import load_builtin

        return load_builtin(config.name), None
    if config.name == "synthetic":
        from medfed_ray.data.synthetic import make_synthetic

        stream = np.random.SeedSequence(
            entropy=seed.entropy, spawn_key=(*seed.spawn_key, SYNTHETIC_STREAM)
        )
        shape = tuple(config.synthetic_shape)
        raw = make_synthetic(
            config.synthetic_samples, config.synthetic_classes, shape, stream
        )
        return raw, None

    paths = [Path(path) for path in config.files or [source_path(config)]]
    splits = [read_file(config, path) for path in paths]
    if len(splits) == 1:
        return splits[0], None
    return combine_files(paths, splits)


def source_path(config: DatasetConfig) -> Path:
    """The file of a single-file source: ``path``, or a fetched MedMNIST file."""
    if config.path is not None:
        return Path(config.path).expanduser()
    from medfed_ray.data.cache import cached_medmnist_path

    path = cached_medmnist_path(config.flavour, config.size)
    if not path.exists():
        raise DataFileError(
            path,
            f"no such file; fetch it with `medfed data fetch {config.flavour} "
            f"--size {config.size}` or set dataset.path to a copy you have",
        )
    return path


def read_file(config: DatasetConfig, path: Path) -> RawSplits:
    """Read one file with the reader of ``config.name``."""
    if config.name == "medmnist":
        from medfed_ray.data.medmnist import read_medmnist

        return read_medmnist(path, config.size if config.path is None else None)
    if config.name == "npz":
        from medfed_ray.data.npz_source import read_npz

        return read_npz(
            path,
            config.features_key,
            config.labels_key,
            config.test_features_key,
            config.test_labels_key,
        )
    from medfed_ray.data.parquet_source import read_parquet

    return read_parquet(
        path, config.label_column, config.image_column, config.feature_columns
    )


def combine_files(
    paths: list[Path], splits: list[RawSplits]
) -> tuple[RawSplits, np.ndarray]:
    """Pool several files' training parts (and test splits, if all have one)."""
    first = splits[0].x_pool
    for path, split in zip(paths[1:], splits[1:], strict=True):
        x = split.x_pool
        if x.shape[1:] != first.shape[1:] or x.dtype != first.dtype:
            raise DataFileError(
                path,
                f"does not match {paths[0]}",
                expected=f"examples of shape {first.shape[1:]} and dtype {first.dtype}",
                found=f"shape {x.shape[1:]} and dtype {x.dtype}",
            )
    with_test = [split.has_test for split in splits]
    if any(with_test) and not all(with_test):
        missing = paths[with_test.index(False)]
        raise DataFileError(
            missing,
            "has no test split while other files do",
            expected="a test split in every file or in none",
            found="none in this file",
        )
    groups = np.concatenate(
        [np.full(len(split.y_pool), index) for index, split in enumerate(splits)]
    )
    raw = RawSplits(
        x_pool=np.concatenate([split.x_pool for split in splits]),
        y_pool=np.concatenate([split.y_pool for split in splits]),
        x_test=np.concatenate([split.x_test for split in splits])
        if all(with_test)
        else None,
        y_test=np.concatenate([split.y_test for split in splits])
        if all(with_test)
        else None,
    )
    return raw, groups


def load_dataset(config: DatasetConfig, seed: np.random.SeedSequence) -> Dataset:
    """Load a dataset and split off the global test set.

    A source with its own test split (MedMNIST, an ``.npz`` with test keys,
    several files that all have one) keeps it; otherwise a stratified
    ``test_fraction`` of the pool is held out. ``max_train_samples`` then keeps
    a random subset of the training part. With ``standardize`` on,
    floating-point features are centred and scaled with the training part's
    mean and standard deviation; the test set never informs them, and uint8
    images are left as they are (the model scales them to ``[0, 1]``). In a
    real federation those statistics would be agreed on or computed with
    secure aggregation; the simulator assumes they are known.
    """
    raw, groups = read_source(config, seed)
    rng = np.random.default_rng(seed)
    if raw.has_test:
        x_train, y_train, x_test, y_test = (
            raw.x_pool,
            raw.y_pool,
            raw.x_test,
            raw.y_test,
        )
    else:
        x, y = raw.x_pool, raw.y_pool
        test_index = stratified_sample(y, config.test_fraction, rng)
        train_mask = np.ones(len(y), dtype=bool)
        train_mask[test_index] = False
        x_train, y_train = x[train_mask], y[train_mask]
        x_test, y_test = x[test_index], y[test_index]
        groups = groups[train_mask] if groups is not None else None

    if config.max_train_samples is not None and config.max_train_samples < len(y_train):
        keep = np.sort(
            rng.choice(len(y_train), config.max_train_samples, replace=False)
        )
        x_train, y_train = x_train[keep], y_train[keep]
        groups = groups[keep] if groups is not None else None

    scaling = None
    if config.standardize and x_train.dtype.kind == "f":
        mean = x_train.mean(axis=0)
        std = x_train.std(axis=0)
        std[std == 0] = 1.0
        x_train = (x_train - mean) / std
        x_test = (x_test - mean) / std
        scaling = (mean.astype(np.float32), std.astype(np.float32))

    num_classes = int(max(y_train.max(), y_test.max())) + 1
    if len(np.unique(y_train)) < 2:
        raise DataError(
            f"dataset {config.name!r}: the training part holds a single class "
            f"({int(y_train[0])}); a classifier needs at least two"
        )
    return Dataset(
        name=config.name,
        x_train=compact(x_train),
        y_train=y_train,
        x_test=compact(x_test),
        y_test=y_test,
        num_classes=num_classes,
        groups=groups,
        scaling=scaling,
    )


def compact(x: np.ndarray) -> np.ndarray:
    """uint8 stays uint8; any other numeric type becomes float32. Contiguous either way."""
    dtype = np.uint8 if x.dtype == np.uint8 else np.float32
    return np.ascontiguousarray(x, dtype=dtype)


def stratified_sample(
    labels: np.ndarray, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Return sorted indices of a ``fraction`` of each class, at least one per class.

    A class with a single sample stays in the training part.
    """
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        take = max(1, round(fraction * len(members)))
        chosen.append(
            rng.choice(members, size=min(take, len(members) - 1), replace=False)
        )
    return np.sort(np.concatenate(chosen))
