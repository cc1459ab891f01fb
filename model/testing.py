"""Testing your own model changes: a small district, scenario strategies, invariant checks.

Public helpers for users who change countysim (a new lever, a new process) and want the
checks the project's own test suite runs (see ``docs/testing.md``)::

    from countysim.testing import small_scenario, scenarios, assert_invariants
    from hypothesis import given, settings

    @settings(max_examples=30, deadline=None)
    @given(scenarios())
    def test_my_change_keeps_the_invariants(scenario):
        ds = countysim.run(scenario, seed=0, until="2025-02")
        assert_invariants(ds)

* :func:`small_scenario`: a district about 1/23 of Litong (:data:`SMALL_DISTRICT`), every
  process exercised, a 12-month run in about 0.1 s;
* :func:`scenarios`: a `hypothesis <https://hypothesis.readthedocs.io>`_ strategy drawing
  valid scenarios: every value inside its registry bounds or choices and every rule of
  :data:`countysim.core.scenario.CONSISTENCY_RULES` respected (hypothesis is needed only
  to call it: ``pip install hypothesis``, in the dev extras);
* ``assert_*``: invariants of a run's Dataset (conservation, counting rules, bounds) that
  hold for every scenario and seed; :func:`assert_invariants` runs them all. They check
  *relations* between variables, never reference outputs, so they stay valid when the
  behavioural defaults are recalibrated. Each hides its own frame from pytest tracebacks.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from .core.observe import VARIABLES
from .core.parameters import PARAMETERS
from .core.scenario import Scenario, default_scenario

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "CADRE_OUTCOMES",
    "CUM_OF_MONTHLY",
    "DEFAULT_VARIED",
    "HEADLINE_DECEMBER",
    "HEADLINE_TARGETS",
    "REFERENCE_FILE",
    "REFERENCE_RTOL",
    "REFERENCE_SCENARIO",
    "REFERENCE_SEEDS",
    "REFRESH_COMMAND",
    "SIGNED_VARIABLES",
    "SMALL_DISTRICT",
    "YTD_FLOWS",
    "YTD_OF_MONTHLY",
    "assert_cadre_outcomes_add_up",
    "assert_dataset_metadata",
    "assert_flows_counted_once",
    "assert_invariants",
    "assert_no_negative_or_nan",
    "assert_problems_balanced",
    "assert_workers_conserved",
    "assert_ytd_resets",
    "assert_zero_pilot_effect",
    "calendar_months",
    "calendar_years",
    "headline_values",
    "load_references",
    "output_version",
    "reference_values",
    "refresh_references",
    "scenarios",
    "small_scenario",
    "ytd_increments",
]

#: A district about 1/23 of Litong (B1): every process is exercised and a 12-month run
#: (after its 12-month spin-up) takes about 0.1 s. Programme sizes keep the registry's
#: ratios where they shape the dynamics: leading posts, mentor pairs and recruits per
#: evaluated cadre (290, 30 and 28 per 479), firm visits per firm (132 per 600 a year),
#: pilot villages per village (50 per 130), technicians per household (250 per ~74,000
#: households, with A18's one expert per 10 technicians) and returnees per resident.
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
    "leader_quality",  # in sd above the 2024 holders' mean: worse leaders are below 0
    "urban_new_jobs_ytd",  # placements less retiring job holders: negative if few hires
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


def small_scenario(district_seed: int | None = None, **overrides: Any) -> Scenario:
    """A small, valid scenario: the registry defaults on the :data:`SMALL_DISTRICT`.

    Args:
        district_seed: Seed of the synthetic district; ``None`` keeps the registry's.
        **overrides: Parameter values (or ``start``/``until``) applied on top of
            :data:`SMALL_DISTRICT` in a single ``Scenario.replace`` call, so that related
            values (e.g. ``villages=3, pilot_villages=2``) are validated together.

    Returns:
        The validated scenario (its ``name`` is ``"defaults"``).

    Raises:
        ScenarioError: An override is invalid.
    """
    values = {**SMALL_DISTRICT, **overrides}
    if district_seed is not None:
        values["district_seed"] = district_seed
    return default_scenario().replace(source="test", **values)


# ----------------------------------------------------------------------------- strategies

#: Parameters :func:`scenarios` draws by default: every lever and behavioural rate, and
#: the district's ``villages`` and ``townships`` (which the rules tie to the levers).
#: The other district values keep the base's (they shape the synthetic district).
DEFAULT_VARIED: tuple[str, ...] = (
    "villages", "townships",
    *(n for n, p in PARAMETERS.items() if p.section in ("levers", "behaviour")))

# How the strategy respects each rule of CONSISTENCY_RULES: the parameter drawn last and
# its largest allowed value given the others (a callable reading the current values).
# tests/test_testing.py checks that every rule has an entry here.
_UPPER: dict[str, tuple[str, Callable[[Callable[[str], Any]], float]]] = {
    "pilot_villages": ("levers.pilot_villages", lambda v: v("villages")),
    "townships": ("district.townships", lambda v: v("villages")),
    "recruits": ("levers.mentor_pairs", lambda v: v("evaluated_cadres")),
    "mentor_pairs": ("levers.mentor_pairs",
                     lambda v: (v("evaluated_cadres") - v("recruits")) // 2),
    "coop_collective_share": ("behaviour.coop_collective_share",
                              lambda v: 1.0 - v("coop_wage_share")),
}
# Each parameter a rule caps, after the parameters its cap reads (drawn first).
_DEPENDS = {"pilot_villages": ("villages",), "townships": ("villages",),
            "recruits": ("evaluated_cadres",), "mentor_pairs": ("evaluated_cadres", "recruits"),
            "coop_collective_share": ("coop_wage_share",)}


def rules_covered() -> set[str]:
    """Keys of the rules :func:`scenarios` respects by construction (for its own test)."""
    return {key for key, _ in _UPPER.values()}


def scenarios(base: Scenario | None = None, vary: Iterable[str] | None = None, *,
              scale: float = 2.0, full_range: bool = False) -> SearchStrategy[Scenario]:
    """A hypothesis strategy drawing valid scenarios around ``base``.

    Each varied parameter is drawn inside its registry domain: booleans and categorical
    values from their choices (``"listed"`` pilots only when ``base`` has district data),
    numbers within a factor ``scale`` of the base's value (``[base / scale, base x
    scale]``; for a zero base the bottom tenth of the range, integers up to ``scale``),
    always clipped to the registry bounds. ``full_range=True`` draws floats over their
    whole registry range instead: a stress test, which finds values the model does not
    survive yet (zero or extreme rates raise ZeroDivisionError, OverflowError or
    "negative dimensions"; see ``docs/testing.md``). Values the cross-parameter rules tie
    together are drawn in order, each capped by the others (``pilot_villages <=
    villages``, ...), so every draw passes
    :func:`countysim.core.scenario.check_consistency` without filtering. Varying a value
    a rule reads also redraws the values it caps.

    Args:
        base: The scenario drawn around; default :func:`small_scenario`.
        vary: Names of the parameters to draw; default :data:`DEFAULT_VARIED`.
        scale: Numbers are drawn within a factor ``scale`` of the base's value.
        full_range: Draw floats over their whole registry range.

    Returns:
        A strategy of validated :class:`~countysim.core.scenario.Scenario` objects.

    Raises:
        ValueError: An unknown parameter name in ``vary``.
    """
    from hypothesis import strategies as st

    base = base if base is not None else small_scenario()
    names = list(DEFAULT_VARIED if vary is None else vary)
    unknown = [n for n in names if n not in PARAMETERS]
    if unknown:
        raise ValueError(f"vary: unknown parameter(s) {unknown}; allowed: registry names")
    for name, needs in _DEPENDS.items():  # a varied value a rule reads: redraw what it caps
        if set(needs) & set(names) and name not in names:
            names.append(name)
    ordered = sorted(names, key=lambda n: (n in _DEPENDS, n == "mentor_pairs"))

    def domain(name: str, read: Callable[[str], Any]) -> SearchStrategy[Any]:
        p = PARAMETERS[name]
        if p.choices is not None:
            choices = [c for c in p.choices if c != "listed" or base.district_data]
            return st.sampled_from(choices)
        lo, hi = p.bounds
        value = base[name]
        if value > 0 and not (full_range and p.kind is float):  # within a factor scale
            lo, hi = max(lo, value / scale), min(hi, value * scale)
        elif value < 0 and not (full_range and p.kind is float):
            lo, hi = max(lo, value * scale), min(hi, value / scale)
        elif not full_range:  # a zero: the bottom tenth of the range (ints: up to scale)
            hi = min(hi, lo + (0.1 * (hi - lo) if p.kind is float else scale))
        if name in _UPPER:
            hi = min(hi, _UPPER[name][1](read))
        lo = min(lo, hi)
        if p.kind is float:
            return st.floats(lo, hi, allow_nan=False, allow_infinity=False)
        return st.integers(math.ceil(lo), max(math.ceil(lo), math.floor(hi)))

    @st.composite
    def draw(draw_: Callable[[SearchStrategy[Any]], Any]) -> Scenario:
        values: dict[str, Any] = {}

        def read(n: str) -> Any:
            return values.get(n, base[n])

        for name in ordered:
            values[name] = draw_(domain(name, read))
        return base.replace(source="hypothesis", **values)

    return draw()


# ------------------------------------------------------------------------- time utilities


def calendar_years(ds: xr.Dataset) -> np.ndarray:
    """Calendar year of each month of ``ds``."""
    return pd.DatetimeIndex(ds["time"].values).year.to_numpy()


def calendar_months(ds: xr.Dataset) -> np.ndarray:
    """Month of the year (1-12) of each month of ``ds``."""
    return pd.DatetimeIndex(ds["time"].values).month.to_numpy()


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


# ---------------------------------------------------------------------- invariant checks


def assert_workers_conserved(ds: xr.Dataset, monthly_growth: float | None = None) -> None:
    """Every worker is in exactly one state; the labour force changes only by entrants.

    Checks every month: the workers by state add up to ``labour_force``; urban residents
    are never farming, in local wage work or migrants (in those states ``workers``
    equals the sum of ``village_workers``); nobody changes home but settlers (who move
    from their village to the urban core, ``village_settlers``), so from one month to
    the next, settlers aside, every home (each village, and the urban core) gains
    workers only when the labour force grows (trend entrants from the reserve) and loses
    them only when it shrinks (retirees not replaced), and the homes' changes add up to
    the labour force's.

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
    if "village_settlers" in ds:  # settlers move home, from their village to the town
        moved = ds["village_settlers"].values[1:].astype(np.int64)
        assert (moved >= 0).all(), "negative settlers"
        change = change + np.column_stack([-moved.sum(axis=1), moved])
    wrong_way = (change * np.sign(net)[:, None] < 0) | ((net == 0)[:, None] & (change != 0))
    assert not wrong_way.any(), (
        f"a home's workers changed against the labour force's net entrants "
        f"(months {np.flatnonzero(wrong_way.any(axis=1)) + 1}): workers moved home")
    if monthly_growth is not None:
        expected = monthly_growth * labour_force[:-1]
        ok = (net == np.floor(expected)) | (net == np.ceil(expected))
        assert ok.all(), f"net entrants {net} are not the trend's {expected}"


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
    for key in ("countysim_version", "scenario_toml", "scenario_hash", "parameter_set",
                "seed_entropy"):
        assert key in ds.attrs, f"missing attribute {key!r}"



