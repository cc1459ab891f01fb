"""The ensemble's members: accepted points checked with the real model, and their file.

Checked point ``i`` of the accepted sample runs with the district draw and carried values
of node ``(_DRAW_MEMBER, i)`` of the seed tree; it is a member when those real runs are
non-implausible. The report's predictive intervals are those of the members, and
:func:`ensemble_dataset` writes them in the layout of the packaged ensembles.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..core import __version__
from ..core.parameters import PARAMETERS
from .bands import BANDS
from .matching import _Matcher, _real_implausibility, member_variance
from .runner import _BANDS, _CHECK, _DRAW_MEMBER, _Runner, _seed, run_draws
from .spec import CalibrationSpec
from .targets import Targets

__all__ = ["band_check", "dataset_members", "ensemble_dataset", "member_mask"]

NOT_RUN = -1  # a checked point the band check did not run (it failed the fit already)


@dataclass
class _Check:
    """The predictive check: points, real runs, and the implausibility of their means."""

    points: np.ndarray
    values: np.ndarray
    implausibility: np.ndarray
    draws: list[dict[str, int | float]]


def predictive_check(spec: CalibrationSpec, matcher: _Matcher, runner: _Runner,
                     targets: Targets, accepted: np.ndarray) -> _Check:
    """The real model at the first ``check_points`` accepted points, as ensemble members.

    Each point is a member with its own district draw (and carried values), kept over its
    replicates: the predictive interval is over members x seeds.
    """
    check_X = spec.snap(accepted[: spec.check_points])
    draws = [run_draws(spec, _DRAW_MEMBER, i) for i in range(check_X.shape[0])]
    check_Y = runner(check_X, spec.check_replicates, lambda i, r: _seed(spec.seed, _CHECK, i, r),
                     lambda i, r: draws[i])
    per_member = spec.district_draws or bool(spec.carried)
    check_I = _real_implausibility(matcher, targets, check_Y,
                                   member_variance(matcher, check_X) if per_member else None)
    return _Check(check_X, check_Y, check_I, draws)


@dataclass
class _Bands:
    """The band check: per checked point, inside every band (1), not (0), not run (-1);
    and per point and band (the same codes)."""

    inside: np.ndarray
    per_band: np.ndarray


def band_check(spec: CalibrationSpec, runner: _Runner, check: _Check,
               check_ok: np.ndarray) -> _Bands:
    """Each non-implausible checked point on ``spec.band_seeds`` seeds of its own to 2030,
    against every validation band (issue 16, item 4).

    A member must stay plausible where the targets do not reach: incomes growing as the
    region's, unemployment, urbanisation, cadre flows. The point runs with the same
    draws (district, carried values) as its check runs, on seeds from its own branch of
    the tree (node ``(_BANDS, i, r)``), so whether it is a member does not depend on the
    number of workers or on which other points ran.
    """
    n = check.points.shape[0]
    per_band = np.full((n, len(BANDS)), NOT_RUN, dtype=np.int8)
    if spec.band_seeds <= 0:
        return _Bands(np.full(n, NOT_RUN, dtype=np.int8), per_band)
    idx = np.flatnonzero(check_ok)
    failed = runner.bands(
        check.points[idx],
        lambda k: [_seed(spec.seed, _BANDS, int(idx[k]), r) for r in range(spec.band_seeds)],
        lambda k: check.draws[int(idx[k])])
    labels = [band.label for band in BANDS]
    for k, i in enumerate(idx):
        per_band[i] = [label not in failed[k] for label in labels]
    inside = np.where(check_ok, per_band.min(axis=1, initial=1), NOT_RUN).astype(np.int8)
    return _Bands(inside, per_band)


def member_mask(check_ok: np.ndarray, in_bands: np.ndarray | None) -> np.ndarray:
    """Checked points that are members: non-implausible, and inside every band where the
    band check ran (a point it did not run is judged by its fit alone)."""
    ok = np.asarray(check_ok, dtype=bool)
    return ok if in_bands is None else ok & (np.asarray(in_bands) != 0)


def _member_indices(check_ok: np.ndarray, members: int) -> np.ndarray:
    """The ensemble's members: checked points whose real runs are non-implausible.

    The first ``members`` of them in the accepted sample's (random) order; every checked
    point if none passes (the report then says so through its predictive check).
    """
    ok = np.flatnonzero(check_ok)
    return (ok if ok.size else np.arange(check_ok.size))[:members]


def ensemble_dataset(spec: CalibrationSpec, ds: xr.Dataset, name: str) -> xr.Dataset:
    """The shipped ensemble: accepted points x district draws x carried values, confirmed.

    Checked point ``i`` (the accepted sample is in random order) with the district draw
    and carried values of node ``(_DRAW_MEMBER, i)`` of the seed tree is a member when its
    real runs in the predictive check are non-implausible (the history match's final
    wave, with the simulator itself): the emulators fit the calibrated parameters at the
    hand-set ones' sourced values, and this step conditions the carried draws on the
    targets. The report's predictive intervals are those of these members.

    Args:
        spec: The experiment.
        ds: The calibration Dataset
            (:func:`~countysim.calibration.results.results_dataset`).
        name: Ensemble name (the file's stem, e.g. ``"litong_2025"``).

    Returns:
        A Dataset in the layout of :func:`countysim.sweeps.ensemble.load_ensemble`.
    """
    from ..sweeps.store import provenance

    value, district = _member_values(spec, ds)
    names = spec.names + [p.name for p in spec.carried]
    params = (*spec.parameters, *spec.carried)
    role = ["calibrated"] * len(spec.names) + ["carried"] * len(spec.carried)
    scenario_name = spec.scenario_path.stem if spec.scenario_path else spec.scenario.name
    return xr.Dataset(
        {"value": (("member", "parameter"), value,
                   {"long_name": "parameter value of the member"}),
         "district_seed": ("member", district, {"long_name": "district draw of the member"})},
        coords={"member": ("member", np.arange(len(district))),
                "parameter": ("parameter", np.array(names)),
                "unit": ("parameter", np.array([PARAMETERS[p].unit for p in names])),
                "low": ("parameter", np.array([p.lower for p in params])),
                "high": ("parameter", np.array([p.upper for p in params])),
                "role": ("parameter", np.array(role))},
        attrs={"name": name, "scenario": scenario_name,
               "scenario_toml": spec.scenario.to_toml(), "calibration": spec.name,
               "targets": spec.targets.path.name if spec.targets.path else "",
               "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
               "countysim_version": __version__,
               "git_commit": provenance()["git_commit"],
               "description": f"Calibrated ensemble of {scenario_name}: {spec.description}",
               "method": _ensemble_method(spec, ds)})


def _member_values(spec: CalibrationSpec, ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Per member: fitted then carried parameter values, and the district draw."""
    accepted = spec.snap(ds["accepted"].values)
    chosen = _member_indices(dataset_members(ds), spec.members)
    n = len(chosen)
    value = np.empty((n, len(spec.names) + len(spec.carried)))
    district = np.empty(n, dtype=np.int64)
    for m, i in enumerate(chosen):
        # The same node as the member's check runs: the member is what was checked.
        draws = run_draws(spec, _DRAW_MEMBER, int(i))
        value[m, : len(spec.names)] = accepted[i]
        for j, p in enumerate(spec.carried):
            value[m, len(spec.names) + j] = draws[p.name]
        district[m] = draws.get("district_seed", spec.scenario.values["district_seed"])
    return value, district


def dataset_members(ds: xr.Dataset) -> np.ndarray:
    """:func:`member_mask` of a calibration Dataset: its verdicts, and the band check's
    if the calibration ran one."""
    return member_mask(ds["check_non_implausible"].values,
                       ds["check_in_bands"].values if "check_in_bands" in ds else None)


def _ensemble_method(spec: CalibrationSpec, ds: xr.Dataset) -> str:
    """How the members were chosen, in one sentence (the file's ``method``)."""
    return (f"history matching ({len(ds['wave'])} waves, cut-off {spec.cutoff:g}, "
            f"{spec.rule}) of {len(spec.names)} parameters to {int((ds['held_out'] == 0).sum())}"
            f" targets; members = accepted points in random order whose real runs are "
            "non-implausible"
            + (f" and whose runs to 2030 on {spec.band_seeds} seeds of their own stay inside "
               "every validation band" if spec.band_seeds > 0 else "")
            + ", each with "
            + ("its own district draw (district_seed)" if spec.district_draws
               else "the scenario's district") +
            (f" and carried values of {', '.join(p.name for p in spec.carried)} drawn "
             "from split uniform distributions over their ranges, median at the "
             "scenario's value" if spec.carried else ""))
