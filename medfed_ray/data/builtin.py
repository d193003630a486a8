"""Real datasets that ship inside scikit-learn, so the default run works offline."""

from __future__ import annotations

import numpy as np

from medfed_ray.data.raw import RawSplits


def load_builtin(name: str) -> RawSplits:
    """The float32 features and int64 labels of a built-in dataset."""
    from sklearn import datasets

    if name == "breast_cancer":
        # Street, Wolberg and Mangasarian, Wisconsin Diagnostic Breast Cancer,
        # UCI 1995: 569 patients, 30 nuclear features, 0 = malignant, 1 = benign.
        bunch = datasets.load_breast_cancer()
        x = bunch.data
    elif name == "digits":
        # Alpaydin and Kaynak, UCI 1998: 1,797 8x8 handwritten digits, 10 classes.
        # Kept as 8x8 one-channel images (values 0-16) so the CNN can use them.
        bunch = datasets.load_digits()
        x = bunch.images[..., np.newaxis]
    else:
        raise ValueError(
            f"unknown built-in dataset {name!r}; choose breast_cancer or digits"
        )
    return RawSplits(x.astype(np.float32), bunch.target.astype(np.int64))
