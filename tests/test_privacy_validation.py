"""Bad privacy settings are refused before anything runs, with the exact reason."""

from __future__ import annotations

import pytest

from medfed_ray.errors import ScenarioError
from medfed_ray.scenario import validate_scenario


def problems(privacy: dict, **top) -> list[str]:
    data = {
        "name": "t",
        "hospitals": [{"count": 4, "num_cpus": 0.5}],
        "privacy": privacy,
    }
    with pytest.raises(ScenarioError) as caught:
        validate_scenario({**data, **top})
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("privacy", "top", "expected"),
    [
        pytest.param(
            {"mode": "central", "delta": 1.0},
            {},
            "privacy.delta: input should be less than 1 (found 1.0)",
            id="delta-not-below-one",
        ),
        pytest.param(
            {"mode": "central", "noise_multiplier": 0},
            {},
            "privacy.noise_multiplier: input should be greater than 0 (found 0)",
            id="zero-noise",
        ),
        pytest.param(
            {"mode": "central", "clip_norm": -1.0},
            {},
            "privacy.clip_norm: input should be greater than 0 (found -1.0)",
            id="negative-clip",
        ),
        pytest.param(
            {"mode": "centrall"},
            {},
            "privacy.mode: input should be 'off', 'local' or 'central' (found 'centrall')",
            id="unknown-mode",
        ),
        pytest.param(
            {"max_epsilon": 3.0},
            {},
            "privacy: 'max_epsilon' needs a private mechanism: set mode to 'local' or "
            "'central', or dp_sgd.enabled = true (found {'max_epsilon': 3.0})",
            id="budget-without-mechanism",
        ),
        pytest.param(
            {"mode": "central", "accountant": "pld"},
            {"min_hospitals": 1, "sampling": {"mode": "fixed", "fraction": 0.5}},
            "privacy: accountant 'pld' does not support sampling.mode 'fixed' in mode "
            "'central' (dp-accounting's PLD accountant has no event for sampling "
            "without replacement); use accountant 'rdp' or sampling.mode 'poisson' "
            "(found {'mode': 'central', 'accountant': 'pld'})",
            id="pld-with-fixed-sampling",
        ),
        pytest.param(
            {"mode": "central"},
            {"aggregator": {"name": "median"}},
            "privacy: mode 'central' cannot add noise after aggregator 'median': its "
            "output can move by more than 2 x clip_norm when one hospital's update "
            "changes, so no sensitivity bound backs the noise. Use aggregator 'fedavg', "
            "'mean', 'krum', 'multi_krum', 'geometric_median', or privacy mode 'local' "
            "(found {'mode': 'central'})",
            id="central-after-median",
        ),
        pytest.param(
            {"mode": "local"},
            {"training": "local"},
            "privacy: mode 'local' needs training = 'federated'; for local-only training "
            "use dp_sgd (sample-level DP) instead (found {'mode': 'local'})",
            id="client-dp-without-federation",
        ),
        pytest.param(
            {"mode": "central", "noise_multiplier": 4.0, "max_epsilon": 0.5},
            {},
            "privacy: max_epsilon = 0.5 is below the epsilon of a single round (1.013 at "
            "delta = 1e-05); raise max_epsilon or noise_multiplier (found {'mode': "
            "'central', 'noise_multiplier': 4.0, 'max_epsilon': 0.5})",
            id="budget-below-one-round",
        ),
        pytest.param(
            {"dp_sgd": {"noise_multiplier": 2.0}},
            {},
            "privacy.dp_sgd: 'l2_norm_clip' and 'noise_multiplier' apply only when "
            "enabled = true (found {'noise_multiplier': 2.0})",
            id="dp-sgd-field-while-disabled",
        ),
    ],
)
def test_bad_privacy_settings_are_refused(privacy, top, expected):
    assert problems(privacy, **top) == [expected]


def test_privacy_is_off_by_default_and_good_settings_load():
    plain = validate_scenario({"name": "t", "hospitals": [{"count": 4}]})
    private = validate_scenario(
        {
            "name": "t",
            "hospitals": [{"count": 5}],
            "aggregator": {"name": "krum", "params": {"num_malicious": 1}},
            # Krum needs 2f + 3 = 5 updates every round: a fixed-size sample.
            "sampling": {"mode": "fixed", "clients_per_round": 5},
            "privacy": {
                "mode": "central",
                "max_epsilon": 50.0,
                "dp_sgd": {"enabled": True},
            },
        }
    )

    assert not plain.privacy.enabled and plain.privacy.mode == "off"
    assert private.privacy.enabled and private.privacy.dp_sgd.enabled
