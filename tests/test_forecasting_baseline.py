"""Naive baselines of the district's own series (countysim.forecasting.baseline)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from countysim.forecasting import baseline
from scipy import stats


def test_packaged_series_carry_sources():
    series = baseline.load_series()
    pop = series["population"]
    assert pop.years == tuple(range(2015, 2022)) and pop.values[-1] == 46.3
    assert pop.source.startswith("B2") and series["output_index"].source.startswith("B7")
    out = series["output_index"].to_series()
    assert out.index[0] == pd.Period("2020", "Y") and out.isna().sum() == 4


def test_output_baseline_matches_closed_form():
    """Reference: a random walk with drift on log output observed at 2020 (log 1 = 0) and
    2025 (log 1.043^5), the drift estimated from them: the drift is 5 log(1.043) / 5 with
    variance sd^2 / 5, so h years after 2025 the log forecast is log(1.043^5) + h log(1.043)
    with variance sd^2 (h + h^2 / 5). Worked by hand for 2030 (h = 5, sd = 0.02):
    median 1.043^10 = 1.52350, sd of the log 0.02 sqrt(10) = 0.063246,
    95 % quantile 1.52350 exp(1.644854 x 0.063246) = 1.69052."""
    b = baseline.naive_baseline()
    q2030 = b.output_index.sel(year=2030)
    np.testing.assert_allclose(q2030.sel(quantile=0.5), 1.52350, rtol=1e-5)
    np.testing.assert_allclose(q2030.sel(quantile=0.95), 1.69052, rtol=1e-5)
    for h in range(1, 6):
        sd = 0.02 * np.sqrt(h + h**2 / 5)
        expect = 1.2343023 * 1.043**h * np.exp(sd * stats.norm.ppf(b["quantile"]))
        np.testing.assert_allclose(b.output_index.sel(year=2025 + h), expect, rtol=1e-5)
    # A wider assumed sd widens the band, not the median.
    wide = baseline.naive_baseline(output_growth_sd=0.04).output_index.sel(year=2030)
    assert wide.sel(quantile=0.95) > q2030.sel(quantile=0.95)
    np.testing.assert_allclose(wide.sel(quantile=0.5), q2030.sel(quantile=0.5), rtol=1e-9)


def test_population_baseline_reference_values():
    b = baseline.naive_baseline()
    assert "smooth trend" in b.population.attrs["method"]
    # Regression values: statsmodels 0.15.0, UnobservedComponents('smooth trend') fitted
    # by MLE on log B2 (this module, 2026-11-27). Quantiles 5/25/50/75/95 %, persons.
    np.testing.assert_allclose(
        b.population.sel(year=2030),
        [413856.0, 451419.1, 479519.4, 509369.0, 555601.3], rtol=2e-3)
    # Independent check of the median: ETS(A,A,N) (Holt, statsmodels' ETSModel) by MLE on
    # the levels, a near-equivalent model in another implementation: 2030 within 0.5 %.
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = baseline.load_series()["population"].to_series()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        holt = ETSModel(y, error="add", trend="add").fit(disp=False)
    holt_2030 = holt.forecast(9).iloc[-1] * 1e4
    np.testing.assert_allclose(b.population.sel(year=2030, quantile=0.5), holt_2030, rtol=5e-3)
    # Observed years reproduce the data; the band widens with the horizon.
    np.testing.assert_allclose(b.population_observed.sel(year=2021), 463000.0)
    width = (b.population.sel(quantile=0.95) - b.population.sel(quantile=0.05)).sel(
        year=slice(2022, 2030))
    assert (np.diff(width.values) > 0).all()


def test_bad_series_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[series.population]\nunit = "1"\nsource = "x"\nyears = [1, 2]\n'
                    "values = [1.0]\n")
    with pytest.raises(ValueError, match=r"s.toml: series.population.values: expected one"):
        baseline.load_series(path)
    path.write_text('[series.population]\nunit = "1"\nyears = [1, 2]\nvalues = [1.0, 2.0]\n')
    with pytest.raises(baseline.SeriesError, match=r"series.population.source: missing"):
        baseline.load_series(path)
    with pytest.raises(baseline.SeriesError, match=r"series file .* does not exist"):
        baseline.load_series(tmp_path / "nope.toml")


def test_plot_beside_model(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    b = baseline.naive_baseline()
    years = np.arange(2025, 2031)
    q = b["quantile"].values
    model = xr.DataArray(1.04 ** (years - 2025)[:, None] * (1 + 0.02 * (q[None, :] - 0.5)),
                         dims=("year", "quantile"), coords={"year": years, "quantile": q})
    ax = baseline.plot_baseline(b, "output_index", model=model, rebase=2025)
    ax.figure.savefig(tmp_path / "b.png")
    assert "2025 = 1" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "model median" in labels and "naive baseline median" in labels
