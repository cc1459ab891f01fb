"""The waves of history matching: design, runs, emulators, and the shrinking region.

Wave 1's design is a Latin hypercube over the ranges; later waves draw their points from
the current non-implausible set by rejection sampling through the emulators, thinned to
a space-filling (maximin) subset. After the last wave, a random sample of the set is the
*accepted* sample every later step starts from.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from scipy.stats import qmc

from .emulate import Emulator
from .matching import (
    _empty_warning,
    _least_implausible,
    _Matcher,
    _maximin,
    _sample_nroy,
    _shrink,
    _Wave,
)
from .runner import _ACCEPT, _DESIGN, _DRAW_DESIGN, _RUNS, _Runner, _seed, run_draws
from .spec import CalibrationSpec
from .targets import Targets

Box = tuple[np.ndarray, np.ndarray]


def run_waves(spec: CalibrationSpec, targets: Targets, runner: _Runner, matcher: _Matcher,
              say: Callable[[str], None], t0: float) -> tuple[np.ndarray, list[str]]:
    """Run every wave, appending it to ``matcher.waves``; stop early if the set empties.

    Args:
        spec: The experiment.
        targets: The targets (pseudo-targets in a recovery).
        runner: Runs the model.
        matcher: Collects the waves.
        say: Where progress lines go.
        t0: ``time.perf_counter()`` at the start (for the progress lines).

    Returns:
        The last wave's non-implausible candidates (empty if none was found) and the
        warnings of the waves.
    """
    prior = (spec.lower, spec.upper)
    warnings: list[str] = []
    box = prior
    pool = np.zeros((0, len(spec.names)))
    for w in range(spec.waves):
        # One generator per wave, drawn in a fixed order: design, validation split, NROY
        # candidates (changing the order would change every later number).
        rng = np.random.default_rng(_seed(spec.seed, _DESIGN, w))
        X = spec.snap(_design(spec, rng, box, pool, w))
        Y = runner(X, spec.replicates, lambda i, r, w=w: _seed(spec.seed, _RUNS, w, i, r),
                   lambda i, r, w=w: run_draws(spec, _DRAW_DESIGN, w, i, r, carried=False))
        warnings += _failure_warnings(Y, runner, w)
        wave = _fit_wave(spec, len(targets), rng, w, box, X, Y)
        matcher.waves.append(wave)
        pool = _screen(spec, matcher, wave, rng, prior)
        say(f"wave {w + 1}: {X.shape[0] * spec.replicates} runs; non-implausible: "
            f"{wave.accept_rate:.3g} of {wave.candidates} candidates in the box, "
            f"~{wave.nroy_fraction:.3g} of the original space; "
            f"{time.perf_counter() - t0:.0f} s")
        warnings += _coverage_warnings(targets, wave)
        if pool.shape[0] == 0:
            warnings.append(_empty_warning(matcher, wave, w))
            say(warnings[-1])
            break
        if pool.shape[0] < spec.points and w + 1 < spec.waves:
            warnings.append(f"wave {w + 1}: only {pool.shape[0]} non-implausible candidates "
                            f"found for the next wave's {spec.points} points")
        box = _shrink(pool, prior)
    return pool, warnings


def _design(spec: CalibrationSpec, rng: np.random.Generator, box: Box, pool: np.ndarray,
            w: int) -> np.ndarray:
    """Wave ``w``'s design: a Latin hypercube at first, then maximin points of the set."""
    if w == 0:
        lhs = qmc.LatinHypercube(d=len(spec.names), rng=rng)
        return qmc.scale(lhs.random(spec.points), *box)
    return _maximin(pool, spec.points, rng, box)


def _failure_warnings(Y: np.ndarray, runner: _Runner, w: int) -> list[str]:
    ok = np.all(np.isfinite(Y), axis=(1, 2))
    if ok.all():
        return []
    return [f"wave {w + 1}: {int((~ok).sum())} design points failed to run "
            f"({runner.errors[-1] if runner.errors else '?'})"]


def _fit_wave(spec: CalibrationSpec, n_targets: int, rng: np.random.Generator, w: int,
              box: Box, X: np.ndarray, Y: np.ndarray) -> _Wave:
    """One emulator per target on every design point, checked first on held-back points.

    The check fits an emulator without a random ``validation_share`` of the points and
    predicts them; the emulator kept is then refitted on all of them.
    """
    order = rng.permutation(X.shape[0])
    n_val = round(spec.validation_share * X.shape[0])
    val, train = order[:n_val], order[n_val:]
    emulators, validation = [], []
    for k in range(n_targets):
        em = Emulator(spec.names, *box, max_active=spec.max_active)
        if n_val:
            em.fit(X[train], Y[train, :, k])
            validation.append(em.validate(X[val], Y[val, :, k]))
            em = Emulator(spec.names, *box, max_active=spec.max_active)
        else:
            validation.append(None)
        emulators.append(em.fit(X, Y[:, :, k]))
    return _Wave(w, box, X, Y, emulators, validation)


def _screen(spec: CalibrationSpec, matcher: _Matcher, wave: _Wave, rng: np.random.Generator,
            prior: Box) -> np.ndarray:
    """Candidates non-implausible under every wave so far; records the wave's rates."""
    box = wave.box
    wanted = max(spec.accepted, 5 * spec.points)
    pool, rate, drawn = _sample_nroy(matcher, rng, box, wanted, spec.candidates,
                                     spec.max_candidates)
    volume = float(np.prod((box[1] - box[0]) / (prior[1] - prior[0])))
    wave.accept_rate, wave.candidates = rate, drawn
    wave.nroy_fraction = rate * volume
    return pool


def _coverage_warnings(targets: Targets, wave: _Wave) -> list[str]:
    out = []
    for k, t in enumerate(targets):
        v = wave.validation[k]
        if v is not None and v.n and v.coverage2 < 0.8:
            out.append(f"wave {wave.index + 1}: emulator of {t.id} under-covers held-out runs "
                       f"({v.coverage2:.0%} within 2 sd; want ~95%)")
    return out


def accepted_sample(spec: CalibrationSpec, matcher: _Matcher, pool: np.ndarray) -> np.ndarray:
    """The accepted sample: up to ``spec.accepted`` points of the set after the last wave.

    If the set is empty, the least implausible points of the last wave's box stand in.
    """
    rng = np.random.default_rng(_seed(spec.seed, _ACCEPT))
    if pool.shape[0]:
        return pool[rng.permutation(pool.shape[0])[: spec.accepted]]
    return _least_implausible(matcher, matcher.waves[-1], rng, spec.accepted)
