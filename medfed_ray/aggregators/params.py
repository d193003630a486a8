"""Parameter checks shared by the rules: each collects every problem as a message.

A rule's ``check_params`` lets the scenario loader report all bad settings at
once, before any actor starts; the rule's ``aggregate`` runs the same checks
and raises the first problems as a ``ValueError``, so both say the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from numbers import Integral, Real


def unknown_params(
    rule: str, params: Mapping[str, object], accepted: Iterable[str]
) -> list[str]:
    """Return one message per parameter name that ``rule`` does not take."""
    accepted = tuple(accepted)
    allowed = ", ".join(accepted) if accepted else "no parameters"
    return [
        f"{rule} got unknown parameter {name!r}; it accepts {allowed}"
        for name in sorted(set(params) - set(accepted))
    ]


def is_int(value: object) -> bool:
    """Return whether ``value`` is an integer (a bool is not a count)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_finite_real(value: object) -> bool:
    """Return whether ``value`` is a finite real number (a bool is not a number)."""
    return (
        isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    )


def raise_problems(problems: list[str]) -> None:
    """Raise ``ValueError`` with every problem joined, if there is any."""
    if problems:
        raise ValueError("; ".join(problems))
