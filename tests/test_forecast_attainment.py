"""Attainment probabilities: known answers on synthetic outcomes, the edge cases (always met,
never met, no runs), and the stated coverage of the Jeffreys interval on simulated
Bernoulli data."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from countysim.forecasting.attainment import FAN_QUANTILES, fan, jeffreys_interval, probability
from scipy import stats


def outcomes(k: int, n: int, nan: int = 0) -> xr.DataArray:
    """k successes in n runs, then ``nan`` runs without an outcome."""
    values = np.r_[np.ones(k), np.zeros(n - k), np.full(nan, np.nan)]
    return xr.DataArray(values, dims="run")


def test_probability_is_the_share_and_the_interval_is_jeffreys() -> None:
    p = probability(outcomes(7, 20, nan=3), "run")
    assert p.n.item() == 20  # NaN runs are left out, not counted as misses
    assert p.probability.item() == pytest.approx(0.35)
    low, high = stats.beta.ppf([0.025, 0.975], 7.5, 13.5)
    assert p.probability_low.item() == pytest.approx(low)
    assert p.probability_high.item() == pytest.approx(high)
    assert p.probability_low.item() < 0.35 < p.probability_high.item()


def test_always_met_gives_one_and_never_met_gives_zero() -> None:
    met = probability(outcomes(40, 40), "run")
    assert met.probability.item() == 1.0 and met.probability_high.item() == 1.0
    # With 40 runs, all met, the data cannot exclude p slightly below 1.
    assert 0.9 < met.probability_low.item() < 1.0
    never = probability(outcomes(0, 40), "run")
    assert never.probability.item() == 0.0 and never.probability_low.item() == 0.0
    assert 0.0 < never.probability_high.item() < 0.1
    # The interval narrows as runs accumulate.
    assert probability(outcomes(400, 400), "run").probability_low.item() > \
        met.probability_low.item()


def test_no_outcome_gives_nan_and_n_zero() -> None:
    p = probability(outcomes(0, 0, nan=5), "run")
    assert p.n.item() == 0
    assert np.isnan(p.probability.item())
    assert np.isnan(p.probability_low.item()) and np.isnan(p.probability_high.item())


def test_reduces_several_run_dims_and_keeps_the_others() -> None:
    rng = np.random.default_rng(1)
    attained = xr.DataArray((rng.random((3, 5, 4, 2)) < 0.5).astype(float),
                            dims=("member", "replicate", "target", "year"),
                            coords={"target": list("abcd"), "year": [2026, 2027]})
    p = probability(attained, ("member", "replicate"))
    assert p.probability.dims == ("target", "year")
    assert (p.n == 15).all()
    np.testing.assert_allclose(p.probability, attained.mean(("member", "replicate")))


def test_rejects_values_other_than_zero_one_nan() -> None:
    with pytest.raises(ValueError, match="attained must hold 0, 1 or NaN"):
        probability(xr.DataArray([0.0, 0.5, 1.0], dims="run"), "run")


@pytest.mark.parametrize("n", [20, 60, 200])
def test_interval_covers_at_its_stated_rate(n: int) -> None:
    """Coverage of the 95 % interval on simulated Bernoulli data.

    For each of 19 true probabilities p = 0.05, ..., 0.95 and each n, 2,000 experiments
    of n runs are simulated (fixed seeds). Jeffreys' coverage oscillates with p (the
    binomial is discrete) around the nominal rate; Brown, Cai & DasGupta (2001, fig. 5)
    show its mean coverage over p within about 1 point of 95 % and its worst points a
    few points below for n >= 20. Tolerances: the mean over p within 0.93-0.97 (the
    Monte Carlo sd of a mean over 38,000 experiments is ~0.001, so this is the method's
    own deviation, not noise) and no single p below 0.90 (each p's coverage has Monte
    Carlo sd ~0.005).
    """
    rng = np.random.default_rng(np.random.SeedSequence([20261127, n]))
    ps = np.linspace(0.05, 0.95, 19)
    reps = 2000
    coverage = []
    for p in ps:
        k = rng.binomial(n, p, size=reps)
        low, high = jeffreys_interval(k, np.full(reps, n))
        coverage.append(np.mean((low <= p) & (p <= high)))
    coverage = np.asarray(coverage)
    assert 0.93 <= coverage.mean() <= 0.97, coverage
    assert coverage.min() >= 0.90, coverage
    # Through probability(): the same interval from the xarray interface.
    k = rng.binomial(1, 0.3, size=(reps, n)).astype(float)
    da = probability(xr.DataArray(k, dims=("experiment", "run")), "run")
    covered = ((da.probability_low <= 0.3) & (0.3 <= da.probability_high)).mean().item()
    assert 0.92 <= covered <= 0.98


def test_fan_quantiles_are_nan_robust() -> None:
    values = xr.DataArray(np.r_[np.arange(101.0), np.nan][:, None] * [1.0, 2.0],
                          dims=("run", "year"), coords={"year": [2026, 2027]})
    f = fan(values, "run")
    assert f.dims == ("year", "quantile")
    np.testing.assert_allclose(f.sel(year=2026), np.asarray(FAN_QUANTILES) * 100)
    np.testing.assert_allclose(f.sel(year=2027), np.asarray(FAN_QUANTILES) * 200)
    empty = fan(xr.DataArray(np.full((4, 2), np.nan), dims=("run", "year")), "run")
    assert empty.isnull().all()
    two = fan(values.expand_dims(member=2), ("member", "run"))
    np.testing.assert_allclose(two.sel(year=2026), np.asarray(FAN_QUANTILES) * 100)
