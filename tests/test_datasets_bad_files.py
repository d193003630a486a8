"""Bad data files are refused with the file, the key, what was expected and what was found."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medfed_ray.data.errors import DataFileError
from medfed_ray.data.medmnist import read_medmnist
from medfed_ray.data.npz_source import read_npz
from medfed_ray.data.parquet_source import read_parquet


def medmnist_arrays(train: int = 20, side: int = 28) -> dict[str, np.ndarray]:
    """Small arrays in the MedMNIST layout: uint8 images, (N, 1) labels of 3 classes."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, count in (("train", train), ("val", 5), ("test", 6)):
        arrays[f"{split}_images"] = rng.integers(
            0, 256, (count, side, side), dtype=np.uint8
        )
        arrays[f"{split}_labels"] = (np.arange(count) % 3).astype(np.uint8)[:, None]
    return arrays


def write(tmp_path: Path, name: str = "bad.npz", **changes) -> Path:
    """Write MedMNIST arrays with ``changes`` applied (None removes a key)."""
    arrays = medmnist_arrays()
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def refusal(read, path: Path, *args) -> str:
    """The message ``read(path)`` refuses the file with, without the path prefix."""
    with pytest.raises(DataFileError) as caught:
        read(path, *args)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    return message[len(f"{path}: ") :]


def test_a_good_file_loads_with_val_in_the_pool(tmp_path):
    """train + val form the pool (20 + 5), test stays apart; images gain a channel axis."""
    path = write(tmp_path, "good.npz")

    raw = read_medmnist(path)

    assert raw.x_pool.shape == (25, 28, 28, 1) and raw.x_pool.dtype == np.uint8
    assert raw.y_pool.shape == (25,) and raw.y_pool.dtype == np.int64
    assert raw.x_test.shape == (6, 28, 28, 1)


def test_rgb_images_and_flat_labels_load(tmp_path):
    """RGB (N, S, S, 3) at 64 pixels and labels shaped (N,) are both MedMNIST layouts."""
    arrays = medmnist_arrays(side=64)
    for split in ("train", "val", "test"):
        images = arrays[f"{split}_images"]
        arrays[f"{split}_images"] = np.repeat(images[..., None], 3, axis=3)
        arrays[f"{split}_labels"] = arrays[f"{split}_labels"].ravel()
    path = tmp_path / "rgb.npz"
    np.savez(path, **arrays)

    raw = read_medmnist(path)

    assert raw.x_pool.shape == (25, 64, 64, 3)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            {"test_labels": None},
            "key 'test_labels': is missing; expected an array named 'test_labels', found "
            "keys test_images, train_images, train_labels, val_images, val_labels",
            id="missing-key",
        ),
        pytest.param(
            {"train_images": np.array([{"patient": 1}] * 20, dtype=object)},
            "key 'train_images': holds pickled Python objects, which are never loaded; "
            "expected a plain numeric array, found an object array",
            id="pickled-objects",
        ),
        pytest.param(
            {"train_images": np.zeros((20, 28, 28), dtype=np.float32)},
            "key 'train_images': has the wrong dtype; expected uint8 images, found dtype "
            "float32",
            id="float-images",
        ),
        pytest.param(
            {"train_images": np.zeros((20, 30, 30), dtype=np.uint8)},
            "key 'train_images': has the wrong shape; expected (N, S, S) or (N, S, S, 3) "
            "with S in 28/64/128/224, found shape (20, 30, 30)",
            id="unofficial-size",
        ),
        pytest.param(
            {"val_images": np.zeros((5, 28, 28, 2), dtype=np.uint8)},
            "key 'val_images': has the wrong shape; expected (N, S, S) or (N, S, S, 3) "
            "with S in 28/64/128/224, found shape (5, 28, 28, 2)",
            id="two-channels",
        ),
        pytest.param(
            {"val_images": np.zeros((5, 64, 64), dtype=np.uint8)},
            "key 'val_images': has images of another shape than train_images; expected "
            "images of shape (28, 28), found shape (64, 64)",
            id="splits-of-different-sizes",
        ),
        pytest.param(
            {"train_labels": np.zeros((19, 1), dtype=np.uint8)},
            "key 'train_labels': does not match the number of samples; expected shape "
            "(20,) or (20, 1), found shape (19, 1)",
            id="label-count-mismatch",
        ),
        pytest.param(
            {"train_labels": np.zeros((20, 1), dtype=np.float32)},
            "key 'train_labels': has the wrong dtype; expected integer class labels, "
            "found dtype float32",
            id="float-labels",
        ),
        pytest.param(
            {"test_labels": np.array([0, 1, -1, 0, 1, 2], dtype=np.int64)},
            "key 'test_labels': holds labels out of range; expected class indices in "
            "0 ... 9999, found values from -1 to 2",
            id="negative-label",
        ),
        pytest.param(
            {"train_labels": np.zeros((20, 14), dtype=np.uint8)},
            "key 'train_labels': holds multi-label targets (several findings per image, "
            "as in ChestMNIST); medfed-ray trains single-label classifiers only; "
            "expected shape (20,) or (20, 1), found shape (20, 14)",
            id="multi-label-chestmnist",
        ),
        pytest.param(
            {
                "test_images": np.zeros((0, 28, 28), dtype=np.uint8),
                "test_labels": np.zeros((0, 1), dtype=np.uint8),
            },
            "key 'test_images': is empty; expected at least one image, found 0 images",
            id="empty-test-split",
        ),
    ],
)
def test_bad_medmnist_arrays_are_refused(tmp_path, changes, expected):
    """Each kind of bad array names its key, what was expected and what was found."""
    path = write(tmp_path, **changes)

    assert refusal(read_medmnist, path) == expected


