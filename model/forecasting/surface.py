"""Attainment surface over levers: a binomial GLM fitted on a sweep, for untried values.

A lever sweep (``grid``, ``list`` or ``lhs`` design) gives, at each design point, how many
of its runs met a target. :func:`fit_surface` fits a logistic regression (statsmodels
``GLM``, family ``Binomial``, logit link) of those counts on the lever values;
:meth:`Surface.predict` gives the probability of attainment at lever values that were
not run, with a confidence interval, and optionally a predictive interval for the share
of ``runs`` new runs that would meet it (what a held-out sweep point shows)::

    from countysim.forecasting import surface

    # attained(sample, replicate) of one target and year, lever values as coordinates
    # along sample (e.g. from countysim.forecasting.targets.evaluate on a lever sweep)
    s = surface.surface_from_sweep(attained, ["pilot_villages", "frontline_share"])
    s.predict({"pilot_villages": [70, 110], "frontline_share": [0.5, 0.5]})

Terms. ``degree = 2`` (default) is the full quadratic in the standardised levers:
intercept, linear terms, squares and pairwise products, on the logit scale. A logit-linear
surface forces each lever's effect to be monotone with one fixed S shape; the quadratic
lets an effect level off or turn (diminishing returns of pilot coverage) and two levers
act together (coverage x support), while staying a GLM with exact likelihood inference.
It has ``1 + 2k + k(k-1)/2`` coefficients for ``k`` levers (6 for two, 10 for three),
which a sweep of a few dozen points can estimate; regression splines would need several
knots per lever, more points than lever sweeps usually have. ``degree = 1`` is the
logit-linear model; compare the two with :attr:`Surface.aic`.

Intervals. The confidence interval is computed on the logit scale (Wald, from the
coefficients' covariance) and transformed, so it stays inside [0, 1]. The predictive
interval for the share of ``m`` new runs mixes Binomial(``m``, p) over the logit's normal
sampling distribution (Gauss-Hermite quadrature, deterministic); being discrete it covers
at least its nominal level. Both assume the runs at a design point are independent given
the levers, true of a sweep's replicates (independent seeds) when everything else is fixed.
A target met in all runs on one side of a lever value and none on the other (perfect
separation) has no finite maximum-likelihood fit: :func:`fit_surface` warns, and the
intervals there are not to be trusted.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special, stats

__all__ = ["QUADRATURE_NODES", "Surface", "fit_surface", "surface_from_sweep"]

#: Gauss-Hermite nodes of the predictive interval's mixing over the logit: 40 nodes
#: integrate the binomial pmf (smooth in the logit) to well below 1e-6 for |se| <= 5.
QUADRATURE_NODES = 40


@dataclass(frozen=True)
class Surface:
    """A fitted attainment surface (see the module docstring).

    Attributes:
        levers: The lever names, in the order of the design matrix.
        degree: 1 (logit-linear) or 2 (quadratic).
        center: Mean of each lever over the fitted points (standardisation).
        scale: Standard deviation of each lever over the fitted points.
        result: The statsmodels ``GLMResults``.
        n_points: Design points fitted.
        n_runs: Runs (trials) fitted.
    """

    levers: tuple[str, ...]
    degree: int
    center: np.ndarray
    scale: np.ndarray
    result: Any
    n_points: int
    n_runs: int

    @property
    def aic(self) -> float:
        """Akaike's information criterion of the fit (lower is better)."""
        return float(self.result.aic)

    @property
    def terms(self) -> list[str]:
        """Names of the design matrix's columns."""
        return _term_names(self.levers, self.degree)

    def design(self, table: pd.DataFrame | Mapping[str, Sequence[float]]) -> np.ndarray:
        """The design matrix of lever values (standardised, with the model's terms)."""
        table = pd.DataFrame(table)
        missing = [lever for lever in self.levers if lever not in table]
        if missing:
            raise ValueError(f"lever values missing for {missing}; the surface was fitted "
                             f"on {list(self.levers)}")
        z = (table[list(self.levers)].to_numpy(float) - self.center) / self.scale
        return _expand(z, self.degree)

    def predict(self, levers: pd.DataFrame | Mapping[str, Sequence[float]], *,
                alpha: float = 0.05, runs: int | None = None) -> xr.Dataset:
        """Probability of attainment at lever values, with intervals.

        Args:
            levers: Lever name -> values (one point per row/position).
            alpha: 1 - the intervals' level.
            runs: If given, add the ``1 - alpha`` predictive interval of the share of
                ``runs`` new runs that attain (``share_low``, ``share_high``).

        Returns:
            Dataset along ``point``: ``probability``, ``probability_low``,
            ``probability_high`` (and ``share_low``, ``share_high``), with the lever
            values as coordinates.
        """
        table = pd.DataFrame(levers)
        x = self.design(table)
        # The linear predictor and its Wald standard error from the coefficients' covariance
        # (what statsmodels' get_prediction(which="linear") computes).
        eta = x @ np.asarray(self.result.params)
        se = np.sqrt(np.einsum("ij,jk,ik->i", x, np.asarray(self.result.cov_params()), x))
        z = stats.norm.ppf(1 - alpha / 2)
        data = {
            "probability": ("point", special.expit(eta),
                            {"long_name": "probability of attainment (GLM fit)"}),
            "probability_low": ("point", special.expit(eta - z * se),
                                {"long_name": f"{1 - alpha:.0%} confidence bound, low"}),
            "probability_high": ("point", special.expit(eta + z * se),
                                 {"long_name": f"{1 - alpha:.0%} confidence bound, high"}),
        }
        if runs is not None:
            low, high = _share_interval(eta, se, int(runs), alpha)
            text = f"{1 - alpha:.0%} predictive bound of the share of {runs} new runs"
            data["share_low"] = ("point", low, {"long_name": text + ", low"})
            data["share_high"] = ("point", high, {"long_name": text + ", high"})
        coords = {lever: ("point", table[lever].to_numpy()) for lever in self.levers}
        return xr.Dataset(data, coords={"point": np.arange(len(table)), **coords},
                          attrs={"degree": self.degree, "alpha": alpha,
                                 "n_points": self.n_points, "n_runs": self.n_runs})


