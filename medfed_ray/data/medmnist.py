"""MedMNIST 2D files: six arrays of uint8 images and integer labels.

MedMNIST v2 (Yang et al., "MedMNIST v2 - A large-scale lightweight benchmark
for 2D and 3D biomedical image classification", Scientific Data 10, 41, 2023,
https://doi.org/10.1038/s41597-022-01721-8) ships each 2D dataset as an
``.npz`` file with ``{train,val,test}_{images,labels}``; images are
``(N, S, S)`` grayscale or ``(N, S, S, 3)`` RGB with ``S`` in 28, 64, 128, 224.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medfed_ray.data.errors import DataFileError
from medfed_ray.data.npz_reading import NpzArrays, check_labels
from medfed_ray.data.raw import RawSplits, as_images
from medfed_ray.scenario.schema import MEDMNIST_SIZES

SPLITS = ("train", "val", "test")


def read_medmnist(path: str | Path, size: int | None = None) -> RawSplits:
    """Read and check a MedMNIST 2D file.

    The official validation split joins the training pool the hospitals share
    (each hospital carves its own local validation split from its shard); the
    test split becomes the global test set. ``size``, when given, is the image
    side the file must have.
    """
    path = Path(path)
    images, labels = {}, {}
    with NpzArrays(path) as arrays:
        for split in SPLITS:
            images[split] = check_images(
                path, f"{split}_images", arrays.get(f"{split}_images")
            )
            labels[split] = check_labels(
                path,
                f"{split}_labels",
                arrays.get(f"{split}_labels"),
                len(images[split]),
            )

    shape = images["train"].shape[1:]
    for split in SPLITS[1:]:
        if images[split].shape[1:] != shape:
            raise DataFileError(
                path,
                "has images of another shape than train_images",
                key=f"{split}_images",
                expected=f"images of shape {shape}",
                found=f"shape {images[split].shape[1:]}",
            )
    if size is not None and shape[0] != size:
        raise DataFileError(
            path,
            "has images of another size than the scenario's dataset.size",
            key="train_images",
            expected=f"{size}x{size} images",
            found=f"{shape[0]}x{shape[1]}",
        )
    for split in ("train", "test"):
        if len(images[split]) == 0:
            raise DataFileError(
                path,
                "is empty",
                key=f"{split}_images",
                expected="at least one image",
                found="0 images",
            )

    return RawSplits(
        x_pool=as_images(np.concatenate([images["train"], images["val"]])),
        y_pool=np.concatenate([labels["train"], labels["val"]]),
        x_test=as_images(images["test"]),
        y_test=labels["test"],
    )


def check_images(path: Path, key: str, images: np.ndarray) -> np.ndarray:
    """MedMNIST images are uint8, square, of an official size, grayscale or RGB."""
    if images.dtype != np.uint8:
        raise DataFileError(
            path,
            "has the wrong dtype",
            key=key,
            expected="uint8 images",
            found=f"dtype {images.dtype}",
        )
    grayscale = images.ndim == 3
    rgb = images.ndim == 4 and images.shape[3] == 3
    square = images.ndim >= 3 and images.shape[1] == images.shape[2]
    if not ((grayscale or rgb) and square and images.shape[1] in MEDMNIST_SIZES):
        sizes = "/".join(str(size) for size in MEDMNIST_SIZES)
        raise DataFileError(
            path,
            "has the wrong shape",
            key=key,
            expected=f"(N, S, S) or (N, S, S, 3) with S in {sizes}",
            found=f"shape {images.shape}",
        )
    return images
