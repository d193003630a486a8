"""Built-in real datasets that ship inside installed packages, so runs work offline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medfed_ray.scenario.schema import DatasetConfig


@dataclass(frozen=True)
class Dataset:
    """Features and labels split into a pooled training part and a global test set.

    The training part is what the partitioner spreads over hospitals; the test
    set stays with the coordinator and scores the global model.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example."""
        return tuple(self.x_train.shape[1:])


def load_arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the raw float32 features and int64 labels of a built-in dataset."""
    from sklearn import datasets

    if name == "breast_cancer":
        # Wolberg, Street and Mangasarian, Wisconsin Diagnostic Breast Cancer,
        # UCI 1995: 569 patients, 30 nuclear features, 0 = malignant, 1 = benign.
        bunch = datasets.load_breast_cancer()
    elif name == "digits":
        # Alpaydin and Kaynak, UCI 1998: 1,797 8x8 handwritten digits, 10 classes.
        bunch = datasets.load_digits()
    else:
        raise ValueError(f"unknown dataset {name!r}; choose breast_cancer or digits")
    return bunch.data.astype(np.float32), bunch.target.astype(np.int64)


def load_dataset(config: DatasetConfig, seed: np.random.SeedSequence) -> Dataset:
    """Load a dataset and split off a stratified global test set.

    With ``standardize`` on, every feature is centred and scaled with the mean
    and standard deviation of the pooled training part; the test set never
    informs them. (In a real federation those statistics would be agreed on
    or computed with secure aggregation; the simulator assumes they are known.)
    """
    x, y = load_arrays(config.name)
    rng = np.random.default_rng(seed)
    test_index = stratified_sample(y, config.test_fraction, rng)
    train_mask = np.ones(len(y), dtype=bool)
    train_mask[test_index] = False

    x_train, y_train = x[train_mask], y[train_mask]
    x_test, y_test = x[test_index], y[test_index]
    if config.standardize:
        mean = x_train.mean(axis=0)
        std = x_train.std(axis=0)
        std[std == 0] = 1.0
        x_train = (x_train - mean) / std
        x_test = (x_test - mean) / std

    return Dataset(
        name=config.name,
        x_train=np.ascontiguousarray(x_train, dtype=np.float32),
        y_train=y_train,
        x_test=np.ascontiguousarray(x_test, dtype=np.float32),
        y_test=y_test,
        num_classes=int(y.max()) + 1,
    )


def stratified_sample(
    labels: np.ndarray, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Return sorted indices of a ``fraction`` of each class, at least one per class."""
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        take = max(1, round(fraction * len(members)))
        chosen.append(
            rng.choice(members, size=min(take, len(members) - 1), replace=False)
        )
    return np.sort(np.concatenate(chosen))
