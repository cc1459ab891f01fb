"""Long-run plausibility: the model's 2025-2030 paths against bands from the district's
own series and regional comparators.

A forecasting model must stay credible when nothing changes: unemployment near the
surveyed rate, incomes growing as the region's do, population on its trend, no product
line taking over the villages, cadre outcomes near their 2025 level. Each :class:`Band`
names its source (B*, R* facts; A* figures). ``countysim validate`` (``make validate``)
runs a scenario over several seeds that the calibration never saw and prints one row per
band and year; it exits 1 if any run leaves a band.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .core.county import run
from .core.scenario import Scenario, load_scenario

__all__ = ["BANDS", "STOCKS", "Band", "Stock", "band_values", "check_bands", "check_stocks",
           "format_bands", "format_stocks", "settled"]

YEARS = tuple(range(2025, 2031))
VALIDATION_SEEDS = tuple(range(100, 105))  # never used by the calibration (0-19, its root)
# The settled check's default: the legacy backlog's run-to-run sd reaches ~6 % by 2030
# (20 seeds, 700-719), so five seeds give a mean's se of ~2.7 % against the 3 % tolerance;
# twenty give ~1.3 %.
SETTLED_SEEDS = tuple(range(100, 120))


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
    return _rural_in_december(ds, "migrant", "urban_job")


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


def format_bands(rows: list[tuple[Band, np.ndarray, np.ndarray]]) -> str:
    """A plain-text table: per band and year, mean [min, max] over runs; ✗ outside."""
    def fmt(x: float, band: Band) -> str:
        if band.percent:
            return f"{100 * x:.1f}"
        return f"{x / 1000:.1f}k" if abs(x) >= 1000 else f"{x:.3g}"

    head = f"{'indicator':<40} {'band':>13}  " + "  ".join(f"{y:>19}" for y in YEARS)
    lines = [head, "-" * len(head)]
    for band, values, ok in rows:
        unit = " %" if band.percent else ""
        cells = []
        for j in range(len(YEARS)):
            v = values[:, j]
            if np.isnan(v).all():
                cells.append(f"{'-':>19}")
                continue
            cell = (f"{fmt(np.nanmean(v), band)} [{fmt(np.nanmin(v), band)}, "
                    f"{fmt(np.nanmax(v), band)}]{'' if ok[j] else ' ✗'}")
            cells.append(f"{cell:>19}")
        bounds = f"{fmt(band.low, band)}-{fmt(band.high, band)}{unit}"
        lines.append(f"{band.label:<40} {bounds:>13}  " + "  ".join(cells))
    lines.append("")
    lines.extend(f"  {band.label}: {band.source}" for band, _, _ in rows)
    return "\n".join(lines)


def validate(scenario: Scenario | str | Path, seeds: Sequence[int] = VALIDATION_SEEDS,
             until: str = "2030-12") -> tuple[str, bool]:
    """Run ``scenario`` for each seed to ``until`` and check every band.

    Returns:
        The table as text, and whether every run stayed inside every band.
    """
    scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    runs = [run(scenario, seed=s, until=until) for s in seeds]
    rows = check_bands(runs)
    ok = all(r[2].all() for r in rows)
    header = (f"countysim validate · scenario {scenario.name} · seeds "
              f"{_seed_list(seeds)} · values: mean [min, max] over seeds\n")
    return header + format_bands(rows), ok


def _seed_list(seeds: Sequence[int]) -> str:
    """Seeds as text: ``100-119`` when they run on without a gap, else listed."""
    seeds = list(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


# ------------------------------------------------------------------ settled stocks

SETTLED_TOLERANCE = 0.03  # issue 15: every stock within +-3 % of its trend through 2030
SETTLED_SCENARIO = Path("scenarios/policies_2024_forever.toml")


def _workers(state: str) -> Callable[[xr.Dataset], np.ndarray]:
    def statistic(ds: xr.Dataset) -> np.ndarray:
        return ds["workers"].sel(labour_state=state).groupby("time.year").mean().values

    statistic.__name__ = state
    return statistic


def _variable(name: str) -> Callable[[xr.Dataset], np.ndarray]:
    def statistic(ds: xr.Dataset) -> np.ndarray:
        return _annual_mean(ds, name)

    statistic.__name__ = name
    return statistic


def flat(ds: xr.Dataset, scenario: Scenario) -> np.ndarray:
    """No trend: the district's households and posts do not grow."""
    return np.ones(len(np.unique(ds["time"].dt.year.values)))


def labour_demand(ds: xr.Dataset, scenario: Scenario) -> np.ndarray:
    """Urban labour demand's trend: output (B7) to the employment elasticity."""
    return _annual_mean(ds, "output_index") ** scenario.employment_elasticity


def labour_force(ds: xr.Dataset, scenario: Scenario) -> np.ndarray:
    """The labour force's trend (B2)."""
    return _annual_mean(ds, "labour_force")


