"""The Mesa model: construction, calendar, scheduling, reproducibility, pickling, tooling."""

from __future__ import annotations

import pickle

import countysim
import mesa
import numpy as np
import pytest
import xarray as xr
from conftest import (
    BASELINE,
    assert_problems_balanced,
    assert_runs_equal,
    assert_workers_conserved,
    assert_workforce_consistent,
    create_test_model,
    create_test_scenario,
    levers_2024,
    monthly_growth,
    open_problems,
    run_test_model,
)
from countysim import CountyModel, Scenario, load_scenario, run
from countysim.core.cadres import Cadre
from countysim.core.firms import Enterprise
from countysim.core.parameters import PARAMETERS
from countysim.core.scenario import default_scenario
from countysim.core.villages import Village

# ---------------------------------------------------------------------- construction


def test_model_is_a_mesa_model_with_agents():
    s = create_test_scenario()
    model = CountyModel(s, rng=1)
    assert isinstance(model, mesa.Model)
    assert len(model.villages) == s.villages and len(model.firms) == s.firms
    assert len(model.cadres) == s.evaluated_cadres  # recruits fill posts, they add none
    assert len(model.agents) == s.villages + s.firms + s.evaluated_cadres
    assert all(isinstance(a, Village) for a in model.villages)
    assert all(isinstance(a, Enterprise) for a in model.firms)
    assert all(isinstance(a, Cadre) for a in model.cadres)
    assert [v.index for v in model.village_list] == list(range(s.villages))
    assert model.month == -1 and model.steps == 0


def test_constructor_accepts_keyword_overrides():
    s = create_test_scenario()
    model = CountyModel(s, rng=1, pilot_villages=3, frontline_share=0.5)
    assert model.spec.pilot_villages == 3 and model.spec.frontline_share == 0.5
    assert model.spec.sources["pilot_villages"] == "override"
    model.step()  # the levers in force from the start year on
    assert model.p.pilot_villages == 3 and model.p.frontline_share == 0.5
    assert s.pilot_villages == 8  # the scenario itself is unchanged
    with pytest.raises(countysim.ScenarioError, match="pilot_vilages"):
        CountyModel(s, rng=1, pilot_vilages=0)


def test_constructor_accepts_a_path_or_none():
    from_path = CountyModel(BASELINE, rng=0)
    assert from_path.spec == load_scenario(BASELINE)
    defaults = CountyModel(None, rng=0)
    # None means the registry defaults: the baseline's district and levers, and the
    # hand-set (uncalibrated) behaviour. The baseline is an ensemble member, so the
    # district values it draws (its carried draws and district_seed) are its own.
    assert defaults.spec.values == default_scenario().values
    baseline = load_scenario(BASELINE)
    for name, p in PARAMETERS.items():
        drawn = "the medoid: ensemble member" in baseline.sources[name]
        if p.section != "behaviour" and not drawn:
            assert defaults.spec[name] == baseline[name], name


def test_rng_may_be_an_int_a_seed_sequence_or_a_generator():
    s = create_test_scenario()
    a = run(s, seed=7, until="2025-03")
    b = run(s, seed=np.random.SeedSequence(7), until="2025-03")
    assert_runs_equal(a, b)
    g1 = CountyModel(s, rng=np.random.default_rng(3))
    g2 = CountyModel(s, rng=np.random.default_rng(3))
    for m in (g1, g2):
        m.run_until("2025-03")
    assert_runs_equal(g1.dataset(), g2.dataset())
    m = CountyModel(s)  # rng=None: fresh entropy, still recorded
    m.step()
    assert int(m.dataset().attrs["seed_entropy"]) > 0


@pytest.mark.parametrize("bad", [-1, 1.5, "1", True])
def test_invalid_seeds_are_rejected(bad):
    with pytest.raises((TypeError, ValueError)):
        CountyModel(create_test_scenario(), rng=bad)


# -------------------------------------------------------------------------- calendar


