"""Villages and cooperatives (step 6): pilots, activation, revenue, alliances, technicians,
returnees, product lines and prices."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from conftest import create_test_model, run_test_model
from countysim.core.tables import MONTHS_PER_YEAR, PRODUCT_LINE_NAMES, Labour
from countysim.core.villages import LINE_MULTIPLIER, NO_COOPERATIVE, PARTY_BRANCH, farm_returns

GRAIN = PRODUCT_LINE_NAMES.index("grain")
VEG = PRODUCT_LINE_NAMES.index("facility_vegetables")  # multiplier 1.40 vs grain 1.00


# ------------------------------------------------------------------------------ pilots


def test_only_pilot_villages_have_a_cooperative():
    model = create_test_model(pilot_villages=7)
    assert not any(v.pilot for v in model.village_list), "pilots in the 2024 spin-up"
    model.step()
    kinds = np.array([v.cooperative for v in model.village_list])
    pilots = np.array([v.pilot for v in model.village_list])
    assert pilots.sum() == 7
    assert (kinds[pilots] == PARTY_BRANCH).all() and (kinds[~pilots] == NO_COOPERATIVE).all()
    assert set(np.flatnonzero(pilots)) == set(model.pilot_order[:7].tolist())


def test_pilots_follow_the_lever_schedule_in_pilot_order():
    model, ds = run_test_model(months=24, pilot_villages={2025: 2, 2026: 4})
    order = model.pilot_order
    coop = ds["cooperative"].values == PARTY_BRANCH  # (time, village)
    years = ds["time"].dt.year.values
    for year, n in ((2025, 2), (2026, 4)):
        expected = np.zeros(coop.shape[1], dtype=bool)
        expected[order[:n]] = True
        assert (coop[years == year] == expected).all(), f"pilots of {year}"
    assert int(ds["pilot"].sum()) == 2  # the coordinate: pilots of the start year
    # The first pilots stay in the programme; their land keeps being activated.
    land = ds["active_land"].values
    assert (np.diff(land[:, order[:2]], axis=0) >= 0).all()
    assert (land[years == 2025][:, order[2:4]] == 0).all()


# -------------------------------------------------------------------------- activation


def test_activation_has_diminishing_returns():
    # A monthly share of activation_rate x capacity < 1 never activates everything at once.
    # Working cooperatives at a fixed pace: no shells (L7), leadership, unlocking (L6) or
    # reinvestment (L8) changing the pace or the idle stock.
    model, ds = run_test_model(months=12, pilot_villages=8, activation_rate=0.1,
                               shell_share=0.0, coop_leader_effect=0.0,
                               unlock_elasticity=0.0, reinvest_share=0.0)
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


def test_activation_is_zero_without_a_cooperative_or_pace():
    _, none = run_test_model(months=6, pilot_villages=0)
    assert (none["active_land"].values == 0).all()
    assert (none["cooperative"].values == NO_COOPERATIVE).all()
    model, still = run_test_model(months=6, activation_rate=0.0)
    assert (still["active_land"].values == 0).all()
    assert all(v.active_buildings == 0 for v in model.village_list)


def test_a_faster_pace_activates_more_land():
    _, low = run_test_model(months=6, activation_rate=0.05)
    _, high = run_test_model(months=6, activation_rate=0.2)
    pilot = low["pilot"].values.astype(bool)
    a, b = low["active_land"].values[:, pilot], high["active_land"].values[:, pilot]
    assert (b >= a).all() and (b.sum() > a.sum())


def test_activated_assets_never_exceed_idle_assets():
    model, _ = run_test_model(months=14, activation_rate=1.0, idle_buildings_mean=4.0)
    for v in model.village_list:
        assert 0 <= v.active_buildings <= v.idle_buildings
        assert 0 <= v.active_land <= v.idle_land
    assert sum(v.active_buildings for v in model.village_list) > 0


# -------------------------------------------------------------------- income, money


def test_collective_income_follows_the_wage_index_without_a_cooperative():
    # Without noise, cooperatives, returnees or village leaders better than 2024's (L2
    # off), collective income is the 2024 income indexed to prices and wages.
    model, ds = run_test_model(months=6, pilot_villages=0, returnees=0,
                               collective_income_noise=0.0, leader_growth_effect=0.0)
    base = model.district.villages["collective_income"].to_numpy()
    expected = np.outer(ds["wage_index"].values, base) / MONTHS_PER_YEAR
    np.testing.assert_allclose(ds["collective_income"].values, expected, rtol=1e-12)


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


def test_cooperative_revenue_is_shared_out_exactly():
    # Wage bill + collective share + member profit = revenue; dividends are a share of
    # collective income; jobs are paid from the wage bill.
    model = create_test_model(activation_rate=0.3, returnees=6)
    p_checked = 0
    for _ in range(8):
        model.step()
        p = model.p
        wage = p.local_wage * model.nominal_index
        for v in model.village_list:
            wages = p.coop_wage_share * v.coop_revenue
            collective = p.coop_collective_share * v.coop_revenue
            assert wages + collective + v.member_profit == pytest.approx(v.coop_revenue)
            assert v.member_profit <= v.coop_revenue - wages + 1e-9
            assert v.dividends == pytest.approx(p.dividend_share * v.collective_income)
            assert v.coop_jobs * wage <= wages + 1e-6
            assert v.local_jobs == v.coop_jobs + v.returnees * p.returnee_jobs
            p_checked += v.coop_revenue > 0
    assert p_checked > 0, "no cooperative earned revenue"


# -------------------------------------------------------------------------- alliances


def test_alliances_group_pilot_villages_of_one_township():
    model = create_test_model(villages=30, townships=3, pilot_villages=20, alliance_size=4)
    model.step()
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
    off.step()
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


# ------------------------------------------------------------------------ technicians


def test_a_trained_technician_advises_fifty_households():
    # A22: one trained grower, 50 neighbouring households; the gain is capped at all of
    # the village's households.
    model = create_test_model(technician_yield_gain=0.3, households_per_technician=50)
    model.step()
    v = model.village_list[0]
    v.households = 200
    for trained, expected in ((0, 1.0), (1, 1.075), (2, 1.15), (4, 1.3), (9, 1.3)):
        v.trained = trained
        v.step()
        assert v.productivity == pytest.approx(expected), trained


def test_technicians_raise_productivity_only_once_trained():
    model, ds = run_test_model(months=6, technicians=20, expert_mentors=2,
                               training_months=3, technician_yield_gain=0.3)
    trained = np.array([v.trained for v in model.village_list])
    households = model.district.villages["households"].to_numpy()
    assert trained.sum() == 20  # 2 experts x 10 mentees, all trained by month 3
    prod = ds["productivity"].values
    assert (prod[:3] == 1.0).all(), "technicians count before their training is over"
    expected = 1 + 0.3 * np.minimum(trained * 50 / households, 1.0)
    np.testing.assert_allclose(prod[3:], np.broadcast_to(expected, prod[3:].shape))
    assert (ds["technicians_trained"].values == np.r_[[0] * 3, [20] * 3]).all()


def _technician_counts(model) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([v.technicians for v in model.village_list]),
            np.array([v.trained for v in model.village_list]))


def test_technicians_follow_their_schedule():
    # Built with the number in force at the start; 20 more placed in January 2026, the
    # 2025 months exactly those of a run that keeps 20 (issue 16, item 6).
    levers = {"expert_mentors": 4, "training_months": 3}
    model = create_test_model(technicians={2025: 20, 2026: 40}, **levers)
    assert sum(v.technicians for v in model.village_list) == 20
    for _ in range(12):
        model.step()
    kept, ds_kept = run_test_model(months=12, technicians=20, **levers)
    np.testing.assert_array_equal(_technician_counts(model), _technician_counts(kept))
    np.testing.assert_array_equal(model.dataset()["productivity"].values,
                                  ds_kept["productivity"].values)
    for _ in range(4):
        model.step()
    technicians, trained = _technician_counts(model)
    assert technicians.sum() == 40 and trained.sum() == 40  # 4 experts train all 40
    assert model.dataset()["technicians_trained"].values[-1] == 40


def test_technicians_retire_waiting_ones_first_then_trained_ones():
    # 2025: 2 experts train 20 of 40; January 2026: 30 retire, the 20 untrained first,
    # then 10 of the trained; the 10 left are trained and nobody is left to train.
    model, ds = run_test_model(months=14, technicians={2025: 40, 2026: 10},
                               expert_mentors=2, training_months=3)
    technicians, trained = _technician_counts(model)
    assert technicians.sum() == trained.sum() == 10
    assert (trained <= technicians).all()
    np.testing.assert_array_equal(model.training_done, trained)
    assert ds["technicians_trained"].values.tolist()[-3:] == [20, 10, 10]


def test_technicians_in_training_retire_before_trained_ones():
    # Training lasts 15 months: in January 2026 the 20 taken in 2025 are still training.
    # 25 retire: the 10 waiting, then 15 of those in training; 5 finish in April 2026.
    model, ds = run_test_model(months=16, technicians={2025: 30, 2026: 5},
                               expert_mentors=2, training_months=15)
    technicians, trained = _technician_counts(model)
    assert technicians.sum() == 5 and trained.sum() == 5
    assert sum(batch.sum() for _, batch in model.training_queue) == 0
    np.testing.assert_array_equal(model.training_done, trained)
    assert ds["technicians_trained"].values.tolist()[-2:] == [0, 5]


def test_no_experts_no_productivity_gain():
    _, ds = run_test_model(months=8, expert_mentors=0)
    assert (ds["productivity"].values == 1.0).all()
    assert (ds["technicians_trained"].values == 0).all()


# -------------------------------------------------------------------------- returnees


def test_returnee_businesses_open_during_each_year():
    model, ds = run_test_model(months=24, returnees=25, returnee_closure_rate=0.0)
    assert model.returnee_start.size == 50  # 25 a year, none in the 2024 spin-up
    first, second = model.returnee_start[:25], model.returnee_start[25:]
    assert ((first >= 0) & (first < 12)).all() and ((second >= 12) & (second < 24)).all()
    running = ds["returnee_businesses"].values
    assert (np.diff(running) >= 0).all() and running[11] == 25 and running[-1] == 50


def test_returnee_businesses_close_at_their_rate():
    _, ds = run_test_model(months=24, returnees=25, returnee_closure_rate=1.0)
    running = ds["returnee_businesses"].values
    assert running[-1] < 50 and (running <= 50).all()


# ---------------------------------------------------------- product lines and prices


def _township_of_vegetable_growers(model, **levers):
    """A village growing grain whose township neighbours all grow facility vegetables."""
    model.step()
    model.p = model.p.replace(**levers)
    v = next(v for v in model.village_list if len(model.township_members[v.township]) > 2)
    for other in model.township_members[v.township]:
        other.line, other.productivity, other.alliance = VEG, 1.0, -1
        # The same land and local growth as the village itself, so that the lines'
        # multipliers and prices alone make the gain (they differ by village, L2, L8).
        model.land_factor[other.index] = model.land_factor[v.index]
        model.village_growth[other.index] = model.village_growth[v.index]
    v.line = GRAIN
    model.line_price = np.ones(len(PRODUCT_LINE_NAMES))
    return v


def line_after_imitating(v, times: int = 50) -> int:
    """The village's line after ``times`` months' chances to imitate (imitation_rate 1).

    The neighbour drawn is another village with probability > 1/2 each time, so 50
    chances leave a ~1e-15 chance of never meeting one. Each chance takes a month's
    draws (a village draws once a month).
    """
    for _ in range(times):
        v.model._village_draws()
        v.imitate()
    return v.line


def test_switching_needs_a_trained_technician():
    model = create_test_model()
    v = _township_of_vegetable_growers(model, imitation_rate=1.0, switch_cost=0.1)
    v.trained = 0
    assert line_after_imitating(v) == GRAIN, "switched without know-how"
    v.trained = 1
    assert line_after_imitating(v) == VEG


def test_switching_needs_a_gain_above_the_switching_cost():
    # Vegetables earn 1.40 / 1.00 of grain: a 40 % gain.
    model = create_test_model()
    v = _township_of_vegetable_growers(model, imitation_rate=1.0, switch_cost=0.5)
    v.trained = 1
    assert line_after_imitating(v) == GRAIN, "switched for a gain below the switching cost"
    model.line_price[VEG] = 1.2  # now a 68 % gain
    assert line_after_imitating(v) == VEG


def test_no_imitation_keeps_product_lines():
    model = create_test_model(imitation_rate=0.0)
    before = Counter(v.product_line for v in model.village_list)
    for _ in range(6):
        model.step()
    assert Counter(v.product_line for v in model.village_list) == before


def test_prices_fall_as_a_line_saturates():
    # Every village turned to grain: grain's supply is the whole district's farm output,
    # far above its base, so its price falls; a line nobody grows fetches more.
    def prices(elasticity: float) -> np.ndarray:
        model = create_test_model(imitation_rate=0.0, price_elasticity=elasticity)
        for v in model.village_list:
            v.line = GRAIN
        model.step()
        farming = model.cells[1:, Labour.FARMING]
        output = farming * model.land_factor * np.array([v.productivity
                                                         for v in model.village_list])
        base = model.base_supply * farming.sum() / model.base_supply.sum()
        expected = (output.sum() / base[GRAIN]) ** (-1 / elasticity)
        assert model.line_price[GRAIN] == pytest.approx(expected)
        return model.line_price, model.base_supply

    (elastic, _), (inelastic, base) = prices(8.0), prices(1.0)
    assert inelastic[GRAIN] < elastic[GRAIN] < 1.0
    grown = (np.arange(len(PRODUCT_LINE_NAMES)) != GRAIN) & (base > 1.0)  # at the start
    assert grown.any() and (inelastic[grown] > 1.0).all()


def test_farm_return_combines_line_price_productivity_and_alliance():
    model = create_test_model(alliance_market_boost=0.5)
    model.step()
    v = model.village_list[0]
    model.line_price = np.full(len(PRODUCT_LINE_NAMES), 0.64)
    v.productivity, v.alliance = 1.2, -1
    # Land per farmer (fewer farmers farm more each) and the village's leadership (L2).
    model.land_factor[v.index], model.village_growth[v.index] = 1.1, 1.05
    assert v.farm_return() == pytest.approx(LINE_MULTIPLIER[v.line] * 0.64 * 1.2 * 1.1 * 1.05)
    v.alliance = 0  # a wider market: the price falls less (0.64 ** (1 / 1.5) = 0.743)
    assert v.farm_return() == pytest.approx(
        LINE_MULTIPLIER[v.line] * 0.64 ** (1 / 1.5) * 1.2 * 1.1 * 1.05)


def test_farm_returns_at_once_are_each_villages_farm_return():
    # villages.farm_returns repeats Village.farm_return's formula, vectorised for the
    # labour market and the recorder; the two must agree to the bit (alliances included).
    model = create_test_model()
    for _ in range(14):
        model.step()
    assert any(v.alliance >= 0 for v in model.village_list)
    each = np.array([v.farm_return() for v in model.village_list])
    assert np.array_equal(farm_returns(model), each)
