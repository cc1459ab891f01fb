"""Calibration experiments: :class:`CalibrationSpec` and :func:`load_calibration`.

An experiment file (``experiments/calibrate_2025.toml``) names the base scenario, the
targets, the parameters fitted and carried with their ranges, and the settings of every
step of :func:`countysim.calibration.calibrate.calibrate`. Everything is checked here, with
messages that name the file and the key, before any run starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError, read_toml
from ..core.parameters import PARAMETERS
from ..core.scenario import Scenario, ScenarioError, load_scenario, month_index
from ..sweeps.experiment import SHAPE_PARAMETERS
from .targets import Targets, load_targets

__all__ = ["BASELINE_CHOICES", "RULES", "CalibrationError", "CalibrationSpec", "FitParameter",
           "load_calibration"]

RULES = ("max", "second_max")
#: How the calibrated baseline is chosen (``[baseline] choice``).
BASELINE_CHOICES = {
    "best_fit": "the emulated best fit, confirmed among candidates by real runs",
    "medoid": "the ensemble's central member that fits: of the members whose own runs meet "
              "every fitted target within 2 sd, the one whose summed distance to all "
              "members, in fitted and carried parameters standardised by their sd, is least",
}


class CalibrationError(InputError):
    """A calibration experiment file is invalid."""


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
        scenario_path: The base scenario's file (the one
            :func:`~countysim.calibration.scenario_update.update_scenario` edits).
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
        band_seeds: Seeds of its own on which every non-implausible checked point runs to
            2030 against the validation bands (:mod:`countysim.calibration.bands`); a
            point that leaves a band is not a member. 0: no band check.
        baseline_candidates: Candidate baselines run with the real model.
        baseline_replicates: Runs per candidate baseline.
        baseline_choice: How the baseline is chosen (:data:`BASELINE_CHOICES`).
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
            and whose bounds are the stated range
            (:func:`~countysim.calibration.runner.carried_draw`), never fitted
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
    band_seeds: int = 0
    baseline_candidates: int = 12
    baseline_replicates: int = 10
    baseline_choice: str = "best_fit"
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
    "check": {"points": int, "replicates": int, "band_seeds": int},
    "baseline": {"candidates": int, "replicates": int, "verify_replicates": int,
                 "verify_seed": int, "significant_digits": int, "choice": str},
    "recovery": {"truth": dict, "obs_cv": float, "read_at": str},
    "uncertainty": {"district_draws": bool, "members": int},
    "cross_validation": {"points": int, "replicates": int},
    "report": {"discussion": str},
    "output": {"dataset": str, "report": str, "figures": str, "ensemble": str},
}
_SPEC_FIELD = {("design", "points"): "points", ("check", "points"): "check_points",
               ("check", "replicates"): "check_replicates",
               ("check", "band_seeds"): "band_seeds",
               ("baseline", "candidates"): "baseline_candidates",
               ("baseline", "replicates"): "baseline_replicates",
               ("baseline", "choice"): "baseline_choice",
               ("recovery", "obs_cv"): "recovery_obs_cv",
               ("cross_validation", "points"): "cv_points",
               ("cross_validation", "replicates"): "cv_replicates"}
_MINIMA = {"waves": 1, "points": 8, "replicates": 1, "candidates": 100, "max_candidates": 100,
           "accepted": 10, "max_active": 1, "check_points": 1, "check_replicates": 2,
           "band_seeds": 0,
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
    # The checks run in the file's order of concerns, so that of several problems the
    # message names the same first one as it always has.
    path = Path(path)
    text, data = read_toml(path, CalibrationError, "experiment")
    _check_top_keys(path, data)
    here = path.parent
    scenario_path = (here / _string(path, "scenario", data["scenario"])).resolve()
    scenario = _base_scenario(path, data, scenario_path)
    recovery = data.get("recovery")
    targets = load_targets(here / _string(path, "targets", data["targets"]),
                           require_held_out=recovery is None)
    targets = _chosen_targets(path, data, targets)
    seed = _root_seed(path, data["seed"])
    kw = _section_values(path, data)
    _check_matching(path, kw)
    cvs = _discrepancy(path, kw, targets)
    params = _parameters(path, data["parameters"], scenario)
    carried = _carried(path, data, scenario, params)
    if "workers" in data:
        kw["workers"] = _workers(path, data["workers"])
    truth = None
    if recovery is not None:
        truth = _truth(path, kw.pop("truth", None), params)
        targets = _recovery_targets(path, kw.pop("read_at", None), targets)
    output = _outputs(here, data)
    _check_read_at(path, targets, scenario)
    name, description = _naming(path, data)
    return CalibrationSpec(name=name, description=description, path=path.resolve(), text=text,
                           scenario=scenario, scenario_path=scenario_path, targets=targets,
                           parameters=params, seed=seed, discrepancy_cv=cvs, truth=truth,
                           output=output, carried=carried, **kw)


def _check_top_keys(path: Path, data: Mapping[str, Any]) -> None:
    """Unknown top-level keys, then missing required ones."""
    for key in data:
        if key not in _TOP:
            raise CalibrationError(path, key, f"unknown key; allowed: {', '.join(_TOP)}")
    for key in ("scenario", "targets", "seed", "parameters"):
        if key not in data:
            raise CalibrationError(path, key, "required key is missing")


def _base_scenario(path: Path, data: Mapping[str, Any], scenario_path: Path) -> Scenario:
    """The base scenario with the experiment's ``scenario_overrides`` applied."""
    overrides = data.get("scenario_overrides", {})
    if not isinstance(overrides, dict):
        raise CalibrationError(path, "scenario_overrides", "must be a table of parameters")
    return load_scenario(scenario_path, **overrides)


