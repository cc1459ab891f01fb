"""Figures of a forecast: attainment per package x target, fan charts, township breakdown.

Everything reads the forecast Dataset of :func:`countysim.forecast` (or its NetCDF file;
see ``docs/forecast.md``): ``probability``, ``probability_low``, ``probability_high``,
``fan`` and, where present, ``township_probability``, with the target's ``threshold``,
``direction``, ``units`` and ``label`` as coordinates on ``target``.

Like :mod:`countysim.plot`, matplotlib only, and no backend is chosen here: each function
draws on the ``ax`` (or ``fig``) it is given, or on a new pyplot figure's, and returns it.
The report (:mod:`countysim.forecasting.report`) passes figures made with
:class:`matplotlib.figure.Figure` directly, which render headless (Agg) without pyplot::

    import xarray as xr
    from countysim.forecasting import figures

    ds = xr.open_dataset("runs/forecast/forecast_2030.nc")  # `countysim forecast --out`
    figures.attainment_heatmap(ds)             # package x target, with intervals
    figures.fan_charts(ds, "urban_placements")  # one panel per package

A target's *year* (:func:`target_year`) is its ``headline_year`` (a coordinate on
``target``) or, without one, the last year in which it is evaluated (the last year with
a probability): the deadline of a "by 2027" target, the end of the horizon for a target
that holds every year.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["attainment_heatmap", "evaluated_years", "fan_chart", "fan_charts",
           "format_value", "indices_over_time", "is_fraction", "is_per_village", "prim_box",
           "target_year", "township_breakdown", "value_label"]

# Units whose values are shares or rates: shown in percent.
FRACTION_UNITS = ("1", "1/yr", "fraction", "share")
# Dims that name the factors (parameters, levers) of sensitivity indices and PRIM boxes.
FACTOR_DIMS = ("parameter", "factor", "input", "uncertainty", "lever")
# The fan's bands: outer (5-95 %) and inner (25-75 %) quantile pairs, and the median.
OUTER, INNER, MEDIAN = (0.05, 0.95), (0.25, 0.75), 0.5


def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (7, 4)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # pyplot only when we make the figure

    return plt.subplots(figsize=figsize, layout="constrained")[1]


def _target_attr(ds: xr.Dataset, target: str, name: str, default: str = "") -> str:
    if name not in ds.coords:
        return default
    return str(ds[name].sel(target=target).values)


def _check_target(ds: xr.Dataset, target: str) -> None:
    targets = [str(t) for t in ds["target"].values]
    if target not in targets:
        raise KeyError(f"{target!r} is not a target of the forecast; targets: "
                       f"{', '.join(targets)}")


def evaluated_years(ds: xr.Dataset, target: str) -> list[int]:
    """The years in which ``target`` is evaluated: those with a probability for a package.

    Args:
        ds: A forecast Dataset.
        target: A target id.

    Returns:
        The years, ascending (empty if no run counted in any year).
    """
    _check_target(ds, target)
    finite = np.isfinite(ds["probability"].sel(target=target)).any("package")
    return [int(y) for y in ds["year"].values[finite.values]]


def target_year(ds: xr.Dataset, target: str) -> int | None:
    """The year a target is read in (``None`` if it is never evaluated).

    The target's ``headline_year`` coordinate where the forecast has one and the target
    is evaluated in it, else the last year it is evaluated.
    """
    years = evaluated_years(ds, target)
    if "headline_year" in ds.coords:
        headline = int(ds["headline_year"].sel(target=target))
        if headline in years:
            return headline
    return years[-1] if years else None


def is_per_village(ds: xr.Dataset, target: str) -> bool:
    """Whether ``target`` has a township breakdown (a finite ``township_probability``)."""
    if "township_probability" not in ds:
        return False
    return bool(np.isfinite(ds["township_probability"].sel(target=target)).any())


def _village_level(ds: xr.Dataset, target: str) -> str:
    """``">= 100,000"``: a share_of_villages target's per-village level, from the targets
    file the forecast keeps (``targets_toml``); ``""`` if it is not there."""
    import tomllib

    try:
        entries = tomllib.loads(str(ds.attrs.get("targets_toml", ""))).get("targets", [])
        entry = next(e for e in entries if e.get("id") == target)
        return f" {entry.get('level_direction', '>=')} {float(entry['level']):,.0f}"
    except (tomllib.TOMLDecodeError, StopIteration, KeyError, TypeError, ValueError,
            AttributeError):
        return ""


def value_label(ds: xr.Dataset, target: str) -> str:
    """The axis label of a target's value: what is plotted, with its units.

    A ``share_of_villages`` target's value is the share of villages whose indicator meets
    the per-village level, not the indicator itself: ``"villages with collective_income
    >= 100,000 (%)"``; a ``growth_rate`` target's is the indicator's growth; others read
    the indicator in the target's units (shares and rates in percent).

    Args:
        ds: A forecast Dataset.
        target: A target id.
    """
    indicator = _target_attr(ds, target, "indicator", target)
    units = _target_attr(ds, target, "units")
    shown = "%" if is_fraction(units) else units
    aggregation = _target_attr(ds, target, "aggregation")
    if aggregation == "share_of_villages":
        return f"villages with {indicator}{_village_level(ds, target)} (%)"
    if aggregation == "growth_rate":
        return f"{indicator} growth ({shown})"
    return f"{indicator} ({shown})" if shown else indicator


def is_fraction(units: str) -> bool:
    """Whether values in ``units`` are shares or rates (shown in percent)."""
    return units in FRACTION_UNITS or units.startswith("share")


def format_value(value: float, units: str) -> str:
    """A value in its target's units for text: shares in percent, counts with commas.

    Args:
        value: The value.
        units: The target's units (``"1"`` and ``"1/yr"`` are shown in percent).

    Returns:
        E.g. ``"5.5 %"``, ``"4,000 persons/yr"``.
    """
    if not np.isfinite(value):
        return "n/a"
    if is_fraction(units):
        per = "/yr" if units == "1/yr" else ""
        return f"{100 * value:.3g} %{per}"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {units}".strip()


def _threshold_text(ds: xr.Dataset, target: str) -> str:
    units = _target_attr(ds, target, "units")
    threshold = float(ds["threshold"].sel(target=target)) if "threshold" in ds.coords else (
        np.nan)
    return f"{_target_attr(ds, target, 'direction', '?')} {format_value(threshold, units)}"


def _probability_text(p: float, low: float, high: float) -> str:
    return "n/a" if not np.isfinite(p) else f"{p:.2f}\n[{low:.2f}, {high:.2f}]"


def attainment_heatmap(ds: xr.Dataset, ax: Axes | None = None, *,
                       year: int | None = None, cmap: str = "RdYlGn") -> Axes:
    """Probability of attainment, package (rows) x target (columns), with intervals.

    Each cell is coloured by the probability and shows it with its 95 % interval
    (``probability_low``, ``probability_high``), read in the target's year
    (:func:`target_year`) unless ``year`` is given.

    Args:
        ds: A forecast Dataset.
        ax: Axes to draw on; default a new figure's.
        year: Read every target in this year instead of its own.
        cmap: Colour map over [0, 1].

    Returns:
        The Axes (the colour bar is ``ax.collections[0].colorbar``).

    Raises:
        KeyError: ``year`` is not a year of the forecast.
    """
    if year is not None and year not in ds["year"].values:
        raise KeyError(f"{year} is not a year of the forecast "
                       f"({int(ds['year'].min())}..{int(ds['year'].max())})")
    targets = [str(t) for t in ds["target"].values]
    packages = [str(p) for p in ds["package"].values]
    years = [year if year is not None else target_year(ds, t) for t in targets]
    grid = np.full((3, len(packages), len(targets)), np.nan)
    for j, (t, y) in enumerate(zip(targets, years, strict=True)):
        if y is None:
            continue
        for k, name in enumerate(("probability", "probability_low", "probability_high")):
            grid[k, :, j] = ds[name].sel(target=t, year=y).values
    ax = _new_axes(ax, (1.6 * len(targets) + 2.5, 0.7 * len(packages) + 1.8))
    mesh = ax.pcolormesh(np.arange(len(targets) + 1) - 0.5,
                         np.arange(len(packages) + 1) - 0.5,
                         np.ma.masked_invalid(grid[0]), cmap=cmap, vmin=0, vmax=1)
    for (i, j), p in np.ndenumerate(grid[0]):
        # Dark text on the light middle of the colour map, white on its dark ends.
        color = "black" if not np.isfinite(p) or 0.25 < p < 0.8 else "white"
        ax.text(j, i, _probability_text(p, grid[1, i, j], grid[2, i, j]), ha="center",
                va="center", fontsize=8, color=color)
    ax.set_xticks(range(len(targets)),
                  [f"{t}\n({y})" if y is not None else t for t, y in zip(targets, years,
                                                                          strict=True)],
                  fontsize=7, rotation=20, ha="right")
    ax.set_yticks(range(len(packages)), packages, fontsize=8)
    ax.invert_yaxis()  # the first package on top, as in the report's table
    bar = ax.figure.colorbar(mesh, ax=ax, shrink=0.9)
    bar.set_label("probability of attainment")
    runs = int(ds["n"].max()) if "n" in ds else ds.sizes.get("run", 0)
    ax.set_title(f"Probability of attainment [95 % interval], up to {runs} runs per "
                 "package", fontsize=10)
    return ax


def fan_chart(ds: xr.Dataset, target: str, package: str, ax: Axes | None = None, *,
              color: str = "C0", annotate: bool = True) -> Axes:
    """One package's fan of a target's indicator over the years, with the threshold.

    Draws the 5-95 % and 25-75 % bands and the median of ``fan``, the threshold as a
    dashed line, and (``annotate``) the probability of attainment above each year in
    which the target is evaluated (along the bottom edge).

    Args:
        ds: A forecast Dataset.
        target: A target id.
        package: A package name.
        ax: Axes to draw on; default a new figure's.
        color: Colour of the fan.
        annotate: Write the probability at each evaluated year.

    Returns:
        The Axes.

    Raises:
        KeyError: Unknown target or package.
    """
    _check_target(ds, target)
    packages = [str(p) for p in ds["package"].values]
    if package not in packages:
        raise KeyError(f"{package!r} is not a package of the forecast; packages: "
                       f"{', '.join(packages)}")
    fan = ds["fan"].sel(target=target, package=package)
    years = ds["year"].values.astype(int)
    units = _target_attr(ds, target, "units")
    scale = 100.0 if is_fraction(units) else 1.0

    def q(level: float) -> np.ndarray:
        return fan.sel(quantile=level, method="nearest").values * scale

    ax = _new_axes(ax)
    ax.fill_between(years, q(OUTER[0]), q(OUTER[1]), color=color, alpha=0.18, lw=0,
                    label="5-95 %")
    ax.fill_between(years, q(INNER[0]), q(INNER[1]), color=color, alpha=0.38, lw=0,
                    label="25-75 %")
    ax.plot(years, q(MEDIAN), color=color, lw=1.8, marker="o", ms=3, label="median")
    if "threshold" in ds.coords:
        threshold = float(ds["threshold"].sel(target=target)) * scale
        ax.axhline(threshold, color="black", ls="--", lw=1.0,
                   label=f"target {_threshold_text(ds, target)}")
        evaluated = evaluated_years(ds, target)
        ax.plot(evaluated, [threshold] * len(evaluated), ls="none", marker="D", ms=4,
                color="black", label="evaluated")
        if annotate:
            # Along the bottom edge, where no band is drawn over them.
            for y in evaluated:
                p = float(ds["probability"].sel(package=package, target=target, year=y))
                if np.isfinite(p):
                    ax.annotate(f"p={p:.2f}", (y, 0.03), xycoords=("data", "axes fraction"),
                                ha="center", va="bottom", fontsize=7,
                                bbox={"boxstyle": "round,pad=0.15", "fc": "white",
                                      "ec": "0.7", "lw": 0.5})
    evaluated = evaluated_years(ds, target)
    if not evaluated or not np.isfinite(fan.sel(year=evaluated).values).any():
        # E.g. pilot villages' growth under a package without pilots: say so, not blank.
        ax.text(0.5, 0.5, "no run has a value\nin the years evaluated", ha="center",
                va="center", transform=ax.transAxes, fontsize=8, color="0.4")
    ax.set_xticks(years)
    ax.set_xlabel("year")
    ax.set_ylabel(value_label(ds, target))
    ax.set_title(package, fontsize=9)
    return ax


def _panels(fig: Figure | None, n: int, ncols: int, cell: tuple[float, float],
            margin: tuple[float, float], **share: bool) -> tuple[Figure, Any]:
    """A grid of ``n`` panels, ``ncols`` wide, on ``fig`` (cleared) or a new figure.

    Args:
        fig: Figure to draw on (cleared and resized), or ``None`` for a new one.
        n: Number of panels.
        ncols: Most panels in a row.
        cell: Width and height of a panel (inches).
        margin: Width and height added for labels and the title (inches).
        **share: ``sharex``/``sharey`` for :meth:`Figure.subplots`.

    Returns:
        The figure and its axes, a 2-d array (``squeeze=False``).
    """
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    size = (cell[0] * ncols + margin[0], cell[1] * nrows + margin[1])
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=size, layout="constrained")
    else:
        fig.clear()
        fig.set_size_inches(*size)
    return fig, fig.subplots(nrows, ncols, squeeze=False, **share)


def fan_charts(ds: xr.Dataset, target: str, fig: Figure | None = None, *,
               packages: Sequence[str] | None = None, ncols: int = 3) -> Figure:
    """Fan charts of a target's indicator, one panel per package on a shared y axis.

    Args:
        ds: A forecast Dataset.
        target: A target id.
        fig: Figure to draw in (emptied first); default a new pyplot figure.
        packages: The packages to show (default all, in the Dataset's order).
        ncols: Panels per row.

    Returns:
        The Figure.
    """
    _check_target(ds, target)
    packages = [str(p) for p in ds["package"].values] if packages is None else list(
        packages)
    fig, axes = _panels(fig, len(packages), ncols, (3.4, 2.8), (0.6, 0.8), sharey=True)
    for k, (ax, package) in enumerate(zip(axes.flat, packages, strict=False)):
        fan_chart(ds, target, package, ax, color=f"C{k % 10}")
        if k % ncols:
            ax.set_ylabel("")
    for ax in axes.flat[len(packages):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="best")
    label = _target_attr(ds, target, "label", target)
    fig.suptitle(f"{target}: {label}", fontsize=10)
    return fig


def township_breakdown(ds: xr.Dataset, target: str, ax: Axes | None = None, *,
                       year: int | None = None, cmap: str = "RdYlGn") -> Axes:
    """Probability of attainment within each township, township x package.

    For per-village targets (:func:`is_per_village`): the share of runs in which the
    township's villages meet the target, read in the target's year unless ``year``.

    Args:
        ds: A forecast Dataset with ``township_probability``.
        target: A per-village target id.
        ax: Axes to draw on; default a new figure's.
        year: The year to read (default :func:`target_year`).
        cmap: Colour map over [0, 1].

    Returns:
        The Axes.

    Raises:
        ValueError: The target has no township breakdown.
    """
    _check_target(ds, target)
    if not is_per_village(ds, target):
        raise ValueError(f"{target!r} has no township breakdown (township_probability is "
                         "missing or NaN: the target is not per village)")
    year = target_year(ds, target) if year is None else year
    da = ds["township_probability"].sel(target=target, year=year).transpose(
        "township", "package")
    townships = [str(t) for t in da["township"].values]
    packages = [str(p) for p in da["package"].values]
    ax = _new_axes(ax, (1.5 * len(packages) + 2.5, 0.32 * len(townships) + 1.6))
    mesh = ax.pcolormesh(np.arange(len(packages) + 1) - 0.5,
                         np.arange(len(townships) + 1) - 0.5,
                         np.ma.masked_invalid(da.values), cmap=cmap, vmin=0, vmax=1)
    for (i, j), p in np.ndenumerate(da.values):
        color = "black" if not np.isfinite(p) or 0.25 < p < 0.8 else "white"
        ax.text(j, i, "n/a" if not np.isfinite(p) else f"{p:.2f}", ha="center",
                va="center", fontsize=7, color=color)
    ax.set_xticks(range(len(packages)), packages, fontsize=7, rotation=20, ha="right")
    ax.set_yticks(range(len(townships)), townships, fontsize=7)
    ax.invert_yaxis()
    bar = ax.figure.colorbar(mesh, ax=ax, shrink=0.9)
    bar.set_label("probability of attainment in the township")
    ax.set_title(f"{target} in {year}, by township", fontsize=10)
    return ax


def _factor_dim(ds: xr.Dataset) -> str:
    dim = next((d for d in FACTOR_DIMS if d in ds.dims), None)
    if dim is None:
        raise ValueError(f"no factor dim: one of {', '.join(FACTOR_DIMS)} is needed")
    return dim


def indices_over_time(sens: xr.Dataset, name: str, fig: Figure | None = None, *,
                      top: int = 6, ncols: int = 3) -> Figure:
    """Sensitivity indices over the years: one panel per outcome, a line per factor.

    Args:
        sens: Indices with dims ``year``, a factor dim (:data:`FACTOR_DIMS`) and at most
            one outcome dim; a ``<name>_conf`` variable (half-width of the confidence
            interval) is drawn as a band.
        name: The index variable, e.g. ``"ST"`` or ``"mu_star"``.
        fig: Figure to draw in (emptied first); default a new pyplot figure.
        top: Factors drawn per panel: the largest in the last year (the rest in grey).
        ncols: Panels per row.

    Returns:
        The Figure.
    """
    factor = _factor_dim(sens)
    da = sens[name]
    conf = sens.get(f"{name}_conf")
    outcome = next((d for d in da.dims if d not in ("year", factor)), None)
    outcomes = list(da[outcome].values) if outcome else [None]
    fig, axes = _panels(fig, len(outcomes), ncols, (3.6, 2.9), (0.8, 0.8), sharex=True)
    years = sens["year"].values.astype(int)
    for ax, o in zip(axes.flat, outcomes, strict=False):
        x = da.sel({outcome: o}) if outcome else da
        c = (conf.sel({outcome: o}) if outcome else conf) if conf is not None else None
        last = x.isel(year=-1).fillna(-np.inf).values
        order = np.argsort(-last)
        for rank, k in enumerate(order):
            f = str(x[factor].values[k])
            values = x.isel({factor: k}).transpose("year").values
            if rank < top:
                (line,) = ax.plot(years, values, marker="o", ms=3, lw=1.5, label=f)
                if c is not None:
                    half = c.isel({factor: k}).transpose("year").values
                    ax.fill_between(years, values - half, values + half,
                                    color=line.get_color(), alpha=0.15, lw=0)
            else:
                ax.plot(years, values, color="0.75", lw=0.8,
                        label="others" if rank == top else "_nolegend_")
        ax.set_title(str(o) if o is not None else name, fontsize=9)
        ax.set_xticks(years)
        ax.set_xlabel("year")
        ax.set_ylabel(name)
        ax.legend(fontsize=6, loc="best")
    for ax in axes.flat[len(outcomes):]:
        ax.set_visible(False)
    fig.suptitle(f"{name}: {da.attrs.get('long_name', 'sensitivity index')} over time",
                 fontsize=10)
    return fig


def prim_box(prim: xr.Dataset, ax: Axes | None = None) -> Axes:
    """A PRIM box: each factor's limits inside the range searched, as a bar on [0, 1].

    Args:
        prim: ``box_low`` and ``box_high`` along a factor dim; ``range_low`` and
            ``range_high`` (the range searched) scale each bar, else the bar is drawn on
            the box's own limits; with ``restricted``, only the restricted factors (see
            :func:`countysim.forecasting.report.prim_box_dataset`).
        ax: Axes to draw on; default a new figure's.

    Returns:
        The Axes.
    """
    factor = _factor_dim(prim)
    if "restricted" in prim:  # only the factors the box restricts, as the report lists
        prim = prim.isel({factor: prim["restricted"].values.astype(bool)})
    names = [str(f) for f in prim[factor].values]
    low = prim["box_low"].values.astype(float)
    high = prim["box_high"].values.astype(float)
    if "range_low" in prim and "range_high" in prim:
        r0 = prim["range_low"].values.astype(float)
        r1 = prim["range_high"].values.astype(float)
    else:
        r0, r1 = low, high
    span = np.where(r1 > r0, r1 - r0, 1.0)
    a, b = (low - r0) / span, (high - r0) / span
    ax = _new_axes(ax, (7, 0.45 * len(names) + 1.6))
    y = np.arange(len(names))
    ax.barh(y, np.ones(len(names)), color="0.9", edgecolor="0.6", lw=0.5,
            label="range searched")
    ax.barh(y, b - a, left=a, color="C3", alpha=0.7, label="PRIM box")
    for k in range(len(names)):
        ax.text(a[k], y[k], f"{low[k]:.3g} ", ha="right", va="center", fontsize=7)
        ax.text(b[k], y[k], f" {high[k]:.3g}", ha="left", va="center", fontsize=7)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-0.15, 1.15)
    ax.set_xlabel("position in the range searched (0 = low end, 1 = high end)")
    stats_ = ", ".join(f"{k} {float(prim.attrs[k]):.2f}" for k in ("coverage", "density")
                       if k in prim.attrs)
    ax.set_title(f"PRIM box{f' ({stats_})' if stats_ else ''}", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return ax
