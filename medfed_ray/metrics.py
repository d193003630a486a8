"""Scores of a classifier on a test set, including those clinicians trust on imbalanced data."""

from __future__ import annotations

import warnings

import numpy as np


def score(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy, AUROC and cross-entropy loss.

    Balanced accuracy is the mean recall over classes (Brodersen et al., 2010),
    so a model that always predicts the majority class scores 1 / num_classes.
    """
    from sklearn.metrics import balanced_accuracy_score

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

    with warnings.catch_warnings():
        # A class the model predicts but the labels lack is fine here;
        # scikit-learn would warn about it every round.
        warnings.simplefilter("ignore")
        balanced = float(balanced_accuracy_score(labels, predictions))

    return {
        "accuracy": float(np.mean(predictions == labels)),
        "balanced_accuracy": balanced,
        "auroc": auroc(probabilities, labels),
        "loss": float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0)))),
    }


def auroc(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve; one-vs-rest macro average for more than two classes.

    NaN when some class is absent from the labels: its one-vs-rest curve is
    undefined, and an average over the remaining classes would mislead.
    """
    from sklearn.metrics import roc_auc_score

    num_classes = probabilities.shape[1]
    if len(np.unique(labels)) < num_classes:
        return float("nan")
    if num_classes == 2:
        return float(roc_auc_score(labels, probabilities[:, 1]))
    rows = probabilities / probabilities.sum(axis=1, keepdims=True)
    return float(roc_auc_score(labels, rows, multi_class="ovr"))
