"""Scenario files: their schema, loading, overrides and validation."""

from medfed_ray.scenario.loading import load_scenario, validate_scenario
from medfed_ray.scenario.schema import Scenario

__all__ = ["Scenario", "load_scenario", "validate_scenario"]