def test_run_until_steps_month_by_month():
    model = create_test_model()
    model.run_until("2025-03")
    assert model.steps == 3 and model.month == 2 and model.calendar_month == 3
    assert model.year == 2025
    model.run_until("2026-02")
    assert model.steps == 14 and model.calendar_month == 2 and model.year == 2026
    model.run_until("2025-05")  # already past: nothing happens
    assert model.steps == 14
    with pytest.raises(ValueError, match="before the start"):
        create_test_model(start="2025-06").run_until("2025-05")
    for bad in ("2031-01", "2024-12", "2025-13"):
        with pytest.raises(ValueError):
            create_test_model().run_until(bad)


def test_running_turns_false_at_the_scenario_horizon():
    # Mesa's runners step while model.running: it must turn false at the scenario's until.
    model = create_test_model(until="2025-04")
    steps = 0
    while model.running and steps < 100:
        model.step()
        steps += 1
    assert steps == 4 and model.dataset().sizes["time"] == 4


def test_run_uses_the_scenario_horizon_by_default():
    s = create_test_scenario(until="2025-04")
    assert run(s, seed=0).sizes["time"] == 4
    assert run(s, seed=0, until="2025-02").sizes["time"] == 2


def test_run_starting_mid_year_restarts_flows_in_january():
    # The spin-up of a September start runs through January-August of 2025 under the
    # 2025 levers, so the first year-to-date counts include those months.
    _, ds = run_test_model(months=8, start="2025-09")
    times = ds["time"].values
    assert str(times[0])[:10] == "2025-09-01" and str(times[-1])[:10] == "2026-04-01"
    jan = 4
    ytd, monthly = ds["urban_placements_ytd"].values, ds["urban_placements"].values
    assert ytd[0] > monthly[0]
    assert (np.diff(ytd[:jan]) == monthly[1:jan]).all()
    assert ytd[jan] == monthly[jan]
    assert (ytd[jan:] == np.cumsum(monthly[jan:])).all()


def test_step_follows_the_design_order(monkeypatch):
    calls = []
    order = ["_drivers", "_raise_problems", "_frontline", "_firms_post_vacancies",
             "_labour_market", "_villages", "_cadre_turnover", "_evaluation"]
    for name in order:
        original = getattr(CountyModel, name)

        def wrapper(self, _original=original, _name=name):
            calls.append(_name)
            return _original(self)

        monkeypatch.setattr(CountyModel, name, wrapper)
    model = create_test_model(spinup_months=2)
    assert calls == order * 2  # the spin-up's months run the same steps, unrecorded
    calls.clear()
    model.step()
    assert calls == order
    assert model.dataset().sizes["time"] == 1  # step 8: observation


def test_drivers_follow_the_trends():
    # Leaders no better than 2024's (L2 off): output follows its trend alone.
    # No services bought by settlers: labour demand follows output alone.
    model = create_test_model(output_growth=0.1, employment_elasticity=0.2, inflation=0.02,
                              leader_growth_effect=0.0, settler_service_jobs=0.0)
    output, wages, demand = [], [], []
    for _ in range(24):
        model.step()
        output.append(model.output_index)
        wages.append(model.nominal_index)
        demand.append(model.labour_demand_index)
    output, wages, demand = np.array(output), np.array(wages), np.array(demand)
    assert output[0] == 1.0 and wages[0] == 1.0  # relative to the start month
    np.testing.assert_allclose(output[12:] / output[:12], 1.1, rtol=1e-9)
    np.testing.assert_allclose(demand[12:] / demand[:12], 1 + 0.2 * 0.1, rtol=1e-9)
    # Wages grow with labour productivity (output over employment) plus inflation.
    np.testing.assert_allclose(wages[12:] / wages[:12], 1.1 / 1.02 * 1.02, rtol=1e-9)