def assert_invariants(ds: xr.Dataset, scenario: Scenario | None = None) -> None:
    """Every Dataset invariant of this module, for any scenario and seed.

    Args:
        ds: A run's Dataset (e.g. ``countysim.run(scenario, seed=0, until="2025-02")``).
        scenario: The run's scenario, if known: the year-to-date check then also knows
            its evaluation interval.
    """
    __tracebackhide__ = True
    assert_dataset_metadata(ds)
    assert_no_negative_or_nan(ds)
    assert_workers_conserved(ds)
    interval = scenario.evaluation_interval if scenario is not None else None
    assert_ytd_resets(ds, interval)
    assert_flows_counted_once(ds)
    assert_problems_balanced(ds)
    assert_cadre_outcomes_add_up(ds)


# ------------------------------------------------------------- reference outputs (alarms)
# The invariants above hold for every model; the references below pin *this* model's
# output, so that a change which moves it (a new default, a reordered draw) is noticed:
# tests/test_references.py compares a fresh run with the file and fails until the file is
# refreshed with REFRESH_COMMAND and CHANGELOG.md names the new output_version.

#: Where the headline references live, relative to the repository's root.
REFERENCE_FILE = "tests/reference/headline.json"
#: The command that rewrites :data:`REFERENCE_FILE` (``make references`` runs it).
REFRESH_COMMAND = "python -m countysim.testing --refresh-references"
#: The scenario the references run, relative to the repository's root: the full district
#: (a run to 2025-12 takes well under a second), so the alarm sees what users see.
REFERENCE_SCENARIO = "scenarios/baseline_2025.toml"
#: The targets file whose windows and statistics read the headline figures.
REFERENCE_TARGETS = "scenarios/targets/litong_2025.toml"
#: A few seeds: one seed could hide a change that only moves other draws.
REFERENCE_SEEDS: tuple[int, ...] = (0, 1, 2)
#: The last month run; the December values below are read here.
REFERENCE_UNTIL = "2025-12"
#: The article's headline figures, read as the calibration targets read them.
HEADLINE_TARGETS: tuple[str, ...] = ("A4", "A5", "A6", "A7", "A8", "A9", "A14", "A29")
#: District-wide variables read in :data:`REFERENCE_UNTIL` (not targets of their own there).
HEADLINE_DECEMBER: tuple[str, ...] = ("urban_unemployment_rate", "rural_income_per_capita",
                                      "urban_income_per_capita")
