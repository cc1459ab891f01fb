"""Shared factories, fixtures and assertion helpers for the countysim test suite.

The helpers follow xarray's test style: plain factory functions that build small, fast
objects (``create_test_scenario``, ``create_test_model``, ``create_test_dataset``), thin
pytest fixtures around them, and ``assert_*`` helpers that hide their own frames from
tracebacks (``__tracebackhide__ = True``) so a failure points at the calling test.

Other test modules (sweeps, calibration) may import from here::

    from conftest import create_test_scenario, assert_workers_conserved

Everything here checks *relations* between recorded variables (conservation, counting
rules, bounds), never reference outputs of the model, so the helpers stay valid while the
behavioural defaults are recalibrated.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from countysim.core.county import CountyModel
from countysim.core.observe import VARIABLES
from countysim.core.scenario import Scenario, default_scenario

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
BASELINE = SCENARIOS / "baseline_2025.toml"
DATA = Path(__file__).resolve().parent / "data"

# A district about 1/20 of Litong: every process is exercised, a 12-month run takes
# a few tens of milliseconds. Programme sizes are scaled down with it so that, e.g.,
# technicians do not pile up in a handful of villages.
SMALL_DISTRICT: dict[str, Any] = {
    "population": 20_000,
    "townships": 4,
    "villages": 20,
    "pilot_villages": 5,
    "firms": 40,
    "evaluated_cadres": 60,
    "mentor_pairs": 5,
    "recruits": 3,
    "legacy_backlog": 100,
    "firm_visits_per_year": 20,
    "expert_mentors": 2,
    "technicians": 20,
    "returnees": 4,
}

# Variables that are signed by definition: growth rates and an income *difference*.
SIGNED_VARIABLES = frozenset({
    "collective_income_growth",
    "collective_income_growth_pilot",
    "cooperative_income_uplift",
})
# Year-to-date flows: non-decreasing within a calendar year, restarted each January.
YTD_FLOWS = ("urban_placements_ytd", "rural_nonfarm_entrants_ytd", "firms_visited_ytd",
             "cadres_promoted_ytd", "cadres_advanced_ytd", "cadres_removed_ytd",
             "cadres_evaluated_ytd")
# Year-to-date counts and the monthly flow whose running sum within the year they equal.
YTD_OF_MONTHLY = {"urban_placements_ytd": "urban_placements",
                  "rural_nonfarm_entrants_ytd": "rural_nonfarm_entrants"}
# Cumulative counts and the monthly flow they accumulate.
CUM_OF_MONTHLY = {"problems_resolved_cum": "problems_resolved",
                  "legacy_resolved_cum": "legacy_resolved"}
CADRE_OUTCOMES = ("cadres_promoted_ytd", "cadres_advanced_ytd", "cadres_removed_ytd",
                  "cadres_unchanged_ytd")


# ----------------------------------------------------------------------------- factories


def create_test_scenario(district_seed: int | None = None, **overrides: Any) -> Scenario:
    """A small, valid scenario built from the registry defaults.

    Args:
        district_seed: Seed of the synthetic district; ``None`` keeps the registry's.
        **overrides: Parameter values (or ``start``/``until``) applied on top of
            :data:`SMALL_DISTRICT` in a single ``Scenario.replace`` call, so that related
            values (e.g. ``villages=3, pilot_villages=2``) are validated together.

    Returns:
        The validated scenario (its ``name`` is ``"defaults"``).
    """
    values = {**SMALL_DISTRICT, **overrides}
    if district_seed is not None:
        values["district_seed"] = district_seed
    return default_scenario().replace(source="test", **values)


def create_test_model(scenario: Scenario | None = None, *, seed: int = 0,
                      **overrides: Any) -> CountyModel:
    """A :class:`CountyModel` of a small district, not yet stepped.

    Args:
        scenario: The scenario; default :func:`create_test_scenario` with ``overrides``.
        seed: Seed of the run.
        **overrides: Passed to :func:`create_test_scenario` (or, when ``scenario`` is
            given, to the model constructor as keyword overrides).
    """
    if scenario is None:
        return CountyModel(create_test_scenario(**overrides), rng=seed)
    return CountyModel(scenario, rng=seed, **overrides)


def run_test_model(scenario: Scenario | None = None, *, seed: int = 0, months: int = 12,
                   **overrides: Any) -> tuple[CountyModel, xr.Dataset]:
    """Run a small district for ``months`` months from its start month.

    Args:
        scenario: The scenario; default :func:`create_test_scenario` with ``overrides``.
        seed: Seed of the run.
        months: Number of monthly steps (at least 1).
        **overrides: As for :func:`create_test_model`.

    Returns:
        The stepped model and its Dataset.
    """
    model = create_test_model(scenario, seed=seed, **overrides)
    for _ in range(months):
        model.step()
    return model, model.dataset()


def create_test_dataset(seed: int = 0, months: int = 12, **overrides: Any) -> xr.Dataset:
    """The Dataset of a small run (see :func:`run_test_model`)."""
    return run_test_model(seed=seed, months=months, **overrides)[1]


def write_toml(path: Path, text: str) -> Path:
    """Write a scenario file (creating folders) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