def test_settled_households_add_labour_demand():
    # Each worker settled in town since the initial state adds settler_service_jobs jobs
    # to a demand of D0 (the start's jobs plus vacancies): the index is the output trend
    # times 1 + jobs x settlers / D0, with the settlers counted before the month's market.
    args = dict(output_growth=0.1, employment_elasticity=0.2, leader_growth_effect=0.0,
                settle_rate=0.5)
    plain = create_test_model(settler_service_jobs=0.0, **args)
    served = create_test_model(settler_service_jobs=0.5, **args)
    for _ in range(12):
        settled = served.settlers_total
        plain.step()
        served.step()
        expected = plain.labour_demand_index * (1 + 0.5 * settled / served.demand_ref)
        assert served.labour_demand_index == pytest.approx(expected, rel=1e-12)
    assert served.settlers_total > 0
    assert served.labour_demand_index > plain.labour_demand_index


# ------------------------------------------------------------------------- spin-up


def test_the_spinup_runs_under_the_2024_levers_and_is_not_recorded():
    model = create_test_model(spinup_months=12)
    assert model.month == -1 and model.steps == 0
    assert model.year == 2024 and model.p.pilot_villages == 0
    for name, value in levers_2024().items():
        assert model.p[name] == value, name
    assert model.dataset().sizes["time"] == 0
    model.step()
    assert model.month == 0 and model.p.pilot_villages == model.spec.pilot_villages
    ds = model.dataset()
    assert ds.sizes["time"] == 1 and str(ds["time"].values[0])[:7] == "2025-01"
    assert ds.attrs["spinup_months"] == 12


def test_without_a_spinup_the_start_is_the_derived_state():
    model = create_test_model(spinup_months=0)
    assert model.month == -1 and model.p.pilot_villages == model.spec.pilot_villages
    assert open_problems(model)[1] == model.spec.legacy_backlog
    assert model.leading_vacancies == 0
    assert_workforce_consistent(model.workforce)


def test_the_spinup_keeps_the_legacy_backlog_and_sets_its_inflow():
    # During the spin-up the backlog is replenished by as many cases as were resolved
    # (the last month's at its end), so it is exactly its given size at the start; after
    # it, cases arise at the spin-up's mean resolution rate.
    model = create_test_model()
    assert open_problems(model)[1] == model.spec.legacy_backlog
    assert model.legacy_inflow > 0
    for _ in range(24):
        model.step()
    raised = model.dataset()["legacy_raised"].values
    # Poisson with mean 24 x inflow: within 4 SD of it.
    mean = 24 * model.legacy_inflow
    assert abs(raised.sum() - mean) < 4 * np.sqrt(mean)


def _urban_unemployment_2024_levers() -> tuple[float, np.ndarray]:
    """The derived start's rate and the 8-seed mean of each of three years' rates."""
    target = create_test_model(**levers_2024()).seeking_share_start
    yearly = []
    for seed in range(8):
        _, ds = run_test_model(seed=seed, months=36, **levers_2024())
        yearly.append(ds["urban_unemployment_rate"].values.reshape(3, 12).mean(axis=1))
    return target, np.mean(yearly, axis=0)


def test_urban_unemployment_stays_settled_under_the_2024_levers():
    # With the 2024 levers kept for three years after the spin-up the urban unemployment
    # rate holds its level. Eight seeds; the yearly mean of one seed has an SD of ~0.35
    # points (~280 seekers), so the 8-seed mean of a year has an SE of ~0.12 points: a
    # drift between the first and third year must stay below 0.3 (~2.5 SE of the
    # difference, which shares the seeds).
    p = create_test_scenario()
    s, r, g = p.separation_rate, p.retirement_rate / 12, p.population_growth / 12
    target, yearly = _urban_unemployment_2024_levers()
    assert (s + r + g) / (s + r + p.job_finding_rate + g + 0.01) < target < (
        (s + r + g) / (s + r + p.job_finding_rate)), "settlers lower it, a little"
    assert abs(yearly[2] - yearly[0]) < 0.003, yearly


def test_urban_unemployment_starts_near_the_flow_balance():
    # The flow balance (s + r + g) / (s + r + f + g + settling) (``seeking_share_start``,
    # settlers into town as employed entrants) leaves out the rural side's flows into
    # urban jobs (farmers' search, returning migrants) and firms' demand moving with their
    # problems, so the small district settles near, not at, the balance during the
    # spin-up: 9.49-9.51 % against 9.46 % on these seeds (it was 0.4 points below before
    # the settled start of issue 15). Held to 0.75 points, ~1 SE of a year's 8-seed mean
    # plus that bias.
    target, yearly = _urban_unemployment_2024_levers()
    assert (np.abs(yearly - target) < 0.0075).all(), (target, yearly)


