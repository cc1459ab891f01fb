"""Experiment files: designs, categorical levers, seeds, and clear errors for bad files.

``tests/data/bad_experiments/expected.toml`` lists, for every bad file, the key the error
must name and a fragment of the message.
"""

from __future__ import annotations

import itertools
import tomllib

import numpy as np
import pytest
from conftest import BASELINE, DATA, REPO, write_toml
from countysim import ExperimentError, load_experiment, load_scenario
from countysim.cli import EXIT_USAGE, main
from countysim.core.parameters import PARAMETERS
from countysim.sweeps.experiment import SAMPLED, Factor

BAD = DATA / "bad_experiments"
EXPECTED: dict[str, dict[str, str]] = tomllib.loads(
    (BAD / "expected.toml").read_text(encoding="utf-8"))
BAD_FILES = sorted(p for p in BAD.glob("*.toml") if p.name != "expected.toml")


def experiment_file(tmp_path, design: str, *, top: str = "", name: str = "e.toml"):
    """An experiment on the baseline with the given [design] text."""
    text = (f'scenario = "{BASELINE.as_posix()}"\nseed = 11\nreplicates = 2\n{top}\n'
            f"[design]\n{design}")
    return write_toml(tmp_path / name, text)


# ------------------------------------------------------------------ the corpus of errors


def test_corpus_and_expectations_agree():
    stems = {p.stem for p in BAD_FILES}
    assert stems == set(EXPECTED), (
        f"files without expectations: {stems - set(EXPECTED)}; "
        f"expectations without files: {set(EXPECTED) - stems}")
    assert len(BAD_FILES) >= 30


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_bad_experiment_raises_a_clear_error(path):
    expected = EXPECTED[path.stem]
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    err = info.value
    assert err.file == str(path)
    assert err.key == expected["key"]
    assert expected["fragment"] in err.problem
    assert str(err).startswith(f"{path}: {expected['key']}: ")
    assert isinstance(err, ValueError)


@pytest.mark.parametrize("stem", ["unknown_parameter", "missing_seed", "not_toml"])
def test_cli_reports_a_bad_experiment_on_one_line(stem, tmp_path, capsys):
    path = BAD / f"{stem}.toml"
    status = main(["sweep", str(path), "--store", str(tmp_path / "s.zarr"), "--quiet"])
    captured = capsys.readouterr()
    assert status == EXIT_USAGE
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"countysim: error: {path}: ")
    assert EXPECTED[stem]["fragment"] in lines[0]
    assert not (tmp_path / "s.zarr").exists()


def test_missing_experiment_file(tmp_path):
    with pytest.raises(ExperimentError, match="does not exist"):
        load_experiment(tmp_path / "nothing.toml")


# ----------------------------------------------------------------- the real experiments


def test_pilot_coverage_grid_experiment():
    exp = load_experiment(REPO / "experiments" / "pilot_coverage_x_support.toml")
    assert exp.kind == "grid" and exp.replicates == 5
    assert exp.varied == ("pilot_villages", "activation_rate")
    coverage = exp.factors[0].values
    support = exp.factors[1].values
    assert exp.n_samples == len(coverage) * len(support)
    assert exp.base == load_scenario(BASELINE)
    assert max(coverage) <= exp.base.villages


def test_behaviour_lhs_experiment():
    exp = load_experiment(REPO / "experiments" / "behaviour_lhs.toml")
    assert exp.kind == "lhs" and exp.n_samples >= 200
    # Uncertain values only: behavioural rates, and levers the registry marks as assumed
    # (activation_rate, fitted to A14); no programme size the article gives.
    for f in exp.factors:
        assert (f.parameter.section == "behaviour"
                or f.parameter.source.startswith("assumption: ")), f.name
    assert "activation_rate" in exp.varied and "pilot_villages" not in exp.varied
    for j, factor in enumerate(exp.factors):
        values = np.array([s[factor.name] for s in exp.samples])
        assert values.min() >= factor.low and values.max() <= factor.high
        lo, hi = factor.parameter.bounds
        assert lo <= factor.low < factor.high <= hi
        # Each default sits inside its range: the design brackets the current guess.
        assert factor.low <= factor.parameter.default <= factor.high
        assert np.allclose(values, factor.low + exp.unit[:, j] * (factor.high - factor.low))


