"""The calibrated baseline: one point of the set to write into the scenario.

Two choices (``[baseline] choice``):

* ``"medoid"``: the ensemble's central member: of the members whose own runs fit every
  target within :data:`BASELINE_FIT`, the one whose summed distance to all members is
  least, in fitted and carried parameters standardised by their sd over the members.
  A member is an accepted point whose real runs are non-implausible, so every value lies
  inside its accepted range, and the baseline is typical of the ensemble rather than an
  edge of it: an optimiser drifts to a bound along directions the targets leave free
  (an unconstrained parameter at 0, say), which then decides what a lever can do.
  The next most central members are run as candidates too, for the report.
* ``"best_fit"``: the point of the set whose emulated means are closest to the fitted
  targets in units of the run-to-run spread (scipy L-BFGS-B from the best accepted
  points, with a pull to the set's centre), confirmed among the candidates by real runs.

Either is rounded and verified with fresh seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from ..core.parameters import PARAMETERS
from .matching import _Matcher, _Wave
from .runner import _BASELINE, _Runner, _seed
from .spec import CalibrationSpec
from .targets import Target, Targets

_Z90 = 1.6449  # half-width of a central 90% normal interval, in sd
#: A member fit for the baseline: on its own check runs every fitted target within 2 sd
#: (observation, model discrepancy and its seed noise; no between-member spread). A member
#: is kept in the ensemble at 3 sd of a variance that includes the spread of carried
#: draws and districts, loose enough that the plain medoid missed A5 by 18 % and A9 by
#: three quarters; 2 sd is the usual 95 % band.
BASELINE_FIT = 2.0
_CENTRE_PULL = 0.1  # weight of the pull to the set's centre, per unit of box width squared


def _baseline_distance(t: Target, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Distance of a mean from what a baseline should hit, in run-to-run sd.

    For a point target, the value. For a range (千余: [1000, 1999]) the range shrunk by the
    half-width of the run-to-run 90% interval, so that the model's year falls inside the
    range rather than straddling its end (down to the middle, if the range is narrower).
    """
    lo, hi = t.interval
    if hi > lo:
        mid = 0.5 * (lo + hi)
        lo, hi = np.minimum(lo + _Z90 * sd, mid), np.maximum(hi - _Z90 * sd, mid)
    return np.maximum(np.maximum(lo - mean, mean - hi), 0.0) / sd


def _fit_objective(matcher: _Matcher, wave: _Wave, X: np.ndarray) -> np.ndarray:
    """Sum over fitted targets of squared distance in run-to-run + emulator sd units."""
    total = np.zeros(X.shape[0])
    for k in matcher.fitted:
        p = wave.emulators[k].predict(X)
        sd = np.sqrt(np.maximum(p.var_ensemble + p.var_emulator, 1e-300))
        total += _baseline_distance(matcher.targets[k], p.mean, sd) ** 2
    return total


def _baseline_candidates(spec: CalibrationSpec, matcher: _Matcher, wave: _Wave,
                         accepted: np.ndarray) -> np.ndarray:
    """Candidate baselines: the emulated best fit, optimised from the best accepted points."""
    lo, hi = wave.box
    centre = (accepted.mean(axis=0) - lo) / (hi - lo)

    def objective(x: np.ndarray) -> float:
        # A pull to the set's centre picks a central point along ridges of equally good fits
        # (directions the targets do not identify); at 0.1 per squared box width it costs
        # less than a fifth of a run sd of misfit.
        u = (x - lo) / (hi - lo)
        return float(_fit_objective(matcher, wave, x[None, :])[0]
                     + _CENTRE_PULL * np.sum((u - centre) ** 2))

    order = np.argsort(_fit_objective(matcher, wave, accepted))
    out = []
    for i in order[: spec.baseline_candidates]:
        res = minimize(objective, accepted[i], method="L-BFGS-B",
                       bounds=list(zip(lo, hi, strict=True)))
        ok, _ = matcher.plausible(res.x[None, :])
        # An optimum outside the set (the last emulators extrapolating) is not a candidate;
        # its starting point, a member of the set, stands in for it.
        out.append(res.x if ok[0] else accepted[i])
    return np.array(out)


def _real_scores(targets: Targets, Y: np.ndarray) -> np.ndarray:
    """Per candidate: worst and summed squared distance of fitted targets, in run sd units.

    The run-to-run sd is pooled over the candidates (which all sit near the best fit).
    """
    ybar = Y.mean(axis=1)
    sd = np.broadcast_to(np.sqrt(np.maximum(np.nanmean(Y.var(axis=1, ddof=1), axis=0), 1e-24)),
                         ybar.shape)
    worst = np.zeros(Y.shape[0])
    total = np.zeros(Y.shape[0])
    for k, t in enumerate(targets):
        if t.held_out:
            continue
        d = _baseline_distance(t, ybar[:, k], sd[:, k])
        worst = np.maximum(worst, d)
        total += d ** 2
    return np.column_stack([worst, total])