def test_missing_file_is_refused(tmp_path):
    """A path that does not exist says so."""
    assert refusal(read_medmnist, tmp_path / "absent.npz") == "no such file"


def test_truncated_file_is_refused(tmp_path):
    """A download cut off halfway is not a zip archive any more."""
    path = write(tmp_path, "whole.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    assert refusal(read_medmnist, truncated) == (
        "is not a readable .npz archive (truncated or corrupt?); expected a zip "
        "archive of .npy arrays, found BadZipFile: File is not a zip file"
    )


def test_corrupt_member_is_refused(tmp_path):
    """Flipped bytes inside an array fail its CRC; the message names the key."""
    path = write(tmp_path, "flipped.npz")
    data = bytearray(path.read_bytes())
    data[2000] ^= 0xFF
    path.write_bytes(bytes(data))

    assert refusal(read_medmnist, path) == (
        "key 'train_images': cannot be read (truncated or corrupt file?); expected a "
        "complete .npy member, found BadZipFile: Bad CRC-32 for file 'train_images.npy'"
    )


def test_single_npy_array_is_refused(tmp_path):
    """An .npy file holds one unnamed array, not the named arrays expected."""
    path = tmp_path / "one.npz"
    with path.open("wb") as file:
        np.save(file, np.zeros(3))

    assert refusal(read_medmnist, path) == (
        "holds a single array, not named arrays; expected an .npz archive, found an "
        ".npy array"
    )


def test_size_other_than_the_scenario_asks_is_refused(tmp_path):
    """A 28-pixel file where the scenario asks for 64 pixels."""
    path = write(tmp_path, "small.npz")

    assert refusal(read_medmnist, path, 64) == (
        "key 'train_images': has images of another size than the scenario's "
        "dataset.size; expected 64x64 images, found 28x28"
    )


def test_generic_npz_with_nan_features_is_refused(tmp_path):
    """Features must be finite."""
    path = tmp_path / "features.npz"
    x = np.ones((10, 3), dtype=np.float32)
    x[2, 1] = np.nan
    np.savez(path, x=x, y=np.arange(10) % 2)

    assert refusal(read_npz, path) == (
        "key 'x': holds NaN or infinite values; expected finite values, found 1 "
        "NaN/Inf value(s)"
    )


def test_generic_npz_with_text_features_is_refused(tmp_path):
    """Text is not a feature."""
    path = tmp_path / "text.npz"
    np.savez(path, x=np.array([["a"], ["b"]]), y=np.array([0, 1]))

    assert refusal(read_npz, path) == (
        "key 'x': has the wrong dtype; expected an integer or floating-point array, "
        "found dtype <U1"
    )


def test_generic_npz_reads_named_keys_and_test_split(tmp_path):
    """Features, labels and a test split under keys the scenario names."""
    path = tmp_path / "mine.npz"
    np.savez(
        path,
        features=np.ones((10, 4)),
        target=np.arange(10) % 2,
        tf=np.zeros((3, 4)),
        tl=np.array([0, 1, 1]),
    )

    raw = read_npz(path, "features", "target", "tf", "tl")

    assert (raw.x_pool.shape, raw.x_test.shape, raw.y_test.tolist()) == (
        (10, 4),
        (3, 4),
        [0, 1, 1],
    )


def write_parquet(path: Path, columns: dict) -> Path:
    """Write ``columns`` as a Parquet table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path)
    return path


def test_parquet_features_and_label_load(tmp_path):
    """Every column but the label is a feature by default."""
    path = write_parquet(
        tmp_path / "t.parquet",
        {
            "age": [50, 60, 70, 80],
            "bmi": [20.0, 25.0, 30.0, 35.0],
            "label": [0, 1, 0, 1],
        },
    )

    raw = read_parquet(path)

    assert raw.x_pool.tolist() == [[50, 20], [60, 25], [70, 30], [80, 35]]
    assert raw.y_pool.tolist() == [0, 1, 0, 1]


def test_parquet_image_column_of_pixel_lists_keeps_uint8(tmp_path):
    """A list<uint8> column of 4 values per row is a 2x2 grayscale image."""
    import pyarrow as pa

    images = pa.array([[0, 1, 2, 3], [4, 5, 6, 7]], type=pa.list_(pa.uint8()))
    path = write_parquet(tmp_path / "i.parquet", {"image": images, "label": [0, 1]})

    raw = read_parquet(path, "label", "image")

    assert raw.x_pool.shape == (2, 2, 2, 1) and raw.x_pool.dtype == np.uint8


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        pytest.param(
            {"x": [1.0, 2.0], "diagnosis": [0, 1]},
            "key 'label': is missing; expected a column named 'label', found columns "
            "x, diagnosis",
            id="missing-label-column",
        ),
        pytest.param(
            {"x": [1.0, None], "label": [0, 1]},
            "key 'x': holds nulls; expected a value in every row, found 1 null(s)",
            id="null-feature",
        ),
        pytest.param(
            {"x": ["a", "b"], "label": [0, 1]},
            "key 'x': has the wrong type; expected a numeric column, found type string",
            id="text-feature",
        ),
    ],
)
def test_bad_parquet_columns_are_refused(tmp_path, columns, expected):
    """Column problems name the column, what was expected and what was found."""
    path = write_parquet(tmp_path / "bad.parquet", columns)

    assert refusal(read_parquet, path) == expected


def test_corrupt_parquet_is_refused(tmp_path):
    """A file that is not Parquet gives a clear error, not a traceback."""
    path = tmp_path / "junk.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")

    message = refusal(read_parquet, path)

    assert message.startswith(
        "is not a readable Parquet file (truncated or corrupt?); expected a Parquet "
        "file, found ArrowInvalid: "
    )
