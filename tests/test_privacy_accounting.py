"""Epsilon comes from dp-accounting for the events docs/privacy.md names, and is enforced.

Every pinned number below was computed once with dp-accounting 0.6.0 from the
parameters written beside it, with ``accountant.compose(event)`` and
``accountant.get_epsilon(delta)``; the tests check both that our ledger asks
the library about exactly these events and that the library still agrees.
"""

from __future__ import annotations

import dp_accounting
import pytest
from dp_accounting import rdp

from medfed_ray.privacy.accountant import PrivacyLedger
from medfed_ray.privacy.events import client_round_event, dp_sgd_round_event
from medfed_ray.privacy.federation import FederationPrivacy
from medfed_ray.privacy.plan import plan_noise_multiplier
from medfed_ray.sampling import HospitalSampling
from medfed_ray.scenario import validate_scenario

DELTA = 1e-5
REPLACE_ONE = dp_accounting.NeighboringRelation.REPLACE_ONE


def library_epsilon(accountant, event, count, delta=DELTA) -> float:
    """dp-accounting's own epsilon for ``count`` rounds of ``event``."""
    accountant.compose(dp_accounting.SelfComposedDpEvent(event, count))
    return accountant.get_epsilon(delta)


def ledger_epsilon(event, count, accountant="rdp", relation=None) -> float:
    kwargs = {} if relation is None else {"relation": relation}
    ledger = PrivacyLedger(accountant, DELTA, **kwargs)
    for _ in range(count):
        ledger.record(event)
    return ledger.epsilon()


def test_central_poisson_rdp_equals_dp_accounting():
    # DP-FedAvg: q = 0.1, z = 1.0 (sensitivity C), 100 rounds, delta 1e-5, RDP:
    # PoissonSampledDpEvent(0.1, GaussianDpEvent(1.0)) composed 100 times.
    event = client_round_event(
        "central", HospitalSampling.resolve("poisson", 100, 0.1), 1.0
    )
    assert event == dp_accounting.PoissonSampledDpEvent(
        0.1, dp_accounting.GaussianDpEvent(1.0)
    )

    ours = ledger_epsilon(event, 100)

    assert ours == pytest.approx(7.903850223578231, rel=1e-9)
    assert ours == pytest.approx(
        library_epsilon(rdp.RdpAccountant(), event, 100), rel=1e-12
    )


def test_central_poisson_pld_equals_dp_accounting():
    # Same events with the PLD accountant (value discretisation 1e-4).
    event = client_round_event(
        "central", HospitalSampling.resolve("poisson", 100, 0.1), 1.0
    )

    ours = ledger_epsilon(event, 100, accountant="pld")

    assert ours == pytest.approx(7.04660287720805, rel=1e-9)


def test_local_mode_is_a_gaussian_with_half_the_multiplier_per_participation():
    # Local: one hospital's two possible clipped updates are up to 2 C apart, so
    # noise z C = 2 C is GaussianDpEvent(z / 2 = 1.0); 10 participations.
    event = client_round_event(
        "local", HospitalSampling.resolve("poisson", 10, 0.3), 2.0
    )
    assert event == dp_accounting.GaussianDpEvent(1.0)

    assert ledger_epsilon(event, 10) == pytest.approx(19.05359753163139, rel=1e-9)


def test_fixed_sampling_is_sampling_without_replacement_under_replace_one():
    # m = round(0.25 * 20) = 5 of 20, z = 1.0 -> GaussianDpEvent(0.5) (sensitivity
    # 2 C under replace-one), 10 rounds, RdpAccountant(REPLACE_ONE).
    event = client_round_event(
        "central", HospitalSampling.resolve("fixed", 20, 0.25), 1.0
    )
    assert event == dp_accounting.SampledWithoutReplacementDpEvent(
        20, 5, dp_accounting.GaussianDpEvent(0.5)
    )

    ours = ledger_epsilon(event, 10, relation=REPLACE_ONE)

    assert ours == pytest.approx(30.699572941883822, rel=1e-9)
    assert ours == pytest.approx(
        library_epsilon(rdp.RdpAccountant(neighboring_relation=REPLACE_ONE), event, 10),
        rel=1e-12,
    )


def test_central_noise_after_a_hull_rule_is_accounted_at_half_the_multiplier():
    # geometric_median, z = 2.0: sensitivity 2 C -> GaussianDpEvent(1.0); q = 0.5,
    # 5 rounds.
    event = client_round_event(
        "central", HospitalSampling.resolve("poisson", 10, 0.5), 2.0, "geometric_median"
    )
    assert event == dp_accounting.PoissonSampledDpEvent(
        0.5, dp_accounting.GaussianDpEvent(1.0)
    )

    assert ledger_epsilon(event, 5) == pytest.approx(8.230652498216635, rel=1e-9)


