"""Implausibility under the waves' emulators, and sampling of the non-implausible set.

A point is *implausible* if for some fitted target ``I = d(z, E[f(x)]) / sqrt(V_obs +
V_discrepancy + V_emulator + V_ensemble)`` exceeds the cut-off, taking the maximum over
targets (or the second largest). :class:`_Matcher` holds the waves so far; a point must
pass the emulators of every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .emulate import Emulator, implausibility
from .spec import CalibrationSpec
from .targets import Targets

__all__ = ["member_variance"]

_MARGIN = 0.1  # share of a box's width added on each side when it is shrunk to the NROY set


@dataclass
class _Wave:
    """One wave: its box, design, runs, emulators and their checks."""

    index: int
    box: tuple[np.ndarray, np.ndarray]
    X: np.ndarray
    Y: np.ndarray
    emulators: list[Emulator]
    validation: list[Any]
    accept_rate: float = float("nan")
    nroy_fraction: float = float("nan")
    candidates: int = 0


class _Matcher:
    """Implausibility of candidate points under the emulators of the waves so far."""

    def __init__(self, spec: CalibrationSpec, targets: Targets) -> None:
        self.targets = targets
        self.fitted = [i for i, t in enumerate(targets) if not t.held_out]
        self.cutoff, self.rule = spec.cutoff, spec.rule
        self.var_fixed = np.array([t.obs_variance + (spec.discrepancy_cv[t.id] * t.centre) ** 2
                                   for t in targets])
        self.waves: list[_Wave] = []

    def target_implausibility(self, wave: _Wave, X: np.ndarray) -> np.ndarray:
        """Implausibility per fitted target, shape ``(len(X), n_fitted)``."""
        out = np.empty((X.shape[0], len(self.fitted)))
        for c, k in enumerate(self.fitted):
            t = self.targets[k]
            p = wave.emulators[k].predict(X)
            lo, hi = t.interval
            out[:, c] = implausibility(p.mean, lo, hi,
                                       self.var_fixed[k] + p.var_emulator + p.var_ensemble)
        return out

    def combine(self, imp: np.ndarray) -> np.ndarray:
        """Max (or second-max) implausibility over targets."""
        if self.rule == "second_max" and imp.shape[1] > 1:
            return np.sort(imp, axis=1)[:, -2]
        return imp.max(axis=1)

    def plausible(self, X: np.ndarray, upto: int | None = None, *,
                  exclude: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mask of points non-implausible under waves ``0..upto``, and the last wave's I.

        With ``exclude = k`` (cross-validation), target ``k`` is left out of every wave's
        screening, and a wave screens only the points inside its own box: outside it,
        its emulators would extrapolate from no design point (the box was shrunk with
        target ``k`` still in the fit).
        """
        waves = self.waves if upto is None else self.waves[: upto + 1]
        keep = np.ones(X.shape[0], dtype=bool)
        last = np.full(X.shape[0], np.inf)
        cols = [c for c, k in enumerate(self.fitted) if k != exclude]
        for wave in waves:
            idx = np.flatnonzero(keep)
            if exclude is not None:
                inside = np.all((X[idx] >= wave.box[0]) & (X[idx] <= wave.box[1]), axis=1)
                idx = idx[inside]
            if idx.size == 0:
                if exclude is None:
                    break
                continue
            imp = self.combine(self.target_implausibility(wave, X[idx])[:, cols])
            last[:] = np.inf
            last[idx] = imp
            keep[idx] = imp <= self.cutoff
        return keep, last


def _uniform(rng: np.random.Generator, box: tuple[np.ndarray, np.ndarray], n: int) -> np.ndarray:
    lo, hi = box
    return lo + (hi - lo) * rng.random((n, lo.size))


