"""Long-run plausibility (issue 7): the model can forecast.

Three claims, each over several seeds that neither the calibration (0-19, its root) nor
``make validate`` (100-104) uses:

* the baseline stays inside every band of :mod:`countysim.validate` in every year
  2025-2030 (unemployment near the surveyed rate, incomes growing as the region's do,
  population on its trend, no product line taking over, cadre outcomes near 2025's);
* under the 2024 policies kept through 2030 the district is settled: flows and stocks
  stay flat, or grow with the labour force and prices only;
* the shipped counterfactual scenarios move incomes or jobs in the expected direction,
  beyond seed noise (paired over common seeds).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SCENARIOS
from countysim.core.county import run
from countysim.core.scenario import load_scenario
from countysim.validate import BANDS, SETTLED_TOLERANCE, STOCKS, check_bands, check_stocks

# Eight seeds: the checks on means are of small counts and slow stocks. Cadre removals
# (~12 a year, Poisson sd ~3.5) against a band of half to twice A9: a three-seed mean has
# sd ~2 and strays out by chance (seeds 200-202 gave 6.0 in 2027, the two years after
# the 2025 reforms' purge being thin; 9.5 over eight).
SEEDS = tuple(range(200, 208))
UNTIL = "2030-12"


@pytest.fixture(scope="module")
def baseline_runs():
    scenario = load_scenario(SCENARIOS / "baseline_2025.toml")
    return [run(scenario, seed=s, until=UNTIL) for s in SEEDS]


# The settled check needs more: the legacy backlog (~1,800 cases, ~80 resolved a month)
# wanders within a run, by a run-to-run sd of ~6 % by 2030 (seeds 700-719), so an
# eight-seed mean has an se of ~2 % against the 3 % tolerance and leaves it by chance
# (seeds 200-207 gave -4.8 % in 2030); 24 seeds give ~1.2 %.
SETTLED_SEEDS = tuple(range(200, 224))


@pytest.fixture(scope="module")
def settled_runs():
    scenario = load_scenario(SCENARIOS / "policies_2024_forever.toml")
    return [run(scenario, seed=s, until=UNTIL) for s in SETTLED_SEEDS]


def yearly(runs, name, how="sum"):
    """Seed-mean of a variable's yearly sum (flows) or December value (stocks)."""
    out = []
    for ds in runs:
        da = ds[name]
        if how == "sum":
            out.append(da.groupby("time.year").sum().values)
        elif how == "mean":
            out.append(da.groupby("time.year").mean().values)
        else:
            out.append(da.sel(time=ds["time"].dt.month == 12).values)
    return np.mean(out, axis=0)


# Bands the baseline misses, each with its size: a strict xfail, so that a fix shows.
BAND_MISSES = {
    "cadres removed a year (mean)": (
        "removals run at ~5-6 a year (seeds 100-104; band 6.5-26, half to twice A9's 13): "
        "the calibrated baseline already misses A9 in 2025 (5.5 over 20 seeds), its "
        "level, not a drift"),
}


def _param(value, label: str, misses: dict[str, str]):
    """A test parameter, a strict xfail with its size where ``misses`` names it."""
    marks = ([pytest.mark.xfail(strict=True, reason=misses[label])] if label in misses else [])
    return pytest.param(value, id=label, marks=marks)


@pytest.mark.slow
@pytest.mark.parametrize("band", [_param(b, b.label, BAND_MISSES) for b in BANDS])
def test_baseline_stays_inside_every_band(baseline_runs, band):
    [(_, values, ok)] = check_bands(baseline_runs, [band])
    assert ok.all(), (f"{band.label}: {np.round(values, 4).tolist()} outside "
                      f"[{band.low}, {band.high}]")


# Flows and stocks under 2024 policies: the mean of the last two years against the first
# two. Flows of people grow with the labour force (B2: +0.6 %/yr, ~2.4 % over four years);
# the tolerance adds about three standard errors of the seed-mean of each ratio, measured
# on these three seeds (Poisson counts of a few hundred to a few thousand a year: 2-6 %).
SETTLED = {
    "urban_placements": ("sum", 0.08),
    "rural_nonfarm_entrants": ("sum", 0.08),
    "separations": ("sum", 0.08),
    "problems_resolved": ("sum", 0.08),
    "legacy_resolved": ("sum", 0.12),
    "problems_open": ("dec", 0.10),
    "legacy_open": ("dec", 0.12),
    "vacancies": ("dec", 0.08),
    # Cadre outcomes: ~35-80 a year, Poisson sd of a two-year, eight-seed mean ~4-6 %.
    "cadres_promoted_ytd": ("dec", 0.25),
    "cadres_advanced_ytd": ("dec", 0.25),
    "cadres_removed_ytd": ("dec", 0.30),
}


# Drifts of the calibrated baseline under the 2024 policies, each with its size: a strict
# xfail, so that a fix shows. None left: the routine queue, the legacy backlog and the
# vacancies drifted until issue 15's settled start and additive investment drag.
DRIFTS: dict[str, str] = {}


# Flows out of the rural labour force: their trend is its trend (B15: people settle in
# town), not the whole labour force's.
RURAL_FLOWS = {"rural_nonfarm_entrants"}


