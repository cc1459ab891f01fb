"""Naive baselines: the district's own series (B2 population, B7 output) forecast alone.

The model's paths to 2030 should beat what the district's own history says by itself. This
module forecasts the two multi-year series of the district with statsmodels'
``UnobservedComponents`` on the log scale (so levels stay positive and the bands are
multiplicative) and draws them beside the model's quantiles::

    from countysim.forecasting import baseline

    base = baseline.naive_baseline()              # Dataset: year x quantile, to 2030
    baseline.plot_baseline(base, "population", model=model_quantiles)

The series ship with the package (``countysim/data/series/litong.toml``, each value with
its source ID; :func:`load_series`).

Population (B2, 2015-2021, seven year-end values). The trend model is chosen by AIC among
the three classic structural trends, all fitted by maximum likelihood on log population:

======================  =====  =======================================================
spec                    AIC    what it says
======================  =====  =======================================================
``smooth trend``        -34.2  the growth rate drifts (integrated random walk): chosen
``local linear trend``  -32.2  the same fit (level variance 0) with one more parameter
``rwdrift``             -30.2  a constant growth rate with random shocks
======================  =====  =======================================================

B2's growth slowed from 2.6 % (2016) to 0.4 % (2021), which only the drifting growth rate
follows; its band to 2030 is wide (90 %: 41.4-55.6 ten-thousand), as seven points and a
nine-year horizon warrant.

Output (B7). Only the 2021-25 average is known (4.3 % a year real), i.e. the index at
2020 (1) and 2025 (1.043^5); the years between are missing, which the Kalman filter
handles. A random walk with drift on log output has one variance, which two points cannot
estimate, so it is set: :data:`OUTPUT_GROWTH_SD` (an assumption, stated). The drift is
estimated (exact diffuse initialisation), so its uncertainty widens the band: the log
forecast ``h`` years after 2025 has variance ``sd^2 (h + h^2 / 5)``.
"""

from __future__ import annotations

import tomllib
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from ..core.errors import InputError, read_toml

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["OUTPUT_GROWTH_SD", "POPULATION_SPECS", "QUANTILES", "Series", "SeriesError",
           "load_series", "naive_baseline", "plot_baseline"]

#: Quantiles of the forecast, as in the forecast Dataset's fan charts.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Year-to-year sd of log real output growth (1/yr). Assumption: B7 gives only a
#: five-year average, so the variance cannot be estimated; 2 percentage points is the
#: order of the year-to-year swings of Chinese county and provincial real growth outside
#: 2020 (Ningxia +6.6 % in 2023, R14, against Litong's 4.3 % average, B7).
OUTPUT_GROWTH_SD = 0.02
#: Candidate structural trends for population, chosen by AIC (see the module docstring).
POPULATION_SPECS = ("smooth trend", "local linear trend", "rwdrift")
#: The model's variable each series is compared with, and the factor to its units.
MODEL_VARIABLES = {"population": ("population", 1e4), "output_index": ("output_index", 1.0)}


class SeriesError(InputError):
    """A series file is invalid (the message names the file and the key)."""


@dataclass(frozen=True)
class Series:
    """One yearly series of the district.

    Attributes:
        name: Key in the series file (``"population"``, ``"output_index"``).
        years: Calendar years with a value.
        values: The values, in ``unit``.
        unit: Unit of the values.
        source: Source ID and note.
        long_name: What the series measures.
    """

    name: str
    years: tuple[int, ...]
    values: tuple[float, ...]
    unit: str
    source: str
    long_name: str

    def to_series(self) -> pd.Series:
        """The values on a yearly ``PeriodIndex`` with the missing years as NaN."""
        index = pd.period_range(str(self.years[0]), str(self.years[-1]), freq="Y")
        out = pd.Series(np.nan, index=index, name=self.name)
        out[pd.PeriodIndex([str(y) for y in self.years], freq="Y")] = self.values
        return out


def load_series(path: str | Path | None = None) -> dict[str, Series]:
    """The district's series (default: the packaged ``litong.toml``).

    Raises:
        SeriesError: The file is missing or not TOML, a series lacks a key, or its years
            and values differ in length; the message names the file and the key.
    """
    if path is None:
        text = resources.files("countysim").joinpath("data/series/litong.toml").read_text(
            encoding="utf-8")
        path = "countysim/data/series/litong.toml"
        data = tomllib.loads(text)
    else:
        data = read_toml(Path(path), SeriesError, "series")[1]
    out = {}
    for name, entry in data.get("series", {}).items():
        for key in ("years", "values", "unit", "source"):
            if key not in entry:
                raise SeriesError(path, f"series.{name}.{key}", "missing")
        if len(entry["years"]) != len(entry["values"]) or len(entry["years"]) < 2:
            raise SeriesError(path, f"series.{name}.values", "expected one value per year "
                              f"(at least two), got {len(entry['values'])} values for "
                              f"{len(entry['years'])} years")
        out[name] = Series(name, tuple(int(y) for y in entry["years"]),
                           tuple(float(v) for v in entry["values"]), entry["unit"],
                           entry["source"], entry.get("long_name", name))
    return out


def _population_fit(log_y: pd.Series) -> tuple[object, str, dict[str, float]]:
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    fits = {}
    for spec in POPULATION_SPECS:
        with warnings.catch_warnings():
            # Seven points: the optimiser warns about its Hessian at a variance of 0.
            warnings.simplefilter("ignore")
            fits[spec] = UnobservedComponents(log_y, level=spec).fit(disp=False)
    aic = {spec: float(r.aic) for spec, r in fits.items()}
    best = min(aic, key=aic.get)
    return fits[best], best, aic


