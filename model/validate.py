"""Long-run plausibility: the model's 2025-2030 paths against bands from the district's
own series and regional comparators.

A forecasting model must stay credible when nothing changes: unemployment near the
surveyed rate, incomes growing as the region's do, population on its trend, no product
line taking over the villages, cadre outcomes near their 2025 level. Each
:class:`~countysim.calibration.bands.Band` names its source (B*, R* facts; A* figures).
``countysim validate`` (``make validate``) runs a scenario over several seeds that the
calibration never saw and prints one row per band and year; it exits 1 if any run leaves
a band. The same bands keep the calibration's ensemble members plausible to 2030.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .calibration.bands import (
    BANDS,
    YEARS,
    Band,
    _annual_mean,
    band_values,
    check_bands,
)
from .core.county import run
from .core.scenario import Scenario, load_scenario

__all__ = ["BANDS", "STOCKS", "YEARS", "Band", "Stock", "band_values", "check_bands",
           "check_stocks", "format_bands", "format_stocks", "settled"]

VALIDATION_SEEDS = tuple(range(100, 105))  # never used by the calibration (0-19, its root)
# The settled check's default: the legacy backlog's run-to-run sd reaches ~6 % by 2030
# (20 seeds, 700-719), so five seeds give a mean's se of ~2.7 % against the 3 % tolerance;
# twenty give ~1.3 %.
SETTLED_SEEDS = tuple(range(100, 120))


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


def _rural_workers(state: str) -> Callable[[xr.Dataset], np.ndarray]:
    def statistic(ds: xr.Dataset) -> np.ndarray:
        return ds["village_workers"].sel(labour_state=state).sum("village").groupby(
            "time.year").mean().values

    statistic.__name__ = f"rural_{state}"
    return statistic


def _urban_workers(state: str) -> Callable[[xr.Dataset], np.ndarray]:
    def statistic(ds: xr.Dataset) -> np.ndarray:
        every = ds["workers"].sel(labour_state=state)
        rural = ds["village_workers"].sel(labour_state=state).sum("village")
        return (every - rural).groupby("time.year").mean().values

    statistic.__name__ = f"urban_{state}"
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
    """Urban labour demand's trend: output (B7) to the employment elasticity, times the
    services that households settled in town buy (B15)."""
    return _annual_mean(ds, "labour_demand_index")


def labour_force(ds: xr.Dataset, scenario: Scenario) -> np.ndarray:
    """The labour force's trend (B2)."""
    return _annual_mean(ds, "labour_force")


def urban_labour_force(ds: xr.Dataset, scenario: Scenario) -> np.ndarray:
    """Urban residents holding or seeking jobs: the labour force's trend (B2) and
    households settling in town (B15). Their seekers on it: the surveyed rate is constant."""
    return _urban_workers("urban_job")(ds) + _urban_workers("seeking")(ds)


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
    # Seekers split by home: rural seekers go back to the land or migrate, settled ones
    # stay in town, so each part follows its own labour force as settling shifts them.
    Stock("seekers (urban residents)", _urban_workers("seeking"), urban_labour_force),
    Stock("seekers (rural residents)", _rural_workers("seeking"), rural_labour_force),
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
