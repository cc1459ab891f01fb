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
6. **Calibrated baseline**: the point of the set whose emulated means are closest to the
   fitted targets in units of the run-to-run spread (scipy L-BFGS-B from the best points
   of the set, with a pull to the set's centre along directions the targets leave free),
   confirmed among the candidates by real runs, rounded, and verified with fresh seeds;
   the report table (article value, simulated mean and 90% interval) comes from that
   verification.

Everything is returned and stored as an :class:`xarray.Dataset` (see
:func:`results_dataset`); :mod:`countysim.calibration.calreport` writes
``docs/calibration.md`` and the
figures from it, and :func:`update_scenario` writes the calibrated values into a scenario
file.

An experiment with a ``[recovery]`` table calibrates to pseudo-targets simulated at known
parameter values instead of the article, to check that the method finds them.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy.optimize import minimize
from scipy.stats import qmc

from ..core import __version__
from ..core.digest import DigestError, verified_bytes
from ..core.errors import InputError, read_toml
from ..core.parameters import PARAMETERS
from ..core.scenario import Scenario, ScenarioError, load_scenario, month_index
from ..sweeps.experiment import SHAPE_PARAMETERS
from ..sweeps.files import write_atomically, write_netcdf
from ..sweeps.signals import stop_on_signals
from ..sweeps.sweep import process_pool, worker_count
from .emulate import Emulator, implausibility
from .targets import Target, Targets, load_targets

__all__ = ["CalibrationError", "CalibrationResult", "CalibrationSpec", "CrossValidation",
           "FitParameter", "calibrate", "cross_validate", "cv_structure", "ensemble_dataset",
           "load_calibration", "open_calibration", "pseudo_targets", "run_draws",
           "update_scenario"]

RULES = ("max", "second_max")
_MARGIN = 0.1  # share of a box's width added on each side when it is shrunk to the NROY set


class CalibrationError(InputError):
    """A calibration experiment file is invalid."""


# ============================================================================ experiment


@dataclass(frozen=True)
class FitParameter:
    """A parameter the calibration varies.

    Attributes:
        name: Registry name: a ``[behaviour]`` parameter, or a lever or district value
            whose registry source is an assumption (see :func:`load_calibration`).
        lower: Lower end of the range searched.
        upper: Upper end of the range searched.
        why: Why this range (kept with the results).
    """

    name: str
    lower: float
    upper: float
    why: str


@dataclass(frozen=True)
class CalibrationSpec:
    """A validated calibration experiment (see ``experiments/calibrate_2025.toml``).

    Attributes:
        name: Experiment name (file stem unless given).
        description: One or two sentences.
        path: The experiment file.
        text: The experiment file's text (stored with the results).
        scenario: The base scenario with the experiment's overrides applied.
        scenario_path: The base scenario's file (the one :func:`update_scenario` edits).
        targets: The targets fitted and held out (pseudo-targets in a recovery).
        parameters: The parameters varied, with their ranges.
        seed: Root of the seed tree.
        waves: Number of history-matching waves.
        points: Design points per wave.
        replicates: Runs per design point.
        validation_share: Share of each wave's points kept out of the emulator fit.
        cutoff: Implausibility cut-off.
        rule: ``"max"`` or ``"second_max"`` over the fitted targets.
        discrepancy_cv: Model-discrepancy sd relative to each target's value, by target ID.
        candidates: Candidate points drawn per batch in rejection sampling.
        max_candidates: Most candidates drawn per wave before giving up.
        accepted: Size of the final sample of the non-implausible set.
        max_active: Most active parameters per emulator.
        check_points: Accepted points run with the real model (predictive check).
        check_replicates: Runs per check point.
        baseline_candidates: Candidate baselines run with the real model.
        baseline_replicates: Runs per candidate baseline.
        verify_replicates: Runs of the calibrated baseline (integer seeds, as ``run --seed``).
        verify_seed: First integer seed of the verification runs.
        significant_digits: Digits kept in the calibrated values written to the scenario.
        workers: Default number of worker processes.
        truth: Known parameter values of a recovery experiment, else ``None``.
        recovery_obs_cv: Relative observation sd of the pseudo-targets.
        output: Output paths (``dataset``, ``report``, ``figures``, ``ensemble``), resolved.
        district_draws: Draw ``district_seed`` for every design and check run, so that the
            emulators' ensemble variance and the predictive intervals include the
            variance between district draws (the district's layout is not known).
        carried: Hand-set parameters carried as uncertainty: drawn for every run from a
            split uniform distribution whose median is the scenario's (sourced) value
            and whose bounds are the stated range (:func:`carried_draw`), never fitted
            (their effect joins the ensemble variance, as the district draw's does).
        members: Most members of the shipped ensemble (accepted points x district draws).
        cv_points: Points of the non-implausible set without a target run with the real
            model to predict it (leave-one-out cross-validation); 0 = no cross-validation.
        cv_replicates: Runs per cross-validation point.
        discussion: Text the report quotes under its results (``[report] discussion``):
            the reasons for misses the numbers cannot give.
    """

    name: str
    description: str
    path: Path | None
    text: str
    scenario: Scenario
    scenario_path: Path | None
    targets: Targets
    parameters: tuple[FitParameter, ...]
    seed: int
    waves: int = 4
    points: int = 300
    replicates: int = 3
    validation_share: float = 0.2
    cutoff: float = 3.0
    rule: str = "max"
    discrepancy_cv: Mapping[str, float] = field(default_factory=dict)
    candidates: int = 200_000
    max_candidates: int = 4_000_000
    accepted: int = 2_000
    max_active: int = 6
    check_points: int = 60
    check_replicates: int = 4
    baseline_candidates: int = 12
    baseline_replicates: int = 10
    verify_replicates: int = 20
    verify_seed: int = 0
    significant_digits: int = 4
    workers: int = 2
    truth: Mapping[str, float] | None = None
    recovery_obs_cv: float = 0.05
    output: Mapping[str, Path] = field(default_factory=dict)
    district_draws: bool = False
    carried: tuple[FitParameter, ...] = ()
    members: int = 300
    cv_points: int = 0
    cv_replicates: int = 2
    discussion: str = ""

    @property
    def names(self) -> list[str]:
        """Names of the parameters varied."""
        return [p.name for p in self.parameters]

    @property
    def lower(self) -> np.ndarray:
        """Lower ends of the ranges."""
        return np.array([p.lower for p in self.parameters])

    @property
    def upper(self) -> np.ndarray:
        """Upper ends of the ranges."""
        return np.array([p.upper for p in self.parameters])

    @property
    def until(self) -> str:
        """Last month any target is read at."""
        return max(t.read_at for t in self.targets)

    def snap(self, X: np.ndarray) -> np.ndarray:
        """Points ``X`` (one row per point) with integer parameters rounded to whole values."""
        X = np.array(X, dtype=float, ndmin=2)
        for j, p in enumerate(self.parameters):
            if PARAMETERS[p.name].kind is int:
                X[:, j] = np.clip(np.round(X[:, j]), math.ceil(p.lower), math.floor(p.upper))
        return X

    def values(self, x: Sequence[float]) -> dict[str, int | float]:
        """One point as scenario values: ``int`` for integer parameters, else ``float``."""
        return {name: _typed(name, v) for name, v in zip(self.names, x, strict=True)}


def _typed(name: str, value: float) -> int | float:
    """``value`` with the registry type of parameter ``name`` (ints rounded)."""
    return round(float(value)) if PARAMETERS[name].kind is int else float(value)


_TOP = ("name", "description", "scenario", "targets", "use_targets", "held_out", "seed", "workers",
        "scenario_overrides", "design", "history_matching", "check", "baseline", "parameters",
        "recovery", "output", "uncertainty", "carried", "cross_validation", "report")
_SECTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "design": {"waves": int, "points": int, "replicates": int, "validation_share": float},
    "history_matching": {"cutoff": float, "rule": str, "discrepancy_cv": float,
                         "discrepancy_cv_by_target": dict, "candidates": int,
                         "max_candidates": int, "accepted": int, "max_active": int},
    "check": {"points": int, "replicates": int},
    "baseline": {"candidates": int, "replicates": int, "verify_replicates": int,
                 "verify_seed": int, "significant_digits": int},
    "recovery": {"truth": dict, "obs_cv": float, "read_at": str},
    "uncertainty": {"district_draws": bool, "members": int},
    "cross_validation": {"points": int, "replicates": int},
    "report": {"discussion": str},
    "output": {"dataset": str, "report": str, "figures": str, "ensemble": str},
}
_SPEC_FIELD = {("design", "points"): "points", ("check", "points"): "check_points",
               ("check", "replicates"): "check_replicates",
               ("baseline", "candidates"): "baseline_candidates",
               ("baseline", "replicates"): "baseline_replicates",
               ("recovery", "obs_cv"): "recovery_obs_cv",
               ("cross_validation", "points"): "cv_points",
               ("cross_validation", "replicates"): "cv_replicates"}
_MINIMA = {"waves": 1, "points": 8, "replicates": 1, "candidates": 100, "max_candidates": 100,
           "accepted": 10, "max_active": 1, "check_points": 1, "check_replicates": 2,
           "baseline_candidates": 1, "baseline_replicates": 2, "verify_replicates": 2,
           "verify_seed": 0, "significant_digits": 2, "members": 1, "cv_points": 0,
           "cv_replicates": 1}


