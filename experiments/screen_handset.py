"""Morris screening of the hand-set parameters against the 2025 calibration targets (issue 9).

Runs ``experiments/screen_handset.toml`` (a Morris design over the 51 parameters that are
neither levers nor fitted by ``experiments/calibrate_2025.toml``), reads each calibration
target's model value from every run exactly as the calibration does (the target's variable
at the month its window ends), and analyses each target with SALib's ``morris.analyze``.

The elementary effects are taken in the unit hypercube (``design_unit``, the X the sampler
drew), so ``mu_star`` of a parameter is the mean absolute change of the target when the
parameter moves across its whole stated range (for an effect linear in the parameter, the
change from the low to the high end). Dividing by the target's observation sd
(:attr:`countysim.calibration.targets.Target.obs_sd_total`) puts every target on the scale
of its own uncertainty.

Failed runs: a sample's output is the mean over its replicates that finished; a trajectory
with a sample none of whose replicates finished is dropped whole (an elementary effect
needs both ends). The number dropped is in the report.

Seed noise: every replicate index uses the same seed in every sample (common random
numbers), so an elementary effect is a paired difference; but the model's histories diverge
after any change, so the paired difference of a count such as A7 still carries seed noise.
It is measured from the replicates: the elementary effect computed from each replicate
alone varies around their mean with variance ``s^2``, and the mean over ``R`` replicates
has noise sd ``s / sqrt(R)``. A parameter that does nothing then shows ``mu_star`` of
about ``noise * sqrt(2 / pi)`` with sd ``noise * sqrt(1 - 2 / pi) / sqrt(r)`` over ``r``
trajectories; an effect counts as *detected* only above that mean plus 3 sd.

District parameters such as ``firms`` and ``idle_buildings_mean`` are drawn by one
generator with the rest of the district (``countysim.core.district``): changing one changes
how many random numbers come before the firms' and cadres' draws, so part of their
"effect" on the cadre targets is a different district draw (the ``district_seed``
uncertainty), not their mechanism. The report says so.

Run from the repository root (writes ``docs/screening.md`` and
``docs/figures/screen_handset.png``; the runs go to ``runs/screen_handset.zarr`` and are
reused when that store is complete)::

    .venv/bin/python experiments/screen_handset.py [--workers 2] [--store PATH]
"""

from __future__ import annotations

import argparse
import math
import tomllib
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import countysim
import numpy as np
import xarray as xr
from countysim.calibration.targets import Target, load_targets
from countysim.core.parameters import PARAMETERS
from countysim.core.scenario import month_index
from countysim.sweeps.experiment import Experiment, load_experiment
from countysim.sweeps.files import write_atomically

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = REPO / "experiments" / "screen_handset.toml"
TARGETS = REPO / "scenarios" / "targets" / "litong_2025.toml"

#: |mu_star| / scale at or above which a parameter "matters" for a target. Over a uniform
#: range, an effect of mu* (low-to-high change) adds variance mu*^2 / 12 to the target,
#: i.e. an sd of 0.29 mu*: at mu* = 0.5 obs sd that is 0.14 obs sd, under 2 % of the
#: observation variance, negligible next to the observation error; above it the parameter's
#: spread is a visible share of the tolerance and must be fitted or carried.
MATTERS = 0.5
#: mu_star / scale at or above which a target can constrain the parameter: its range moves
#: the target by more than the calibration's implausibility cut-off (3 sd, Pukelsheim's
#: rule, experiments/calibrate_2025.toml), so history matching would cut the range.
CONSTRAINS = 3.0
#: One-sided z of the detection level: mu_star above the null mean plus 3 null sd (~0.1 %
#: false detections per parameter and target; 51 x 8 = 408 tests give ~0.4 false ones).
DETECT_Z = 3.0
#: Bootstrap resamples and level of SALib's confidence interval of mu_star.
RESAMPLES = 1000
CONF_LEVEL = 0.95
#: Seed of the bootstrap (a fixed child of the experiment's seed tree would work as well;
#: the bootstrap only sizes the confidence interval).
BOOTSTRAP_SEED = 20261127