def fit_surface(levers: pd.DataFrame | Mapping[str, Sequence[float]],
                successes: Sequence[float] | np.ndarray,
                trials: Sequence[float] | np.ndarray | None = None, *,
                degree: int = 2) -> Surface:
    """Fit a binomial GLM (logit) of attainment on lever values.

    Args:
        levers: Lever name -> numeric values, one row per design point (or per run).
        successes: Runs that attained at each row (0/1 per run when ``trials`` is None).
        trials: Runs at each row (default 1: one run a row).
        degree: 1 (logit-linear) or 2 (full quadratic; see the module docstring).

    Returns:
        The fitted :class:`Surface`.

    Raises:
        ValueError: Non-numeric levers, inconsistent lengths, successes outside
            ``[0, trials]``, or fewer rows than the model has coefficients.
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    if degree not in (1, 2):
        raise ValueError(f"degree: expected 1 or 2, got {degree!r}")
    table = pd.DataFrame(levers)
    for name in table:
        if not pd.api.types.is_numeric_dtype(table[name]) or \
                pd.api.types.is_bool_dtype(table[name]):
            raise ValueError(f"lever {name!r}: the surface takes numeric levers only "
                             f"(got {table[name].dtype}); fit one surface per category")
    y = np.asarray(successes, dtype=float)
    n = np.ones_like(y) if trials is None else np.asarray(trials, dtype=float)
    if not (len(table) == y.size == n.size):
        raise ValueError(f"lengths differ: {len(table)} lever rows, {y.size} successes, "
                         f"{n.size} trials")
    keep = n > 0  # a design point whose runs all failed carries no information
    table, y, n = table[keep].reset_index(drop=True), y[keep], n[keep]
    if ((y < 0) | (y > n)).any():
        raise ValueError("successes must lie in [0, trials] at every row")
    x = table.to_numpy(float)
    center, scale = x.mean(axis=0), x.std(axis=0)
    constant = scale == 0
    if constant.any():
        raise ValueError(f"levers {list(table.columns[constant])} take one value only; "
                         "a surface needs them varied")
    design = _expand((x - center) / scale, degree)
    if len(table) <= design.shape[1]:
        raise ValueError(f"{len(table)} design points for {design.shape[1]} coefficients "
                         f"(degree {degree}, {x.shape[1]} levers); run more points or use "
                         "degree=1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PerfectSeparationWarning)
        # Named columns, so the summary's coefficient table reads "pilot_villages^2".
        exog = pd.DataFrame(design, columns=_term_names(list(table.columns), degree))
        result = sm.GLM(np.column_stack([y, n - y]), exog,
                        family=sm.families.Binomial()).fit()
    if any(issubclass(w.category, PerfectSeparationWarning) for w in caught) or \
            not result.converged:
        warnings.warn("attainment surface: (quasi-)perfect separation or no convergence; "
                      "the fit is not unique and its intervals are not reliable: add design "
                      "points where attainment changes, or use degree=1", stacklevel=2)
    return Surface(tuple(str(c) for c in table.columns), degree, center, scale, result,
                   len(table), int(n.sum()))


def surface_from_sweep(attained: xr.DataArray, levers: Sequence[str] | None = None, *,
                       degree: int = 2) -> Surface:
    """Fit a surface on a sweep's ``attained(sample, replicate)`` (1, 0, or NaN).

    Args:
        attained: Attainment of one target in one year, dims ``sample`` and
            ``replicate``; NaN (failed runs) is left out of the counts. The lever values
            are coordinates along ``sample`` (as :func:`countysim.open_results` has them).
        levers: The coordinates to use (default every numeric coordinate along
            ``sample`` only).
        degree: As :func:`fit_surface`.

    Returns:
        The fitted :class:`Surface`.
    """
    if set(attained.dims) != {"sample", "replicate"}:
        raise ValueError(f"attained must have dims (sample, replicate), got {attained.dims}; "
                         "select one target and year first")
    if levers is None:
        levers = [str(c) for c, v in attained.coords.items()
                  if v.dims == ("sample",) and c != "sample" and v.dtype.kind in "iuf"]
    valid = attained.notnull()
    successes = attained.where(valid, 0).sum("replicate")
    trials = valid.sum("replicate")
    table = {name: attained[name].values for name in levers}
    return fit_surface(table, successes.values, trials.values, degree=degree)


def _expand(z: np.ndarray, degree: int) -> np.ndarray:
    columns = [np.ones(len(z)), *z.T]
    if degree == 2:
        k = z.shape[1]
        columns += [z[:, i] * z[:, j] for i, j in itertools.combinations_with_replacement(
            range(k), 2)]
    return np.column_stack(columns)


def _term_names(levers: Sequence[str], degree: int) -> list[str]:
    names = ["const", *levers]
    if degree == 2:
        names += [f"{a}^2" if a == b else f"{a}*{b}"
                  for a, b in itertools.combinations_with_replacement(levers, 2)]
    return names


def _share_interval(eta: np.ndarray, se: np.ndarray, runs: int,
                    alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles of the share of ``runs`` new runs: Binomial mixed over the logit."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
    weights = weights / weights.sum()
    p = special.expit(eta[:, None] + se[:, None] * nodes[None, :])           # point, node
    k = np.arange(runs + 1)
    pmf = (stats.binom.pmf(k[None, None, :], runs, p[:, :, None])
           * weights[None, :, None]).sum(axis=1)                             # point, k
    cdf = np.cumsum(pmf, axis=1)
    # Lowest k with cdf >= alpha/2 and lowest with cdf >= 1 - alpha/2: an equal-tailed
    # interval that covers at least 1 - alpha (rounding guard: 1e-12).
    low = np.argmax(cdf >= alpha / 2 - 1e-12, axis=1)
    high = np.argmax(cdf >= 1 - alpha / 2 - 1e-12, axis=1)
    return low / runs, high / runs
