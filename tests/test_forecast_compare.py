"""Paired comparisons and the package x run layout, on synthetic sweep results whose paired
differences are known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from countysim.forecasting.compare import INTERVAL, compare, comparison_table, yearly
from countysim.forecasting.forecast import ForecastError, package_runs

PACKAGES = ("base", "policy")
MEMBERS = (4, 7, 9)


def synthetic_results(effect: float = 50.0, replicates: int = 4,
                      seed: int = 3) -> tuple[xr.Dataset, np.ndarray]:
    """Sweep-like results: samples = packages x members (package slowest), monthly 2025-2026.

    Each (member, replicate) has its own level (parameter and seed noise shared by both
    packages: common random numbers); the policy adds ``effect`` to ``jobs`` in 2026 plus
    a run-specific part ``0.1 * level`` (an effect that depends on the member), and
    nothing to ``rate``.
    """
    rng = np.random.default_rng(seed)
    time = pd.date_range("2025-01-01", "2026-12-01", freq="MS")
    n_members, n_samples = len(MEMBERS), len(PACKAGES) * len(MEMBERS)
    level = rng.normal(1000.0, 100.0, size=(n_members, replicates))
    jobs = np.empty((n_samples, replicates, time.size))
    rate = np.empty_like(jobs)
    in_2026 = (time.year == 2026).astype(float)
    for p in range(len(PACKAGES)):
        for m in range(n_members):
            s = p * n_members + m
            jobs[s] = level[m][:, None] + p * in_2026[None, :] * (effect + 0.1 * level[m][:, None])
            rate[s] = 0.05 + level[m][:, None] * 1e-5
    return xr.Dataset(
        {"jobs": (("sample", "replicate", "time"), jobs, {"unit_of_measure": "persons"}),
         "rate": (("sample", "replicate", "time"), rate, {"units": "1"}),
         "jobs_ytd": (("sample", "replicate", "time"), np.cumsum(jobs, axis=-1),
                      {"unit_of_measure": "persons"})},
        coords={"sample": np.arange(n_samples), "replicate": np.arange(replicates),
                "time": time,
                "scenario": ("sample", np.repeat(np.asarray(PACKAGES, dtype=object),
                                                 n_members)),
                "member": ("sample", np.tile(MEMBERS, len(PACKAGES)))}), level


def test_package_runs_pair_member_and_replicate() -> None:
    results, _ = synthetic_results(replicates=2)
    packages, index, member, replicate = package_runs(results)
    assert packages == list(PACKAGES)
    assert index.shape == (2, 6)
    np.testing.assert_array_equal(member, np.repeat(MEMBERS, 2))
    np.testing.assert_array_equal(replicate, [0, 1] * 3)
    # Run j of both packages is the same member.
    for p in range(2):
        np.testing.assert_array_equal(results["member"].values[index[p]], member)
        assert (results["scenario"].values[index[p]] == PACKAGES[p]).all()


def test_package_runs_refuses_unpaired_members() -> None:
    results, _ = synthetic_results()
    member = results["member"].values.copy()
    member[-1] = 99
    with pytest.raises(ForecastError, match="runs can only be paired over the same members"):
        package_runs(results.assign_coords(member=("sample", member)))


def test_paired_differences_are_exact_under_common_random_numbers() -> None:
    results, level = synthetic_results(effect=50.0)
    out = compare(results, "base", "policy")
    d = 50.0 + 0.1 * level.ravel()  # the known per-run effect in 2026 (member-major)
    got = out.sel(indicator="jobs", year=2026)
    assert got["n"].item() == d.size
    assert got["mean"].item() == pytest.approx(d.mean())
    assert got["sd"].item() == pytest.approx(d.std(ddof=1))
    assert got["z"].item() == pytest.approx(d.mean() / (d.std(ddof=1) / np.sqrt(d.size)))
    assert got["low"].item() == pytest.approx(np.quantile(d, (1 - INTERVAL) / 2))
    assert got["high"].item() == pytest.approx(np.quantile(d, (1 + INTERVAL) / 2))
    half = 1.6448536269514722 * d.std(ddof=1) / np.sqrt(d.size)
    assert got["mean_low"].item() == pytest.approx(d.mean() - half)
    np.testing.assert_allclose(out["difference"].sel(indicator="jobs", year=2026), d)
    # 2025: no policy yet, and the level noise cancels exactly in the pairs.
    before = out.sel(indicator="jobs", year=2025)
    assert before["mean"].item() == 0 and before["sd"].item() == 0 and before["z"].item() == 0
    assert (out.sel(indicator="rate")["mean"] == 0).all()
    assert out["member"].values.tolist() == np.repeat(MEMBERS, 4).tolist()


def test_failed_runs_are_dropped_from_both_packages() -> None:
    results, level = synthetic_results()
    jobs = results["jobs"].values.copy()
    jobs[len(MEMBERS) + 1, 2, :] = np.nan  # package "policy", member 7, replicate 2 failed
    out = compare(results.assign(jobs=(results["jobs"].dims, jobs)), "base", "policy")
    got = out.sel(indicator="jobs", year=2026)
    d = np.delete(50.0 + 0.1 * level.ravel(), 1 * 4 + 2)
    assert got["n"].item() == d.size
    assert got["mean"].item() == pytest.approx(d.mean())
    assert got["a_mean"].item() == pytest.approx(np.delete(level.ravel(), 6).mean())


def test_yearly_rule_december_for_ytd_mean_otherwise() -> None:
    results, level = synthetic_results()
    y = yearly(results, ["jobs", "jobs_ytd"])
    first = results.isel(sample=0, replicate=0)
    assert y["jobs"].isel(sample=0, replicate=0).sel(year=2025).item() == pytest.approx(
        level[0, 0])
    assert y["jobs_ytd"].isel(sample=0, replicate=0).sel(year=2025).item() == pytest.approx(
        first["jobs_ytd"].sel(time="2025-12-01").item())
    partial = yearly(results.isel(time=slice(0, 20)), ["jobs"])
    assert partial["jobs"].sel(year=2026).isnull().all()


def test_errors_and_table() -> None:
    results, _ = synthetic_results()
    with pytest.raises(ForecastError, match=r"<results>: b: 'other' is not a package of the "
                       "results; packages: base, policy"):
        compare(results, "base", "other")
    with pytest.raises(ForecastError, match="compares 'base' with itself"):
        compare(results, "base", "base")
    text = comparison_table(compare(results, "base", "policy"), year=2026)
    row = next(line for line in text.splitlines() if line.startswith("jobs "))
    assert row.rstrip().endswith("*")  # moved beyond noise
    assert "12 paired runs: 3 members x 4 seeds" in text


def test_forecast_dataset_splits_variance_between_members_and_seeds() -> None:
    """seed_variance_share is 0 when runs differ by member only, 1 by seed only."""
    from countysim.forecasting.forecast import forecast_dataset
    from countysim.forecasting.targets import targets_from_data

    targets = targets_from_data({"targets": [{
        "id": "p", "label": "p", "indicator": "urban_placements", "units": "persons/yr",
        "aggregation": "flow_per_year", "direction": ">=", "threshold": 4000,
        "years": [2025], "source": "test"}]})
    results, _ = synthetic_results(replicates=3)
    n_samples = results.sizes["sample"]
    member_only = np.broadcast_to(np.asarray(results["member"].values, float)[:, None, None],
                                  (n_samples, 3, results.sizes["time"]))
    seed_only = np.broadcast_to(np.arange(3.0)[None, :, None], member_only.shape)
    for values, expected in ((member_only, 0.0), (seed_only, 1.0)):
        ds = results.assign(urban_placements=(results["jobs"].dims, values * 100 + 300))
        fc = forecast_dataset(ds, targets)
        np.testing.assert_allclose(fc["seed_variance_share"].sel(target="p", year=2025),
                                   expected, atol=1e-12)
        assert fc.sizes["run"] == len(MEMBERS) * 3
