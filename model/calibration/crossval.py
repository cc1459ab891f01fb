"""Leave-one-out cross-validation of the fitted targets that other targets constrain.

A target whose emulator's active parameters are mostly active for other targets too is
left out in turn: the set is re-screened without it, and the real model, run at points of
that larger set, predicts it. A target no other one constrains is only fitted: leaving it
out would test the prior ranges, not the calibration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .matching import _MARGIN, _Matcher, _uniform
from .runner import _CV, _DRAW_CV, _Runner, _seed, run_draws
from .spec import CalibrationSpec

__all__ = ["CrossValidation", "cross_validate", "cv_structure"]


_CV_SHARE = 0.5  # a target is cross-validated if >= half its active parameters act elsewhere


def cv_structure(matcher: _Matcher) -> dict[int, tuple[list[str], list[str]]]:
    """Which fitted targets other targets constrain, from the last wave's emulators.

    A target is *constrained by others* when at least half of its emulator's active
    parameters are active in the emulator of some other fitted target: then the other
    targets bound what it depends on, and leaving it out is a test, not a prior check.

    Returns:
        For every fitted target index: (its active parameters, those active elsewhere).
    """
    wave = matcher.waves[-1]
    active = {k: wave.emulators[k].active_names(significant_only=True) for k in matcher.fitted}
    out = {}
    for k in matcher.fitted:
        others = {n for j in matcher.fitted if j != k for n in active[j]}
        out[k] = (active[k], [n for n in active[k] if n in others])
    return out


@dataclass
class CrossValidation:
    """Leave-one-out predictions of the fitted targets other targets constrain.

    Attributes:
        constrained: Per target (file order): 1 if cross-validated, 0 if only fitted, -1
            if not fitted (held out).
        shared: Per target: its active parameters that other targets' emulators share.
        active: Per target: its emulator's active parameters (last wave).
        values: Real-model runs at points of the set without the target, shape
            ``(targets, points, replicates)`` (NaN where not cross-validated).
        nroy_share: Per target: share of candidates non-implausible without it.
        implausible_share: Per target: share of those points the left-out target's own
            emulator finds implausible (how much it would have cut).
    """

    constrained: np.ndarray
    shared: list[str]
    active: list[str]
    values: np.ndarray
    nroy_share: np.ndarray
    implausible_share: np.ndarray


def cross_validate(spec: CalibrationSpec, matcher: _Matcher, runner: _Runner,
                   say: Callable[[str], None]) -> CrossValidation:
    """Leave each constrained target out, re-screen, and predict it with real runs.

    The final waves' emulators are reused: the set without target ``k`` is sampled from
    the last wave's box widened by a margin (the set without ``k`` is larger), screened
    by every wave's emulators on every other target (each wave only inside its box), and
    the real model is run at ``cv_points`` of its points (``cv_replicates`` runs each,
    with district draws). The 5-95 % range of those runs is the prediction of ``k``.
    """
    K = len(matcher.targets)
    constrained = np.full(K, -1, dtype=np.int8)
    shared, active = [""] * K, [""] * K
    values = np.full((K, spec.cv_points, spec.cv_replicates), np.nan)
    nroy = np.full(K, np.nan)
    cut = np.full(K, np.nan)
    box = _widened_box(spec, matcher)
    for k, (act, sh) in cv_structure(matcher).items():
        active[k], shared[k] = ", ".join(act), ", ".join(sh)
        constrained[k] = int(len(sh) >= _CV_SHARE * len(act) and len(sh) > 0)
        if not constrained[k]:
            continue
        rng = np.random.default_rng(_seed(spec.seed, _CV, k))
        pool, drawn = _set_without(spec, matcher, rng, box, k)
        nroy[k] = pool.shape[0] / max(drawn, 1)
        if pool.shape[0] == 0:
            continue
        c = matcher.fitted.index(k)
        own = matcher.target_implausibility(matcher.waves[-1], pool)[:, c]
        cut[k] = float(np.mean(own > spec.cutoff))
        pts = spec.snap(pool[rng.permutation(pool.shape[0])[: spec.cv_points]])
        Y = runner(pts, spec.cv_replicates, lambda i, r, k=k: _seed(spec.seed, _CV, k, i, r),
                   lambda i, r, k=k: run_draws(spec, _DRAW_CV, k, i, r, carried=False))
        values[k, : pts.shape[0]] = Y[:, :, k]
        say(f"cross-validation {matcher.targets[k].id}: {pool.shape[0]} points of "
            f"{drawn} without it ({cut[k]:.0%} implausible for it), {Y.size // K} runs")
    return CrossValidation(constrained, shared, active, values, nroy, cut)


def _widened_box(spec: CalibrationSpec, matcher: _Matcher) -> tuple[np.ndarray, np.ndarray]:
    """The last wave's box widened by twice the margin, inside the prior ranges."""
    prior = (spec.lower, spec.upper)
    lo, hi = matcher.waves[-1].box
    pad = 2 * _MARGIN * (hi - lo)
    return np.maximum(lo - pad, prior[0]), np.minimum(hi + pad, prior[1])


def _set_without(spec: CalibrationSpec, matcher: _Matcher, rng: np.random.Generator,
                 box: tuple[np.ndarray, np.ndarray], k: int) -> tuple[np.ndarray, int]:
    """Candidates non-implausible without target ``k``, and how many were drawn.

    Up to ten times ``cv_points`` of them, from at most a quarter of ``max_candidates``
    (but at least one batch).
    """
    kept, drawn = [], 0
    budget = max(spec.max_candidates // 4, spec.candidates)
    while sum(x.shape[0] for x in kept) < 10 * spec.cv_points and drawn < budget:
        X = _uniform(rng, box, spec.candidates)
        drawn += X.shape[0]
        ok, _ = matcher.plausible(X, exclude=k)
        kept.append(X[ok])
    return np.concatenate(kept), drawn
