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
from countysim.core.labour import N_STATES, RESERVE, Workforce
from countysim.core.observe import VARIABLES
from countysim.core.parameters import PARAMETERS
from countysim.core.problems import Origin, Status
from countysim.core.scenario import Scenario, default_scenario
from countysim.core.tables import Labour

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
BASELINE = SCENARIOS / "baseline_2025.toml"
DATA = Path(__file__).resolve().parent / "data"

# A district about 1/23 of Litong (B1): every process is exercised and a 12-month run
# (after its 12-month spin-up) takes about 0.1 s. Programme sizes keep the registry's
# ratios where they shape the dynamics: leading posts, mentor pairs and recruits per
# evaluated cadre (290, 30 and 28 per 479), firm visits per firm (132 per 600 a year),
# pilot villages per village (50 per 130), technicians per household (250 per ~74,000
# households, with A18's one expert per 10 technicians) and returnees per resident.
SMALL_DISTRICT: dict[str, Any] = {
    "population": 20_000,
    "townships": 4,
    "villages": 20,
    "pilot_villages": 8,
    "firms": 40,
    "evaluated_cadres": 60,
    "leading_posts": 36,
    "mentor_pairs": 4,
    "recruits": 4,
    "legacy_backlog": 100,
    "firm_visits_per_year": 9,
    "expert_mentors": 1,
    "technicians": 10,
    "returnees": 3,
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


def levers_2024() -> dict[str, Any]:
    """The pre-programme (2024) value of every lever the programmes changed.

    These are the registry's ``before`` values, the regime the spin-up runs under; with
    them kept, the district must stay settled (``scenarios/policies_2024_forever.toml``).
    """
    return {name: p.before for name, p in PARAMETERS.items()
            if p.section == "levers" and p.before is not None}


def monthly_growth(scenario: Scenario) -> float:
    """The labour force's monthly trend growth rate (B2) in ``scenario``."""
    return (1.0 + scenario.population_growth) ** (1 / 12) - 1.0


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
    """A 14-month run of the small district (crosses one January). Do not mutate it.

    The model carries ``open_before``: routine and legacy problems open before the
    start month (see :func:`open_problems`).
    """
    model = create_test_model(seed=11)
    model.open_before = open_problems(model)
    for _ in range(14):
        model.step()
    return model, model.dataset()


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


def ytd_increments(ds: xr.Dataset, name: str) -> np.ndarray:
    """Monthly increments of year-to-date count ``name`` (its value in January).

    The first month's increment is NaN unless it is a January: a run starting mid-year
    spins up through the earlier months of that year, and their flows are in the count.
    """
    values = ds[name].values.astype(float)
    jan = calendar_months(ds) == 1
    out = np.r_[np.nan, np.diff(values)]
    out[jan] = values[jan]
    return out


# ------------------------------------------------------------------ assertion helpers


def assert_workers_conserved(ds: xr.Dataset, monthly_growth: float | None = None) -> None:
    """Every worker is in exactly one state; the labour force changes only by entrants.

    Checks every month: the workers by state add up to ``labour_force``; urban residents
    are never farming, in local wage work or migrants (in those states ``workers``
    equals the sum of ``village_workers``); nobody changes home, so from one month to
    the next every home (each village, and the urban core) gains workers only when the
    labour force grows (trend entrants from the reserve) and loses them only when it
    shrinks (retirees not replaced), and the homes' changes add up to the labour
    force's.

    Args:
        ds: A run's Dataset.
        monthly_growth: If given, the monthly trend growth of the labour force: each
            month's net entrants must then be ``growth x labour force`` rounded down or up.
    """
    __tracebackhide__ = True
    labour_force = ds["labour_force"].values.astype(np.int64)
    per_month = ds["workers"].sum("labour_state").values
    assert (per_month == labour_force).all(), (
        f"workers by state {per_month} are not the labour force {labour_force}")
    rural = ds["village_workers"].sum("labour_state").values  # (time, village)
    assert (rural.sum(axis=1) <= per_month).all(), "more rural workers than workers"
    by_state = ds["village_workers"].sum("village")
    for state in ("farming", "local_wage", "migrant"):
        rural_only = by_state.sel(labour_state=state).values
        everyone = ds["workers"].sel(labour_state=state).values
        assert (rural_only == everyone).all(), (
            f"urban residents found in state {state!r}: workers {everyone}, "
            f"rural {rural_only}")
    homes = np.column_stack([labour_force - rural.sum(axis=1), rural])
    change = np.diff(homes, axis=0)
    net = np.diff(labour_force)
    assert (change.sum(axis=1) == net).all(), "homes' changes do not add up to the labour force's"
    wrong_way = (change * np.sign(net)[:, None] < 0) | ((net == 0)[:, None] & (change != 0))
    assert not wrong_way.any(), (
        f"a home's workers changed against the labour force's net entrants "
        f"(months {np.flatnonzero(wrong_way.any(axis=1)) + 1}): workers moved home")
    if monthly_growth is not None:
        expected = monthly_growth * labour_force[:-1]
        ok = (net == np.floor(expected)) | (net == np.ceil(expected))
        assert ok.all(), f"net entrants {net} are not the trend's {expected}"


def assert_workforce_consistent(wf: Workforce) -> None:
    """A workforce's incremental counts agree with a recount of its rows.

    Every row is in exactly one state (a labour state or the reserve); ``cells`` (workers
    by home and state) and ``employees`` (per employer) equal a recount; exactly the
    urban-job holders have an employer; ``active`` is the number of rows not in the
    reserve; only local wage workers hold cooperative jobs.

    Args:
        wf: A :class:`~countysim.core.labour.Workforce`, e.g. ``model.workforce``.
    """
    __tracebackhide__ = True
    assert ((wf.state >= 0) & (wf.state < N_STATES)).all(), "a row has no valid state"
    recount = np.bincount((wf.home + 1) * N_STATES + wf.state, minlength=wf.cells.size)
    assert np.array_equal(wf.cells, recount), "incremental cells differ from a recount"
    job = wf.state == Labour.URBAN_JOB
    assert (wf.employer[job] >= 0).all(), "an urban-job holder has no employer"
    assert (wf.employer[~job] == -1).all(), "a worker without an urban job has an employer"
    employees = np.bincount(wf.employer[job], minlength=wf.employees.size)
    assert np.array_equal(wf.employees, employees), "incremental employees differ from a recount"
    assert wf.active == int((wf.state != RESERVE).sum()), "active is not the labour force"
    assert (wf.state[wf.coop_job] == Labour.LOCAL_WAGE).all(), (
        "a cooperative job outside local wage work")


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

    The year-to-date count of people grows each month by the monthly count of people
    newly in the flow (restarting in January; the first month of a mid-year start holds
    the spin-up's months of that year too); the number of seeker-vacancy matches bounds
    the A4 placements and is bounded by the vacancies posted; distinct firms visited
    never grow by more than the visits made.
    """
    __tracebackhide__ = True
    for name, monthly in YTD_OF_MONTHLY.items():
        increments, flow = ytd_increments(ds, name), ds[monthly].values
        known = np.isfinite(increments)
        assert (increments[known] == flow[known]).all(), (
            f"{name} does not grow by {monthly}: {increments} vs {flow}")
        assert ds[name].values[0] >= flow[0], f"{name} starts below {monthly}"
    placements, matches = ds["urban_placements"].values, ds["matches"].values
    assert (placements <= matches).all(), "more A4 placements than matches"
    assert (matches <= ds["vacancies"].values).all(), "more matches than vacancies"
    distinct = ytd_increments(ds, "firms_visited_ytd")
    known = np.isfinite(distinct)
    assert (distinct[known] <= ds["firm_visits"].values[known]).all(), (
        "more distinct firms visited than visits")


def open_problems(model: CountyModel) -> tuple[int, int]:
    """Routine and legacy problems unresolved in ``model`` now (e.g. before the start month)."""
    q = model.problems
    unresolved = q.status != Status.RESOLVED
    legacy = q.origin == Origin.LEGACY
    return int((unresolved & ~legacy).sum()), int((unresolved & legacy).sum())


def assert_problems_balanced(ds: xr.Dataset, open_before: tuple[int, int] | None = None) -> None:
    """Problems are conserved: each month the open stock changes by raised - resolved.

    The stock at the start is the derived stationary queue, not zero, so the balance is
    checked in differences: ``open[t] - open[t-1] = raised[t] - resolved[t]`` for routine
    problems, and the same for legacy cases with their inflow ``legacy_raised``. The
    cumulative counts are running sums of the monthly ones, and no stock is negative (so
    no month resolves more than was open before it plus what it raised).

    Args:
        ds: A run's Dataset.
        open_before: Routine and legacy problems open before the first recorded month
            (see :func:`open_problems`); if given, the first month is checked too.
    """
    __tracebackhide__ = True
    for cum, monthly in CUM_OF_MONTHLY.items():
        assert (ds[cum].values == np.cumsum(ds[monthly].values)).all(), (
            f"{cum} is not the running sum of {monthly}")
    for kind, stock, raised, resolved, k in (
            ("routine", "problems_open", "problems_raised", "problems_resolved", 0),
            ("legacy", "legacy_open", "legacy_raised", "legacy_resolved", 1)):
        open_ = ds[stock].values.astype(np.int64)
        inflow = ds[raised].values.astype(np.int64)
        outflow = ds[resolved].values.astype(np.int64)
        assert (open_ >= 0).all() and (inflow >= 0).all() and (outflow >= 0).all(), (
            f"negative {kind} problem counts")
        if open_before is not None:
            open_ = np.r_[open_before[k], open_]
        else:
            inflow, outflow = inflow[1:], outflow[1:]
        bad = np.flatnonzero(np.diff(open_) != inflow - outflow)
        assert bad.size == 0, (
            f"{kind} problems not balanced: open changes by {np.diff(open_)[bad]} "
            f"but raised - resolved is {(inflow - outflow)[bad]} (steps {bad})")


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
