"""The causal links L2, L5-L8, L12 and settling in town (docs/pathways.md), one by one.

Each test isolates one link in the small district: it sets the link's strength to zero
and to a positive value and checks the direction and, where it is exact, the size the
mechanism's formula gives. The links' effects on district outcomes at the priors' ends
are measured in docs/lever_effects.md, not here.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import create_test_model, run_test_model
from countysim.core.tables import MONTHS_PER_YEAR
from countysim.core.villages import PARTY_BRANCH


def test_better_leaders_add_output_growth_at_the_link_strength():
    # L2 selection: leading-post holders 1 sd above the 2024 mean add leader_growth_effect
    # a year to output; no turnover, so the holders stay.
    out = {}
    for effect in (0.0, 0.01):
        model = create_test_model(leader_growth_effect=effect, leading_post_turnover=0.0)
        mean, sd = model.leader_ref
        model.leader_capability[:] = mean + sd
        for _ in range(MONTHS_PER_YEAR):
            model.step()
        out[effect] = model.output_index
        assert model.leader_z == pytest.approx(1.0)
    assert out[0.01] / out[0.0] == pytest.approx(1.01)


def test_a_firm_with_fewer_open_problems_than_expected_invests():
    # L5: capacity grows by problem_investment_drag a year per open problem below the
    # 2024 expectation, and shrinks for one above it.
    model = create_test_model(problem_investment_drag=0.06)
    table = model.firm_table
    table.capacity[:] = 1.0
    table.expected_open = 3.0
    table.open_problems[:] = 3
    table.open_problems[0] = 5
    table.open_problems[1] = 2
    table.post_vacancies(1.0, 0.0, 0.0, model.p.problem_investment_drag)
    assert table.capacity[0] == pytest.approx(1.0 - 0.06 * 2.0 / MONTHS_PER_YEAR)
    assert table.capacity[1] > 1.0
    np.testing.assert_allclose(table.capacity[2:], 1.0)


def test_fewer_open_household_problems_unlock_activation():
    # L6: the activation pace scales with ((1 + expected) / (1 + open)) ^ elasticity.
    model = create_test_model(unlock_elasticity=0.5)
    model.step()
    expected = model.village_open_ref
    open_now = model.problems.open_by_village(len(model.village_list))
    np.testing.assert_allclose(model.unlock, ((1 + expected) / (1 + open_now)) ** 0.5)
    assert np.ptp(model.unlock) > 0, "villages differ in their open problems"
    flat = create_test_model(unlock_elasticity=0.0)
    flat.step()
    np.testing.assert_array_equal(flat.unlock, 1.0)


def test_a_shell_cooperative_earns_nothing_and_strong_leadership_avoids_shells():
    # L7: a party-branch cooperative below its village's hurdle is a shell: no activation,
    # no revenue. More shells when shell_share is higher; none when it is zero.
    def functioning(shell_share: float) -> np.ndarray:
        model, _ = run_test_model(months=3, shell_share=shell_share)
        pilots = [v for v in model.village_list if v.cooperative == PARTY_BRANCH]
        for v in pilots:
            if not v.functioning:
                assert v.coop_revenue == 0 and v.active_land == 0
        return np.array([v.functioning for v in pilots])

    none, some, most = functioning(0.0), functioning(0.4), functioning(0.9)
    assert none.all()
    assert most.sum() < some.sum() <= none.sum()


def test_reinvested_profit_adds_assets():
    # L8: a working cooperative reinvests reinvest_share of asset_return a year into more
    # activated land, beyond the village's idle stock at the start.
    # Leadership (L7) and unlocking (L6) held fixed: only reinvestment differs.
    common = dict(months=24, shell_share=0.0, activation_rate=1.0, seed=2,
                  coop_leader_effect=0.0, unlock_elasticity=0.0)
    _model_0, ds_0 = run_test_model(reinvest_share=0.0, **common)
    model_1, ds_1 = run_test_model(reinvest_share=0.1, asset_return=0.2, **common)
    pilot = ds_0["pilot"].values.astype(bool)
    land_0, land_1 = ds_0["active_land"].values[-1], ds_1["active_land"].values[-1]
    assert (land_1[pilot] > land_0[pilot]).all()
    idle = model_1.district.villages["idle_land_mu"].to_numpy()
    assert (land_1[pilot] > idle[pilot]).any(), "reinvestment adds land beyond the idle stock"


def test_settlers_move_to_town_at_the_settle_rate():
    # B15: rural holders of urban jobs settle in town at settle_rate a year; none at zero.
    _, still = run_test_model(months=12, settle_rate=0.0)
    assert still["settlers"].values.sum() == 0
    _model, moving = run_test_model(months=12, settle_rate=0.3)
    share = moving["urban_resident_share"].values
    assert moving["settlers"].values.sum() > 0 and share[-1] > share[0]
    assert (moving["village_settlers"].sum("village").values == moving["settlers"].values).all()


def test_non_farm_training_moves_farmers_into_transfer_work():
    # L12: trained farmers migrate faster for a year; paired seeds, trainees vs none.
    gain = []
    for seed in range(4):
        runs = [run_test_model(months=12, seed=seed, nonfarm_trainees=n,
                               training_nonfarm_gain=0.5)[1] for n in (0, 400)]
        migrants = [ds["workers"].sel(labour_state="migrant").values[-1] for ds in runs]
        gain.append(migrants[1] - migrants[0])
    assert min(gain) > 0, gain