# -------------------------------------------------------------------------- the designs


def test_grid_is_the_full_factorial_with_the_last_factor_fastest(tmp_path):
    path = experiment_file(tmp_path, 'kind = "grid"\n[design.parameters]\n'
                           "pilot_villages = [0, 25, 50]\n"
                           'pilot_rule = ["capacity", "random"]\n'
                           "alliances = [true, false]\n")
    exp = load_experiment(path)
    expected = list(itertools.product([0, 25, 50], ["capacity", "random"], [True, False]))
    got = [(s["pilot_villages"], s["pilot_rule"], s["alliances"]) for s in exp.samples]
    assert got == expected
    assert exp.n_runs == 12 * 2
    assert exp.unit is None
    assert exp.scenario(3).pilot_rule == "random" and exp.scenario(3).alliances is False


def test_list_design_reads_the_lists_column_wise(tmp_path):
    path = experiment_file(tmp_path, 'kind = "list"\n[design.parameters]\n'
                           "pilot_villages = [0, 25, 50]\n"
                           "activation_rate = [0.04, 1, 0.16]\n")
    exp = load_experiment(path)
    assert [(s["pilot_villages"], s["activation_rate"]) for s in exp.samples] == [
        (0, 0.04), (25, 1.0), (50, 0.16)]
    assert isinstance(exp.samples[1]["activation_rate"], float)


def test_list_design_checks_rules_between_parameters_per_point(tmp_path):
    """mentor_pairs = 200 is invalid with the baseline's recruits but valid beside 0."""
    path = experiment_file(tmp_path, 'kind = "list"\n[design.parameters]\n'
                           "mentor_pairs = [30, 200]\nrecruits = [28, 0]\n"
                           "evaluated_cadres = [479, 400]\n")
    assert load_experiment(path).n_samples == 2
    bad = experiment_file(tmp_path, 'kind = "list"\n[design.parameters]\n'
                          "mentor_pairs = [30, 250]\nrecruits = [28, 0]\n", name="bad.toml")
    with pytest.raises(ExperimentError, match=r"sample 1 \(mentor_pairs=250, recruits=0\)"):
        load_experiment(bad)


def test_lhs_stratifies_every_factor_and_maps_categorical_levers(tmp_path):
    n = 40
    path = experiment_file(tmp_path, f'kind = "lhs"\nsamples = {n}\n[design.parameters]\n'
                           "return_rate = { low = 0.05, high = 0.3 }\n"
                           "pilot_villages = { low = 10, high = 13 }\n"
                           'pilot_rule = { choices = ["capacity", "idle_assets", "random"] }\n'
                           "alliances = { choices = [true, false] }\n")
    exp = load_experiment(path)
    assert exp.n_samples == n and exp.unit.shape == (n, 4)
    # Latin hypercube: every column has exactly one point in each of the n strata.
    for j in range(4):
        assert sorted(np.floor(exp.unit[:, j] * n).astype(int)) == list(range(n))
    eff = [s["return_rate"] for s in exp.samples]
    assert all(isinstance(v, float) and 0.05 <= v <= 0.3 for v in eff)
    pilots = [s["pilot_villages"] for s in exp.samples]
    assert all(isinstance(v, int) for v in pilots)
    # Stratified uniforms over 4 integers: each integer gets n/4 points exactly.
    assert {v: pilots.count(v) for v in set(pilots)} == {10: 10, 11: 10, 12: 10, 13: 10}
    rules = [s["pilot_rule"] for s in exp.samples]
    assert set(rules) == {"capacity", "idle_assets", "random"}
    assert {type(s["alliances"]) for s in exp.samples} == {bool}
    for i in range(n):
        assert exp.scenario(i).pilot_rule == rules[i]


