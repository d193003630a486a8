"""The ``[sampling]`` table: which hospitals take part in each round.

It is the one place a scenario chooses per-round participants, with or
without differential privacy; the privacy accountant reads the same table.
Scenarios written before it existed set ``[privacy] sampling`` and
``sampling_fraction``; :func:`move_privacy_sampling` moves those into
``[sampling]`` and refuses a scenario that sets both places differently.
"""

from __future__ import annotations

import functools
import logging
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from medfed_ray.sampling import fixed_sample_size
from medfed_ray.scenario.section import Section

logger = logging.getLogger(__name__)


class SamplingConfig(Section):
    """Which hospitals train in a round: all, a Poisson sample, or a fixed-size sample.

    ``poisson`` takes each hospital independently with probability
    ``fraction``; ``fixed`` takes ``clients_per_round`` hospitals, or
    ``fraction x hospitals`` rounded half up (at least one), without replacement.
    """

    mode: Literal["all", "poisson", "fixed"] = "all"
    fraction: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    clients_per_round: Annotated[int, Field(ge=1, le=1_000_000)] | None = None

    @model_validator(mode="after")
    def _check_mode_fields(self) -> SamplingConfig:
        given = self.fraction is not None, self.clients_per_round is not None
        if self.mode == "all" and any(given):
            raise ValueError(
                "'fraction' and 'clients_per_round' apply only to mode 'poisson' or "
                "'fixed'; mode 'all' takes every hospital in every round"
            )
        if self.mode == "poisson":
            if self.clients_per_round is not None:
                raise ValueError(
                    "'clients_per_round' applies only to mode 'fixed'; mode 'poisson' "
                    "takes each hospital with probability 'fraction', so the count "
                    "varies from round to round"
                )
            if self.fraction is None:
                raise ValueError(
                    "mode 'poisson' needs 'fraction', each hospital's chance of taking "
                    "part in a round (0 < fraction <= 1)"
                )
        if self.mode == "fixed" and given.count(True) != 1:
            raise ValueError(
                "mode 'fixed' needs exactly one of 'fraction' (m = round(fraction x "
                "hospitals)) and 'clients_per_round' (m itself)"
            )
        return self

    def sample_size(self, num_hospitals: int) -> int | None:
        """``m`` of a ``fixed`` sample of ``num_hospitals``; None for other modes."""
        if self.mode != "fixed":
            return None
        if self.clients_per_round is not None:
            return self.clients_per_round
        return fixed_sample_size(num_hospitals, self.fraction)


def sampling_problems(
    config: SamplingConfig,
    *,
    num_hospitals: int | None,
    min_hospitals: int | None,
    training: str | None,
) -> list[str]:
    """Problems of ``[sampling]`` with the rest of the scenario (``None``: unknown)."""
    problems = []
    if training == "local" and config.mode != "all":
        problems.append(
            f"mode {config.mode!r} needs training = 'federated'; local-only training "
            "trains every hospital in every round (use mode 'all')"
        )
    if num_hospitals is None:
        return problems
    if (
        config.clients_per_round is not None
        and config.clients_per_round > num_hospitals
    ):
        problems.append(
            f"clients_per_round = {config.clients_per_round} is more than the "
            f"{num_hospitals} hospitals of the scenario; allowed: 1 to {num_hospitals}"
        )
        return problems
    size = config.sample_size(num_hospitals)
    if size is not None and min_hospitals is not None and min_hospitals > size:
        chosen_by = (
            f"clients_per_round = {config.clients_per_round}"
            if config.clients_per_round is not None
            else f"fraction {config.fraction:g} of {num_hospitals}"
        )
        problems.append(
            f"min_hospitals = {min_hospitals} is more than the {size} hospitals "
            f"sampled per round (mode 'fixed', {chosen_by}); lower min_hospitals or "
            "sample more hospitals"
        )
    return problems


LEGACY_FIELDS = ("sampling", "sampling_fraction")
"""Fields of ``[privacy]`` that set hospital sampling before ``[sampling]`` existed."""


def move_privacy_sampling(data: Any) -> Any:
    """Return ``data`` with ``[privacy] sampling``/``sampling_fraction`` moved to ``[sampling]``.

    A resolved scenario of an earlier version spells out ``sampling = "all"``
    and ``sampling_fraction = 1.0``; those are dropped silently. Any other
    value is moved, with a warning naming the new spelling. Data that is not
    a scenario table is returned unchanged, so the field validators report it.

    Raises
    ------
    ValueError
        If ``[sampling]`` is also given and says something else.
    """
    if not isinstance(data, dict) or not isinstance(data.get("privacy"), dict):
        return data
    privacy = dict(data["privacy"])
    if not any(field in privacy for field in LEGACY_FIELDS):
        return data
    legacy_mode = privacy.pop("sampling", "all")
    legacy_fraction = privacy.pop("sampling_fraction", 1.0)
    if legacy_mode == "all" and legacy_fraction != 1.0:
        # The former spelling sampled only with sampling = "poisson"; a fraction
        # with mode 'all' (given, or the default) samples nobody out.
        raise ValueError(
            f"privacy.sampling_fraction = {legacy_fraction!r} has no effect with "
            f"privacy.sampling = {legacy_mode!r}"
            + ("" if "sampling" in data["privacy"] else " (its default)")
            + "; both are the former spelling of hospital sampling, which is now "
            "set in [sampling]. To sample a fraction of the hospitals per round, "
            f"write [sampling] mode = 'poisson', fraction = {legacy_fraction!r} and "
            "remove privacy.sampling and privacy.sampling_fraction"
        )
    moved = {"mode": legacy_mode}
    if not (legacy_mode == "all" and legacy_fraction == 1.0):
        moved["fraction"] = legacy_fraction
    data = {**data, "privacy": privacy}

    current = data.get("sampling")
    if current is None:
        if moved != {"mode": "all"}:
            warn_legacy_sampling(legacy_mode, legacy_fraction)
        return {**data, "sampling": moved}
    if isinstance(current, dict) and _same_sampling(moved, current):
        return data
    raise ValueError(
        f"privacy.sampling = {legacy_mode!r} and privacy.sampling_fraction = "
        f"{legacy_fraction!r} disagree with [sampling] {_describe(current)}; hospital "
        "sampling is set in [sampling] alone (mode 'all', 'poisson' or 'fixed', with "
        "fraction or clients_per_round), and privacy amplification uses it. Remove "
        "privacy.sampling and privacy.sampling_fraction"
    )


def _same_sampling(moved: dict, current: dict) -> bool:
    """Whether the moved legacy fields choose what ``current`` chooses."""
    if current.get("mode", "all") != moved["mode"]:
        return False
    if moved["mode"] == "all":
        return set(current) <= {"mode"}
    return (
        current.get("fraction") == moved["fraction"]
        and "clients_per_round" not in current
    )


def _describe(current: Any) -> str:
    if not isinstance(current, dict):
        return repr(current)
    return ", ".join(f"{key} = {value!r}" for key, value in current.items()) or "{}"


@functools.cache
def warn_legacy_sampling(mode: str, fraction: object) -> None:
    """Say once per setting that ``[privacy] sampling`` has moved, and how to write it now."""
    logger.warning(
        "[privacy] sampling = %r, sampling_fraction = %r is the former spelling of "
        "hospital sampling; it is read as [sampling] mode = %r, fraction = %r. Write "
        "that table instead (and drop the two [privacy] fields) to silence this",
        mode,
        fraction,
        mode,
        fraction,
    )
