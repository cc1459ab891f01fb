"""countysim as an EMA Workbench model: scenario discovery (PRIM), feature scoring, robust search.

Needs the optional extra ``countysim[ema]`` (``ema-workbench`` 3.x). :func:`countysim_model`
wraps :func:`countysim.run` as an ``ema_workbench.Model`` (a function model) whose

* **uncertainties** are the calibrated ensemble's members (an integer ``member``; its
  parameter values and ``district_seed`` are applied together, so the joint calibrated
  distribution is kept) and the run's ``seed``; or, without an ensemble, independent
  ranges of named parameters (e.g. the prior ranges the calibration searched) and
  ``district_seed``;
* **levers** are registry levers (``countysim.PARAMETERS``, section ``levers``) with the
  ranges or choices you give;
* **outcomes** are yearly time series of key indicators (:data:`KEY_OUTCOMES`), one value
  per calendar year from the scenario's start year to ``until``.

Then the Workbench's own tools apply::

    from ema_workbench import perform_experiments
    from ema_workbench.analysis import prim
    from countysim.forecasting import ema

    model = ema.countysim_model("scenarios/baseline_2025.toml", until="2027-12",
                                ensemble="litong_2025",
                                levers={"pilot_villages": (30, 130)})
    experiments, outcomes = perform_experiments(model, scenarios=200, policies=4,
                                                 uncertainty_sampling_kwargs={"rng": 1})
    x = ema.with_member_parameters(experiments, model)    # the members' parameter values
    fails = outcomes["min_collective_income"][:, model.years.index(2027)] < 100_000
    box = prim.Prim(x, fails).find_box()
    # ema-workbench 3 has no density threshold argument: choose the peel that meets one.
    trajectory = box.peeling_trajectory
    box.select(int(trajectory[trajectory["density"] >= 0.8]["coverage"].idxmax()))
    ema.plot_prim_box(box)

``experiments/ema_collective_2027.py`` is the worked example: under which conditions the
illustrative 2027 target "every village's collective income >= 100,000 yuan a year"
fails.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from ..core.parameters import PARAMETERS
from ..core.scenario import Scenario, load_scenario

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["KEY_OUTCOMES", "MAX_SEED", "CountysimFunction", "Outcome", "box_limits",
           "countysim_model", "failure", "plot_prim_box", "with_member_parameters"]

#: Upper end of the sampled ``seed`` and ``district_seed`` uncertainties (any value is a
#: valid seed; a large range keeps sampled seeds distinct).
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class Outcome:
    """A yearly indicator: one value of ``variable`` per calendar year.

    Attributes:
        variable: The run variable.
        how: ``"december"`` (stock or year-to-date), ``"sum"`` (monthly flow over the
            year) or ``"mean"`` (monthly level).
        village: For a per-village variable: ``"min"``, ``"mean"``, ``"max"`` or ``"sum"``.
        units: Units of the yearly value.
    """

    variable: str
    how: str
    units: str
    village: str | None = None

    def yearly(self, ds: xr.Dataset, years: Sequence[int]) -> np.ndarray:
        """The outcome of one run for each year (NaN for a year not fully simulated)."""
        da = ds[self.variable]
        if "village" in da.dims:
            da = getattr(da, self.village or "mean")("village")
        values = np.full(len(years), np.nan)
        year_of = da["time"].dt.year.values
        month_of = da["time"].dt.month.values
        for i, year in enumerate(years):
            months = year_of == year
            if self.how == "december":
                sel = months & (month_of == 12)
                if sel.any():
                    values[i] = float(da.values[sel][0])
            elif months.sum() == 12:
                values[i] = float(getattr(da.values[months], self.how)())
        return values


#: Key indicators as yearly outcomes. ``min_collective_income`` is the poorest village's
#: collective income over the year: a target that *every* village must meet is met when
#: it is at or above the threshold.
KEY_OUTCOMES: dict[str, Outcome] = {
    "urban_placements": Outcome("urban_placements_ytd", "december", "persons/yr"),
    "rural_workers_into_income": Outcome("rural_nonfarm_entrants_ytd", "december",
                                         "persons/yr"),
    "rural_income_per_capita": Outcome("rural_income_per_capita", "december", "yuan/yr"),
    "urban_unemployment_rate": Outcome("urban_unemployment_rate", "mean", "1"),
    "legacy_open": Outcome("legacy_open", "december", "problems"),
    "min_collective_income": Outcome("collective_income", "sum", "yuan/yr", village="min"),
    "mean_collective_income": Outcome("collective_income", "sum", "yuan/yr",
                                      village="mean"),
}


class CountysimFunction:
    """The callable the Workbench runs: keyword values in, yearly outcome arrays out.

    A plain class (not a closure) so that the model pickles for the Workbench's
    multiprocessing evaluator.
    """

    def __init__(self, scenario: Scenario, until: str, years: Sequence[int],
                 outcomes: Mapping[str, Outcome],
                 members: Mapping[str, np.ndarray] | None = None,
                 member_seeds: np.ndarray | None = None) -> None:
        self.scenario, self.until, self.years = scenario, until, list(years)
        self.outcomes = dict(outcomes)
        self.members = None if members is None else {k: np.asarray(v) for k, v in
                                                     members.items()}
        self.member_seeds = None if member_seeds is None else np.asarray(member_seeds)

    def __call__(self, **values: Any) -> dict[str, np.ndarray]:
        from ..core.county import run

        values = dict(values)
        seed = int(values.pop("seed", 0))
        member = values.pop("member", None)
        if member is not None:
            m = int(member)
            values.update({k: v[m].item() for k, v in self.members.items()})
            values["district_seed"] = int(self.member_seeds[m])
        if "district_seed" in values:
            values["district_seed"] = int(values["district_seed"])
        values = {k: _python(k, v) for k, v in values.items()}
        ds = run(self.scenario, seed=seed, until=self.until, **values)
        return {name: out.yearly(ds, self.years) for name, out in self.outcomes.items()}


def _python(name: str, value: Any) -> Any:
    """A Workbench value as the registry's type (its integers arrive as floats or numpy)."""
    kind = PARAMETERS[name].kind
    if kind is bool:
        return bool(value)
    if kind is int:
        return round(float(value))
    if kind is float:
        return float(value)
    return value