def urban_labour_force(ds: xr.Dataset, scenario: Scenario) -> np.ndarray:
    """Those holding or seeking urban jobs: the labour force's trend (B2) and households
    settling in town (B15). Seekers on it: the seeking share is constant."""
    return ds["workers"].sel(labour_state=["urban_job", "seeking"]).sum("labour_state").groupby(
        "time.year").mean().values


def rural_labour_force(ds: xr.Dataset, scenario: Scenario) -> np.ndarray:
    """The rural labour force: it shrinks as households settle in town (B15)."""
    return ds["village_workers"].sum(("village", "labour_state")).groupby(
        "time.year").mean().values


@dataclass(frozen=True)
class Stock:
    """A stock that must stay on its trend when the rules do not change.

    Attributes:
        label: What the row shows.
        statistic: A run's yearly mean of the stock.
        trend: The trend it follows (one value a year, any scale), with why.
    """

    label: str
    statistic: Callable[[xr.Dataset], np.ndarray]
    trend: Callable[[xr.Dataset, Scenario], np.ndarray]


STOCKS: tuple[Stock, ...] = (
    Stock("open problems (routine)", _variable("problems_open"), flat),
    Stock("legacy backlog (A29)", _variable("legacy_open"), flat),
    Stock("cadres' front-line effort", _variable("cadre_effort"), flat),
    Stock("urban jobs held", _workers("urban_job"), labour_demand),
    Stock("vacancies", _variable("vacancies"), labour_demand),
    Stock("seekers", _workers("seeking"), urban_labour_force),
    Stock("farmers", _workers("farming"), rural_labour_force),
    Stock("local wage workers", _workers("local_wage"), rural_labour_force),
    Stock("migrants", _workers("migrant"), rural_labour_force),
)


def check_stocks(runs: Sequence[xr.Dataset], scenario: Scenario,
                 stocks: Sequence[Stock] = STOCKS) -> list[tuple[Stock, np.ndarray]]:
    """Each stock with its yearly deviation from trend, relative to 2025 (runs x years).

    The deviation in year ``t`` is ``(x_t / x_2025) / (T_t / T_2025) - 1``, from yearly means.
    """
    rows = []
    for stock in stocks:
        out = np.full((len(runs), len(YEARS)), np.nan)
        for i, ds in enumerate(runs):
            x, trend = stock.statistic(ds), stock.trend(ds, scenario)
            n = min(len(x), len(YEARS))
            out[i, :n] = (x[:n] / x[0]) / (trend[:n] / trend[0]) - 1.0
        rows.append((stock, out))
    return rows


def format_stocks(rows: list[tuple[Stock, np.ndarray]],
                  tolerance: float = SETTLED_TOLERANCE) -> tuple[str, bool]:
    """A plain-text table of the deviations (mean over runs, % of trend; ✗ beyond the
    tolerance), the standard error of the last year's mean, the trends' sources, and
    whether every stock stayed within the tolerance.

    The standard error says whether the seeds can tell: a slow stock wanders within each
    run (the legacy backlog, ~1,800 cases resolved a few per cent a month, by a run-to-run
    sd of ~6 % by 2030), so a mean over few seeds can leave the tolerance by chance.
    """
    head = (f"{'stock':<28} {'trend':<20}" + "".join(f"{y:>9}" for y in YEARS[1:])
            + f"{'se ' + str(YEARS[-1]):>10}")
    lines, ok = [head, "-" * len(head)], True
    for stock, dev in rows:
        mean = np.nanmean(dev, axis=0)
        se = np.nanstd(dev[:, -1], ddof=1) / np.sqrt(dev.shape[0]) if dev.shape[0] > 1 else np.nan
        inside = np.abs(mean) <= tolerance + 1e-12
        ok &= bool(inside[1:].all())
        cells = "".join(f"{100 * m:>+8.1f}{' ' if k else '✗'}" for m, k in
                        zip(mean[1:], inside[1:], strict=True))
        lines.append(f"{stock.label:<28} {stock.trend.__name__:<20}{cells}{100 * se:>9.1f} ")
    lines.append("")
    trends = dict.fromkeys(stock.trend for stock, _ in rows)  # those used, in order
    lines.extend(f"  {fn.__name__}: {' '.join(fn.__doc__.split())}" for fn in trends)
    return "\n".join(lines), ok


def settled(scenario: Scenario | str | Path = SETTLED_SCENARIO,
            seeds: Sequence[int] = SETTLED_SEEDS, until: str = "2030-12",
            tolerance: float = SETTLED_TOLERANCE) -> tuple[str, bool]:
    """Run ``scenario`` for each seed and check that every stock stays on its trend.

    Returns:
        The table as text (deviation from trend since 2025, % , mean over the seeds),
        and whether every stock stayed within ``tolerance`` in every year.
    """
    scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    runs = [run(scenario, seed=s, until=until) for s in seeds]
    table, ok = format_stocks(check_stocks(runs, scenario), tolerance)
    header = (f"countysim validate --settled · scenario {scenario.name} · seeds "
              f"{_seed_list(seeds)} · deviation from trend since 2025 "
              f"(% , mean over seeds; ✗ beyond ±{100 * tolerance:g} %; se: standard "
              f"error of the last year's mean)\n")
    return header + table, ok
