"""Hospital groups sized by ``fraction`` of ``total_hospitals``, resolved to counts.

A sweep over the attacker share (``hospitals[1].fraction = [0.0, 0.25]``)
must keep the federation's size fixed while the share changes, so a group
may be given as a fraction; a group with neither ``count`` nor ``fraction``
takes the hospitals left over. This runs on the raw scenario data, before
the fields are validated, and writes each group's ``count``.
"""

from __future__ import annotations

import math
from typing import Any


def resolve_group_sizes(data: Any) -> Any:
    """Return ``data`` with the ``count`` of fraction-sized and rest groups filled in.

    Data that is not a scenario table, or that uses no ``fraction`` and no
    ``total_hospitals``, is returned unchanged, so every type problem is left
    to the field validators to report.

    Raises
    ------
    ValueError
        If fractions are used without ``total_hospitals``, more than one group
        leaves its size open, a group's ``count`` disagrees with its
        ``fraction``, or the groups do not add up to ``total_hospitals``.
    """
    if not isinstance(data, dict) or not isinstance(data.get("hospitals"), list):
        return data
    groups = data["hospitals"]
    if not all(isinstance(group, dict) for group in groups):
        return data
    total = data.get("total_hospitals")
    sized_by_fraction = [
        index for index, group in enumerate(groups) if "fraction" in group
    ]
    if total is None:
        if sized_by_fraction:
            first = sized_by_fraction[0]
            raise ValueError(
                f"hospitals[{first}].fraction needs total_hospitals, the number of "
                "hospitals it is a fraction of"
            )
        return data
    if not _is_count(total) or not all(
        _is_fraction(groups[index]["fraction"]) for index in sized_by_fraction
    ):
        return data

    groups = [dict(group) for group in groups]
    for index in sized_by_fraction:
        group = groups[index]
        # Round half up, so 0.25 of 10 is 3 attackers rather than banker's 2.
        count = math.floor(group["fraction"] * total + 0.5)
        if "count" in group and group["count"] != count:
            raise ValueError(
                f"hospitals[{index}] gives count = {group['count']!r} and fraction = "
                f"{group['fraction']} of total_hospitals = {total} ({count} "
                "hospitals); give one of them"
            )
        group["count"] = count

    open_groups = [
        index
        for index, group in enumerate(groups)
        if "count" not in group and "fraction" not in group
    ]
    if len(open_groups) > 1:
        raise ValueError(
            f"hospitals{open_groups} give neither count nor fraction; with "
            "total_hospitals at most one group may take the hospitals left over"
        )
    given = sum(group["count"] for group in groups if _is_count(group.get("count")))
    if open_groups:
        rest = total - given
        if rest < 0:
            raise ValueError(
                f"the sized hospital groups already hold {given} hospitals, more "
                f"than total_hospitals = {total}"
            )
        groups[open_groups[0]]["count"] = rest
        groups[open_groups[0]].setdefault("fraction", rest / total)
    elif given != total:
        raise ValueError(
            f"the hospital groups add up to {given} hospitals but total_hospitals "
            f"= {total}"
        )
    return {**data, "hospitals": groups}


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_fraction(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 0.0 <= value <= 1.0
    )
