"""The start's problem queues: the mean-field stationary stock with owners who turn over."""

import numpy as np
import pytest
from countysim.core.frontline import stationary_stock

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
