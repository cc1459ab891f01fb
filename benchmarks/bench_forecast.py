"""Benchmark of a forecast's evaluation: targets and probabilities on the shipped forecast's
size (5 packages x 300 runs, 2025-2030, 130 villages), without running the model.

Run with ``make bench``. The model runs dominate a forecast (~0.7 CPU-s each, 1,500 of
them); this checks that turning their results into the forecast Dataset stays a small
part of it (seconds, not minutes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from countysim.forecasting.forecast import forecast_dataset
from countysim.forecasting.targets import load_forecast_targets

TARGETS = (Path(__file__).resolve().parent.parent / "scenarios" / "targets"
           / "litong_2030_illustrative.toml")
PACKAGES, MEMBERS, REPLICATES, VILLAGES = 5, 100, 3, 130


@pytest.fixture(scope="module")
def results() -> xr.Dataset:
    """Sweep-shaped results with random values of the targets' indicators."""
    rng = np.random.default_rng(0)
    time = pd.date_range("2025-01-01", "2030-12-01", freq="MS")
    shape = (PACKAGES * MEMBERS, REPLICATES, time.size)
    dims = ("sample", "replicate", "time")

    def series(mean: float, sd: float) -> tuple:
        return dims, rng.normal(mean, sd, size=shape)

    ds = xr.Dataset(
        {"urban_placements": series(400, 40), "urban_new_jobs_ytd": series(3500, 300),
         "rural_nonfarm_entrants": series(2300, 200),
         "rural_income_per_capita": series(24000, 2000), "legacy_open": series(1200, 100),
         "urban_unemployment_rate": series(0.05, 0.005),
         "collective_income_growth_pilot": series(0.1, 0.03),
         "collective_income": ((*dims, "village"),
                               rng.lognormal(np.log(20000), 0.8, (*shape, VILLAGES))),
         "status": (("sample", "replicate"), np.full(shape[:2], "done", dtype=object))},
        coords={"sample": np.arange(shape[0]), "replicate": np.arange(REPLICATES),
                "time": time, "village": np.arange(VILLAGES),
                "township": ("village", np.repeat([f"T{i:02d}" for i in range(13)], 10)),
                "package": ("sample", np.repeat([f"p{i}" for i in range(PACKAGES)], MEMBERS)),
                "member": ("sample", np.tile(np.arange(MEMBERS), PACKAGES))})
    ds["collective_income"].attrs["unit_of_measure"] = "yuan/month"
    ds["rural_income_per_capita"].attrs["unit_of_measure"] = "yuan/yr"
    return ds


def test_forecast_dataset(benchmark, results: xr.Dataset) -> None:
    targets = load_forecast_targets(TARGETS)
    fc = benchmark.pedantic(forecast_dataset, args=(results, targets), rounds=3,
                            warmup_rounds=1)
    assert fc.sizes["run"] == MEMBERS * REPLICATES
    assert int(fc["n"].sel(target="urban_placements", year=2030).min()) == MEMBERS * REPLICATES
