"""Plotting helpers for notebooks: indicator paths, scenario comparisons, maps, sweeps.

Matplotlib only. The module never chooses a backend (a notebook's inline backend, a
script's default or ``MPLBACKEND`` decide); every function draws on the ``ax`` it is
given, or on a new figure's Axes, and returns that Axes::

    import countysim
    from countysim import plot

    runs = [countysim.run("scenarios/baseline_2025.toml", seed=s) for s in range(5)]
    plot.indicator_paths(runs, "urban_placements_ytd")      # fan + the article's A4

Article figures come from :data:`countysim.core.report.ROWS`: where a variable has one,
:func:`indicator_paths` marks it at its report month (e.g. A4, 3,906 placements at
2025-10), in the variable's own units (A14's "10%" is drawn at 0.10).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from .core.parameters import PARAMETERS
from .core.report import ROWS, Row

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["article_figure", "compare", "indicator_paths", "response_surface", "village_map"]

# Dimensions that index runs rather than the state of one run: stacked into one "run".
RUN_DIMS = ("sample", "replicate", "seed", "run", "scenario")
# Quantiles of the fan's band over runs.
FAN = (0.05, 0.95)

Runs = xr.Dataset | Sequence[xr.Dataset]


def _new_axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # pyplot only when we make the figure

    return plt.subplots(figsize=(7, 4), layout="constrained")[1]


def article_figure(name: str) -> Row | None:
    """The article's figure for variable ``name``, if the report table has one.

    Args:
        name: A Dataset variable, e.g. ``"urban_placements_ytd"``.

    Returns:
        The :class:`~countysim.core.report.Row` with an article value, or ``None``.
    """
    for row in ROWS:
        if row.variable == name and row.article is not None:
            return row
    return None


def _as_runs(data: Runs, name: str) -> xr.DataArray:
    """``name`` from one or more runs as a ``(run, time)`` DataArray."""
    datasets = [data] if isinstance(data, xr.Dataset) else list(data)
    if not datasets:
        raise ValueError("no runs to plot")
    arrays = []
    for ds in datasets:
        if name not in ds:
            raise KeyError(f"{name!r} is not a variable of the Dataset")
        da = ds[name]
        other = [d for d in da.dims if d != "time" and d not in RUN_DIMS]
        if other:
            raise ValueError(f"{name!r} has dims {other} besides time and runs: select or "
                             f"reduce them first, e.g. ds[{name!r}].sum({other[0]!r})")
        runs = [d for d in da.dims if d in RUN_DIMS]
        values = da.transpose(*runs, "time").values.reshape(-1, da.sizes["time"])
        arrays.append(xr.DataArray(values, dims=("run", "time"),
                                   coords={"time": da["time"].values}))
    return xr.concat(arrays, dim="run", join="outer")


def _month_axis(ax: Axes) -> None:
    """Concise month ticks (``2025``, ``Apr``, ``Jul``...) that do not overlap."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("month")


def _unit_of(attrs: dict) -> str:
    """What a value is measured in: ``unit_of_measure`` where CF's ``units`` is "1"."""
    return str(attrs.get("unit_of_measure", attrs.get("units", "?")))


def _units(data: Runs, name: str) -> str:
    ds = data if isinstance(data, xr.Dataset) else data[0]
    return _unit_of(ds[name].attrs)


def _check_style(style: str) -> None:
    if style not in ("fan", "lines"):
        raise ValueError(f"style must be 'fan' or 'lines', got {style!r}")


def _draw(ax: Axes, paths: xr.DataArray, label: str, color: str | None, style: str) -> None:
    """Draw the runs of one indicator: a fan (median + band) or one line per run."""
    time = paths["time"].values
    values = paths.values.astype(float)
    if style == "lines" or values.shape[0] == 1:
        for k, row in enumerate(values):
            (line,) = ax.plot(time, row, color=color, lw=1.0, alpha=0.8 if k else 1.0,
                              label=label if k == 0 else "_nolegend_")
            color = line.get_color()
        return
    with warnings.catch_warnings():  # months with no value in any run (NaN) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        low, mid, high = np.nanquantile(values, [FAN[0], 0.5, FAN[1]], axis=0)
    (line,) = ax.plot(time, mid, color=color, lw=1.5,
                      label=f"{label} (median of {values.shape[0]} runs)")
    ax.fill_between(time, low, high, color=line.get_color(), alpha=0.25, lw=0,
                    label=f"{label} {FAN[0]:.0%}-{FAN[1]:.0%}")


