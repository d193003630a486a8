"""Checks of the benchmark commands' options, made before any benchmark starts."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def parse_counts(text: str, minimum: int, option: str = "--hospitals") -> list[int]:
    """``"10,100"`` -> ``[10, 100]``, or a usage error naming the option.

    Every item must be a whole number of at least ``minimum``; an empty item
    (``"10,,100"``) is refused rather than dropped, as it is likely a typo.
    """
    parts = [part.strip() for part in text.split(",")]
    try:
        counts = [int(part) for part in parts]
    except ValueError:
        raise typer.BadParameter(
            f"must be whole numbers separated by commas; found {text!r}",
            param_hint=option,
        ) from None
    if min(counts) < minimum:
        raise typer.BadParameter(
            f"needs counts of at least {minimum}; found {text!r}", param_hint=option
        )
    repeated = sorted({count for count in counts if counts.count(count) > 1})
    if repeated:
        raise typer.BadParameter(
            f"gives {', '.join(map(str, repeated))} more than once; give each count "
            f"once (found {text!r})",
            param_hint=option,
        )
    return counts


def check_json_target(path: Path | None) -> None:
    """Refuse a ``--json`` file that could not be written, before minutes of measuring."""
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        problem = "is a directory"
    elif not folder.is_dir():
        problem = f"its folder {str(folder)!r} does not exist"
    elif not os.access(folder, os.W_OK) or (
        path.exists() and not os.access(path, os.W_OK)
    ):
        problem = "is not writable"
    else:
        return
    raise typer.BadParameter(
        f"{str(path)!r}: {problem}; give a file in an existing, writable folder",
        param_hint="--json",
    )
