"""Per-round hospital sampling: the sampler's statistics, its scenario table and its checks."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from medfed_ray.errors import ScenarioError
from medfed_ray.privacy.federation import FederationPrivacy
from medfed_ray.sampling import HospitalSampling, fixed_sample_size
from medfed_ray.scenario import validate_scenario


def scenario_data(sampling=None, count: int = 10, **top) -> dict:
    data = {"name": "t", "hospitals": [{"count": count, "num_cpus": 0.1}], **top}
    if sampling is not None:
        data["sampling"] = sampling
    return data


def problems(sampling, count: int = 10, **top) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        validate_scenario(scenario_data(sampling, count, **top))
    return [str(problem) for problem in caught.value.problems]


# -- the sampler -------------------------------------------------------------------


def test_poisson_sampling_takes_each_hospital_at_rate_q_over_many_rounds():
    sampling = HospitalSampling.resolve("poisson", 1000, 0.1)

    rounds = [sampling.participants(3, r) for r in range(1, 2001)]

    # 2,000,000 Bernoulli(0.1) draws: the rate's standard error is 0.00021.
    counts = np.array([len(chosen) for chosen in rounds])
    assert counts.sum() / (2000 * 1000) == pytest.approx(0.1, abs=0.001)
    # Each hospital on its own: 2,000 draws, standard error 0.0067 of its rate;
    # 5 standard errors bound all 1,000 of them with room to spare.
    per_hospital = np.bincount(np.concatenate(rounds), minlength=1000) / 2000
    assert np.abs(per_hospital - 0.1).max() < 5 * 0.0067
    # The count per round varies as a binomial(1000, 0.1) does (sd 9.5).
    assert 7 < counts.std() < 12


def test_fixed_sampling_takes_exactly_m_distinct_hospitals_every_round():
    by_fraction = HospitalSampling.resolve("fixed", 20, 0.26)
    by_count = HospitalSampling.resolve("fixed", 20, clients_per_round=7)

    for round_number in range(1, 201):
        for sampling, size in ((by_fraction, 5), (by_count, 7)):
            chosen = sampling.participants(11, round_number)
            assert len(chosen) == size
            assert (np.diff(chosen) > 0).all()
            assert 0 <= chosen.min() and chosen.max() < 20
    assert fixed_sample_size(20, 0.26) == 5
    assert fixed_sample_size(20, 0.001) == 1
    # Half up, like groups sized by fraction: 2.5 -> 3 and 3.5 -> 4.
    assert fixed_sample_size(8, 0.3125) == 3
    assert fixed_sample_size(8, 0.4375) == 4
    assert by_count.rate == pytest.approx(7 / 20)


def test_all_takes_every_hospital():
    sampling = HospitalSampling.resolve("all", 4)

    np.testing.assert_array_equal(sampling.participants(7, 1), [0, 1, 2, 3])
    assert sampling.expected_participants() == 4.0


def test_the_choice_depends_only_on_seed_and_round():
    sampling = HospitalSampling.resolve("poisson", 50, 0.3)

    first = sampling.participants(5, 4)

    np.testing.assert_array_equal(first, sampling.participants(5, 4))
    assert not np.array_equal(first, sampling.participants(5, 5))
    assert not np.array_equal(first, sampling.participants(6, 4))


def test_privacy_accounts_the_sampling_of_the_sampling_table():
    scenario = validate_scenario(
        scenario_data(
            {"mode": "poisson", "fraction": 0.2},
            privacy={"mode": "central"},
        )
    )
    sampling = HospitalSampling.from_scenario(scenario)

    privacy = FederationPrivacy(scenario, dict.fromkeys(range(10), 5))

    assert privacy.client_event.sampling_probability == 0.2
    assert privacy.denominator == pytest.approx(2.0)
    np.testing.assert_array_equal(
        privacy.participants(3), sampling.participants(scenario.seed, 3)
    )


# -- the scenario table ------------------------------------------------------------


def test_sampling_is_off_by_default_and_good_tables_load():
    plain = validate_scenario(scenario_data())
    poisson = validate_scenario(scenario_data({"mode": "poisson", "fraction": 0.1}))
    fixed = validate_scenario(scenario_data({"mode": "fixed", "clients_per_round": 3}))

    assert plain.sampling.mode == "all"
    assert HospitalSampling.from_scenario(poisson).fraction == 0.1
    assert HospitalSampling.from_scenario(fixed).size == 3


@pytest.mark.parametrize(
    ("sampling", "top", "expected"),
    [
        pytest.param(
            {"mode": "poisson", "fraction": 0},
            {},
            "sampling.fraction: input should be greater than 0 (found 0)",
            id="fraction-zero",
        ),
        pytest.param(
            {"mode": "poisson", "fraction": 1.5},
            {},
            "sampling.fraction: input should be less than or equal to 1 (found 1.5)",
            id="fraction-above-one",
        ),
        pytest.param(
            {"mode": "fixed", "fraction": -0.2},
            {},
            "sampling.fraction: input should be greater than 0 (found -0.2)",
            id="fraction-negative",
        ),
        pytest.param(
            {"mode": "poisson", "fraction": "0.1"},
            {},
            "sampling.fraction: input should be a valid number (found '0.1')",
            id="fraction-a-string",
        ),
        pytest.param(
            {"mode": "fixed", "clients_per_round": 2.0},
            {},
            "sampling.clients_per_round: input should be a valid integer (found 2.0)",
            id="count-a-float",
        ),
        pytest.param(
            {"mode": "fixed", "clients_per_round": 0},
            {},
            "sampling.clients_per_round: input should be greater than or equal to 1 "
            "(found 0)",
            id="count-zero",
        ),
        pytest.param(
            {"mode": "random", "fraction": 0.1},
            {},
            "sampling.mode: input should be 'all', 'poisson' or 'fixed' (found 'random')",
            id="unknown-mode",
        ),
        pytest.param(
            {"mode": "fixed", "clients_per_round": 11},
            {},
            "sampling: clients_per_round = 11 is more than the 10 hospitals of the "
            "scenario; allowed: 1 to 10 (found {'mode': 'fixed', 'clients_per_round': 11})",
            id="count-above-hospitals",
        ),
        pytest.param(
            {"fraction": 0.5},
            {},
            "sampling: 'fraction' and 'clients_per_round' apply only to mode 'poisson' "
            "or 'fixed'; mode 'all' takes every hospital in every round (found "
            "{'fraction': 0.5})",
            id="fraction-with-all",
        ),
        pytest.param(
            {"mode": "poisson"},
            {},
            "sampling: mode 'poisson' needs 'fraction', each hospital's chance of "
            "taking part in a round (0 < fraction <= 1) (found {'mode': 'poisson'})",
            id="poisson-without-fraction",
        ),
        pytest.param(
            {"mode": "poisson", "fraction": 0.5, "clients_per_round": 3},
            {},
            "sampling: 'clients_per_round' applies only to mode 'fixed'; mode 'poisson' "
            "takes each hospital with probability 'fraction', so the count varies from "
            "round to round (found {'mode': 'poisson', 'fraction': 0.5, "
            "'clients_per_round': 3})",
            id="poisson-with-count",
        ),
        pytest.param(
            {"mode": "fixed", "fraction": 0.5, "clients_per_round": 3},
            {},
            "sampling: mode 'fixed' needs exactly one of 'fraction' (m = round(fraction "
            "x hospitals)) and 'clients_per_round' (m itself) (found {'mode': 'fixed', "
            "'fraction': 0.5, 'clients_per_round': 3})",
            id="fixed-with-both",
        ),
        pytest.param(
            {"mode": "fixed", "fraction": 0.2},
            {"min_hospitals": 3},
            "sampling: min_hospitals = 3 is more than the 2 hospitals sampled per round "
            "(mode 'fixed', fraction 0.2 of 10); lower min_hospitals or sample more "
            "hospitals (found {'mode': 'fixed', 'fraction': 0.2})",
            id="quorum-above-sample",
        ),
        pytest.param(
            {"mode": "poisson", "fraction": 0.5},
            {"training": "local"},
            "sampling: mode 'poisson' needs training = 'federated'; local-only "
            "training trains every hospital in every round (use mode 'all') (found "
            "{'mode': 'poisson', 'fraction': 0.5})",
            id="sampling-in-local-training",
        ),
        pytest.param(
            {"mode": "poisson", "fractoin": 0.5},
            {},
            "sampling.fractoin: unknown field; did you mean 'fraction'? allowed: mode, "
            "fraction, clients_per_round",
            id="misspelt-field",
        ),
    ],
)
def test_bad_sampling_settings_are_refused(sampling, top, expected):
    assert problems(sampling, **top) == [expected]


# -- the former spelling in [privacy] ----------------------------------------------


def test_privacy_sampling_of_earlier_scenarios_is_moved_to_the_sampling_table(caplog):
    with caplog.at_level(logging.WARNING):
        scenario = validate_scenario(
            scenario_data(
                privacy={
                    "mode": "central",
                    "sampling": "fixed",
                    "sampling_fraction": 0.4,
                }
            )
        )

    assert scenario.sampling.mode == "fixed" and scenario.sampling.fraction == 0.4
    assert "[sampling] mode = 'fixed', fraction = 0.4" in caplog.text


def test_a_resolved_scenario_of_an_earlier_version_loads_unchanged():
    # Earlier resolved files spell out the defaults of the former fields.
    scenario = validate_scenario(
        scenario_data(privacy={"sampling": "all", "sampling_fraction": 1.0})
    )

    assert scenario.sampling.mode == "all" and scenario.sampling.fraction is None
    assert "sampling" not in scenario.privacy.model_dump()


def test_both_spellings_may_agree():
    scenario = validate_scenario(
        scenario_data(
            {"mode": "poisson", "fraction": 0.3},
            privacy={"sampling": "poisson", "sampling_fraction": 0.3},
        )
    )

    assert scenario.sampling.mode == "poisson" and scenario.sampling.fraction == 0.3


def test_both_spellings_in_conflict_are_refused_naming_both():
    found = problems(
        {"mode": "fixed", "clients_per_round": 2},
        privacy={"sampling": "poisson", "sampling_fraction": 0.3},
    )

    assert found == [
        "sampling: privacy.sampling = 'poisson' and privacy.sampling_fraction = 0.3 "
        "disagree with [sampling] mode = 'fixed', clients_per_round = 2; hospital "
        "sampling is set in [sampling] alone (mode 'all', 'poisson' or 'fixed', with "
        "fraction or clients_per_round), and privacy amplification uses it. Remove "
        "privacy.sampling and privacy.sampling_fraction"
    ]


@pytest.mark.parametrize(
    ("privacy", "said"),
    [
        ({"sampling_fraction": 0.5}, "privacy.sampling = 'all' (its default)"),
        (
            {"sampling": "all", "sampling_fraction": 0.5},
            "privacy.sampling = 'all';",
        ),
    ],
    ids=["fraction-alone", "fraction-with-all"],
)
def test_a_former_fraction_without_poisson_sampling_says_what_to_write(privacy, said):
    """A fraction that samples nobody out is refused with the table that would."""
    found = problems(None, privacy=privacy)

    assert len(found) == 1
    assert found[0].startswith(
        "sampling: privacy.sampling_fraction = 0.5 has no effect with " + said
    )
    assert "write [sampling] mode = 'poisson', fraction = 0.5" in found[0]


# -- robust rules that need a number of updates every round ----------------------


def test_krum_is_checked_against_the_hospitals_sampled_per_round():
    """Eight hospitals pass, but four sampled per round are too few for f = 1."""
    found = problems(
        {"mode": "fixed", "clients_per_round": 4},
        count=8,
        min_hospitals=1,
        aggregator={"name": "krum", "params": {"num_malicious": 1}},
    )

    assert found == [
        "aggregator.params: krum needs n >= 2 * num_malicious + 3 hospitals; "
        "found n=4, num_malicious=1"
    ]


def test_krum_with_enough_sampled_hospitals_is_valid():
    scenario = validate_scenario(
        scenario_data(
            {"mode": "fixed", "clients_per_round": 5},
            count=8,
            min_hospitals=1,
            aggregator={"name": "krum", "params": {"num_malicious": 1}},
        )
    )

    assert scenario.sampling.sample_size(8) == 5


@pytest.mark.parametrize("rule", ["krum", "multi_krum"])
def test_krum_type_rules_refuse_poisson_sampling(rule):
    """A Poisson sample may hold too few updates in any round; fixed size is the cure."""
    found = problems(
        {"mode": "poisson", "fraction": 0.5},
        count=8,
        min_hospitals=1,
        aggregator={"name": rule, "params": {"num_malicious": 1}},
    )

    assert found == [
        f"sampling.mode: {rule} needs n >= 2f + 3 = 5 updates in every round "
        "(f = 1), but Poisson sampling may pick fewer hospitals; use "
        'sampling.mode = "fixed" with clients_per_round >= 5'
    ]
