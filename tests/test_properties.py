"""Hypothesis property tests: the model's invariants hold on small random districts.

Each example draws a small district (villages, townships, pilots, firms, cadres), a few
behavioural rates anywhere within their registry bounds, programme sizes, a start month,
a spin-up of 0-12 months, a horizon of 3-14 months and a run seed, runs it month by month,
and checks invariants on the model and its Dataset. The profile is derandomized and
database-free, so CI runs the same examples every time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import xarray as xr
from conftest import (
    assert_cadre_outcomes_add_up,
    assert_flows_counted_once,
    assert_no_negative_or_nan,
    assert_problems_balanced,
    assert_workers_conserved,
    assert_workforce_consistent,
    assert_ytd_resets,
    assert_zero_pilot_effect,
    monthly_growth,
    open_problems,
)
from countysim import CountyModel
from countysim.core.parameters import PARAMETERS
from countysim.core.scenario import default_scenario
from countysim.core.tables import Labour
from countysim.core.villages import PARTY_BRANCH
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Each example is a full (small) run with its spin-up, ~0.05 s: 20 examples per property
# keep the file at about ten seconds.
PROPERTY_SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                             suppress_health_check=[HealthCheck.too_slow])

# Behavioural rates and levers drawn anywhere within their registry bounds.
FREE_FLOATS = ("separation_rate", "matching_elasticity", "vacancy_share", "job_finding_rate",
               "migration_rate", "return_rate", "seasonal_take_rate", "local_exit_rate",
               "retirement_rate", "population_growth", "activation_rate",
               "problem_rate_firm",
               "legacy_logit", "integrity_failure_rate", "advance_rate", "cadre_exit_rate",
               "leading_post_turnover", "legacy_cadre_share",
               "imitation_rate", "switch_cost", "price_elasticity", "technician_yield_gain",
               "evaluation_strictness", "evaluation_noise", "results_weight",
               "removal_score_max", "promotion_score_min", "labour_demand_elasticity",
               "problem_productivity_penalty", "collective_income_noise", "matching_boost",
               "effort_response", "dividend_share", "alliance_market_boost")
# The start's problem queues are derived as stationary stocks under the effort of the
# first simulated month: with no front-line time or a near-zero resolution rate they have
# no finite size (the derivation then asks for ~10^10 problems), and a near-zero
# collection rate a near-infinite open queue. These are drawn from narrower ranges that
# keep the stationary queues below ~10^5 problems.
NARROWED = {"frontline_share": (0.05, 1.0), "resolve_base": (-3.0, 4.0),
            "collect_rate": (0.05, 20.0), "problem_rate_household": (0.0, 0.01)}
FIRST_STARTS = [f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13)]


def bounded(name: str) -> st.SearchStrategy:
    """Values of parameter ``name`` anywhere within its registry bounds."""
    p = PARAMETERS[name]
    lo, hi = p.bounds
    if p.kind is int:
        return st.integers(int(lo), int(hi))
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def add_months(month: str, k: int) -> str:
    """``month`` (YYYY-MM) plus ``k`` months."""
    y, m = int(month[:4]), int(month[5:]) + k
    return f"{y + (m - 1) // 12}-{(m - 1) % 12 + 1:02d}"


@dataclass(frozen=True)
class Case:
    """One drawn example: scenario overrides, run seed and horizon."""

    overrides: dict[str, Any]
    seed: int
    months: int

    def scenario(self):
        """The validated scenario of this case."""
        return default_scenario().replace(source="hypothesis", **self.overrides)

    def run(self, seed: int | None = None, check=None) -> tuple[CountyModel, xr.Dataset]:
        """Run the case (with another seed if given) and return the model and Dataset.

        Args:
            seed: Run seed; default the case's.
            check: Called as ``check(model)`` after every month, if given.

        The model carries ``open_before`` (problems open before the start month) and
        ``lf_history`` (the labour force before the start month, then after each).
        """
        model = CountyModel(self.scenario(), rng=self.seed if seed is None else seed)
        model.open_before = open_problems(model)
        model.lf_history = [model.workforce.active]
        for _ in range(self.months):
            model.step()
            model.lf_history.append(model.workforce.active)
            if check is not None:
                check(model)
        return model, model.dataset()


@st.composite
def cases(draw, pilot_villages: int | None = None) -> Case:
    """A small random district with random rates, programmes, start month and horizon."""
    villages = draw(st.integers(1, 30), label="villages")
    townships = draw(st.integers(1, min(villages, 6)), label="townships")
    pilots = (draw(st.integers(0, villages), label="pilot_villages")
              if pilot_villages is None else pilot_villages)
    cadres = draw(st.integers(2, 80), label="evaluated_cadres")
    o: dict[str, Any] = {
        "villages": villages, "townships": townships, "pilot_villages": pilots,
        "evaluated_cadres": cadres,
        "mentor_pairs": draw(st.integers(0, cadres // 4)),
        "recruits": draw(st.integers(0, cadres // 4)),
        "population": draw(st.integers(2_000, 30_000)),
        "firms": draw(st.integers(1, 50)),
        "firm_size_median": draw(st.floats(1.0, 80.0)),
        "legacy_backlog": draw(st.integers(0, 300)),
        "firm_visits_per_year": draw(st.integers(0, 120)),
        "pilot_rule": draw(st.sampled_from(["capacity", "idle_assets", "random"])),
        "alliances": draw(st.booleans()),
        "alliance_size": draw(st.integers(2, 6)),
        "integrity_checks": draw(st.booleans()),
        "evaluation_interval": draw(bounded("evaluation_interval")),
        "technicians": draw(st.integers(0, 60)),
        "expert_mentors": draw(st.integers(0, 10)),
        "returnees": draw(st.integers(0, 20)),
        "returnee_jobs": draw(st.integers(0, 10)),
        "training_months": draw(st.integers(1, 12)),
        "idle_buildings_mean": draw(st.floats(0.0, 5.0)),
        "district_seed": draw(st.integers(0, 2**32 - 1)),
    }
    for name in FREE_FLOATS:
        o[name] = draw(bounded(name), label=name)
    o["spinup_months"] = draw(st.integers(0, 12), label="spinup_months")
    for name, (lo, hi) in NARROWED.items():
        o[name] = draw(st.floats(lo, hi), label=name)
    o["leading_posts"] = draw(st.integers(0, cadres), label="leading_posts")
    start = draw(st.sampled_from(FIRST_STARTS), label="start")
    months = draw(st.integers(3, 14), label="months")
    o["start"], o["until"] = start, add_months(start, months - 1)
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    return Case(o, seed, months)


# --------------------------------------------------------------------------- properties


def assert_no_negative_stocks(model: CountyModel) -> None:
    """Every stock of the model's state is non-negative and within its bounds."""
    __tracebackhide__ = True
    wf, table = model.workforce, model.firm_table
    assert (wf.cells >= 0).all() and (wf.employees >= 0).all()
    assert (table.vacancies >= 0).all() and model.other_vacancies >= 0
    assert (table.demand >= 0).all() and (table.subsidy_months >= 0).all()
    assert model.leading_vacancies >= 0
    assert (model.returnee_open.sum() <= model.returnee_start.size)
    for v in model.village_list:
        assert 0 <= v.active_land <= v.idle_land + 1e-9
        assert 0 <= v.active_buildings <= v.idle_buildings
        assert 0 <= v.trained <= v.technicians and v.returnees >= 0
        assert v.coop_jobs >= 0 and v.local_jobs >= 0