def _parameter(name: str, spec: Any, what: str) -> Any:
    """An ema_workbench parameter for a registry entry and a range or list of choices."""
    from ema_workbench import (
        BooleanParameter,
        CategoricalParameter,
        IntegerParameter,
        RealParameter,
    )

    param = PARAMETERS[name]
    if param.kind is bool:
        return BooleanParameter(name)
    if param.choices is not None or isinstance(spec, list):
        choices = list(spec) if isinstance(spec, list | tuple) and spec else list(param.choices)
        bad = [c for c in choices if param.choices is not None and c not in param.choices]
        if bad:
            raise ValueError(f"{what}.{name}: {bad} not in {list(param.choices)}")
        return CategoricalParameter(name, choices)
    if not (isinstance(spec, tuple | list) and len(spec) == 2):
        raise ValueError(f"{what}.{name}: expected (low, high), got {spec!r}")
    low, high = spec
    lo, hi = param.bounds
    if not lo <= low < high <= hi:
        raise ValueError(f"{what}.{name}: ({low}, {high}) must satisfy {lo:g} <= low < "
                         f"high <= {hi:g} [{param.unit}]")
    if param.kind is int:
        return IntegerParameter(name, int(low), int(high))
    return RealParameter(name, float(low), float(high))


def countysim_model(scenario: Scenario | str | Path, *, until: str = "2030-12",
                    ensemble: xr.Dataset | str | Path | None = None,
                    members: int | None = None,
                    ranges: Mapping[str, tuple[float, float]] | None = None,
                    levers: Mapping[str, Any] | None = None,
                    outcomes: Mapping[str, Outcome] | None = None,
                    name: str = "countysim") -> Any:
    """countysim as an ``ema_workbench.Model`` (see the module docstring).

    Args:
        scenario: The base scenario (a file or :class:`~countysim.Scenario`).
        until: Last simulated month ``YYYY-MM``.
        ensemble: A calibrated ensemble (``countysim.load_ensemble`` name, path or
            Dataset with ``value(member, parameter)`` and ``district_seed(member)``): the
            uncertainty is the member (its parameters and district draw) and the seed.
        members: Use the first ``members`` members only (default all).
        ranges: Without an ensemble: parameter name -> (low, high), sampled
            independently, plus ``district_seed`` and ``seed``.
        levers: Registry lever name -> (low, high), or a list of choices.
        outcomes: Name -> :class:`Outcome` (default :data:`KEY_OUTCOMES`).
        name: The model's name (letters, digits, ``_``).

    Returns:
        An ``ema_workbench.Model`` with ``uncertainties``, ``levers`` and
        ``TimeSeriesOutcome`` outcomes; ``model.years`` lists the outcome years and
        ``model.ensemble`` holds the ensemble (or ``None``).

    Raises:
        ValueError: Neither or both of ``ensemble`` and ``ranges``; an unknown parameter,
            a lever outside the registry's levers, or a range outside its bounds.
    """
    from ema_workbench import IntegerParameter, Model, TimeSeriesOutcome

    if (ensemble is None) == (ranges is None):
        raise ValueError("give either ensemble= (a calibrated ensemble) or ranges= "
                         "(independent parameter ranges), not both or neither")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    outcomes = dict(outcomes or KEY_OUTCOMES)
    years = list(range(int(scenario.start[:4]), int(until[:4]) + 1))
    uncertainties = [IntegerParameter("seed", 0, MAX_SEED)]
    member_values = member_seeds = None
    if ensemble is not None:
        if not isinstance(ensemble, xr.Dataset):
            from ..sweeps.ensemble import load_ensemble  # the ENS helper's loader

            ensemble = load_ensemble(ensemble)
        if members is not None:
            ensemble = ensemble.isel(member=slice(0, members))
        n = ensemble.sizes["member"]
        if n < 2:
            raise ValueError(f"ensemble: {n} member(s); the uncertainty needs at least 2")
        member_values = {str(p): ensemble["value"].sel(parameter=p).values
                         for p in ensemble["parameter"].values}
        member_seeds = ensemble["district_seed"].values
        uncertainties.append(IntegerParameter("member", 0, n - 1))
    else:
        for p in ranges:
            if p not in PARAMETERS:
                raise ValueError(f"ranges.{p}: unknown parameter (see countysim.PARAMETERS)")
        uncertainties += [_parameter(p, tuple(r), "ranges") for p, r in ranges.items()]
        uncertainties.append(IntegerParameter("district_seed", 0, MAX_SEED))
    lever_params = []
    for p, spec in (levers or {}).items():
        if p not in PARAMETERS or PARAMETERS[p].section != "levers":
            raise ValueError(f"levers.{p}: not a lever of the registry; levers are "
                             + ", ".join(k for k, v in PARAMETERS.items()
                                         if v.section == "levers"))
        lever_params.append(_parameter(p, spec, "levers"))
    function = CountysimFunction(scenario, until, years, outcomes, member_values, member_seeds)
    model = Model(name, function=function)
    model.uncertainties = uncertainties
    model.levers = lever_params
    model.outcomes = [TimeSeriesOutcome(k) for k in outcomes]
    model.years = years
    model.ensemble = ensemble
    return model


