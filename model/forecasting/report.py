"""The forecast report: Markdown with PNG figures, from a forecast Dataset.

``countysim report FORECAST --out DIR`` (or :func:`write_report`) reads the Dataset that
``countysim forecast`` wrote and writes ``DIR/report.md`` with its figures in
``DIR/figures/``:

* what was run: packages, ensemble, members, replicates, provenance;
* the targets and the years they are read in;
* the probability of attainment per package and target, with its 95 % interval, as a
  table and a heat map, year by year where a target holds every year;
* for every target whose probability is 0 or 1 under every package, why: where the
  ensemble's whole spread of its value lies against the threshold, and whether the
  identity audit finds the indicator fixed by one input
  (:mod:`countysim.forecasting.certainty`; the audit's table is given with ``--audit``);
* paired differences from the first package (same member, same seed), of attainment and
  of the targets' indicators;
* fan charts (5/25/50/75/95 % over runs) of each target's indicator, per package;
* the township breakdown of per-village targets;
* optional: sensitivity indices over time and a PRIM box (scenario discovery), from the
  Datasets/files given with ``--sensitivity`` and ``--prim``.

The folder is written atomically: everything goes to a temporary folder beside it, which
is renamed into place, so a failure leaves the previous report intact. An existing
folder is replaced only if it holds nothing but a report's files (``report.md`` and
``figures/*.png``); a folder with anything else is refused, never emptied. A symlinked
folder is resolved first: the report replaces the folder the link points to.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from scipy import stats

from ..core.digest import HDF5_SIGNATURE, DigestError, verified_bytes
from ..core.errors import InputError
from ..sweeps.files import OutputError, describe_os_error, inside_store, real_path
from . import certainty, figures

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["REQUIRED", "ReportError", "check_forecast", "check_prim", "check_sensitivity",
           "open_extra", "open_forecast", "paired_difference", "prim_box_dataset", "render",
           "sensitivity_indices", "write_report"]

# The variables a forecast Dataset must have for the report, with their dims.
REQUIRED = {
    "probability": ("package", "target", "year"),
    "probability_low": ("package", "target", "year"),
    "probability_high": ("package", "target", "year"),
    "n": ("package", "target", "year"),
    "fan": ("package", "target", "year", "quantile"),
}
# Coordinates on ``target`` the report reads (threshold and direction say what is met).
REQUIRED_TARGET_COORDS = ("threshold", "direction")
# PNG resolution of the figures (dots per inch): legible on a docs page at 100 % zoom.
DPI = 110
# Two-sided level of the paired-difference intervals, as for the attainment intervals.
LEVEL = 0.95
REPORT = "report.md"
FIGURES = "figures"
# Provenance attributes shown first, in this order; the rest follow alphabetically.
PROVENANCE = ("experiment", "experiment_name", "ensemble", "seed", "seed_entropy",
              "failed_runs", "pending_runs", "interval", "countysim_version", "git_commit",
              "created")
# Attributes the report shows in other rows or sections (or, for the title, as its title).
SHOWN_ELSEWHERE = ("synthetic", "title", "runs_per_package", "members", "replicates",
                   "pairing", "targets_toml", "targets_illustrative")
# Attributes too long for the table (a resolved scenario's TOML text).
LONG_ATTR = 200
FACTOR_DIMS = figures.FACTOR_DIMS
# The indices shown per method of countysim.forecasting.sensitivity: Morris's mu_star
# (importance) and sigma (interactions, non-linearity); Sobol's total and first order.
MAIN_INDICES = {"morris": ("mu_star", "sigma"), "sobol": ("ST", "S1")}
# Factors shown per outcome in the sensitivity summary (the most influential).
TOP_FACTORS = 5


class ReportError(InputError):
    """A forecast (or sensitivity/PRIM input) the report cannot use: one line, exit 2."""


def open_forecast(path: str | Path) -> xr.Dataset:
    """Open a forecast Dataset (NetCDF file or Zarr store) and check it.

    Args:
        path: The file ``countysim forecast --out`` wrote.

    Returns:
        The Dataset, loaded into memory.

    Raises:
        ReportError: The file is missing, unreadable or lacks a required variable.
    """
    ds = _open(path, "forecast", "write one with `countysim forecast EXPERIMENT --out PATH`")
    check_forecast(ds, path)
    return ds


def _open(path: str | Path, what: str, hint: str) -> xr.Dataset:
    path = Path(path)
    if not path.exists():
        raise ReportError(path, "<file>", f"{what} file {path} does not exist; {hint}")
    try:
        if path.is_dir():
            with xr.open_zarr(path, consolidated=False) as ds:  # as write_forecast writes
                return ds.load()
        data = path.read_bytes()
        if data.startswith(HDF5_SIGNATURE):  # NetCDF-4: as the package writes, digested
            verified_bytes(data, str(path))
        with xr.open_dataset(io.BytesIO(data)) as ds:
            return ds.load()
    except DigestError as exc:
        raise ReportError(path, exc.key, exc.problem) from None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        why = " ".join(str(exc).split())[:200]
        raise ReportError(path, "<file>", f"not a NetCDF file or Zarr store xarray can "
                          f"read ({type(exc).__name__}: {why})") from None


def open_extra(path: str | Path, kind: str) -> xr.Dataset:
    """Open an optional input of the report: sensitivity indices or a PRIM result.

    Args:
        path: A NetCDF file or Zarr store.
        kind: ``"sensitivity"`` or ``"prim"``.

    Returns:
        The Dataset, loaded and checked (see :func:`check_sensitivity`, :func:`check_prim`).

    Raises:
        ReportError: Missing or unreadable file, or a Dataset the report cannot use.
    """
    if kind not in ("sensitivity", "prim"):
        raise ValueError(f"kind must be 'sensitivity' or 'prim', got {kind!r}")
    hint = ("write one with countysim.forecasting.sensitivity" if kind == "sensitivity"
            else "write one with countysim.forecasting.report.prim_box_dataset")
    ds = _open(path, kind, hint)
    (check_sensitivity if kind == "sensitivity" else check_prim)(ds, path)
    return ds


def check_forecast(ds: xr.Dataset, source: str | Path = "<forecast>") -> None:
    """Check that ``ds`` has what the report reads.

    Args:
        ds: A forecast Dataset.
        source: The file it came from, for the message.

    Raises:
        ReportError: A required variable, dim or target coordinate is missing.
    """
    needed = ", ".join(f"{v}({', '.join(d)})" for v, d in REQUIRED.items())
    for name, dims in REQUIRED.items():
        if name not in ds:
            raise ReportError(source, name, f"missing: a forecast Dataset needs {needed} "
                              "(written by `countysim forecast`)")
        if set(ds[name].dims) != set(dims):
            raise ReportError(source, name, f"has dims ({', '.join(ds[name].dims)}), "
                              f"needs ({', '.join(dims)})")
    for coord in REQUIRED_TARGET_COORDS:
        if coord not in ds.coords or ds[coord].dims != ("target",):
            raise ReportError(source, coord, "missing: a coordinate on target is needed "
                              f"({', '.join(REQUIRED_TARGET_COORDS)})")
    if ds.sizes["package"] == 0 or ds.sizes["target"] == 0:
        raise ReportError(source, "package" if ds.sizes["package"] == 0 else "target",
                          "is empty: the forecast has nothing to report")


def _factor_dim(ds: xr.Dataset) -> str | None:
    return next((d for d in FACTOR_DIMS if d in ds.dims), None)


def sensitivity_indices(ds: xr.Dataset) -> list[str]:
    """The index variables of a sensitivity Dataset the report shows.

    Those with dims ``year`` and a factor dim, at most one more (the outcome), and not a
    confidence half-width (``*_conf``); of the indices of
    :func:`countysim.forecasting.sensitivity.analyse`, the main ones of its ``method``
    (:data:`MAIN_INDICES`).
    """
    factor = _factor_dim(ds)
    found = [str(v) for v, da in ds.data_vars.items()
             if factor is not None and {"year", factor} <= set(da.dims)
             and len(da.dims) <= 3 and not str(v).endswith("_conf")]
    main = [v for v in MAIN_INDICES.get(str(ds.attrs.get("method", "")), ()) if v in found]
    return main or found


def check_sensitivity(ds: xr.Dataset, source: str | Path = "<sensitivity>") -> None:
    """Check a sensitivity Dataset: indices over ``year`` and a factor dim.

    Raises:
        ReportError: No ``year`` dim, no factor dim, or no index variable.
    """
    if "year" not in ds.dims:
        raise ReportError(source, "year", "missing: sensitivity indices must be given per "
                          "year (a year dim)")
    if _factor_dim(ds) is None:
        raise ReportError(source, "<dims>", f"no factor dim: one of {', '.join(FACTOR_DIMS)} "
                          "is needed (the parameters or levers the indices are of)")
    if not sensitivity_indices(ds):
        raise ReportError(source, "<variables>", "no index variable with dims (year, "
                          "factor[, outcome]) besides *_conf half-widths")


def check_prim(ds: xr.Dataset, source: str | Path = "<prim>") -> None:
    """Check a PRIM result: the box's limits along a factor dim.

    Raises:
        ReportError: No factor dim, or no ``box_low``/``box_high`` variables on it.
    """
    factor = _factor_dim(ds)
    if factor is None:
        raise ReportError(source, "<dims>", f"no factor dim: one of {', '.join(FACTOR_DIMS)} "
                          "is needed (the uncertainties the box restricts)")
    for name in ("box_low", "box_high"):
        if name not in ds or ds[name].dims != (factor,):
            raise ReportError(source, name, f"missing: a PRIM result needs box_low({factor}) "
                              f"and box_high({factor}), the box's limits")


def prim_box_dataset(box: Any, i: int | None = None, *, description: str = "") -> xr.Dataset:
    """A PRIM box of the EMA Workbench as a Dataset the report reads (``--prim``).

    Save it with ``prim_box_dataset(box).to_netcdf("prim.nc")`` and pass the file to
    ``countysim report ... --prim prim.nc``. Only numeric dimensions have limits;
    categorical ones (sets of values) are listed in the ``categorical`` attribute.

    Args:
        box: An ``ema_workbench.analysis.prim.PrimBox`` (``Prim(x, y).find_box()``); read
            through its ``box_lims``, ``prim.box_init`` and ``peeling_trajectory``, so
            ``ema_workbench`` is not imported here.
        i: The peeling step (default the box's selected one).
        description: What the runs of interest are, e.g. ``"runs missing the 2027
            collective-income target"`` (the report's question).

    Returns:
        ``box_low``, ``box_high``, ``range_low``, ``range_high`` and ``restricted`` along
        ``factor``; attributes ``coverage``, ``density``, ``mass``, ``box``,
        ``description``.
    """
    i = box._cur_box if i is None else int(i)
    limits, full = box.box_lims[i], box.prim.box_init
    row = box.peeling_trajectory.iloc[i]
    numeric, categorical = [], []
    for name in limits.columns:
        if any(isinstance(v, set | frozenset) for v in (*limits[name], *full[name])):
            categorical.append(f"{name}: {sorted(limits[name].iloc[0], key=str)}")
        else:
            numeric.append(str(name))

    def row_of(frame: Any, k: int) -> np.ndarray:  # row 0: lower limits, row 1: upper
        return np.array([float(frame[c].iloc[k]) for c in numeric])

    low, high, r0, r1 = row_of(limits, 0), row_of(limits, 1), row_of(full, 0), row_of(full, 1)
    restricted = ~(np.isclose(low, r0) & np.isclose(high, r1))
    return xr.Dataset(
        {"box_low": ("factor", low, {"long_name": "lower limit of the box"}),
         "box_high": ("factor", high, {"long_name": "upper limit of the box"}),
         "range_low": ("factor", r0, {"long_name": "lower end of the range searched"}),
         "range_high": ("factor", r1, {"long_name": "upper end of the range searched"}),
         "restricted": ("factor", restricted.astype(np.int8),
                        {"long_name": "1 if the box restricts the factor"})},
        coords={"factor": np.array(numeric, dtype=str)},
        attrs={"coverage": float(row["coverage"]), "density": float(row["density"]),
               "mass": float(row["mass"]), "box": i, "description": description,
               "categorical": "; ".join(categorical)})


# ------------------------------------------------------------------ numbers


def paired_difference(ds: xr.Dataset, package: str, reference: str,
                      level: float = LEVEL, *, variable: str = "attained") -> xr.Dataset:
    """Difference between two packages, paired run by run: attainment or the value.

    Runs with the same index share ensemble member and seed (common random numbers), so
    the difference is taken within each run. Runs of one member are not independent (they
    share the parameters), so the differences are first averaged within each member and
    the interval is a t interval over members (over runs if there is no ``member``).

    Args:
        ds: A forecast Dataset with ``attained`` and ``value`` ``(package, run, target,
            year)``.
        package: The package compared.
        reference: The package it is compared with.
        level: Two-sided level of the interval.
        variable: ``"attained"`` (difference of probabilities) or ``"value"`` (of the
            targets' indicators, in their units).

    Returns:
        ``difference``, ``difference_low``, ``difference_high``, ``groups`` (members that
        count) and ``runs_differing`` (runs whose two values differ) over ``(target,
        year)``; NaN where fewer than 2 members count.
    """
    diff = ds[variable].sel(package=package) - ds[variable].sel(package=reference)
    differing = (diff != 0).where(diff.notnull()).sum("run")
    if _has_members(ds):
        diff = diff.groupby("member").mean("run")  # NaN if no run of the member counts
        dim = "member"
    else:
        dim = "run"
    count = diff.notnull().sum(dim)
    mean = diff.mean(dim)
    sem = diff.std(dim, ddof=1) / np.sqrt(count)
    t = xr.apply_ufunc(lambda k: stats.t.ppf(0.5 + level / 2, np.maximum(k - 1, 1)), count)
    ok = count >= 2
    return xr.Dataset({"difference": mean.where(ok),
                       "difference_low": (mean - t * sem).where(ok),
                       "difference_high": (mean + t * sem).where(ok),
                       "groups": count, "runs_differing": differing.astype(np.int64)})


def _has_members(ds: xr.Dataset) -> bool:
    """Whether the runs come from ensemble members (``member`` -1: no ensemble)."""
    return "member" in ds.coords and bool((ds["member"].values >= 0).any())


def _p(ds: xr.Dataset, package: str, target: str, year: int) -> tuple[float, float, float]:
    sel = {"package": package, "target": target, "year": year}
    return tuple(float(ds[v].sel(sel)) for v in ("probability", "probability_low",
                                                 "probability_high"))


def _cell(p: float, low: float, high: float) -> str:
    return "n/a" if not np.isfinite(p) else f"{p:.2f} [{low:.2f}, {high:.2f}]"


def _names(ds: xr.Dataset, dim: str) -> list[str]:
    return [str(v) for v in ds[dim].values]


def _target_text(ds: xr.Dataset, t: str) -> str:
    units = str(ds["units"].sel(target=t).values) if "units" in ds.coords else ""
    threshold = float(ds["threshold"].sel(target=t))
    return f"{ds['direction'].sel(target=t).values} {figures.format_value(threshold, units)}"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return [*out, ""]


def _years_text(years: list[int]) -> str:
    if not years:
        return "never (no run counted)"
    if len(years) > 2 and years == list(range(years[0], years[-1] + 1)):
        return f"every year {years[0]}-{years[-1]}"
    return ", ".join(str(y) for y in years)


# ------------------------------------------------------------------ sections


def _provenance(ds: xr.Dataset, command: str | None) -> list[str]:
    packages = _names(ds, "package")
    runs = ds.sizes.get("run")
    members = (len(np.unique(ds["member"].values)) if _has_members(ds) else
               ds.attrs.get("members"))
    replicates = (len(np.unique(ds["replicate"].values)) if "replicate" in ds.coords else
                  ds.attrs.get("replicates"))
    rows = [["packages", ", ".join(f"`{p}`" for p in packages)]]
    if runs is not None:
        detail = (f" ({members} ensemble members x {replicates} replicates)"
                  if members is not None and replicates is not None else "")
        if "member" in ds.coords and not _has_members(ds):
            detail = (f" (no ensemble: the packages' own parameter values, {replicates} "
                      "seeds; the probabilities carry seed noise only)")
        rows.append(["runs per package", f"{runs}{detail}; run *i* of every package has "
                     "the same member and seed (paired)"])
    if ds.sizes.get("parameter", 0) > 0:
        rows.append(["parameters varied by the ensemble",
                     ", ".join(f"`{p}`" for p in _names(ds, "parameter"))])
    rows.append(["years", f"{int(ds['year'].min())}-{int(ds['year'].max())}"])
    keys = [k for k in PROVENANCE if k in ds.attrs]
    keys += sorted(k for k in ds.attrs if k not in PROVENANCE and k not in SHOWN_ELSEWHERE)
    for k in keys:
        text = " ".join(str(ds.attrs[k]).split())
        if len(text) > LONG_ATTR:
            text = f"({len(str(ds.attrs[k])):,} characters, in the Dataset's attributes)"
        rows.append([k.replace("_", " "), text.replace("|", "\\|")])
    lines = ["## What was run", ""]
    if command:
        lines += [f"Made with `{command}`.", ""]
    return lines + _md_table(["", ""], rows)


MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
               "Dec")


def _targets(ds: xr.Dataset) -> list[str]:
    rows = []
    definitions = certainty.targets_of(ds)
    for t in _names(ds, "target"):
        def coord(name: str, t: str = t) -> str:
            return str(ds[name].sel(target=t).values) if name in ds.coords else ""
        aggregation = coord("aggregation")
        months = definitions[t].months if t in definitions else (1, 12)
        if months != (1, 12):
            aggregation += (f", {MONTH_NAMES[months[0] - 1]}-{MONTH_NAMES[months[1] - 1]} "
                            "only")
        rows.append([f"`{t}`", coord("label"), f"`{coord('indicator')}`",
                     aggregation, _target_text(ds, t),
                     _years_text(figures.evaluated_years(ds, t))])
    return (["## Targets", "",
             "Each target is a threshold on an indicator aggregated over the district (or "
             "its villages) in a year; a run attains it in a year if its value is on the "
             "right side of the threshold.", "",
             *_md_table(["target", "label", "indicator", "aggregation", "threshold",
                         "evaluated"], rows)])


def _certain(ds: xr.Dataset, audit: certainty.IdentityAudit | None) -> list[str]:
    """Why the targets met by every run (or by none) under every package are certain."""
    why = certainty.explain(ds, audit)
    if not why:
        return []
    source = f" (`{audit.source}`)" if audit is not None and audit.source else ""
    lines = ["### Why some answers are 0 or 1", "",
             "A probability of exactly 0 or 1 under every package does not tell the packages "
             "apart. For each such target: where the whole ensemble's values lie against the "
             "threshold, and whether the identity audit" + source + " finds the indicator "
             "fixed by one input (docs/audit.md: an elasticity of 0.8-1.2 to one input and "
             "below 0.1 to every other), in which case the answer passes that input through "
             "rather than testing the model.", ""]
    return [*lines, *(f"- `{t}`: {text}" for t, text in why.items()), ""]


def _attainment(ds: xr.Dataset, fig_path: str,
                audit: certainty.IdentityAudit | None = None) -> list[str]:
    targets, packages = _names(ds, "target"), _names(ds, "package")
    years = {t: figures.target_year(ds, t) for t in targets}
    header = ["package"] + [f"`{t}` ({years[t]})" for t in targets]
    rows = [[f"`{p}`"] + [_cell(*_p(ds, p, t, years[t])) if years[t] is not None else "n/a"
                          for t in targets] for p in packages]
    # "Jeffreys 95%: Beta(k + 1/2, ...) quantiles ...": the name before the colon.
    interval = str(ds.attrs.get("interval", "95 %")).split(":")[0]
    runs = int(ds["n"].max())
    lines = ["## Probability of attainment", "",
             "The share of runs that attain each target in the target's year (its headline "
             "year, else the last year it is evaluated), with its "
             f"{interval} interval for the finite number of runs (up to {runs} per package; "
             "failed runs do not count). " + (
                 "The runs spread over the ensemble's parameter values and district draws "
                 "as well as seeds, so the probability carries parameter and district "
                 "uncertainty, not only seed noise. It does not carry the model's "
                 "structural error: it is a probability *under this model and ensemble*."
                 if _has_members(ds) else
                 "The runs differ by their seeds only (no ensemble): the probability "
                 "carries seed noise, not parameter or district uncertainty, and "
                 "overstates how sure the forecast is."), ""]
    lines += _md_table(header, rows)
    lines += [f"![Probability of attainment per package and target]({fig_path})", ""]
    lines += _headline(ds, years)
    lines += _certain(ds, audit)
    multi = [t for t in targets if len(figures.evaluated_years(ds, t)) > 1]
    if multi:
        lines += ["### Year by year", "",
                  "Targets that hold every year, with the probability of attaining each "
                  "year's threshold (not all years at once):", ""]
        for t in multi:
            ys = figures.evaluated_years(ds, t)
            lines += [f"`{t}`: {_target_text(ds, t)}", ""]
            lines += _md_table(["package"] + [str(y) for y in ys],
                               [[f"`{p}`"] + [_cell(*_p(ds, p, t, y)) for y in ys]
                                for p in packages])
    return lines


def _headline(ds: xr.Dataset, years: dict[str, int | None]) -> list[str]:
    """One sentence per target: the most and least likely package, and whether their
    intervals separate them."""
    lines = ["In short:", ""]
    packages = _names(ds, "package")
    for t, y in years.items():
        if y is None:
            lines.append(f"- `{t}`: no run counted in any year.")
            continue
        ps = {p: _p(ds, p, t, y) for p in packages}
        ranked = sorted((p for p in packages if np.isfinite(ps[p][0])),
                        key=lambda p: -ps[p][0])
        if not ranked:
            lines.append(f"- `{t}` ({y}): no run counted.")
            continue
        best, worst = ranked[0], ranked[-1]
        head = f"- `{t}` ({_target_text(ds, t)} in {y}): "
        if ps[best][0] == ps[worst][0]:
            every = "every package" if len(ranked) == len(packages) else (
                "every package with a value")
            lines.append(f"{head}the same under {every}, {_cell(*ps[best])}.")
            continue
        text = (f"{head}most likely under `{best}`, {_cell(*ps[best])}; least likely "
                f"under `{worst}`, {_cell(*ps[worst])}")
        second = ranked[1]
        if ps[second][0] >= ps[best][1] or ps[best][0] <= ps[second][2]:
            text += (f"; `{best}` and `{second}` are within each other's intervals (see "
                     "the paired differences below)")
        lines.append(text + ".")
    return [*lines, ""]


def _difference_cell(x: xr.Dataset, fmt: Callable[[float], str]) -> str:
    v, lo, hi = (float(x[k]) for k in ("difference", "difference_low", "difference_high"))
    if not np.isfinite(v):
        return "n/a"
    if int(x["runs_differing"]) == 0:
        # A t interval of width 0 would claim certainty; say what was seen instead.
        return "0 (no run differs)"
    return f"{fmt(v)} [{fmt(lo)}, {fmt(hi)}]"


def _signed(value: float) -> str:
    """A signed difference: whole numbers from 100 up, else 3 significant digits."""
    return f"{value:+,.0f}" if abs(value) >= 100 else f"{value:+.3g}"


def _difference_units(units: str) -> tuple[float, str]:
    """Scale and unit of a difference of values: shares and rates in percentage points."""
    if figures.is_fraction(units):
        return 100.0, "pp/yr" if units == "1/yr" else "pp"
    return 1.0, units


def _differences(ds: xr.Dataset) -> list[str]:
    packages = _names(ds, "package")
    if "attained" not in ds or len(packages) < 2:
        return []
    reference = packages[0]
    targets = _names(ds, "target")
    years = {t: figures.target_year(ds, t) for t in targets}
    header = ["package"] + [f"`{t}` ({years[t]})" for t in targets]
    units = {t: _difference_units(str(ds["units"].sel(target=t).values)
                                  if "units" in ds.coords else "") for t in targets}
    value_header = ["package"] + [f"`{t}` ({years[t]}, {units[t][1]})" for t in targets]
    rows, value_rows = [], []
    for p in packages[1:]:
        d = paired_difference(ds, p, reference)
        dv = paired_difference(ds, p, reference, variable="value") if "value" in ds else None
        cells, value_cells = [], []
        for t in targets:
            if years[t] is None:
                cells.append("n/a")
                value_cells.append("n/a")
                continue
            cells.append(_difference_cell(d.sel(target=t, year=years[t]),
                                          lambda v: f"{v:+.2f}"))
            if dv is not None:
                scale = units[t][0]
                value_cells.append(_difference_cell(dv.sel(target=t, year=years[t]),
                                                    lambda v, k=scale: _signed(k * v)))
        rows.append([f"`{p}`", *cells])
        value_rows.append([f"`{p}`", *value_cells])
    unit = "ensemble members" if _has_members(ds) else "runs"
    lines = ["## Difference from the first package", "",
             f"Each package minus `{reference}`, from paired runs (the same ensemble member "
             "and seed under both packages)" + (", averaged within each member" if
                                                 _has_members(ds) else "") + ", with a "
             f"{LEVEL:.0%} t interval over {unit}. An interval that excludes 0 means the "
             "package makes a difference beyond what the finite number of runs can "
             "explain. Pairing makes this sharper than comparing the intervals above.", "",
             "**Probability of attainment** (difference of probabilities):", "",
             *_md_table(header, rows)]
    if "value" in ds:
        lines += ["**The targets' indicators** (mean paired difference, in the units in "
                  "each column's header; pp = percentage points): a package can move an "
                  "indicator without moving it across the threshold.", "",
                  *_md_table(value_header, value_rows)]
    return lines


def _fans(ds: xr.Dataset, paths: dict[str, str]) -> list[str]:
    lines = ["## Fan charts", "",
             "Each target's indicator over the years, per package: the median (line), the "
             "25-75 % band (dark) and the 5-95 % band (light) over runs; the dashed line is "
             "the threshold, with the probability of attainment written above it in each "
             "year the target is evaluated.", ""]
    for t in _names(ds, "target"):
        y = figures.target_year(ds, t)
        units = str(ds["units"].sel(target=t).values) if "units" in ds.coords else ""
        label = str(ds["label"].sel(target=t).values) if "label" in ds.coords else t
        lines += [f"### `{t}`: {label}", ""]
        if y is not None:
            median = ds["fan"].sel(quantile=0.5, method="nearest").sel(target=t, year=y)
            medians = ", ".join(
                f"`{p}` {figures.format_value(float(median.sel(package=p)), units)}"
                for p in _names(ds, "package"))
            lines += [f"Median in {y}: {medians}; threshold {_target_text(ds, t)}.", ""]
        lines += [f"![Fan charts of {t}]({paths[t]})", ""]
    return lines


def _spread(ds: xr.Dataset) -> list[str]:
    """Where the runs' spread comes from: seeds (within members) or members."""
    if "seed_variance_share" not in ds or not np.isfinite(ds["seed_variance_share"]).any():
        return []
    targets, packages = _names(ds, "target"), _names(ds, "package")
    years = {t: figures.target_year(ds, t) for t in targets}
    share = ds["seed_variance_share"]
    rows = [[f"`{p}`"] + ["n/a" if years[t] is None or not np.isfinite(
        v := float(share.sel(package=p, target=t, year=years[t]))) else f"{v:.2f}"
        for t in targets] for p in packages]
    return ["### Where the spread comes from", "",
            "The share of each indicator's variance over runs that is seed noise (within "
            "ensemble members); the rest comes from the members' parameter values and "
            "district draws. Near 1, the fan and the probability mostly reflect chance "
            "and more seeds sharpen them; near 0, they reflect what is not known about "
            "the district and its parameters, and only better calibration narrows them.",
            "", *_md_table(["package"] + [f"`{t}` ({years[t]})" for t in targets], rows)]


def _townships(ds: xr.Dataset, paths: dict[str, str]) -> list[str]:
    if not paths:
        return []
    lines = ["## By township", "",
             "Per-village targets, read within each township: the share of runs in which "
             "the township's villages attain the target in the target's year. A township "
             "far below the district's probability is where the target fails.", ""]
    for t, path in paths.items():
        year = figures.target_year(ds, t)
        town = ds["township_probability"].sel(target=t, year=year)
        weakest = []
        for p in _names(ds, "package"):
            row = town.sel(package=p).to_series().dropna()
            if not row.empty:
                weakest.append(f"`{p}` {row.idxmin()} {row.min():.2f}")
        lines += [f"`{t}` in {year}: the least likely township under each package: "
                  + "; ".join(weakest) + ".", "", f"![{t} by township]({path})", ""]
    return lines


def _sensitivity(sens: xr.Dataset | None, paths: dict[str, str]) -> list[str]:
    if sens is None:
        return []
    factor = _factor_dim(sens)
    method = str(sens.attrs.get("method", ""))
    what = {"sobol": "Sobol' indices: the share of each outcome's variance due to each "
                     f"{factor} (first order S1) or to it and its interactions (total ST)",
            "morris": "Morris screening: the mean absolute effect on each outcome of moving "
                      f"each {factor} over its range (mu_star), and the spread of that "
                      "effect (sigma: interactions, non-linearity)"}.get(
        method, f"sensitivity indices of each outcome to each {factor}")
    lines = ["## Sensitivity over time", "",
             f"{what[0].upper()}{what[1:]}, year by year. A {factor} whose index grows "
             "over the years matters more for the later targets; one near 0 in every year "
             "can be fixed without changing the forecast.", ""]
    if "n_groups" in sens:
        low, high = (int(f(sens["n_groups"].values)) for f in (np.nanmin, np.nanmax))
        unit = "trajectories" if method == "morris" else "groups"
        lines += [f"Each index is estimated from {low if low == high else f'{low}-{high}'} "
                  f"{unit} of runs per outcome and year.", ""]
    if sens.attrs.get("failed_runs"):
        lines += [f"How failed runs are treated: {sens.attrs['failed_runs']}.", ""]
    last = int(sens["year"].max())
    for name in sensitivity_indices(sens):
        da = sens[name]
        outcome = next((d for d in da.dims if d not in ("year", factor)), None)
        rows = []
        for o in (da[outcome].values if outcome else [None]):
            x = da.sel({outcome: o}) if outcome else da
            top = x.sel(year=last).to_series().dropna().sort_values(ascending=False)
            rows.append(([f"`{o}`"] if outcome else [])
                        + [", ".join(f"`{k}` {v:.2f}" for k, v in
                                     top.head(TOP_FACTORS).items())])
        long_name = da.attrs.get("long_name", name)
        lines += [f"### `{name}`: {long_name}", "",
                  f"The largest (at most {TOP_FACTORS}) in {last}:", ""]
        lines += _md_table(([outcome] if outcome else []) + [f"largest {name}"], rows)
        lines += [f"![{name} over time]({paths[name]})", ""]
    return lines


def _prim(prim: xr.Dataset | None, path: str | None) -> list[str]:
    if prim is None:
        return []
    factor = _factor_dim(prim)
    a = prim.attrs
    question = a.get("description", a.get("outcome", "the runs of interest"))
    lines = ["## Scenario discovery: the PRIM box", "",
             f"Which conditions lead to {question}? PRIM (the Patient Rule Induction "
             "Method) finds a box of the uncertain factors in which such runs are "
             "concentrated.", ""]
    stats_ = [f"{k} {float(a[k]):.2f}" for k in ("coverage", "density", "mass") if k in a]
    if stats_:
        lines += ["Box: " + ", ".join(stats_) + " (coverage: share of the runs of "
                  "interest inside the box; density: share of the box's runs that are "
                  "of interest).", ""]
    rows = []
    shown = _prim_factors(prim)
    free = [str(f) for f in prim[factor].values if str(f) not in shown]
    for f in shown:
        low, high = float(prim["box_low"].sel({factor: f})), float(
            prim["box_high"].sel({factor: f}))
        full = ""
        if "range_low" in prim and "range_high" in prim:
            full = (f"{float(prim['range_low'].sel({factor: f})):.4g} .. "
                    f"{float(prim['range_high'].sel({factor: f})):.4g}")
        rows.append([f"`{f}`", f"{low:.4g} .. {high:.4g}", full])
    lines += _md_table([factor, "box", "range searched"], rows)
    if free:
        lines += ["Not restricted by the box (any value): "
                  + ", ".join(f"`{f}`" for f in free) + ".", ""]
    if a.get("categorical"):
        lines += [f"Categorical limits: {a['categorical']}.", ""]
    if path:
        lines += [f"![PRIM box]({path})", ""]
    return lines


def _prim_factors(prim: xr.Dataset) -> list[str]:
    """The factors a PRIM box restricts (all, without a ``restricted`` variable)."""
    factor = _factor_dim(prim)
    names = [str(f) for f in prim[factor].values]
    if "restricted" not in prim:
        return names
    return [n for n, r in zip(names, prim["restricted"].values, strict=True) if r]


def _synthetic_banner(ds: xr.Dataset) -> list[str]:
    if ds.attrs.get("synthetic") != "yes":
        return []
    return ["> **Synthetic data.** This report was made from "
            "`countysim.forecasting.synthetic.synthetic_forecast`, a Dataset with the "
            "layout of a forecast filled from a known generative model, not from model "
            "runs. Its numbers say nothing about the district.", ""]


def _illustrative_banner(ds: xr.Dataset) -> list[str]:
    flag = str(ds.attrs.get("targets_illustrative", "0")).strip().lower()
    if flag not in ("1", "true", "yes"):
        return []
    where = f" ({ds.attrs['targets_file']})" if ds.attrs.get("targets_file") else ""
    return [f"> **Illustrative targets.** The targets{where} show how targets are written "
            "and evaluated; they are not the district's plan. Read the probabilities as a "
            "demonstration, not as statements about policy.", ""]


def _caveats() -> list[str]:
    return ["## How to read this report", "",
            "- A probability is the share of runs, over the calibrated ensemble's parameter "
            "values, district draws and seeds, that attain the target. It is conditional "
            "on the model's structure and on the ensemble; the targets may be illustrative "
            "(see their labels and the targets file).",
            "- The interval is the uncertainty from running finitely many runs only; more "
            "members and replicates narrow it, a different model would move it.",
            "- Packages are compared on the same members and seeds, so differences between "
            "them are not seed noise; the paired table above says how large they are.",
            ""]


# ------------------------------------------------------------------ writing


def _png(fig: Figure) -> bytes:
    # Fixed metadata keeps the PNG bytes the same for the same Dataset.
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=DPI, metadata={"Software": None})
    return png.getvalue()


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _figure(draw: Callable[[Figure], object], size: tuple[float, float]) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    draw(fig)
    return _png(fig)


def render(ds: xr.Dataset, *, sensitivity: xr.Dataset | None = None,
           prim: xr.Dataset | None = None, command: str | None = None,
           audit: certainty.IdentityAudit | None = None) -> tuple[str, dict[str, bytes]]:
    """The report's Markdown text and its figures as PNG bytes, by relative path.

    Args:
        ds: A forecast Dataset (checked with :func:`check_forecast`).
        sensitivity: Optional sensitivity indices over time (see ``--sensitivity``).
        prim: Optional PRIM result (see ``--prim``).
        command: The command that made the report, quoted in it.
        audit: The identity audit (``--audit``,
            :func:`countysim.forecasting.certainty.load_identity_audit`), to say whether a
            target that is certain under every package is an identity of one input;
            without it the report says the audit was not given.

    Returns:
        ``(markdown, {"figures/name.png": png bytes, ...})``.
    """
    check_forecast(ds)
    files: dict[str, bytes] = {}
    targets, packages = _names(ds, "target"), _names(ds, "package")
    heat = f"{FIGURES}/attainment.png"
    files[heat] = _figure(lambda f: figures.attainment_heatmap(ds, f.subplots()),
                          (1.7 * len(targets) + 2.8, 0.75 * len(packages) + 2.2))
    fans, towns = {}, {}
    for t in targets:
        fans[t] = f"{FIGURES}/fan_{_file_name(t)}.png"
        files[fans[t]] = _figure(lambda f, t=t: figures.fan_charts(ds, t, f), (10, 6))
        if figures.is_per_village(ds, t):
            towns[t] = f"{FIGURES}/township_{_file_name(t)}.png"
            files[towns[t]] = _figure(
                lambda f, t=t: figures.township_breakdown(ds, t, f.subplots()),
                (1.5 * len(packages) + 3, 0.32 * ds.sizes.get("township", 1) + 2))
    experiment = next((str(ds.attrs[k]) for k in ("experiment", "experiment_name", "name")
                       if k in ds.attrs), "forecast")
    lines = [f"# Forecast report: {experiment}", ""]
    lines += _synthetic_banner(ds)
    lines += _illustrative_banner(ds)
    lines += [f"Probabilities that each of {len(packages)} policy packages attains each of "
              f"{len(targets)} targets by {int(ds['year'].max())}, and the paths of the "
              "targeted indicators, from the runs of one forecast.", ""]
    lines += _provenance(ds, command)
    lines += _targets(ds)
    lines += _attainment(ds, heat, audit)
    lines += _differences(ds)
    lines += _fans(ds, fans)
    lines += _spread(ds)
    lines += _townships(ds, towns)
    sens_paths: dict[str, str] = {}
    if sensitivity is not None:
        check_sensitivity(sensitivity)
        for name in sensitivity_indices(sensitivity):
            sens_paths[name] = f"{FIGURES}/sensitivity_{_file_name(name)}.png"
            files[sens_paths[name]] = _figure(
                lambda f, name=name: figures.indices_over_time(sensitivity, name, f), (10, 6))
    lines += _sensitivity(sensitivity, sens_paths)
    prim_path = None
    if prim is not None:
        check_prim(prim)
        prim_path = f"{FIGURES}/prim_box.png"
        files[prim_path] = _figure(lambda f: figures.prim_box(prim, f.subplots()),
                                   (7, 0.45 * max(len(_prim_factors(prim)), 1) + 1.6))
    lines += _prim(prim, prim_path)
    lines += _caveats()
    return "\n".join(lines).rstrip() + "\n", files


def write_report(ds: xr.Dataset, out: str | Path, *, sensitivity: xr.Dataset | None = None,
                 prim: xr.Dataset | None = None, command: str | None = None,
                 audit: certainty.IdentityAudit | None = None) -> Path:
    """Write ``out/report.md`` and ``out/figures/*.png`` atomically.

    Args:
        ds: A forecast Dataset.
        out: The report's folder: new, empty, or holding an earlier report (replaced).
        sensitivity: Optional sensitivity indices over time.
        prim: Optional PRIM result.
        command: The command that made the report, quoted in it.
        audit: The identity audit, for targets certain under every package (see
            :func:`render`).

    Returns:
        The path of ``report.md``.

    Raises:
        ReportError: ``ds`` lacks what the report reads.
        OutputError: ``out`` is a file, another folder, inside a Zarr store, or cannot be
            written; the previous report, if any, is intact.
    """
    out = Path(out)
    text, files = render(ds, sensitivity=sensitivity, prim=prim, command=command,
                         audit=audit)
    files = {REPORT: text.encode("utf-8"), **files}
    _replace_folder(out, files)
    return out / REPORT


def _foreign(folder: Path) -> str | None:
    """The first entry of ``folder`` a report does not write (``None``: only a report's)."""
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.as_posix() == FIGURES and path.is_dir() and not path.is_symlink():
            continue
        own = rel.as_posix() == REPORT or (len(rel.parts) == 2 and rel.parts[0] == FIGURES
                                           and rel.suffix == ".png")
        if not own or path.is_symlink() or not path.is_file():
            return rel.as_posix()
    return None


def _replace_folder(out: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into a temporary folder beside ``out``, then rename it to ``out``."""
    given, out = out, real_path(out)
    store = inside_store(out)
    if store is not None:
        raise OutputError(out, "--out", f"is inside the Zarr store {store}; writing there "
                          "would corrupt it: choose a folder outside the store")
    if out.exists() and not out.is_dir():
        raise OutputError(given, "--out", "is a file; give a folder for the report")
    foreign = _foreign(out) if out.is_dir() else None
    if foreign is not None:
        raise OutputError(given, "--out", f"holds {foreign}, which no report wrote; the "
                          f"report replaces its folder, so it may hold only {REPORT} and "
                          f"{FIGURES}/*.png: give a new or empty folder, or move the file")
    tag = uuid.uuid4().hex[:12]
    tmp = out.parent / f".{out.name}.tmp-{tag}"
    old = out.parent / f".{out.name}.old-{tag}"
    moved = False
    try:
        for name, data in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        if out.exists():
            os.replace(out, old)
            moved = True
        os.replace(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if moved and not out.exists():
            os.replace(old, out)
        kept = "the previous report is unchanged" if moved or out.exists() else (
            "nothing was written")
        raise OutputError(out, "--out", f"cannot write: {describe_os_error(exc)}; "
                          f"{kept}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if moved and not out.exists():
            os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
