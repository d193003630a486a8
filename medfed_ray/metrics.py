"""Scores of a classifier on a test set, including those clinicians trust on imbalanced data."""

from __future__ import annotations

import numpy as np


def score(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy, AUROC and cross-entropy loss.

    Balanced accuracy is the mean recall over classes (Brodersen et al., 2010),
    so a model that always predicts the majority class scores 1 / num_classes.
    AUROC is one-vs-rest macro-averaged for more than two classes, and NaN
    when the labels hold a single class.
    """
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    labels = np.asarray(labels, dtype=np.int64)
    num_classes = probabilities.shape[1]
    predictions = probabilities.argmax(axis=1)
    picked = probabilities[np.arange(len(labels)), labels]
    loss = float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0))))

    present = np.unique(labels)
    if len(present) < 2:
        auroc = float("nan")
    elif num_classes == 2:
        auroc = float(roc_auc_score(labels, probabilities[:, 1]))
    else:
        rows = probabilities / probabilities.sum(axis=1, keepdims=True)
        try:
            auroc = float(
                roc_auc_score(
                    labels, rows, multi_class="ovr", labels=list(range(num_classes))
                )
            )
        except ValueError:
            # Some class is absent from the test labels: one-vs-rest AUROC is
            # undefined for it, and a partial average would mislead.
            auroc = float("nan")

    return {
        "accuracy": float(np.mean(predictions == labels)),
        "balanced_accuracy": float(balanced_accuracy_score(labels, predictions)),
        "auroc": auroc,
        "loss": loss,
    }