#: Relative tolerance of the comparison: the same code gives the same bits on one machine;
#: the margin absorbs only last-digit differences of another platform's libm or BLAS.
REFERENCE_RTOL = 1e-12
OUTPUT_VERSION_PREFIX = "out-"
# As the parameter set's version: 48 bits, quoted in CHANGELOG.md.
_OUTPUT_VERSION_DIGITS = 12


def headline_values(ds: xr.Dataset, targets: Iterable[Any]) -> dict[str, float]:
    """A run's headline figures: each target's statistic and the December values.

    Args:
        ds: A run's Dataset reaching :data:`REFERENCE_UNTIL` or later.
        targets: Targets (:func:`countysim.load_targets`) of :data:`HEADLINE_TARGETS`.

    Returns:
        ``{"A4": ..., ..., "urban_unemployment_rate@2025-12": ...}`` as floats.
    """
    start = str(ds.attrs["start"])
    values = {t.id: t.evaluate(ds, start) for t in targets}
    month = np.datetime64(REFERENCE_UNTIL)
    for name in HEADLINE_DECEMBER:
        values[f"{name}@{REFERENCE_UNTIL}"] = float(ds[name].sel(time=month))
    return values


def output_version(values: dict[str, dict[str, float]], parameter_set: str = "") -> str:
    """The version of a set of reference values: ``out-`` and 12 hex digits of a digest.

    The digest is of the values (floats by ``repr``, which round-trips, so any change of
    any value changes it) and of the parameter set that made them: a changed registry
    default the reference scenario overrides leaves the values alone but still needs a
    refresh and a changelog entry, since other scenarios' output moves.

    Args:
        values: ``{seed: {figure: value}}`` as :func:`reference_values` returns.
        parameter_set: The reference scenario's :attr:`Scenario.parameter_set`.
    """
    text = json.dumps({"parameter_set": parameter_set,
                       "values": {s: {k: repr(v) for k, v in sorted(row.items())}
                                  for s, row in sorted(values.items())}}, sort_keys=True)
    return OUTPUT_VERSION_PREFIX + hashlib.sha256(text.encode()).hexdigest()[
        :_OUTPUT_VERSION_DIGITS]


