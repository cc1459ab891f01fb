"""The calibration report: ``docs/calibration.md`` and its figures, from a calibration Dataset.

Everything here reads the Dataset :func:`countysim.calibration.calibrate.calibrate` returns (or its
NetCDF file), so the report can be rebuilt without re-running the model::

    import xarray as xr
    from countysim.calibration.calreport import write_report
    write_report(xr.open_dataset("runs/calibration/calibrate_2025.nc"),
                 "docs/calibration.md", "docs/figures")
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..sweeps.files import write_atomically
from .diagnostics import _fmt, _role, held_out_rows, table_rows, target_tag
from .members import dataset_members

__all__ = ["cv_rows", "identifiability_rows", "plot_accepted", "plot_fit", "plot_waves",
           "predictive_rows", "write_report"]

_CONTRACTED = 0.8  # accepted 90% range over the prior range above which nothing constrains it
_TRADE_OFF = 0.7   # |correlation| in the accepted set above which two parameters trade off


def _relative(path: str) -> str:
    """A path relative to the working directory when it lies below it (for the report)."""
    if not path:
        return ""
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path


def _scale(tid: str, ds: xr.Dataset) -> float:
    """Display scale: growth rates in percent."""
    k = list(ds["target"].values).index(tid)
    return 100.0 if str(ds["variable"].values[k]).endswith("growth_pilot") else 1.0


def plot_fit(ds: xr.Dataset, path: str | Path) -> Path:
    """One panel per target: wave-1 runs, runs at accepted points, the calibrated baseline's
    runs, and the article value with its observation uncertainty."""
    ids = [str(t) for t in ds["target"].values]
    ncol = 4
    nrow = int(np.ceil(len(ids) / ncol))
    fig = Figure(figsize=(3.4 * ncol, 2.9 * nrow))
    axes = fig.subplots(nrow, ncol, squeeze=False)
    wave1 = ds["design_wave"].values == 1
    for ax, (k, tid) in zip(axes.flat, enumerate(ids), strict=False):
        s = _scale(tid, ds)
        prior = ds["design_values"].values[wave1, :, k].ravel() * s
        check = ds["check_values"].values[:, :, k].ravel() * s
        base = ds["verify_values"].values[:, k] * s
        lo = float(ds["target_lower"].values[k]) * s
        hi = float(ds["target_upper"].values[k]) * s
        sd = float(ds["obs_sd"].values[k]) * s
        finite = np.concatenate([prior, check, base])
        finite = finite[np.isfinite(finite)]
        span = (min(finite.min(), lo - 2 * sd), max(finite.max(), hi + 2 * sd))
        bins = np.linspace(*span, 40)
        ax.hist(prior[np.isfinite(prior)], bins=bins, density=True, color="0.8",
                label="wave 1 (ranges)")
        ax.hist(check[np.isfinite(check)], bins=bins, density=True, color="tab:blue",
                alpha=0.6, label="accepted points")
        ax.hist(base, bins=bins, density=True, color="tab:orange", alpha=0.8,
                label="calibrated baseline")
        ax.axvspan(lo - 2 * sd, hi + 2 * sd, color="k", alpha=0.08)
        ax.axvline(lo, color="k", lw=1.5)
        if hi > lo:
            ax.axvline(hi, color="k", lw=1.5, ls="--")
        held = target_tag({"held_out": bool(ds["held_out"].values[k]), **_role(ds, k)})
        ax.set_title(f"{tid}{held}: {ds['variable'].values[k]}", fontsize=8)
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(ids):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6, loc="upper left")
    fig.suptitle("Calibration fit: article value (black; shaded ±2 observation sd) against "
                 "simulated runs", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_waves(ds: xr.Dataset, path: str | Path) -> Path:
    """Non-implausible share per wave, and each wave's box and the accepted range of
    every parameter, relative to the ranges searched."""
    names = [str(n) for n in ds["parameter"].values]
    lo, hi = ds["prior_lower"].values, ds["prior_upper"].values
    width = hi - lo
    fig = Figure(figsize=(11, 0.35 * len(names) + 3.2))
    a1, a2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2.2]})
    waves = ds["wave"].values
    a1.semilogy(waves, ds["wave_nroy_fraction"].values, "o-")
    a1.set_xlabel("wave")
    a1.set_ylabel("non-implausible share of the ranges")
    a1.set_xticks(waves)
    a1.grid(alpha=0.3)
    colors = mpl.colormaps["viridis"](np.linspace(0, 0.85, len(waves)))
    y = np.arange(len(names))
    step = 0.7 / (len(waves) + 1)
    for i, w in enumerate(waves):
        blo = (ds["wave_box_lower"].values[i] - lo) / width
        bhi = (ds["wave_box_upper"].values[i] - lo) / width
        a2.barh(y - 0.35 + step * i, bhi - blo, left=blo, height=step * 0.9,
                color=colors[i], label=f"wave {w} box")
    alo = (ds["accepted_q05"].values - lo) / width
    ahi = (ds["accepted_q95"].values - lo) / width
    a2.barh(y - 0.35 + step * len(waves), ahi - alo, left=alo, height=step * 0.9,
            color="tab:red", label="accepted 5-95%")
    a2.plot((ds["calibrated"].values - lo) / width, y, "k*", label="calibrated")
    if np.isfinite(ds["truth"].values).all():
        a2.plot((ds["truth"].values - lo) / width, y, "rx", ms=9, label="truth")
    a2.set_yticks(y)
    a2.set_yticklabels(names, fontsize=8)
    a2.set_xlim(0, 1)
    a2.set_xlabel("position in the range searched (0 = lower end, 1 = upper end)")
    a2.invert_yaxis()
    a2.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=4,
              frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def plot_accepted(ds: xr.Dataset, path: str | Path) -> Path:
    """Correlations of the parameters in the accepted set."""
    names = [str(n) for n in ds["parameter"].values]
    corr = ds["accepted_corr"].values
    fig = Figure(figsize=(0.55 * len(names) + 3, 0.5 * len(names) + 2))
    ax = fig.subplots()
    im = ax.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(names)))
    ax.set_yticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    ax.set_yticklabels(names, fontsize=7)
    for i in range(len(names)):
        for j in range(len(names)):
            if i != j and np.isfinite(corr[i, j]):
                # "+ 0.0" turns a rounded -0.0 into 0.0.
                ax.text(j, i, f"{round(corr[i, j], 1) + 0.0:.1f}", ha="center", va="center",
                        fontsize=6)
    fig.colorbar(im, ax=ax, shrink=0.8, label="correlation in the accepted set")
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: Figure, path: str | Path) -> Path:
    # Fixed metadata keeps the PNG bytes the same for the same results.
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110, metadata={"Software": None})
    return write_atomically(path, png.getvalue())


def write_report(ds: xr.Dataset, path: str | Path, figures: str | Path | None = None,
                 *, command: str | None = None) -> Path:
    """Write the calibration report (Markdown) and its figures.

    Args:
        ds: A calibration Dataset.
        path: The Markdown file (e.g. ``docs/calibration.md``).
        figures: Folder for the PNG figures (default: ``figures/`` beside ``path``).
        command: The command that produced the results, quoted in the report.

    Returns:
        The Markdown file's path.
    """
    path = Path(path)
    figures = Path(figures) if figures is not None else path.parent / "figures"
    stem = str(ds.attrs["experiment"])
    figs = {"fit": plot_fit(ds, figures / f"{stem}_fit.png"),
            "waves": plot_waves(ds, figures / f"{stem}_waves.png"),
            "accepted": plot_accepted(ds, figures / f"{stem}_accepted.png")}
    rel = {k: Path(os.path.relpath(v, path.parent)).as_posix() for k, v in figs.items()}
    return write_atomically(path, report_markdown(ds, rel, command=command).encode("utf-8"))


def _pct(ds: xr.Dataset, k: int) -> float:
    """Display scale of target k: rates and shares (units "1", below 1) in percent."""
    lo = abs(float(ds["target_lower"].values[k]))
    return 100.0 if lo < 1.0 and str(ds["kind"].values[k]) in ("expectation", "comparator") \
        else 1.0


def predictive_rows(ds: xr.Dataset) -> list[dict]:
    """Per target: the ensemble's 90% predictive interval and the seed noise alone."""
    out = []
    sd_obs = ds["obs_sd"].values
    for k, tid in enumerate(ds["target"].values):
        lo, hi = float(ds["target_lower"].values[k]), float(ds["target_upper"].values[k])
        q5, q95 = float(ds["predictive_q05"].values[k]), float(ds["predictive_q95"].values[k])
        b5, b95 = float(ds["baseline_q05"].values[k]), float(ds["baseline_q95"].values[k])
        inside = bool(q5 <= hi and q95 >= lo)
        gap = 0.0 if inside else (lo - q95 if q95 < lo else q5 - hi)
        out.append({"target": str(tid), "lower": lo, "upper": hi,
                    "mean": float(ds["predictive_mean"].values[k]), "q05": q5, "q95": q95,
                    "inside": inside, "gap": gap, "gap_obs_sd": gap / float(sd_obs[k]),
                    "seed_q05": b5, "seed_q95": b95,
                    "seed_share": (b95 - b5) / (q95 - q5) if q95 > q5 else float("nan")})
    return out