@pytest.mark.parametrize("second_order", [False, True])
def test_sobol_sample_count(tmp_path, second_order):
    flag = "true" if second_order else "false"
    path = experiment_file(tmp_path, f'kind = "sobol"\nsamples = 8\nsecond_order = {flag}\n'
                           "[design.parameters]\n"
                           "return_rate = { low = 0.05, high = 0.3 }\n"
                           "separation_rate = { low = 0.001, high = 0.005 }\n"
                           'pilot_rule = { choices = ["capacity", "random"] }\n')
    exp = load_experiment(path)
    d = 3
    assert exp.n_samples == 8 * ((2 * d + 2) if second_order else (d + 2))
    assert exp.salib_problem()["names"] == ["return_rate", "separation_rate",
                                            "pilot_rule"]


def test_morris_points_lie_on_the_levels(tmp_path):
    path = experiment_file(tmp_path, 'kind = "morris"\ntrajectories = 6\nlevels = 4\n'
                           "[design.parameters]\n"
                           "activation_rate = { low = 0.02, high = 0.2 }\n"
                           "alliances = { choices = [true, false] }\n")
    exp = load_experiment(path)
    assert exp.n_samples == 6 * (2 + 1)
    levels = exp.unit * 3
    assert np.allclose(levels, np.round(levels))
    # Ends of the unit interval map to the ends of the range and the last choice.
    for s, u in zip(exp.samples, exp.unit, strict=True):
        if u[0] == 1.0:
            assert s["activation_rate"] == pytest.approx(0.2)
        if u[1] == 1.0:
            assert s["alliances"] is False


@pytest.mark.parametrize("kind", SAMPLED)
def test_sampled_designs_follow_the_seed(tmp_path, kind):
    options = {"lhs": "samples = 16", "sobol": "samples = 8",
               "morris": "trajectories = 4"}[kind]
    body = (f'kind = "{kind}"\n{options}\n[design.parameters]\n'
            "return_rate = { low = 0.05, high = 0.3 }\n"
            "labour_demand_elasticity = { low = 0.1, high = 0.6 }\n")
    a = load_experiment(experiment_file(tmp_path, body, name="a.toml"))
    b = load_experiment(experiment_file(tmp_path, body, name="b.toml"))
    np.testing.assert_array_equal(a.unit, b.unit)
    assert a.samples == b.samples
    assert a.unit.min() >= 0.0 and a.unit.max() <= 1.0
    other = experiment_file(tmp_path, body, name="d.toml")
    other.write_text(other.read_text().replace("seed = 11", "seed = 12"))
    assert not np.array_equal(load_experiment(other).unit, a.unit)


def test_factor_maps_the_unit_interval_ends():
    rate = Factor("return_rate", low=0.1, high=0.3)
    assert rate.from_unit(np.array([0.0, 0.5, 1.0])) == pytest.approx([0.1, 0.2, 0.3])
    count = Factor("pilot_villages", low=0, high=2)
    assert count.from_unit(np.array([0.0, 0.33, 0.34, 0.66, 0.67, 1.0])) == [0, 0, 1, 1, 2, 2]
    rule = Factor("pilot_rule", choices=("capacity", "random"))
    assert rule.from_unit(np.array([0.0, 0.49, 0.5, 1.0])) == ["capacity", "capacity",
                                                               "random", "random"]


def test_digest_ignores_comments_but_not_values(tmp_path):
    body = 'kind = "grid"\n[design.parameters]\npilot_villages = [0, 50]\n'
    top = 'name = "x"\n[overrides]\nfirms = 500\n'
    a = load_experiment(experiment_file(tmp_path, body, top=top, name="a.toml"))
    commented = experiment_file(tmp_path, "# a comment\n" + body, top=top, name="b.toml")
    assert load_experiment(commented).digest == a.digest
    changed = experiment_file(tmp_path, body.replace("50", "60"), top=top, name="c.toml")
    assert load_experiment(changed).digest != a.digest


