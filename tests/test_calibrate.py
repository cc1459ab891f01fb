"""Calibration machinery: implausibility, emulators, experiment files, scenario update.

The emulator checks use synthetic functions with known mean and noise, so the reference
values (true means, true variances) come from the test's own construction. Tolerances are
stated beside each assertion with the sampling error they allow for.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
from countysim.calibration.calibrate import (
    CalibrationError,
    calibrate,
    load_calibration,
    pseudo_targets,
    update_scenario,
)
from countysim.calibration.emulate import Emulator, implausibility
from countysim.calibration.targets import load_targets
from countysim.core.parameters import PARAMETERS
from countysim.core.scenario import ScenarioError, load_scenario

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scenarios" / "baseline_2025.toml"
TARGETS = REPO / "scenarios" / "targets" / "litong_2025.toml"
EXPERIMENTS = REPO / "experiments"


# ------------------------------------------------------------------- implausibility


def test_implausibility_of_a_point_target() -> None:
    # |3906 - 3506| / sqrt(200^2) = 2
    assert implausibility(3506.0, 3906.0, 3906.0, 200.0 ** 2) == pytest.approx(2.0)
    # Symmetric in the sign of the miss, and vectorised.
    out = implausibility(np.array([3506.0, 4306.0]), 3906.0, 3906.0, np.array([4e4, 4e4]))
    np.testing.assert_allclose(out, [2.0, 2.0])


def test_implausibility_of_a_range_is_the_distance_to_it() -> None:
    lo, hi = 1000.0, 1999.0
    means = np.array([900.0, 1000.0, 1500.0, 1999.0, 2099.0])
    np.testing.assert_allclose(implausibility(means, lo, hi, 50.0 ** 2), [2.0, 0, 0, 0, 2.0])


def test_implausibility_falls_as_any_variance_grows() -> None:
    # I = d / sqrt(V_obs + V_md + V_em + V_ens): doubling the total variance divides by sqrt 2.
    one = implausibility(10.0, 0.0, 0.0, 1.0 + 2.0 + 3.0 + 4.0)
    two = implausibility(10.0, 0.0, 0.0, 2.0 * (1.0 + 2.0 + 3.0 + 4.0))
    assert one / two == pytest.approx(np.sqrt(2.0))


def test_implausibility_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="positive variance"):
        implausibility(1.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="below lower"):
        implausibility(1.0, 2.0, 1.0, 1.0)


# -------------------------------------------------------------------------- emulator

NAMES = ("x1", "x2", "dummy")
LO, HI = np.zeros(3), np.ones(3)


def true_mean(X: np.ndarray) -> np.ndarray:
    """A quadratic the emulator's basis can represent exactly; ``dummy`` has no effect."""
    x1, x2 = X[:, 0], X[:, 1]
    return 10.0 + 5.0 * x1 + 3.0 * x1 ** 2 - 2.0 * x1 * x2 + 4.0 * x2


def simulate(rng: np.random.Generator, n: int, R: int, sd) -> tuple[np.ndarray, np.ndarray]:
    X = rng.random((n, 3))
    noise_sd = sd(X) if callable(sd) else np.full(n, sd)
    Y = true_mean(X)[:, None] + noise_sd[:, None] * rng.standard_normal((n, R))
    return X, Y


def test_emulator_finds_the_active_parameters() -> None:
    rng = np.random.default_rng(1)
    X, Y = simulate(rng, 80, 3, 0.5)
    em = Emulator(NAMES, LO, HI).fit(X, Y)
    assert sorted(em.active_names()) == ["x1", "x2"]
    assert em.r_squared > 0.95


def test_emulator_prediction_variance_is_calibrated() -> None:
    # Over 400 independent designs, the squared standardised error of the predicted mean at
    # a fixed point has expectation ~1.05 (a t-variate with ~70 dof, plus active-set
    # selection; 1.05-1.08 in 1,000-fit runs). Its mean over 400 fits has sd ~0.075, so
    # [0.75, 1.4] allows 4 sd each way and fails if the variance is off by a factor 1.4.
    rng = np.random.default_rng(2)
    x0 = np.array([[0.8, 0.3, 0.5]])
    z2, var_ens = [], []
    for _ in range(400):
        X, Y = simulate(rng, 80, 3, 0.5)
        p = Emulator(NAMES, LO, HI).fit(X, Y).predict(x0)
        z2.append(float((p.mean[0] - true_mean(x0)[0]) ** 2 / p.var_emulator[0]))
        var_ens.append(float(p.var_ensemble[0]))
    assert 0.75 < np.mean(z2) < 1.4
    # The ensemble variance is the noise variance 0.25. One fit's variance model has sd
    # ~0.15 (relative); the mean of 400 fits is within 10% unless the variance model is
    # biased (a log-linear OLS of log s^2 without correction would give ~0.14 here).
    assert np.mean(var_ens) == pytest.approx(0.25, rel=0.1)