# Why each parameter's stated range is what it is (the table of docs/screening.md).
RANGE_WHY: dict[str, str] = {
    "rural_share": "R3 (67 % urban in Ningxia) against 11 of 12 agricultural units: +-0.07",
    "labour_force_share": "working-age 0.62-0.68 x participation 0.72-0.80",
    "vacancy_share": "half to all of the ~7 % the 1.4 job-to-applicant ratio implies",
    "firms": "half to twice the B8-scaled 600 enterprises",
    "firm_size_median": "half to twice; no register of firm sizes",
    "firm_size_sigma": "typical log-sd of firm sizes 0.7-1.4",
    "idle_land_per_household": "half to twice; A13 gives no figure",
    "idle_buildings_mean": "half to twice; A13 gives no figure",
    "legacy_backlog": "must exceed A29's 1,172 resolved; up to twice the baseline",
    "leading_posts": "terms of 3-7 years around A7's scale of ~58 promotions a year",
    "problem_rate_firm": "half to twice (bare guess)",
    "collect_rate": "half to twice (bare guess)",
    "resolve_skill": "half to twice (bare guess)",
    "resolve_difficulty": "half to twice (bare guess)",
    "legacy_cadre_share": "half to twice (bare guess)",
    "effort_response": "half to twice (bare guess)",
    "problem_productivity_penalty": "half to twice (bare guess)",
    "matching_elasticity": "the source's range: Petrongolo & Pissarides (2001) 0.5-0.7",
    "retirement_rate": "working lives of 30-50 years",
    "output_growth": "B7's 4.3 %/yr +-1 point (year-to-year spread of the trend)",
    "employment_elasticity": "the source's range: 0.1-0.3 in the 2010s",
    "inflation": "China CPI 2021-25: 0-2 %/yr",
    "labour_demand_elasticity": "Hamermesh (1993) constant-output range 0.15-0.75",
    "return_rate": "half to twice: an average stay of 5-20 years",
    "local_exit_rate": "a season of 2-5 months (B10: June-August)",
    "coop_revenue_per_mu": "half to twice the several thousand yuan per mu",
    "building_revenue": "half to twice (bare guess)",
    "coop_wage_share": "labour shares of farm revenue 0.3-0.5",
    "coop_member_households": "A26: 30+ member households; up to twice the baseline",
    "dividend_share": "the sources' range: B12 31 % to R13 40 %",
    "alliance_market_boost": "half to twice (bare guess)",
    "technician_yield_gain": "half to twice; A22's doubling is the best case",
    "households_per_technician": "half to twice A22's single case of 50",
    "training_months": "one season to one year of mentoring",
    "returnee_income": "half to twice; A19's 150k is the best case",
    "returnee_jobs": "half to twice (bare guess)",
    "returnee_closure_rate": "40-70 % of small businesses survive five years",
    "imitation_rate": "half to twice (bare guess)",
    "switch_cost": "half to twice (bare guess)",
    "price_elasticity": "half to twice (bare guess)",
    "collective_income_noise": "half to twice (bare guess)",
    "capability_growth": "half to twice (bare guess)",
    "mentor_boost": "half to twice (bare guess)",
    "evaluation_noise": "half to twice (bare guess)",
    "cadre_exit_rate": "careers of 12-30 years in the pool",
    "farm_income": "R1/R4 rural income anchor, +-13 %",
    "local_wage": "B10 picking wages, +-15 %",
    "urban_wage": "R1 urban income anchor, +-14 %",
    "migrant_wage": "+-17 % (bare guess around regional migrant wages)",
    "remittance_share": "0.4-0.7 of migrant earnings reach the household",
    "transfer_income": "R8 transfer share 15-21 % of disposable income",
}


# ============================================================================ analysis


def fitted_parameters() -> list[str]:
    """The parameters experiments/calibrate_2025.toml fits (not screened here)."""
    return list(fitted_by_target_table())


def fitted_by_target_table() -> dict[str, list[str]]:
    """Fitted parameter -> the target IDs its ``why`` in calibrate_2025.toml names first."""
    with open(REPO / "experiments" / "calibrate_2025.toml", "rb") as f:
        table = tomllib.load(f)["parameters"]
    # Each why starts with the targets, "A6, A29. Logit of ...".
    return {name: [t.strip() for t in spec["why"].split(".")[0].split(",")]
            for name, spec in table.items()}


def target_scale(target: Target) -> float:
    """The uncertainty a target's effects are divided by.

    The observation sd, except for a range figure (``lower_bound``, A6: 千余 = 1,000-1,999)
    where any value inside the range fits equally well: its scale adds the variance of a
    uniform over the range, ``width^2 / 12``, so that a parameter moving the count by a
    few dozen inside the range does not count as large.
    """
    var = target.obs_variance
    if target.kind == "lower_bound":
        lo, hi = target.interval
        var += (hi - lo) ** 2 / 12.0
    return math.sqrt(var)


def target_values(results: xr.Dataset, targets: Sequence[Target], start: str) -> xr.DataArray:
    """Each target's model value in every run, read as the calibration reads it.

    Args:
        results: A sweep's results (:func:`countysim.open_results`), dims ``sample``,
            ``replicate`` and ``time``.
        targets: The targets.
        start: The scenario's first month (``time`` index 0).

    Returns:
        ``value(sample, replicate, target)``; NaN where a run did not finish.
    """
    first = month_index(start)
    columns = []
    for t in targets:
        da = results[t.variable].isel(time=month_index(t.read_at) - first)
        columns.append(da.drop_vars([c for c in da.coords if c not in da.dims]))
    return xr.concat(columns, dim="target").assign_coords(
        target=[t.id for t in targets]).transpose("sample", "replicate", "target")


def complete_trajectories(y: np.ndarray, n_factors: int) -> np.ndarray:
    """Boolean mask of the trajectories whose every point has a finite output.

    Args:
        y: Outputs in design order, shape ``(n_trajectories * (n_factors + 1), ...)``;
            NaN marks a point with no finished run.
        n_factors: Number of factors (a trajectory has ``n_factors + 1`` points).
    """
    size = n_factors + 1
    finite = np.isfinite(y.reshape(len(y), -1)).all(axis=1)
    return finite.reshape(-1, size).all(axis=1)


def elementary_effects(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Elementary effects of a Morris design, one per factor and trajectory.

    Consecutive points of a trajectory differ in one coordinate by ``+-delta``; the effect
    is the change of ``y`` over that change of ``x``. Used for the seed-noise estimate (on
    each replicate separately); the published statistics come from SALib.

    Args:
        X: Unit-hypercube design, shape ``(r * (k + 1), k)``.
        y: Outputs, shape ``(r * (k + 1),)``.

    Returns:
        Effects, shape ``(k, r)``.
    """
    n, k = X.shape
    r = n // (k + 1)
    Xt = X.reshape(r, k + 1, k)
    yt = y.reshape(r, k + 1)
    dX = np.diff(Xt, axis=1)                       # (r, k, k): one non-zero per step
    changed = np.argmax(np.abs(dX), axis=2)        # (r, k): which factor each step moves
    step = np.take_along_axis(dX, changed[..., None], axis=2)[..., 0]
    ee = np.diff(yt, axis=1) / step                # (r, k)
    out = np.empty((k, r))
    out[changed.T, np.arange(r)[None, :]] = ee.T
    return out


def effect_noise(X: np.ndarray, y: np.ndarray) -> float:
    """Seed-noise sd of one elementary effect of the replicate-mean output.

    Args:
        X: Unit-hypercube design (complete trajectories).
        y: Outputs per point and replicate, shape ``(n_points, R)``; NaN marks a run that
            did not finish (an effect of that replicate is then missing).

    Returns:
        ``sqrt(mean over effects of var_r(effect_r) / n)``, ``n`` the replicates with
        both ends of the effect; effects with fewer than two are left out (NaN if all are).
    """
    ee = np.stack([elementary_effects(X, y[:, r]) for r in range(y.shape[1])])  # (R, k, r)
    n = np.isfinite(ee).sum(axis=0)
    ok = n >= 2
    if not ok.any():
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # effects with < 2 replicates
        var = np.nanvar(ee, axis=0, ddof=1)
    return float(np.sqrt(np.mean(var[ok] / n[ok])))


def detection_level(noise: float | np.ndarray, trajectories: int,
                    z: float = DETECT_Z) -> float | np.ndarray:
    """mu_star a parameter without effect exceeds with probability ~0.1 % (z = 3).

    With pure noise of sd ``noise`` each elementary effect is ``N(0, noise^2)``; their
    mean absolute value over ``trajectories`` has mean ``noise sqrt(2/pi)`` and sd
    ``noise sqrt(1 - 2/pi) / sqrt(trajectories)``.
    """
    return noise * (math.sqrt(2 / math.pi)
                    + z * math.sqrt(1 - 2 / math.pi) / math.sqrt(trajectories))


def morris_indices(X: np.ndarray, y: np.ndarray, names: Sequence[str], levels: int, *,
                   seed: int = BOOTSTRAP_SEED) -> dict[str, np.ndarray]:
    """SALib's Morris statistics in the unit hypercube for one output.

    Args:
        X: Unit-hypercube design, complete trajectories only.
        y: One output per design point.
        names: Factor names.
        levels: The design's number of levels.
        seed: Seed of the bootstrap of ``mu_star_conf``.

    Returns:
        ``mu``, ``mu_star``, ``sigma`` and ``mu_star_conf`` (half-width of the 95 %
        bootstrap interval), one value per factor.
    """
    from SALib.analyze import morris

    problem = {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}
    si = morris.analyze(problem, np.asarray(X, dtype=float), np.asarray(y, dtype=float),
                        num_resamples=RESAMPLES, conf_level=CONF_LEVEL, num_levels=levels,
                        seed=np.random.default_rng(seed))
    return {key: np.asarray(si[key], dtype=float)
            for key in ("mu", "mu_star", "sigma", "mu_star_conf")}


def screen(results: xr.Dataset, exp: Experiment, targets: Sequence[Target]) -> xr.Dataset:
    """The screening Dataset: Morris statistics per target and parameter.

    Args:
        results: The sweep's results.
        exp: The Morris experiment that produced them.
        targets: Calibration targets.

    Returns:
        Dataset with dims ``target`` and ``parameter``: ``mu``, ``mu_star``, ``sigma``,
        ``mu_star_conf`` in the target's units, the same divided by the target's scale
        (``*_scaled``), ``noise_scaled(target)`` (sd of the seed noise of one averaged
        elementary effect, scaled), and ``low``/``high``/``unit`` on ``parameter``.
    """
    names = [f.name for f in exp.factors]
    k = len(names)
    stored = [str(p) for p in results["parameter"].values]
    if stored != names:
        raise ValueError(f"the store varies {stored}, the experiment {names}")
    X = np.asarray(results["design_unit"].transpose("sample", "parameter").values, dtype=float)
    values = target_values(results, targets, exp.base.start).load().values  # (S, R, T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # a point with no finished run
        y_mean = np.nanmean(values, axis=1)                   # (S, T): finished replicates
    keep = complete_trajectories(y_mean, k)
    rows = np.repeat(keep, k + 1)
    Xk, yk, vk = X[rows], y_mean[rows], values[rows]
    stats = {key: np.full((len(targets), k), np.nan)
             for key in ("mu", "mu_star", "sigma", "mu_star_conf")}
    noise = np.full(len(targets), np.nan)
    for j in range(len(targets)):
        si = morris_indices(Xk, yk[:, j], names, exp.options["levels"])
        for key in stats:
            stats[key][j] = si[key]
        noise[j] = effect_noise(Xk, vk[:, :, j])
    scale = np.array([target_scale(t) for t in targets])
    data = {key: (("target", "parameter"), v) for key, v in stats.items()}
    data |= {f"{key}_scaled": (("target", "parameter"), v / scale[:, None])
             for key, v in stats.items()}
    data["noise_scaled"] = ("target", noise / scale)
    detect = detection_level(noise / scale, int(keep.sum()))
    data["detect_scaled"] = ("target", detect)
    # Without a noise estimate (fewer than two replicates) only the threshold applies.
    floor = np.where(np.isnan(detect), 0.0, detect)
    data["matters"] = (("target", "parameter"),
                       (data["mu_star_scaled"][1] >= MATTERS)
                       & (data["mu_star_scaled"][1] >= floor[:, None]))
    data["scale"] = ("target", scale)
    status = results["status"].values
    ds = xr.Dataset(data, coords={
        "target": [t.id for t in targets], "parameter": names,
        "low": ("parameter", [float(f.low) for f in exp.factors]),
        "high": ("parameter", [float(f.high) for f in exp.factors]),
        "unit": ("parameter", [PARAMETERS[n].unit for n in names]),
        "baseline": ("parameter", [float(exp.base[n]) for n in names]),
    })
    ds.attrs.update(trajectories=int(keep.size), trajectories_used=int(keep.sum()),
                    runs=int(status.size), runs_failed=int((status == "failed").sum()),
                    levels=int(exp.options["levels"]),
                    replicates=int(results.sizes["replicate"]))
    return ds


# ============================================================================== report


def verdict(mu_star_scaled: float, detected: bool = True) -> str:
    """Fit, carry or fix, from a parameter's largest scaled effect over the targets.

    Args:
        mu_star_scaled: The largest ``mu_star / scale`` over the targets.
        detected: Whether that effect exceeds the seed-noise detection level.
    """
    if not detected or mu_star_scaled < MATTERS:
        return "fix"
    if mu_star_scaled >= CONSTRAINS:
        return "fit"
    return "carry"


def _g(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e5 else f"{x:,.0f}"


def largest_detected(ds: xr.Dataset) -> xr.DataArray:
    """Per parameter, the largest mu*/scale over the targets where it is detected (else 0)."""
    detected = ds.mu_star_scaled >= ds.detect_scaled.fillna(0.0)
    return ds.mu_star_scaled.where(detected, 0.0).max("target")


def recommendations(ds: xr.Dataset) -> dict[str, str]:
    """Parameter -> "fit", "carry" or "fix" (see :func:`verdict`)."""
    best = largest_detected(ds)
    return {str(p): verdict(float(best.sel(parameter=p))) for p in ds.parameter.values}


def split_halves(results: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
    """The results of the first and the second half of the trajectories.

    Each half is a Morris design of its own (trajectories are drawn independently), so the
    two screens of the halves are independent checks of each other's ranking.
    """
    k = results.sizes["parameter"]
    n = results.sizes["sample"] // (k + 1)
    cut = (n // 2) * (k + 1)
    return results.isel(sample=slice(0, cut)), results.isel(sample=slice(cut, None))


def stability(a: xr.Dataset, b: xr.Dataset) -> list[str]:
    """Markdown table comparing two independent screens per target."""
    from scipy.stats import spearmanr

    L = ["| target | Spearman rank correlation of mu* | matters in half 1 | in half 2 | "
         "in both |", "|---|---|---|---|---|"]
    for t in a.target.values:
        x = a.mu_star_scaled.sel(target=t)
        y = b.mu_star_scaled.sel(target=t, parameter=x.parameter)
        rho = spearmanr(x.values, y.values).statistic
        one = {str(p) for p, m in zip(a.parameter.values, a.matters.sel(target=t).values,
                                      strict=True) if m}
        two = {str(p) for p, m in zip(b.parameter.values, b.matters.sel(target=t).values,
                                      strict=True) if m}
        L.append(f"| {t} | {rho:.2f} | {len(one)} | {len(two)} | {len(one & two)} |")
    return L


def plain_reading(ds: xr.Dataset) -> list[str]:
    """A few generated sentences: counts, and the largest effect on each target."""
    rec = recommendations(ds)
    n = len(rec)
    fit = [p for p, v in rec.items() if v == "fit"]
    carry = [p for p, v in rec.items() if v == "carry"]
    partners: dict[str, list[str]] = {}
    for name, ids in fitted_by_target_table().items():
        for t in ids:
            partners.setdefault(t, []).append(name)
    L = [f"Of the {n} hand-set parameters, {len(fit) + len(carry)} matter for at least one "
         f"target: {len(fit)} move some target by more than 3 observation sd over their "
         f"range and {len(carry)} by 0.5-3 sd; the other {n - len(fit) - len(carry)} can "
         "stay fixed at their baseline values. Every large effect lands on a target that "
         "already has its own fitted parameter, so a target constrains the hand-set and the "
         "fitted parameter together, not each alone:", ""]
    for t in ds.target.values:
        sub = ds.mu_star_scaled.sel(target=t)
        detected = sub >= float(ds.detect_scaled.sel(target=t))
        top = sub.where(detected & ds.matters.sel(target=t), drop=True)
        top = top.sortby(top, ascending=False)
        named = ", ".join(f"`{p}` {float(v):.1f}" for p, v in
                          zip(top.parameter.values[:3], top.values[:3], strict=True))
        fitted = ", ".join(f"`{p}`" for p in partners.get(str(t), [])) or "none"
        L.append(f"- {t}: largest hand-set effects (mu*/sd) {named or 'none'}; fitted "
                 f"for it by calibrate_2025: {fitted}.")
    return L


def report(ds: xr.Dataset, exp: Experiment, summary: countysim.SweepSummary,
           workers: int, figure: str,
           halves: tuple[xr.Dataset, xr.Dataset] | None = None) -> str:
    """The Markdown report (docs/screening.md)."""
    ms = ds["mu_star_scaled"]
    best = largest_detected(ds)
    top = ms.max("target")
    order = sorted(ds.parameter.values, key=lambda p: (-float(best.sel(parameter=p)),
                                                       -float(top.sel(parameter=p))))
    rec = recommendations(ds)
    counts = {v: sum(1 for r in rec.values() if r == v) for v in ("fit", "carry", "fix")}
    r = ds.attrs["trajectories_used"]
    L = ["# Screening the hand-set parameters (Morris)", "",
         "<!-- Generated by experiments/screen_handset.py; do not edit by hand. -->", "",
         f"- Command: `.venv/bin/python experiments/screen_handset.py` (experiment "
         f"`experiments/screen_handset.toml`, seed {exp.seed})",
         f"- Date: {datetime.now(UTC):%Y-%m-%d}; countysim {countysim.__version__}",
         f"- Design: Morris, {ds.attrs['trajectories']} trajectories x "
         f"({len(ds.parameter)} parameters + 1) points, {ds.attrs['levels']} levels, "
         f"{ds.attrs['replicates']} replicates: {ds.attrs['runs']} runs of the 2025 "
         f"baseline to {exp.until}; {ds.attrs['runs_failed']} failed; "
         f"{r} trajectories used (a trajectory with a point without a finished run is "
         f"dropped whole); " + (f"this call ran {summary.ran} runs in {summary.seconds:.0f} s "
                                f"on {workers} worker(s)" if summary.ran else
                                "runs reused from the store (written by an earlier sweep "
                                "of this experiment)"),
         "- Which parameters: every registry parameter that is neither a lever nor one of "
         "the 12 fitted by `experiments/calibrate_2025.toml`, behavioural or an "
         "`assumption:` of the district; not the district's shape (villages, townships, "
         "district_seed), the spin-up length or the district's published facts.",
         "- Outputs: the calibration targets (scenarios/targets/litong_2025.toml), each read "
         "as the calibration reads it (its variable at the end of its window), mean over "
         "the replicates.",
         "- Effects: SALib `morris.analyze` in the unit hypercube, so mu* is the mean "
         "absolute change of a target when the parameter crosses its whole stated range; "
         "divided by the target's observation sd (for A6, the 1,000-1,999 range adds its "
         f"uniform variance). mu*_conf: half-width of the {CONF_LEVEL:.0%} bootstrap "
         f"interval ({RESAMPLES} resamples).", "",
         "## How to read it", "",
         f"A parameter *matters* for a target when mu*/sd >= {MATTERS} and mu* is above "
         "the seed-noise detection level. Carried over its range, a parameter with "
         f"mu*/sd = {MATTERS} adds an sd of about {MATTERS / math.sqrt(12):.2f} obs sd "
         "(a uniform range gives variance mu*^2/12): under 2 % of the observation variance, "
         "so anything below can be fixed. A parameter can be *fitted* when mu*/sd >= "
         f"{CONSTRAINS} for some target: its range then moves that target by more than "
         "the calibration's 3-sd cut-off, so history matching would cut it. Those that "
         "matter but stay below are *carried* as uncertainty over their stated range; the "
         "rest are *fixed* at their baseline values. sigma/sd large next to mu*/sd means "
         "the effect depends on the other parameters (interactions or a curved response).",
         "",
         "The *noise* row is the seed noise of one elementary effect of the replicate mean "
         "(from the spread of the effects over replicates); *detection* is the mu*/sd a "
         f"parameter without any effect exceeds with probability ~0.1 % ({r} trajectories: "
         f"noise x (0.80 + {DETECT_Z:g} x 0.60 / sqrt({r}))). Effects on the cadre targets "
         "(A7-A9, A29) are close to it: those counts are small and noisy.", "",
         "District parameters share one random generator with the rest of the district "
         "draw (`countysim.core.district`): changing `idle_buildings_mean` (Poisson draws "
         "of varying length) or `firms` (the number of firms drawn) also redraws the firms "
         "and cadres drawn after them. Their modest effects on the cadre targets (A7-A9, "
         "A29) are most likely that redraw (the `district_seed` uncertainty the ensemble "
         "carries anyway), not a mechanism.",
         "",
         "## What it says", "", *plain_reading(ds), "",
         f"![Morris screening]({figure})", "",
         "## Largest effect per parameter", "",
         "mu*/sd per target (bold: *matters*; plain above 0.5 but not detected); the "
         "recommendation follows the largest detected value. "
         f"Recommendations: {counts['fit']} fit, {counts['carry']} carry, "
         f"{counts['fix']} fix.", "",
         "| parameter | range | " + " | ".join(ds.target.values) + " | recommendation |",
         "|---|---|" + "---|" * len(ds.target) + "---|"]
    for p in order:
        row = ds.sel(parameter=p)
        cells = []
        for t in ds.target.values:
            v = float(ms.sel(target=t, parameter=p))
            cells.append(f"**{v:.2f}**" if bool(ds.matters.sel(target=t, parameter=p))
                         else f"{v:.2f}")
        L.append(f"| `{p}` | [{_g(float(row.low))}, {_g(float(row.high))}] {row.unit.item()} | "
                 + " | ".join(cells) + f" | {rec[str(p)]} |")
    L.append("| *noise* | | " + " | ".join(f"{float(v):.2f}" for v in ds.noise_scaled.values)
             + " | |")
    L.append("| *detection* | | " + " | ".join(f"{float(v):.2f}"
                                               for v in ds.detect_scaled.values) + " | |")
    L += ["", "## Per target: the parameters that matter", "",
          "mu*/sd (+- the 95 % bootstrap half-width, sigma/sd), largest first.", ""]
    for t in ds.target.values:
        sub = ds.sel(target=t)
        idx = np.argsort(-sub.mu_star_scaled.values)
        hits = [i for i in idx if bool(sub.matters.values[i])]
        L.append(f"**{t}** (sd {_g(float(sub.scale))}): " + (", ".join(
            f"`{sub.parameter.values[i]}` {sub.mu_star_scaled.values[i]:.2f} "
            f"(+-{sub.mu_star_conf_scaled.values[i]:.2f}, {sub.sigma_scaled.values[i]:.2f})"
            for i in hits) or "none"))
        L.append("")
    if halves is not None:
        a, b = halves
        L += ["## Stability of the ranking", "",
              f"The trajectories split in two halves ({a.attrs['trajectories_used']} and "
              f"{b.attrs['trajectories_used']} used), each an independent Morris design, "
              "screened separately (each half's own noise and detection level, so fewer "
              "effects clear it):", "", *stability(a, b), ""]
    L += ["## Stated ranges", "",
          "| parameter | baseline | range | unit | why this range |", "|---|---|---|---|---|"]
    for p in ds.parameter.values:
        row = ds.sel(parameter=p)
        L.append(f"| `{p}` | {_g(float(row.baseline))} | [{_g(float(row.low))}, "
                 f"{_g(float(row.high))}] | {row.unit.item()} | {RANGE_WHY.get(str(p), '')} |")
    return "\n".join(L) + "\n"


def figure(ds: xr.Dataset, path: Path) -> None:
    """Heat map of mu*/sd, parameters that matter somewhere, by target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = ds.mu_star_scaled.max("target")
    shown = top.where(top >= MATTERS / 2, drop=True).sortby(lambda d: d, ascending=False)
    sub = ds.mu_star_scaled.sel(parameter=shown.parameter).transpose("parameter", "target")
    fig, ax = plt.subplots(figsize=(7.8, 0.32 * len(sub.parameter) + 1.5))
    im = ax.imshow(np.log10(np.clip(sub.values, 1e-2, None)), cmap="viridis", aspect="auto",
                   vmin=-2, vmax=max(1.0, float(np.log10(sub.max()))))
    ax.set_xticks(range(len(sub.target)), sub.target.values)
    ax.set_yticks(range(len(sub.parameter)), sub.parameter.values, fontsize=8)
    for (i, j), v in np.ndenumerate(sub.values):
        ax.text(j, i, f"{v:.1f}" if v >= 0.1 else "", ha="center", va="center", fontsize=6,
                color="white" if v < 3 else "black")
    fig.colorbar(im, ax=ax, label="log10 mu* / observation sd")
    ax.set_title(f"Morris mu*/sd, parameters with mu*/sd >= {MATTERS / 2:g} somewhere")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)  # atomic: a reader never sees half a figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--store", type=Path, default=REPO / "runs" / "screen_handset.zarr")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screening.md")
    parser.add_argument("--netcdf", type=Path, default=REPO / "runs" / "screen_handset.nc")
    args = parser.parse_args()
    exp = load_experiment(EXPERIMENT)
    summary = countysim.sweep(exp, args.store, workers=args.workers,
                              resume=args.store.exists())
    print(summary)
    targets = load_targets(TARGETS)
    ds = screen(countysim.open_results(args.store), exp, targets)
    from countysim.sweeps.files import write_netcdf

    write_netcdf(ds, args.netcdf)
    fig_path = args.out.parent / "figures" / "screen_handset.png"
    figure(ds, fig_path)
    results = countysim.open_results(args.store)
    halves = tuple(screen(half, exp, targets) for half in split_halves(results))
    text = report(ds, exp, summary, args.workers, f"figures/{fig_path.name}", halves)
    write_atomically(args.out, text.encode())
    print(f"wrote {args.out} and {fig_path}")


if __name__ == "__main__":
    main()