def cv_rows(ds: xr.Dataset) -> list[dict]:
    """Per fitted target: cross-validated or only fitted, and the leave-one-out result."""
    if "cv_constrained" not in ds:
        return []
    out = []
    # The prediction of an observation: the runs' spread plus observation error and model
    # discrepancy, mean +- 1.645 sd (as results_dataset's cv_obs_q05/q95, from stored data).
    flat = ds["cv_values"].values.reshape(ds.sizes["target"], -1)
    with np.errstate(invalid="ignore"):
        var_runs = np.array([np.nanvar(row, ddof=1) if np.isfinite(row).sum() > 1 else np.nan
                             for row in flat])
    sd_all = np.sqrt(var_runs + ds["obs_sd"].values ** 2 + ds["discrepancy_sd"].values ** 2)
    for k, tid in enumerate(ds["target"].values):
        c = int(ds["cv_constrained"].values[k])
        if c < 0:
            continue
        lo_obs = float(ds["cv_mean"].values[k] - 1.6449 * sd_all[k])
        hi_obs = float(ds["cv_mean"].values[k] + 1.6449 * sd_all[k])
        t_lo, t_hi = float(ds["target_lower"].values[k]), float(ds["target_upper"].values[k])
        out.append({"target": str(tid), "constrained": bool(c),
                    "active": str(ds["cv_active"].values[k]),
                    "shared": str(ds["cv_shared"].values[k]),
                    "mean": float(ds["cv_mean"].values[k]),
                    "q05": float(ds["cv_q05"].values[k]), "q95": float(ds["cv_q95"].values[k]),
                    "lower": float(ds["target_lower"].values[k]),
                    "upper": float(ds["target_upper"].values[k]),
                    "hit": bool(ds["cv_hit"].values[k]),
                    "obs_q05": lo_obs, "obs_q95": hi_obs,
                    "hit_obs": bool(c and lo_obs <= t_hi and hi_obs >= t_lo),
                    "sharpness": float(ds["cv_sharpness"].values[k]),
                    "nroy": float(ds["cv_nroy_share"].values[k]),
                    "cut": float(ds["cv_cut_share"].values[k])})
    return out