def _figure_ids(path: Path, data: Mapping[str, Any], key: str, targets: Targets,
                expected: str, nonempty: bool) -> list[str]:
    """The list of target IDs under ``key``, each checked against the targets file."""
    ids = data[key]
    if (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)
            or (nonempty and not ids)):
        raise CalibrationError(path, key, expected)
    for i in ids:
        if i not in targets.ids:
            where = " in the targets file" if key == "use_targets" else ""
            raise CalibrationError(path, key, f"no target {i!r}{where}; have "
                                   f"{', '.join(targets.ids)}")
    return ids


def _chosen_targets(path: Path, data: Mapping[str, Any], targets: Targets) -> Targets:
    """The targets after ``use_targets`` and ``held_out``; at least one must be fitted."""
    if "use_targets" in data:
        targets = targets.select(_figure_ids(path, data, "use_targets", targets,
                                             "expected a list of figure IDs", True))
    if "held_out" in data:
        held = _figure_ids(path, data, "held_out", targets,
                           "expected a list of figure IDs (may be empty)", False)
        targets = Targets(tuple(replace(t, held_out=t.id in held) for t in targets),
                          targets.path, targets.text, targets.meta)
    if not targets.fitted:
        raise CalibrationError(path, "held_out", "every target is held out: nothing to fit")
    return targets


def _root_seed(path: Path, seed: Any) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise CalibrationError(path, "seed", f"expected a non-negative integer, got {seed!r}")
    return seed