def test_dp_sgd_round_uses_the_hospitals_own_sampling_rate():
    # 114 examples, batch 16, 1 epoch: q = 16/114, ceil(114/16) = 8 steps per
    # round, sigma = 1.0; 3 rounds = 24 sampled Gaussian steps.
    event = dp_sgd_round_event(114, 16, 1, 1.0)
    assert event == dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(
            16 / 114, dp_accounting.GaussianDpEvent(1.0)
        ),
        8,
    )

    assert ledger_epsilon(event, 3) == pytest.approx(5.976978045018138, rel=1e-9)


def test_an_empty_ledger_has_spent_nothing():
    assert PrivacyLedger("rdp", DELTA).epsilon() == 0.0


def test_plan_finds_the_multiplier_that_spends_the_target():
    plan = plan_noise_multiplier(
        2.0, DELTA, 100, mode="central", sampling="poisson", sampling_fraction=0.1
    )

    # Brent's method to tol 1e-4 on the private side of epsilon = 2.
    assert plan.noise_multiplier == pytest.approx(2.4224, abs=2e-4)
    assert plan.epsilon <= 2.0
    assert plan.epsilon == pytest.approx(2.0, abs=1e-3)
    event = client_round_event(
        "central", HospitalSampling.resolve("poisson", 100, 0.1), plan.noise_multiplier
    )
    assert library_epsilon(rdp.RdpAccountant(), event, 100) == pytest.approx(
        plan.epsilon
    )


def test_plan_refuses_an_impossible_target_with_the_reason():
    with pytest.raises(ValueError, match=r"^delta must be in \(0, 1\); found 1.5$"):
        plan_noise_multiplier(1.0, 1.5, 10)


def scenario(privacy: dict, **top):
    return validate_scenario(
        {
            "name": "t",
            "hospitals": [{"count": 3, "num_cpus": 0.5}],
            "privacy": privacy,
            **top,
        }
    )


def test_the_coordinator_ledger_matches_the_library_round_by_round():
    # 3 hospitals, all take part, central, z = 4.0: GaussianDpEvent(4.0) per round.
    privacy = FederationPrivacy(
        scenario({"mode": "central", "noise_multiplier": 4.0}), {0: 10, 1: 10, 2: 10}
    )

    privacy.record_round(1)
    after_one = privacy.epsilons()["hospital"]
    privacy.record_round(2)

    assert after_one == pytest.approx(1.0125506277526433, rel=1e-9)
    assert privacy.epsilons()["hospital"] == pytest.approx(1.478121967952188, rel=1e-9)


def test_the_budget_check_refuses_the_round_that_would_exceed_max_epsilon():
    # One round spends 1.0126, two 1.4781: max_epsilon 1.2 allows round 1 only.
    privacy = FederationPrivacy(
        scenario({"mode": "central", "noise_multiplier": 4.0, "max_epsilon": 1.2}),
        {0: 10, 1: 10, 2: 10},
    )

    assert privacy.check_budget(1).allowed
    privacy.record_round(1)
    check = privacy.check_budget(2)

    assert not check.allowed
    assert check.message() == (
        "privacy budget: round 2 would raise hospital-level epsilon to 1.478, above "
        "max_epsilon = 1.2; training stops after round 1"
    )


def test_a_resumed_ledger_replays_the_completed_rounds():
    config = scenario(
        {"mode": "local"},
        min_hospitals=1,
        sampling={"mode": "poisson", "fraction": 0.5},
    )
    live = FederationPrivacy(config, {0: 10, 1: 10, 2: 10})
    for round_number in (1, 2, 3):
        live.record_round(round_number)

    resumed = FederationPrivacy(config, {0: 10, 1: 10, 2: 10}, completed_round=3)

    assert resumed.epsilons() == live.epsilons()
    assert resumed.epsilons()["hospital"] > 0


def test_local_mode_reports_the_worst_hospital():
    # Poisson q = 0.5 over 3 hospitals: the hospital sampled most often sets epsilon.
    privacy = FederationPrivacy(
        scenario(
            {"mode": "local", "noise_multiplier": 2.0},
            min_hospitals=1,
            sampling={"mode": "poisson", "fraction": 0.5},
        ),
        {0: 10, 1: 10, 2: 10},
    )
    counts = dict.fromkeys(range(3), 0)
    for round_number in range(1, 6):
        for hospital in privacy.participants(round_number):
            counts[int(hospital)] += 1
        privacy.record_round(round_number)

    expected = ledger_epsilon(dp_accounting.GaussianDpEvent(1.0), max(counts.values()))
    assert privacy.epsilons()["hospital"] == pytest.approx(expected, rel=1e-12)
