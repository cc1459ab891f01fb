"""The start's problem queues: the mean-field stationary stock with owners who turn over."""

import numpy as np
import pytest
from countysim.core.frontline import _draw_rows, _kept, _PoolStock, stationary_stock
from countysim.core.problems import Origin

RNG = np.random.default_rng(20261207)
HOLD = RNG.uniform(0.005, 0.2, (6, 4))  # 6 difficulties x 4 owners, monthly odds
SHARE = np.array([0.4, 0.3, 0.2, 0.1])
SUCCESSOR = np.array([0.0, 0.0, 0.5, 0.5])


def test_without_turnover_each_owner_keeps_its_cases_until_resolved():
    per_inflow, owners = stationary_stock(HOLD, SHARE, 0.0, SUCCESSOR)
    # At the month's end: what is left of each month's cases after its resolutions.
    np.testing.assert_allclose(owners, SHARE * (1 - HOLD) / HOLD)
    np.testing.assert_allclose(per_inflow, owners.sum(axis=1))


@pytest.mark.parametrize("turnover", [0.005, 0.02, 0.1])
def test_the_stock_resolves_its_inflow_and_sums_to_its_owners(turnover):
    per_inflow, owners = stationary_stock(HOLD, SHARE, turnover, SUCCESSOR)
    # Stationary: the month's resolutions, of the stock left at the last month's end and
    # of the month's new cases, are the month's inflow, for each difficulty. Not by
    # construction: it holds only if the hand-overs neither lose nor make cases.
    np.testing.assert_allclose((HOLD * (owners + SHARE)).sum(axis=1), 1.0)
    np.testing.assert_allclose(owners.sum(axis=1), per_inflow)
    # Hand-overs to owners who resolve faster than the average new case's owner shorten
    # the queue; to slower owners they lengthen it.
    fast = np.array([0.0, 0.0, 0.0, 1.0])
    slow_hold = HOLD.copy()
    slow_hold[:, 3] = HOLD.min() / 2
    assert (stationary_stock(HOLD + (fast * 0.5), SHARE, turnover, fast)[0]
            < stationary_stock(HOLD + (fast * 0.5), SHARE, 0.0, fast)[0]).all()
    assert (stationary_stock(slow_hold, SHARE, turnover, fast)[0]
            > stationary_stock(slow_hold, SHARE, 0.0, fast)[0]).all()


def test_the_formula_is_the_long_run_mean_of_a_simulated_queue():
    # A queue of one difficulty held by 4 kinds of owner, 50 posts each: each month
    # Poisson(inflow) cases go to the posts by their kind's share; each case is resolved
    # at its owner's odds; then each owner leaves at `turnover` and its whole casebook
    # passes to one successor, a post of the kinds SUCCESSOR weighs (the run's order and
    # hand-over). Over months 300-1000 (time constant ~1 / (0.01 + 0.03) = 25 months) the
    # stock (~2,000 cases) has a seed sd of ~1 % (200 posts' lumpy hand-overs), so 3 % on
    # each of 3 seeds; without the hand-over term the formula is 16 % off.
    hold = np.array([0.01, 0.02, 0.2, 0.1])
    turnover, inflow, per_kind = 0.03, 100.0, 50
    expect = inflow * stationary_stock(hold[None, :], SHARE, turnover, SUCCESSOR)[1][0]
    alone = inflow * stationary_stock(hold[None, :], SHARE, 0.0, SUCCESSOR)[1][0]
    assert abs(alone.sum() / expect.sum() - 1) > 0.1
    kind = np.repeat(np.arange(4), per_kind)
    post_share = SHARE[kind] / per_kind
    post_successor = SUCCESSOR[kind] / per_kind
    for seed in (1, 2, 3):
        rng = np.random.default_rng(seed)
        held = np.zeros(kind.size, dtype=np.int64)
        means = []
        for month in range(1000):
            held += rng.multinomial(rng.poisson(inflow), post_share)
            held -= rng.binomial(held, hold[kind])
            for j in np.flatnonzero(rng.random(kind.size) < turnover):
                moved, held[j] = held[j], 0
                held[rng.choice(kind.size, p=post_successor)] += moved
            if month >= 300:
                means.append(np.bincount(kind, weights=held, minlength=4))
        got = np.mean(means, axis=0)
        np.testing.assert_allclose(got.sum(), expect.sum(), rtol=0.03)
        # and by kind of owner, within 10 % (a kind's stock is lumpier)
        np.testing.assert_allclose(got, expect, rtol=0.10)


@pytest.mark.parametrize("seed", range(5))
def test_draw_rows_picks_the_column_a_comparison_with_every_column_picks(seed):
    # The bisection's pick is the count of the row's cumulative weights below the
    # uniform, as a comparison with every column counts it: with zero weights, ties,
    # an all-zero row and a row with a NaN.
    g = np.random.default_rng(seed)
    weights = np.round(g.random((40, 1 + 37 * seed)), 1) * (g.random((40, 1 + 37 * seed)) < 0.7)
    weights[3] = 0.0
    weights[5, 0] = np.nan
    rows = np.sort(g.integers(0, 40, 500))
    cum = np.cumsum(weights, axis=1)[rows]
    u = np.random.default_rng(seed).random(rows.size) * cum[:, -1]
    with np.errstate(invalid="ignore"):
        expect = np.minimum((cum < u[:, None]).sum(axis=1), weights.shape[1] - 1)
    np.testing.assert_array_equal(_draw_rows(weights, rows, np.random.default_rng(seed)), expect)


@pytest.mark.parametrize("origin", [Origin.VILLAGE, Origin.LEGACY])
def test_pool_stock_odds_are_the_model_logits_to_the_bit(origin):
    # The chunks' negated log-odds, built from the logit's terms, give the same r_j as
    # the model's logit itself.
    from countysim import CountyModel

    model = CountyModel(spinup_months=0, rng=3)
    g = np.random.default_rng(4)
    skill, effort, d = g.random((1, 30)), g.random((1, 30)), g.random(50)
    stock = _PoolStock(model, d, skill, effort, origin, np.full(30, 1 / 30), 0.01,
                       np.full(30, 1 / 30))
    logit = model._logit(skill, d[:, None], effort, origin)
    expect = _kept(1.0 / (1.0 + np.exp(-logit)), 0.01)
    np.testing.assert_array_equal(stock._kept(slice(None)).view(np.uint64),
                                  expect.view(np.uint64))