def identifiability_rows(ds: xr.Dataset) -> tuple[list[dict], list[tuple[str, str, float]]]:
    """Per parameter: contraction and the targets whose emulators use it; trade-off pairs."""
    names = [str(n) for n in ds["parameter"].values]
    last = ds.sizes["wave"] - 1
    fitted = [k for k in range(ds.sizes["target"]) if not ds["held_out"].values[k]]
    share = ((ds["accepted_q95"] - ds["accepted_q05"])
             / (ds["prior_upper"] - ds["prior_lower"])).values
    rows = []
    for j, n in enumerate(names):
        by = [str(ds["target"].values[k]) for k in fitted
              if n in str(ds["emulator_active"].values[last, k]).split(", ")]
        if not by:
            verdict = "not constrained: no target's emulator uses it"
        elif share[j] > _CONTRACTED:
            verdict = "not constrained: accepted range near the prior's"
        elif len(by) == 1:
            verdict = "constrained by one target only"
        else:
            verdict = f"constrained by {len(by)} targets"
        rows.append({"parameter": n, "contraction": float(share[j]), "targets": by,
                     "verdict": verdict})
    corr = ds["accepted_corr"].values
    pairs = [(names[i], names[j], float(corr[i, j])) for i in range(len(names))
             for j in range(i + 1, len(names)) if abs(corr[i, j]) > _TRADE_OFF]
    return rows, pairs


def _members(ds: xr.Dataset) -> int:
    """Members of the shipped ensemble: the non-implausible checked points inside the bands
    (up to the cap)."""
    ok = int(dataset_members(ds).sum())
    cap = int(ds.attrs.get("members", ok))
    return min(ok, cap) if ok else ds.sizes["check"]


def _band_lines(ds: xr.Dataset) -> list[str]:
    """How many non-implausible points the band check kept, and which bands the rest left."""
    if "check_in_bands" not in ds:
        return []
    inside = ds["check_in_bands"].values
    run = inside != -1
    seeds = int(ds.attrs.get("band_seeds", 0))
    L = ["### Members inside the validation bands", "",
         f"Each non-implausible point ran to 2030 on {seeds} seeds of its own with the "
         "baseline's levers, against every band of `countysim validate` "
         "([Validation](validation.md)): a point that leaves a band in any year (or, for "
         "the cadre counts, whose mean over its runs does) is not a member. "
         f"**{int((inside == 1).sum())} of {int(run.sum())}** stayed inside every band.", ""]
    per = ds["check_band_inside"].values[run]
    left = [(str(label), int((per[:, j] == 0).sum()))
            for j, label in enumerate(ds["band"].values)]
    left = [(label, n) for label, n in left if n]
    if left:
        L += ["| band | points leaving it |", "|---|---|"]
        L += [f"| {label} | {n} |" for label, n in sorted(left, key=lambda x: -x[1])]
        L.append("")
    return L


def _uncertainty_sections(ds: xr.Dataset) -> list[str]:
    """Predictive intervals, cross-validation and identifiability, as Markdown."""
    a = ds.attrs
    carried = json.loads(a.get("carried", "{}"))
    L = _predictive_section(ds)
    L += _band_lines(ds)
    L += _carried_section(carried)
    L += _cv_section(ds)
    L += _identifiability_section(ds, carried)
    L += _link_section(ds)
    if a.get("discussion"):
        L += ["## Discussion", "", str(a["discussion"]).strip(), ""]
    return L


