"""Parquet files: a label column plus feature columns, or one image column."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from medfed_ray.data.errors import DataFileError
from medfed_ray.data.npz_reading import check_features, check_labels, describe
from medfed_ray.data.raw import RawSplits, as_images


def read_parquet(
    path: str | Path,
    label_column: str = "label",
    image_column: str | None = None,
    feature_columns: list[str] | None = None,
) -> RawSplits:
    """Read one table; features are ``feature_columns`` (default: every other column).

    An ``image_column`` holds either encoded images (PNG/JPEG bytes, decoded
    with Pillow) or lists of ``S*S`` or ``S*S*3`` pixel values; all images
    must have one shape.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "no such file")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise DataFileError(
            path,
            "is not a readable Parquet file (truncated or corrupt?)",
            expected="a Parquet file",
            found=describe(error),
        ) from None

    columns = table.column_names
    require_column(path, label_column, columns)
    labels = table.column(label_column).to_numpy(zero_copy_only=False)
    if image_column is not None:
        require_column(path, image_column, columns)
        x = read_image_column(path, image_column, table.column(image_column))
    else:
        names = feature_columns or [name for name in columns if name != label_column]
        for name in names:
            require_column(path, name, columns)
        if not names:
            raise DataFileError(
                path,
                "has no feature columns",
                key=label_column,
                expected="at least one column beside the label",
                found=f"columns {', '.join(columns)}",
            )
        x = np.column_stack(
            [column_values(path, name, table.column(name)) for name in names]
        )
        check_features(path, ", ".join(names), x)
    y = check_labels(path, label_column, labels, len(x))
    return RawSplits(as_images(x), y)


def require_column(path: Path, name: str, columns: list[str]) -> None:
    """Raise naming the file, the column and the columns it has, if ``name`` is absent."""
    if name not in columns:
        raise DataFileError(
            path,
            "is missing",
            key=name,
            expected=f"a column named {name!r}",
            found=f"columns {', '.join(columns)}",
        )


def column_values(path: Path, name: str, column) -> np.ndarray:
    """A numeric column as a numpy array; nulls and non-numeric types are refused."""
    if column.null_count:
        raise DataFileError(
            path,
            "holds nulls",
            key=name,
            expected="a value in every row",
            found=f"{column.null_count} null(s)",
        )
    values = column.to_numpy(zero_copy_only=False)
    if values.dtype.kind not in "uif":
        raise DataFileError(
            path,
            "has the wrong type",
            key=name,
            expected="a numeric column",
            found=f"type {column.type}",
        )
    return values


def read_image_column(path: Path, name: str, column) -> np.ndarray:
    """Decode an image column into ``(N, H, W[, C])``, keeping uint8 pixels uint8."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        images = [
            decode_image(path, name, row, value)
            for row, value in enumerate(column.to_pylist())
        ]
    elif (
        pa.types.is_list(kind)
        or pa.types.is_fixed_size_list(kind)
        or pa.types.is_large_list(kind)
    ):
        images = [
            pixels_to_image(path, name, row, value)
            for row, value in enumerate(column.to_pylist())
        ]
    else:
        raise DataFileError(
            path,
            "has the wrong type",
            key=name,
            expected="encoded images (binary) or lists of pixel values",
            found=f"type {kind}",
        )
    shapes = {image.shape for image in images}
    if len(shapes) != 1:
        raise DataFileError(
            path,
            "holds images of different shapes",
            key=name,
            expected="one image shape",
            found=f"shapes {sorted(shapes)[:3]}",
        )
    stacked = np.stack(images)
    if not pa.types.is_binary(kind) and not pa.types.is_large_binary(kind):
        # to_pylist loses the pixel type; give back the column's own (uint8 stays uint8).
        stacked = stacked.astype(kind.value_type.to_pandas_dtype())
    return stacked


def decode_image(path: Path, name: str, row: int, data: bytes | None) -> np.ndarray:
    """Decode one PNG/JPEG image with Pillow."""
    from PIL import Image, UnidentifiedImageError

    if data is None:
        raise DataFileError(
            path, f"row {row} is null", key=name, expected="an image", found="null"
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image if image.mode == "L" else image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as error:
        raise DataFileError(
            path,
            f"row {row} cannot be decoded",
            key=name,
            expected="PNG or JPEG bytes",
            found=describe(error),
        ) from None


def pixels_to_image(path: Path, name: str, row: int, values: list | None) -> np.ndarray:
    """A flat list of ``S*S`` (grayscale) or ``S*S*3`` (RGB) pixels as a square image."""
    pixels = np.asarray(values if values is not None else [])
    for channels in (1, 3):
        side = math.isqrt(pixels.size // channels) if pixels.size else 0
        if (
            side
            and side * side * channels == pixels.size
            and pixels.dtype.kind in "uif"
        ):
            shape = (side, side) if channels == 1 else (side, side, 3)
            return pixels.reshape(shape)
    raise DataFileError(
        path,
        f"row {row} is not a square image",
        key=name,
        expected="S*S or S*S*3 numeric pixel values",
        found=f"{pixels.size} value(s) of dtype {pixels.dtype}",
    )
