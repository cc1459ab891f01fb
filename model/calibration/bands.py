"""Validation bands: plausible ranges for each year of a run, with their sources.

A :class:`Band` names a statistic of a run (one value per calendar year), its range and
where the range comes from (B*, R* facts; A* figures). The calibration keeps only
ensemble members whose own runs stay inside every band through 2030 (issue 16, item 4),
and ``countysim validate`` (:mod:`countysim.validate`) checks a scenario against them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

__all__ = ["BANDS", "YEARS", "Band", "band_values", "check_bands", "failed_bands"]

YEARS = tuple(range(2025, 2031))


def _annual_mean(ds: xr.Dataset, name: str) -> np.ndarray:
    return ds[name].groupby("time.year").mean().values


def _december(ds: xr.Dataset, name: str) -> np.ndarray:
    return ds[name].sel(time=ds["time"].dt.month == 12).values


def _growth(values: np.ndarray) -> np.ndarray:
    return np.r_[np.nan, values[1:] / values[:-1] - 1.0]


def unemployment(ds: xr.Dataset) -> np.ndarray:
    """Surveyed urban unemployment rate in December."""
    return _december(ds, "urban_unemployment_rate")


def rural_income_growth(ds: xr.Dataset) -> np.ndarray:
    """Growth of the yearly mean of rural per-capita income (nominal)."""
    return _growth(_annual_mean(ds, "rural_income_per_capita"))


def urban_income_growth(ds: xr.Dataset) -> np.ndarray:
    """Growth of the yearly mean of urban per-capita income (nominal)."""
    return _growth(_annual_mean(ds, "urban_income_per_capita"))


def population_growth(ds: xr.Dataset) -> np.ndarray:
    """Growth of the resident population, December to December."""
    return _growth(_december(ds, "population"))


def largest_line_share(ds: xr.Dataset) -> np.ndarray:
    """Share of villages in the most common product line, in December."""
    lines = _december(ds, "product_line")
    n_lines = len(ds["product_line"].attrs["flag_meanings"].split())
    counts = np.stack([(lines == k).sum(axis=1) for k in range(n_lines)], axis=1)
    return counts.max(axis=1) / lines.shape[1]


def vacancies_per_seeker(ds: xr.Dataset) -> np.ndarray:
    """Open vacancies per worker seeking work (rural and urban), in December."""
    seekers = ds["workers"].sel(labour_state="seeking")
    return _december(ds, "vacancies") / np.maximum(
        seekers.sel(time=ds["time"].dt.month == 12).values, 1)


def urban_share_rise(ds: xr.Dataset) -> np.ndarray:
    """Yearly rise of the urban share of resident workers, December to December (B15)."""
    return np.r_[np.nan, np.diff(_december(ds, "urban_resident_share"))]


def income_growth_gap(ds: xr.Dataset) -> np.ndarray:
    """Rural minus urban growth of per-capita income (the gap closes when positive)."""
    return rural_income_growth(ds) - urban_income_growth(ds)


def _rural_in_december(ds: xr.Dataset, *states: str) -> np.ndarray:
    """Rural workers (all villages) in any of ``states``, in December."""
    workers = ds["village_workers"].sel(labour_state=list(states)).sum(
        ("village", "labour_state"))
    return workers.sel(time=ds["time"].dt.month == 12).values.astype(float)


def rural_workers_away(ds: xr.Dataset) -> np.ndarray:
    """Rural workers away from the farm all year: migrants and rural holders of urban
    jobs, in December."""
    return _december(ds, "rural_workers_away").astype(float)


def migrants(ds: xr.Dataset) -> np.ndarray:
    """Rural workers working outside the district, in December."""
    return _rural_in_december(ds, "migrant")


def _ytd_december(name: str) -> Callable[[xr.Dataset], np.ndarray]:
    def statistic(ds: xr.Dataset) -> np.ndarray:
        return _december(ds, name).astype(float)

    statistic.__name__ = name
    statistic.__doc__ = f"{name} in December (the year's total)."
    return statistic


@dataclass(frozen=True)
class Band:
    """A plausible range for a statistic of each year of a run.

    Attributes:
        label: What the row shows.
        low, high: Inclusive bounds.
        source: Where the band comes from.
        statistic: Maps a run's Dataset to one value per calendar year (NaN: not defined).
        percent: Show values as percentages.
        on_mean: Check the mean over runs instead of every run: for small counts (a few
            dozen a year), whose single-run values scatter by Poisson noise alone (sd ~3.6
            at 13 a year) while the band is about the process's level.
    """

    label: str
    low: float
    high: float
    source: str
    statistic: Callable[[xr.Dataset], np.ndarray]
    percent: bool = False
    on_mean: bool = False


BANDS: tuple[Band, ...] = (
    Band("urban unemployment, Dec", 0.03, 0.07,
         "R6: surveyed rate 5.1-5.2 % (2024-25); band 3-7 %", unemployment, True),
    Band("rural income growth", 0.04, 0.09,
         "R1 +7.1 %, R4 +6.6 %, R7 +5.8 %, R9 +5.6 %, R10 +6.9 %", rural_income_growth, True),
    Band("urban income growth", 0.025, 0.07,
         "R1 +5.0 %, R4 +4.6 %, R7 +4.3 %, R9 +5.5 %, R10 +4.8 %", urban_income_growth, True),
    Band("population growth", 0.0, 0.015, "B2: +0.4 to +2.6 %/yr (2015-21)",
         population_growth, True),
    Band("largest product line, share of villages", 0.0, 0.6,
         "no line in more than 60 % of villages without prices to justify it",
         largest_line_share, True),
    Band("urban share of resident workers, rise", 0.01, 0.025,
         "B15: Litong's urban share rose ~2 points a year in 2010-20; R15: Ningxia's ~1.5 "
         "in 2017-23", urban_share_rise, True),
    Band("rural minus urban income growth", 0.005, 0.025,
         "R1, R4, R7, R9, R10: rural income grows 1.1-2.1 points faster than urban",
         income_growth_gap, True),
    Band("rural workers away from the farm, Dec", 26_000, 78_000,
         "R2, R3: 831,000 of Ningxia's rural workers work away from home; x 6.3 % (the "
         "district's share of its population) = 52,000; half to 1.5 times, as 'away from "
         "home' (outside the township) is not the model's migrant + urban job",
         rural_workers_away),
    Band("migrants (outside the district), Dec", 1.0, 52_000,
         "R2, R3: positive, and no more than all of the district's share of those away "
         "from home", migrants),
    Band("vacancies per seeker, Dec", 0.3, 3.0,
         "assumption: job-to-applicant ratios (求人倍率) of 1-1.5 in the 2020s",
         vacancies_per_seeker),
    Band("cadres promoted a year (mean)", 29, 116, "A7: 58 in 2025; half to twice that",
         _ytd_december("cadres_promoted_ytd"), on_mean=True),
    Band("cadres advanced a year (mean)", 42, 168, "A8: 84 in 2025; half to twice that",
         _ytd_december("cadres_advanced_ytd"), on_mean=True),
    Band("cadres removed a year (mean)", 6.5, 26, "A9: 13 in 2025; half to twice that",
         _ytd_december("cadres_removed_ytd"), on_mean=True),
)


def band_values(runs: Sequence[xr.Dataset], band: Band) -> np.ndarray:
    """The band's statistic for every run and year, shape ``(runs, len(YEARS))``."""
    out = np.full((len(runs), len(YEARS)), np.nan)
    for i, ds in enumerate(runs):
        years = np.unique(ds["time"].dt.year.values)
        values = band.statistic(ds)
        for j, year in enumerate(YEARS):
            k = np.flatnonzero(years == year)
            if k.size and k[0] < len(values):
                out[i, j] = values[k[0]]
    return out


def check_bands(runs: Sequence[xr.Dataset],
                bands: Sequence[Band] = BANDS) -> list[tuple[Band, np.ndarray, np.ndarray]]:
    """Each band with its values (runs x years) and whether every run is inside, per year."""
    rows = []
    for band in bands:
        values = band_values(runs, band)
        checked = np.nanmean(values, axis=0, keepdims=True) if band.on_mean else values
        defined = ~np.isnan(checked)
        inside = ~defined | ((checked >= band.low) & (checked <= band.high))
        rows.append((band, values, inside.all(axis=0)))
    return rows


def failed_bands(runs: Sequence[xr.Dataset], bands: Sequence[Band] = BANDS) -> list[str]:
    """Labels of the bands some run leaves in some year (empty: inside every band)."""
    return [band.label for band, _, inside in check_bands(runs, bands) if not inside.all()]