def load_calibration(path: str | Path) -> CalibrationSpec:
    """Load and validate a calibration experiment file.

    Paths inside the file (``scenario``, ``targets``, ``output.*``) are relative to it.

    The parameters fitted are numbers (``float``, or ``int``, rounded in the runs) the
    article does not give: any ``[behaviour]`` parameter, and levers or district values
    whose registry source is an assumption (e.g. ``activation_rate``, ``leading_posts``).
    Programme sizes and district figures with a source (``pilot_villages``: A13) stay
    inputs, and so do the district's shape and seed, which every run shares.

    Args:
        path: The experiment TOML file.

    Returns:
        The validated experiment.

    Raises:
        CalibrationError: The file or a key is invalid (the message names file and key).
        ScenarioError: The base scenario or an override is invalid.
        TargetError: The targets file is invalid.
    """
    path = Path(path)
    text, data = read_toml(path, CalibrationError, "experiment")
    for key in data:
        if key not in _TOP:
            raise CalibrationError(path, key, f"unknown key; allowed: {', '.join(_TOP)}")
    for key in ("scenario", "targets", "seed", "parameters"):
        if key not in data:
            raise CalibrationError(path, key, "required key is missing")
    here = path.parent
    scenario_path = (here / _string(path, "scenario", data["scenario"])).resolve()
    overrides = data.get("scenario_overrides", {})
    if not isinstance(overrides, dict):
        raise CalibrationError(path, "scenario_overrides", "must be a table of parameters")
    scenario = load_scenario(scenario_path, **overrides)
    truth = None
    recovery = data.get("recovery")
    require_held_out = recovery is None
    targets = load_targets(here / _string(path, "targets", data["targets"]),
                           require_held_out=require_held_out)
    if "use_targets" in data:
        ids = data["use_targets"]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or not ids:
            raise CalibrationError(path, "use_targets", "expected a list of figure IDs")
        for i in ids:
            if i not in targets.ids:
                raise CalibrationError(path, "use_targets", f"no target {i!r} in the targets "
                                       f"file; have {', '.join(targets.ids)}")
        targets = targets.select(ids)
    if "held_out" in data:
        held = data["held_out"]
        if not isinstance(held, list) or not all(isinstance(i, str) for i in held):
            raise CalibrationError(path, "held_out", "expected a list of figure IDs (may be "
                                   "empty)")
        for i in held:
            if i not in targets.ids:
                raise CalibrationError(path, "held_out", f"no target {i!r}; have "
                                       f"{', '.join(targets.ids)}")
        targets = Targets(tuple(replace(t, held_out=t.id in held) for t in targets),
                          targets.path, targets.text, targets.meta)
    if not targets.fitted:
        raise CalibrationError(path, "held_out", "every target is held out: nothing to fit")
    seed = data["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise CalibrationError(path, "seed", f"expected a non-negative integer, got {seed!r}")
    kw: dict[str, Any] = {}
    for section, keys in _SECTIONS.items():
        table = data.get(section, {})
        if section == "output":
            if not isinstance(table, dict):
                raise CalibrationError(path, section, "must be a table")
            for key, value in table.items():
                if key not in keys or not isinstance(value, str):
                    raise CalibrationError(path, f"output.{key}", "expected one of dataset, "
                                           "report, figures, ensemble, as a path string")
            continue
        if not isinstance(table, dict):
            raise CalibrationError(path, section, "must be a table")
        for key, value in table.items():
            if key not in keys:
                raise CalibrationError(path, f"{section}.{key}", "unknown key; allowed: "
                                       + ", ".join(keys))
            kind = keys[key]
            ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value, ok = float(value), True
            if not ok:
                raise CalibrationError(path, f"{section}.{key}", f"expected "
                                       f"{kind.__name__}, got {value!r}")
            name = _SPEC_FIELD.get((section, key), key)
            if name in _MINIMA and value < _MINIMA[name]:
                raise CalibrationError(path, f"{section}.{key}", f"must be >= {_MINIMA[name]}")
            kw[name] = value
    if "validation_share" in kw and not 0.0 <= kw["validation_share"] < 0.5:
        raise CalibrationError(path, "design.validation_share", "must be in [0, 0.5)")
    if "cutoff" in kw and kw["cutoff"] <= 0:
        raise CalibrationError(path, "history_matching.cutoff", "must be positive")
    if kw.get("rule", "max") not in RULES:
        raise CalibrationError(path, "history_matching.rule", f"expected one of "
                               f"{', '.join(RULES)}, got {kw['rule']!r}")
    default_cv = kw.pop("discrepancy_cv", 0.05)
    if default_cv < 0:
        raise CalibrationError(path, "history_matching.discrepancy_cv", "must be >= 0")
    by_target = kw.pop("discrepancy_cv_by_target", {})
    cvs = {t.id: default_cv for t in targets}
    for tid, cv in by_target.items():
        if tid not in cvs:
            raise CalibrationError(path, f"history_matching.discrepancy_cv_by_target.{tid}",
                                   f"no such target; have {', '.join(cvs)}")
        if isinstance(cv, bool) or not isinstance(cv, int | float) or cv < 0:
            raise CalibrationError(path, f"history_matching.discrepancy_cv_by_target.{tid}",
                                   f"expected a number >= 0, got {cv!r}")
        cvs[tid] = float(cv)
    params = _parameters(path, data["parameters"], scenario)
    carried = _parameters(path, data["carried"], scenario, "carried") if "carried" in data else ()
    both = {p.name for p in params} & {p.name for p in carried}
    if both:
        raise CalibrationError(path, f"carried.{sorted(both)[0]}", "is also in [parameters]: "
                               "a parameter is either fitted or carried")
    for p in carried:
        value = scenario.values[p.name]
        if not p.lower <= value <= p.upper:
            raise CalibrationError(path, f"carried.{p.name}.range",
                                   f"must contain the scenario's value {value:g} (the "
                                   f"median of the carried draws); got [{p.lower:g}, "
                                   f"{p.upper:g}]")
    if "workers" in data:
        w = data["workers"]
        if not isinstance(w, int) or isinstance(w, bool) or w < 1:
            raise CalibrationError(path, "workers", f"expected a positive integer, got {w!r}")
        kw["workers"] = w
    if recovery is not None:
        truth_raw = kw.pop("truth", None)
        if truth_raw is None:
            raise CalibrationError(path, "recovery.truth", "required: the known values")
        truth = {}
        for name, value in truth_raw.items():
            match = [p for p in params if p.name == name]
            if not match:
                raise CalibrationError(path, f"recovery.truth.{name}", "not a parameter of the "
                                       "experiment; truth needs one value per parameter")
            whole = PARAMETERS[name].kind is int
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not match[0].lower <= value <= match[0].upper
                    or (whole and not float(value).is_integer())):
                raise CalibrationError(path, f"recovery.truth.{name}", f"expected a "
                                       f"{'whole number' if whole else 'number'} in "
                                       f"[{match[0].lower:g}, {match[0].upper:g}], got "
                                       f"{value!r}")
            truth[name] = _typed(name, value)
        missing = [p.name for p in params if p.name not in truth]
        if missing:
            raise CalibrationError(path, "recovery.truth", f"missing {', '.join(missing)}")
        read_at = kw.pop("read_at", None)
        if read_at is not None:
            # A short recovery run reads every pseudo-target at its own last month.
            try:
                month_index(read_at)
            except ValueError:
                raise CalibrationError(path, "recovery.read_at", f"expected a month 'YYYY-MM',"
                                       f" got {read_at!r}") from None
            targets = Targets(tuple(replace(t, window=(t.window[0], read_at)) for t in targets),
                              targets.path, targets.text, targets.meta)
    output = {}
    for key in ("dataset", "report", "figures", "ensemble"):
        value = data.get("output", {}).get(key)
        if value is not None:
            output[key] = (here / value).resolve()
    for t in targets:
        if month_index(t.read_at) < month_index(scenario.start):
            raise CalibrationError(path, "targets", f"{t.id} is read at {t.read_at}, before "
                                   f"the scenario starts ({scenario.start})")
    name = data.get("name", path.stem)
    description = data.get("description", "")
    for key, value in (("name", name), ("description", description)):
        if not isinstance(value, str):
            raise CalibrationError(path, key, "must be a string")
    return CalibrationSpec(name=name, description=description, path=path.resolve(), text=text,
                           scenario=scenario, scenario_path=scenario_path, targets=targets,
                           parameters=params, seed=seed, discrepancy_cv=cvs, truth=truth,
                           output=output, carried=carried, **kw)


def _string(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise CalibrationError(path, key, f"expected a non-empty string, got {value!r}")
    return value


def _parameters(path: Path, table: Any, scenario: Scenario,
                section: str = "parameters") -> tuple[FitParameter, ...]:
    if not isinstance(table, dict) or not table:
        raise CalibrationError(path, section, "expected a table of parameters with ranges")
    out = []
    for name, spec in table.items():
        key = f"{section}.{name}"
        param = PARAMETERS.get(name)
        if param is None:
            raise CalibrationError(path, key, "unknown parameter")
        if name in SHAPE_PARAMETERS:
            raise CalibrationError(path, key, "fixes the district's shape, which every run "
                                   "shares; it is an input, not calibrated")
        if section == "carried" and param.section != "levers":
            pass  # a carried value is drawn, not fitted: a published figure's range may be
            # carried too (e.g. B7's preliminary output growth)
        elif param.section != "behaviour" and not param.source.startswith("assumption"):
            raise CalibrationError(path, key, f"in [{param.section}] with source "
                                   f"{param.source!r}; only [behaviour] parameters and "
                                   "assumed levers or district values (source 'assumption: "
                                   "...') are calibrated (programme sizes are inputs)")
        if param.kind not in (int, float):
            raise CalibrationError(path, key, f"is {param.kind.__name__}; only numbers (float, "
                                   "or int rounded in the runs) can be calibrated")
        if not isinstance(spec, dict) or set(spec) - {"range", "why"} or "range" not in spec:
            raise CalibrationError(path, key, "expected { range = [lo, hi], why = \"...\" }")
        rng = spec["range"]
        if (not isinstance(rng, list) or len(rng) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in rng)):
            raise CalibrationError(path, key + ".range", f"expected [lo, hi], got {rng!r}")
        lo, hi = float(rng[0]), float(rng[1])
        blo, bhi = param.bounds
        if not blo <= lo < hi <= bhi:
            raise CalibrationError(path, key + ".range", f"[{lo:g}, {hi:g}] must be increasing "
                                   f"and inside the registry bounds [{blo:g}, {bhi:g}]")
        if param.kind is int and not (lo.is_integer() and hi.is_integer()):
            raise CalibrationError(path, key + ".range", f"[{lo:g}, {hi:g}]: {name} is an int "
                                   "parameter; give whole-number ends")
        why = spec.get("why", "")
        if not isinstance(why, str):
            raise CalibrationError(path, key + ".why", "must be a string")
        try:
            scenario.replace(**{name: _typed(name, lo)})
            scenario.replace(**{name: _typed(name, hi)})
        except ScenarioError as exc:
            raise CalibrationError(path, key + ".range", f"an end of the range is not a valid "
                                   f"scenario: {exc.problem}") from None
        out.append(FitParameter(name, lo, hi, why))
    return tuple(out)


# ============================================================================== runs


def _seed(entropy: int, *key: int) -> np.random.SeedSequence:
    """Node ``key`` of the experiment's seed tree (same as spawning children in order)."""
    return np.random.SeedSequence(entropy, spawn_key=tuple(int(k) for k in key))


# Branches of the seed tree (append, never renumber: results depend on them).
_DESIGN, _RUNS, _CHECK, _BASELINE, _ACCEPT, _TRUTH, _DRAWS, _CV = range(8)
# Sub-branches of _DRAWS: design runs, ensemble members (check runs), cross-validation.
_DRAW_DESIGN, _DRAW_MEMBER, _DRAW_CV = range(3)
_DISTRICT_SEEDS = 2**31  # district_seed draws are integers in [0, 2^31)


