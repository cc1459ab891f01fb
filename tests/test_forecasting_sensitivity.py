"""Sensitivity along time (countysim.forecasting.sensitivity) on functions with known indices."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from countysim.forecasting import sensitivity as sa
from countysim.sweeps.experiment import draw_unit_samples

YEARS = [2026, 2027, 2028]


def fake_results(kind: str, options: dict, names: list[str], fn, seed: int,
                 replicates: int = 2) -> xr.Dataset:
    """A results Dataset shaped like open_results: the design drawn as sweeps draw it.

    ``fn(unit, year)`` gives the outcome of each design point; replicates add no noise
    so the known indices apply exactly.
    """
    unit = draw_unit_samples(kind, options, len(names), seed)
    values = np.stack([fn(unit, year) for year in YEARS], axis=-1)          # sample, year
    y = np.repeat(values[:, None, :], replicates, axis=1)                    # + replicate
    ds = xr.Dataset(
        {"y": (("sample", "replicate", "year"), y),
         "design_unit": (("sample", "parameter"), unit),
         "status": (("sample", "replicate"),
                    np.full((len(unit), replicates), "done", dtype=object))},
        coords={"sample": np.arange(len(unit)), "replicate": np.arange(replicates),
                "parameter": names, "year": YEARS})
    ds.attrs["design"] = json.dumps({"kind": kind, "options": options})
    ds.attrs["salib_problem"] = json.dumps({"num_vars": len(names), "names": names,
                                            "bounds": [[0.0, 1.0]] * len(names)})
    return ds


def take_y(ds: xr.Dataset) -> xr.DataArray:
    return ds["y"]


def ishigami(unit: np.ndarray, year: int) -> np.ndarray:
    """Ishigami (a=7, b=0.1) on [-pi, pi]^3; scaled by year (indices are scale-free)."""
    x = -np.pi + 2 * np.pi * unit
    f = np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])
    return (year - 2025) * f


# Analytic indices of the Ishigami function (Ishigami & Homma 1990; Saltelli et al. 2008,
# "Global Sensitivity Analysis: The Primer", sec. 4.9): V = a^2/8 + b pi^4/5 + b^2 pi^8/18
# + 1/2, V1 = (1 + b pi^4/5)^2 / 2, V2 = a^2/8, VT3 = 8 b^2 pi^8/225.
S1_TRUE = np.array([0.3139, 0.4424, 0.0])
ST_TRUE = np.array([0.5576, 0.4424, 0.2437])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sobol_reproduces_ishigami(seed):
    ds = fake_results("sobol", {"samples": 4096, "second_order": False}, ["x1", "x2", "x3"],
                      ishigami, seed)
    out = sa.analyse(ds, {"y": take_y}, num_resamples=200, seed=seed)
    # N = 4,096 Saltelli groups: SALib's Jansen/Saltelli estimators have standard errors of
    # about 0.01-0.02 for these indices (the bootstrap *_conf are ~0.03 at 95 %), so 0.05
    # is ~3 standard errors: a wrong estimator or a shuffled design (S1 of x3 = 0.24 or x1
    # and x2 swapped, 0.13 apart) fails it, seed noise does not.
    for year in YEARS:
        s = out.sel(outcome="y", year=year)
        np.testing.assert_allclose(s.S1.values, S1_TRUE, atol=0.05)
        np.testing.assert_allclose(s.ST.values, ST_TRUE, atol=0.05)
        # The intervals are real intervals: positive and not absurdly wide.
        assert (s.S1_conf.values > 0).all() and (s.ST_conf.values < 0.1).all()
    assert (out.n_groups.values == 4096).all()


def test_sobol_failed_runs_drop_whole_groups():
    names = ["x1", "x2", "x3"]
    ds = fake_results("sobol", {"samples": 4096, "second_order": False}, names, ishigami, 4)
    rng = np.random.default_rng(np.random.SeedSequence(99))
    n = ds.sizes["sample"]
    # 3 % of design points lose every replicate (group dropped), and 10 % lose one of two
    # (kept: the other replicate is the point's mean).
    lost = rng.choice(n, size=int(0.03 * n), replace=False)
    half = rng.choice(np.setdiff1d(np.arange(n), lost), size=int(0.1 * n), replace=False)
    status = ds.status.values.copy()
    status[lost, :] = "failed"
    status[half, 0] = "failed"
    y = ds.y.values.copy()
    y[lost, :, :] = np.nan
    y[half, 0, :] = np.nan
    ds = ds.assign(status=(("sample", "replicate"), status), y=(ds.y.dims, y))
    with pytest.warns(UserWarning, match="sobol blocks dropped for failed runs"):
        out = sa.analyse(ds, {"y": take_y}, num_resamples=200, seed=4)
    groups_lost = np.unique(lost // 5).size   # D + 2 = 5 rows per group
    assert (out.n_groups.values == 4096 - groups_lost).all()
    s = out.sel(outcome="y", year=2027)
    np.testing.assert_allclose(s.S1.values, S1_TRUE, atol=0.05)  # tolerance as above
    np.testing.assert_allclose(s.ST.values, ST_TRUE, atol=0.05)


def test_failed_values_without_status_are_not_used():
    """A NaN outcome of a run marked done (e.g. undefined growth) is treated as missing."""
    ds = fake_results("sobol", {"samples": 256, "second_order": False}, ["a", "b"],
                      lambda u, year: u[:, 0] + 2 * u[:, 1], 5)
    y = ds.y.values.copy()
    y[:4, :, 0] = np.nan          # the first group (4 rows) has no value in 2026 only
    ds = ds.assign(y=(ds.y.dims, y))
    out = sa.analyse(ds, {"y": take_y}, num_resamples=50)
    assert out.n_groups.sel(outcome="y").values.tolist() == [255, 256, 256]


COEFFS = np.array([3.0, -1.5, 0.0, 0.25])


@pytest.mark.parametrize("seed", [1, 2])
def test_morris_linear_function_exact(seed):
    """For y = sum a_i u_i every elementary effect of factor i is a_i exactly."""
    names = ["a", "b", "c", "d"]
    ds = fake_results("morris", {"trajectories": 12, "levels": 4}, names,
                      lambda u, year: (year - 2024) * u @ COEFFS, seed)
    out = sa.analyse(ds, {"y": take_y}, num_resamples=100, seed=seed)
    for year in YEARS:
        s = out.sel(outcome="y", year=year)
        k = year - 2024
        np.testing.assert_allclose(s.mu_star.values, k * np.abs(COEFFS), atol=1e-9)
        np.testing.assert_allclose(s.mu.values, k * COEFFS, atol=1e-9)
        np.testing.assert_allclose(s.sigma.values, 0.0, atol=1e-9)
    assert out.attrs["method"] == "morris" and (out.n_groups.values == 12).all()


def test_morris_drops_trajectory_with_failed_point():
    names = ["a", "b", "c", "d"]
    ds = fake_results("morris", {"trajectories": 10, "levels": 4}, names,
                      lambda u, year: u @ COEFFS + u[:, 0] * u[:, 1], 6)
    status = ds.status.values.copy()
    status[[7, 22], :] = "failed"        # trajectories 1 and 4 (rows 5-9, 20-24)
    y = ds.y.values.copy()
    y[[7, 22]] = np.nan
    ds = ds.assign(status=(("sample", "replicate"), status), y=(ds.y.dims, y))
    with pytest.warns(UserWarning, match="2 of 10 morris blocks dropped"):
        out = sa.analyse(ds, {"y": take_y}, num_resamples=50)
    assert (out.n_groups.values == 8).all()
    assert np.isfinite(out.mu_star.values).all()
    assert out.mu_star.sel(factor="c").max() < 1e-9 + out.mu_star.sel(factor="a").min()


def test_not_a_sensitivity_design():
    ds = fake_results("morris", {"trajectories": 4, "levels": 4}, ["a"],
                      lambda u, year: u[:, 0], 1)
    ds.attrs["design"] = json.dumps({"kind": "lhs", "options": {}})
    with pytest.raises(ValueError, match="design kind 'morris' or 'sobol'"):
        sa.analyse(ds, {"y": take_y})


def test_yearly_reducer_and_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    time = xr.date_range("2026-01-01", "2027-06-01", freq="MS", use_cftime=False)
    da = xr.DataArray(np.arange(2 * 1 * len(time) * 3, dtype=float).reshape(2, 1, -1, 3),
                      dims=("sample", "replicate", "time", "village"),
                      coords={"time": time})
    ds = xr.Dataset({"v": da})
    total = sa.yearly("v", "sum", village="min")(ds)
    assert total.dims == ("sample", "replicate", "year")
    assert total.year.values.tolist() == [2026]               # 2027 has only 6 months
    np.testing.assert_allclose(total.values[0, 0, 0], sum(3 * m for m in range(12)))
    dec = sa.yearly("v", "december")(ds)
    assert dec.year.values.tolist() == [2026]
    np.testing.assert_allclose(dec.values[0, 0, 0], (33 + 34 + 35) / 3)  # December 2026
    ishi = fake_results("sobol", {"samples": 64, "second_order": False}, ["x1", "x2", "x3"],
                        ishigami, 1)
    out = sa.analyse(ishi, {"y": take_y, "y2": take_y}, num_resamples=20)
    fig = sa.plot_indices(out)
    fig.savefig(tmp_path / "indices.png")
    assert len([a for a in fig.axes if a.get_visible()]) == 2


def test_sobol_second_order_design_blocks():
    """With second_order = true a Saltelli group has 2D + 2 rows; the first- and
    total-order indices must come out the same as without (tolerance as above)."""
    ds = fake_results("sobol", {"samples": 4096, "second_order": True}, ["x1", "x2", "x3"],
                      ishigami, 8)
    out = sa.analyse(ds, {"y": take_y}, num_resamples=100, seed=8)
    assert out.attrs["block_size"] == 8 and (out.n_groups.values == 4096).all()
    s = out.sel(outcome="y", year=2026)
    np.testing.assert_allclose(s.S1.values, S1_TRUE, atol=0.05)
    np.testing.assert_allclose(s.ST.values, ST_TRUE, atol=0.05)
