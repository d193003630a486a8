"""The scenario: every setting of one simulation, validated as data.

A scenario file is TOML; this module declares its fields, their types and
allowed ranges. Unknown keys are errors, so a misspelt field never silently
falls back to a default.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from medfed_ray.aggregators import AGGREGATORS
from medfed_ray.scenario.hospital_group import HospitalGroup
from medfed_ray.scenario.privacy_config import PrivacyConfig
from medfed_ray.scenario.sampling_config import SamplingConfig
from medfed_ray.scenario.section import Count, Fraction, Section

DatasetName = Literal[
    "breast_cancer", "digits", "medmnist", "npz", "parquet", "synthetic"
]
FILE_DATASETS = ("medmnist", "npz", "parquet")
"""Datasets read from files the user gives (``path`` or ``files``)."""
MEDMNIST_SIZES = (28, 64, 128, 224)


class DatasetConfig(Section):
    """Which data the hospitals hold and how much of it is the global test set.

    Fields that belong to one source (``label_column`` to ``parquet``, the
    ``synthetic_*`` fields to ``synthetic``, ...) may be left at their
    defaults with any other source, so a resolved scenario loads unchanged.
    """

    name: DatasetName = "breast_cancer"
    path: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    files: (
        Annotated[list[Annotated[str, Field(min_length=1)]], Field(max_length=100_000)]
        | None
    ) = None
    flavour: Annotated[str, Field(pattern=r"^[a-z0-9]{1,32}$")] | None = None
    size: Literal[28, 64, 128, 224] = 28
    test_fraction: Fraction = 0.2
    validation_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    standardize: bool = True
    max_train_samples: Annotated[int, Field(ge=1)] | None = None
    features_key: Annotated[str, Field(min_length=1)] = "x"
    labels_key: Annotated[str, Field(min_length=1)] = "y"
    test_features_key: Annotated[str, Field(min_length=1)] | None = None
    test_labels_key: Annotated[str, Field(min_length=1)] | None = None
    label_column: Annotated[str, Field(min_length=1)] = "label"
    image_column: Annotated[str, Field(min_length=1)] | None = None
    feature_columns: list[Annotated[str, Field(min_length=1)]] | None = None
    synthetic_samples: Annotated[int, Field(ge=2, le=100_000_000)] = 1000
    synthetic_classes: Annotated[int, Field(ge=2, le=10_000)] = 2
    synthetic_shape: Annotated[list[Count], Field(min_length=1, max_length=4)] = [16]

    @model_validator(mode="after")
    def _check_source_fields(self) -> DatasetConfig:
        defaults = DatasetConfig.model_construct()
        owners = {
            "npz": (
                "features_key",
                "labels_key",
                "test_features_key",
                "test_labels_key",
            ),
            "parquet": ("label_column", "image_column", "feature_columns"),
            "synthetic": ("synthetic_samples", "synthetic_classes", "synthetic_shape"),
            "medmnist": ("flavour", "size"),
        }
        for owner, fields in owners.items():
            for field in fields:
                if owner != self.name and getattr(self, field) != getattr(
                    defaults, field
                ):
                    raise ValueError(
                        f"'{field}' applies only to dataset {owner!r}, not {self.name!r}"
                    )

        has_file = self.path is not None or self.files is not None
        if self.name not in FILE_DATASETS and has_file:
            raise ValueError(
                f"'path' and 'files' apply only to datasets read from files "
                f"({', '.join(FILE_DATASETS)}), not {self.name!r}"
            )
        if self.path is not None and self.files is not None:
            raise ValueError("give either 'path' or 'files', not both")
        if self.name in FILE_DATASETS and not has_file:
            if not (self.name == "medmnist" and self.flavour is not None):
                hint = (
                    ", or 'flavour' (e.g. \"pneumoniamnist\") to use a file fetched "
                    "with `medfed data fetch`"
                    if self.name == "medmnist"
                    else ""
                )
                raise ValueError(
                    f"dataset {self.name!r} needs 'path' (one file) or 'files' "
                    f"(one file per hospital){hint}"
                )
        if self.image_column is not None and self.feature_columns is not None:
            raise ValueError(
                "give either 'image_column' or 'feature_columns', not both"
            )
        if (self.test_features_key is None) != (self.test_labels_key is None):
            raise ValueError(
                "'test_features_key' and 'test_labels_key' go together: give both or "
                "neither"
            )
        return self


PartitionName = Literal["iid", "dirichlet", "shards", "quantity", "by_file"]


class PartitionConfig(Section):
    """How the training samples are spread over hospitals.

    ``alpha`` applies to ``dirichlet``, ``classes_per_hospital`` to
    ``shards``, and ``distribution``/``sigma``/``exponent`` to ``quantity``.
    """

    name: PartitionName = "dirichlet"
    alpha: Annotated[float, Field(gt=0.0, le=1e6)] = 0.5
    min_samples: Count = 10
    classes_per_hospital: Annotated[int, Field(ge=1, le=10_000)] = 2
    distribution: Literal["lognormal", "powerlaw"] = "lognormal"
    sigma: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0
    exponent: Annotated[float, Field(gt=0.0, le=10.0)] = 1.5

    @model_validator(mode="after")
    def _check_partition_fields(self) -> PartitionConfig:
        owners = {
            "classes_per_hospital": ("shards", 2),
            "distribution": ("quantity", "lognormal"),
            "sigma": ("quantity", 1.0),
            "exponent": ("quantity", 1.5),
        }
        for field, (owner, default) in owners.items():
            if getattr(self, field) != default and self.name != owner:
                raise ValueError(
                    f"'{field}' applies only to partition {owner!r}, not {self.name!r}"
                )
        if self.sigma != 1.0 and self.distribution != "lognormal":
            raise ValueError("'sigma' applies only to distribution 'lognormal'")
        if self.exponent != 1.5 and self.distribution != "powerlaw":
            raise ValueError("'exponent' applies only to distribution 'powerlaw'")
        return self


class ModelConfig(Section):
    """The Keras model every hospital trains.

    ``mlp`` flattens its input into ``hidden_units`` dense layers; ``cnn``
    puts ``conv_filters`` convolution blocks (3x3 convolution, ReLU, 2x2 max
    pooling) in front of them and needs image input.
    """

    name: Literal["mlp", "cnn"] = "mlp"
    hidden_units: Annotated[
        list[Annotated[int, Field(ge=1, le=65_536)]], Field(max_length=16)
    ] = [32, 16]
    conv_filters: Annotated[
        list[Annotated[int, Field(ge=1, le=4096)]], Field(min_length=1, max_length=8)
    ] = [16, 32]
    kernel_size: Annotated[int, Field(ge=1, le=15)] = 3

    @model_validator(mode="after")
    def _check_model_fields(self) -> ModelConfig:
        if self.name != "cnn" and (
            self.conv_filters != [16, 32] or self.kernel_size != 3
        ):
            raise ValueError(
                f"'conv_filters' and 'kernel_size' apply only to model 'cnn', "
                f"not {self.name!r}"
            )
        return self


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
    server_momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    """Momentum of the server step (FedAvgM, Hsu et al., 2019); 0 is a plain step."""
    max_norm: Annotated[float, Field(gt=0.0, le=1e12)] | None = None
    """Norm bounding before the rule (Sun et al., 2019): rows longer are scaled
    down to this L2 norm. Composes with every rule; off when absent."""


class EvaluationConfig(Section):
    """When the global model is scored on the global test set."""

    every: Count = 1


SweepValue = str | int | float | bool | dict[str, object]
"""One value of a sweep axis; a table replaces the whole field it names."""


class Scenario(Section):
    """One simulation: data, partition, model, hospitals, rounds and aggregation."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    rounds: Annotated[int, Field(ge=1, le=1_000_000)] = 20
    training: Literal["federated", "local"] = "federated"
    round_timeout_s: Annotated[float, Field(gt=0.0, le=86_400.0)] = 300.0
    min_hospitals: Count = 1
    on_quorum_failure: Literal["stop", "retry"] = "stop"
    max_round_retries: Annotated[int, Field(ge=0, le=1000)] = 2
    checkpoint_every: Annotated[int, Field(ge=0, le=1_000_000)] = 10
    hospitals_per_actor: Annotated[int, Field(ge=0, le=100_000)] = 0
    total_hospitals: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    """The number of hospitals that groups sized by ``fraction`` are a fraction of."""
    dataset: DatasetConfig = DatasetConfig()
    partition: PartitionConfig = PartitionConfig()
    model: ModelConfig = ModelConfig()
    local: LocalTrainingConfig = LocalTrainingConfig()
    aggregator: AggregatorConfig = AggregatorConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    hospitals: Annotated[list[HospitalGroup], Field(min_length=1, max_length=1000)]
    sampling: SamplingConfig = SamplingConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    sweep: (
        Annotated[
            dict[
                Annotated[str, Field(min_length=1, max_length=200)],
                Annotated[list[SweepValue], Field(min_length=1, max_length=1000)],
            ],
            Field(min_length=1, max_length=16),
        ]
        | None
    ) = None
    """Axes of a sweep: scenario field path -> values; see ``medfed_ray.sweep``."""

    @model_validator(mode="before")
    @classmethod
    def _size_groups(cls, data: object) -> object:
        from medfed_ray.scenario.group_sizes import resolve_group_sizes
        from medfed_ray.scenario.sampling_config import move_privacy_sampling

        return move_privacy_sampling(resolve_group_sizes(data))

    @field_validator("sampling")
    @classmethod
    def _check_sampling_with_scenario(
        cls, sampling: SamplingConfig, info: ValidationInfo
    ) -> SamplingConfig:
        # Declared after the fields it reads, so they are in info.data when valid.
        from medfed_ray.scenario.sampling_config import sampling_problems

        data = info.data
        problems = sampling_problems(
            sampling,
            num_hospitals=_total_count(data.get("hospitals")),
            min_hospitals=data.get("min_hospitals"),
            training=data.get("training"),
        )
        if problems:
            raise ValueError("; ".join(problems))
        return sampling

    @field_validator("privacy")
    @classmethod
    def _check_privacy_with_scenario(
        cls, privacy: PrivacyConfig, info: ValidationInfo
    ) -> PrivacyConfig:
        # Declared after the fields it reads, so they are in info.data when valid.
        from medfed_ray.privacy.validation import scenario_problems

        data = info.data
        hospitals = data.get("hospitals")
        aggregator = data.get("aggregator")
        problems = scenario_problems(
            privacy,
            sampling=data.get("sampling"),
            training=data.get("training"),
            aggregator=None if aggregator is None else aggregator.name,
            num_hospitals=_total_count(hospitals),
            min_hospitals=data.get("min_hospitals"),
        )
        if problems:
            raise ValueError("; ".join(problems))
        return privacy

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


def _total_count(hospitals: list[HospitalGroup] | None) -> int | None:
    """Hospitals over all groups, or None when the groups did not validate."""
    return None if hospitals is None else sum(group.count for group in hospitals)


def known_aggregators() -> list[str]:
    """Names a scenario's ``aggregator.name`` may take."""
    return sorted(AGGREGATORS)