def test_rural_labour_states_stay_settled_under_the_2024_levers():
    # The rural states start from each village's stationary distribution: their
    # January shares must not drift. 8 seeds; the SD of a share between seeds is
    # <= 0.01, so the SE of the 8-seed mean is <= 0.0035 and 0.015 is > 4 SE.
    shares = []
    for seed in range(8):
        _, ds = run_test_model(seed=seed, months=25, **levers_2024())
        by_state = ds["village_workers"].sum("village").values[::12]  # Januaries
        shares.append(by_state / by_state.sum(axis=1, keepdims=True))
    shares = np.mean(shares, axis=0)
    np.testing.assert_allclose(shares[1:], np.broadcast_to(shares[0], shares[1:].shape),
                               atol=0.015)


# ------------------------------------------------------------------ reproducibility


def test_same_seed_same_dataset_other_seed_different():
    s = create_test_scenario()
    a, b, c = (run(s, seed=k, until="2025-06") for k in (3, 3, 4))
    assert_runs_equal(a, b)
    assert not a.equals(c)


def test_dataset_attrs_reproduce_the_run():
    s = create_test_scenario(pilot_rule="random", alliances=False)
    ds = run(s, seed=np.random.SeedSequence(99, spawn_key=(2, 5)), until="2025-05")
    scenario = Scenario.from_toml(ds.attrs["scenario_toml"])
    assert scenario == s
    spawn_key = tuple(int(k) for k in ds.attrs["seed_spawn_key"].split(",") if k)
    seed = np.random.SeedSequence(int(ds.attrs["seed_entropy"]), spawn_key=spawn_key)
    again = run(scenario, seed=seed, until=str(ds["time"].values[-1])[:7])
    assert again.equals(ds)
    assert again.attrs["scenario_hash"] == ds.attrs["scenario_hash"]


def test_model_pickles_mid_run_and_continues_identically():
    model = create_test_model(seed=21)
    model.run_until("2025-05")
    copy = pickle.loads(pickle.dumps(model))
    model.run_until("2025-11")
    copy.run_until("2025-11")
    assert_runs_equal(model.dataset(), copy.dataset())
    # The copy is independent: stepping it does not move the original.
    copy.step()
    assert copy.steps == model.steps + 1
    # The firm table still reads the workforce's live employee counts.
    assert np.shares_memory(copy.firm_table.employees, copy.workforce.employees)
    assert_workforce_consistent(copy.workforce)


def test_full_district_pickles_mid_run():
    model = CountyModel(BASELINE, rng=5)
    model.run_until("2025-02")
    copy = pickle.loads(pickle.dumps(model))
    model.run_until("2025-04")
    copy.run_until("2025-04")
    assert_runs_equal(model.dataset(), copy.dataset())


def test_mesa_batch_run_drives_the_model():
    # Mesa's own tooling: batch_run constructs the model from keyword parameters (scenario
    # overrides) and an rng, steps it, and collects results.
    s = create_test_scenario()
    results = mesa.batch_run(CountyModel, parameters={"scenario": [s], "pilot_villages": [0, 5]},
                             rng=[1, 2], max_steps=3, number_processes=1,
                             display_progress=False)
    assert len(results) == 4
    assert {r["pilot_villages"] for r in results} == {0, 5}
    assert all(r["Step"] == 3 for r in results)
    # The collected indicators are the ones of the Dataset of the same run.
    ds = run(s, seed=1, until="2025-03", pilot_villages=5)
    row = next(r for r in results if r["pilot_villages"] == 5 and r["iteration"] == 0)
    assert row["urban_placements_ytd"] == int(ds["urban_placements_ytd"].values[-1])
    assert row["problems_resolved_cum"] == int(ds["problems_resolved_cum"].values[-1])