@pytest.mark.slow
@pytest.mark.parametrize("name", [_param(n, n, DRIFTS) for n in sorted(SETTLED)])
def test_2024_policies_keep_the_district_settled(settled_runs, name):
    how, tolerance = SETTLED[name]
    values = yearly(settled_runs, name, how)
    early, late = values[:2].mean(), values[-2:].mean()
    growth = 1.006 ** 4  # the labour force's trend over the four years between the means
    if name in RURAL_FLOWS:  # rural flows follow the rural labour force, which settles in town
        rural = np.mean([ds["village_workers"].sum(("village", "labour_state"))
                         .groupby("time.year").mean().values for ds in settled_runs], axis=0)
        growth = rural[-2:].mean() / rural[:2].mean()
    ratio = late / early / (growth if how == "sum" and "cadres" not in name else 1.0)
    assert abs(ratio - 1.0) <= tolerance, (
        f"{name} drifts under 2024 policies: {np.round(values, 1).tolist()} "
        f"(ratio {ratio:.3f}, tolerance {tolerance})")


# Stocks off their trend under the 2024 policies by more than issue 15's 3 %, each with
# its size: a strict xfail, so that a fix shows. The baseline member's labour supply runs
# a little ahead of its demand (its carried draws are independent: issue 16, item 4).
STOCK_MISSES: dict[str, str] = {
    "vacancies": "vacancies fall 4.5 % below labour demand's trend by 2028 (-3.1 % in "
                 "2030; seeds 200-223)",
    "seekers (urban residents)": "urban residents' seekers rise 3.5 % above their labour "
                                 "force's trend by 2029 (seeds 200-223)",
}


@pytest.mark.slow
@pytest.mark.parametrize("stock", [_param(s, s.label, STOCK_MISSES) for s in STOCKS])
def test_2024_policies_keep_every_stock_on_its_trend(settled_runs, stock):
    # The seed-mean deviation from trend (countysim validate --settled), every year to
    # 2030: within 3 % (issue 15). Stocks of thousands: seed noise of the mean ~0.5-1 %.
    scenario = load_scenario(SCENARIOS / "policies_2024_forever.toml")
    [(_, deviation)] = check_stocks(settled_runs, scenario, [stock])
    mean = deviation.mean(axis=0)
    assert np.abs(mean).max() <= SETTLED_TOLERANCE, (
        f"{stock.label}: {np.round(100 * mean, 1).tolist()} % from trend")


@pytest.mark.slow
def test_2024_policies_keep_rates_and_product_lines(settled_runs):
    unemployment = yearly(settled_runs, "urban_unemployment_rate", "dec")
    # A settled labour market: within half a point of its start (R6 5.1 %) every year.
    assert np.abs(unemployment - unemployment[0]).max() < 0.005, unemployment
    effort = yearly(settled_runs, "cadre_effort", "mean")
    assert np.abs(effort - effort[0]).max() < 0.02, effort
    # No know-how without expert-trained technicians: no village switches line.
    for ds in settled_runs:
        lines = ds["product_line"].values
        assert (lines == lines[0]).all()
    # Incomes grow with wages and prices only: nominal wage growth +-1 point.
    wage = yearly(settled_runs, "wage_index", "mean")
    for name in ("rural_income_per_capita", "urban_income_per_capita"):
        income = yearly(settled_runs, name, "mean")
        excess = income[1:] / income[:-1] - wage[1:] / wage[:-1]
        assert np.abs(excess).max() < 0.01, (name, excess)


# Counterfactuals against the baseline, paired over common seeds, 2025-2027: the outcome
# each scenario is built to move, and the sign it must have. |z| >= 3 on the paired
# differences is beyond seed noise; five pairs, because with three a real effect of about
# one paired sd (e.g. front-line work on jobs, ~100-200 jobs) reaches z = 3 only by luck.
PAIRED_SEEDS = (200, 201, 202, 203, 204)
COUNTERFACTUALS = {
    "no_pilot_cooperatives": ("rural_income_per_capita", -1),
    "cooperatives_everywhere": ("rural_income_per_capita", +1),
    # Its doubled A18 mentoring (50 experts, 500 technicians) raises yields; its front-line
    # half moves urban jobs by less than the noise (docs/lever_effects.md).
    "mentoring_frontline_doubled": ("rural_income_per_capita", +1),
    "policies_2024_forever": ("rural_income_per_capita", -1),
}


def _outcome(ds, name):
    if name == "urban_jobs":
        return float(ds["workers"].sel(labour_state="urban_job").mean())
    return float(ds[name].mean())


@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(COUNTERFACTUALS))
def test_counterfactuals_move_outcomes_in_the_expected_direction(scenario):
    name, sign = COUNTERFACTUALS[scenario]
    base = load_scenario(SCENARIOS / "baseline_2025.toml")
    other = load_scenario(SCENARIOS / f"{scenario}.toml")
    diffs = np.array([_outcome(run(other, seed=s, until="2027-12"), name)
                      - _outcome(run(base, seed=s, until="2027-12"), name)
                      for s in PAIRED_SEEDS])
    z = diffs.mean() / (diffs.std(ddof=1) / np.sqrt(diffs.size))
    assert sign * z >= 3, f"{scenario}: {name} differences {diffs} (z = {z:.1f})"
