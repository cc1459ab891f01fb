"""Model runs for a calibration: the seed tree, the draws no emulator sees, and the runner.

Seeds come from one ``SeedSequence`` tree rooted at the experiment's ``seed``; every step
takes its own branch (:data:`_DESIGN`, :data:`_RUNS`, ...), so results are gathered by
index and do not depend on the number of workers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any

import numpy as np

from ..core.parameters import PARAMETERS
from ..core.scenario import Scenario
from .spec import CalibrationSpec, _typed
from .targets import Targets

__all__ = ["carried_draw", "pseudo_targets", "run_draws", "sourced_value"]


def _seed(entropy: int, *key: int) -> np.random.SeedSequence:
    """Node ``key`` of the experiment's seed tree (same as spawning children in order)."""
    return np.random.SeedSequence(entropy, spawn_key=tuple(int(k) for k in key))


# Branches of the seed tree (append, never renumber: results depend on them).
_DESIGN, _RUNS, _CHECK, _BASELINE, _ACCEPT, _TRUTH, _DRAWS, _CV, _BANDS = range(9)
# Sub-branches of _DRAWS: design runs, ensemble members (check runs), cross-validation.
_DRAW_DESIGN, _DRAW_MEMBER, _DRAW_CV = range(3)
_DISTRICT_SEEDS = 2**31  # district_seed draws are integers in [0, 2^31)


def run_draws(spec: CalibrationSpec, *key: int, carried: bool = True
              ) -> dict[str, int | float]:
    """Values drawn for one run (or one ensemble member) that no emulator sees as an input.

    The district draw (``district_seed``, if ``spec.district_draws``) and the carried
    parameters (:func:`carried_draw` over their ranges), from node ``(_DRAWS, *key)`` of
    the seed tree.

    Args:
        spec: The experiment.
        *key: The node below the draws' branch.
        carried: Draw the carried parameters too. The design and cross-validation runs
            keep them at their sourced values (:func:`sourced_value`): the fit is of the
            calibrated parameters given those values; the carried draws enter with the
            ensemble's members, which real runs must confirm non-implausible.

    Returns:
        Parameter overrides (empty if nothing is drawn).
    """
    if not spec.district_draws and not spec.carried:
        return {}
    rng = np.random.default_rng(_seed(spec.seed, _DRAWS, *key))
    out: dict[str, int | float] = {}
    if spec.district_draws:
        out["district_seed"] = int(rng.integers(0, _DISTRICT_SEEDS))
    for p in spec.carried:
        if carried:
            value = carried_draw(rng.uniform(), p.lower, sourced_value(p.name), p.upper)
            out[p.name] = _typed(p.name, value)
        else:
            # Pinned at the sourced value: the scenario may hold a member's draw (the
            # medoid baseline), and a second calibration must fit what the first did.
            out[p.name] = _typed(p.name, sourced_value(p.name))
    return out


def sourced_value(name: str) -> float:
    """A carried parameter's sourced value, the median of its draws: the registry's
    default, which is the value its source gives (the scenario may hold a member's draw)."""
    return float(PARAMETERS[name].default)


def carried_draw(u: float | np.ndarray, low: float, median: float,
                 high: float) -> float | np.ndarray:
    """A carried parameter's value at quantile ``u``: split uniform, median at the value.

    Half the probability is spread evenly over ``[low, median]`` and half over
    ``[median, high]``. The source's value stays the best guess (the median) and the stated
    range its bounds. A plain uniform over a half-to-twice range would put the median at
    1.25 times the value, and the fitted parameters would then compensate for a bias
    that the baseline (which keeps the sourced values) does not have.

    Args:
        u: Quantile(s) in ``[0, 1]``.
        low: Lower end of the stated range.
        median: The scenario's value (inside the range).
        high: Upper end of the stated range.

    Returns:
        The value(s), in ``[low, high]``.
    """
    u = np.asarray(u, dtype=float)
    below = low + 2.0 * u * (median - low)
    above = median + (2.0 * u - 1.0) * (high - median)
    out = np.where(u < 0.5, below, above)
    return float(out) if out.ndim == 0 else out


def _run_one(task: tuple) -> tuple[np.ndarray, str]:
    """One model run; returns the target values and an error text ('' if fine)."""
    from ..core.county import run

    scenario, overrides, seed, until, targets = task
    try:
        ds = run(scenario, seed=seed, until=until, **overrides)
        values = np.array([t.evaluate(ds, scenario.start) for t in targets])
        return values, ""
    except Exception as exc:  # one failing run must not sink the calibration
        return np.full(len(targets), np.nan), f"{type(exc).__name__}: {exc}"


def _run_bands(task: tuple) -> tuple[list[str], str]:
    """One point's runs to 2030 on its seeds; returns the bands they leave and an error
    text ('' if fine). A point whose runs fail leaves every band."""
    from ..core.county import run
    from .bands import BANDS, YEARS, failed_bands

    scenario, overrides, seeds = task
    try:
        runs = [run(scenario, seed=s, until=f"{YEARS[-1]}-12", **overrides) for s in seeds]
        return failed_bands(runs), ""
    except Exception as exc:  # one failing point must not sink the calibration
        return [band.label for band in BANDS], f"{type(exc).__name__}: {exc}"


