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
from .calibrate import _fmt, held_out_rows, table_rows

__all__ = ["plot_accepted", "plot_fit", "plot_waves", "write_report"]


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
        held = " (held out)" if ds["held_out"].values[k] else ""
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
    names = [str(n) for n in ds["parameter"].values]
    why = json.loads(a["parameter_why"])
    unc = json.loads(a["target_uncertainty"])
    warnings = json.loads(a["warnings"])
    recovery = bool(a.get("pseudo_targets"))
    cmd = command or f"countysim calibrate {_relative(a['experiment_file']) or a['experiment']}"
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
    if recovery:
        L.append(f"- **Recovery experiment**: targets are pseudo-targets {a['pseudo_targets']}")
    L += ["", "## Result", "",
          "The calibrated baseline is one point of the non-implausible set: the one whose "
          "simulated means come closest to the fitted targets (in units of the model's "
          "run-to-run spread). Its values are in the scenario file with their accepted ranges. "
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
        tag = " (held out)" if r["held_out"] else ""
        L.append(f"| {r['target']}{tag} | {r['quote']} | `{r['variable']}`, {r['read_at']} | "
                 f"{art}{unit} | {_fmt(r['mean'] * s)}{unit} | [{_fmt(r['q05'] * s)}, "
                 f"{_fmt(r['q95'] * s)}]{unit} | {'yes' if r['inside'] else '**no**'} |")
    L += ["", "## Held-out check", ""]
    if not held_out_rows(ds):
        L += ["No target was held out in this experiment.", ""]
    for tid, h in held_out_rows(ds).items():
        verdict = "**hit**" if h["hit"] else "**miss**"
        L += [f"{tid} was kept out of the fit. Over the real-model runs at "
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
    L += ["## Calibrated parameters", "",
          "| parameter | unit | range searched | accepted (min–max) | accepted 5–95% | "
          "calibrated | why this range |", "|---|---|---|---|---|---|---|"]
    truth = ds["truth"].values
    for j, n in enumerate(names):
        t = f" (truth {_fmt(truth[j])})" if np.isfinite(truth[j]) else ""
        L.append(f"| `{n}` | {ds['parameter_units'].values[j]} | "
                 f"[{_fmt(ds['prior_lower'].values[j])}, {_fmt(ds['prior_upper'].values[j])}] | "
                 f"[{_fmt(ds['accepted_lower'].values[j])}, "
                 f"{_fmt(ds['accepted_upper'].values[j])}] | "
                 f"[{_fmt(ds['accepted_q05'].values[j])}, {_fmt(ds['accepted_q95'].values[j])}]"
                 f" | {_fmt(ds['calibrated'].values[j])}{t} | {why.get(n, '')} |")
    L += ["", "## Targets and their uncertainty", "",
          "From `scenarios/targets/` (the reasoning for each number is in that file). The "
          "implausibility of a point x for target k is "
          "`I_k(x) = d(z_k, E[f_k(x)]) / sqrt(V_obs + V_discrepancy + V_emulator(x) + "
          "V_ensemble(x))`, where d is the distance to the article value (to the range, for "
          "千余).", "",
          "| target | kind | observation uncertainty | discrepancy sd |", "|---|---|---|---|"]
    for k, tid in enumerate(ds["target"].values):
        L.append(f"| {tid} | {ds['kind'].values[k]} | {unc[str(tid)]} | "
                 f"{float(ds['discrepancy_sd'].values[k]):.3g} |")
    L += ["", "## Diagnostics", "", "### Waves", "",
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
    L += [f"- {w}" for w in warnings] or ["- none"]
    if figures:
        L += ["", "## Figures", "",
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
    L += ["", "## Reproduce", "",
          "```", cmd, "```", "",
          "The results Dataset (NetCDF) holds every run, the accepted sample and the "
          "diagnostics; `countysim.calibration.calreport.write_report` rebuilds this page from it."]
    return "\n".join(L) + "\n"
