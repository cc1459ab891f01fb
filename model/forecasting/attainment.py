"""Probabilities of attainment with intervals for a finite number of runs, and fan quantiles.

A forecast estimates the probability that a target is met from ``n`` runs, of which ``k``
meet it. The point estimate is ``k / n``. Its 95 % interval is the **Jeffreys interval**:
the 2.5 % and 97.5 % quantiles of ``Beta(k + 1/2, n - k + 1/2)``, the posterior under the
Jeffreys prior ``Beta(1/2, 1/2)``, with the lower end set to 0 when ``k = 0`` and the
upper end to 1 when ``k = n`` (Brown, Cai & DasGupta 2001, "Interval estimation for a
binomial proportion", Statistical Science 16: 101-133).

Why Jeffreys (and not Wald or Clopper-Pearson): forecasts run tens to a few hundred runs
per package, and targets are often nearly always or nearly never met. The Wald interval
collapses to a point at ``k = 0`` or ``k = n`` (the "probability of exactly 0 or 1" the
issue complains about); Clopper-Pearson is conservative (coverage well above 95 %, so
wider than needed); Jeffreys and Wilson both have coverage close to the nominal rate for
small ``n`` and ``p`` near 0 or 1, and Brown et al. recommend either for ``n < 40``.
Jeffreys is equal-tailed (each tail misses about 2.5 %), which suits one-sided questions
("at least how likely?"). Its coverage is checked on simulated Bernoulli data in
``tests/test_forecast_attainment.py``.

Runs whose outcome is NaN (failed runs, incomplete years, years outside a target) are
left out: ``n`` counts only runs with an outcome, and a probability with ``n = 0`` is NaN.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import xarray as xr
from scipy import stats

__all__ = ["CONFIDENCE", "FAN_QUANTILES", "fan", "jeffreys_interval", "probability"]

#: Confidence level of the attainment intervals.
CONFIDENCE = 0.95
#: Quantiles of the fan charts (5/25/50/75/95 %, the issue's).
FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def jeffreys_interval(k: np.ndarray, n: np.ndarray, confidence: float = CONFIDENCE
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The Jeffreys interval for ``k`` successes in ``n`` trials (elementwise).

    Args:
        k: Successes (float arrays allowed; NaN propagates).
        n: Trials; where ``n = 0`` both ends are NaN.
        confidence: Coverage, e.g. 0.95.

    Returns:
        Lower and upper ends, in [0, 1].
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    alpha = 1.0 - confidence
    with np.errstate(invalid="ignore", divide="ignore"):
        low = stats.beta.ppf(alpha / 2, k + 0.5, n - k + 0.5)
        high = stats.beta.ppf(1 - alpha / 2, k + 0.5, n - k + 0.5)
    low = np.where(k <= 0, 0.0, low)
    high = np.where(k >= n, 1.0, high)
    empty = ~(n > 0)
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def probability(attained: xr.DataArray, dim: str | Sequence[Hashable],
                confidence: float = CONFIDENCE) -> xr.Dataset:
    """The probability of attainment over runs, with its interval and number of runs.

    Args:
        attained: 1.0 (met), 0.0 (missed) or NaN (no outcome), e.g. the ``attained`` of
            :func:`countysim.forecasting.targets.evaluate`.
        dim: The dim or dims that index runs (reduced away).
        confidence: Coverage of the interval (default 95 %).

    Returns:
        A Dataset with ``probability`` (k / n), ``probability_low`` and
        ``probability_high`` (the Jeffreys interval) and ``n`` (runs with an outcome), over
        the remaining dims.

    Raises:
        ValueError: ``attained`` holds values other than 0, 1 and NaN.
    """
    dims = [dim] if isinstance(dim, str) else list(dim)
    values = attained.values
    ok = np.isnan(values) | (values == 0) | (values == 1)
    if not ok.all():
        raise ValueError("attained must hold 0, 1 or NaN; got "
                         f"{np.unique(values[~ok])[:5].tolist()}")
    n = attained.notnull().sum(dims)
    k = attained.sum(dims, skipna=True)
    low, high = jeffreys_interval(k.values, n.values, confidence)
    p = k / n.where(n > 0)
    percent = f"{confidence:.0%}"
    return xr.Dataset({
        "probability": p.assign_attrs(long_name="probability of attainment (share of runs "
                                      "meeting the target)", units="1"),
        "probability_low": k.copy(data=low).assign_attrs(
            long_name=f"lower end of the {percent} Jeffreys interval", units="1"),
        "probability_high": k.copy(data=high).assign_attrs(
            long_name=f"upper end of the {percent} Jeffreys interval", units="1"),
        "n": n.astype(np.int64).assign_attrs(long_name="runs with an outcome", units="1"),
    }, attrs={"interval": f"Jeffreys {percent}: Beta(k + 1/2, n - k + 1/2) quantiles, "
              "0 at k = 0 and 1 at k = n (Brown, Cai & DasGupta 2001)"})


def fan(values: xr.DataArray, dim: str | Sequence[Hashable],
        quantiles: Sequence[float] = FAN_QUANTILES) -> xr.DataArray:
    """Quantiles over runs of a value (fan charts), NaN-robust.

    Args:
        values: e.g. the ``value`` of :func:`countysim.forecasting.targets.evaluate`.
        dim: The dim or dims that index runs.
        quantiles: The quantiles (default 5/25/50/75/95 %).

    Returns:
        The quantiles along a new ``quantile`` dim (last); NaN where no run has a value.
    """
    dims = [dim] if isinstance(dim, str) else list(dim)
    q = np.asarray(quantiles, dtype=float)
    if q.size == 0 or np.any((q < 0) | (q > 1)):
        raise ValueError(f"quantiles must lie in [0, 1], got {list(quantiles)}")
    stacked = values.stack(_run=dims) if len(dims) > 1 else values.rename({dims[0]: "_run"})
    data = np.moveaxis(stacked.values, stacked.get_axis_num("_run"), -1).astype(float)
    with np.errstate(invalid="ignore"), _quiet_all_nan():
        out = np.nanquantile(data, q, axis=-1) if data.shape[-1] else np.full(
            (q.size, *data.shape[:-1]), np.nan)
    rest = [d for d in stacked.dims if d != "_run"]
    coords = {name: c for name, c in stacked.coords.items()
              if "_run" not in c.dims and name not in dims}
    result = xr.DataArray(np.moveaxis(out, 0, -1), dims=[*rest, "quantile"],
                          coords={**coords, "quantile": q})
    return result.assign_attrs(values.attrs)


class _quiet_all_nan:
    """Silence numpy's "All-NaN slice" warning: an all-NaN slice gives NaN, as documented."""

    def __enter__(self) -> None:
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._catch.__exit__(*exc)
