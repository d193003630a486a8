"""A thin ledger over ``dp-accounting``: counts events and asks the library for epsilon.

The accountants are Google's: Renyi DP (``RdpAccountant``; Mironov, "Renyi
Differential Privacy", CSF 2017, with the sampled Gaussian of Mironov, Talwar
and Zhang, 2019) and privacy loss distributions (``PLDAccountant``; Koskela,
Jalko and Honkela, AISTATS 2020; Doroshenko et al., PETS 2022). The ledger
keeps only how many times each event happened; epsilon is recomputed by a
fresh accountant from ``SelfComposedDpEvent`` s, so the ledger can be rebuilt
from those counts and its numbers equal the library's for the same events.
"""

from __future__ import annotations

import functools
from collections import Counter

import dp_accounting
from dp_accounting import pld, rdp

ACCOUNTANTS = ("rdp", "pld")


def make_accountant(
    name: str, relation: dp_accounting.NeighboringRelation
) -> dp_accounting.PrivacyAccountant:
    """A fresh ``dp-accounting`` accountant of kind ``name`` (``rdp`` or ``pld``)."""
    if name == "rdp":
        return rdp.RdpAccountant(neighboring_relation=relation)
    if name == "pld":
        return pld.PLDAccountant(neighboring_relation=relation)
    raise ValueError(
        f"accountant must be one of {', '.join(ACCOUNTANTS)}; found {name!r}"
    )


class PrivacyLedger:
    """The events one guarantee has spent, and its epsilon at ``delta``."""

    def __init__(
        self,
        accountant: str,
        delta: float,
        relation: dp_accounting.NeighboringRelation = (
            dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE
        ),
    ):
        self.accountant = accountant
        self.delta = delta
        self.relation = relation
        self.counts: Counter[dp_accounting.DpEvent] = Counter()

    def record(self, event: dp_accounting.DpEvent, count: int = 1) -> None:
        """Add ``count`` occurrences of ``event``."""
        if count > 0:
            self.counts[event] += count

    def epsilon(self) -> float:
        """Epsilon at ``delta`` of everything recorded (0 for nothing)."""
        return self._epsilon_of(self.counts)

    def epsilon_if(self, event: dp_accounting.DpEvent, count: int = 1) -> float:
        """Epsilon at ``delta`` if ``event`` happened ``count`` more times."""
        return self._epsilon_of(self.counts + Counter({event: count}))

    def composed_event(self, counts: Counter | None = None) -> dp_accounting.DpEvent:
        """The whole ledger as one ``dp-accounting`` event."""
        counts = self.counts if counts is None else counts
        return dp_accounting.ComposedDpEvent(
            [dp_accounting.SelfComposedDpEvent(event, n) for event, n in counts.items()]
        )

    def _epsilon_of(self, counts: Counter) -> float:
        if not counts:
            return 0.0
        return composed_epsilon(
            self.accountant, self.relation, self.delta, frozenset(counts.items())
        )


@functools.lru_cache(maxsize=4096)
def composed_epsilon(
    accountant: str,
    relation: dp_accounting.NeighboringRelation,
    delta: float,
    counts: frozenset,
) -> float:
    """Epsilon at ``delta`` of ``(event, count)`` pairs composed by a fresh accountant.

    Cached: in local mode and DP-SGD many hospitals hold the same ledger, and
    a PLD composition takes about a second.
    """
    fresh = make_accountant(accountant, relation)
    fresh.compose(
        dp_accounting.ComposedDpEvent(
            [dp_accounting.SelfComposedDpEvent(event, n) for event, n in counts]
        )
    )
    return float(fresh.get_epsilon(delta))