def reference_values(root: str | Path = ".", *, scenario: Scenario | None = None,
                     seeds: Iterable[int] = REFERENCE_SEEDS) -> dict[str, dict[str, float]]:
    """The headline values of fresh runs, by seed (as strings, the file's keys).

    Args:
        root: The repository's root (where ``scenarios/`` is).
        scenario: The scenario to run; default :data:`REFERENCE_SCENARIO` under ``root``.
        seeds: The run seeds.

    Returns:
        ``{"0": {"A4": ..., ...}, "1": {...}, ...}``.
    """
    from .calibration.targets import load_targets
    from .core.county import run

    root = Path(root)
    if scenario is None:
        from .core.scenario import load_scenario
        scenario = load_scenario(root / REFERENCE_SCENARIO)
    targets = load_targets(root / REFERENCE_TARGETS).select(list(HEADLINE_TARGETS))
    return {str(seed): headline_values(run(scenario, seed=seed, until=REFERENCE_UNTIL),
                                       targets)
            for seed in seeds}


def _git_commit(root: Path) -> str:
    """``HEAD``'s hash, marked ``+uncommitted`` when the tree has changes ("" without git)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                              text=True, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return ""
    return commit + (" +uncommitted" if dirty else "")


def refresh_references(root: str | Path = ".", *, out: str | Path | None = None,
                       scenario: Scenario | None = None,
                       seeds: Iterable[int] = REFERENCE_SEEDS) -> dict[str, Any]:
    """Run the reference runs and write their headline values (:data:`REFERENCE_FILE`).

    Then add an entry to ``CHANGELOG.md`` that says why the output changed and names the
    new ``output_version``: the reference test requires it.

    Args:
        root: The repository's root.
        out: The file to write; default :data:`REFERENCE_FILE` under ``root``.
        scenario: The scenario to run; default :data:`REFERENCE_SCENARIO`.
        seeds: The run seeds.

    Returns:
        What was written: provenance, ``parameter_set``, ``output_version`` and ``values``.
    """
    root = Path(root)
    seeds = tuple(seeds)
    scenario_file = None
    if scenario is None:
        from .core.scenario import load_scenario
        scenario_file = REFERENCE_SCENARIO
        scenario = load_scenario(root / REFERENCE_SCENARIO)
    values = reference_values(root, scenario=scenario, seeds=seeds)
    record = {
        "command": REFRESH_COMMAND,
        "scenario": scenario.name,
        "scenario_file": scenario_file,
        "targets": REFERENCE_TARGETS,
        "seeds": list(seeds),
        "until": REFERENCE_UNTIL,
        "git_commit": _git_commit(root),
        "parameter_set": scenario.parameter_set,
        "output_version": output_version(values, scenario.parameter_set),
        "values": values,
    }
    path = Path(out) if out is not None else root / REFERENCE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def load_references(path: str | Path) -> dict[str, Any]:
    """Read a references file that :func:`refresh_references` wrote."""
    return json.loads(Path(path).read_text())


def _main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m countysim.testing",
                                     description="Refresh the headline reference values.")
    parser.add_argument("--refresh-references", action="store_true", required=True,
                        help=f"rerun the reference runs and rewrite {REFERENCE_FILE}")
    parser.add_argument("--root", default=".", help="the repository's root (default: .)")
    args = parser.parse_args(argv)
    record = refresh_references(args.root)
    print(f"wrote {Path(args.root) / REFERENCE_FILE}: output_version "
          f"{record['output_version']}, parameter_set {record['parameter_set']}; "
          f"name {record['output_version']} in CHANGELOG.md with why the output changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