def _round(spec: CalibrationSpec, x: np.ndarray) -> dict[str, int | float]:
    """Values to ``significant_digits`` inside the ranges; integer parameters as ints."""
    out: dict[str, int | float] = {}
    for p, v in zip(spec.parameters, x, strict=True):
        if PARAMETERS[p.name].kind is int:
            out[p.name] = int(min(max(round(float(v)), math.ceil(p.lower)),
                                  math.floor(p.upper)))
            continue
        if v == 0:
            out[p.name] = 0.0
            continue
        digits = spec.significant_digits - 1 - math.floor(math.log10(abs(v)))
        out[p.name] = float(min(max(round(float(v), digits), p.lower), p.upper))
    return out


@dataclass
class _Baseline:
    """The candidates, their real runs and scores, the one chosen and its verification."""

    candidates: np.ndarray
    values: np.ndarray
    scores: np.ndarray
    best: int
    calibrated: dict[str, int | float]
    verify_values: np.ndarray
    verify_seeds: list[int]
    member: int = -1
    draws: dict[str, int | float] = field(default_factory=dict)


def medoid_order(points: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Points from the most central: by summed Euclidean distance to all the others.

    Args:
        points: Shape ``(n, parameters)``.
        scale: Each parameter's unit of distance (its sd; a zero sd counts as 1).

    Returns:
        Indices into ``points``, the medoid first (ties in index order).
    """
    z = points / np.where(scale > 0, scale, 1.0)
    distance = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(axis=-1))
    return np.argsort(distance.sum(axis=1), kind="stable")


def calibrated_baseline(spec: CalibrationSpec, matcher: _Matcher, runner: _Runner,
                        targets: Targets, accepted: np.ndarray,
                        members: np.ndarray | None = None,
                        member_draws: Sequence[Mapping[str, int | float]] = (),
                        member_fit: np.ndarray | None = None) -> _Baseline:
    """The baseline (the ensemble's medoid member, or the best emulated fit), verified.

    Args:
        spec: The experiment.
        matcher: The waves' emulators.
        runner: Runs the model.
        targets: The targets.
        accepted: The accepted sample (fitted parameters).
        members: The ensemble members' fitted parameters, in member order
            (``"medoid"``; without members the best fit is used).
        member_draws: Each member's district draw and carried values (:func:`run_draws`);
            with ``members``.
        member_fit: Each member's implausibility on its own check runs, with their seed
            noise rather than the ensemble's spread (max over the fitted targets); with
            ``members``.

    Centrality is taken over every parameter that differs between members (fitted and
    carried), each standardised by its sd over the members. The baseline is the most
    central member whose own runs fit every fitted target within :data:`BASELINE_FIT`
    (observation, discrepancy and seed-noise sd), taken whole: its fitted values, carried
    values and district, run with them. The
    verification runs use integer seeds ``verify_seed, verify_seed + 1, ...``, as
    ``countysim run --seed N`` does, so the report's table can be re-run by hand.
    """
    medoid = spec.baseline_choice == "medoid" and members is not None and len(members) > 0
    draws: list[Mapping[str, int | float]] = []
    if medoid:
        carried = np.array([[d[p.name] for p in spec.carried] for d in member_draws],
                           dtype=float).reshape(len(members), -1)
        full = np.column_stack([members, carried])
        order = medoid_order(full, full.std(axis=0))
        # The most central of the members that fit on their own runs; if none does, the
        # best-fitting ones.
        good = order[member_fit[order] <= BASELINE_FIT]
        order = (good if good.size else np.argsort(member_fit, kind="stable"))[
            : spec.baseline_candidates]
        cand = spec.snap(members[order])
        draws = [member_draws[i] for i in order]
    else:
        cand = spec.snap(_baseline_candidates(spec, matcher, matcher.waves[-1], accepted))
    cand_Y = runner(cand, spec.baseline_replicates,
                    lambda i, r: _seed(spec.seed, _BASELINE, i, r),
                    (lambda i, r: draws[i]) if medoid else None)
    scores = _real_scores(targets, cand_Y)
    best = 0 if medoid else int(np.lexsort((scores[:, 1], scores[:, 0]))[0])
    calibrated = _round(spec, cand[best])
    verify_seeds = list(range(spec.verify_seed, spec.verify_seed + spec.verify_replicates))
    chosen = dict(draws[best]) if medoid else {}
    verify_Y = runner(np.array([[calibrated[n] for n in spec.names]]), len(verify_seeds),
                      lambda i, r: verify_seeds[r], (lambda i, r: chosen) if chosen else None)[0]
    return _Baseline(cand, cand_Y, scores, best, calibrated, verify_Y, verify_seeds,
                     int(order[best]) if medoid else -1, chosen)