def assert_cooperative_money_conserved(model: CountyModel) -> None:
    """A cooperative's revenue is shared out exactly; payouts never exceed their source."""
    __tracebackhide__ = True
    p = model.p
    for v in model.village_list:
        wages = p.coop_wage_share * v.coop_revenue
        collective = p.coop_collective_share * v.coop_revenue
        assert v.coop_revenue >= 0 and v.member_profit >= 0
        assert wages + collective + v.member_profit == pytest.approx(v.coop_revenue,
                                                                     rel=1e-12, abs=1e-9)
        assert v.member_profit <= v.coop_revenue - wages + 1e-9
        assert 0 <= v.dividends <= v.collective_income + 1e-9


@PROPERTY_SETTINGS
@given(case=cases())
def test_people_are_conserved_every_month(case):
    def check(model):
        assert model.lf_history[-1] == model.lf_history[-2] + model.labour_force_change
        assert_workforce_consistent(model.workforce)

    model, ds = case.run(check=check)
    assert ds.sizes["time"] == case.months
    assert (ds["labour_force"].values == model.lf_history[1:]).all()
    growth = model.spec.population_growth
    assert_workers_conserved(ds, monthly_growth(model.spec) if growth >= 0 else None)


@PROPERTY_SETTINGS
@given(case=cases())
def test_no_count_income_or_stock_is_negative_or_nan(case):
    _, ds = case.run(check=assert_no_negative_stocks)
    assert_no_negative_or_nan(ds)