def with_member_parameters(experiments: pd.DataFrame, model: Any, *,
                           keep_seeds: bool = False) -> pd.DataFrame:
    """The experiments table as PRIM's and feature scoring's ``x``.

    Each run's ensemble member is replaced by its parameter values, so the boxes speak of
    the calibrated parameters, not of a member's arbitrary index. The Workbench's
    bookkeeping columns (``scenario``, ``policy``, ``model``) are dropped, and so are
    ``seed`` and ``district_seed`` unless ``keep_seeds``: a seed's number has no order, so
    a box on it describes nothing (its effect shows as the density a box cannot reach).
    """
    drop = ["scenario", "policy", "model"] + ([] if keep_seeds else ["seed", "district_seed"])
    x = experiments.drop(columns=[c for c in drop if c in experiments])
    if getattr(model, "ensemble", None) is None or "member" not in x:
        return x
    member = x.pop("member").astype(int).to_numpy()
    ens = model.ensemble
    for p in ens["parameter"].values:
        x[str(p)] = ens["value"].sel(parameter=p).values[member]
    return x


def plot_prim_box(box: Any, i: int | None = None, *, fig: Figure | None = None) -> Figure:
    """Draw a PRIM box: each restricted dimension's limits within its sampled range.

    Args:
        box: A ``PrimBox`` (``prim.Prim(x, y).find_box()``).
        i: The peeling step to draw (default the box's selected one).
        fig: A figure to draw on (default a new one).

    Returns:
        The figure: one row per restricted dimension, the grey bar its whole range, the
        coloured bar the box's limits (numbers beside it), coverage and density in the
        title.
    """
    import matplotlib.pyplot as plt

    i = box._cur_box if i is None else i
    limits = box.box_lims[i]
    full = box.prim.box_init
    restricted = [c for c in limits.columns if not _same(limits[c], full[c])]
    stats_row = box.peeling_trajectory.iloc[i]
    n = max(len(restricted), 1)
    if fig is None:
        fig = plt.figure(figsize=(7, 0.6 * n + 1.4), layout="constrained")
    ax = fig.subplots()
    for row, column in enumerate(restricted):
        lo, hi = full[column]
        blo, bhi = limits[column]
        if isinstance(lo, (set, frozenset)) or isinstance(blo, (set, frozenset)):
            text = ", ".join(map(str, sorted(blo, key=str)))
            ax.barh(row, 1, left=0, color="0.85")
            ax.text(0.5, row, text, ha="center", va="center", fontsize="small")
            continue
        span = (hi - lo) or 1.0
        ax.barh(row, 1, left=0, color="0.85")
        ax.barh(row, (bhi - blo) / span, left=(blo - lo) / span, color="tab:red", alpha=0.7)
        ax.text(-0.02, row, f"{_fmt(blo)}", ha="right", va="center", fontsize="small")
        ax.text(1.02, row, f"{_fmt(bhi)}", ha="left", va="center", fontsize="small")
    ax.set_yticks(range(len(restricted)),
                  [f"{c}\n[{_fmt(full[c].iloc[0])}, {_fmt(full[c].iloc[1])}]"
                   if not isinstance(full[c].iloc[0], set | frozenset) else c
                   for c in restricted])
    ax.set_xlim(-0.25, 1.25)
    ax.set_xticks([0, 1], ["range low", "range high"])
    ax.invert_yaxis()
    ax.set_title(f"PRIM box {i}: coverage {stats_row['coverage']:.2f}, density "
                 f"{stats_row['density']:.2f}, mass {stats_row['mass']:.2f}")
    return fig