def test_emulator_variance_shrinks_with_more_runs() -> None:
    rng = np.random.default_rng(3)
    x0 = np.array([[0.5, 0.5, 0.5]])
    small = Emulator(NAMES, LO, HI).fit(*simulate(rng, 40, 2, 0.5)).predict(x0)
    large = Emulator(NAMES, LO, HI).fit(*simulate(rng, 640, 2, 0.5)).predict(x0)
    # var_pred_mean ~ 1/n: 16x the points gives ~1/16 the variance; > 4x smaller is safe.
    assert large.var_emulator[0] < small.var_emulator[0] / 4


def test_emulator_follows_a_varying_ensemble_variance() -> None:
    rng = np.random.default_rng(4)
    X, Y = simulate(rng, 200, 3, lambda X: 0.2 + 0.8 * X[:, 0])
    p = Emulator(NAMES, LO, HI).fit(X, Y).predict(np.array([[0.1, 0.5, 0.5], [0.9, 0.5, 0.5]]))
    # True variances 0.28^2 = 0.078 and 0.92^2 = 0.846, a ratio of 10.8; the log-linear
    # variance model cannot fit the curvature exactly, so ask for a ratio above 4.
    assert p.var_ensemble[1] / p.var_ensemble[0] > 4


def test_ensemble_variance_copes_with_tied_replicates() -> None:
    # Small integer counts: two replicates often tie (s^2 = 0). The variance model must stay
    # near the truth instead of being dragged to zero by log(0). Poisson counts with mean
    # ~20 have variance ~20; 40% error allows for the variance model's sampling error.
    rng = np.random.default_rng(7)
    X = rng.random((120, 3))
    lam = 15.0 + 10.0 * X[:, 0]
    Y = rng.poisson(lam[:, None], size=(120, 2)).astype(float)
    assert np.mean(Y[:, 0] == Y[:, 1]) > 0.03  # ties do occur
    p = Emulator(NAMES, LO, HI).fit(X, Y).predict(np.array([[0.5, 0.5, 0.5]]))
    assert p.var_ensemble[0] == pytest.approx(20.0, rel=0.4)


def test_emulator_lack_of_fit_counts_when_the_basis_is_wrong() -> None:
    rng = np.random.default_rng(5)
    X = rng.random((150, 3))
    wiggle = np.sin(12.0 * X[:, 0])  # not quadratic: the residual is structure, not noise
    Y = (true_mean(X) + 2.0 * wiggle)[:, None] + 0.1 * rng.standard_normal((150, 2))
    em = Emulator(NAMES, LO, HI).fit(X, Y)
    exact = Emulator(NAMES, LO, HI).fit(*simulate(rng, 150, 2, 0.1))
    # sin(12 x) left over has variance ~2^2 / 2 = 2, far above the noise of a mean (0.005).
    assert em.var_lack_of_fit > 0.5
    assert exact.var_lack_of_fit < 0.05
    val = em.validate(*(lambda X: (X, (true_mean(X) + 2.0 * np.sin(12.0 * X[:, 0]))[:, None]
                                   + 0.1 * rng.standard_normal((100, 2))))(rng.random((100, 3))))
    # Counting lack of fit keeps the emulator honest where it is wrong: most held-out
    # errors stay within 3 sd.
    assert val.n == 100 and val.coverage3 > 0.85


def test_emulator_rejects_too_small_designs() -> None:
    rng = np.random.default_rng(6)
    with pytest.raises(ValueError, match="cannot fit"):
        Emulator(NAMES, LO, HI).fit(*simulate(rng, 6, 2, 0.5))
    with pytest.raises(RuntimeError, match="fit the emulator"):
        Emulator(NAMES, LO, HI).predict(np.zeros((1, 3)))


# --------------------------------------------------------------------- experiments