def _mark_article(ax: Axes, name: str) -> None:
    row = article_figure(name)
    if row is None:
        return
    when = pd.Timestamp(row.month + "-01")
    value = float(row.article) / row.scale
    # The value in the variable's units (the article's wording may need CJK fonts).
    shown = f"{value:,.0f}" if value >= 1 and value.is_integer() else f"{value:.3g}"
    if ">=" in row.wording:  # a lower bound, e.g. A6's 千余件 (more than a thousand)
        shown = f">= {shown}"
    ax.plot([when], [value], ls="none", marker="D", ms=7, color="black", zorder=5,
            gid=f"article:{row.figure}",
            label=f"article {row.figure}: {shown} at {row.month}")
    ax.annotate(row.figure, (when, value), textcoords="offset points", xytext=(6, 4),
                fontsize=8)


def indicator_paths(data: Runs, names: str | Sequence[str], ax: Axes | None = None, *,
                    style: str = "fan", article: bool = True) -> Axes:
    """Paths of indicators over time, with the article's figure where there is one.

    Args:
        data: A run's Dataset, a list of runs' Datasets (e.g. several seeds), or a
            sweep's results (its ``sample`` and ``replicate`` dims count as runs).
        names: One variable or several with the same units (e.g. the cadre outcomes
            A7-A9); each must have no dims but ``time`` and the run dims.
        ax: Axes to draw on; default a new figure's.
        style: ``"fan"``: the median over runs and a 5-95% band (a single run is a
            line); ``"lines"``: one line per run.
        article: Mark the article's figure (:func:`article_figure`) at its report month.

    Returns:
        The Axes.

    Raises:
        ValueError: Names with different units, or a variable with other dims.
        KeyError: A name that is not a variable.
    """
    _check_style(style)
    names = [names] if isinstance(names, str) else list(names)
    units = {_units(data, n) for n in names}
    if len(units) > 1:
        raise ValueError(f"{names} have different units {sorted(units)}: draw them on "
                         "separate Axes (one call each)")
    ax = _new_axes(ax)
    for name in names:
        _draw(ax, _as_runs(data, name), name, None, style)
        if article:
            _mark_article(ax, name)
    _month_axis(ax)
    ax.set_ylabel(f"{names[0]} ({units.pop()})" if len(names) == 1 else f"({units.pop()})")
    ax.legend(fontsize=8)
    return ax


def _label(data: Runs, fallback: str) -> str:
    ds = data if isinstance(data, xr.Dataset) else data[0]
    return str(ds.attrs.get("scenario_name", fallback))


def compare(ds_a: Runs, ds_b: Runs, name: str, ax: Axes | None = None, *,
            labels: tuple[str, str] | None = None, style: str = "fan",
            article: bool = True) -> Axes:
    """Two scenarios' paths of one indicator on one Axes, each labelled.

    Args:
        ds_a: The first scenario's run(s), as for :func:`indicator_paths`.
        ds_b: The second scenario's run(s).
        name: The variable to draw.
        ax: Axes to draw on; default a new figure's.
        labels: Legend labels; default each Dataset's ``scenario_name`` attribute.
        style: ``"fan"`` or ``"lines"``, as for :func:`indicator_paths`.
        article: Mark the article's figure for ``name``.

    Returns:
        The Axes.
    """
    _check_style(style)
    if labels is None:
        labels = (_label(ds_a, "A"), _label(ds_b, "B"))
        if labels[0] == labels[1]:
            labels = (f"{labels[0]} (A)", f"{labels[1]} (B)")
    ax = _new_axes(ax)
    for data, label, color in ((ds_a, labels[0], "C0"), (ds_b, labels[1], "C3")):
        _draw(ax, _as_runs(data, name), label, color, style)
    if article:
        _mark_article(ax, name)
    _month_axis(ax)
    ax.set_ylabel(f"{name} ({_units(ds_a, name)})")
    ax.set_title(f"{name}: {labels[0]} vs {labels[1]}", fontsize=10)
    ax.legend(fontsize=8)
    return ax