def test_overrides_apply_to_the_base(tmp_path):
    path = experiment_file(tmp_path, 'kind = "grid"\n[design.parameters]\n'
                           "pilot_villages = [0, 5]\n",
                           top="[overrides]\nvillages = 60\ntownships = 4\n")
    exp = load_experiment(path)
    assert exp.base.villages == 60 and exp.overrides == {"villages": 60, "townships": 4}
    assert exp.base.sources["villages"] == "experiment [overrides]"
    assert exp.scenario(1).pilot_villages == 5 and exp.scenario(1).villages == 60


def test_named_scenarios_design(tmp_path):
    write_toml(tmp_path / "no_pilots.toml",
               f'name = "no_pilots"\nextends = "{BASELINE.as_posix()}"\n'
               "[levers]\npilot_villages = 0\n")
    text = ('seed = 3\n[overrides]\nfirms = 50\n[design]\nkind = "scenarios"\n'
            f'files = ["{BASELINE.as_posix()}", "no_pilots.toml"]\n')
    exp = load_experiment(write_toml(tmp_path / "named.toml", text))
    assert exp.kind == "scenarios" and exp.varied == ("scenario",)
    assert [s.name for s in exp.scenarios] == ["baseline_2025", "no_pilots"]
    assert exp.scenario(1).pilot_villages == 0
    assert {s.firms for s in exp.scenarios} == {50}
    assert exp.until == load_scenario(BASELINE).until and exp.base is None


def test_every_registry_parameter_can_be_varied_except_the_district_shape(tmp_path):
    """Each parameter's default is a valid one-point grid, except the three fixed ones."""
    for name, param in PARAMETERS.items():
        value = param.default
        literal = ("true" if value else "false") if isinstance(value, bool) else (
            f'"{value}"' if isinstance(value, str) else repr(value))
        path = experiment_file(tmp_path, f'kind = "grid"\n[design.parameters]\n'
                               f"{name} = [{literal}]\n", name=f"{name}.toml")
        if name in ("villages", "townships", "district_seed"):
            with pytest.raises(ExperimentError, match="share"):
                load_experiment(path)
        else:
            assert load_experiment(path).samples == ({name: value},)


# ------------------------------------------------------------------- the Python API


def test_experiment_built_in_python_equals_its_file(tmp_path):
    from countysim import Experiment

    kwargs = {"name": "cov", "scenario": BASELINE, "seed": 3, "replicates": 2,
              "until": "2025-06", "overrides": {"firm_visits_per_year": 150},
              "design": {"kind": "grid", "parameters": {"pilot_villages": [0, 50],
                                                        "pilot_rule": ["capacity", "random"]}}}
    exp = Experiment.build(**kwargs)
    assert (exp.n_samples, exp.n_runs, exp.path) == (4, 8, None)
    assert exp.samples[1] == {"pilot_villages": 0, "pilot_rule": "random"}
    assert exp.base.firm_visits_per_year == 150
    # The same experiment written by hand as a file.
    by_hand = write_toml(tmp_path / "cov.toml", (
        f'name = "cov"\nscenario = "{BASELINE.as_posix()}"\nuntil = "2025-06"\n'
        'replicates = 2\nseed = 3\n[overrides]\nfirm_visits_per_year = 150\n[design]\n'
        'kind = "grid"\n[design.parameters]\npilot_villages = [0, 50]\n'
        'pilot_rule = ["capacity", "random"]\n'))
    assert load_experiment(by_hand) == exp
    assert Experiment.build(**{**kwargs, "seed": 4}) != exp