def test_shipped_calibration_experiment() -> None:
    spec = load_calibration(EXPERIMENTS / "calibrate_2025.toml")
    # More patterns than parameters (issue 9): fewer fitted parameters than targets.
    assert 8 <= len(spec.parameters) < len(spec.targets.fitted)
    for p in spec.parameters:
        reg = PARAMETERS[p.name]
        # Behavioural rates, or levers and district values the article does not give.
        assert reg.section == "behaviour" or reg.source.startswith("assumption: ")
        assert reg.bounds[0] <= p.lower < p.upper <= reg.bounds[1]
        assert p.why
        if reg.kind is int:
            assert float(p.lower).is_integer() and float(p.upper).is_integer()
    assert {"leading_post_turnover", "removal_score_max", "activation_rate"} <= set(spec.names)
    # All fitted but the input checks R11 and R2 (tests/test_target_roles.py);
    # cross-validation tests.
    assert [t.id for t in spec.targets.held_out] == ["R11", "R2"]
    assert spec.cutoff == 3.0 and spec.until == "2026-12"  # growth targets: 2026 over 2025
    # Uncertainty carried (issue 9): district draws, hand-set parameters over their ranges,
    # never a fitted one, never a lever; cross-validation and the shipped ensemble.
    assert spec.district_draws and spec.cv_points > 0 and 0 < spec.members <= spec.check_points
    assert spec.carried and not set(spec.names) & {p.name for p in spec.carried}
    for p in spec.carried:
        assert PARAMETERS[p.name].section != "levers" and p.why
        assert p.lower <= spec.scenario[p.name] <= p.upper  # the baseline is inside
    # Every causal link's strength is carried over exactly its literature prior (issue 16,
    # item 3), so the ensemble spreads over what the literature leaves open.
    carried = {p.name: (p.lower, p.upper) for p in spec.carried}
    for name, reg in PARAMETERS.items():
        if reg.link and reg.prior and reg.section != "levers":
            assert carried.get(name) == pytest.approx(reg.prior), name
    assert spec.output["ensemble"].name == "litong_2025.nc"
    assert spec.truth is None
    # Programme sizes are inputs: the scenario keeps the article's levers.
    assert spec.scenario.evaluated_cadres == 479 and spec.scenario.pilot_villages == 50


@pytest.mark.parametrize("name", ["recover_small.toml", "recover_2025.toml"])
def test_shipped_recovery_experiments(name: str) -> None:
    spec = load_calibration(EXPERIMENTS / name)
    assert spec.truth is not None and set(spec.truth) == set(spec.names)
    for p in spec.parameters:
        assert p.lower <= spec.truth[p.name] <= p.upper