def small_scenario() -> Scenario:
    """The default small test scenario."""
    return create_test_scenario()


@pytest.fixture(scope="session")
def small_run() -> tuple[CountyModel, xr.Dataset]:
    """A 14-month run of the small district (crosses one January). Do not mutate it."""
    return run_test_model(seed=11, months=14)


@pytest.fixture(scope="session")
def small_dataset(small_run: tuple[CountyModel, xr.Dataset]) -> xr.Dataset:
    """The Dataset of :func:`small_run`."""
    return small_run[1]


@pytest.fixture(scope="session")
def baseline_dataset() -> xr.Dataset:
    """A 12-month run of the full Litong baseline (used sparingly: ~0.3 s)."""
    from countysim import load_scenario, run

    return run(load_scenario(BASELINE), seed=2025, until="2025-12")


@pytest.fixture
def scenario_file(tmp_path: Path) -> Callable[..., Path]:
    """Factory writing a scenario TOML into ``tmp_path``.

    Returns:
        ``make(text, name="s.toml") -> Path``.
    """

    def make(text: str, name: str = "s.toml") -> Path:
        return write_toml(tmp_path / name, text)

    return make


# ---------------------------------------------------------------------- time utilities


def calendar_years(ds: xr.Dataset) -> np.ndarray:
    """Calendar year of each month of ``ds``."""
    return pd.DatetimeIndex(ds["time"].values).year.to_numpy()


def calendar_months(ds: xr.Dataset) -> np.ndarray:
    """Month of the year (1-12) of each month of ``ds``."""
    return pd.DatetimeIndex(ds["time"].values).month.to_numpy()


def running_sum_within_year(ds: xr.Dataset, name: str) -> np.ndarray:
    """Running sum of monthly flow ``name`` that restarts every calendar year."""
    values = ds[name].values.astype(np.int64)
    years = calendar_years(ds)
    out = np.zeros_like(values)
    for year in np.unique(years):
        sel = years == year
        out[sel] = np.cumsum(values[sel])
    return out


# ------------------------------------------------------------------ assertion helpers