def _month(ds: xr.Dataset, time: str | pd.Timestamp | None) -> pd.Timestamp:
    times = pd.DatetimeIndex(ds["time"].values)
    if time is None:
        return times[-1]
    when = pd.Timestamp(time + "-01" if isinstance(time, str) and len(time) == 7 else time)
    if when not in times:
        raise KeyError(f"{when:%Y-%m} is not a month of the run "
                       f"({times[0]:%Y-%m} .. {times[-1]:%Y-%m})")
    return when


def village_map(ds: xr.Dataset, variable: str | xr.DataArray,
                time: str | pd.Timestamp | None = None, ax: Axes | None = None, *,
                cmap: str = "viridis") -> Axes:
    """A schematic map: townships as blocks in a grid, villages as coloured cells.

    The layout is not geographic: townships are placed in the order of the Dataset's
    villages, row by row, and each township's villages fill its block row by row. Pilot
    villages (coordinate ``pilot``) have a thick outline.

    Args:
        ds: A run's Dataset (with ``township`` and ``pilot`` coordinates on ``village``).
        variable: A variable with a ``village`` dim, by name or as a DataArray (e.g.
            ``ds.village_workers.sel(labour_state="farming")``).
        time: Month to show, ``"YYYY-MM"`` or a timestamp; default the last month.
        ax: Axes to draw on; default a new figure's.
        cmap: Colour map of the values.

    Returns:
        The Axes (the colour bar is ``ax.collections[0].colorbar``).

    Raises:
        KeyError: ``time`` is not a month of the run.
        ValueError: The variable has dims other than ``time`` and ``village``.
    """
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    da = ds[variable] if isinstance(variable, str) else variable
    if "time" in da.dims:
        da = da.sel(time=_month(ds, time))
    if da.dims != ("village",):
        raise ValueError(f"{da.name!r} needs dims (time,) village, has {da.dims}: select "
                         "the others first")
    townships = ds["township"].values.astype(str)
    pilot = ds["pilot"].values.astype(bool) if "pilot" in ds.coords else np.zeros(
        townships.size, dtype=bool)
    order = list(dict.fromkeys(townships))
    n_cols = math.ceil(math.sqrt(len(order)))
    block = max(math.ceil(math.sqrt(int((townships == t).sum()))) for t in order)
    gap = 0.8
    cells, edges, widths = [], [], []
    values = np.asarray(da.values, dtype=float)
    ax = _new_axes(ax)
    for k, town in enumerate(order):
        row, col = divmod(k, n_cols)
        x0, y0 = col * (block + gap), -row * (block + gap + 0.4)
        members = np.flatnonzero(townships == town)
        ax.add_patch(Rectangle((x0 - 0.1, y0 - block + 0.9), block + 0.2, block + 0.2,
                               fill=False, ec="0.5", lw=0.8, gid=f"township:{town}"))
        ax.text(x0 + block / 2, y0 + 1.2, town, ha="center", va="bottom", fontsize=8)
        for j, v in enumerate(members):
            r, c = divmod(j, block)
            cells.append((v, Rectangle((x0 + c + 0.05, y0 - r + 0.05), 0.9, 0.9)))
    cells.sort(key=lambda pair: pair[0])  # the collection's order is the villages' order
    for v, _ in cells:
        edges.append("black" if pilot[v] else "white")
        widths.append(2.0 if pilot[v] else 0.5)
    collection = PatchCollection([p for _, p in cells], cmap=cmap, edgecolors=edges,
                                 linewidths=widths, gid="villages")
    collection.set_array(values)
    ax.add_collection(collection)
    if "units" in da.attrs or "unit_of_measure" in da.attrs:
        units = _unit_of(da.attrs)
    else:
        units = _unit_of(ds[variable].attrs) if isinstance(variable, str) else "?"
    # A selected DataArray names its selection: "village_workers, labour_state=migrant".
    name = str(da.name) + "".join(f", {k}={v.item()}" for k, v in da.coords.items()
                                  if v.ndim == 0 and k != "time")
    bar = ax.figure.colorbar(collection, ax=ax, shrink=0.8)
    bar.set_label(f"{name} ({units})")
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    when = f" at {pd.Timestamp(da['time'].values):%Y-%m}" if "time" in da.coords else ""
    ax.set_title(f"{name}{when} (thick outline: pilot village)", fontsize=10)
    return ax