class _Runner:
    """Runs the model at many points and seeds, in order, in-process or in a pool."""

    def __init__(self, spec: CalibrationSpec, targets: Targets, executor: Executor | None,
                 workers: int) -> None:
        self.spec = spec
        self.scenario = spec.scenario
        self.until = max(t.read_at for t in targets)
        self.targets = tuple(targets)
        self.executor = executor
        self.workers = workers
        self.runs = 0
        self.errors: list[str] = []

    def _map(self, fn: Callable[[tuple], Any], tasks: list[tuple], chunked: bool = True
             ) -> list[Any]:
        """``fn`` over ``tasks`` in order, in-process or in the pool. Many short runs go
        in chunks (fewer round trips); a point's runs to 2030 (``chunked=False``) one by
        one, so the workers stay busy to the end."""
        if self.executor is None:
            return [fn(t) for t in tasks]
        chunk = max(1, len(tasks) // (8 * self.workers)) if chunked else 1
        return list(self.executor.map(fn, tasks, chunksize=chunk))

    def __call__(self, points: np.ndarray, replicates: int,
                 seed: Callable[[int, int], Any],
                 draws: Callable[[int, int], Mapping[str, Any]] | None = None) -> np.ndarray:
        """Outputs of shape ``(len(points), replicates, n_targets)``.

        ``seed(i, r)`` gives the seed of replicate ``r`` at point ``i``; ``draws(i, r)``
        (optional) the values drawn for that run that are not emulator inputs: the
        district draw (``district_seed``) and carried parameters. Integer parameters
        are rounded (callers pass points through :meth:`CalibrationSpec.snap` first, so
        that what they keep is what ran).
        """
        points = np.atleast_2d(points)
        tasks = [(self.scenario, {**self.spec.values(x), **(draws(i, r) if draws else {})},
                  seed(i, r), self.until, self.targets)
                 for i, x in enumerate(points) for r in range(replicates)]
        results = self._map(_run_one, tasks)
        self.runs += len(tasks)
        self.errors += [e for _, e in results if e]
        values = np.array([v for v, _ in results])
        return values.reshape(len(points), replicates, len(self.targets))

    def bands(self, points: np.ndarray, seeds: Callable[[int], list[Any]],
              draws: Callable[[int], Mapping[str, Any]]) -> list[list[str]]:
        """For each point (its draws, its seeds ``seeds(i)``), the validation bands its
        runs to 2030 leave (:func:`countysim.calibration.bands.failed_bands`)."""
        tasks = [(self.scenario, {**self.spec.values(x), **draws(i)}, seeds(i))
                 for i, x in enumerate(np.atleast_2d(points))]
        results = self._map(_run_bands, tasks, chunked=False)
        self.runs += sum(len(t[2]) for t in tasks)
        self.errors += [e for _, e in results if e]
        return [failed for failed, _ in results]


def pseudo_targets(targets: Targets, scenario: Scenario, truth: Mapping[str, float],
                   seed: np.random.SeedSequence | int, obs_cv: float = 0.05) -> Targets:
    """Targets simulated by the model at known parameter values (for recovery checks).

    One run at ``truth`` plays the part of the observed district. Every target becomes a
    point target with relative observation sd ``obs_cv``; A7-A9-style binomial counts stay
    binomial over the scenario's evaluated pool.

    Args:
        targets: Targets whose variables, windows and held-out flags are kept.
        scenario: The scenario the truth is applied to.
        truth: Parameter values of the pseudo-world.
        seed: Seed of the pseudo-world's run.
        obs_cv: Relative observation sd of the pseudo-targets.

    Returns:
        Targets with simulated values (the originals kept for the remaining fields).

    Raises:
        ValueError: A simulated target is zero (no relative variance can be formed).
    """
    from ..core.county import run

    until = max(t.read_at for t in targets)
    ds = run(scenario, seed=seed, until=until, **{n: _typed(n, v) for n, v in truth.items()})
    items = []
    for t in targets:
        value = t.evaluate(ds, scenario.start)
        if t.kind == "binomial":
            pool = int(scenario.evaluated_cadres)
            value = float(min(round(value), pool))
            new = replace(t, value=value, pool=pool, reporting_cv=obs_cv, window_sd_months=0.0)
        else:
            new = replace(t, value=value, kind="point", upper=None, step=None, obs_sd=None,
                          reporting_cv=obs_cv, window_sd_months=0.0)
        if not new.obs_variance > 0:
            raise ValueError(f"pseudo-target {t.id} simulated as {value}: zero variance")
        items.append(new)
    return Targets(tuple(items), targets.path, targets.text,
                   {**targets.meta, "pseudo": "simulated at " + json.dumps(dict(truth))})
