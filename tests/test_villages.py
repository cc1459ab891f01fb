"""Villages and cooperatives (step 6): activation, revenue, alliances, technicians, imitation."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from conftest import create_test_model, run_test_model
from countysim.core.tables import PRODUCT_LINES
from countysim.core.villages import MENTEES_PER_EXPERT, NO_COOPERATIVE, PARTY_BRANCH


def test_only_pilot_villages_have_a_cooperative():
    model = create_test_model(pilot_villages=7)
    kinds = np.array([v.cooperative for v in model.village_list])
    pilots = np.array([v.pilot for v in model.village_list])
    assert pilots.sum() == 7
    assert (kinds[pilots] == PARTY_BRANCH).all() and (kinds[~pilots] == NO_COOPERATIVE).all()


def test_activation_has_diminishing_returns():
    # A monthly rate of 0.1 x 1.5 x capacity < 1 never activates everything at once.
    model, ds = run_test_model(months=12, pilot_villages=8, cooperative_support=1.5,
                               activation_rate=0.1)
    idle = model.district.villages["idle_land_mu"].to_numpy()
    land = ds["active_land"].values  # (time, village)
    pilot = ds["pilot"].values.astype(bool)
    steps = np.diff(np.vstack([np.zeros(land.shape[1]), land]), axis=0)
    for j in np.flatnonzero(pilot & (idle > 0)):
        assert (steps[:, j] > 0).all(), "a cooperative stopped activating idle land"
        assert (np.diff(steps[:, j]) <= 1e-9).all(), (
            f"activation of village {j} does not slow down: {steps[:, j]}")
        assert land[-1, j] < idle[j]
    assert (land[:, ~pilot] == 0).all(), "land activated in a village without a cooperative"


def test_activation_is_zero_without_a_cooperative_or_support():
    _, none = run_test_model(months=6, pilot_villages=0)
    assert (none["active_land"].values == 0).all()
    assert (none["cooperative"].values == NO_COOPERATIVE).all()
    model, unsupported = run_test_model(months=6, cooperative_support=0.0)
    assert (unsupported["active_land"].values == 0).all()
    assert all(v.active_buildings == 0 for v in model.village_list)


def test_more_support_activates_more_land():
    _, low = run_test_model(months=6, cooperative_support=0.5, activation_rate=0.1)
    _, high = run_test_model(months=6, cooperative_support=2.0, activation_rate=0.1)
    pilot = low["pilot"].values.astype(bool)
    a, b = low["active_land"].values[:, pilot], high["active_land"].values[:, pilot]
    assert (b >= a).all() and (b.sum() > a.sum())


def test_buildings_activated_never_exceed_idle_buildings():
    model, _ = run_test_model(months=14, activation_rate=1.0, cooperative_support=5.0,
                              idle_buildings_mean=4.0)
    full = 0
    for v in model.village_list:
        assert 0 <= v.active_buildings <= v.idle_buildings
        assert 0 <= v.active_land <= v.idle_land
        if v.cooperative == PARTY_BRANCH and 5.0 * v.branch_capacity >= 1.0:
            # A monthly rate of 1 activates everything at once.
            assert v.active_buildings == v.idle_buildings
            assert v.active_land == pytest.approx(v.idle_land)
            full += 1
    assert full > 0


def test_collective_income_follows_the_trend_without_a_cooperative():
    # Without noise, cooperatives or returnees, a village's collective income grows at
    # exactly collective_trend_growth a year.
    g = 0.06
    _, ds = run_test_model(months=6, pilot_villages=0, returnees=0,
                           collective_income_noise=0.0, collective_trend_growth=g)
    income = ds["collective_income"].values
    np.testing.assert_allclose(income[1:] / income[:-1], (1 + g) ** (1 / 12), rtol=1e-9)


def test_cooperative_raises_collective_income_of_pilot_villages():
    common = dict(months=8, returnees=0, collective_income_noise=0.0, seed=3,
                  coop_collective_share=0.1)
    _, with_coop = run_test_model(pilot_villages=6, **common)
    _, without = run_test_model(pilot_villages=0, **common)
    pilot = with_coop["pilot"].values.astype(bool)
    a = with_coop["collective_income"].values
    b = without["collective_income"].values
    assert (a[:, pilot] >= b[:, pilot] - 1e-6).all()
    assert a[-1, pilot].sum() > b[-1, pilot].sum()
    np.testing.assert_allclose(a[:, ~pilot], b[:, ~pilot])


def test_alliances_group_pilot_villages_of_one_township():
    model = create_test_model(villages=30, townships=3, pilot_villages=20, alliance_size=4)
    members: dict[int, list] = {}
    for v in model.village_list:
        if v.alliance >= 0:
            assert v.cooperative == PARTY_BRANCH
            members.setdefault(v.alliance, []).append(v)
    assert members, "no alliance formed among 20 pilot villages"
    for group in members.values():
        assert 2 <= len(group) <= 4
        assert len({v.township for v in group}) == 1
    off = create_test_model(villages=30, townships=3, pilot_villages=20, alliances=False)
    assert all(v.alliance == -1 for v in off.village_list)


def test_alliance_raises_revenue_of_allied_villages():
    common = dict(months=8, pilot_villages=12, returnees=0, collective_income_noise=0.0,
                  seed=5, alliance_market_boost=0.5, coop_collective_share=0.1)
    model, allied = run_test_model(alliances=True, **common)
    _, alone = run_test_model(alliances=False, **common)
    in_alliance = np.array([v.alliance >= 0 for v in model.village_list])
    assert in_alliance.any()
    a = allied["collective_income"].values[:, in_alliance]
    b = alone["collective_income"].values[:, in_alliance]
    assert (a >= b - 1e-6).all() and a[-1].sum() > b[-1].sum()


def test_trained_technicians_raise_productivity_after_training():
    model, ds = run_test_model(months=5, technicians=60, expert_mentors=3, training_months=3,
                               technician_effect=0.02)
    techs = np.array([v.technicians for v in model.village_list])
    assert techs.sum() == min(60, 3 * MENTEES_PER_EXPERT)
    prod = ds["productivity"].values
    before, after = prod[:3], prod[3:]
    assert (before == 1.0).all(), "technicians count before their training is over"
    np.testing.assert_allclose(after, np.broadcast_to(1 + 0.02 * techs, after.shape))


def test_no_technicians_no_productivity_gain():
    _, ds = run_test_model(months=8, technicians=0)
    assert (ds["productivity"].values == 1.0).all()


def test_returnee_businesses_start_during_the_first_year():
    model = create_test_model(returnees=25)
    starts = np.concatenate([v.returnee_starts for v in model.village_list])
    assert starts.size == 25
    assert ((starts >= 0) & (starts < 12)).all()
    v = max(model.village_list, key=lambda v: v.returnee_starts.size)
    assert v.active_returnees(11) == v.returnee_starts.size
    assert v.active_returnees(-1) == 0


def test_local_jobs_are_paid_from_the_wage_bill_and_returnee_firms():
    model, _ = run_test_model(months=10, returnees=10, activation_rate=0.3)
    p = model.p
    for v in model.village_list:
        returnee_jobs = v.active_returnees(model.month) * p.returnee_jobs
        coop_jobs = v.local_jobs - returnee_jobs
        assert coop_jobs >= 0
        assert coop_jobs * p.local_wage <= p.coop_wage_share * v.coop_revenue + 1e-6


def test_imitation_copies_the_best_line_of_the_township():
    model = create_test_model(imitation_rate=1.0, villages=30, townships=3, pilot_villages=3)
    initial = [(v.township, v.product_line) for v in model.village_list]
    best = {}
    for township, line in initial:
        mult = PRODUCT_LINES[line]["income_multiplier"]
        if township not in best or mult > best[township][1]:
            best[township] = (line, mult)
    model.step()
    for v in model.village_list:
        assert v.product_line == best[v.township][0]


def test_no_imitation_keeps_product_lines():
    model = create_test_model(imitation_rate=0.0)
    before = Counter(v.product_line for v in model.village_list)
    for _ in range(6):
        model.step()
    assert Counter(v.product_line for v in model.village_list) == before
