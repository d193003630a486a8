"""Hospital groups of a scenario: how many, how they behave, what resources they get."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    model_validator,
)

from medfed_ray.scenario.section import Section

Behaviour = Literal[
    "honest",
    "sign_flip",
    "gaussian_noise",
    "label_flip",
    "label_noise",
    "scaling",
    "free_rider",
    "alie",
    "ipm",
    "dropout",
    "crash",
    "hang",
    "nan_update",
]

BEHAVIOUR_PARAMETERS: dict[str, tuple[str, ...]] = {
    "scale": ("sign_flip", "scaling"),
    "std": ("gaussian_noise",),
    "mode": ("gaussian_noise", "free_rider"),
    "noise_fraction": ("label_noise",),
    "probability": ("dropout",),
    "z": ("alie",),
    "epsilon": ("ipm",),
}
"""Which behaviours take each behaviour parameter (see ``docs/attacks.md``)."""

MODES: dict[str, tuple[str, ...]] = {
    "gaussian_noise": ("replace", "add"),
    "free_rider": ("unchanged", "zeros"),
}
"""The values ``mode`` takes per behaviour; the first is the default."""


class HospitalGroup(Section):
    """A number of hospitals that share a behaviour and a resource share.

    The group's size is ``count`` hospitals, or ``fraction`` of the scenario's
    ``total_hospitals`` (rounded to the nearest whole hospital); a group that
    gives neither takes the hospitals the others leave. The behaviours and
    their parameters are described in ``docs/attacks.md``; a parameter given
    to a behaviour that does not take it is an error unless it is at its
    default. ``active_rounds = [first, last]`` limits the behaviour to those
    rounds (inclusive); outside them the hospital is honest.
    """

    count: Annotated[int, Field(ge=0, le=100_000)] = 1
    fraction: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    behaviour: Behaviour = "honest"
    active_rounds: (
        Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)]
        | None
    ) = None
    scale: Annotated[float, Field(gt=0.0, le=1e6)] = 1.0
    std: Annotated[float, Field(gt=0.0, le=1e6)] = 1.0
    mode: Literal["replace", "add", "unchanged", "zeros"] | None = None
    noise_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 0.3
    probability: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    z: Annotated[float, Field(gt=0.0, le=1e6)] | None = None
    epsilon: Annotated[float, Field(gt=0.0, le=1e6)] = 0.1
    # Ray resolves resource shares to 1/10,000 of a unit.
    num_cpus: Annotated[float, Field(ge=0.0001, le=1024)] = 1.0
    num_gpus: Annotated[float, Field(ge=0.0, le=64)] = 0.0

    @model_validator(mode="after")
    def _check_behaviour_fields(self) -> HospitalGroup:
        # Default values are allowed everywhere, so a resolved scenario (which
        # spells out every field) loads again unchanged.
        defaults = HospitalGroup.model_construct()
        for name, owners in BEHAVIOUR_PARAMETERS.items():
            if getattr(self, name) != getattr(defaults, name) and (
                self.behaviour not in owners
            ):
                allowed = " and ".join(repr(owner) for owner in owners)
                raise ValueError(
                    f"'{name}' applies only to behaviour {allowed}, "
                    f"not {self.behaviour!r}"
                )
        if self.mode is not None and self.mode not in MODES[self.behaviour]:
            choices = ", ".join(repr(mode) for mode in MODES[self.behaviour])
            raise ValueError(
                f"'mode' of behaviour {self.behaviour!r} must be one of {choices}; "
                f"found {self.mode!r}"
            )
        if self.count == 0 and self.fraction is None:
            raise ValueError(
                "'count' must be at least 1; a group of no hospitals is allowed only "
                "as a 'fraction' of total_hospitals"
            )
        if 0 < self.num_gpus < 0.0001:
            raise ValueError(
                "'num_gpus' must be 0 or at least 0.0001 (Ray's resource precision); "
                f"found {self.num_gpus}"
            )
        if (
            self.active_rounds is not None
            and self.active_rounds[0] > self.active_rounds[1]
        ):
            first, last = self.active_rounds
            raise ValueError(
                f"'active_rounds' must be [first, last] with first <= last; "
                f"found [{first}, {last}]"
            )
        return self

    @property
    def behaviour_mode(self) -> str | None:
        """``mode``, or the behaviour's default mode (None if it takes none)."""
        if self.mode is not None:
            return self.mode
        modes = MODES.get(self.behaviour)
        return modes[0] if modes else None
