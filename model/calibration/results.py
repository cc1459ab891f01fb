"""The calibration's results as one :class:`xarray.Dataset`, and what opens and returns it.

:func:`results_dataset` documents every variable (``long_name``); the Dataset carries the
experiment, targets and scenario files as text, so a saved result is self-contained.
:func:`open_calibration` reads one back; :class:`CalibrationResult` is what
:func:`countysim.calibration.calibrate.calibrate` returns.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..core import __version__
from ..core.digest import DigestError, verified_bytes
from ..core.parameters import PARAMETERS
from ..sweeps.files import write_netcdf
from .bands import BANDS
from .baseline import _Z90
from .crossval import CrossValidation
from .diagnostics import diagnostics_text, held_out_rows, identification_warnings, table_rows
from .matching import _Matcher
from .members import _member_indices, member_mask
from .runner import _DRAW_MEMBER, _Runner, run_draws, sourced_value
from .spec import CalibrationError, CalibrationSpec, _typed
from .targets import Target, Targets

__all__ = ["CalibrationResult", "inside_interval", "open_calibration", "results_dataset"]


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
                    cv: CrossValidation | None = None, baseline_member: int = -1,
                    baseline_draws: Mapping[str, float] | None = None,
                    in_bands: np.ndarray | None = None,
                    band_inside: np.ndarray | None = None) -> xr.Dataset:
    """Assemble every result of a calibration into one Dataset (documented per variable).

    ``baseline_member`` and ``baseline_draws``: the ensemble member the baseline is (the
    medoid; -1 for a best-fit baseline) and its district draw and carried values.
    ``in_bands`` and ``band_inside``: the band check's verdicts per checked point, and per
    point and band (:func:`~countysim.calibration.members.band_check`; 1 inside, 0 not,
    -1 not run).
    """
    K = len(targets)
    check_ok = matcher.combine(check_I[:, matcher.fitted]) <= spec.cutoff
    # The predictive intervals are those of the shipped ensemble: the checked members that
    # real runs confirm non-implausible and inside the bands (all checked points if none is).
    members = member_mask(check_ok, in_bands)
    check_flat = check_Y[_member_indices(members, spec.members)].reshape(-1, K)
    pred = np.array([_interval(check_flat[:, k]) for k in range(K)])
    # The variables in the order they have always had in the file.
    data = {**_parameter_vars(spec, matcher, accepted, calibrated, truth_imp),
            **_target_vars(spec, targets),
            **_wave_vars(matcher, K),
            **_check_vars(check_X, check_Y, check_I, check_ok, pred),
            **_carried_vars(spec, check_X.shape[0]),
            **_baseline_vars(targets, cand, cand_Y, scores, verify_Y, verify_seeds),
            **_predictive_inside(targets, pred)}
    if cv is not None:
        data.update(_cv_vars(cv, targets, matcher))
    if in_bands is not None and band_inside is not None:
        data["check_in_bands"] = ("check", np.asarray(in_bands, dtype=np.int8), {
            "long_name": "inside every validation band to 2030 on the point's own seeds",
            "flag_values": "1 inside, 0 left a band, -1 not run (implausible already)"})
        data["check_band_inside"] = (("check", "band"), np.asarray(band_inside, dtype=np.int8),
                                     {"long_name": "inside this band to 2030 (1, 0; -1 not run)"})
    draws = dict(baseline_draws or {})
    if "check_carried" in data and draws:
        data["baseline_carried"] = ("carried", np.array([float(draws[p.name])
                                                         for p in spec.carried]),
                                    {"long_name": "the baseline member's carried values"})
    ds = xr.Dataset(data, coords=_coords(spec, targets, len(matcher.waves)),
                    attrs=_attrs(spec, targets, runner, wall, best))
    ds.attrs["baseline_member"] = int(baseline_member)
    ds.attrs["baseline_district_seed"] = int(draws.get("district_seed", -1))
    ds.attrs["warnings"] = json.dumps(warnings + identification_warnings(ds, spec, targets),
                                      ensure_ascii=False)
    ds.attrs["diagnostics"] = diagnostics_text(ds)
    return ds


Variables = dict[str, tuple]  # name: (dims, values[, attrs]), as xr.Dataset takes them


def _parameter_vars(spec: CalibrationSpec, matcher: _Matcher, accepted: np.ndarray,
                    calibrated: Mapping[str, float], truth_imp: np.ndarray) -> Variables:
    """The ranges searched, the accepted sample and its summaries, calibrated and truth."""
    names = spec.names
    P = len(names)
    acc_I = matcher.combine(matcher.target_implausibility(matcher.waves[-1], accepted))
    q05, q95 = np.quantile(accepted, [0.05, 0.95], axis=0)
    corr = (np.corrcoef(accepted, rowvar=False) if accepted.shape[0] > 2
            else np.full((P, P), np.nan))
    corr = np.atleast_2d(corr)
    truth = (np.array([spec.truth[n] for n in names]) if spec.truth is not None
             else np.full(P, np.nan))
    return {
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
    }


def _target_vars(spec: CalibrationSpec, targets: Targets) -> Variables:
    """The targets: values, intervals, observation and discrepancy sd, held out or not."""
    held = np.array([t.held_out for t in targets])
    disc_sd = np.array([spec.discrepancy_cv[t.id] * t.centre for t in targets])
    return {
        "target_value": ("target", np.array([t.value for t in targets]),
                         {"long_name": "article value (lower end for a range)"}),
        "target_lower": ("target", np.array([t.interval[0] for t in targets])),
        "target_upper": ("target", np.array([t.interval[1] for t in targets])),
        "obs_sd": ("target", np.array([t.obs_sd_total for t in targets]),
                   {"long_name": "observation sd implied by the wording"}),
        "discrepancy_sd": ("target", disc_sd, {"long_name": "model discrepancy sd"}),
        "held_out": ("target", held.astype(np.int8), {"long_name": "1 = held out of the fit"}),
        "role": ("target", np.array([t.role for t in targets]),
                 {"long_name": "fit or input_check (an input check is never fitted)"}),
        "checks_inputs": ("target", np.array([", ".join(t.inputs) for t in targets]),
                          {"long_name": "the parameters an input check checks"}),
    }


def _wave_vars(matcher: _Matcher, K: int) -> Variables:
    """Every wave's design and runs, its box and rates, and its emulators' checks."""
    waves = matcher.waves
    W = len(waves)

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
    design_wave = np.concatenate([np.full(w.X.shape[0], w.index + 1) for w in waves])
    return {
        "design": (("run_point", "parameter"), np.concatenate([w.X for w in waves]),
                   {"long_name": "design points of all waves"}),
        "design_wave": ("run_point", design_wave),
        "design_values": (("run_point", "replicate", "target"),
                          np.concatenate([w.Y for w in waves]),
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
    }


def _check_vars(check_X: np.ndarray, check_Y: np.ndarray, check_I: np.ndarray,
                check_ok: np.ndarray, pred: np.ndarray) -> Variables:
    """The predictive check's runs and verdicts, and the ensemble's predictive intervals."""
    return {
        "check_parameters": (("check", "parameter"), check_X),
        "check_values": (("check", "check_replicate", "target"), check_Y,
                         {"long_name": "real-model runs at accepted points"}),
        "check_implausibility": (("check", "target"), check_I,
                                 {"long_name": "implausibility of real-run means"}),
        "check_non_implausible": ("check", check_ok.astype(np.int8)),
        "predictive_mean": ("target", pred[:, 0], {"long_name": "mean over check runs"}),
        "predictive_q05": ("target", pred[:, 1]),
        "predictive_q95": ("target", pred[:, 2]),
    }


def _carried_vars(spec: CalibrationSpec, n_check: int) -> Variables:
    """The carried values each checked point ran with (its node of the seed tree).

    With the check's verdicts they show what the targets learnt about each carried
    parameter, the causal links' strengths above all (docs/pathways.md): the members'
    spread against that of every checked point, whose draws are the prior.
    """
    if not spec.carried:
        return {}
    names = [p.name for p in spec.carried]
    draws = [run_draws(spec, _DRAW_MEMBER, i) for i in range(n_check)]
    values = np.array([[float(d[n]) for n in names] for d in draws]).reshape(n_check, -1)
    return {
        "check_carried": (("check", "carried"), values,
                          {"long_name": "carried values of the checked points (prior draws)"}),
        "carried_lower": ("carried", np.array([p.lower for p in spec.carried])),
        "carried_upper": ("carried", np.array([p.upper for p in spec.carried])),
        "carried_median": ("carried", np.array([sourced_value(n) for n in names]),
                           {"long_name": "the sourced value: the draws' median"}),
        "carried_link": ("carried", np.array([PARAMETERS[n].link or "" for n in names]),
                         {"long_name": "causal link (docs/pathways.md), if any"}),
    }


def _baseline_vars(targets: Targets, cand: np.ndarray, cand_Y: np.ndarray,
                   scores: np.ndarray, verify_Y: np.ndarray,
                   verify_seeds: Sequence[int]) -> Variables:
    """The candidate baselines, and the calibrated one's verification runs and table."""
    K = len(targets)
    table_mean = np.array([_interval(verify_Y[:, k])[0] for k in range(K)])
    table_q5 = np.array([_interval(verify_Y[:, k])[1] for k in range(K)])
    table_q95 = np.array([_interval(verify_Y[:, k])[2] for k in range(K)])
    inside = np.array([inside_interval(t, table_q5[k], table_q95[k])
                       for k, t in enumerate(targets)])
    return {
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


def _predictive_inside(targets: Targets, pred: np.ndarray) -> Variables:
    pred_inside = np.array([inside_interval(t, pred[k, 1], pred[k, 2])
                            for k, t in enumerate(targets)])
    return {"predictive_inside": ("target", pred_inside.astype(np.int8),
                                  {"long_name": "article value inside the ensemble's 90% "
                                   "predictive interval (accepted points x district draws x "
                                   "seeds)"})}


def _cv_vars(cv: CrossValidation, targets: Targets, matcher: _Matcher) -> Variables:
    """The leave-one-out predictions: of the runs, and of the observation."""
    K = len(targets)
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
    return {
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
    }


def _coords(spec: CalibrationSpec, targets: Targets, W: int) -> dict[str, tuple]:
    names = spec.names
    return {"parameter": ("parameter", np.array(names)),
            "parameter2": ("parameter2", np.array(names)),
            "parameter_units": ("parameter", np.array([PARAMETERS[n].unit for n in names])),
            "target": ("target", np.array([t.id for t in targets])),
            "variable": ("target", np.array([t.variable for t in targets])),
            "read_at": ("target", np.array([t.read_at for t in targets])),
            "kind": ("target", np.array([t.kind for t in targets])),
            "wave": ("wave", np.arange(1, W + 1)),
            **({"carried": ("carried", np.array([p.name for p in spec.carried]))}
               if spec.carried else {}),
            "band": ("band", np.array([band.label for band in BANDS]))}


def _attrs(spec: CalibrationSpec, targets: Targets, runner: _Runner, wall: float,
           best: int) -> dict[str, Any]:
    """Provenance (the input files' text), settings, run counts, and texts for the report."""
    def as_json(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    return {
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
        "baseline_choice": spec.baseline_choice,
        "replicates": spec.replicates,
        "runs": runner.runs,
        "failed_runs": len(runner.errors),
        "wall_time_s": round(wall, 1),
        "workers": runner.workers,
        "calibrated_candidate": best,
        "parameter_why": as_json({p.name: p.why for p in spec.parameters}),
        "target_quotes": as_json({t.id: t.quote for t in targets}),
        "target_uncertainty": as_json({t.id: t.describe_uncertainty() for t in targets}),
        "pseudo_targets": str(targets.meta.get("pseudo", "")),
        "district_draws": int(spec.district_draws),
        "members": int(spec.members),
        "band_seeds": int(spec.band_seeds),
        "carried": as_json({p.name: [p.lower, p.upper, PARAMETERS[p.name].unit, p.why]
                            for p in spec.carried}),
        "target_sources": as_json({t.id: t.source for t in targets}),
        "target_statistics": as_json({t.id: _describe_statistic(t) for t in targets}),
        "discussion": spec.discussion,
    }


def _describe_statistic(t: Target) -> str:
    """How a target reads the model, in a few words (for the report)."""
    w = f"{t.window[0]}..{t.window[1]}"
    text = {"end": f"at {t.read_at}", "mean": f"mean over {w}", "sum": f"sum over {w}",
            "growth": f"annualised growth over {w}", "rise": f"annualised rise over {w}",
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


@dataclass
class CalibrationResult:
    """What :func:`~countysim.calibration.calibrate.calibrate` returns.

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

    @property
    def baseline_draws(self) -> dict[str, int | float]:
        """The baseline member's carried values and district draw (empty: best fit)."""
        ds = self.dataset
        out: dict[str, int | float] = {}
        if "baseline_carried" in ds:
            out = {str(n): _typed(str(n), float(v)) for n, v in
                   zip(ds["carried"].values, ds["baseline_carried"].values, strict=True)}
        if int(ds.attrs.get("baseline_district_seed", -1)) >= 0:
            out["district_seed"] = int(ds.attrs["baseline_district_seed"])
        return out

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

    :func:`~countysim.calibration.spec.load_calibration` reads the experiment (TOML) file;
    this reads what a calibration produced, e.g. ``runs/calibration/calibrate_2025.nc``.

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


def _result(spec: CalibrationSpec, ds: xr.Dataset, wall: float) -> CalibrationResult:
    names = spec.names
    calibrated = {n: _typed(n, v) for n, v in zip(names, ds["calibrated"].values, strict=True)}
    ranges = {n: (float(lo), float(hi)) for n, lo, hi in
              zip(names, ds["accepted_lower"].values, ds["accepted_upper"].values,
                  strict=True)}
    return CalibrationResult(spec, ds, calibrated, ranges, table_rows(ds), held_out_rows(ds),
                             json.loads(ds.attrs["warnings"]), wall)
