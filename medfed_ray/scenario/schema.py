"""The scenario: every setting of one simulation, validated as data.

A scenario file is TOML; this module declares its fields, their types and
allowed ranges. Unknown keys are errors, so a misspelt field never silently
falls back to a default.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from medfed_ray.aggregators import AGGREGATORS


class Section(BaseModel):
    """A scenario table: frozen, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]
Count = Annotated[int, Field(ge=1)]


class DatasetConfig(Section):
    """Which data the hospitals hold and how much of it is the global test set."""

    name: Literal["breast_cancer", "digits"] = "breast_cancer"
    test_fraction: Fraction = 0.2
    standardize: bool = True


class PartitionConfig(Section):
    """How the training samples are spread over hospitals."""

    name: Literal["iid", "dirichlet"] = "dirichlet"
    alpha: Annotated[float, Field(gt=0.0, le=1e6)] = 0.5
    min_samples: Count = 10


class ModelConfig(Section):
    """The Keras model every hospital trains."""

    name: Literal["mlp"] = "mlp"
    hidden_units: Annotated[list[Count], Field(max_length=16)] = [32, 16]


class LocalTrainingConfig(Section):
    """Training each hospital does on its own shard in one round."""

    epochs: Annotated[int, Field(ge=1, le=10_000)] = 1
    batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = 32
    optimizer: Literal["sgd", "adam"] = "sgd"
    learning_rate: Annotated[float, Field(gt=0.0, le=10.0)] = 0.05
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0


class AggregatorConfig(Section):
    """The rule that combines hospital updates, and the server's step."""

    name: str = "fedavg"
    params: dict[str, int | float | bool] = {}
    server_learning_rate: Annotated[float, Field(gt=0.0, le=100.0)] = 1.0


class EvaluationConfig(Section):
    """When the global model is scored on the global test set."""

    every: Count = 1


Behaviour = Literal["honest", "sign_flip", "gaussian_noise"]


class HospitalGroup(Section):
    """A number of hospitals that share a behaviour and a resource share.

    ``scale`` applies to ``sign_flip`` (the hospital sends ``-scale`` times its
    honest update) and ``std`` to ``gaussian_noise`` (the hospital sends noise
    of that standard deviation instead of an update).
    """

    count: Annotated[int, Field(ge=1, le=100_000)] = 1
    behaviour: Behaviour = "honest"
    scale: Annotated[float, Field(gt=0.0, le=1e6)] = 1.0
    std: Annotated[float, Field(gt=0.0, le=1e6)] = 1.0
    num_cpus: Annotated[float, Field(gt=0.0, le=1024)] = 1.0
    num_gpus: Annotated[float, Field(ge=0.0, le=64)] = 0.0

    @model_validator(mode="after")
    def _check_behaviour_fields(self) -> HospitalGroup:
        # Default values are allowed everywhere, so a resolved scenario (which
        # spells out every field) loads again unchanged.
        if self.scale != 1.0 and self.behaviour != "sign_flip":
            raise ValueError(
                f"'scale' applies only to behaviour 'sign_flip', not {self.behaviour!r}"
            )
        if self.std != 1.0 and self.behaviour != "gaussian_noise":
            raise ValueError(
                f"'std' applies only to behaviour 'gaussian_noise', "
                f"not {self.behaviour!r}"
            )
        return self


class Scenario(Section):
    """One simulation: data, partition, model, hospitals, rounds and aggregation."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    rounds: Annotated[int, Field(ge=1, le=1_000_000)] = 20
    training: Literal["federated", "local"] = "federated"
    round_timeout_s: Annotated[float, Field(gt=0.0, le=86_400.0)] = 300.0
    min_hospitals: Count = 1
    dataset: DatasetConfig = DatasetConfig()
    partition: PartitionConfig = PartitionConfig()
    model: ModelConfig = ModelConfig()
    local: LocalTrainingConfig = LocalTrainingConfig()
    aggregator: AggregatorConfig = AggregatorConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    hospitals: Annotated[list[HospitalGroup], Field(min_length=1, max_length=1000)]

    @property
    def num_hospitals(self) -> int:
        """The total number of hospitals over all groups."""
        return sum(group.count for group in self.hospitals)

    def hospital_groups(self) -> list[int]:
        """Return, for each hospital id in order, the index of its group."""
        return [
            index
            for index, group in enumerate(self.hospitals)
            for _ in range(group.count)
        ]


def known_aggregators() -> list[str]:
    """Names a scenario's ``aggregator.name`` may take."""
    return sorted(AGGREGATORS)
