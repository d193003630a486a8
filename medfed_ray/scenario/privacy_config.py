"""The ``[privacy]`` table: client- and sample-level differential privacy and its budget."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    model_validator,
)

from medfed_ray.scenario.section import Section


class DpSgdConfig(Section):
    """Sample-level DP-SGD inside every hospital (Abadi et al., CCS 2016, Algorithm 1)."""

    enabled: bool = False
    l2_norm_clip: Annotated[float, Field(gt=0.0, le=1e6)] = 1.0
    noise_multiplier: Annotated[float, Field(gt=0.0, le=1e6)] = 1.0

    @model_validator(mode="after")
    def _check_enabled(self) -> DpSgdConfig:
        if not self.enabled and (
            self.l2_norm_clip != 1.0 or self.noise_multiplier != 1.0
        ):
            raise ValueError(
                "'l2_norm_clip' and 'noise_multiplier' apply only when enabled = true"
            )
        return self


class PrivacyConfig(Section):
    """Differential privacy of a run and its budget; see ``docs/privacy.md``.

    ``mode`` adds client-level DP: every update is clipped to ``clip_norm`` and
    Gaussian noise of standard deviation ``noise_multiplier * clip_norm`` is
    added by each hospital (``local``) or once by the coordinator to the sum
    (``central``, DP-FedAvg). ``dp_sgd`` adds sample-level DP inside hospitals.
    Which hospitals take part in a round is the scenario's ``[sampling]``
    table; central mode's accountant counts its amplification.
    """

    mode: Literal["off", "local", "central"] = "off"
    clip_norm: Annotated[float, Field(gt=0.0, le=1e6)] = 1.0
    noise_multiplier: Annotated[float, Field(gt=0.0, le=1e6)] = 1.0
    delta: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-5
    max_epsilon: Annotated[float, Field(gt=0.0, le=1e6)] | None = None
    accountant: Literal["rdp", "pld"] = "rdp"
    secure_noise: bool = False
    dp_sgd: DpSgdConfig = DpSgdConfig()

    @model_validator(mode="after")
    def _check_privacy_fields(self) -> PrivacyConfig:
        from medfed_ray.privacy.validation import config_problems

        problems = config_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def enabled(self) -> bool:
        """Whether any private mechanism is on."""
        return self.mode != "off" or self.dp_sgd.enabled
