"""Emulators of a stochastic model's outputs, and the implausibility of history matching.

An :class:`Emulator` stands in for the model for one output. It has two statsmodels
regressions over the (scaled) parameters:

* the **mean**: OLS of the replicate mean on a quadratic basis in the output's *active*
  parameters (chosen by partial F-tests on a main-effects fit, as in Vernon, Goldstein &
  Bower 2010). Its prediction variance is the variance of the fitted mean
  (``get_prediction().var_pred_mean``) plus, where a lack-of-fit F-test against the
  replicates' pure error finds one, the residual variance the replicate noise does not
  explain;
* the **ensemble variance**: a log-linear model of the sample variance over replicates in
  the active parameters (as Andrianakis et al. 2015), fitted as a statsmodels GLM with log
  link by quasi-likelihood (Poisson family): it estimates E[s^2] = sigma^2(x) directly, so
  it needs no correction for the bias of log s^2 and copes with s^2 = 0, which replicates
  of small counts often give.

:func:`implausibility` is the history-matching distance between a target and a
prediction, in units of the total standard deviation (observation, model discrepancy,
emulator and ensemble variance together).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import statsmodels.api as sm
from scipy.stats import f as f_dist

__all__ = ["Emulator", "EmulatorPrediction", "Validation", "implausibility"]


def implausibility(mean: np.ndarray | float, lower: float, upper: float,
                   variance: np.ndarray | float) -> np.ndarray:
    """History-matching implausibility of a prediction against a target.

    ``I = d / sqrt(V)`` where ``d`` is the distance from ``mean`` to the target interval
    ``[lower, upper]`` (``|z - mean|`` for a point target, ``lower == upper == z``; zero
    inside a range) and ``V`` is the sum of every variance that separates the two
    (observation + model discrepancy + emulator + ensemble).

    Args:
        mean: Predicted (or simulated) mean of the output.
        lower: Lower end of the target (the value, for a point target).
        upper: Upper end of the target (the value, for a point target).
        variance: Total variance, same shape as ``mean`` or scalar; must be positive.

    Returns:
        The implausibility, same shape as ``mean``.

    Raises:
        ValueError: ``upper < lower`` or a variance is not positive.
    """
    if upper < lower:
        raise ValueError(f"upper {upper} is below lower {lower}")
    variance = np.asarray(variance, dtype=float)
    if np.any(~(variance > 0)):
        raise ValueError("implausibility needs a positive variance")
    mean = np.asarray(mean, dtype=float)
    distance = np.maximum(np.maximum(lower - mean, mean - upper), 0.0)
    return distance / np.sqrt(variance)


@dataclass(frozen=True)
class EmulatorPrediction:
    """An emulator's prediction at some inputs.

    Attributes:
        mean: Predicted ensemble mean of the output.
        var_emulator: Variance of that prediction (fitted-mean variance + lack of fit).
        var_ensemble: Predicted run-to-run (ensemble) variance of a single run.
    """

    mean: np.ndarray
    var_emulator: np.ndarray
    var_ensemble: np.ndarray


@dataclass(frozen=True)
class Validation:
    """Emulator check on design points kept out of its fit.

    Attributes:
        n: Number of validation points.
        errors: Standardised errors ``(ybar - mean) / sqrt(var_emulator + var_ens / R)``.
        coverage2: Share of ``|error| <= 2`` (about 0.95 for a well-calibrated emulator).
        coverage3: Share of ``|error| <= 3``.
    """

    n: int
    errors: np.ndarray
    coverage2: float
    coverage3: float

    @property
    def mean_error(self) -> float:
        """Mean standardised error (bias; near 0 when fine)."""
        return float(np.mean(self.errors)) if self.n else float("nan")

    @property
    def sd_error(self) -> float:
        """Standard deviation of the standardised errors (near 1 when fine)."""
        return float(np.std(self.errors, ddof=1)) if self.n > 1 else float("nan")


@dataclass
class Emulator:
    """Emulator of one model output over a box of parameters.

    Args:
        names: Parameter names, in the order of the columns of ``X``.
        lower: Lower ends of the box the design was drawn in (scales the inputs).
        upper: Upper ends of that box.
        max_active: Most parameters to keep in the quadratic mean model.
        alpha: Significance level of the partial F-test that makes a parameter active.
        lof_alpha: Significance level of the lack-of-fit F-test (replicates as pure error).

    Attributes:
        active: Indices of the active parameters (set by :meth:`fit`).
        r_squared: R² of the mean model.
        significant: Whether any main effect was significant (else the one active
            parameter only stands in for the basis).
        var_lack_of_fit: Residual variance the replicate noise does not explain.
    """

    names: Sequence[str]
    lower: np.ndarray
    upper: np.ndarray
    max_active: int = 6
    alpha: float = 1e-3
    lof_alpha: float = 0.05
    active: list[int] = field(default_factory=list, init=False)
    r_squared: float = field(default=float("nan"), init=False)
    significant: bool = field(default=False, init=False)
    var_lack_of_fit: float = field(default=0.0, init=False)
    _mean_fit: object = field(default=None, init=False, repr=False)
    _var_fit: object = field(default=None, init=False, repr=False)
    _var_unit: float = field(default=1.0, init=False, repr=False)
    _replicates: int = field(default=1, init=False, repr=False)

    def __post_init__(self) -> None:
        self.lower = np.asarray(self.lower, dtype=float)
        self.upper = np.asarray(self.upper, dtype=float)
        if self.lower.shape != (len(self.names),) or self.upper.shape != self.lower.shape:
            raise ValueError("lower and upper need one entry per parameter name")
        if np.any(self.upper <= self.lower):
            raise ValueError("every upper end must exceed its lower end")

    # ------------------------------------------------------------------ basis

    def scale(self, X: np.ndarray) -> np.ndarray:
        """Map parameters to [-1, 1] over the box (keeps the basis well conditioned)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        return 2.0 * (X - self.lower) / (self.upper - self.lower) - 1.0

    def _quadratic(self, U: np.ndarray, idx: Sequence[int]) -> np.ndarray:
        cols = [np.ones(U.shape[0])]
        cols += [U[:, j] for j in idx]
        cols += [U[:, j] ** 2 for j in idx]
        cols += [U[:, i] * U[:, j] for i, j in combinations(idx, 2)]
        return np.column_stack(cols)

    def _linear(self, U: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(U.shape[0]), *(U[:, j] for j in self.active)])

    # -------------------------------------------------------------------- fit

    def fit(self, X: np.ndarray, Y: np.ndarray) -> Emulator:
        """Fit the mean and ensemble-variance models.

        Args:
            X: Parameters of the design points, shape ``(n, d)``.
            Y: Outputs, shape ``(n, R)``: ``R`` replicates per point (``R >= 2`` for the
                ensemble variance; with ``R == 1`` it is taken as zero).

        Returns:
            ``self``.

        Raises:
            ValueError: Too few points for the basis, or shapes that do not match.
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        Y = np.asarray(Y, dtype=float).reshape(X.shape[0], -1)
        keep = np.all(np.isfinite(Y), axis=1)
        X, Y = X[keep], Y[keep]
        n, d = X.shape
        if d != len(self.names):
            raise ValueError(f"X has {d} columns for {len(self.names)} parameter names")
        if n < 2 * d + 3:
            raise ValueError(f"{n} finite design points cannot fit {2 * d + 1} main effects")
        U = self.scale(X)
        ybar = Y.mean(axis=1)
        self._replicates = R = Y.shape[1]
        self.active = self._select_active(U, ybar)
        # The quadratic basis must leave residual degrees of freedom: drop the weakest
        # active parameters until it does.
        while len(self.active) > 1 and self._quadratic(U, self.active).shape[1] > n - 5:
            self.active = self.active[:-1]
        fit = sm.OLS(ybar, self._quadratic(U, self.active)).fit()
        self._mean_fit = fit
        self.r_squared = float(fit.rsquared) if np.ptp(ybar) > 0 else 1.0
        if R >= 2:
            s2 = Y.var(axis=1, ddof=1)
            noise_of_mean = float(np.mean(s2)) / R
            self._var_fit = None
            self._var_unit = float(np.mean(s2))
            if self._var_unit > 0:
                # Scaled to mean 1 so the quasi-Poisson fit is well conditioned; the mean
                # model (all that is used) does not depend on the scale.
                glm = sm.GLM(s2 / self._var_unit, self._linear(U),
                             family=sm.families.Poisson())
                try:
                    self._var_fit = glm.fit()
                except (ValueError, np.linalg.LinAlgError):
                    self._var_fit = None  # falls back to the mean sample variance
        else:
            noise_of_mean = 0.0
            self._var_fit = None
        self.var_lack_of_fit = 0.0
        if noise_of_mean > 0:
            # Classical lack-of-fit F-test against the pure error of the replicates: an
            # always-on max(scale - pure, 0) would add a positive bias to every prediction
            # variance even where the basis fits.
            F = float(fit.scale) / noise_of_mean
            if f_dist.sf(F, fit.df_resid, n * (R - 1)) < self.lof_alpha:
                self.var_lack_of_fit = float(fit.scale) - noise_of_mean
        return self

    def _select_active(self, U: np.ndarray, y: np.ndarray) -> list[int]:
        """Parameters whose main effect (linear + square) is significant, strongest first."""
        d = U.shape[1]
        if np.ptp(y) == 0:
            self.significant = False
            return [0]
        basis = np.column_stack([np.ones(U.shape[0]), U, U ** 2])
        fit = sm.OLS(y, basis).fit()
        stats = []
        for j in range(d):
            R = np.zeros((2, basis.shape[1]))
            R[0, 1 + j] = 1.0
            R[1, 1 + d + j] = 1.0
            test = fit.f_test(R)
            stats.append((float(np.squeeze(test.fvalue)), float(np.squeeze(test.pvalue)), j))
        stats.sort(key=lambda s: -s[0])
        active = [j for f, p, j in stats if p < self.alpha][: self.max_active]
        # With no significant effect the strongest stands in (the basis needs one), and
        # significant says so: the output is not constrained through any parameter.
        self.significant = bool(active)
        return active or [stats[0][2]]

    # ---------------------------------------------------------------- predict

    def predict(self, X: np.ndarray) -> EmulatorPrediction:
        """Predicted mean, emulator variance and ensemble variance at ``X`` (shape (m, d))."""
        if self._mean_fit is None:
            raise RuntimeError("fit the emulator before predicting")
        U = self.scale(X)
        pred = self._mean_fit.get_prediction(self._quadratic(U, self.active))
        var_em = np.asarray(pred.var_pred_mean, dtype=float) + self.var_lack_of_fit
        if self._var_fit is not None:
            var_ens = self._var_unit * np.asarray(self._var_fit.predict(self._linear(U)),
                                                  dtype=float)
        elif self._replicates >= 2:
            var_ens = np.full(U.shape[0], self._var_unit)
        else:
            var_ens = np.zeros(U.shape[0])
        return EmulatorPrediction(np.asarray(pred.predicted_mean, dtype=float), var_em, var_ens)

    def validate(self, X: np.ndarray, Y: np.ndarray) -> Validation:
        """Standardised errors of the replicate means of points not used in the fit."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        Y = np.asarray(Y, dtype=float).reshape(X.shape[0], -1)
        keep = np.all(np.isfinite(Y), axis=1)
        X, Y = X[keep], Y[keep]
        if X.shape[0] == 0:
            return Validation(0, np.zeros(0), float("nan"), float("nan"))
        p = self.predict(X)
        var = p.var_emulator + p.var_ensemble / Y.shape[1]
        var = np.maximum(var, 1e-300)
        err = (Y.mean(axis=1) - p.mean) / np.sqrt(var)
        return Validation(int(err.size), err, float(np.mean(np.abs(err) <= 2)),
                          float(np.mean(np.abs(err) <= 3)))

    def active_names(self, significant_only: bool = False) -> list[str]:
        """Names of the active parameters, strongest first.

        Args:
            significant_only: Return nothing when no main effect was significant (the
                active parameter is then a stand-in for the basis).
        """
        if significant_only and not self.significant:
            return []
        return [self.names[j] for j in self.active]