def response_surface(results: xr.Dataset, x: str, y: str, outcome: str,
                     ax: Axes | None = None, *, time: str | pd.Timestamp | None = None,
                     kind: str = "heatmap", cmap: str = "viridis") -> Axes:
    """A sweep's outcome over two varied parameters: the mean over replicates.

    Args:
        results: A sweep's Dataset from :func:`countysim.open_results` (dims ``sample``
            and ``replicate``; ``x`` and ``y`` are coordinates along ``sample``).
        x: Varied parameter on the horizontal axis.
        y: Varied parameter on the vertical axis.
        outcome: Variable to show; a variable with a ``village`` dim is summed over the
            villages. Failed runs (NaN) are left out of the mean; any further varied
            parameter is averaged over.
        ax: Axes to draw on; default a new figure's.
        time: Month to read, ``"YYYY-MM"``; default the last month.
        kind: ``"heatmap"`` (a cell per grid point, with its value written in) or
            ``"contour"`` (filled contours over the parameters' values; needs at least
            two values of each).
        cmap: Colour map.

    Returns:
        The Axes.

    Raises:
        ValueError: ``x``/``y`` are not varied parameters, or an unknown ``kind``.
    """
    for p in (x, y):
        if p not in results.coords or "sample" not in results[p].dims:
            raise ValueError(f"{p!r} is not a varied parameter (a coordinate along sample)")
    if kind not in ("heatmap", "contour"):
        raise ValueError(f"kind must be 'heatmap' or 'contour', got {kind!r}")
    da = results[outcome]
    if "time" in da.dims:
        da = da.sel(time=_month(results, time))
    if "village" in da.dims:
        da = da.sum("village", min_count=1)
    replicates = results.sizes.get("replicate", 1)
    mean = da.mean("replicate") if "replicate" in da.dims else da
    frame = pd.DataFrame({x: results[x].values, y: results[y].values,
                          "value": mean.values.astype(float)})
    grid = frame.pivot_table(index=y, columns=x, values="value", aggfunc="mean",
                             dropna=False)
    units = _unit_of(results[outcome].attrs)
    ax = _new_axes(ax)
    if kind == "heatmap":
        mesh = ax.pcolormesh(np.arange(grid.shape[1] + 1) - 0.5,
                             np.arange(grid.shape[0] + 1) - 0.5, grid.to_numpy(), cmap=cmap)
        ax.set_xticks(range(grid.shape[1]), [f"{v:g}" for v in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [f"{v:g}" for v in grid.index])
        for (i, j), v in np.ndenumerate(grid.to_numpy()):
            ax.text(j, i, "" if np.isnan(v) else f"{v:,.3g}", ha="center", va="center",
                    fontsize=8, color="white")
    else:
        mesh = ax.contourf(grid.columns.to_numpy(dtype=float),
                           grid.index.to_numpy(dtype=float), grid.to_numpy(), cmap=cmap)
    bar = ax.figure.colorbar(mesh, ax=ax)
    bar.set_label(f"{outcome} ({units}), mean of {replicates} replicates")
    ax.set_xlabel(_parameter_label(x))
    ax.set_ylabel(_parameter_label(y))
    when = "time" in results[outcome].dims
    month = f" at {_month(results, time):%Y-%m}" if when else ""
    ax.set_title(f"{outcome}{month}", fontsize=10)
    return ax


def _parameter_label(name: str) -> str:
    unit = PARAMETERS[name].unit if name in PARAMETERS else "?"
    return f"{name} ({unit})"
