"""Calibration by history matching: which values of the parameters the article does not
give reproduce its figures?

``countysim calibrate experiments/calibrate_2025.toml`` (or :func:`calibrate`) runs:

1. **Design**: a Latin hypercube over the parameter ranges of the experiment (wave 1);
   later waves draw their points from the current non-implausible region by rejection
   sampling through the emulators, thinned to a space-filling (maximin) subset. Integer
   parameters (e.g. ``leading_posts``) are searched on their continuous range; every point
   the model runs at is rounded to whole values first, so the emulators are fitted to the
   values the model ran with.
2. **Runs** of the model at every design point, ``replicates`` times, in parallel
   (``ProcessPoolExecutor``). Seeds come from one ``SeedSequence`` tree: run ``r`` at
   point ``i`` of wave ``w`` is node ``(1, w, i, r)``, and results are gathered by index,
   so the outcome does not depend on the number of workers. Unlike a sweep, points do
   *not* share seeds (no common random numbers): the emulators and the implausibility
   treat run-to-run noise as independent between points, and with shared seeds a wave's
   common draw would shift every emulated mean without showing in any variance.
3. **Emulators** (:class:`~countysim.calibration.emulate.Emulator`,
   statsmodels OLS) of each target's
   ensemble mean and ensemble variance, checked on design points kept out of the fit.
4. **History matching**: a point is *implausible* if for some fitted target
   ``I = d(z, E[f(x)]) / sqrt(V_obs + V_discrepancy + V_emulator + V_ensemble)`` exceeds
   the cut-off (3, by Pukelsheim's three-sigma rule for unimodal distributions), taking the
   maximum over targets (or the second largest, if the experiment says so). Points must
   pass the emulators of every wave so far. The region shrinks wave by wave.
5. **Predictive check**: the real model at points drawn from the final non-implausible
   set; the held-out target is predicted from these runs.
6. **Calibrated baseline** (:mod:`~countysim.calibration.baseline`): the ensemble's
   central member that fits, taken whole with its carried draws and district
   (``[baseline] choice = "medoid"``), or the point of the set whose emulated means are
   closest to the fitted targets (``"best_fit"``: scipy L-BFGS-B from the best points of
   the set, confirmed among candidates by real runs); rounded, and verified with fresh
   seeds; the report table (article value, simulated mean and 90% interval) comes from
   that verification.

Everything is returned and stored as an :class:`xarray.Dataset` (see
:func:`results_dataset`); :mod:`countysim.calibration.calreport` writes
``docs/calibration.md`` and the
figures from it, and :func:`update_scenario` writes the calibrated values into a scenario
file.

An experiment with a ``[recovery]`` table calibrates to pseudo-targets simulated at known
parameter values instead of the article, to check that the method finds them.
"""


from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

import numpy as np

from ..sweeps.signals import stop_on_signals
from ..sweeps.sweep import process_pool, worker_count
from .baseline import calibrated_baseline
from .crossval import CrossValidation as CrossValidation
from .crossval import cross_validate as cross_validate
from .crossval import cv_structure as cv_structure
from .diagnostics import _fmt as _fmt
from .diagnostics import diagnostics_text as diagnostics_text
from .diagnostics import held_out_rows as held_out_rows
from .diagnostics import identification_warnings as identification_warnings
from .diagnostics import table_rows as table_rows
from .matching import _Matcher as _Matcher
from .matching import _real_implausibility as _real_implausibility
from .matching import member_variance as member_variance
from .members import _member_indices, band_check, member_mask, predictive_check
from .members import ensemble_dataset as ensemble_dataset
from .results import CalibrationResult as CalibrationResult
from .results import _result
from .results import inside_interval as inside_interval
from .results import open_calibration as open_calibration
from .results import results_dataset as results_dataset
from .runner import _TRUTH, _Runner, _seed
from .runner import carried_draw as carried_draw
from .runner import pseudo_targets as pseudo_targets
from .runner import run_draws as run_draws
from .scenario_update import update_scenario as update_scenario
from .spec import RULES as RULES
from .spec import CalibrationError as CalibrationError
from .spec import CalibrationSpec as CalibrationSpec
from .spec import FitParameter as FitParameter
from .spec import load_calibration as load_calibration
from .targets import Targets
from .waves import accepted_sample, run_waves

# The steps live in the modules named for them (spec, runner, matching, waves, members,
# baseline, crossval, results, diagnostics, scenario_update); this module runs them in
# order and keeps every name it has always offered importable from here.
__all__ = ["CalibrationError", "CalibrationResult", "CalibrationSpec", "CrossValidation",
           "FitParameter", "calibrate", "cross_validate", "cv_structure", "ensemble_dataset",
           "load_calibration", "open_calibration", "pseudo_targets", "run_draws",
           "update_scenario"]


