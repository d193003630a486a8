"""The base of every scenario table, and shared field types."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)


class Section(BaseModel):
    """A scenario table: frozen, strictly typed, and unknown keys are errors.

    Strict types mean ``rounds = "5"``, ``rounds = true`` or ``count = 2.0`` are
    refused instead of silently converted; an integer is still a valid float.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]
Count = Annotated[int, Field(ge=1)]