def box_limits(box: Any, i: int | None = None) -> pd.DataFrame:
    """The restricted dimensions of a PRIM box: one row each, ``low`` and ``high``
    (or ``values`` for a categorical one), beside the sampled range."""
    i = box._cur_box if i is None else i
    limits, full = box.box_lims[i], box.prim.box_init
    rows = []
    for column in limits.columns:
        if _same(limits[column], full[column]):
            continue
        lo, hi = limits[column]
        if isinstance(lo, set | frozenset):
            rows.append({"dimension": column, "values": sorted(map(str, lo))})
        else:
            rows.append({"dimension": column, "low": lo, "high": hi,
                         "range_low": full[column].iloc[0], "range_high": full[column].iloc[1]})
    return pd.DataFrame(rows)


def _same(a: pd.Series, b: pd.Series) -> bool:
    try:
        return bool(np.allclose(np.asarray(a, float), np.asarray(b, float)))
    except (TypeError, ValueError):
        return list(a) == list(b)


def _fmt(value: float) -> str:
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:,.0f}"


def failure(outcomes: Mapping[str, np.ndarray], model: Any, outcome: str, year: int,
            threshold: float, direction: str = ">=") -> np.ndarray:
    """Which experiments miss a threshold on one yearly outcome (True = target failed).

    Args:
        outcomes: The Workbench's outcomes dict (arrays experiments x years).
        model: The model of :func:`countysim_model` (for its ``years``).
        outcome: An outcome name.
        year: The target year.
        threshold: The target's threshold.
        direction: ``">="`` (met at or above) or ``"<="``.

    Returns:
        Boolean array over experiments; a run whose value is NaN counts as failed.
    """
    if direction not in (">=", "<="):
        raise ValueError(f"direction: expected '>=' or '<=', got {direction!r}")
    values = np.asarray(outcomes[outcome])[:, model.years.index(year)]
    met = values >= threshold if direction == ">=" else values <= threshold
    return ~(met & np.isfinite(values))