def assert_workers_conserved(ds: xr.Dataset, total: int | None = None,
                             rural_total: int | None = None) -> None:
    """Workers are only moved between labour states, never created or lost.

    Checks every month: the sum over ``labour_state`` is constant (and equal to
    ``total`` if given); ``village_workers`` sums to the same rural total every month (and
    to ``rural_total`` if given); urban residents are never farming, in local wage work
    or migrants, so in those states ``workers`` equals the sum of ``village_workers``.

    Args:
        ds: A run's Dataset.
        total: Expected number of workers (rural and urban), if known.
        rural_total: Expected number of rural workers, if known.
    """
    __tracebackhide__ = True
    per_month = ds["workers"].sum("labour_state").values
    assert (per_month == per_month[0]).all(), f"workers not conserved: {per_month}"
    if total is not None:
        assert per_month[0] == total, f"{per_month[0]} workers, expected {total}"
    rural = ds["village_workers"].sum(("village", "labour_state")).values
    assert (rural == rural[0]).all(), f"rural workers not conserved: {rural}"
    if rural_total is not None:
        assert rural[0] == rural_total, f"{rural[0]} rural workers, expected {rural_total}"
    assert (rural <= per_month).all(), "more rural workers than workers"
    by_state = ds["village_workers"].sum("village")
    for state in ("farming", "local_wage", "migrant"):
        rural_only = by_state.sel(labour_state=state).values
        everyone = ds["workers"].sel(labour_state=state).values
        assert (rural_only == everyone).all(), (
            f"urban residents found in state {state!r}: workers {everyone}, "
            f"rural {rural_only}")


def assert_no_negative_or_nan(ds: xr.Dataset) -> None:
    """No variable is NaN or infinite, and no count or income is negative.

    ``collective_income_growth_pilot`` may be NaN only when the run has no pilot
    villages; the variables in :data:`SIGNED_VARIABLES` may be negative.
    """
    __tracebackhide__ = True
    has_pilots = bool(ds["pilot"].values.any())
    for name, var in ds.data_vars.items():
        values = np.asarray(var.values, dtype=float)
        if name == "collective_income_growth_pilot" and not has_pilots:
            assert np.isnan(values).all(), f"{name} should be NaN without pilot villages"
            continue
        bad = ~np.isfinite(values)
        assert not bad.any(), f"{name} has {int(bad.sum())} NaN/inf values"
        if name not in SIGNED_VARIABLES:
            assert (values >= 0).all(), f"{name} is negative: min {values.min()}"


def assert_ytd_resets(ds: xr.Dataset, evaluation_interval: int | None = None) -> None:
    """Year-to-date flows never fall within a calendar year and restart in January.

    Args:
        ds: A run's Dataset.
        evaluation_interval: If given, cadre outcomes in a January without an evaluation
            (``1 % interval != 0``) must be zero.
    """
    __tracebackhide__ = True
    years, months = calendar_years(ds), calendar_months(ds)
    for name in YTD_FLOWS:
        values = ds[name].values
        for year in np.unique(years):
            v = values[years == year]
            assert (np.diff(v) >= 0).all(), f"{name} decreases within {year}: {v}"
    for name, monthly in YTD_OF_MONTHLY.items():
        jan = months == 1
        assert (ds[name].values[jan] == ds[monthly].values[jan]).all(), (
            f"{name} does not restart in January")
    if evaluation_interval is not None and evaluation_interval > 1:
        jan = months == 1
        for name in (*CADRE_OUTCOMES, "cadres_evaluated_ytd"):
            assert (ds[name].values[jan] == 0).all(), (
                f"{name} nonzero in a January without evaluation")


def assert_flows_counted_once(ds: xr.Dataset) -> None:
    """Each person counts at most once in a flow (A4, A5) per year.

    The year-to-date count of people equals the running sum of the monthly count of
    people newly in the flow; the number of seeker-vacancy matches bounds the A4
    placements and is bounded by the vacancies posted; distinct firms visited never
    exceed the visits made.
    """
    __tracebackhide__ = True
    for name, monthly in YTD_OF_MONTHLY.items():
        expected = running_sum_within_year(ds, monthly)
        actual = ds[name].values
        assert (actual == expected).all(), (
            f"{name} is not the running sum of {monthly}: {actual} vs {expected}")
    placements, matches = ds["urban_placements"].values, ds["matches"].values
    assert (placements <= matches).all(), "more A4 placements than matches"
    assert (matches <= ds["vacancies"].values).all(), "more matches than vacancies"
    visits = running_sum_within_year(ds, "firm_visits")
    assert (ds["firms_visited_ytd"].values <= visits).all(), (
        "more distinct firms visited than visits")