def calibrate(experiment: str | Path | CalibrationSpec, *, workers: int | None = None,
              executor: Executor | None = None,
              log: Callable[[str], None] | None = print) -> CalibrationResult:
    """Calibrate a scenario to its targets by history matching (see the module docstring).

    Args:
        experiment: Experiment file (``experiments/*.toml``) or a loaded spec.
        workers: Worker processes (default: the experiment's ``workers``); ``1`` runs
            in-process. The result does not depend on it.
        executor: A ``concurrent.futures.Executor`` to use instead of a process pool.
        log: Where progress lines go (``None`` for silence).

    Returns:
        The result; nothing is written to disk (see :meth:`CalibrationResult.save`,
        :func:`countysim.calibration.calreport.write_report`, :func:`update_scenario`).
    """
    spec = experiment if isinstance(experiment, CalibrationSpec) else load_calibration(experiment)
    say = log or (lambda _msg: None)
    # At most one process per core (issue 18): more only share the cores, each with its
    # own memory; results are gathered by index, so the count changes nothing else.
    workers = worker_count(workers or spec.workers)
    t0 = time.perf_counter()
    if executor is not None or workers <= 1:
        return _calibrate(spec, executor, workers, say, t0)
    # The sweeps' pool: workers end with this process, even if it is killed, and a stop
    # (Ctrl-C, SIGTERM, SIGHUP) ends them at once rather than after their runs.
    with stop_on_signals(), process_pool(workers) as pool:
        return _calibrate(spec, pool, workers, say, t0)


def _calibrate(spec: CalibrationSpec, executor: Executor | None, workers: int,
               say: Callable[[str], None], t0: float) -> CalibrationResult:
    """The steps of the module docstring, in order, each with its own branch of seeds."""
    targets = _fit_targets(spec, say)
    runner = _Runner(spec, targets, executor, workers)
    matcher = _Matcher(spec, targets)
    say(f"calibration {spec.name}: {len(spec.names)} parameters, {len(targets.fitted)} fitted "
        f"targets, {spec.waves} waves x {spec.points} points x {spec.replicates} replicates, "
        f"{workers} worker(s)")
    pool, warnings = run_waves(spec, targets, runner, matcher, say, t0)
    accepted = accepted_sample(spec, matcher, pool)
    say(f"accepted sample: {accepted.shape[0]} points")
    check = predictive_check(spec, matcher, runner, targets, accepted)
    say(f"predictive check: {check.values.shape[0] * check.values.shape[1]} runs at "
        f"{check.points.shape[0]} accepted points; {time.perf_counter() - t0:.0f} s")
    check_ok = matcher.combine(check.implausibility[:, matcher.fitted]) <= spec.cutoff
    bands = band_check(spec, runner, check, check_ok)
    if spec.band_seeds > 0:
        say(f"band check: {int((bands.inside == 1).sum())} of {int(check_ok.sum())} "
            f"non-implausible points inside every band to 2030 on {spec.band_seeds} seeds; "
            f"{time.perf_counter() - t0:.0f} s")
    ok = member_mask(check_ok, bands.inside)
    chosen = _member_indices(ok, spec.members) if ok.any() else np.arange(0)
    # Each member's fit on its own runs: their seed noise, not the ensemble's spread.
    own_fit = matcher.combine(_real_implausibility(matcher, targets, check.values[chosen])[
        :, matcher.fitted]) if chosen.size else None
    base = calibrated_baseline(spec, matcher, runner, targets, accepted, check.points[chosen],
                               [check.draws[i] for i in chosen], own_fit)
    say(f"calibrated baseline ({spec.baseline_choice}): candidate {base.best + 1} of "
        f"{base.candidates.shape[0]} (worst "
        f"fitted target {base.scores[base.best, 0]:.2f} run-to-run sd away); verified with "
        f"seeds {base.verify_seeds[0]}..{base.verify_seeds[-1]}")
    cv = cross_validate(spec, matcher, runner, say) if spec.cv_points else None
    truth_imp = _truth_implausibility(spec, matcher)
    wall = time.perf_counter() - t0
    ds = results_dataset(spec, targets, matcher, accepted, check.points, check.values,
                         check.implausibility, base.candidates, base.values, base.scores,
                         base.best, base.calibrated, base.verify_values, base.verify_seeds,
                         runner, warnings, wall, truth_imp, cv, base.member, base.draws,
                         bands.inside, bands.per_band)
    result = _result(spec, ds, wall)
    say(result.summary())
    return result


def _fit_targets(spec: CalibrationSpec, say: Callable[[str], None]) -> Targets:
    """The experiment's targets, or in a recovery its pseudo-targets, simulated first."""
    if spec.truth is None:
        return spec.targets
    targets = pseudo_targets(spec.targets, spec.scenario, spec.truth,
                             _seed(spec.seed, _TRUTH), spec.recovery_obs_cv)
    say("recovery: pseudo-targets " + ", ".join(f"{t.id}={t.value:.4g}" for t in targets))
    return targets


def _truth_implausibility(spec: CalibrationSpec, matcher: _Matcher) -> np.ndarray:
    """A recovery's known values' implausibility under each wave (NaN without a truth)."""
    waves = matcher.waves
    if spec.truth is None:
        return np.full(len(waves), np.nan)
    x = np.array([[spec.truth[n] for n in spec.names]])
    return np.array([matcher.combine(matcher.target_implausibility(w, x))[0] for w in waves])