def _section_values(path: Path, data: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of every section as :class:`CalibrationSpec` fields, type-checked."""
    kw: dict[str, Any] = {}
    for section, keys in _SECTIONS.items():
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise CalibrationError(path, section, "must be a table")
        if section == "output":
            _check_output_table(path, table, keys)  # paths: resolved by _outputs
            continue
        for key, value in table.items():
            name, value = _section_value(path, section, keys, key, value)
            kw[name] = value
    return kw


def _check_output_table(path: Path, table: Mapping[str, Any], keys: Mapping[str, Any]) -> None:
    for key, value in table.items():
        if key not in keys or not isinstance(value, str):
            raise CalibrationError(path, f"output.{key}", "expected one of dataset, "
                                   "report, figures, ensemble, as a path string")


def _section_value(path: Path, section: str, keys: Mapping[str, type | tuple[type, ...]],
                   key: str, value: Any) -> tuple[str, Any]:
    """One setting: its spec field name and its value (an int promoted to float)."""
    if key not in keys:
        raise CalibrationError(path, f"{section}.{key}", "unknown key; allowed: "
                               + ", ".join(keys))
    kind = keys[key]
    # bool is an int in Python: only a bool setting takes one.
    ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise CalibrationError(path, f"{section}.{key}", f"expected "
                               f"{kind.__name__}, got {value!r}")
    name = _SPEC_FIELD.get((section, key), key)
    if name in _MINIMA and value < _MINIMA[name]:
        raise CalibrationError(path, f"{section}.{key}", f"must be >= {_MINIMA[name]}")
    return name, value


def _check_matching(path: Path, kw: Mapping[str, Any]) -> None:
    """Ranges of the design and history-matching settings that a type cannot express."""
    if "validation_share" in kw and not 0.0 <= kw["validation_share"] < 0.5:
        raise CalibrationError(path, "design.validation_share", "must be in [0, 0.5)")
    if "cutoff" in kw and kw["cutoff"] <= 0:
        raise CalibrationError(path, "history_matching.cutoff", "must be positive")
    if kw.get("rule", "max") not in RULES:
        raise CalibrationError(path, "history_matching.rule", f"expected one of "
                               f"{', '.join(RULES)}, got {kw['rule']!r}")
    if kw.get("baseline_choice", "best_fit") not in BASELINE_CHOICES:
        raise CalibrationError(path, "baseline.choice", f"expected one of "
                               f"{', '.join(BASELINE_CHOICES)}, got {kw['baseline_choice']!r}")


def _discrepancy(path: Path, kw: dict[str, Any], targets: Targets) -> dict[str, float]:
    """Model-discrepancy cv by target ID (popped from ``kw``): the default, or its own."""
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
    return cvs


def _carried(path: Path, data: Mapping[str, Any], scenario: Scenario,
             params: tuple[FitParameter, ...]) -> tuple[FitParameter, ...]:
    """The ``[carried]`` parameters: none fitted too, each range around its scenario value."""
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
    return carried


def _workers(path: Path, w: Any) -> int:
    if not isinstance(w, int) or isinstance(w, bool) or w < 1:
        raise CalibrationError(path, "workers", f"expected a positive integer, got {w!r}")
    return w


def _truth(path: Path, truth_raw: Mapping[str, Any] | None,
           params: tuple[FitParameter, ...]) -> dict[str, int | float]:
    """A recovery's known values: one per parameter, inside its range, typed."""
    if truth_raw is None:
        raise CalibrationError(path, "recovery.truth", "required: the known values")
    truth: dict[str, int | float] = {}
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
    return truth


def _recovery_targets(path: Path, read_at: str | None, targets: Targets) -> Targets:
    """The targets of a recovery, each read at ``read_at`` if the experiment gives one."""
    if read_at is None:
        return targets
    # A short recovery run reads every pseudo-target at its own last month.
    try:
        month_index(read_at)
    except ValueError:
        raise CalibrationError(path, "recovery.read_at", f"expected a month 'YYYY-MM',"
                               f" got {read_at!r}") from None
    return Targets(tuple(replace(t, window=(t.window[0], read_at)) for t in targets),
                   targets.path, targets.text, targets.meta)


def _outputs(here: Path, data: Mapping[str, Any]) -> dict[str, Path]:
    """The ``[output]`` paths, resolved against the experiment's folder."""
    output = {}
    for key in ("dataset", "report", "figures", "ensemble"):
        value = data.get("output", {}).get(key)
        if value is not None:
            output[key] = (here / value).resolve()
    return output


def _check_read_at(path: Path, targets: Targets, scenario: Scenario) -> None:
    for t in targets:
        if month_index(t.read_at) < month_index(scenario.start):
            raise CalibrationError(path, "targets", f"{t.id} is read at {t.read_at}, before "
                                   f"the scenario starts ({scenario.start})")


def _naming(path: Path, data: Mapping[str, Any]) -> tuple[str, str]:
    name = data.get("name", path.stem)
    description = data.get("description", "")
    for key, value in (("name", name), ("description", description)):
        if not isinstance(value, str):
            raise CalibrationError(path, key, "must be a string")
    return name, description


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