def _output_fit(log_y: pd.Series, sd: float) -> object:
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    model = UnobservedComponents(log_y, level="rwdrift", use_exact_diffuse=True)
    return model.filter([sd**2])


def naive_baseline(series: dict[str, Series] | None = None, *, until: int = 2030,
                   quantiles: tuple[float, ...] = QUANTILES,
                   output_growth_sd: float = OUTPUT_GROWTH_SD) -> xr.Dataset:
    """Forecast the district's population (B2) and output (B7) from their own history.

    Args:
        series: From :func:`load_series` (default: the packaged Litong series).
        until: Last forecast year.
        quantiles: Quantiles of the forecast distribution.
        output_growth_sd: Year-to-year sd of log output growth (see
            :data:`OUTPUT_GROWTH_SD`).

    Returns:
        Dataset with dims ``year`` (first observed year to ``until``) and ``quantile``:
        ``population`` (persons) and ``output_index`` (2020 = 1), each with its
        ``*_observed(year)`` values; in observed years the quantiles are the observation.
        Attributes give the specs, AICs and sources.
    """
    series = series or load_series()
    q = np.asarray(quantiles, float)
    z = stats.norm.ppf(q)
    arrays: dict[str, xr.DataArray] = {}
    for name in ("population", "output_index"):
        s = series[name]
        observed = s.to_series()
        log_y = np.log(observed)
        if name == "population":
            result, spec, aic = _population_fit(log_y)
            note = f"spec {spec!r} by AIC ({', '.join(f'{k}: {v:.1f}' for k, v in aic.items())})"
        else:
            result = _output_fit(log_y, output_growth_sd)
            note = (f"spec 'rwdrift', sd of log growth fixed at {output_growth_sd} "
                    "(assumption: OUTPUT_GROWTH_SD); drift estimated")
        if until <= s.years[-1]:
            raise ValueError(f"until: {until} is not after the last observed year "
                             f"{s.years[-1]} of {name}")
        forecast = result.get_forecast(until - s.years[-1])
        mean = np.asarray(forecast.predicted_mean)
        sd = np.sqrt(np.asarray(forecast.var_pred_mean))
        years = np.arange(s.years[0], until + 1)
        factor = MODEL_VARIABLES[name][1]
        obs = np.full(years.size, np.nan)
        obs[: observed.size] = observed.to_numpy()
        fan = np.empty((years.size, q.size))
        fan[: observed.size] = obs[: observed.size, None]   # NaN in unobserved past years
        fan[observed.size:] = np.exp(mean[:, None] + sd[:, None] * z[None, :])
        units = "persons" if name == "population" else s.unit
        arrays[name] = xr.DataArray(
            fan * factor, dims=("year", "quantile"), coords={"year": years, "quantile": q},
            attrs={"long_name": f"{s.long_name}: naive forecast", "units": units,
                   "source": s.source, "method": note})
        arrays[f"{name}_observed"] = xr.DataArray(
            obs * factor, dims="year", coords={"year": years},
            attrs={"long_name": f"{s.long_name}: observed", "units": units,
                   "source": s.source})
    return xr.Dataset(arrays, attrs={
        "title": "naive baselines of the district's own series",
        "method": "statsmodels UnobservedComponents on log values; quantiles of the "
                  "normal forecast distribution of the log, exponentiated"})


def plot_baseline(baseline: xr.Dataset, variable: str, *, model: xr.DataArray | None = None,
                  rebase: int | None = None, ax: Axes | None = None) -> Axes:
    """Draw a naive baseline (fan and observations) beside the model's quantiles.

    Args:
        baseline: From :func:`naive_baseline`.
        variable: ``"population"`` or ``"output_index"``.
        model: The model's quantiles of the same indicator, dims ``year`` and ``quantile``
            (e.g. the forecast Dataset's fan, or December values' quantiles over runs).
        rebase: Divide each by its own median in this year (for an index: B7's is 2020 =
            1, the model's is its start month = 1; ``rebase=2025`` compares growth).
        ax: Axes to draw on (default a new figure's).

    Returns:
        The Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        ax = plt.subplots(figsize=(7, 4), layout="constrained")[1]

    def scaled(da: xr.DataArray) -> xr.DataArray:
        if rebase is None:
            return da
        return da / da.sel(year=rebase).sel(quantile=0.5, method="nearest")

    def fan(da: xr.DataArray, color: str, label: str) -> None:
        da = scaled(da)
        years = da["year"].values
        ax.fill_between(years, da.sel(quantile=0.05, method="nearest"),
                        da.sel(quantile=0.95, method="nearest"), color=color, alpha=0.15,
                        lw=0, label=f"{label} 5-95 %")
        ax.fill_between(years, da.sel(quantile=0.25, method="nearest"),
                        da.sel(quantile=0.75, method="nearest"), color=color, alpha=0.3,
                        lw=0, label=f"{label} 25-75 %")
        ax.plot(years, da.sel(quantile=0.5, method="nearest"), color=color, label=f"{label} "
                "median")

    base = baseline[variable]
    fan(base, "tab:gray", "naive baseline")
    observed = baseline[f"{variable}_observed"]
    if rebase is not None:
        observed = observed / base.sel(year=rebase).sel(quantile=0.5, method="nearest")
    ax.plot(baseline["year"], observed, "ko", ms=4, label=f"observed ({base.attrs['source'][:2]})")
    if model is not None:
        fan(model.transpose("year", "quantile"), "tab:blue", "model")
    ax.set_xlabel("year")
    ax.set_ylabel(f"{variable} [{base.attrs['units']}]" + (f", {rebase} = 1" if rebase else ""))
    ax.set_title(f"{base.attrs['long_name']} vs the model")
    ax.legend(fontsize="small")
    return ax