@PROPERTY_SETTINGS
@given(case=cases())
def test_each_person_is_counted_at_most_once_in_each_flow(case):
    model, ds = case.run()
    assert_flows_counted_once(ds)
    assert_ytd_resets(ds, evaluation_interval=case.overrides["evaluation_interval"])
    # The year-to-date counts are counts of distinct people (retired ones included).
    wf = model.workforce
    assert ds["urban_placements_ytd"].values[-1] == wf.placed_count()
    assert ds["rural_nonfarm_entrants_ytd"].values[-1] == wf.nonfarm_count()
    assert wf.placed_ytd.sum() <= len(wf)
    assert not wf.nonfarm_ytd[~wf.rural & ~wf.settled].any(), (
        "an urban resident (not a settler of this year) is in the A5 flow")
    assert ds["firms_visited_ytd"].values.max() <= case.overrides["firms"]


@PROPERTY_SETTINGS
@given(case=cases())
def test_problems_are_balanced_from_the_start_stock(case):
    model, ds = case.run()
    assert_problems_balanced(ds, model.open_before)


@PROPERTY_SETTINGS
@given(case=cases())
def test_cadre_outcomes_add_up_to_evaluated(case):
    model, ds = case.run()
    assert_cadre_outcomes_add_up(ds)
    # Every post is filled: departures and outcomes are refilled by newcomers at once.
    assert len(model.cadres) == case.overrides["evaluated_cadres"]
    assert sum(c.evaluated for c in model.cadres) <= case.overrides["evaluated_cadres"]
    promoted = ds["cadres_promoted_ytd"].values
    assert (promoted <= case.overrides["evaluated_cadres"]).all()


@PROPERTY_SETTINGS
@given(case=cases())
def test_village_state_and_cooperative_money_are_consistent(case):
    model, ds = case.run(check=assert_cooperative_money_conserved)
    pilot = ds["pilot"].values.astype(bool)
    assert pilot.sum() == case.overrides["pilot_villages"]
    assert (ds["cooperative"].values == np.where(pilot, PARTY_BRANCH, 0)).all()
    land = ds["active_land"].values
    # Idle land only grows: settlers leave theirs, reinvestment adds (L8).
    idle = np.array([v.idle_land for v in model.village_list])
    assert (idle >= model.district.villages["idle_land_mu"].to_numpy() - 1e-9).all()
    assert (land[:, ~pilot] == 0).all()
    assert (land <= idle + 1e-9).all()
    assert (np.diff(land, axis=0) >= 0).all(), "activated land was lost"
    gain = case.overrides["technician_yield_gain"]
    productivity = ds["productivity"].values
    assert ((productivity >= 1.0) & (productivity <= 1 + gain + 1e-9)).all()
    local = ds["workers"].sel(labour_state=Labour.LOCAL_WAGE.name.lower()).values
    local_jobs = ds["cooperative_workers"].values + ds["returnee_business_workers"].values
    assert (local_jobs <= local).all()


@PROPERTY_SETTINGS
@given(case=cases(pilot_villages=0))
def test_zero_pilot_villages_give_zero_pilot_effect(case):
    _, ds = case.run()
    # Up to three calendar years of returnee businesses (a December start runs 14 months).
    jobs = case.overrides["returnees"] * case.overrides["returnee_jobs"] * 3
    assert_zero_pilot_effect(ds, returnee_jobs=jobs)


@PROPERTY_SETTINGS
@given(case=cases(pilot_villages=0))
def test_zero_pilot_villages_and_no_returnees_give_no_local_business_jobs(case):
    overrides = {**case.overrides, "returnees": 0}
    _, ds = Case(overrides, case.seed, case.months).run()
    assert_zero_pilot_effect(ds, returnee_jobs=0)
    assert (ds["returnee_business_workers"].values == 0).all()


@PROPERTY_SETTINGS
@given(case=cases(), other=st.integers(0, 2**32 - 1))
def test_same_seed_identical_dataset_other_seed_different(case, other):
    _, a = case.run()
    _, b = case.run()
    xr.testing.assert_identical(a, b)
    if other != case.seed:
        _, c = case.run(seed=other)
        # .equals ignores attrs (which name the seed): the *data* must differ.
        assert not a.equals(c), "another seed gave the same data"