def _predictive_section(ds: xr.Dataset) -> list[str]:
    """The ensemble's 90% predictive interval per target against the seed noise alone.

    Args:
        ds: A calibration Dataset.

    Returns:
        The section's Markdown lines, ending with the count of targets inside.
    """
    a = ds.attrs
    L = ["## Predictive intervals over the ensemble", "",
         f"The ensemble is the accepted points x district draws x seeds: "
         f"{ds.sizes['check']} accepted points, each with its own district "
         f"draw{' (district_seed)' if int(a.get('district_draws', 0)) else ''}"
         + (" and carried values" if json.loads(a.get("carried", "{}")) else "")
         + f", were run {ds.sizes['check_replicate']} times with fresh seeds; the "
         f"{_members(ds)} whose real runs are non-implausible"
         + (" and stay inside the validation bands" if "check_in_bands" in ds else "")
         + " are the shipped ensemble's members, and the 90% predictive interval is the "
         "5-95% range of their runs. The seed-noise interval is that of the calibrated "
         "baseline alone (one point, the "
         "scenario's district). *Seed share* is its width over the predictive interval's. "
         "A miss gives the gap to the interval in "
         "observation sd.", "",
         "| target | how the model is read | article | predictive mean | 90% predictive "
         "interval | seed noise only | seed share | inside |", "|---|---|---|---|---|---|---|---|"]
    stats = json.loads(a.get("target_statistics", "{}"))
    rows = predictive_rows(ds)
    for k, r in enumerate(rows):
        s = _pct(ds, k)
        u = " %" if s == 100.0 else ""
        art = (_fmt(r["lower"] * s) if r["lower"] == r["upper"]
               else f"{_fmt(r['lower'] * s)}–{_fmt(r['upper'] * s)}")
        verdict = "yes" if r["inside"] else f"**no** ({r['gap_obs_sd']:.1f} obs sd)"
        L.append(f"| {r['target']} | {stats.get(r['target'], '')} | {art}{u} | "
                 f"{_fmt(r['mean'] * s)}{u} | [{_fmt(r['q05'] * s)}, {_fmt(r['q95'] * s)}]{u}"
                 f" | [{_fmt(r['seed_q05'] * s)}, {_fmt(r['seed_q95'] * s)}]{u} | "
                 f"{r['seed_share']:.0%} | {verdict} |")
    n_in = sum(r["inside"] for r in rows)
    L += ["", f"{n_in} of {len(rows)} targets lie inside the ensemble's 90% predictive "
          "interval" + ("." if n_in == len(rows) else "; the misses: " + ", ".join(
              f"{r['target']} (gap {_fmt(abs(r['gap']) * _pct(ds, k))}"
              f"{' %' if _pct(ds, k) == 100.0 else ''}, {r['gap_obs_sd']:.1f} obs sd)"
              for k, r in enumerate(rows) if not r["inside"]) + "."), ""]
    return L


def _carried_section(carried: dict[str, list]) -> list[str]:
    """The carried (hand-set, not fitted) parameters and the ranges every run draws from.

    Args:
        carried: The Dataset's ``carried`` attribute, decoded: name to
            ``[lower, upper, unit, why]``.

    Returns:
        The table's Markdown lines, or none when nothing is carried.
    """
    if not carried:
        return []
    L = ["Carried parameters (hand-set, not fitted; every run draws them from a split "
         "uniform distribution over their stated range whose median is the scenario's "
         "sourced value, so their effect is in the emulators' ensemble variance and in "
         "the predictive intervals):", "",
         "| parameter | unit | range carried | why |", "|---|---|---|---|"]
    for n, (lo, hi, unit, why) in carried.items():
        L.append(f"| `{n}` | {unit} | [{_fmt(lo)}, {_fmt(hi)}] | {why} |")
    L.append("")
    return L