def run_draws(spec: CalibrationSpec, *key: int, carried: bool = True
              ) -> dict[str, int | float]:
    """Values drawn for one run (or one ensemble member) that no emulator sees as an input.

    The district draw (``district_seed``, if ``spec.district_draws``) and the carried
    parameters (:func:`carried_draw` over their ranges), from node ``(_DRAWS, *key)`` of
    the seed tree.

    Args:
        spec: The experiment.
        *key: The node below the draws' branch.
        carried: Draw the carried parameters too. The design and cross-validation runs
            keep them at the scenario's (sourced) values: the fit is of the calibrated
            parameters given those values; the carried draws enter with the ensemble's
            members, which real runs must confirm non-implausible.

    Returns:
        Parameter overrides (empty if nothing is drawn).
    """
    if not spec.district_draws and not spec.carried:
        return {}
    rng = np.random.default_rng(_seed(spec.seed, _DRAWS, *key))
    out: dict[str, int | float] = {}
    if spec.district_draws:
        out["district_seed"] = int(rng.integers(0, _DISTRICT_SEEDS))
    for p in spec.carried if carried else ():
        value = carried_draw(rng.uniform(), p.lower, float(spec.scenario.values[p.name]),
                             p.upper)
        out[p.name] = _typed(p.name, value)
    return out


def carried_draw(u: float | np.ndarray, low: float, median: float,
                 high: float) -> float | np.ndarray:
    """A carried parameter's value at quantile ``u``: split uniform, median at the value.

    Half the probability is spread evenly over ``[low, median]`` and half over
    ``[median, high]``. The source's value stays the best guess (the median) and the stated
    range its bounds. A plain uniform over a half-to-twice range would put the median at
    1.25 times the value, and the fitted parameters would then compensate for a bias
    that the baseline (which keeps the sourced values) does not have.

    Args:
        u: Quantile(s) in ``[0, 1]``.
        low: Lower end of the stated range.
        median: The scenario's value (inside the range).
        high: Upper end of the stated range.

    Returns:
        The value(s), in ``[low, high]``.
    """
    u = np.asarray(u, dtype=float)
    below = low + 2.0 * u * (median - low)
    above = median + (2.0 * u - 1.0) * (high - median)
    out = np.where(u < 0.5, below, above)
    return float(out) if out.ndim == 0 else out


def _run_one(task: tuple) -> tuple[np.ndarray, str]:
    """One model run; returns the target values and an error text ('' if fine)."""
    from ..core.county import run

    scenario, overrides, seed, until, targets = task
    try:
        ds = run(scenario, seed=seed, until=until, **overrides)
        values = np.array([t.evaluate(ds, scenario.start) for t in targets])
        return values, ""
    except Exception as exc:  # one failing run must not sink the calibration
        return np.full(len(targets), np.nan), f"{type(exc).__name__}: {exc}"