def experiment(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(f'scenario = "{BASELINE}"\ntargets = "{TARGETS}"\nseed = 1\n' + body,
                    encoding="utf-8")
    return path


GOOD_PARAMS = '[parameters]\nadvance_rate = { range = [0.05, 0.5], why = "A8" }\n'


@pytest.mark.parametrize("body, key, words", [
    ('[parameters]\npilot_villages = { range = [10.0, 60.0] }\n', "parameters.pilot_villages",
     "with source 'A13'; only [behaviour] parameters and assumed levers or district values"),
    ('[parameters]\ndistrict_seed = { range = [1, 9] }\n', "parameters.district_seed",
     "fixes the district's shape"),
    ('[parameters]\npilot_rule = { range = [0.0, 1.0] }\n', "parameters.pilot_rule",
     "is str; only numbers (float, or int rounded in the runs)"),
    ('[parameters]\nleading_posts = { range = [150.5, 450] }\n',
     "parameters.leading_posts.range", "an int parameter; give whole-number ends"),
    ('[parameters]\nintegrity_failure_rate = { range = [0.0, 0.6] }\n',
     "parameters.integrity_failure_rate.range", "inside the registry bounds [0, 0.5]"),
    ('[parameters]\nadvance_rate = { range = [0.5, 0.05] }\n',
     "parameters.advance_rate.range", "must be increasing"),
    # A parameter of the old registry (now leading_posts x leading_post_turnover).
    ('[parameters]\npromotion_rate = { range = [0.005, 0.03] }\n', "parameters.promotion_rate",
     "unknown parameter"),
    ('[parameters]\nadvance_rate = [0.0, 0.1]\n', "parameters.advance_rate",
     "expected { range"),
    ('[design]\nwaves = 0\n' + GOOD_PARAMS, "design.waves", "must be >= 1"),
    ('[design]\nwave = 3\n' + GOOD_PARAMS, "design.wave", "unknown key"),
    ('[history_matching]\nrule = "mean"\n' + GOOD_PARAMS, "history_matching.rule",
     "expected one of max, second_max"),
    ('use_targets = ["A99"]\n' + GOOD_PARAMS, "use_targets", "no target 'A99'"),
    ('held_out = ["A4", "A5", "A6", "A7", "A8", "A9", "A14", "A29", "R6", "R7r", "R7u", '
     '"R11", "A19", "A26", "R15", "R2"]\n' + GOOD_PARAMS,
     "held_out", "nothing to fit"),
    ('[recovery]\ntruth = { advance_rate = 0.9 }\n' + GOOD_PARAMS,
     "recovery.truth.advance_rate", "expected a number in [0.05, 0.5]"),
    ('[recovery]\ntruth = { leading_posts = 300.5 }\n'
     '[parameters]\nleading_posts = { range = [150, 450] }\n',
     "recovery.truth.leading_posts", "expected a whole number in [150, 450], got 300.5"),
    ('[recovery]\nobs_cv = 0.05\n' + GOOD_PARAMS, "recovery.truth", "required"),
    ('seeds = 3\n' + GOOD_PARAMS, "seeds", "unknown key"),
    ('[carried]\nadvance_rate = { range = [0.1, 0.2] }\n' + GOOD_PARAMS, "carried.advance_rate",
     "is also in [parameters]"),
    ('[carried]\npilot_villages = { range = [10.0, 60.0] }\n' + GOOD_PARAMS,
     "carried.pilot_villages", "only [behaviour] parameters"),
    ('[carried]\nfirms = { range = [300, 1200.5] }\n' + GOOD_PARAMS, "carried.firms.range",
     "give whole-number ends"),
    ('[uncertainty]\ndistrict_draws = "yes"\n' + GOOD_PARAMS, "uncertainty.district_draws",
     "expected bool"),
    ('[uncertainty]\nmembers = 0\n' + GOOD_PARAMS, "uncertainty.members", "must be >= 1"),
    ('[cross_validation]\npoint = 3\n' + GOOD_PARAMS, "cross_validation.point",
     "unknown key"),
    ('[output]\nensembles = "x.nc"\n' + GOOD_PARAMS, "output.ensembles",
     "dataset, report, figures, ensemble"),
])
def test_bad_experiments_name_file_key_and_problem(tmp_path: Path, body: str, key: str,
                                                   words: str) -> None:
    path = experiment(tmp_path, body)
    with pytest.raises(CalibrationError) as info:
        load_calibration(path)
    assert info.value.key == key
    assert words in info.value.problem
    assert str(path) in str(info.value)


def test_good_experiment_from_parts(tmp_path: Path) -> None:
    spec = load_calibration(experiment(tmp_path, GOOD_PARAMS))
    assert spec.names == ["advance_rate"]
    assert spec.discrepancy_cv["A4"] == pytest.approx(0.05)


# ------------------------------------------------------------------- scenario update


def test_update_scenario_keeps_comments_and_writes_provenance(tmp_path: Path) -> None:
    path = tmp_path / "baseline_2025.toml"
    shutil.copy(BASELINE, path)
    before = path.read_text(encoding="utf-8").splitlines()
    # One parameter of each section; a whole float for the int leading_posts (as the
    # Dataset stores it) is written as an int.
    update_scenario(path, {"advance_rate": 0.25, "leading_posts": 301.0,
                           "activation_rate": 0.0912},
                    {"advance_rate": (0.1, 0.4), "leading_posts": (250.0, 350.0),
                     "activation_rate": (0.05, 0.15)},
                    "calibrate_2025", "2025-11-30")
    after = path.read_text(encoding="utf-8").splitlines()
    assert len(after) == len(before)
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    # In file order: [district], [levers], [behaviour].
    assert [a.split(" =")[0] for _, a in changed] == ["leading_posts", "activation_rate",
                                                      "advance_rate"]
    assert [c for c in before if c.startswith("#")] == [c for c in after if c.startswith("#")]
    line = dict((a.split(" =")[0], a) for _, a in changed)["advance_rate"]
    assert tomllib.loads(line)["advance_rate"] == {
        "value": 0.25,
        "source": "calibration: calibrate_2025 2025-11-30, accepted range [0.1, 0.4]"}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["district"]["leading_posts"]["value"] == 301
    assert isinstance(data["district"]["leading_posts"]["value"], int)
    scenario = load_scenario(path)
    assert scenario.leading_posts == 301 and scenario.activation_rate == 0.0912
    assert scenario.advance_rate == 0.25
    assert scenario.sources["leading_posts"].startswith("calibration: calibrate_2025")


def test_update_scenario_appends_a_missing_parameter_to_its_section(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    text = BASELINE.read_text(encoding="utf-8")
    path.write_text("\n".join(x for x in text.splitlines()
                              if not x.startswith(("advance_rate", "vacancy_share")))
                    + "\n", encoding="utf-8")
    update_scenario(path, {"advance_rate": 0.3, "vacancy_share": 0.06},
                    {"advance_rate": (0.2, 0.4), "vacancy_share": (0.04, 0.08)},
                    "x", "2025-01-01")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["behaviour"]["advance_rate"]["value"] == 0.3
    assert data["district"]["vacancy_share"]["value"] == 0.06
    scenario = load_scenario(path)
    assert scenario.advance_rate == 0.3 and scenario.sources["advance_rate"].startswith("calib")
    assert scenario.vacancy_share == 0.06


@pytest.mark.parametrize("values, words", [
    ({"advance_rate": 1.5}, "out of range"),
    ({"leading_posts": 300.5}, "expected int"),
])
def test_update_scenario_refuses_invalid_values_and_leaves_the_file(
        tmp_path: Path, values: dict, words: str) -> None:
    path = tmp_path / "s.toml"
    shutil.copy(BASELINE, path)
    before = path.read_text(encoding="utf-8")
    with pytest.raises(ScenarioError, match=words):
        update_scenario(path, values, dict.fromkeys(values, (0.0, 1.0)), "x")
    assert path.read_text(encoding="utf-8") == before
    assert not path.with_suffix(".toml.tmp").exists()


# --------------------------------------------------------------- integer parameters

SMALL = {"villages": 20, "townships": 4, "pilot_villages": 5, "firms": 40, "population": 20000,
         "evaluated_cadres": 60, "mentor_pairs": 5, "recruits": 3, "legacy_backlog": 100,
         "firm_visits_per_year": 20, "expert_mentors": 2, "technicians": 20, "returnees": 4}

INT_EXPERIMENT = (
    'use_targets = ["A7", "A8"]\nheld_out = []\nworkers = 1\n[scenario_overrides]\n'
    + "".join(f"{k} = {v}\n" for k, v in SMALL.items())
    + "leading_posts = 30\n"
    "[design]\nwaves = 1\npoints = 12\nreplicates = 2\nvalidation_share = 0.0\n"
    "[history_matching]\ncandidates = 2000\nmax_candidates = 20000\naccepted = 50\n"
    "[check]\npoints = 2\nreplicates = 2\n"
    "[baseline]\ncandidates = 1\nreplicates = 2\nverify_replicates = 2\n"
    "[parameters]\nleading_posts = { range = [10, 50], why = \"A7\" }\n"
    "advance_rate = { range = [0.05, 0.5], why = \"A8\" }\n"
    "[recovery]\ntruth = { leading_posts = 25, advance_rate = 0.3 }\nread_at = \"2025-12\"\n")


def test_integer_parameters_are_rounded_for_the_model(tmp_path: Path) -> None:
    spec = load_calibration(experiment(tmp_path, INT_EXPERIMENT))
    assert spec.truth == {"leading_posts": 25, "advance_rate": 0.3}
    assert isinstance(spec.truth["leading_posts"], int)
    snapped = spec.snap(np.array([[24.6, 0.123], [9.7, 0.2], [50.4, 0.5]]))
    # Rounded, and kept inside the range searched; the float parameter is untouched.
    np.testing.assert_array_equal(snapped, [[25.0, 0.123], [10.0, 0.2], [50.0, 0.5]])
    values = spec.values(np.array([24.6, 0.123]))
    assert values == {"leading_posts": 25, "advance_rate": 0.123}
    assert isinstance(values["leading_posts"], int)
    assert isinstance(values["advance_rate"], float)
    # The model takes a float truth for an int parameter only through the rounding.
    pseudo = pseudo_targets(spec.targets, spec.scenario, {"leading_posts": 25.0,
                                                          "advance_rate": 0.3}, seed=1)
    assert [t.id for t in pseudo] == ["A7", "A8"]


def test_calibration_with_an_integer_parameter_runs_whole_values(tmp_path: Path) -> None:
    spec = load_calibration(experiment(tmp_path, INT_EXPERIMENT))
    result = calibrate(spec, workers=1, log=None)
    ds = result.dataset
    j = spec.names.index("leading_posts")
    for var in ("design", "check_parameters", "calibrated"):
        column = ds[var].values[..., j]
        assert np.array_equal(column, np.round(column)), var
    # Every run worked: a float for the int parameter would have failed each run.
    assert not [w for w in result.warnings if "failed to run" in w]
    assert np.isfinite(ds["design_values"].values).all()
    assert np.isfinite(ds["check_values"].values).all()
    assert isinstance(result.calibrated["leading_posts"], int)
    assert 10 <= result.calibrated["leading_posts"] <= 50
    assert isinstance(result.calibrated["advance_rate"], float)
    # The saved result opens with countysim.open_calibration, as it was.
    import countysim

    saved = result.save(tmp_path / "result.nc")
    reopened = countysim.open_calibration(saved)
    assert reopened.attrs["diagnostics"] == result.summary()
    np.testing.assert_array_equal(reopened["calibrated"].values, ds["calibrated"].values)


def test_open_calibration_refuses_other_files_on_one_line(tmp_path: Path,
                                                          small_dataset) -> None:
    import countysim
    from countysim.sweeps.files import write_netcdf

    toml = experiment(tmp_path, INT_EXPERIMENT)
    run = write_netcdf(small_dataset, tmp_path / "run.nc")
    for path, words in [(toml, "not a NetCDF file"), (run, "not a calibration result"),
                        (tmp_path / "none.nc", "does not exist")]:
        with pytest.raises(countysim.CalibrationError, match=words) as info:
            countysim.open_calibration(path)
        assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_lazy_calibration_names_stay_the_functions() -> None:
    """Touching the calibration names, then importing the submodule, never shadows them."""
    import subprocess
    import sys

    code = ("import countysim, inspect; f = countysim.calibrate; "
            "import countysim.calibration.calibrate; "
            "assert countysim.calibrate is f and inspect.isfunction(f); "
            "assert inspect.isfunction(countysim.load_calibration); "
            "assert inspect.isfunction(countysim.open_calibration); "
            "from countysim import calibrate, update_scenario; "
            "assert inspect.isfunction(calibrate) and inspect.isfunction(update_scenario)")
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- command


def test_cli_reports_a_bad_experiment_on_one_line(tmp_path: Path, capsys) -> None:
    from countysim.cli import main

    path = experiment(tmp_path, '[parameters]\npilot_villages = { range = [10.0, 60.0] }\n')
    assert main(["calibrate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "parameters.pilot_villages" in err


def test_cli_refuses_to_write_pseudo_targets_into_a_scenario(capsys) -> None:
    from countysim.cli import main

    assert main(["calibrate", str(EXPERIMENTS / "recover_small.toml"),
                 "--update-scenario"]) == 2
    assert "recovery experiment" in capsys.readouterr().err


def test_report_and_sweep_modules_leave_the_session_alone() -> None:
    """No forced matplotlib backend (inline plots keep working), and no progress bar class
    chosen at import: the sweep picks tqdm.auto only where ipywidgets is installed."""
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('svg'); "
            "import countysim, countysim.calibration.calreport; "
            "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend(); "
            "from countysim.sweeps.sweep import progress_bar; import importlib.util as u; "
            "widgets = u.find_spec('ipywidgets') is not None; "
            "import tqdm.auto; assert progress_bar() is (tqdm.auto.tqdm if widgets else "
            "__import__('tqdm').tqdm), "
            "progress_bar().__module__")
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------- uncertainty carried (issue 9)


def test_run_draws_are_reproducible_and_inside_the_ranges(tmp_path: Path) -> None:
    from countysim.calibration.calibrate import run_draws

    spec = load_calibration(experiment(tmp_path, (
        '[uncertainty]\ndistrict_draws = true\n[carried]\n'
        'firms = { range = [300, 1200], why = "t" }\n'
        'retirement_rate = { range = [0.02, 0.033], why = "t" }\n' + GOOD_PARAMS)))
    draws = [run_draws(spec, 0, 0, i, 0) for i in range(200)]
    assert draws[7] == run_draws(spec, 0, 0, 7, 0)  # the same node, the same draw
    assert isinstance(draws[0]["firms"], int) and isinstance(draws[0]["district_seed"], int)
    firms = np.array([d["firms"] for d in draws])
    rates = np.array([d["retirement_rate"] for d in draws])
    assert firms.min() >= 300 and firms.max() <= 1200
    assert 0.02 <= rates.min() and rates.max() <= 0.033
    # Split uniform with its median at the sourced value: half the 200 draws below it
    # (sd of the share 0.035, so 0.15 is > 4 sd), and the mean (lo + 2 m + hi) / 4 within
    # ~4 sd (sd of the mean < 0.013 / sqrt(12 x 200) = 0.00027).
    m = PARAMETERS["retirement_rate"].default
    assert abs(np.mean(rates < m) - 0.5) < 0.15
    assert abs(rates.mean() - (0.02 + 2 * m + 0.033) / 4) < 0.0011
    assert len({d["district_seed"] for d in draws}) == 200  # a district per run
    # The design's runs pin the carried parameters at their sourced (registry) values,
    # whatever draw the scenario holds (a medoid baseline writes its member's).
    pinned = run_draws(spec, 0, 0, 3, 0, carried=False)
    assert set(pinned) == {"district_seed", "firms", "retirement_rate"}
    assert pinned["firms"] == PARAMETERS["firms"].default
    assert pinned["retirement_rate"] == PARAMETERS["retirement_rate"].default
    # Without district draws or carried parameters nothing is drawn (the scenario's own).
    plain = load_calibration(experiment(tmp_path, GOOD_PARAMS))
    assert run_draws(plain, 0, 0, 1, 0) == {}


def test_carried_draw_is_split_uniform_with_the_value_as_median() -> None:
    from countysim.calibration.calibrate import carried_draw

    u = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(carried_draw(u, 1.0, 3.0, 11.0), [1.0, 2.0, 3.0, 7.0, 11.0])
    assert carried_draw(0.5, 0.2, 0.3, 0.5) == pytest.approx(0.3)


def test_a_carried_range_must_contain_the_scenario_value(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match=r"carried\.retirement_rate\.range.*must contain"):
        load_calibration(experiment(tmp_path, (
            '[carried]\nretirement_rate = { range = [0.03, 0.033], why = "t" }\n'
            + GOOD_PARAMS)))


def _fake_matcher(active: dict[str, list[str]]):
    """A matcher whose last wave's emulators report the given active parameters."""
    from types import SimpleNamespace

    from countysim.calibration.calibrate import _Matcher

    targets = load_targets(TARGETS).select(list(active))
    m = _Matcher.__new__(_Matcher)
    m.targets = targets
    m.fitted = list(range(len(targets)))
    ems = [SimpleNamespace(active_names=lambda significant_only=False, a=a: list(a))
           for a in active.values()]
    m.waves = [SimpleNamespace(emulators=ems)]
    return m


def test_cross_validation_structure_follows_shared_active_parameters() -> None:
    from countysim.calibration.calibrate import cv_structure

    m = _fake_matcher({"A4": ["separation_rate"], "A5": ["separation_rate", "migration_rate"],
                       "A7": ["leading_post_turnover"], "A9": [],
                       "A8": ["advance_rate", "inflation", "migration_rate"]})
    s = cv_structure(m)
    # A4 shares its only parameter with A5; A5 shares both (with A4 and A8).
    assert s[0] == (["separation_rate"], ["separation_rate"])
    assert s[1][1] == ["separation_rate", "migration_rate"]
    # A7's parameter acts on nothing else: only fitted. A9 has no significant parameter.
    assert s[2][1] == [] and s[3] == ([], [])
    # A8: one of three shared (migration_rate), below half: only fitted.
    assert s[4][1] == ["migration_rate"]


def test_emulator_says_when_no_effect_is_significant() -> None:
    rng = np.random.default_rng(3)
    X = rng.random((60, 3))
    flat = Emulator(["a", "b", "c"], np.zeros(3), np.ones(3)).fit(X, rng.normal(size=(60, 2)))
    # Pure noise: at alpha = 1e-3 a spurious effect among three is rare (< 0.6 %).
    assert not flat.significant and flat.active_names(significant_only=True) == []
    assert len(flat.active_names()) == 1  # the stand-in the basis needs
    Y = 5 * X[:, [1]] + 0.1 * rng.normal(size=(60, 2))
    em = Emulator(["a", "b", "c"], np.zeros(3), np.ones(3)).fit(X, Y)
    assert em.significant and em.active_names(significant_only=True) == ["b"]


def test_member_check_divides_by_the_emulated_variance_of_the_draws() -> None:
    from types import SimpleNamespace

    from countysim.calibration.calibrate import _Matcher, _real_implausibility

    targets = load_targets(TARGETS).select(["A4"])
    m = _Matcher.__new__(_Matcher)
    m.targets, m.fitted = targets, [0]
    m.var_fixed = np.array([100.0 ** 2])
    m.waves = [SimpleNamespace()]
    # Two members, two runs each, 3,000 apart from A4's 3,906 by 906 and 1,106; seed noise
    # tiny (runs differ by 2), between-draw variance 500^2.
    Y = np.array([[[3000.0], [3002.0]], [[2800.0], [2802.0]]])
    seed_only = _real_implausibility(m, targets, Y)
    with_draws = _real_implausibility(m, targets, Y, np.full((2, 1), 500.0 ** 2))
    # Seed noise: s2 = 2, so I = 905 / sqrt(100^2 + 3) ~ 9.05; with the draws' variance
    # 905 / sqrt(100^2 + 500^2) = 1.77.
    assert seed_only[0, 0] == pytest.approx(905 / np.sqrt(100.0 ** 2 + 2 * 1.5), rel=1e-6)
    assert with_draws[0, 0] == pytest.approx(905 / np.sqrt(100.0 ** 2 + 500.0 ** 2), rel=1e-6)
    assert with_draws[1, 0] == pytest.approx(1105 / np.sqrt(100.0 ** 2 + 500.0 ** 2), rel=1e-6)


def test_calibrate_starts_no_more_workers_than_cores(monkeypatch) -> None:
    """Issue 18, case 13: ``--workers 1000`` starts one process per core, not 1,000."""
    from contextlib import contextmanager

    import countysim.calibration.calibrate as module
    import countysim.sweeps.sweep as sweep_module

    class Started(Exception):
        pass

    asked: list[int] = []

    @contextmanager
    def pool(workers: int):
        asked.append(workers)
        raise Started
        yield  # pragma: no cover

    monkeypatch.setattr(module, "process_pool", pool)
    monkeypatch.setattr(sweep_module, "usable_cores", lambda: 3)
    spec = module.load_calibration(REPO / "experiments" / "calibrate_2025.toml")
    with pytest.raises(Started):
        module.calibrate(spec, workers=1000)
    assert asked == [3]


def test_link_rows_say_which_target_narrowed_a_link() -> None:
    import xarray as xr
    from countysim.calibration.calreport import link_rows

    rng = np.random.default_rng(11)
    n = 400
    link, other = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    # Target T1 rules out points with a large link value; T2 rules out nothing.
    imp = np.column_stack([np.where(link > 0.5, 5.0, 1.0), np.ones(n)])
    ds = xr.Dataset(
        {"check_carried": (("check", "carried"), np.column_stack([link, other])),
         "check_non_implausible": ("check", (imp.max(axis=1) <= 3).astype(np.int8)),
         "check_implausibility": (("check", "target"), imp),
         "held_out": ("target", np.array([0, 0], dtype=np.int8)),
         "carried_lower": ("carried", [0.0, 0.0]), "carried_upper": ("carried", [1.0, 1.0]),
         "carried_median": ("carried", [0.5, 0.5]),
         "carried_link": ("carried", ["L7", ""])},
        coords={"carried": ["coop_leader_effect", "firm_size_sigma"],
                "target": ["T1", "T2"]}, attrs={"cutoff": 3.0})
    rows = link_rows(ds)
    assert [r["parameter"] for r in rows] == ["coop_leader_effect"]  # links only
    r = rows[0]
    # Half the uniform range left: sd ratio 1/2; narrowed by T1, not T2.
    assert r["ratio"] == pytest.approx(0.5, abs=0.05) and r["target"] == "T1"
    assert r["members_q95"] <= 0.5


def test_the_medoid_is_the_most_central_member() -> None:
    from countysim.calibration.baseline import medoid_order

    points = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [10.0, 0.0], [1.0, 100.0]])
    # Unscaled, the far point in the second parameter dominates; scaled by each
    # parameter's sd the middle of the row is central.
    order = medoid_order(points, points.std(axis=0))
    assert order[0] == 1 and order[-1] in (3, 4)
    assert list(medoid_order(points[:3], np.ones(2))) == [1, 0, 2]  # ties in index order


def test_the_shipped_calibration_takes_the_medoid(tmp_path: Path) -> None:
    spec = load_calibration(EXPERIMENTS / "calibrate_2025.toml")
    assert spec.baseline_choice == "medoid"
    text = (EXPERIMENTS / "calibrate_2025.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('choice = "medoid"', 'choice = "centre"').replace(
        'scenario = "../scenarios', f'scenario = "{EXPERIMENTS.parent}/scenarios').replace(
        'targets = "../scenarios', f'targets = "{EXPERIMENTS.parent}/scenarios'),
        encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"baseline\.choice.*best_fit, medoid"):
        load_calibration(bad)