@pytest.mark.parametrize("design", [
    {"kind": "grid", "parameters": {"alliances": [True, False], "activation_rate": [0.0, 0.1]}},
    {"kind": "list", "parameters": {"pilot_villages": [10, 20], "matching_boost": [0.1, 0.2]}},
    {"kind": "lhs", "samples": 5, "parameters": {"activation_rate": {"low": 0.0, "high": 0.2},
                                                 "pilot_rule": {"choices": ["capacity",
                                                                            "random"]}}},
    {"kind": "sobol", "samples": 4, "second_order": True,
     "parameters": {"pilot_villages": {"low": 0, "high": 130},
                    "alliances": {"choices": [True, False]}}},
    {"kind": "morris", "trajectories": 2, "levels": 4,
     "parameters": {"activation_rate": {"low": 0.0, "high": 0.2}}},
])
def test_to_toml_round_trips(tmp_path, design):
    from countysim import Experiment

    exp = Experiment.build(name="rt", description="round trip", scenario=BASELINE, seed=9,
                           replicates=3, design=design)
    back = load_experiment(write_toml(tmp_path / "rt.toml", exp.to_toml()))
    assert back == exp and back.digest == exp.digest
    assert back.samples == exp.samples and back.description == "round trip"
    if exp.unit is not None:
        np.testing.assert_array_equal(back.unit, exp.unit)


def test_named_scenarios_design_round_trips(tmp_path):
    from countysim import Experiment

    files = [str(REPO / "scenarios" / f) for f in ("baseline_2025.toml",
                                                   "no_pilot_cooperatives.toml")]
    exp = Experiment.build(name="named", seed=1, design={"kind": "scenarios", "files": files})
    back = load_experiment(write_toml(tmp_path / "n.toml", exp.to_toml()))
    assert back == exp and back.varied == ("scenario",)


def test_build_validates_like_a_file_with_one_line_errors():
    from countysim import Experiment

    cases = [
        ({"design": {"kind": "grd"}}, "<Experiment.build>: design.kind: expected one of"),
        ({"design": {"kind": "grid", "parameters": {"pilot_villages": [5000]}}},
         "<Experiment.build>: design.parameters.pilot_villages[0]: 5000 is out of range"),
        ({"replicates": 0, "design": {"kind": "grid", "parameters": {"alliances": [True]}}},
         "<Experiment.build>: replicates: expected an integer >= 1"),
        ({"overrides": {"pilot_villagez": 3},
          "design": {"kind": "grid", "parameters": {"alliances": [True]}}},
         "<Experiment.build>: overrides.pilot_villagez: unknown parameter"),
    ]
    for extra, start in cases:
        with pytest.raises(ExperimentError) as info:
            Experiment.build(**{"name": "x", "scenario": BASELINE, "seed": 1, **extra})
        message = str(info.value)
        assert message.startswith(start) and "\n" not in message, message


def test_an_ensemble_design_on_a_csv_district_is_one_line(tmp_path, capsys) -> None:
    """Issue 18, case 11: the members draw their own districts, so a scenario reading its
    district from CSV files is refused when the experiment loads (it exited 1 after the
    first runs failed)."""
    from countysim.core.district import build_district
    from countysim.testing import small_scenario

    small = small_scenario()
    build_district(small).to_csv(tmp_path / "district")
    (tmp_path / "small.toml").write_text(small.to_toml(), encoding="utf-8")
    write_toml(tmp_path / "csv.toml", 'extends = "small.toml"\nname = "csv"\n'
               'district_data = "district"\n')
    experiment = write_toml(tmp_path / "ens.toml",
                            'name = "ens"\nscenario = "csv.toml"\nuntil = "2025-02"\n'
                            'replicates = 1\nseed = 1\n[design]\nkind = "ensemble"\n'
                            'ensemble = "litong_2025"\nmembers = 2\n')
    with pytest.raises(ExperimentError, match="needs a scenario without district_data"):
        load_experiment(experiment)
    assert main(["sweep", str(experiment), "--store", str(tmp_path / "s.zarr")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "scenario: 'csv' reads its district from" in err
    assert not (tmp_path / "s.zarr").exists()
