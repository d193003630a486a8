"""``medfed validate``: check a scenario file without starting Ray."""

from __future__ import annotations

import typer

from medfed_ray.cli.common import (
    OverridesOption,
    ScenarioArgument,
    resolve_scenario_path,
    user_errors,
)
from medfed_ray.cli.run import describe_rule, plural


def validate_command(
    scenario_file: ScenarioArgument = None,
    overrides: OverridesOption = None,
) -> None:
    """Check a scenario and list every problem at once (exit code 2 if any)."""
    from medfed_ray.scenario.checks import check_feasible
    from medfed_ray.scenario.loading import load_scenario

    with user_errors():
        path = resolve_scenario_path(scenario_file)
        scenario, _ = load_scenario(path, overrides or [])
        check_feasible(scenario, str(path))
    rule = describe_rule(scenario)
    typer.echo(
        f"{path}: valid ({plural(scenario.num_hospitals, 'hospital')}, "
        f"{plural(scenario.rounds, 'round')}, {scenario.training} training, {rule})"
    )
