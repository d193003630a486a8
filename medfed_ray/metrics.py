"""Scores of a classifier on a test set, including those clinicians trust on imbalanced data."""

from __future__ import annotations

import numpy as np


def score(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy, AUROC and cross-entropy loss.

    Balanced accuracy is the mean recall over classes (Brodersen et al., 2010),
    so a model that always predicts the majority class scores 1 / num_classes.
    Local-only training scores every hospital's model each evaluated round,
    thousands of times on the same test set, so these are written with numpy
    rather than scikit-learn, whose input checks cost more than the arithmetic
    (12 ms against 3 ms for 25,000 rows of two classes); the tests hold them to
    scikit-learn's values.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if not np.isfinite(probabilities).all():
        # A model whose weights blew up (e.g. after an unchecked attack) predicts
        # NaN: score it as the failure it is rather than stopping the run.
        return {
            "accuracy": float("nan"),
            "balanced_accuracy": float("nan"),
            "auroc": float("nan"),
            "loss": float("nan"),
        }
    predictions = probabilities.argmax(axis=1)
    picked = probabilities[np.arange(len(labels)), labels]

    return {
        "accuracy": float(np.mean(predictions == labels)),
        "balanced_accuracy": balanced_accuracy(predictions, labels),
        "auroc": auroc(probabilities, labels),
        "loss": float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0)))),
    }


def balanced_accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Mean recall over the classes present in ``labels``.

    A class that is predicted but absent from the labels has no recall and
    is left out, as scikit-learn's ``balanced_accuracy_score`` leaves it out.
    """
    size = int(max(labels.max(), predictions.max())) + 1
    members = np.bincount(labels, minlength=size)
    hits = np.bincount(labels[predictions == labels], minlength=size)
    present = members > 0
    return float(np.mean(hits[present] / members[present]))


def auroc(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve; one-vs-rest macro average for more than two classes.

    NaN when some class is absent from the labels: its one-vs-rest curve is
    undefined, and an average over the remaining classes would mislead. For
    more than two classes each row is first normalised to sum to 1.
    """
    num_classes = probabilities.shape[1]
    if np.count_nonzero(np.bincount(labels, minlength=num_classes)) < num_classes:
        return float("nan")
    if num_classes == 2:
        return binary_auroc(probabilities[:, 1], labels == 1)
    rows = probabilities / probabilities.sum(axis=1, keepdims=True)
    return float(
        np.mean([binary_auroc(rows[:, c], labels == c) for c in range(num_classes)])
    )


def binary_auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """AUROC as the Mann-Whitney statistic: the share of (positive, negative) pairs
    the scores order correctly, a tie counting one half.

    Hanley and McNeil, "The meaning and use of the area under a receiver
    operating characteristic (ROC) curve", Radiology 143(1), 1982. It equals
    the trapezoidal area under the ROC curve, ties included, and costs one
    sort.
    """
    ranks = average_ranks(scores)
    positives = int(np.count_nonzero(positive))
    negatives = len(scores) - positives
    rank_sum = float(np.sum(ranks[positive]))
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values``; tied values share the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts_group = np.empty(len(values), dtype=bool)
    starts_group[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts_group[1:])
    starts = np.flatnonzero(starts_group)
    ends = np.append(starts[1:], len(values))
    # The ranks start + 1 ... end average to (start + 1 + end) / 2.
    group_ranks = (starts + 1 + ends) / 2.0
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = group_ranks[np.cumsum(starts_group) - 1]
    return ranks