def assert_problems_balanced(ds: xr.Dataset, legacy_backlog: int) -> None:
    """Problems are conserved: resolved + open = raised (+ backlog for legacy cases).

    Args:
        ds: A run's Dataset.
        legacy_backlog: Legacy problems open at the start of the run.
    """
    __tracebackhide__ = True
    for cum, monthly in CUM_OF_MONTHLY.items():
        assert (ds[cum].values == np.cumsum(ds[monthly].values)).all(), (
            f"{cum} is not the running sum of {monthly}")
    raised = np.cumsum(ds["problems_raised"].values)
    resolved = ds["problems_resolved_cum"].values
    legacy = ds["legacy_resolved_cum"].values
    assert (resolved + legacy <= raised + legacy_backlog).all(), (
        "more problems resolved than raised plus backlog")
    assert (resolved <= raised).all(), "more routine problems resolved than raised"
    assert (legacy <= legacy_backlog).all(), "more legacy problems resolved than the backlog"
    assert (ds["problems_open"].values + resolved == raised).all(), (
        "open + resolved != raised for routine problems")
    assert (ds["legacy_open"].values + legacy == legacy_backlog).all(), (
        "open + resolved != backlog for legacy problems")


def assert_cadre_outcomes_add_up(ds: xr.Dataset) -> None:
    """Promoted + advanced + removed + unchanged = evaluated, year to date, every month."""
    __tracebackhide__ = True
    total = sum(ds[name].values for name in CADRE_OUTCOMES)
    evaluated = ds["cadres_evaluated_ytd"].values
    assert (total == evaluated).all(), (
        f"cadre outcomes {total} do not add up to evaluated {evaluated}")


def assert_zero_pilot_effect(ds: xr.Dataset, returnee_jobs: int = 0) -> None:
    """A run without pilot villages shows no cooperative at all.

    Args:
        ds: A run's Dataset with no pilot village.
        returnee_jobs: Jobs of returnee businesses (``returnees * returnee_jobs``): the
            only local jobs there may be without cooperatives.
    """
    __tracebackhide__ = True
    assert not ds["pilot"].values.any(), "the run has pilot villages"
    assert (ds["cooperative"].values == 0).all(), "a cooperative exists without pilots"
    assert (ds["active_land"].values == 0).all(), "land activated without a cooperative"
    assert np.isnan(ds["collective_income_growth_pilot"].values).all(), (
        "collective_income_growth_pilot should be NaN without pilot villages")
    assert (ds["cooperative_workers"].values == 0).all(), "cooperative workers without pilots"
    assert (ds["cooperative_income_uplift"].values == 0).all(), (
        "cooperative_income_uplift nonzero without cooperatives")
    returnee = ds["returnee_business_workers"].values
    assert (returnee <= returnee_jobs).all(), (
        f"returnee_business_workers {returnee.max()} > returnee jobs {returnee_jobs}")


def assert_dataset_metadata(ds: xr.Dataset) -> None:
    """The Dataset contract: dims, coordinates, units, long names and provenance attrs."""
    __tracebackhide__ = True
    for dim in ("time", "village", "labour_state"):
        assert dim in ds.dims, f"missing dim {dim!r}"
    assert "township" in ds.coords and ds["township"].dims == ("village",)
    for name, var in ds.variables.items():
        assert var.attrs.get("long_name"), f"{name} has no long_name"
    for name, var in ds.data_vars.items():
        assert "units" in var.attrs and var.attrs["units"] != "", f"{name} has no units"
        assert name in VARIABLES, f"{name} not declared in observe.VARIABLES"
    for key in ("countysim_version", "scenario_toml", "scenario_hash", "seed_entropy"):
        assert key in ds.attrs, f"missing attribute {key!r}"


def assert_runs_equal(a: xr.Dataset, b: xr.Dataset) -> None:
    """Two runs have identical data, coordinates and attributes."""
    __tracebackhide__ = True
    xr.testing.assert_identical(a, b)