class _Runner:
    """Runs the model at many points and seeds, in order, in-process or in a pool."""

    def __init__(self, spec: CalibrationSpec, targets: Targets, executor: Executor | None,
                 workers: int) -> None:
        self.spec = spec
        self.scenario = spec.scenario
        self.until = max(t.read_at for t in targets)
        self.targets = tuple(targets)
        self.executor = executor
        self.workers = workers
        self.runs = 0
        self.errors: list[str] = []

    def __call__(self, points: np.ndarray, replicates: int,
                 seed: Callable[[int, int], Any],
                 draws: Callable[[int, int], Mapping[str, Any]] | None = None) -> np.ndarray:
        """Outputs of shape ``(len(points), replicates, n_targets)``.

        ``seed(i, r)`` gives the seed of replicate ``r`` at point ``i``; ``draws(i, r)``
        (optional) the values drawn for that run that are not emulator inputs: the
        district draw (``district_seed``) and carried parameters. Integer parameters
        are rounded (callers pass points through :meth:`CalibrationSpec.snap` first, so
        that what they keep is what ran).
        """
        points = np.atleast_2d(points)
        tasks = [(self.scenario, {**self.spec.values(x), **(draws(i, r) if draws else {})},
                  seed(i, r), self.until, self.targets)
                 for i, x in enumerate(points) for r in range(replicates)]
        if self.executor is None:
            results = [_run_one(t) for t in tasks]
        else:
            chunk = max(1, len(tasks) // (8 * self.workers))
            results = list(self.executor.map(_run_one, tasks, chunksize=chunk))
        self.runs += len(tasks)
        self.errors += [e for _, e in results if e]
        values = np.array([v for v, _ in results])
        return values.reshape(len(points), replicates, len(self.targets))


def pseudo_targets(targets: Targets, scenario: Scenario, truth: Mapping[str, float],
                   seed: np.random.SeedSequence | int, obs_cv: float = 0.05) -> Targets:
    """Targets simulated by the model at known parameter values (for recovery checks).

    One run at ``truth`` plays the part of the observed district. Every target becomes a
    point target with relative observation sd ``obs_cv``; A7-A9-style binomial counts stay
    binomial over the scenario's evaluated pool.

    Args:
        targets: Targets whose variables, windows and held-out flags are kept.
        scenario: The scenario the truth is applied to.
        truth: Parameter values of the pseudo-world.
        seed: Seed of the pseudo-world's run.
        obs_cv: Relative observation sd of the pseudo-targets.

    Returns:
        Targets with simulated values (the originals kept for the remaining fields).

    Raises:
        ValueError: A simulated target is zero (no relative variance can be formed).
    """
    from ..core.county import run

    until = max(t.read_at for t in targets)
    ds = run(scenario, seed=seed, until=until, **{n: _typed(n, v) for n, v in truth.items()})
    items = []
    for t in targets:
        value = t.evaluate(ds, scenario.start)
        if t.kind == "binomial":
            pool = int(scenario.evaluated_cadres)
            value = float(min(round(value), pool))
            new = replace(t, value=value, pool=pool, reporting_cv=obs_cv, window_sd_months=0.0)
        else:
            new = replace(t, value=value, kind="point", upper=None, step=None, obs_sd=None,
                          reporting_cv=obs_cv, window_sd_months=0.0)
        if not new.obs_variance > 0:
            raise ValueError(f"pseudo-target {t.id} simulated as {value}: zero variance")
        items.append(new)
    return Targets(tuple(items), targets.path, targets.text,
                   {**targets.meta, "pseudo": "simulated at " + json.dumps(dict(truth))})


# ====================================================================== history matching


@dataclass
class _Wave:
    """One wave: its box, design, runs, emulators and their checks."""

    index: int
    box: tuple[np.ndarray, np.ndarray]
    X: np.ndarray
    Y: np.ndarray
    emulators: list[Emulator]
    validation: list[Any]
    accept_rate: float = float("nan")
    nroy_fraction: float = float("nan")
    candidates: int = 0


class _Matcher:
    """Implausibility of candidate points under the emulators of the waves so far."""

    def __init__(self, spec: CalibrationSpec, targets: Targets) -> None:
        self.targets = targets
        self.fitted = [i for i, t in enumerate(targets) if not t.held_out]
        self.cutoff, self.rule = spec.cutoff, spec.rule
        self.var_fixed = np.array([t.obs_variance + (spec.discrepancy_cv[t.id] * t.centre) ** 2
                                   for t in targets])
        self.waves: list[_Wave] = []

    def target_implausibility(self, wave: _Wave, X: np.ndarray) -> np.ndarray:
        """Implausibility per fitted target, shape ``(len(X), n_fitted)``."""
        out = np.empty((X.shape[0], len(self.fitted)))
        for c, k in enumerate(self.fitted):
            t = self.targets[k]
            p = wave.emulators[k].predict(X)
            lo, hi = t.interval
            out[:, c] = implausibility(p.mean, lo, hi,
                                       self.var_fixed[k] + p.var_emulator + p.var_ensemble)
        return out

    def combine(self, imp: np.ndarray) -> np.ndarray:
        """Max (or second-max) implausibility over targets."""
        if self.rule == "second_max" and imp.shape[1] > 1:
            return np.sort(imp, axis=1)[:, -2]
        return imp.max(axis=1)

    def plausible(self, X: np.ndarray, upto: int | None = None, *,
                  exclude: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mask of points non-implausible under waves ``0..upto``, and the last wave's I.

        With ``exclude = k`` (cross-validation), target ``k`` is left out of every wave's
        screening, and a wave screens only the points inside its own box: outside it,
        its emulators would extrapolate from no design point (the box was shrunk with
        target ``k`` still in the fit).
        """
        waves = self.waves if upto is None else self.waves[: upto + 1]
        keep = np.ones(X.shape[0], dtype=bool)
        last = np.full(X.shape[0], np.inf)
        cols = [c for c, k in enumerate(self.fitted) if k != exclude]
        for wave in waves:
            idx = np.flatnonzero(keep)
            if exclude is not None:
                inside = np.all((X[idx] >= wave.box[0]) & (X[idx] <= wave.box[1]), axis=1)
                idx = idx[inside]
            if idx.size == 0:
                if exclude is None:
                    break
                continue
            imp = self.combine(self.target_implausibility(wave, X[idx])[:, cols])
            last[:] = np.inf
            last[idx] = imp
            keep[idx] = imp <= self.cutoff
        return keep, last


def _uniform(rng: np.random.Generator, box: tuple[np.ndarray, np.ndarray], n: int) -> np.ndarray:
    lo, hi = box
    return lo + (hi - lo) * rng.random((n, lo.size))


def _sample_nroy(matcher: _Matcher, rng: np.random.Generator,
                 box: tuple[np.ndarray, np.ndarray], wanted: int, batch: int,
                 max_candidates: int) -> tuple[np.ndarray, float, int]:
    """Rejection sampling from the box through every wave's emulators."""
    kept, drawn = [], 0
    n_kept = 0
    while n_kept < wanted and drawn < max_candidates:
        X = _uniform(rng, box, min(batch, max_candidates - drawn))
        drawn += X.shape[0]
        ok, _ = matcher.plausible(X)
        kept.append(X[ok])
        n_kept += int(ok.sum())
    X = np.concatenate(kept) if kept else np.zeros((0, box[0].size))
    return X, n_kept / max(drawn, 1), drawn


def _maximin(X: np.ndarray, n: int, rng: np.random.Generator,
             box: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Greedy farthest-point subset of ``n`` rows: a space-filling design inside the set."""
    if X.shape[0] <= n:
        return X
    lo, hi = box
    U = (X - lo) / (hi - lo)
    chosen = [int(rng.integers(X.shape[0]))]
    dist = np.sum((U - U[chosen[0]]) ** 2, axis=1)
    for _ in range(n - 1):
        j = int(np.argmax(dist))
        chosen.append(j)
        dist = np.minimum(dist, np.sum((U - U[j]) ** 2, axis=1))
    return X[np.array(chosen)]


def _shrink(X: np.ndarray, prior: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box of ``X`` widened by a margin (the set's edge is only sampled)."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = _MARGIN * np.maximum(hi - lo, 1e-3 * (prior[1] - prior[0]))
    return np.maximum(lo - pad, prior[0]), np.minimum(hi + pad, prior[1])


# ============================================================================== result


@dataclass
class CalibrationResult:
    """What :func:`calibrate` returns.

    Attributes:
        spec: The experiment.
        dataset: Everything, as an :class:`xarray.Dataset` (see :func:`results_dataset`).
        calibrated: Calibrated parameter values (rounded, as written to the scenario;
            ``int`` for integer parameters).
        accepted_range: ``(min, max)`` of each parameter over the accepted sample.
        table: One row per target: article value, simulated mean, 90% interval, inside.
        held_out: The held-out check(s), by target ID.
        warnings: Identification and quality warnings.
        wall_time: Seconds the calibration took.
    """

    spec: CalibrationSpec
    dataset: xr.Dataset
    calibrated: dict[str, int | float]
    accepted_range: dict[str, tuple[float, float]]
    table: list[dict[str, Any]]
    held_out: dict[str, dict[str, Any]]
    warnings: list[str]
    wall_time: float

    def summary(self) -> str:
        """The diagnostics and the table as text (what the command prints)."""
        return str(self.dataset.attrs["diagnostics"])

    def save(self, path: str | Path) -> Path:
        """Write the Dataset as NetCDF (atomically: a failure keeps any previous file).

        Raises:
            OutputError: The file cannot be written (disk full, read-only, too large).
        """
        return write_netcdf(self.dataset, path)


# Attributes every calibration result carries (see :func:`results_dataset`).
_RESULT_ATTRS = ("experiment_toml", "targets_toml", "scenario_toml", "diagnostics")


def open_calibration(path: str | Path) -> xr.Dataset:
    """Open a calibration *result* (the NetCDF file ``calibrate`` writes) as a Dataset.

    :func:`load_calibration` reads the experiment (TOML) file; this reads what a
    calibration produced, e.g. ``runs/calibration/calibrate_2025.nc``.

    Args:
        path: The NetCDF file.

    Returns:
        The Dataset of :func:`results_dataset`, loaded into memory (the file is closed).

    Raises:
        CalibrationError: The file is missing, is not NetCDF, or is not a calibration result.
    """
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(path, "<file>", "calibration result file does not exist")
    try:
        data = verified_bytes(path.read_bytes(), str(path))
    except DigestError as exc:
        raise CalibrationError(path, exc.key, exc.problem) from None
    try:
        with xr.open_dataset(io.BytesIO(data), engine="h5netcdf") as ds:
            ds = ds.load()
    except Exception:  # h5py, OSError, ValueError: whatever the file is, it is not NetCDF
        raise CalibrationError(path, "<file>", "not a NetCDF file: a calibration result is "
                               "the .nc file `countysim calibrate` writes") from None
    missing = [a for a in _RESULT_ATTRS if a not in ds.attrs]
    if missing:
        raise CalibrationError(path, "<file>", f"not a calibration result (no attribute "
                               f"{missing[0]!r}); a run or sweep file? Open it with "
                               "xarray.open_dataset")
    return ds


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
    targets = spec.targets
    if spec.truth is not None:
        targets = pseudo_targets(targets, spec.scenario, spec.truth,
                                 _seed(spec.seed, _TRUTH), spec.recovery_obs_cv)
        say("recovery: pseudo-targets " + ", ".join(f"{t.id}={t.value:.4g}" for t in targets))
    runner = _Runner(spec, targets, executor, workers)
    matcher = _Matcher(spec, targets)
    prior = (spec.lower, spec.upper)
    warnings: list[str] = []
    box = prior
    pool = np.zeros((0, len(spec.names)))
    say(f"calibration {spec.name}: {len(spec.names)} parameters, {len(targets.fitted)} fitted "
        f"targets, {spec.waves} waves x {spec.points} points x {spec.replicates} replicates, "
        f"{workers} worker(s)")
    for w in range(spec.waves):
        rng = np.random.default_rng(_seed(spec.seed, _DESIGN, w))
        if w == 0:
            lhs = qmc.LatinHypercube(d=len(spec.names), rng=rng)
            X = qmc.scale(lhs.random(spec.points), *box)
        else:
            X = _maximin(pool, spec.points, rng, box)
        X = spec.snap(X)
        Y = runner(X, spec.replicates, lambda i, r, w=w: _seed(spec.seed, _RUNS, w, i, r),
                   lambda i, r, w=w: run_draws(spec, _DRAW_DESIGN, w, i, r, carried=False))
        ok = np.all(np.isfinite(Y), axis=(1, 2))
        if not ok.all():
            warnings.append(f"wave {w + 1}: {int((~ok).sum())} design points failed to run "
                            f"({runner.errors[-1] if runner.errors else '?'})")
        order = rng.permutation(X.shape[0])
        n_val = round(spec.validation_share * X.shape[0])
        val, train = order[:n_val], order[n_val:]
        emulators, validation = [], []
        for k in range(len(targets)):
            em = Emulator(spec.names, *box, max_active=spec.max_active)
            if n_val:
                em.fit(X[train], Y[train, :, k])
                validation.append(em.validate(X[val], Y[val, :, k]))
                em = Emulator(spec.names, *box, max_active=spec.max_active)
            else:
                validation.append(None)
            emulators.append(em.fit(X, Y[:, :, k]))
        wave = _Wave(w, box, X, Y, emulators, validation)
        matcher.waves.append(wave)
        wanted = max(spec.accepted, 5 * spec.points)
        pool, rate, drawn = _sample_nroy(matcher, rng, box, wanted, spec.candidates,
                                         spec.max_candidates)
        volume = float(np.prod((box[1] - box[0]) / (prior[1] - prior[0])))
        wave.accept_rate, wave.candidates = rate, drawn
        wave.nroy_fraction = rate * volume
        say(f"wave {w + 1}: {X.shape[0] * spec.replicates} runs; non-implausible: "
            f"{rate:.3g} of {drawn} candidates in the box, ~{wave.nroy_fraction:.3g} of the "
            f"original space; {time.perf_counter() - t0:.0f} s")
        for k, t in enumerate(targets):
            v = validation[k]
            if v is not None and v.n and v.coverage2 < 0.8:
                warnings.append(f"wave {w + 1}: emulator of {t.id} under-covers held-out runs "
                                f"({v.coverage2:.0%} within 2 sd; want ~95%)")
        if pool.shape[0] == 0:
            warnings.append(_empty_warning(matcher, wave, w))
            say(warnings[-1])
            break
        if pool.shape[0] < spec.points and w + 1 < spec.waves:
            warnings.append(f"wave {w + 1}: only {pool.shape[0]} non-implausible candidates "
                            f"found for the next wave's {spec.points} points")
        box = _shrink(pool, prior)
    waves = matcher.waves
    # The accepted sample: the non-implausible set after the last wave.
    rng = np.random.default_rng(_seed(spec.seed, _ACCEPT))
    if pool.shape[0]:
        accepted = pool[rng.permutation(pool.shape[0])[: spec.accepted]]
    else:
        accepted = _least_implausible(matcher, waves[-1], rng, spec.accepted)
    say(f"accepted sample: {accepted.shape[0]} points")
    # Predictive check: the real model at accepted points, each an ensemble member with its
    # own district draw (and carried values): the predictive interval is over members x
    # seeds.
    check_X = spec.snap(accepted[: spec.check_points])
    check_Y = runner(check_X, spec.check_replicates, lambda i, r: _seed(spec.seed, _CHECK, i, r),
                     lambda i, r: run_draws(spec, _DRAW_MEMBER, i))
    per_member = spec.district_draws or bool(spec.carried)
    check_I = _real_implausibility(matcher, targets, check_Y,
                                   member_variance(matcher, check_X) if per_member else None)
    say(f"predictive check: {check_Y.shape[0] * check_Y.shape[1]} runs at "
        f"{check_X.shape[0]} accepted points; {time.perf_counter() - t0:.0f} s")
    # Calibrated baseline: best emulated fit, confirmed by real runs, then verified.
    cand = spec.snap(_baseline_candidates(spec, matcher, waves[-1], accepted))
    cand_Y = runner(cand, spec.baseline_replicates,
                    lambda i, r: _seed(spec.seed, _BASELINE, i, r))
    scores = _real_scores(targets, cand_Y)
    best = int(np.lexsort((scores[:, 1], scores[:, 0]))[0])
    calibrated = _round(spec, cand[best])
    verify_seeds = list(range(spec.verify_seed, spec.verify_seed + spec.verify_replicates))
    verify_Y = runner(np.array([[calibrated[n] for n in spec.names]]), len(verify_seeds),
                      lambda i, r: verify_seeds[r])[0]
    say(f"calibrated baseline: candidate {best + 1} of {cand.shape[0]} (worst fitted target "
        f"{scores[best, 0]:.2f} run-to-run sd away); verified with seeds {verify_seeds[0]}.."
        f"{verify_seeds[-1]}")
    cv = cross_validate(spec, matcher, runner, say) if spec.cv_points else None
    truth_imp = np.full(len(waves), np.nan)
    if spec.truth is not None:
        x = np.array([[spec.truth[n] for n in spec.names]])
        truth_imp = np.array([matcher.combine(matcher.target_implausibility(w, x))[0]
                              for w in waves])
    wall = time.perf_counter() - t0
    ds = results_dataset(spec, targets, matcher, accepted, check_X, check_Y, check_I, cand,
                         cand_Y, scores, best, calibrated, verify_Y, verify_seeds, runner,
                         warnings, wall, truth_imp, cv)
    result = _result(spec, ds, wall)
    say(result.summary())
    return result


_CV_SHARE = 0.5  # a target is cross-validated if >= half its active parameters act elsewhere


def cv_structure(matcher: _Matcher) -> dict[int, tuple[list[str], list[str]]]:
    """Which fitted targets other targets constrain, from the last wave's emulators.

    A target is *constrained by others* when at least half of its emulator's active
    parameters are active in the emulator of some other fitted target: then the other
    targets bound what it depends on, and leaving it out is a test, not a prior check.

    Returns:
        For every fitted target index: (its active parameters, those active elsewhere).
    """
    wave = matcher.waves[-1]
    active = {k: wave.emulators[k].active_names(significant_only=True) for k in matcher.fitted}
    out = {}
    for k in matcher.fitted:
        others = {n for j in matcher.fitted if j != k for n in active[j]}
        out[k] = (active[k], [n for n in active[k] if n in others])
    return out


@dataclass
class CrossValidation:
    """Leave-one-out predictions of the fitted targets other targets constrain.

    Attributes:
        constrained: Per target (file order): 1 if cross-validated, 0 if only fitted, -1
            if not fitted (held out).
        shared: Per target: its active parameters that other targets' emulators share.
        active: Per target: its emulator's active parameters (last wave).
        values: Real-model runs at points of the set without the target, shape
            ``(targets, points, replicates)`` (NaN where not cross-validated).
        nroy_share: Per target: share of candidates non-implausible without it.
        implausible_share: Per target: share of those points the left-out target's own
            emulator finds implausible (how much it would have cut).
    """

    constrained: np.ndarray
    shared: list[str]
    active: list[str]
    values: np.ndarray
    nroy_share: np.ndarray
    implausible_share: np.ndarray


def cross_validate(spec: CalibrationSpec, matcher: _Matcher, runner: _Runner,
                   say: Callable[[str], None]) -> CrossValidation:
    """Leave each constrained target out, re-screen, and predict it with real runs.

    The final waves' emulators are reused: the set without target ``k`` is sampled from
    the last wave's box widened by a margin (the set without ``k`` is larger), screened
    by every wave's emulators on every other target (each wave only inside its box), and
    the real model is run at ``cv_points`` of its points (``cv_replicates`` runs each,
    with district draws). The 5-95 % range of those runs is the prediction of ``k``.
    """
    K = len(matcher.targets)
    structure = cv_structure(matcher)
    constrained = np.full(K, -1, dtype=np.int8)
    shared, active = [""] * K, [""] * K
    values = np.full((K, spec.cv_points, spec.cv_replicates), np.nan)
    nroy = np.full(K, np.nan)
    cut = np.full(K, np.nan)
    prior = (spec.lower, spec.upper)
    lo, hi = matcher.waves[-1].box
    pad = 2 * _MARGIN * (hi - lo)
    box = (np.maximum(lo - pad, prior[0]), np.minimum(hi + pad, prior[1]))
    for k, (act, sh) in structure.items():
        active[k], shared[k] = ", ".join(act), ", ".join(sh)
        constrained[k] = int(len(sh) >= _CV_SHARE * len(act) and len(sh) > 0)
        if not constrained[k]:
            continue
        rng = np.random.default_rng(_seed(spec.seed, _CV, k))
        kept, drawn = [], 0
        budget = max(spec.max_candidates // 4, spec.candidates)
        while sum(x.shape[0] for x in kept) < 10 * spec.cv_points and drawn < budget:
            X = _uniform(rng, box, spec.candidates)
            drawn += X.shape[0]
            ok, _ = matcher.plausible(X, exclude=k)
            kept.append(X[ok])
        pool = np.concatenate(kept)
        nroy[k] = pool.shape[0] / max(drawn, 1)
        if pool.shape[0] == 0:
            continue
        c = matcher.fitted.index(k)
        own = matcher.target_implausibility(matcher.waves[-1], pool)[:, c]
        cut[k] = float(np.mean(own > spec.cutoff))
        pts = spec.snap(pool[rng.permutation(pool.shape[0])[: spec.cv_points]])
        Y = runner(pts, spec.cv_replicates, lambda i, r, k=k: _seed(spec.seed, _CV, k, i, r),
                   lambda i, r, k=k: run_draws(spec, _DRAW_CV, k, i, r, carried=False))
        values[k, : pts.shape[0]] = Y[:, :, k]
        say(f"cross-validation {matcher.targets[k].id}: {pool.shape[0]} points of "
            f"{drawn} without it ({cut[k]:.0%} implausible for it), {Y.size // K} runs")
    return CrossValidation(constrained, shared, active, values, nroy, cut)


def _empty_warning(matcher: _Matcher, wave: _Wave, w: int) -> str:
    """Which targets no design point of the wave could reach (the misfit, named)."""
    ybar = np.nanmean(wave.Y, axis=1)
    parts = []
    for k in matcher.fitted:
        t = matcher.targets[k]
        lo, hi = t.interval
        var = matcher.var_fixed[k] + np.nanvar(wave.Y[:, :, k], axis=1, ddof=1)
        best = float(np.nanmin(implausibility(ybar[:, k], lo, hi, var)))
        parts.append(f"{t.id} {best:.1f}")
    return (f"wave {w + 1}: no non-implausible point found; the model may not reach every "
            f"target. Least implausibility per target among the wave's runs: "
            + ", ".join(parts))


def _least_implausible(matcher: _Matcher, wave: _Wave, rng: np.random.Generator,
                       n: int) -> np.ndarray:
    """Fallback sample when the set is empty: the least implausible points of the box."""
    X = _uniform(rng, wave.box, max(20 * n, 10_000))
    imp = matcher.combine(matcher.target_implausibility(wave, X))
    return X[np.argsort(imp)[:n]]


def _real_implausibility(matcher: _Matcher, targets: Targets, Y: np.ndarray,
                         var_ensemble: np.ndarray | None = None) -> np.ndarray:
    """Implausibility of real-run means at points (no emulator), shape (points, targets).

    The run-to-run variance is pooled over the points: a few replicates per point give a
    sample variance too noisy to divide by (with 2 replicates, 1 degree of freedom). When
    each point keeps one district draw and one set of carried values over its replicates
    (ensemble members), their spread is seed noise only, while the point's mean still
    differs from the emulated one by the between-draw variance: then ``var_ensemble``
    (the last wave's emulated run-to-run variance at the points, shape (points, targets),
    which includes the draws) is used instead.
    """
    R = Y.shape[1]
    ybar = Y.mean(axis=1)
    s2 = np.nanmean(Y.var(axis=1, ddof=1), axis=0)
    out = np.empty(ybar.shape)
    for k, t in enumerate(targets):
        lo, hi = t.interval
        noise = s2[k] * (1.0 + 1.0 / R) if var_ensemble is None else var_ensemble[:, k]
        var = np.maximum(matcher.var_fixed[k] + noise, 1e-300)
        out[:, k] = implausibility(ybar[:, k], lo, hi, var)
    return out


def _member_indices(check_ok: np.ndarray, members: int) -> np.ndarray:
    """The ensemble's members: checked points whose real runs are non-implausible.

    The first ``members`` of them in the accepted sample's (random) order; every checked
    point if none passes (the report then says so through its predictive check).
    """
    ok = np.flatnonzero(check_ok)
    return (ok if ok.size else np.arange(check_ok.size))[:members]


def member_variance(matcher: _Matcher, X: np.ndarray) -> np.ndarray:
    """The last wave's emulated run-to-run variance at points, shape (points, targets)."""
    return np.column_stack([em.predict(X).var_ensemble for em in matcher.waves[-1].emulators])


_Z90 = 1.6449  # half-width of a central 90% normal interval, in sd
_CENTRE_PULL = 0.1  # weight of the pull to the set's centre, per unit of box width squared


def _baseline_distance(t: Target, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Distance of a mean from what a baseline should hit, in run-to-run sd.

    For a point target, the value. For a range (千余: [1000, 1999]) the range shrunk by the
    half-width of the run-to-run 90% interval, so that the model's year falls inside the
    range rather than straddling its end (down to the middle, if the range is narrower).
    """
    lo, hi = t.interval
    if hi > lo:
        mid = 0.5 * (lo + hi)
        lo, hi = np.minimum(lo + _Z90 * sd, mid), np.maximum(hi - _Z90 * sd, mid)
    return np.maximum(np.maximum(lo - mean, mean - hi), 0.0) / sd


def _fit_objective(matcher: _Matcher, wave: _Wave, X: np.ndarray) -> np.ndarray:
    """Sum over fitted targets of squared distance in run-to-run + emulator sd units."""
    total = np.zeros(X.shape[0])
    for k in matcher.fitted:
        p = wave.emulators[k].predict(X)
        sd = np.sqrt(np.maximum(p.var_ensemble + p.var_emulator, 1e-300))
        total += _baseline_distance(matcher.targets[k], p.mean, sd) ** 2
    return total


def _baseline_candidates(spec: CalibrationSpec, matcher: _Matcher, wave: _Wave,
                         accepted: np.ndarray) -> np.ndarray:
    """Candidate baselines: the emulated best fit, optimised from the best accepted points."""
    lo, hi = wave.box
    centre = (accepted.mean(axis=0) - lo) / (hi - lo)

    def objective(x: np.ndarray) -> float:
        # A pull to the set's centre picks a central point along ridges of equally good fits
        # (directions the targets do not identify); at 0.1 per squared box width it costs
        # less than a fifth of a run sd of misfit.
        u = (x - lo) / (hi - lo)
        return float(_fit_objective(matcher, wave, x[None, :])[0]
                     + _CENTRE_PULL * np.sum((u - centre) ** 2))

    order = np.argsort(_fit_objective(matcher, wave, accepted))
    out = []
    for i in order[: spec.baseline_candidates]:
        res = minimize(objective, accepted[i], method="L-BFGS-B",
                       bounds=list(zip(lo, hi, strict=True)))
        ok, _ = matcher.plausible(res.x[None, :])
        # An optimum outside the set (the last emulators extrapolating) is not a candidate;
        # its starting point, a member of the set, stands in for it.
        out.append(res.x if ok[0] else accepted[i])
    return np.array(out)


def _real_scores(targets: Targets, Y: np.ndarray) -> np.ndarray:
    """Per candidate: worst and summed squared distance of fitted targets, in run sd units.

    The run-to-run sd is pooled over the candidates (which all sit near the best fit).
    """
    ybar = Y.mean(axis=1)
    sd = np.broadcast_to(np.sqrt(np.maximum(np.nanmean(Y.var(axis=1, ddof=1), axis=0), 1e-24)),
                         ybar.shape)
    worst = np.zeros(Y.shape[0])
    total = np.zeros(Y.shape[0])
    for k, t in enumerate(targets):
        if t.held_out:
            continue
        d = _baseline_distance(t, ybar[:, k], sd[:, k])
        worst = np.maximum(worst, d)
        total += d ** 2
    return np.column_stack([worst, total])


def _round(spec: CalibrationSpec, x: np.ndarray) -> dict[str, int | float]:
    """Values to ``significant_digits`` inside the ranges; integer parameters as ints."""
    out: dict[str, int | float] = {}
    for p, v in zip(spec.parameters, x, strict=True):
        if PARAMETERS[p.name].kind is int:
            out[p.name] = int(min(max(round(float(v)), math.ceil(p.lower)),
                                  math.floor(p.upper)))
            continue
        if v == 0:
            out[p.name] = 0.0
            continue
        digits = spec.significant_digits - 1 - math.floor(math.log10(abs(v)))
        out[p.name] = float(min(max(round(float(v), digits), p.lower), p.upper))
    return out


# ============================================================================ dataset


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan"), float("nan")
    q5, q95 = np.quantile(finite, [0.05, 0.95])
    return float(finite.mean()), float(q5), float(q95)


def inside_interval(target: Target, q5: float, q95: float) -> bool:
    """Whether the article value lies in a simulated 90% interval (overlap for a range)."""
    lo, hi = target.interval
    return bool(q5 <= hi and q95 >= lo)


def results_dataset(spec: CalibrationSpec, targets: Targets, matcher: _Matcher,
                    accepted: np.ndarray, check_X: np.ndarray, check_Y: np.ndarray,
                    check_I: np.ndarray, cand: np.ndarray, cand_Y: np.ndarray,
                    scores: np.ndarray, best: int, calibrated: Mapping[str, float],
                    verify_Y: np.ndarray, verify_seeds: Sequence[int], runner: _Runner,
                    warnings: list[str], wall: float, truth_imp: np.ndarray,
                    cv: CrossValidation | None = None) -> xr.Dataset:
    """Assemble every result of a calibration into one Dataset (documented per variable)."""
    names, ids = spec.names, [t.id for t in targets]
    waves = matcher.waves
    P, K, W = len(names), len(ids), len(waves)
    units = [PARAMETERS[n].unit for n in names]
    design_X = np.concatenate([w.X for w in waves])
    design_Y = np.concatenate([w.Y for w in waves])
    design_wave = np.concatenate([np.full(w.X.shape[0], w.index + 1) for w in waves])
    acc_I = matcher.combine(matcher.target_implausibility(waves[-1], accepted))
    q05, q95 = np.quantile(accepted, [0.05, 0.95], axis=0)
    corr = (np.corrcoef(accepted, rowvar=False) if accepted.shape[0] > 2
            else np.full((P, P), np.nan))
    corr = np.atleast_2d(corr)

    def wave_stat(fn) -> np.ndarray:
        out = np.full((W, K), np.nan)
        for i, w in enumerate(waves):
            for k in range(K):
                out[i, k] = fn(w, k)
        return out

    def val_stat(attr: str) -> np.ndarray:
        return wave_stat(lambda w, k: getattr(w.validation[k], attr)
                         if w.validation[k] is not None and w.validation[k].n else np.nan)

    active = np.array([[", ".join(w.emulators[k].active_names(significant_only=True))
                        for k in range(K)] for w in waves], dtype=object).astype(str)
    held = np.array([t.held_out for t in targets])
    table_mean = np.array([_interval(verify_Y[:, k])[0] for k in range(K)])
    table_q5 = np.array([_interval(verify_Y[:, k])[1] for k in range(K)])
    table_q95 = np.array([_interval(verify_Y[:, k])[2] for k in range(K)])
    inside = np.array([inside_interval(t, table_q5[k], table_q95[k])
                       for k, t in enumerate(targets)])
    disc_sd = np.array([spec.discrepancy_cv[t.id] * t.centre for t in targets])
    check_ok = matcher.combine(check_I[:, matcher.fitted]) <= spec.cutoff
    # The predictive intervals are those of the shipped ensemble: the checked members that
    # real runs confirm non-implausible (all checked points if none is).
    check_flat = check_Y[_member_indices(check_ok, spec.members)].reshape(-1, K)
    pred = np.array([_interval(check_flat[:, k]) for k in range(K)])
    truth = (np.array([spec.truth[n] for n in names]) if spec.truth is not None
             else np.full(P, np.nan))
    data = {
        "prior_lower": ("parameter", spec.lower, {"long_name": "lower end of the range searched"}),
        "prior_upper": ("parameter", spec.upper, {"long_name": "upper end of the range searched"}),
        "accepted": (("sample", "parameter"), accepted,
                     {"long_name": "sample of the non-implausible set after the last wave"}),
        "accepted_implausibility": ("sample", acc_I, {"long_name": f"{spec.rule} "
                                    "implausibility over fitted targets (last wave's emulators)"}),
        "accepted_lower": ("parameter", accepted.min(axis=0),
                           {"long_name": "smallest accepted value"}),
        "accepted_upper": ("parameter", accepted.max(axis=0),
                           {"long_name": "largest accepted value"}),
        "accepted_q05": ("parameter", q05, {"long_name": "5% quantile of the accepted sample"}),
        "accepted_q95": ("parameter", q95, {"long_name": "95% quantile of the accepted sample"}),
        "accepted_corr": (("parameter", "parameter2"), corr,
                          {"long_name": "correlation of parameters in the accepted sample"}),
        "calibrated": ("parameter", np.array([calibrated[n] for n in names]),
                       {"long_name": "calibrated baseline value (rounded)"}),
        "truth": ("parameter", truth, {"long_name": "known value (recovery experiments)"}),
        "truth_implausibility": ("wave", truth_imp, {"long_name": "implausibility of the known "
                                 "values under each wave's emulators (recovery experiments)"}),
        "target_value": ("target", np.array([t.value for t in targets]),
                         {"long_name": "article value (lower end for a range)"}),
        "target_lower": ("target", np.array([t.interval[0] for t in targets])),
        "target_upper": ("target", np.array([t.interval[1] for t in targets])),
        "obs_sd": ("target", np.array([t.obs_sd_total for t in targets]),
                   {"long_name": "observation sd implied by the wording"}),
        "discrepancy_sd": ("target", disc_sd, {"long_name": "model discrepancy sd"}),
        "held_out": ("target", held.astype(np.int8), {"long_name": "1 = held out of the fit"}),
        "design": (("run_point", "parameter"), design_X,
                   {"long_name": "design points of all waves"}),
        "design_wave": ("run_point", design_wave),
        "design_values": (("run_point", "replicate", "target"), design_Y,
                          {"long_name": "simulated targets at the design points"}),
        "wave_nroy_fraction": ("wave", np.array([w.nroy_fraction for w in waves]),
                               {"long_name": "non-implausible share of the original ranges "
                                "(acceptance in the wave's box x the box's volume share)"}),
        "wave_accept_rate": ("wave", np.array([w.accept_rate for w in waves]),
                             {"long_name": "share of candidates in the wave's box accepted"}),
        "wave_runs": ("wave", np.array([w.X.shape[0] * w.Y.shape[1] for w in waves])),
        "wave_box_lower": (("wave", "parameter"), np.array([w.box[0] for w in waves])),
        "wave_box_upper": (("wave", "parameter"), np.array([w.box[1] for w in waves])),
        "emulator_r2": (("wave", "target"), wave_stat(lambda w, k: w.emulators[k].r_squared)),
        "emulator_coverage2": (("wave", "target"), val_stat("coverage2"),
                               {"long_name": "share of held-out design points within 2 sd"}),
        "emulator_coverage3": (("wave", "target"), val_stat("coverage3")),
        "emulator_mean_error": (("wave", "target"), val_stat("mean_error"),
                                {"long_name": "mean standardised error on held-out points"}),
        "emulator_sd_error": (("wave", "target"), val_stat("sd_error"),
                              {"long_name": "sd of standardised errors on held-out points"}),
        "emulator_active": (("wave", "target"), active,
                            {"long_name": "active parameters of the emulator"}),
        "check_parameters": (("check", "parameter"), check_X),
        "check_values": (("check", "check_replicate", "target"), check_Y,
                         {"long_name": "real-model runs at accepted points"}),
        "check_implausibility": (("check", "target"), check_I,
                                 {"long_name": "implausibility of real-run means"}),
        "check_non_implausible": ("check", check_ok.astype(np.int8)),
        "predictive_mean": ("target", pred[:, 0], {"long_name": "mean over check runs"}),
        "predictive_q05": ("target", pred[:, 1]),
        "predictive_q95": ("target", pred[:, 2]),
        "candidate_parameters": (("candidate", "parameter"), cand),
        "candidate_values": (("candidate", "candidate_replicate", "target"), cand_Y),
        "candidate_worst_sd": ("candidate", scores[:, 0],
                               {"long_name": "worst fitted target's distance in run sd"}),
        "verify_values": (("verify_replicate", "target"), verify_Y,
                          {"long_name": "runs of the calibrated baseline (fresh seeds)"}),
        "verify_seed": ("verify_replicate", np.array(verify_seeds)),
        "baseline_mean": ("target", table_mean),
        "baseline_q05": ("target", table_q5),
        "baseline_q95": ("target", table_q95),
        "baseline_inside": ("target", inside.astype(np.int8),
                            {"long_name": "article value inside the 90% interval"}),
    }
    coords = {"parameter": ("parameter", np.array(names)),
              "parameter2": ("parameter2", np.array(names)),
              "parameter_units": ("parameter", np.array(units)),
              "target": ("target", np.array(ids)),
              "variable": ("target", np.array([t.variable for t in targets])),
              "read_at": ("target", np.array([t.read_at for t in targets])),
              "kind": ("target", np.array([t.kind for t in targets])),
              "wave": ("wave", np.arange(1, W + 1))}
    attrs = {
        "title": f"countysim calibration {spec.name}",
        "experiment": spec.name,
        "experiment_file": str(spec.path) if spec.path else "",
        "experiment_toml": spec.text,
        "targets_toml": targets.text,
        "targets_file": str(targets.path) if targets.path else "",
        "scenario_toml": spec.scenario.to_toml(),
        "scenario_file": str(spec.scenario_path) if spec.scenario_path else "",
        "countysim_version": __version__,
        "date": _dt.date.today().isoformat(),
        "seed": spec.seed,
        "cutoff": spec.cutoff,
        "rule": spec.rule,
        "replicates": spec.replicates,
        "runs": runner.runs,
        "failed_runs": len(runner.errors),
        "wall_time_s": round(wall, 1),
        "workers": runner.workers,
        "calibrated_candidate": best,
        "parameter_why": json.dumps({p.name: p.why for p in spec.parameters}, ensure_ascii=False),
        "target_quotes": json.dumps({t.id: t.quote for t in targets}, ensure_ascii=False),
        "target_uncertainty": json.dumps({t.id: t.describe_uncertainty() for t in targets},
                                         ensure_ascii=False),
        "pseudo_targets": str(targets.meta.get("pseudo", "")),
        "district_draws": int(spec.district_draws),
        "members": int(spec.members),
        "carried": json.dumps({p.name: [p.lower, p.upper, PARAMETERS[p.name].unit, p.why]
                               for p in spec.carried}, ensure_ascii=False),
        "target_sources": json.dumps({t.id: t.source for t in targets}, ensure_ascii=False),
        "target_statistics": json.dumps({t.id: _describe_statistic(t) for t in targets},
                                        ensure_ascii=False),
        "discussion": spec.discussion,
    }
    pred_inside = np.array([inside_interval(t, pred[k, 1], pred[k, 2])
                            for k, t in enumerate(targets)])
    data["predictive_inside"] = ("target", pred_inside.astype(np.int8),
                                 {"long_name": "article value inside the ensemble's 90% "
                                  "predictive interval (accepted points x district draws x "
                                  "seeds)"})
    if cv is not None:
        flat = cv.values.reshape(K, -1)
        cvi = np.array([_interval(flat[k]) for k in range(K)])
        hit = np.array([inside_interval(t, cvi[k, 1], cvi[k, 2]) if cv.constrained[k] == 1
                        and np.isfinite(cvi[k, 1]) else False for k, t in enumerate(targets)])
        centre = np.array([abs(t.centre) for t in targets])
        # The prediction of an observation adds observation error and model discrepancy to
        # the runs' spread: mean +- 1.645 sd of the sum (normal approximation).
        sd_all = np.sqrt(np.nanvar(flat, axis=1, ddof=1) + matcher.var_fixed)
        lo_obs, hi_obs = cvi[:, 0] - _Z90 * sd_all, cvi[:, 0] + _Z90 * sd_all
        hit_obs = np.array([inside_interval(t, lo_obs[k], hi_obs[k]) if cv.constrained[k] == 1
                            and np.isfinite(lo_obs[k]) else False
                            for k, t in enumerate(targets)])
        data.update({
            "cv_obs_q05": ("target", lo_obs, {"long_name": "5% end of the leave-one-out "
                           "prediction of the observation (runs + observation error + model "
                           "discrepancy, normal approximation)"}),
            "cv_obs_q95": ("target", hi_obs),
            "cv_hit_obs": ("target", hit_obs.astype(np.int8),
                           {"long_name": "article value inside the prediction of the "
                            "observation"}),
            "cv_constrained": ("target", cv.constrained, {"long_name": "1 = cross-validated "
                               "(other targets constrain it), 0 = only fitted, -1 = not "
                               "fitted"}),
            "cv_active": ("target", np.array(cv.active, dtype=str),
                          {"long_name": "active parameters of its last-wave emulator"}),
            "cv_shared": ("target", np.array(cv.shared, dtype=str),
                          {"long_name": "its active parameters active for another target"}),
            "cv_values": (("target", "cv_point", "cv_replicate"), cv.values,
                          {"long_name": "real runs at points non-implausible without the "
                           "target (leave-one-out prediction)"}),
            "cv_mean": ("target", cvi[:, 0]),
            "cv_q05": ("target", cvi[:, 1]),
            "cv_q95": ("target", cvi[:, 2]),
            "cv_hit": ("target", hit.astype(np.int8),
                       {"long_name": "article value inside the leave-one-out 90% interval"}),
            "cv_sharpness": ("target", (cvi[:, 2] - cvi[:, 1]) / centre,
                             {"long_name": "width of the leave-one-out 90% interval over "
                              "the article value"}),
            "cv_nroy_share": ("target", cv.nroy_share,
                              {"long_name": "share of candidates non-implausible without "
                               "the target"}),
            "cv_cut_share": ("target", cv.implausible_share,
                             {"long_name": "share of those the target's own emulator rules "
                              "out"}),
        })
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    ds.attrs["warnings"] = json.dumps(warnings + identification_warnings(ds, spec, targets),
                                      ensure_ascii=False)
    ds.attrs["diagnostics"] = diagnostics_text(ds)
    return ds


def _describe_statistic(t: Target) -> str:
    """How a target reads the model, in a few words (for the report)."""
    w = f"{t.window[0]}..{t.window[1]}"
    text = {"end": f"at {t.read_at}", "mean": f"mean over {w}", "sum": f"sum over {w}",
            "growth": f"annualised growth over {w}",
            "annual_growth": f"growth of the yearly mean, {w}",
            "annual_change": f"change of the yearly sum, {w}"}[t.statistic]
    if t.across is not None:
        who = "pilot villages" if t.villages == "pilot" else "villages"
        if t.across == "quantile":
            how = f"{t.q:g}-quantile over {who}"
        elif t.across == "share_at_least":
            how = f"share of {who} >= {t.threshold:g}"
        else:
            how = f"{'mean' if t.across == 'mean' else 'largest'} over {who}"
        text += f"; {how}"
    return text


def identification_warnings(ds: xr.Dataset, spec: CalibrationSpec, targets: Targets,
                            *, contraction: float = 0.8, correlation: float = 0.7) -> list[str]:
    """Warnings that a parameter is not identified by the fitted targets.

    Args:
        ds: The calibration Dataset.
        spec: The experiment.
        targets: The targets used.
        contraction: Warn when the accepted 90% range is wider than this share of the prior.
        correlation: Warn when two parameters correlate more strongly in the accepted set.

    Returns:
        One sentence per warning.
    """
    out = []
    names = spec.names
    n_fit = len(targets.fitted)
    if n_fit < len(names):
        out.append(f"{len(names)} parameters but {n_fit} fitted targets: at most {n_fit} "
                   "directions of the parameter space are constrained")
    fitted = [k for k, t in enumerate(targets) if not t.held_out]
    active = ds["emulator_active"].values
    for name in names:
        used = [targets[k].id for k in fitted
                if any(name in active[w, k].split(", ") for w in range(active.shape[0]))]
        if not used:
            out.append(f"{name}: flat response: no fitted target's emulator found an effect "
                       "(not identified; its accepted range is the prior's)")
    width = (ds["accepted_q95"] - ds["accepted_q05"]) / (ds["prior_upper"] - ds["prior_lower"])
    for name, share in zip(names, width.values, strict=True):
        if share > contraction:
            out.append(f"{name}: little contraction: the accepted 90% range spans "
                       f"{share:.0%} of the prior range")
    corr = ds["accepted_corr"].values
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if abs(corr[i, j]) > correlation:
                out.append(f"{names[i]} and {names[j]}: strong correlation in the accepted set "
                           f"(r = {corr[i, j]:+.2f}): the targets constrain a combination")
    check = ds["check_non_implausible"].values
    if check.size and check.mean() < 0.5:
        why = ("their carried draws, which the emulators fit at the sourced values, move "
               "the targets" if spec.carried else "emulators too optimistic")
        out.append(f"predictive check: only {check.mean():.0%} of accepted points are "
                   f"non-implausible with real runs ({why}); "
                   f"{min(int(check.sum()), spec.members)} ensemble members")
    for k, t in enumerate(targets):
        if not t.held_out and not ds["baseline_inside"].values[k]:
            out.append(f"{t.id}: the article value is outside the calibrated baseline's 90% "
                       f"seed-noise interval [{ds['baseline_q05'].values[k]:.4g}, "
                       f"{ds['baseline_q95'].values[k]:.4g}]")
        if "predictive_inside" in ds and not ds["predictive_inside"].values[k]:
            out.append(f"{t.id}: the article value is outside the ensemble's 90% predictive "
                       f"interval [{ds['predictive_q05'].values[k]:.4g}, "
                       f"{ds['predictive_q95'].values[k]:.4g}]")
    return out


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "nan"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:.1f}"
    return f"{x:.3g}"


def table_rows(ds: xr.Dataset) -> list[dict[str, Any]]:
    """The report table: one row per target, from a calibration Dataset."""
    rows = []
    quotes = json.loads(ds.attrs["target_quotes"])
    for k, tid in enumerate(ds["target"].values):
        lo, hi = float(ds["target_lower"].values[k]), float(ds["target_upper"].values[k])
        article = _fmt(lo) if lo == hi else f"[{_fmt(lo)}, {_fmt(hi)}]"
        rows.append({"target": str(tid), "variable": str(ds["variable"].values[k]),
                     "read_at": str(ds["read_at"].values[k]), "quote": quotes[str(tid)],
                     "article": article, "article_lower": lo, "article_upper": hi,
                     "mean": float(ds["baseline_mean"].values[k]),
                     "q05": float(ds["baseline_q05"].values[k]),
                     "q95": float(ds["baseline_q95"].values[k]),
                     "inside": bool(ds["baseline_inside"].values[k]),
                     "held_out": bool(ds["held_out"].values[k])})
    return rows


def held_out_rows(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """The held-out check per held-out target: predictive interval, baseline, hit or miss."""
    out = {}
    for k, tid in enumerate(ds["target"].values):
        if not ds["held_out"].values[k]:
            continue
        lo, hi = float(ds["target_lower"].values[k]), float(ds["target_upper"].values[k])
        q5, q95 = float(ds["predictive_q05"].values[k]), float(ds["predictive_q95"].values[k])
        imp = ds["check_implausibility"].values[:, k]
        out[str(tid)] = {
            "article_lower": lo, "article_upper": hi,
            "predictive_mean": float(ds["predictive_mean"].values[k]),
            "predictive_q05": q5, "predictive_q95": q95,
            "hit": bool(q5 <= hi and q95 >= lo),
            "share_non_implausible": float(np.mean(imp <= float(ds.attrs["cutoff"]))),
            "baseline_mean": float(ds["baseline_mean"].values[k]),
            "baseline_q05": float(ds["baseline_q05"].values[k]),
            "baseline_q95": float(ds["baseline_q95"].values[k]),
            "baseline_inside": bool(ds["baseline_inside"].values[k]),
        }
    return out


def diagnostics_text(ds: xr.Dataset) -> str:
    """Everything the command prints: waves, emulators, accepted ranges, table, warnings."""
    names = [str(n) for n in ds["parameter"].values]
    ids = [str(t) for t in ds["target"].values]
    lines = [f"== calibration {ds.attrs['experiment']} ({ds.attrs['date']}): "
             f"{ds.attrs['runs']} runs, {ds.attrs['wall_time_s']} s, "
             f"{ds.attrs['workers']} worker(s), cut-off {ds.attrs['cutoff']} "
             f"({ds.attrs['rule']} over fitted targets)", "", "waves:"]
    for i, w in enumerate(ds["wave"].values):
        lines.append(f"  wave {w}: {int(ds['wave_runs'].values[i])} runs, non-implausible "
                     f"{ds['wave_accept_rate'].values[i]:.3g} of its box, "
                     f"~{ds['wave_nroy_fraction'].values[i]:.3g} of the original space")
    lines += ["", "emulators (last wave): target, R², held-out coverage within 2 sd / 3 sd, "
              "mean and sd of standardised errors, active parameters:"]
    last = len(ds["wave"]) - 1
    for k, tid in enumerate(ids):
        lines.append(f"  {tid:<4} R² {ds['emulator_r2'].values[last, k]:.3f}  cov "
                     f"{ds['emulator_coverage2'].values[last, k]:.2f}/"
                     f"{ds['emulator_coverage3'].values[last, k]:.2f}  err "
                     f"{ds['emulator_mean_error'].values[last, k]:+.2f}±"
                     f"{ds['emulator_sd_error'].values[last, k]:.2f}  "
                     f"[{ds['emulator_active'].values[last, k]}]")
    lines += ["", f"accepted set ({ds.sizes['sample']} points): parameter, prior range, "
              "accepted min-max, 5-95%, calibrated" + (", truth" if np.isfinite(
                  ds["truth"].values).all() else "")]
    for j, n in enumerate(names):
        row = (f"  {n:<24} [{_fmt(ds['prior_lower'].values[j])}, "
               f"{_fmt(ds['prior_upper'].values[j])}]  [{_fmt(ds['accepted_lower'].values[j])},"
               f" {_fmt(ds['accepted_upper'].values[j])}]  [{_fmt(ds['accepted_q05'].values[j])}"
               f", {_fmt(ds['accepted_q95'].values[j])}]  {_fmt(ds['calibrated'].values[j])}")
        if np.isfinite(ds["truth"].values[j]):
            row += f"  {_fmt(ds['truth'].values[j])}"
        lines.append(row)
    if np.isfinite(ds["truth_implausibility"].values).all():
        imp = ds["truth_implausibility"].values
        lines.append("  recovery: implausibility of the known values by wave: "
                     + ", ".join(f"{v:.2f}" for v in imp)
                     + (" (inside the set)" if imp.max() <= float(ds.attrs["cutoff"])
                        else " (RULED OUT)"))
    check = ds["check_non_implausible"].values
    lines += ["", f"predictive check: {check.mean():.0%} of {check.size} accepted points are "
              "non-implausible with real-model runs", "",
              "calibrated baseline, verified with seeds "
              f"{int(ds['verify_seed'].values[0])}..{int(ds['verify_seed'].values[-1])}: target,"
              " article, simulated mean, 90% interval, inside"]
    for r in table_rows(ds):
        flag = "yes" if r["inside"] else "NO"
        tag = " (held out)" if r["held_out"] else ""
        lines.append(f"  {r['target']:<4} {r['article']:>16} {_fmt(r['mean']):>10} "
                     f"[{_fmt(r['q05'])}, {_fmt(r['q95'])}]  {flag}{tag}")
    for tid, h in held_out_rows(ds).items():
        verdict = "HIT" if h["hit"] else "MISS"
        lines.append(f"held-out {tid}: predicted {_fmt(h['predictive_mean'])} "
                     f"[{_fmt(h['predictive_q05'])}, {_fmt(h['predictive_q95'])}] over the "
                     f"accepted set vs article {_fmt(h['article_lower'])}: {verdict}; "
                     f"{h['share_non_implausible']:.0%} of accepted points non-implausible for "
                     "it")
    if "predictive_inside" in ds:
        lines += ["", "ensemble (accepted points x district draws x seeds): target, article, "
                  "90% predictive interval, inside"]
        for k, tid in enumerate(ids):
            flag = "yes" if ds["predictive_inside"].values[k] else "NO"
            lines.append(f"  {tid:<4} [{_fmt(ds['target_lower'].values[k])}, "
                         f"{_fmt(ds['target_upper'].values[k])}]  "
                         f"[{_fmt(ds['predictive_q05'].values[k])}, "
                         f"{_fmt(ds['predictive_q95'].values[k])}]  {flag}")
    if "cv_constrained" in ds:
        c = ds["cv_constrained"].values == 1
        hits = int(ds["cv_hit"].values[c].sum())
        lines += ["", f"cross-validation: {hits} of {int(c.sum())} constrained targets "
                  "predicted within their 90% interval when left out; only fitted: "
                  + (", ".join(i for i, v in zip(ids, ds["cv_constrained"].values, strict=True)
                               if v == 0) or "none")]
        for k, tid in enumerate(ids):
            if c[k]:
                lines.append(f"  {tid:<4} [{_fmt(ds['cv_q05'].values[k])}, "
                             f"{_fmt(ds['cv_q95'].values[k])}] sharpness "
                             f"{ds['cv_sharpness'].values[k]:.2f}  "
                             f"{'hit' if ds['cv_hit'].values[k] else 'MISS'}")
    warnings = json.loads(ds.attrs["warnings"])
    lines += ["", f"warnings ({len(warnings)}):"] + [f"  - {w}" for w in warnings]
    return "\n".join(lines)


def _result(spec: CalibrationSpec, ds: xr.Dataset, wall: float) -> CalibrationResult:
    names = spec.names
    calibrated = {n: _typed(n, v) for n, v in zip(names, ds["calibrated"].values, strict=True)}
    ranges = {n: (float(lo), float(hi)) for n, lo, hi in
              zip(names, ds["accepted_lower"].values, ds["accepted_upper"].values,
                  strict=True)}
    return CalibrationResult(spec, ds, calibrated, ranges, table_rows(ds), held_out_rows(ds),
                             json.loads(ds.attrs["warnings"]), wall)


# ============================================================================ ensemble


def ensemble_dataset(spec: CalibrationSpec, ds: xr.Dataset, name: str) -> xr.Dataset:
    """The shipped ensemble: accepted points x district draws x carried values, confirmed.

    Checked point ``i`` (the accepted sample is in random order) with the district draw
    and carried values of node ``(_DRAW_MEMBER, i)`` of the seed tree is a member when its
    real runs in the predictive check are non-implausible (the history match's final
    wave, with the simulator itself): the emulators fit the calibrated parameters at the
    hand-set ones' sourced values, and this step conditions the carried draws on the
    targets. The report's predictive intervals are those of these members.

    Args:
        spec: The experiment.
        ds: The calibration Dataset (:func:`results_dataset`).
        name: Ensemble name (the file's stem, e.g. ``"litong_2025"``).

    Returns:
        A Dataset in the layout of :func:`countysim.sweeps.ensemble.load_ensemble`.
    """
    accepted = spec.snap(ds["accepted"].values)
    chosen = _member_indices(ds["check_non_implausible"].values.astype(bool), spec.members)
    n = len(chosen)
    names = spec.names + [p.name for p in spec.carried]
    params = (*spec.parameters, *spec.carried)
    value = np.empty((n, len(names)))
    district = np.empty(n, dtype=np.int64)
    for m, i in enumerate(chosen):
        draws = run_draws(spec, _DRAW_MEMBER, int(i))
        value[m, : len(spec.names)] = accepted[i]
        for j, p in enumerate(spec.carried):
            value[m, len(spec.names) + j] = draws[p.name]
        district[m] = draws.get("district_seed", spec.scenario.values["district_seed"])
    from ..sweeps.store import provenance

    role = ["calibrated"] * len(spec.names) + ["carried"] * len(spec.carried)
    scenario_name = spec.scenario_path.stem if spec.scenario_path else spec.scenario.name
    method = (f"history matching ({len(ds['wave'])} waves, cut-off {spec.cutoff:g}, "
              f"{spec.rule}) of {len(spec.names)} parameters to {int((ds['held_out'] == 0).sum())}"
              f" targets; members = accepted points in random order whose real runs are "
              "non-implausible, each with "
              + ("its own district draw (district_seed)" if spec.district_draws
                 else "the scenario's district") +
              (f" and carried values of {', '.join(p.name for p in spec.carried)} drawn "
               "from split uniform distributions over their ranges, median at the "
               "scenario's value" if spec.carried else ""))
    return xr.Dataset(
        {"value": (("member", "parameter"), value,
                   {"long_name": "parameter value of the member"}),
         "district_seed": ("member", district, {"long_name": "district draw of the member"})},
        coords={"member": ("member", np.arange(n)),
                "parameter": ("parameter", np.array(names)),
                "unit": ("parameter", np.array([PARAMETERS[p].unit for p in names])),
                "low": ("parameter", np.array([p.lower for p in params])),
                "high": ("parameter", np.array([p.upper for p in params])),
                "role": ("parameter", np.array(role))},
        attrs={"name": name, "scenario": scenario_name,
               "scenario_toml": spec.scenario.to_toml(), "calibration": spec.name,
               "targets": spec.targets.path.name if spec.targets.path else "",
               "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
               "countysim_version": __version__,
               "git_commit": provenance()["git_commit"],
               "description": f"Calibrated ensemble of {scenario_name}: {spec.description}",
               "method": method})


# ===================================================================== scenario update

_LINE = re.compile(r"^(?P<name>[a-z_0-9]+)(?P<eq>\s*=\s*)(?P<rest>.*)$")


def update_scenario(path: str | Path, values: Mapping[str, float],
                    ranges: Mapping[str, tuple[float, float]], experiment: str,
                    date: str | None = None) -> list[str]:
    """Write calibrated values into a scenario file, keeping its comments and layout.

    Each parameter's line in its section (``[behaviour]``, or ``[levers]`` or
    ``[district]`` for an assumed lever or district value) becomes
    ``name = { value = V, source = "calibration: <experiment> <date>, accepted range
    [lo, hi]" }``; a parameter the file does not list is appended to its section. A whole
    float for an integer parameter is written as an int.

    Args:
        path: The scenario TOML file.
        values: Calibrated values by parameter name.
        ranges: Accepted ``(lo, hi)`` by parameter name.
        experiment: Experiment name for the provenance.
        date: ISO date for the provenance (default today).

    Returns:
        The names of the parameters written.

    Raises:
        KeyError: A name is not a parameter.
        ValueError: The file has no section for a parameter it does not list.
        ScenarioError: The file would no longer load (it is then left unchanged).
    """
    path = Path(path)
    date = date or _dt.date.today().isoformat()
    home = {name: PARAMETERS[name].section for name in values}
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    section, done = None, set()
    last: dict[str, int] = {}  # last non-comment line of each section
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped.strip("[]").strip()
            last.setdefault(section, i)
            continue
        if section is None:
            continue
        if stripped and not stripped.startswith("#"):
            last[section] = i
        m = _LINE.match(line.rstrip("\n"))
        if m and home.get(m.group("name")) == section:
            name = m.group("name")
            lines[i] = _scenario_line(name, values[name], ranges[name], experiment, date)
            done.add(name)
    missing = [n for n in values if n not in done]
    for name in missing:
        if home[name] not in last:
            raise ValueError(f"{path}: no [{home[name]}] section to write {name}")
    # Insert from the bottom up so that earlier positions stay valid.
    for section in sorted({home[n] for n in missing}, key=last.__getitem__, reverse=True):
        extra = [_scenario_line(n, values[n], ranges[n], experiment, date)
                 for n in missing if home[n] == section]
        lines[last[section] + 1:last[section] + 1] = extra
    text = "".join(lines)
    # Check the new text as a file of the same folder (its extends and district_data are
    # relative to it) before it replaces the scenario.
    check = path.with_name(f".{path.name}.check-{os.getpid()}{path.suffix}")
    write_atomically(check, text.encode("utf-8"))
    try:
        load_scenario(check)
    finally:
        check.unlink(missing_ok=True)
    write_atomically(path, text.encode("utf-8"))
    return list(values)


def _scenario_line(name: str, value: float, rng: tuple[float, float], experiment: str,
                   date: str) -> str:
    if PARAMETERS[name].kind is int and float(value).is_integer():
        value = int(value)  # a whole float would not load as an int parameter
    source = (f"calibration: {experiment} {date}, accepted range "
              f"[{_sig(rng[0])}, {_sig(rng[1])}]")
    return f"{name} = {{ value = {value!r}, source = {json.dumps(source, ensure_ascii=False)} }}\n"


def _sig(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}"
