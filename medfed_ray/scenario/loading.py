"""Read a scenario file, apply ``--set`` overrides, and report every problem at once."""

from __future__ import annotations

import copy
import difflib
import inspect
import logging
import re
import tomllib
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from medfed_ray.aggregators import AGGREGATORS, get_param_checker
from medfed_ray.errors import Problem, ScenarioError
from medfed_ray.scenario.group_sizes import resolve_group_sizes
from medfed_ray.scenario.sampling_config import move_privacy_sampling
from medfed_ray.scenario.schema import Scenario

logger = logging.getLogger(__name__)


MAX_SCENARIO_BYTES = 1 << 20
"""Scenario files are small; anything larger is refused before it is read."""


def read_scenario_file(path: str | Path) -> dict[str, Any]:
    """Parse a TOML scenario file into plain data; raise ``ScenarioError`` if unreadable.

    Only regular files up to :data:`MAX_SCENARIO_BYTES` are read, so a device
    such as ``/dev/zero`` or a huge file cannot exhaust memory.
    """
    path = Path(path)

    def refuse(message: str) -> ScenarioError:
        return ScenarioError(str(path), [Problem("file", message, has_found=False)])

    try:
        if not path.exists():
            raise refuse("no such scenario file")
        if not path.is_file():
            raise refuse(
                "is not a regular file; give the path of a .toml scenario file"
            )
        size = path.stat().st_size
        if size > MAX_SCENARIO_BYTES:
            raise refuse(
                f"is {size} bytes; scenario files may be at most {MAX_SCENARIO_BYTES}"
            )
        text = path.read_bytes()[: MAX_SCENARIO_BYTES + 1]
    except OSError as error:
        raise refuse(f"cannot be read: {error.strerror}") from None

    try:
        return tomllib.loads(text.decode("utf-8"))
    except RecursionError:
        raise refuse("is nested too deeply to be a scenario") from None
    except UnicodeDecodeError as error:
        raise refuse(f"is not UTF-8 text (byte {error.start})") from None
    except tomllib.TOMLDecodeError as error:
        raise refuse(f"is not valid TOML: {error}") from None


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """Split ``"a.b[0].c=value"`` into a key path and a TOML-typed value.

    The value is read as a TOML value (``5`` is an integer, ``[8, 4]`` a list,
    ``true`` a boolean); anything TOML cannot read, such as ``median``, is
    taken as a plain string.
    """
    key, separator, raw = text.partition("=")
    key = key.strip()
    if not separator or not key:
        raise ValueError(f"--set expects KEY=VALUE, e.g. rounds=5; found {text!r}")

    path: list[str | int] = []
    for part in re.split(r"\.|\[", key.replace("]", "")):
        if not part:
            raise ValueError(f"--set key {key!r} has an empty part")
        path.append(int(part) if part.isdigit() else part)

    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return path, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``KEY=VALUE`` override applied in order."""
    data = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node: Any = data
        for depth, part in enumerate(path[:-1]):
            following = path[depth + 1]
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    where = ".".join(map(str, path[: depth + 1]))
                    raise ValueError(f"{text!r}: {where} does not exist")
                node = node[part]
            else:
                if not isinstance(node, dict):
                    where = ".".join(map(str, path[:depth]))
                    raise ValueError(f"{text!r}: {where} is not a table")
                node = node.setdefault(part, [] if isinstance(following, int) else {})
        last = path[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or last >= len(node):
                raise ValueError(f"{text!r}: index {last} does not exist")
        elif not isinstance(node, dict):
            raise ValueError(f"{text!r}: the parent of {last!r} is not a table")
        node[last] = value
    return data


def load_scenario(
    path: str | Path, overrides: list[str] | None = None
) -> tuple[Scenario, dict[str, Any]]:
    """Read, override and validate a scenario file.

    Returns the validated scenario and the resolved data it was built from.
    Raises ``ScenarioError`` listing every problem found.
    """
    data = read_scenario_file(path)
    data.setdefault("name", Path(path).stem)
    try:
        data = apply_overrides(data, overrides or [])
    except ValueError as error:
        raise ScenarioError(
            str(path), [Problem("--set", str(error), has_found=False)]
        ) from None
    except RecursionError:
        problem = Problem(
            "file", "is nested too deeply to be a scenario", has_found=False
        )
        raise ScenarioError(str(path), [problem]) from None

    try:
        return validate_scenario(data, source=str(path)), data
    except RecursionError:
        problem = Problem(
            "file", "is nested too deeply to be a scenario", has_found=False
        )
        raise ScenarioError(str(path), [problem]) from None


def validate_scenario(data: dict[str, Any], source: str = "scenario") -> Scenario:
    """Build a :class:`Scenario` from plain data, or raise listing every problem."""
    # Rewrites of the raw data before the fields are checked, each with the
    # field its problems are reported under.
    resolved = data
    for resolve, field in (
        (resolve_group_sizes, "hospitals"),
        (move_privacy_sampling, "sampling"),
    ):
        try:
            resolved = resolve(resolved)
        except ValueError as error:
            raise ScenarioError(
                source, [Problem(field, str(error), has_found=False)]
            ) from None
    try:
        scenario = Scenario.model_validate(resolved)
    except ValidationError as error:
        problems = [describe_pydantic_error(item) for item in error.errors()]
        problems += check_aggregator(data.get("aggregator", {}))
        raise ScenarioError(source, problems) from None

    problems = check_aggregator(scenario.aggregator.model_dump()) + check_hospitals(
        scenario
    )
    if not problems:
        problems = check_aggregator_values(scenario)
    if problems:
        raise ScenarioError(source, problems)
    if scenario.sweep is not None:
        # Every combination must be valid before any of them runs.
        from medfed_ray.sweep import expand_sweep

        expand_sweep(data, source)
    return scenario


def check_hospitals(scenario: Scenario) -> list[Problem]:
    """Cross-field checks on the hospital groups."""
    problems = []
    if scenario.num_hospitals == 0:
        problems.append(
            Problem("hospitals", "the groups hold no hospitals", has_found=False)
        )
    if scenario.min_hospitals > scenario.num_hospitals:
        problems.append(
            Problem(
                "min_hospitals",
                f"must be at most the number of hospitals ({scenario.num_hospitals})",
                scenario.min_hospitals,
            )
        )
    return problems


def check_aggregator(section: Any) -> list[Problem]:
    """Check that the aggregator exists and its parameters are ones it takes."""
    if not isinstance(section, dict):
        return []
    name = section.get("name", "fedavg")
    if not isinstance(name, str):
        return []
    if name not in AGGREGATORS:
        choices = ", ".join(sorted(AGGREGATORS))
        return [
            Problem(
                "aggregator.name",
                f"{suggest(name, AGGREGATORS)}must be one of: {choices}",
                name,
            )
        ]

    params = section.get("params", {})
    if not isinstance(params, dict):
        return []
    accepted = aggregator_parameters(name)
    problems = [
        Problem(
            f"aggregator.params.{key}",
            f"is not a parameter of {name}; {suggest(key, accepted)}"
            f"allowed: {', '.join(accepted) or 'none'}",
            params[key],
        )
        for key in params
        if key not in accepted
    ]
    return problems


MALICIOUS_BEHAVIOURS = (
    "sign_flip",
    "gaussian_noise",
    "nan_update",
    "label_flip",
    "label_noise",
    "scaling",
    "free_rider",
    "alie",
    "ipm",
)
"""Behaviours that send a harmful update (crash, hang and dropout send none)."""


def most_malicious(scenario: Scenario) -> int:
    """The most hospitals whose behaviour sends a harmful update in any one round.

    A group counts in the rounds of its ``active_rounds`` (all rounds without
    it). The count changes only where an active range starts, so checking
    round 1 and those starts finds the maximum.
    """
    spans = []
    for group in scenario.hospitals:
        if group.behaviour not in MALICIOUS_BEHAVIOURS or group.count == 0:
            continue
        first, last = group.active_rounds or (1, scenario.rounds)
        if first <= scenario.rounds:
            spans.append((first, min(last, scenario.rounds), group.count))
    starts = {1, *(first for first, _, _ in spans)}
    return max(
        sum(count for first, last, count in spans if first <= round_ <= last)
        for round_ in starts
    )


def check_aggregator_values(scenario: Scenario) -> list[Problem]:
    """Check the rule's parameter values and preconditions against the hospitals.

    Uses the rule's own checker, so the loader and the rule agree; the number
    of malicious hospitals is the most that send a harmful update in any one
    round (:func:`most_malicious`).
    """
    section = scenario.aggregator
    checker = get_param_checker(section.name)
    malicious = most_malicious(scenario)
    # A fixed sample gives the rule m updates a round, not every hospital's.
    sampled = scenario.sampling.sample_size(scenario.num_hospitals)
    per_round = scenario.num_hospitals if sampled is None else sampled
    messages = checker(per_round, malicious, **section.params)
    problems = [
        Problem("aggregator.params", message, has_found=False) for message in messages
    ]
    needed = 2 * malicious + 3
    if problems or section.name not in ("krum", "multi_krum"):
        return problems
    if scenario.sampling.mode == "poisson":
        # The rule's own num_malicious or the scenario's attackers, the larger.
        assumed = max(int(section.params.get("num_malicious", 0)), malicious)
        problems.append(
            Problem(
                "sampling.mode",
                f"{section.name} needs n >= 2f + 3 = {2 * assumed + 3} updates in "
                f"every round (f = {assumed}), but Poisson sampling may pick fewer "
                'hospitals; use sampling.mode = "fixed" with clients_per_round >= '
                f"{2 * assumed + 3}",
                has_found=False,
            )
        )
    elif per_round < needed:
        where = "hospitals" if sampled is None else "sampling"
        counted = "hospitals" if sampled is None else "hospitals sampled per round"
        problems.append(
            Problem(
                where,
                f"{section.name} needs n >= 2f + 3 {counted} for the f = {malicious} "
                f"that send harmful updates in one round, i.e. n >= {needed}; found "
                f"n={per_round}",
                has_found=False,
            )
        )
    return problems


def aggregator_parameters(name: str) -> list[str]:
    """The keyword parameters the rule ``name`` accepts, in signature order."""
    signature = inspect.signature(AGGREGATORS[name])
    skipped = {"updates", "num_examples"}
    return [
        parameter.name
        for parameter in signature.parameters.values()
        if parameter.name not in skipped
        and parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    ]


def suggest(word: str, choices: Any) -> str:
    """Return ``"did you mean 'x'? "`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def describe_pydantic_error(error: dict[str, Any]) -> Problem:
    """Turn one pydantic error into a :class:`Problem` with a readable field path."""
    location = error["loc"]
    path = format_path(location)
    kind = error["type"]

    if kind == "extra_forbidden":
        allowed = fields_at(location[:-1])
        hint = suggest(location[-1], allowed)
        message = f"unknown field; {hint}allowed: {', '.join(allowed)}"
        return Problem(path, message, has_found=False)
    if kind == "missing":
        return Problem(path, "is required", has_found=False)

    message = error["msg"].replace("Value error, ", "")
    message = message[0].lower() + message[1:] if message else message
    return Problem(path, message, error.get("input"))


def format_path(location: tuple[Any, ...]) -> str:
    """Render a pydantic location as ``hospitals[0].num_cpus``."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "scenario"


def fields_at(location: tuple[Any, ...]) -> list[str]:
    """The field names the scenario allows at ``location`` (a table's path)."""
    model: Any = Scenario
    for part in location:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(part)
        if field is None:
            return []
        model = field.annotation
        while typing.get_origin(model) in (list, typing.Annotated):
            model = typing.get_args(model)[0]
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []
