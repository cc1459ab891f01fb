"""Sensitivity along time: Morris screening and Sobol' indices of outcomes, per year.

A sweep made with ``[design] kind = "morris"`` or ``kind = "sobol"`` (see
:mod:`countysim.sweeps.experiment`) stores the design's unit-hypercube points as
``design_unit(sample, parameter)`` and the SALib problem as the attribute
``salib_problem``. :func:`analyse` reduces every run to one number per year with an
*outcome reducer* (a function of the results Dataset returning ``(sample, replicate,
year)``; :func:`yearly` makes the usual ones) and runs SALib's ``analyze`` once per
outcome and year::

    from countysim.forecasting import sensitivity as sa

    results = countysim.open_results("runs/sensitivity_2030.zarr")
    indices = sa.analyse(results, {
        "urban_placements": sa.yearly("urban_placements_ytd", "december"),
        "min_collective_income": sa.yearly("collective_income", "sum", village="min"),
    })
    sa.plot_indices(indices)                     # mu_star (Morris) or ST (Sobol') by year

The result has dims ``outcome`` x ``factor`` x ``year`` with ``mu``, ``mu_star``,
``sigma``, ``mu_star_conf`` (Morris) or ``S1``, ``S1_conf``, ``ST``, ``ST_conf``
(Sobol'), and ``n_groups(outcome, year)``, the number of trajectories or Saltelli
groups the indices rest on.

Failed runs. The quantity analysed is the *expected* outcome at a design point: the mean
over the replicates that finished (status ``done``) and gave a finite value, so seed
noise is averaged out, not attributed to a factor. A design point with no usable
replicate has no value; then the whole block of design points that the estimator needs
together is dropped: a Morris trajectory (``D + 1`` points: an elementary effect needs
both ends of every step) or a Saltelli group (the ``D + 2`` or ``2D + 2`` rows built
from one base point: each row enters the estimators only with its group's ``A`` and
``B`` rows). Each block is an independent draw of the design, so the estimators stay
valid on the blocks kept; only their precision falls, which the bootstrap intervals
show. Nothing is imputed: an imputed value would be invented exactly where the model
failed. The drop is done per year, since an outcome can be undefined in some years only
(a growth rate without a previous year). If failures cluster in one corner of the
factor space the indices describe the rest of it: ``n_groups`` and the attribute
``blocks_total`` show how much was dropped, and :func:`analyse` warns when it is more
than :data:`DROP_WARNING` of the blocks.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from ..sweeps.store import DONE, open_results

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DROP_WARNING", "INDICES", "Reducer", "analyse", "plot_indices", "yearly"]

#: The indices each method returns, in order; the first one is what the plot shows.
INDICES = {"morris": ("mu_star", "mu_star_conf", "mu", "sigma"),
           "sobol": ("ST", "ST_conf", "S1", "S1_conf")}
#: Warn when more than this share of the design's blocks is dropped for failed runs: past
#: a tenth the kept blocks may no longer cover the factor space evenly.
DROP_WARNING = 0.1
#: Bootstrap resamples of SALib's confidence intervals (SALib's own default is 100; 1,000
#: makes the 95 % bounds stable to about a tenth of their width at negligible cost).
NUM_RESAMPLES = 1000

Reducer = Callable[[xr.Dataset], xr.DataArray]


def yearly(variable: str, how: str = "december", *, village: str = "mean") -> Reducer:
    """An outcome reducer: one value of ``variable`` per run and calendar year.

    Args:
        variable: A run variable with a ``time`` dim (e.g. ``"urban_placements_ytd"``).
        how: ``"december"`` (the year's last month: a stock, or a year-to-date total),
            ``"sum"`` (a monthly flow over the year) or ``"mean"`` (a monthly level).
        village: For a variable with a ``village`` dim, how villages are combined:
            ``"mean"``, ``"min"``, ``"max"`` or ``"sum"`` (``"min"`` over villages is the
            outcome of a target every village must meet).

    Returns:
        A function of a results Dataset returning ``variable`` with dims ``sample``,
        ``replicate`` and ``year`` (years with all twelve months only, except with
        ``"december"``, which needs December).
    """
    if how not in ("december", "sum", "mean"):
        raise ValueError(f"how: expected 'december', 'sum' or 'mean', got {how!r}")
    if village not in ("mean", "min", "max", "sum"):
        raise ValueError(f"village: expected 'mean', 'min', 'max' or 'sum', got {village!r}")

    def reduce(results: xr.Dataset) -> xr.DataArray:
        da = results[variable]
        if "village" in da.dims:
            da = getattr(da, village)("village")
        months = da["time"].dt.month
        years = da["time"].dt.year
        if how == "december":
            da = da.where(months == 12, drop=True)
            return da.assign_coords(year=("time", da["time"].dt.year.values)).swap_dims(
                time="year").drop_vars("time")
        # Only complete years: a part year's sum would not be comparable with the others.
        full = [int(y) for y, n in zip(*np.unique(years.values, return_counts=True),
                                        strict=True) if n == 12]
        grouped = getattr(da.groupby(years.rename("year")), how)("time")
        return grouped.sel(year=full)

    reduce.__name__ = f"yearly({variable!r}, {how!r}, village={village!r})"
    return reduce


def analyse(results: xr.Dataset | str | Path, outcomes: Mapping[str, Reducer], *,
            num_resamples: int = NUM_RESAMPLES, conf_level: float = 0.95,
            seed: int = 0) -> xr.Dataset:
    """Morris or Sobol' indices of each outcome to the design's factors, year by year.

    Args:
        results: A sweep's results (:func:`countysim.open_results`) or its store path;
            its design kind must be ``"morris"`` or ``"sobol"``.
        outcomes: Name -> reducer returning ``(sample, replicate, year)``
            (see :func:`yearly`).
        num_resamples: Bootstrap resamples for the confidence intervals.
        conf_level: Confidence level of the ``*_conf`` half-widths.
        seed: Root seed of the bootstraps; outcome ``k`` and year ``j`` use the child
            ``SeedSequence(seed, spawn_key=(k, j))``, so each index is reproducible alone.

    Returns:
        Dataset with dims ``outcome``, ``factor``, ``year`` (see the module docstring).

    Raises:
        ValueError: The results are not from a Morris or Sobol' design, or a reducer does
            not return dims ``sample``, ``replicate`` and ``year``.
    """
    from SALib.analyze import morris, sobol

    if not isinstance(results, xr.Dataset):
        results = open_results(results)
    design = json.loads(results.attrs.get("design", "{}"))
    kind = design.get("kind")
    if kind not in INDICES or "design_unit" not in results:
        raise ValueError(f"sensitivity needs a sweep with design kind 'morris' or 'sobol' "
                         f"(its design_unit and salib_problem), got kind {kind!r}")
    options = design.get("options", {})
    problem = json.loads(results.attrs["salib_problem"])
    factors = list(problem["names"])
    d = len(factors)
    x = np.asarray(results["design_unit"].transpose("sample", "parameter").values, float)
    if kind == "morris":
        block = d + 1
    else:
        block = (2 * d + 2) if options.get("second_order") else (d + 2)
    n_samples = x.shape[0]
    if n_samples % block:
        raise ValueError(f"{n_samples} samples are not whole blocks of {block} "
                         f"({kind} design with {d} factors)")
    done = (results["status"] == DONE) if "status" in results else None

    per_outcome = []
    for k, (name, reducer) in enumerate(outcomes.items()):
        y = reducer(results)
        if not {"sample", "replicate", "year"} <= set(y.dims) or y.ndim != 3:
            raise ValueError(f"outcome {name!r}: the reducer must return dims (sample, "
                             f"replicate, year), got {y.dims}")
        if done is not None:
            y = y.where(done)
        # Expected outcome at each design point: mean over the replicates that finished.
        y = y.where(np.isfinite(y)).mean("replicate", skipna=True)
        y = y.transpose("sample", "year").load()
        years = y["year"].values.astype(int)
        out = {v: np.full((d, len(years)), np.nan) for v in INDICES[kind]}
        n_groups = np.zeros(len(years), dtype=np.int64)
        for j, year in enumerate(years):
            values = y.sel(year=year).values.reshape(-1, block)
            keep = np.isfinite(values).all(axis=1)
            n_groups[j] = keep.sum()
            if n_groups[j] < 2:
                continue  # no spread to estimate from: the indices stay NaN
            if 1 - keep.mean() > DROP_WARNING:
                warnings.warn(f"outcome {name!r}, {year}: {int((~keep).sum())} of "
                              f"{keep.size} {kind} blocks dropped for failed runs",
                              stacklevel=2)
            rng_seed = int(np.random.SeedSequence(seed, spawn_key=(k, j)).generate_state(1)[0])
            y_kept = values[keep].ravel()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 for a constant outcome
                if kind == "morris":
                    x_kept = x.reshape(-1, block, d)[keep].reshape(-1, d)
                    res = morris.analyze(problem, x_kept, y_kept, num_resamples=num_resamples,
                                         conf_level=conf_level,
                                         num_levels=int(options.get("levels", 4)),
                                         seed=rng_seed)
                else:
                    res = sobol.analyze(problem, y_kept,
                                        calc_second_order=bool(options.get("second_order")),
                                        num_resamples=num_resamples, conf_level=conf_level,
                                        seed=rng_seed)
            for v in INDICES[kind]:
                out[v][:, j] = np.asarray(res[v], dtype=float)
        ds = xr.Dataset({v: (("factor", "year"), a) for v, a in out.items()},
                        coords={"factor": factors, "year": years})
        ds["n_groups"] = ("year", n_groups)
        per_outcome.append(ds.expand_dims(outcome=[name]))
    out_ds = xr.concat(per_outcome, dim="outcome", join="outer")
    for v, text in _LONG_NAMES[kind].items():
        out_ds[v].attrs["long_name"] = text
    out_ds["n_groups"].attrs["long_name"] = (
        f"{'trajectories' if kind == 'morris' else 'Saltelli groups'} used (blocks whose "
        "design points all had a finished run)")
    out_ds.attrs.update({
        "method": kind, "blocks_total": n_samples // block, "block_size": block,
        "conf_level": conf_level, "num_resamples": num_resamples, "seed": seed,
        "factor_space": "unit hypercube of each factor's range (design_unit)",
        "failed_runs": "mean over finished replicates per design point; blocks with a "
                       "point lacking any are dropped (see countysim.forecasting.sensitivity)",
        "experiment_name": results.attrs.get("experiment_name", ""),
    })
    return out_ds


_LONG_NAMES = {
    "morris": {"mu_star": "mean absolute elementary effect (outcome units per factor range)",
               "mu_star_conf": "bootstrap half-width of mu_star's confidence interval",
               "mu": "mean elementary effect", "sigma": "sd of the elementary effects "
               "(interactions and non-linearity)"},
    "sobol": {"S1": "first-order Sobol' index", "S1_conf": "half-width of S1's interval",
              "ST": "total-order Sobol' index", "ST_conf": "half-width of ST's interval"},
}


def plot_indices(indices: xr.Dataset, index: str | None = None, *,
                 outcomes: list[str] | None = None, fig: Figure | None = None) -> Figure:
    """Draw a sensitivity index over time: one panel per outcome, one line per factor.

    Args:
        indices: The Dataset of :func:`analyse`.
        index: ``"mu_star"``, ``"mu"``, ``"sigma"``, ``"S1"`` or ``"ST"``; default the
            method's main one (``mu_star`` for Morris, ``ST`` for Sobol').
        outcomes: The outcomes to draw (default all).
        fig: A figure to draw on (default a new one).

    Returns:
        The figure; the shaded band is the index's confidence interval where it has one.
    """
    import matplotlib.pyplot as plt

    index = index or INDICES[indices.attrs["method"]][0]
    if index not in indices:
        raise ValueError(f"index: {index!r} is not in the Dataset; it has "
                         + ", ".join(v for v in indices.data_vars if v != "n_groups"))
    outcomes = outcomes or [str(o) for o in indices["outcome"].values]
    n = len(outcomes)
    if fig is None:
        fig = plt.figure(figsize=(5.5 * min(n, 3), 3.6 * -(-n // 3)), layout="constrained")
    axes = fig.subplots(-(-n // 3), min(n, 3), squeeze=False).ravel()
    conf = f"{index}_conf" if f"{index}_conf" in indices else None
    years = indices["year"].values
    # 20 distinct colours, and a second line style past them, so no two factors look alike.
    colours = plt.get_cmap("tab20").colors
    for ax, outcome in zip(axes, outcomes, strict=False):
        sub = indices.sel(outcome=outcome)
        for k, factor in enumerate(indices["factor"].values):
            line = sub[index].sel(factor=factor).values
            colour = colours[(2 * k) % 20 if k < 10 else (2 * k + 1) % 20]
            ax.plot(years, line, marker="o", ms=3, color=colour, label=str(factor),
                    ls="-" if k < 20 else "--")
            if conf is not None:
                half = sub[conf].sel(factor=factor).values
                ax.fill_between(years, line - half, line + half, color=colour, alpha=0.12,
                                lw=0)
        ax.set_title(outcome)
        ax.set_xlabel("year")
        ax.set_ylabel(index)
        ax.set_xticks(years)
    for ax in axes[n:]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", fontsize="small",
               ncol=min(len(labels), 6))
    fig.suptitle(f"{index} by year ({indices.attrs['method']}; bands: "
                 f"{indices.attrs['conf_level']:.0%} bootstrap intervals)")
    return fig