def _sample_nroy(matcher: _Matcher, rng: np.random.Generator,
                 box: tuple[np.ndarray, np.ndarray], wanted: int, batch: int,
                 max_candidates: int) -> tuple[np.ndarray, float, int]:
    """Rejection sampling from the box through every wave's emulators."""
    kept, drawn = [], 0
    n_kept = 0
    while n_kept < wanted and drawn < max_candidates:
        X = _uniform(rng, box, min(batch, max_candidates - drawn))
        drawn += X.shape[0]
        ok, _ = matcher.plausible(X)
        kept.append(X[ok])
        n_kept += int(ok.sum())
    X = np.concatenate(kept) if kept else np.zeros((0, box[0].size))
    return X, n_kept / max(drawn, 1), drawn


def _maximin(X: np.ndarray, n: int, rng: np.random.Generator,
             box: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Greedy farthest-point subset of ``n`` rows: a space-filling design inside the set."""
    if X.shape[0] <= n:
        return X
    lo, hi = box
    U = (X - lo) / (hi - lo)
    chosen = [int(rng.integers(X.shape[0]))]
    dist = np.sum((U - U[chosen[0]]) ** 2, axis=1)
    for _ in range(n - 1):
        j = int(np.argmax(dist))
        chosen.append(j)
        dist = np.minimum(dist, np.sum((U - U[j]) ** 2, axis=1))
    return X[np.array(chosen)]


def _shrink(X: np.ndarray, prior: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box of ``X`` widened by a margin (the set's edge is only sampled)."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = _MARGIN * np.maximum(hi - lo, 1e-3 * (prior[1] - prior[0]))
    return np.maximum(lo - pad, prior[0]), np.minimum(hi + pad, prior[1])


def _empty_warning(matcher: _Matcher, wave: _Wave, w: int) -> str:
    """Which targets no design point of the wave could reach (the misfit, named)."""
    ybar = np.nanmean(wave.Y, axis=1)
    parts = []
    for k in matcher.fitted:
        t = matcher.targets[k]
        lo, hi = t.interval
        var = matcher.var_fixed[k] + np.nanvar(wave.Y[:, :, k], axis=1, ddof=1)
        best = float(np.nanmin(implausibility(ybar[:, k], lo, hi, var)))
        parts.append(f"{t.id} {best:.1f}")
    return (f"wave {w + 1}: no non-implausible point found; the model may not reach every "
            f"target. Least implausibility per target among the wave's runs: "
            + ", ".join(parts))


def _least_implausible(matcher: _Matcher, wave: _Wave, rng: np.random.Generator,
                       n: int) -> np.ndarray:
    """Fallback sample when the set is empty: the least implausible points of the box."""
    X = _uniform(rng, wave.box, max(20 * n, 10_000))
    imp = matcher.combine(matcher.target_implausibility(wave, X))
    return X[np.argsort(imp)[:n]]


def _real_implausibility(matcher: _Matcher, targets: Targets, Y: np.ndarray,
                         var_ensemble: np.ndarray | None = None) -> np.ndarray:
    """Implausibility of real-run means at points (no emulator), shape (points, targets).

    The run-to-run variance is pooled over the points: a few replicates per point give a
    sample variance too noisy to divide by (with 2 replicates, 1 degree of freedom). When
    each point keeps one district draw and one set of carried values over its replicates
    (ensemble members), their spread is seed noise only, while the point's mean still
    differs from the emulated one by the between-draw variance: then ``var_ensemble``
    (the last wave's emulated run-to-run variance at the points, shape (points, targets),
    which includes the draws) is used instead.
    """
    R = Y.shape[1]
    ybar = Y.mean(axis=1)
    s2 = np.nanmean(Y.var(axis=1, ddof=1), axis=0)
    out = np.empty(ybar.shape)
    for k, t in enumerate(targets):
        lo, hi = t.interval
        noise = s2[k] * (1.0 + 1.0 / R) if var_ensemble is None else var_ensemble[:, k]
        var = np.maximum(matcher.var_fixed[k] + noise, 1e-300)
        out[:, k] = implausibility(ybar[:, k], lo, hi, var)
    return out


def member_variance(matcher: _Matcher, X: np.ndarray) -> np.ndarray:
    """The last wave's emulated run-to-run variance at points, shape (points, targets)."""
    return np.column_stack([em.predict(X).var_ensemble for em in matcher.waves[-1].emulators])