def _cv_section(ds: xr.Dataset) -> list[str]:
    """The leave-one-out cross-validation of the targets other targets constrain.

    Args:
        ds: A calibration Dataset.

    Returns:
        The section's Markdown lines, or none when the calibration ran no cross-validation.
    """
    cv = cv_rows(ds)
    if not cv:
        return []
    done = [r for r in cv if r["constrained"]]
    hits = sum(r["hit"] for r in done)
    hits_obs = sum(r["hit_obs"] for r in done)
    sharp = [r["sharpness"] for r in done if np.isfinite(r["sharpness"])]
    L = ["## Cross-validation", "",
         "Each fitted target that other targets constrain is left out in turn: a target "
         "is *constrained by others* when at least half of the active parameters of its "
         "last-wave emulator are active in another fitted target's emulator. Without it, "
         "the non-implausible set is re-drawn with the final waves' emulators (from the "
         "last wave's box widened by 20% of its width each side; each wave screens only "
         "points inside its own box), and the real model is run at "
         f"{ds.sizes['cv_point']} of its points ({ds.sizes['cv_replicate']} runs each, "
         "each run its own district draw). The left-out target's 90% interval is the "
         "5-95% range of those runs. *Sharpness* is the interval's width over the article "
         "value; *cut* is the share of the set without the target that its own emulator "
         "would have ruled out (how much it adds to the fit).", "",
         f"**{hits} of {len(done)} constrained targets are predicted within the 90% "
         f"interval of the model runs when left out**" + (
             f" (median sharpness {np.median(sharp):.2f}); {hits_obs} of {len(done)} "
             "within the 90% prediction of the observation, which adds observation error "
             "and model discrepancy to the runs' spread (mean ± 1.645 sd)." if sharp
             else "."), "",
         "| target | active parameters | shared with other targets | set without it "
         "(share of candidates) | cut by its own emulator | predicted mean | 90% interval "
         "(runs) | article | sharpness | predicted (runs) | 90% prediction of the "
         "observation | predicted (observation) |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    index = [str(t) for t in ds["target"].values]
    for r in done:
        s = _pct(ds, index.index(r["target"]))
        u = " %" if s == 100.0 else ""
        art = (_fmt(r["lower"] * s) if r["lower"] == r["upper"]
               else f"{_fmt(r['lower'] * s)}–{_fmt(r['upper'] * s)}")
        L.append(f"| {r['target']} | {r['active']} | {r['shared']} | {r['nroy']:.3g} | "
                 f"{r['cut']:.0%} | {_fmt(r['mean'] * s)}{u} | [{_fmt(r['q05'] * s)}, "
                 f"{_fmt(r['q95'] * s)}]{u} | {art}{u} | {r['sharpness']:.2f} | "
                 f"{'yes' if r['hit'] else '**no**'} | [{_fmt(r['obs_q05'] * s)}, "
                 f"{_fmt(r['obs_q95'] * s)}]{u} | {'yes' if r['hit_obs'] else '**no**'} |")
    only = [r for r in cv if not r["constrained"]]
    L += ["", "Only fitted, never predicted (no other target constrains what they depend "
          "on, so leaving them out would test nothing but the prior): "
          + (", ".join(f"{r['target']} ({r['active'] or 'no active parameter'})"
                       for r in only) if only else "none") + ".", ""]
    return L


def _identifiability_section(ds: xr.Dataset, carried: dict[str, list]) -> list[str]:
    """Which parameters the targets constrain, the pairs that trade off, and the counts.

    Args:
        ds: A calibration Dataset.
        carried: The decoded ``carried`` attribute (only its size is reported).

    Returns:
        The section's Markdown lines.
    """
    rows, pairs = identifiability_rows(ds)
    L = ["## Identifiability", "",
         "Contraction is the accepted 5-95% range over the range searched (1 = nothing "
         f"learnt). A parameter whose contraction exceeds {_CONTRACTED:.0%}, or that no "
         "target's emulator uses, is *not constrained*: its calibrated value is one point "
         "of a flat region, not an estimate.", "",
         "| parameter | contraction | targets whose emulators use it | verdict |",
         "|---|---|---|---|"]
    for r in rows:
        L.append(f"| `{r['parameter']}` | {r['contraction']:.2f} | "
                 f"{', '.join(r['targets']) or '—'} | {r['verdict']} |")
    L += ["", f"Pairs that trade off (|r| > {_TRADE_OFF} in the accepted set): "
          + (", ".join(f"`{a}` and `{b}` (r = {r:+.2f})" for a, b, r in pairs)
             if pairs else "none") + ".", ""]
    n_targets = int((ds["held_out"] == 0).sum())
    L += [f"Patterns against parameters: {n_targets} fitted targets, {ds.sizes['parameter']} "
          f"calibrated parameters"
          + (f", {len(carried)} carried" if carried else "") + ".", ""]
    return L


#: Members' sd over the prior's below this: a narrowing the member count can tell from
#: chance (the sd of ~40 members has a sampling error of ~11 %, so 0.8 is ~2 errors).
_NARROWED = 0.8


def link_rows(ds: xr.Dataset) -> list[dict]:
    """What the targets learnt about each carried causal link (issue 16, item 3).

    For each carried parameter with a link: its prior (the checked points' draws), the
    members' 5-95 % range, the members' sd over the prior's, and the fitted target that
    narrows it most on its own (the sd of the checked points that target finds
    non-implausible, over the prior's).
    """
    if "check_carried" not in ds:
        return []
    values = ds["check_carried"].values
    ok = dataset_members(ds)
    imp = ds["check_implausibility"].values
    cutoff = float(ds.attrs["cutoff"])
    fitted = [k for k in range(ds.sizes["target"]) if not ds["held_out"].values[k]]
    rows = []
    for j, name in enumerate(ds["carried"].values):
        link = str(ds["carried_link"].values[j])
        if not link:
            continue
        x = values[:, j]
        prior_sd = float(np.std(x))
        member = x[ok] if ok.any() else x
        by_target = {}
        for k in fitted:
            keep = imp[:, k] <= cutoff
            if keep.sum() > 2:
                by_target[str(ds["target"].values[k])] = float(np.std(x[keep])) / prior_sd
        best = min(by_target, key=by_target.get) if by_target else ""
        q05, q95 = np.quantile(member, [0.05, 0.95])
        rows.append({"parameter": str(name), "link": link,
                     "prior": (float(ds["carried_lower"].values[j]),
                               float(ds["carried_median"].values[j]),
                               float(ds["carried_upper"].values[j])),
                     "members_q05": float(q05), "members_q95": float(q95),
                     "members_median": float(np.median(member)),
                     "ratio": float(np.std(member)) / prior_sd if prior_sd else float("nan"),
                     "target": best, "target_ratio": by_target.get(best, float("nan"))})
    return rows


def _link_section(ds: xr.Dataset) -> list[str]:
    """The carried causal links: prior against members, and the targets that narrow them."""
    rows = link_rows(ds)
    if not rows:
        return []
    narrowed = [r for r in rows if r["ratio"] < _NARROWED]
    L = ["## Causal links: prior and members", "",
         "The causal links' strengths (docs/pathways.md) are carried with their literature "
         "priors: each checked point draws them (split uniform over the prior, median at the "
         "registry value), and the members are the points whose real runs are "
         "non-implausible. *sd ratio* is the members' sd over the prior's (1 = nothing "
         f"learnt; below {_NARROWED} the narrowing is beyond what the member count leaves to "
         "chance); *narrowed most by* is the fitted target whose non-implausible points "
         "alone give the smallest sd ratio.", "",
         "| link | parameter | prior (low, median, high) | members 5-95 % (median) | "
         "sd ratio | narrowed most by (sd ratio) |", "|---|---|---|---|---|---|"]
    for r in rows:
        lo, mid, hi = r["prior"]
        L.append(f"| {r['link']} | `{r['parameter']}` | {_fmt(lo)}, {_fmt(mid)}, {_fmt(hi)} | "
                 f"[{_fmt(r['members_q05'])}, {_fmt(r['members_q95'])}] "
                 f"({_fmt(r['members_median'])}) | {r['ratio']:.2f} | "
                 f"{r['target'] or '-'} ({r['target_ratio']:.2f}) |")
    L += ["", (f"{len(narrowed)} of {len(rows)} links are narrowed by the targets: "
               + ", ".join(f"`{r['parameter']}` ({r['ratio']:.2f}, most by {r['target']})"
                           for r in narrowed) + "." if narrowed else
               f"None of the {len(rows)} links is narrowed beyond chance: the 2025 targets "
               "do not speak to them, and the forecasts carry their priors."), ""]
    return L


def _baseline_choice(ds: xr.Dataset) -> tuple[str, ...]:
    """How the baseline was chosen, for the report (results before the choice: best fit)."""
    if ds.attrs.get("baseline_choice") == "medoid":
        member = int(ds.attrs.get("baseline_member", -1))
        return ("The calibrated baseline is the ensemble's central member that fits "
                f"(member {member}): of the members whose own check runs meet every fitted "
                "target within 2 sd (observation, model discrepancy and their seed noise), "
                "the one closest to all members, over fitted and carried parameters each "
                "standardised by its sd over the members; taken whole: its fitted values, its "
                "carried values and its district draw. Its fitted values lie inside their "
                "accepted ranges by construction, and it is typical of the set rather than "
                "its best fit. ",)
    return ("The calibrated baseline is one point of the non-implausible set: the one whose "
            "simulated means come closest to the fitted targets (in units of the model's "
            "run-to-run spread). ",)


def _held_out_detail(ds: xr.Dataset, tid: str, h: dict) -> list[str]:
    """How sharp the held-out check is, and the size of a miss at the baseline."""
    k = [str(t) for t in ds["target"].values].index(tid)
    out = []
    width = h["predictive_q95"] - h["predictive_q05"]
    mean = h["predictive_mean"]
    if width > 0 and mean:
        out.append(f"The predictive interval is {width / abs(mean):.0%} of the predicted mean "
                   "wide: that is how sharp the check is.")
    last = ds.sizes["wave"] - 1
    active = [a for a in str(ds["emulator_active"].values[last, k]).split(", ") if a]
    names = [str(n) for n in ds["parameter"].values]
    if active:
        share = ((ds["accepted_q95"] - ds["accepted_q05"])
                 / (ds["prior_upper"] - ds["prior_lower"])).values
        parts = [f"`{a}` {share[names.index(a)]:.0%}" for a in active if a in names]
        out.append(f"{tid} responds to {', '.join(f'`{a}`' for a in active)}; the accepted "
                   "90% ranges of these span " + ", ".join(parts) + " of the ranges searched, "
                   "so the fitted targets constrain it only as far as these have contracted.")
    if not h["baseline_inside"]:
        runs = ds["verify_values"].values[:, k]
        sd = float(np.std(runs, ddof=1))
        lo, hi = h["article_lower"], h["article_upper"]
        gap = lo - h["baseline_mean"] if h["baseline_mean"] < lo else h["baseline_mean"] - hi
        sign = "above" if h["baseline_mean"] < lo else "below"
        rel = abs(gap) / abs(h["baseline_mean"])
        out.append(f"Size of the miss at the calibrated baseline: the article value is "
                   f"{_fmt(abs(gap))} {sign} the simulated mean ({rel:.1%} of it; "
                   f"{abs(gap) / sd:.1f} run-to-run sd).")
    return [" ".join(out), ""] if out else []


def report_markdown(ds: xr.Dataset, figures: dict[str, str] | None = None, *,
                    command: str | None = None) -> str:
    """The report's Markdown text (see :func:`write_report`)."""
    a = ds.attrs
    cmd = command or f"countysim calibrate {_relative(a['experiment_file']) or a['experiment']}"
    L = _header_lines(ds, cmd)
    L += ["", *_baseline_section(ds)]
    L += ["", *_uncertainty_sections(ds)]
    L += ["", *_held_out_section(ds)]
    L += _parameter_section(ds)
    L += ["", *_target_uncertainty_section(ds)]
    L += ["", *_diagnostics_section(ds)]
    if figures:
        L += ["", *_figures_section(figures)]
    L += ["", "## Reproduce", "",
          "```", cmd, "```", "",
          "The results Dataset (NetCDF) holds every run, the accepted sample and the "
          "diagnostics; `countysim.calibration.calreport.write_report` rebuilds this page from it."]
    return "\n".join(L) + "\n"


def _header_lines(ds: xr.Dataset, cmd: str) -> list[str]:
    """The title and the provenance list: command, date, version, runs and method.

    Args:
        ds: A calibration Dataset.
        cmd: The command quoted as the one that produced the results.

    Returns:
        The Markdown lines, without a trailing blank line.
    """
    a = ds.attrs
    L = [f"# Calibration: {a['experiment']}", "",
         "<!-- Generated by countysim.calibration.calreport from the calibration Dataset; "
         "do not edit by "
         "hand: re-run the command below. -->", "",
         f"- Command: `{cmd}`",
         f"- Date: {a['date']}; countysim {a['countysim_version']}; seed {a['seed']}",
         f"- Runs of the model: {a['runs']} ({a['failed_runs']} failed); wall time "
         f"{a['wall_time_s']} s with {a['workers']} worker process(es)",
         f"- Method: history matching in {ds.sizes['wave']} waves with statsmodels emulators; "
         f"implausibility cut-off {a['cutoff']} ({a['rule']} over the fitted targets), "
         "then real-model runs at accepted points, then the calibrated baseline verified with "
         "fresh seeds.",
         ]
    if a.get("pseudo_targets"):
        L.append(f"- **Recovery experiment**: targets are pseudo-targets {a['pseudo_targets']}")
    return L


def _baseline_section(ds: xr.Dataset) -> list[str]:
    """The calibrated baseline against every target, over its verification runs.

    Args:
        ds: A calibration Dataset.

    Returns:
        The "Result" section's Markdown lines, ending with the table's last row.
    """
    recovery = bool(ds.attrs.get("pseudo_targets"))
    L = ["## Result", "",
         "### The calibrated baseline (seed noise only)", "",
         *_baseline_choice(ds),
         "Its values are in the scenario file with their accepted ranges. "
         f"The table gives, over {ds.sizes['verify_replicate']} runs with seeds "
         f"{int(ds['verify_seed'].values[0])}..{int(ds['verify_seed'].values[-1])} (not used "
         "in the calibration), the simulated mean and 90% interval (5% and 95% quantiles). "
         "*Inside* means the article value lies in that interval (for the range 千余, that "
         "the range and the interval overlap).", "",
         f"| target | article (quote) | model variable, read at | "
         f"{'pseudo-target' if recovery else 'article value'} | simulated "
         "mean | 90% interval | inside |", "|---|---|---|---|---|---|---|"]
    for r in table_rows(ds):
        s = 100.0 if r["variable"].endswith("growth_pilot") else 1.0
        unit = " %" if s == 100.0 else ""
        art = (_fmt(r["article_lower"] * s) if r["article_lower"] == r["article_upper"]
               else f"{_fmt(r['article_lower'] * s)}–{_fmt(r['article_upper'] * s)}")
        tag = target_tag(r)
        L.append(f"| {r['target']}{tag} | {r['quote']} | `{r['variable']}`, {r['read_at']} | "
                 f"{art}{unit} | {_fmt(r['mean'] * s)}{unit} | [{_fmt(r['q05'] * s)}, "
                 f"{_fmt(r['q95'] * s)}]{unit} | {'yes' if r['inside'] else '**no**'} |")
    return L


def _held_out_section(ds: xr.Dataset) -> list[str]:
    """Each held-out target (or input check) as predicted by the accepted points.

    Args:
        ds: A calibration Dataset.

    Returns:
        The section's Markdown lines, ending with a blank line.
    """
    a = ds.attrs
    L = ["## Held-out check", ""]
    if not held_out_rows(ds):
        L += ["No target was held out in this experiment.", ""]
    checks = {r["target"]: r["inputs"] for r in table_rows(ds) if r["role"] == "input_check"}
    for tid, h in held_out_rows(ds).items():
        verdict = "**hit**" if h["hit"] else "**miss**"
        as_check = (f" as an input check of {checks[tid]} (the inputs were sized from it, so "
                    "fitting it would return them)" if tid in checks else "")
        L += [f"{tid} was kept out of the fit{as_check}. Over the real-model runs at "
              f"{ds.sizes['check']} accepted points ({ds.sizes['check_replicate']} runs each) it"
              f" is predicted as {_fmt(h['predictive_mean'])}, 90% predictive interval "
              f"[{_fmt(h['predictive_q05'])}, {_fmt(h['predictive_q95'])}]; the article's "
              f"{_fmt(h['article_lower'])} is a {verdict}. "
              f"{h['share_non_implausible']:.0%} of the accepted points are non-implausible "
              f"for it (cut-off {a['cutoff']}). At the calibrated baseline: mean "
              f"{_fmt(h['baseline_mean'])}, 90% interval [{_fmt(h['baseline_q05'])}, "
              f"{_fmt(h['baseline_q95'])}] ({'inside' if h['baseline_inside'] else 'outside'}"
              ").", ""]
        L += _held_out_detail(ds, tid, h)
    return L


def _parameter_section(ds: xr.Dataset) -> list[str]:
    """The calibrated parameters: range searched, accepted ranges, value and why.

    Args:
        ds: A calibration Dataset.

    Returns:
        The section's Markdown lines, ending with the table's last row.
    """
    why = json.loads(ds.attrs["parameter_why"])
    L = ["## Calibrated parameters", "",
         "| parameter | unit | range searched | accepted (min–max) | accepted 5–95% | "
         "calibrated | why this range |", "|---|---|---|---|---|---|---|"]
    truth = ds["truth"].values
    for j, n in enumerate(str(n) for n in ds["parameter"].values):
        t = f" (truth {_fmt(truth[j])})" if np.isfinite(truth[j]) else ""
        L.append(f"| `{n}` | {ds['parameter_units'].values[j]} | "
                 f"[{_fmt(ds['prior_lower'].values[j])}, {_fmt(ds['prior_upper'].values[j])}] | "
                 f"[{_fmt(ds['accepted_lower'].values[j])}, "
                 f"{_fmt(ds['accepted_upper'].values[j])}] | "
                 f"[{_fmt(ds['accepted_q05'].values[j])}, {_fmt(ds['accepted_q95'].values[j])}]"
                 f" | {_fmt(ds['calibrated'].values[j])}{t} | {why.get(n, '')} |")
    return L


def _target_uncertainty_section(ds: xr.Dataset) -> list[str]:
    """How the implausibility is built, and each target's observation and discrepancy terms.

    Args:
        ds: A calibration Dataset.

    Returns:
        The section's Markdown lines, ending with the table's last row.
    """
    unc = json.loads(ds.attrs["target_uncertainty"])
    L = ["## Targets and their uncertainty", "",
         "From `scenarios/targets/` (the reasoning for each number is in that file). The "
         "implausibility of a point x for target k is "
         "`I_k(x) = d(z_k, E[f_k(x)]) / sqrt(V_obs + V_discrepancy + V_emulator(x) + "
         "V_ensemble(x))`, where d is the distance to the article value (to the range, for "
         "千余).", "",
         "| target | kind | observation uncertainty | discrepancy sd |", "|---|---|---|---|"]
    for k, tid in enumerate(ds["target"].values):
        L.append(f"| {tid} | {ds['kind'].values[k]} | {unc[str(tid)]} | "
                 f"{float(ds['discrepancy_sd'].values[k]):.3g} |")
    return L


def _diagnostics_section(ds: xr.Dataset) -> list[str]:
    """The waves, the emulators' held-out checks, the predictive check and the warnings.

    Args:
        ds: A calibration Dataset.

    Returns:
        The section's Markdown lines, ending with the last warning (or "- none").
    """
    L = ["## Diagnostics", "", "### Waves", "",
         "| wave | runs | box accepted | non-implausible share of the ranges |",
         "|---|---|---|---|"]
    for i, w in enumerate(ds["wave"].values):
        L.append(f"| {w} | {int(ds['wave_runs'].values[i])} | "
                 f"{ds['wave_accept_rate'].values[i]:.3g} | "
                 f"{ds['wave_nroy_fraction'].values[i]:.3g} |")
    L += ["", "### Emulators", "",
          "Checked on design points kept out of each fit: standardised errors "
          "(mean − emulator) / sd should have mean ≈ 0, sd ≈ 1, and ~95% within 2.", "",
          "| wave | target | R² | within 2 sd | within 3 sd | error mean ± sd "
          "| active parameters |",
          "|---|---|---|---|---|---|---|"]
    for i, w in enumerate(ds["wave"].values):
        for k, tid in enumerate(ds["target"].values):
            L.append(f"| {w} | {tid} | {ds['emulator_r2'].values[i, k]:.3f} | "
                     f"{ds['emulator_coverage2'].values[i, k]:.2f} | "
                     f"{ds['emulator_coverage3'].values[i, k]:.2f} | "
                     f"{ds['emulator_mean_error'].values[i, k]:+.2f} ± "
                     f"{ds['emulator_sd_error'].values[i, k]:.2f} | "
                     f"{ds['emulator_active'].values[i, k]} |")
    check = ds["check_non_implausible"].values
    L += ["", "### Predictive check", "",
          f"{check.mean():.0%} of the {check.size} accepted points run with the real model are "
          "non-implausible on the real-run means (the rest were let in by emulator "
          "uncertainty).", "",
          "### Warnings", ""]
    L += [f"- {w}" for w in json.loads(ds.attrs["warnings"])] or ["- none"]
    return L


def _figures_section(figures: dict[str, str]) -> list[str]:
    """The three figures with their captions.

    Args:
        figures: Paths of the ``fit``, ``waves`` and ``accepted`` PNGs, as the report links
            them (relative to the Markdown file).

    Returns:
        The section's Markdown lines, ending with the last caption.
    """
    return ["## Figures", "",
            f"![fit]({figures['fit']})", "",
            "Each panel: wave-1 runs over the ranges searched (grey), runs at accepted points "
            "(blue), runs of the calibrated baseline (orange), the article value (black line; "
            "dashed: the upper end of a range) and ±2 observation sd (shaded).", "",
            f"![waves]({figures['waves']})", "",
            "Left: the non-implausible share of the ranges after each wave. Right: each "
            "wave's sampling box, the accepted 5–95% range and the calibrated value, as "
            "positions in the range searched.", "",
            f"![accepted]({figures['accepted']})", "",
            "Correlations in the accepted set: strong ones mark combinations the targets "
            "constrain rather than single parameters."]
