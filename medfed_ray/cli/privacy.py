"""``medfed privacy``: plan the noise of a private run before running it."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from medfed_ray.cli.common import EXIT_USAGE, console

privacy_app = typer.Typer(
    name="privacy",
    help="Plan differential privacy: noise multipliers and budgets.",
    no_args_is_help=True,
)

EPSILON_HELP = "Target epsilon after all rounds."
DELTA_HELP = "Target delta (below 1 / number of hospitals, or of examples)."
ROUNDS_HELP = "Rounds of training (in local mode: rounds one hospital takes part in)."
RATE_HELP = "Sampling fraction q of hospitals per round (1 takes every hospital)."
SAMPLING_HELP = "How hospitals are sampled: poisson, fixed (m = round(q N)) or all."
HOSPITALS_HELP = "Number of hospitals N (needed for fixed-size sampling)."
MODE_HELP = (
    "central (DP-FedAvg, trusted coordinator) or local (noise at each hospital)."
)
AGGREGATOR_HELP = (
    "The scenario's aggregator: robust rules halve the effective multiplier."
)
ACCOUNTANT_HELP = "rdp (fast) or pld (tighter, slower; not with fixed sampling)."


@privacy_app.command("plan")
def plan_command(
    epsilon: Annotated[float, typer.Option("--epsilon", "-e", help=EPSILON_HELP)],
    rounds: Annotated[int, typer.Option("--rounds", "-r", help=ROUNDS_HELP)],
    delta: Annotated[float, typer.Option("--delta", "-d", help=DELTA_HELP)] = 1e-5,
    sampling_fraction: Annotated[
        float, typer.Option("--sampling-fraction", "-q", help=RATE_HELP)
    ] = 1.0,
    sampling: Annotated[
        Literal["poisson", "fixed", "all"], typer.Option(help=SAMPLING_HELP)
    ] = "poisson",
    hospitals: Annotated[
        int, typer.Option("--hospitals", "-n", help=HOSPITALS_HELP)
    ] = 1,
    mode: Annotated[
        Literal["central", "local"], typer.Option(help=MODE_HELP)
    ] = "central",
    aggregator: Annotated[str, typer.Option(help=AGGREGATOR_HELP)] = "fedavg",
    accountant: Annotated[
        Literal["rdp", "pld"], typer.Option(help=ACCOUNTANT_HELP)
    ] = "rdp",
) -> None:
    """Find the smallest noise multiplier that keeps a run within (epsilon, delta)."""
    from medfed_ray.privacy.central import central_rule_problem
    from medfed_ray.privacy.plan import plan_noise_multiplier

    problems = []
    if not 0 < sampling_fraction <= 1:
        problems.append(
            f"--sampling-fraction must be in (0, 1]; found {sampling_fraction:g}"
        )
    if hospitals < 1:
        problems.append(f"--hospitals must be >= 1; found {hospitals}")
    if sampling == "fixed" and accountant == "pld" and mode == "central":
        problems.append("--accountant pld does not support --sampling fixed; use rdp")
    if mode == "central" and central_rule_problem(aggregator):
        problems.append(central_rule_problem(aggregator))
    if sampling == "all" and sampling_fraction != 1.0:
        problems.append("--sampling all takes every hospital; drop --sampling-fraction")
    if problems:
        for problem in problems:
            typer.echo(f"Error: {problem}", err=True)
        raise typer.Exit(EXIT_USAGE)

    try:
        plan = plan_noise_multiplier(
            epsilon,
            delta,
            rounds,
            mode=mode,
            sampling=sampling,
            sampling_fraction=sampling_fraction,
            num_hospitals=hospitals,
            aggregator=aggregator,
            accountant=accountant,
        )
    except ValueError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None

    console.print(
        f"noise_multiplier = {plan.noise_multiplier:.4f} gives epsilon = "
        f"{plan.epsilon:.4f} at delta = {plan.delta:g} after {plan.rounds} rounds "
        f"(mode {plan.mode}, sampling {plan.sampling}, q = {plan.sampling_fraction:g}, "
        f"aggregator {plan.aggregator}, accountant {plan.accountant})",
        highlight=False,
    )
    lines = ["", "[sampling]", f'mode = "{plan.sampling}"']
    if plan.sampling != "all":
        lines.append(f"fraction = {plan.sampling_fraction:g}")
    lines += [
        "",
        "[privacy]",
        f'mode = "{plan.mode}"',
        f"noise_multiplier = {plan.noise_multiplier:.4f}",
        f"delta = {plan.delta:g}",
        f"max_epsilon = {epsilon:g}",
        f'accountant = "{plan.accountant}"',
    ]
    console.print("\n".join(lines), highlight=False, markup=False)