def test_every_calibrated_value_of_the_baseline_is_inside_its_accepted_range() -> None:
    import re

    scenario = load_scenario(EXPERIMENTS.parent / "scenarios" / "baseline_2025.toml")
    pattern = re.compile(r"calibration: \S+ \S+, accepted range \[([^,]+), ([^\]]+)\]")
    found = 0
    for name in scenario.values:
        m = pattern.fullmatch(scenario.sources.get(name, ""))
        if not m:
            continue
        found += 1
        lo, hi = float(m.group(1)), float(m.group(2))
        # Each end is written to 3 significant digits: allow that rounding, no more.
        assert lo - 5e-3 * abs(lo) <= scenario[name] <= hi + 5e-3 * abs(hi), (
            name, scenario[name], lo, hi)
    assert found == len(load_calibration(EXPERIMENTS / "calibrate_2025.toml").names)


def test_the_baseline_is_the_ensembles_medoid_member() -> None:
    import re

    import countysim

    scenario = load_scenario(EXPERIMENTS.parent / "scenarios" / "baseline_2025.toml")
    ens = countysim.load_ensemble("litong_2025")
    found = {re.search(r"ensemble member (\d+)'s", s) for s in scenario.sources.values()}
    members = {int(m.group(1)) for m in found if m}
    assert len(members) == 1, "the baseline names one ensemble member as its draws' source"
    member = members.pop()
    values = ens["value"].isel(member=member)
    for name, v in zip(ens["parameter"].values, values.values, strict=True):
        # Fitted values are rounded to 4 significant digits in the scenario; draws exact.
        assert scenario[str(name)] == pytest.approx(float(v), rel=1e-3), name
    assert scenario.district_seed == int(ens["district_seed"].values[member])