def test_mesa_batch_run_accepts_a_scenario_as_a_single_value():
    # batch_run treats a parameter value as a list of levels if it can iterate over it.
    # A Scenario is a single value: iterating over it must fail with TypeError (it has
    # __getitem__ by name, which Python's legacy iteration protocol would call with 0).
    s = create_test_scenario()
    with pytest.raises(TypeError):
        iter(s)
    results = mesa.batch_run(CountyModel, parameters={"scenario": s}, rng=[1], max_steps=2,
                             number_processes=1, display_progress=False)
    assert len(results) == 1


# ------------------------------------------------------------- whole-model relations


def test_workers_and_problems_balance_in_the_full_district(baseline_dataset):
    s = load_scenario(BASELINE)
    assert_workers_conserved(baseline_dataset, monthly_growth(s))
    assert_problems_balanced(baseline_dataset)


def test_the_labour_force_changes_by_net_entrants_only():
    model = create_test_model()
    wf = model.workforce
    open_before = open_problems(model)
    force = [wf.active]
    for _ in range(14):
        model.step()
        assert wf.active == force[-1] + model.labour_force_change
        assert_workforce_consistent(wf)
        force.append(wf.active)
    ds = model.dataset()
    assert (ds["labour_force"].values == force[1:]).all()
    assert_workers_conserved(ds, monthly_growth(model.spec))
    assert_problems_balanced(ds, open_before)
    # Retirements renew the labour force: about retirement_rate / 12 of it a month.
    expected = model.spec.retirement_rate / 12 * np.mean(force)
    assert ds["retirements"].values.mean() == pytest.approx(expected, rel=0.25)
    np.testing.assert_allclose(ds["population"].values,
                               ds["labour_force"].values / model.spec.labour_force_share)


def test_no_front_line_time_resolves_no_routine_problem():
    # No mandated time and no reward for results: cadres never go out.
    _, ds = run_test_model(months=6, frontline_share=0.0, evaluation_strictness=0.0,
                           problem_rate_household=0.01)
    assert (ds["cadre_effort"].values == 0).all()
    assert ds["problems_resolved_cum"].values[-1] == 0
    assert ds["problems_raised"].values.sum() > 0


def test_no_legacy_cadres_resolve_no_legacy_problem():
    model, ds = run_test_model(months=6, legacy_cadre_share=0.0)
    assert model.p.legacy_backlog > 0
    assert (ds["legacy_resolved_cum"].values == 0).all()
    assert (ds["legacy_raised"].values == 0).all()  # nothing resolved: no inflow either
    assert (ds["legacy_open"].values == model.p.legacy_backlog).all()


def test_more_front_line_time_resolves_more_problems():
    # Five common seeds per arm. Resolution odds are proportional to front-line time and
    # collection rises with it, so moving from 0.1 to 0.8 multiplies the monthly
    # resolution probability several-fold; the arms' 12-month totals (dozens of problems
    # each) differ by far more than the Poisson noise between seeds.
    def total(share: float) -> int:
        return sum(int(run_test_model(months=12, seed=k, frontline_share=share,
                                      problem_rate_household=0.01)[1]
                       ["problems_resolved_cum"].values[-1]) for k in range(5))

    assert total(0.8) > 1.5 * total(0.1)


def test_baseline_runs_and_has_a_pilot_effect(baseline_dataset):
    ds = baseline_dataset
    assert ds.sizes["time"] == 12 and ds.sizes["village"] == load_scenario(BASELINE).villages
    assert int(ds["pilot"].sum()) == load_scenario(BASELINE).pilot_villages
    assert ds["cooperative_workers"].values[-1] > 0
    assert np.isfinite(ds["collective_income_growth_pilot"].values).all()
    pilot = ds["pilot"].values.astype(bool)
    assert (ds["active_land"].values[-1, pilot] > 0).any()


def test_datasets_of_a_model_and_of_run_agree():
    s = create_test_scenario()
    model = CountyModel(s, rng=8)
    model.run_until("2025-04")
    xr.testing.assert_identical(model.dataset(), run(s, seed=8, until="2025-04"))
