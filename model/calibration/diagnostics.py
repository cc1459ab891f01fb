"""What a calibration Dataset says in words: warnings, the report table, the diagnostics.

Everything here reads the Dataset of :func:`countysim.calibration.results.results_dataset`
(or its NetCDF file), so a saved calibration prints and reports as it did when it ran.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from .spec import CalibrationSpec
from .targets import Targets

__all__ = ["diagnostics_text", "held_out_rows", "identification_warnings", "table_rows",
           "target_tag"]


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
                     "held_out": bool(ds["held_out"].values[k]),
                     **_role(ds, k)})
    return rows


def _role(ds: xr.Dataset, k: int) -> dict[str, str]:
    """Target ``k``'s role and the inputs it checks (results from before roles: fit)."""
    if "role" not in ds:
        return {"role": "fit", "inputs": ""}
    return {"role": str(ds["role"].values[k]), "inputs": str(ds["checks_inputs"].values[k])}


def target_tag(row: dict[str, Any]) -> str:
    """What a table says after a target's ID: held out, an input check, or nothing."""
    if row.get("role") == "input_check":
        return f" (input check of {row['inputs']})"
    return " (held out)" if row["held_out"] else ""


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
    lines = (_header_lines(ds) + _emulator_lines(ds) + _accepted_lines(ds)
             + _baseline_lines(ds) + _ensemble_lines(ds) + _cv_lines(ds))
    warnings = json.loads(ds.attrs["warnings"])
    lines += ["", f"warnings ({len(warnings)}):"] + [f"  - {w}" for w in warnings]
    return "\n".join(lines)


def _header_lines(ds: xr.Dataset) -> list[str]:
    lines = [f"== calibration {ds.attrs['experiment']} ({ds.attrs['date']}): "
             f"{ds.attrs['runs']} runs, {ds.attrs['wall_time_s']} s, "
             f"{ds.attrs['workers']} worker(s), cut-off {ds.attrs['cutoff']} "
             f"({ds.attrs['rule']} over fitted targets)", "", "waves:"]
    for i, w in enumerate(ds["wave"].values):
        lines.append(f"  wave {w}: {int(ds['wave_runs'].values[i])} runs, non-implausible "
                     f"{ds['wave_accept_rate'].values[i]:.3g} of its box, "
                     f"~{ds['wave_nroy_fraction'].values[i]:.3g} of the original space")
    return lines


def _emulator_lines(ds: xr.Dataset) -> list[str]:
    lines = ["", "emulators (last wave): target, R², held-out coverage within 2 sd / 3 sd, "
             "mean and sd of standardised errors, active parameters:"]
    last = len(ds["wave"]) - 1
    for k, tid in enumerate(str(t) for t in ds["target"].values):
        lines.append(f"  {tid:<4} R² {ds['emulator_r2'].values[last, k]:.3f}  cov "
                     f"{ds['emulator_coverage2'].values[last, k]:.2f}/"
                     f"{ds['emulator_coverage3'].values[last, k]:.2f}  err "
                     f"{ds['emulator_mean_error'].values[last, k]:+.2f}±"
                     f"{ds['emulator_sd_error'].values[last, k]:.2f}  "
                     f"[{ds['emulator_active'].values[last, k]}]")
    return lines


def _accepted_lines(ds: xr.Dataset) -> list[str]:
    """The accepted set's ranges per parameter, and a recovery's verdict on the truth."""
    lines = ["", f"accepted set ({ds.sizes['sample']} points): parameter, prior range, "
             "accepted min-max, 5-95%, calibrated" + (", truth" if np.isfinite(
                 ds["truth"].values).all() else "")]
    for j, n in enumerate(str(n) for n in ds["parameter"].values):
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
    return lines


def _baseline_lines(ds: xr.Dataset) -> list[str]:
    """The predictive check's share, the calibrated baseline's table, the held-out checks."""
    check = ds["check_non_implausible"].values
    lines = ["", f"predictive check: {check.mean():.0%} of {check.size} accepted points are "
             "non-implausible with real-model runs", "",
             "calibrated baseline, verified with seeds "
             f"{int(ds['verify_seed'].values[0])}..{int(ds['verify_seed'].values[-1])}: target,"
             " article, simulated mean, 90% interval, inside"]
    for r in table_rows(ds):
        flag = "yes" if r["inside"] else "NO"
        tag = target_tag(r)
        lines.append(f"  {r['target']:<4} {r['article']:>16} {_fmt(r['mean']):>10} "
                     f"[{_fmt(r['q05'])}, {_fmt(r['q95'])}]  {flag}{tag}")
    for tid, h in held_out_rows(ds).items():
        verdict = "HIT" if h["hit"] else "MISS"
        lines.append(f"held-out {tid}: predicted {_fmt(h['predictive_mean'])} "
                     f"[{_fmt(h['predictive_q05'])}, {_fmt(h['predictive_q95'])}] over the "
                     f"accepted set vs article {_fmt(h['article_lower'])}: {verdict}; "
                     f"{h['share_non_implausible']:.0%} of accepted points non-implausible for "
                     "it")
    return lines


def _ensemble_lines(ds: xr.Dataset) -> list[str]:
    if "predictive_inside" not in ds:
        return []
    lines = ["", "ensemble (accepted points x district draws x seeds): target, article, "
             "90% predictive interval, inside"]
    for k, tid in enumerate(str(t) for t in ds["target"].values):
        flag = "yes" if ds["predictive_inside"].values[k] else "NO"
        lines.append(f"  {tid:<4} [{_fmt(ds['target_lower'].values[k])}, "
                     f"{_fmt(ds['target_upper'].values[k])}]  "
                     f"[{_fmt(ds['predictive_q05'].values[k])}, "
                     f"{_fmt(ds['predictive_q95'].values[k])}]  {flag}")
    return lines


def _cv_lines(ds: xr.Dataset) -> list[str]:
    if "cv_constrained" not in ds:
        return []
    ids = [str(t) for t in ds["target"].values]
    c = ds["cv_constrained"].values == 1
    hits = int(ds["cv_hit"].values[c].sum())
    lines = ["", f"cross-validation: {hits} of {int(c.sum())} constrained targets "
             "predicted within their 90% interval when left out; only fitted: "
             + (", ".join(i for i, v in zip(ids, ds["cv_constrained"].values, strict=True)
                          if v == 0) or "none")]
    for k, tid in enumerate(ids):
        if c[k]:
            lines.append(f"  {tid:<4} [{_fmt(ds['cv_q05'].values[k])}, "
                         f"{_fmt(ds['cv_q95'].values[k])}] sharpness "
                         f"{ds['cv_sharpness'].values[k]:.2f}  "
                         f"{'hit' if ds['cv_hit'].values[k] else 'MISS'}")
    return lines