def test_the_medoid_baseline_is_the_most_central_member_that_fits(tmp_path: Path) -> None:
    from countysim.calibration.baseline import BASELINE_FIT, calibrated_baseline

    spec = load_calibration(experiment(tmp_path, (
        '[baseline]\nchoice = "medoid"\ncandidates = 2\nreplicates = 2\n'
        'verify_replicates = 2\n[carried]\n'
        'firms = { range = [300, 1200], why = "t" }\n' + GOOD_PARAMS)))
    members = np.array([[0.10], [0.30], [0.29], [0.31], [0.50]])
    draws = [{"firms": f, "district_seed": i} for i, f in enumerate([600, 700, 650, 690, 900])]
    # Member 1 is the most central but fits badly; of those that fit, 3 is more central
    # than 2 (its firms sit nearer the others').
    fit = np.array([1.0, BASELINE_FIT + 1, 1.5, 1.5, 1.0])
    runs: list[dict] = []

    def runner(points, replicates, seed, draws_fn=None):
        runs.extend(draws_fn(i, r) for i in range(len(points)) for r in range(replicates))
        return np.zeros((len(points), replicates, len(spec.targets)))

    base = calibrated_baseline(spec, None, runner, spec.targets, members, members, draws, fit)
    assert base.member == 3 and base.best == 0
    assert base.calibrated == {"advance_rate": 0.31}
    assert base.draws == {"firms": 690, "district_seed": 3}
    # Candidates and the verification run with the members' own draws.
    assert runs[-1] == base.draws and {d["district_seed"] for d in runs} == {3, 2}
