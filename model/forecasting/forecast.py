"""Forecasts: policy packages x ensemble members x seeds to 2030, turned into probabilities.

A forecast is an experiment file with a ``[forecast]`` table naming the targets::

    name = "forecast_2030"
    until = "2030-12"
    replicates = 2                 # seeds per member (common random numbers)
    seed = 20261127
    outputs = ["urban_placements", ...]   # keep only what the targets read

    [design]
    kind = "ensemble"              # samples = files x members (file slowest)
    ensemble = "litong_2025"
    members = 100
    files = ["../scenarios/baseline_2025.toml", "../scenarios/programme_expanded.toml"]

    [forecast]
    targets = "../scenarios/targets/litong_2030_illustrative.toml"

:func:`forecast` runs it through the sweep machinery (:func:`countysim.sweep`: a resumable
Zarr store, process pools or Dask, a progress bar), evaluates every run against the
targets (:func:`countysim.forecasting.targets.evaluate`) and returns the forecast Dataset
(:func:`forecast_dataset`), written atomically to ``.nc`` or ``.zarr`` if asked.

Runs. Each package (one file of the design) has the same runs: run ``j`` of every package
is ensemble member ``member(run)`` with seed ``replicate(run)``, so a difference between
packages at the same run is a paired difference under common random numbers, and the
spread over runs carries parameter and district uncertainty (members) as well as seed
noise (replicates). Experiments of kind ``scenarios`` (no ensemble) work too; their runs
are the replicates and ``member`` is -1: seed noise only.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import shutil
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..core import __version__
from ..core.digest import DigestError, verified_bytes
from ..core.errors import InputError, read_toml
from ..sweeps.experiment import Experiment, ExperimentError, load_experiment
from ..sweeps.files import (
    OutputError,
    check_output_path,
    describe_os_error,
    not_a_regular_file,
    real_path,
    write_netcdf,
)
from .attainment import FAN_QUANTILES, fan, probability
from .targets import ForecastTargets, evaluate, load_forecast_targets

__all__ = ["ForecastError", "ForecastSpec", "forecast", "forecast_dataset",
           "load_forecast_spec", "open_forecast", "package_runs", "summary_table",
           "write_forecast"]

RUN_DIMS = ("sample", "replicate")
NO_MEMBER = -1
_FORECAST_KEYS = ("targets", "store")
# The title of every forecast Dataset: an existing .zarr output is replaced only if it has it.
FORECAST_TITLE = "countysim forecast"


class ForecastError(InputError):
    """A forecast experiment, its store or its output is unusable as asked."""


@dataclass(frozen=True)
class ForecastSpec:
    """A forecast experiment: the sweep, the targets and where the runs are stored.

    Attributes:
        experiment: The validated experiment (its design gives packages and runs).
        targets: The forecast targets.
        store: The sweep's Zarr store (default ``runs/forecast/<name>.zarr``).
        path: The experiment file.
    """

    experiment: Experiment
    targets: ForecastTargets
    store: Path
    path: Path | None = None

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self.experiment.name


def load_forecast_spec(path: str | Path, *, targets: str | Path | None = None,
                       store: str | Path | None = None) -> ForecastSpec:
    """Load a forecast experiment (an experiment file with a ``[forecast]`` table).

    Args:
        path: The experiment file.
        targets: A targets file to use instead of ``[forecast] targets``.
        store: A store to use instead of ``[forecast] store`` (or the default).

    Returns:
        The forecast's experiment, targets and store.

    Raises:
        ExperimentError: The experiment part is invalid.
        ForecastError: The ``[forecast]`` table is missing or invalid.
        ForecastTargetError: The targets file is invalid.
    """
    path = Path(path)
    _, data = read_toml(path, ExperimentError, "experiment")
    experiment = load_experiment(path)
    table = data.get("forecast", {})
    if not isinstance(table, dict):
        raise ForecastError(path, "forecast", "expected a table [forecast] with targets = "
                            "\"<targets file>\"")
    for key in table:
        if key not in _FORECAST_KEYS:
            raise ForecastError(path, f"forecast.{key}", "unknown key; allowed: "
                                + ", ".join(_FORECAST_KEYS))
    for key in _FORECAST_KEYS:
        if key in table and not isinstance(table[key], str):
            raise ForecastError(path, f"forecast.{key}", f"expected a file name (string), "
                                f"got {table[key]!r}")
    if targets is None:
        if "targets" not in table:
            raise ForecastError(path, "forecast.targets", "missing: name the forecast "
                                "targets file, e.g. targets = \"../scenarios/targets/"
                                "litong_2030_illustrative.toml\" (relative to this file)")
        targets = path.parent / table["targets"]
    loaded = load_forecast_targets(targets)
    outputs = _outputs(experiment)
    if outputs is not None:
        for i, t in enumerate(loaded):
            if t.indicator not in outputs:
                raise ForecastError(path, "outputs", f"does not keep {t.indicator!r}, which "
                                    f"target {t.id!r} ({loaded.path or 'targets'}, "
                                    f"targets[{i}]) reads; add it to outputs")
    if store is None:
        store = (path.parent / table["store"]) if "store" in table else (
            Path("runs") / "forecast" / f"{experiment.name}.zarr")
    return ForecastSpec(experiment, loaded, Path(store), path)


def _outputs(experiment: Experiment) -> tuple[str, ...] | None:
    """The variables the experiment keeps (``outputs``), or ``None`` for all."""
    outputs = getattr(experiment, "outputs", None)
    return tuple(outputs) if outputs else None


def _ensemble_name(experiment: Experiment) -> str:
    return str(experiment.options.get("ensemble", "")) if experiment.options else ""


# --------------------------------------------------------------------------- running


def forecast(experiment: str | Path | ForecastSpec, *, out: str | Path | None = None,
             store: str | Path | None = None, targets: str | Path | None = None,
             workers: int | None = None, dask: bool | str | None = None,
             resume: bool = False, progress: bool = True) -> xr.Dataset:
    """Run a forecast: every package x member x seed to the horizon, then probabilities.

    Args:
        experiment: A forecast experiment file (see the module docstring) or a loaded
            :class:`ForecastSpec`.
        out: Write the forecast Dataset here (``.nc`` or ``.zarr``), atomically.
        store: The sweep's store (default ``[forecast] store``, else
            ``runs/forecast/<name>.zarr``).
        targets: A targets file instead of ``[forecast] targets``.
        workers: Worker processes (default one per core); 1 runs in this process.
        dask: ``True`` for a local ``dask.distributed`` cluster, or a scheduler address.
        resume: Continue an existing store, or, if it holds every run, only evaluate it
            again (e.g. against other targets); without it an existing store is an
            error, as for :func:`countysim.sweep`.
        progress: Show the sweep's progress bar.

    Returns:
        The forecast Dataset (:func:`forecast_dataset`).

    Raises:
        ExperimentError, ForecastError, ForecastTargetError: Invalid input files.
        StoreError: The store exists (without ``resume``) or belongs to another experiment.
        SweepError: The workers died (the store keeps the finished runs: resume).
    """
    from ..sweeps.store import open_results
    from ..sweeps.sweep import sweep

    spec = experiment if isinstance(experiment, ForecastSpec) else load_forecast_spec(
        experiment, targets=targets, store=store)
    if out is not None:
        out = _check_out(out, spec.store)
    seconds = 0.0
    if not (resume and _finished(spec)):
        seconds = sweep(spec.experiment, spec.store, workers=workers, dask=dask,
                        resume=resume, progress=progress).seconds
    # Checked already: by the sweep (a resume checks every finished run first) or, for a
    # finished store, by _finished.
    results = open_results(spec.store, check=False)
    ds = forecast_dataset(results, spec.targets, experiment=spec.experiment)
    ds.attrs["store"] = str(spec.store)
    ds.attrs["sweep_seconds"] = round(seconds, 1)
    if out is not None:
        write_forecast(ds, out)
    return ds


def _finished(spec: ForecastSpec) -> bool:
    """Whether the store holds every run of this experiment already (nothing to run).

    Then a resumed forecast only evaluates the runs (new targets, new evaluation code),
    without the sweep's check that the model code is unchanged: nothing is written to
    the store. A store of another experiment is still refused. A store with damaged
    runs is not finished: the sweep's resume runs them again (an evaluation would leave
    them out and count fewer runs than the experiment has).
    """
    from ..sweeps.integrity import check_store
    from ..sweeps.store import PENDING, StoreError, open_results, read_status

    if not spec.store.is_dir():
        return False
    attrs = open_results(spec.store, check=False).attrs
    if attrs.get("experiment_hash") != spec.experiment.digest:
        raise StoreError(f"{spec.store} holds a sweep of another experiment "
                         f"({attrs.get('experiment_name')!r}); write to a new store")
    return not (read_status(spec.store) == PENDING).any() and check_store(spec.store).ok


# ---------------------------------------------------------------- the forecast Dataset


def package_runs(results: xr.Dataset) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """How a sweep's ``(sample, replicate)`` runs map to ``(package, run)``.

    A package is a scenario of the design (coordinate ``package`` or ``scenario`` along
    ``sample``; a design without either is one package, ``"all"``). Its runs are its
    samples' members x replicates, ordered by member, then replicate: run ``j`` is the same
    member and seed in every package.

    Args:
        results: A sweep's results (:func:`countysim.open_results`).

    Returns:
        Package names (in design order); sample index of each ``(package, run)``;
        ``member`` and ``replicate`` of each run.

    Raises:
        ForecastError: Packages do not have the same members (runs cannot be paired).
    """
    n_samples = results.sizes["sample"]
    label = next((results[c] for c in ("package", "scenario") if c in results.coords), None)
    names = ([str(v) for v in label.values] if label is not None else ["all"] * n_samples)
    member = (np.asarray(results["member"].values, dtype=np.int64)
              if "member" in results.coords and results["member"].dims == ("sample",)
              else np.full(n_samples, NO_MEMBER, dtype=np.int64))
    packages = list(dict.fromkeys(names))
    members_of = {p: [int(member[i]) for i in range(n_samples) if names[i] == p]
                  for p in packages}
    first = members_of[packages[0]]
    for p in packages[1:]:
        if sorted(members_of[p]) != sorted(first):
            raise ForecastError("<results>", "member", f"package {p!r} has members "
                                f"{sorted(members_of[p])[:5]}... but {packages[0]!r} has "
                                f"{sorted(first)[:5]}...; runs can only be paired over the "
                                "same members")
    if len(set(first)) != len(first):
        raise ForecastError("<results>", "member", f"package {packages[0]!r} has a member "
                            "twice; label the samples with package (or scenario)")
    members = sorted(first)
    n_rep = results.sizes["replicate"]
    sample_of = {(names[i], int(member[i])): i for i in range(n_samples)}
    index = np.array([[sample_of[(p, m)] for m in members for _ in range(n_rep)]
                      for p in packages], dtype=np.int64)
    run_member = np.repeat(np.asarray(members, dtype=np.int64), n_rep)
    run_replicate = np.tile(np.arange(n_rep, dtype=np.int64), len(members))
    return packages, index, run_member, run_replicate


def _by_package(da: xr.DataArray, index: np.ndarray, replicate: np.ndarray) -> xr.DataArray:
    sample = xr.DataArray(index, dims=("package", "run"))
    rep = xr.DataArray(np.broadcast_to(replicate, index.shape), dims=("package", "run"))
    out = da.isel(sample=sample, replicate=rep)
    return out.drop_vars([c for c in out.coords if c not in out.dims and set(
        out[c].dims) & {"package", "run"}], errors="ignore")


def forecast_dataset(results: xr.Dataset, targets: ForecastTargets, *,
                     experiment: Experiment | None = None,
                     ensemble: xr.Dataset | None = None,
                     quantiles: Sequence[float] = FAN_QUANTILES) -> xr.Dataset:
    """The forecast Dataset of a sweep's results (shared interface of issue 10).

    Args:
        results: A sweep's results with dims ``sample`` x ``replicate`` in front
            (:func:`countysim.open_results`); runs not done are NaN and count as no
            outcome.
        targets: The forecast targets.
        experiment: The experiment that made ``results`` (for its name and ensemble);
            default: read from ``results.attrs``.
        ensemble: The ensemble whose members the runs used (default: loaded by the name
            in the experiment's design, if any) for ``parameter_value``.
        quantiles: Fan-chart quantiles.

    Returns:
        Dims ``package``, ``run``, ``target``, ``year``, ``quantile``, ``parameter`` and
        ``township`` (if a target is per village), with ``value`` and ``attained``
        ``(package, run, target, year)``; ``probability``, ``probability_low``,
        ``probability_high`` and ``n`` ``(package, target, year)``; ``fan``
        ``(package, target, year, quantile)``; ``township_probability`` (and its interval)
        ``(package, target, year, township)``; ``parameter_value(run, parameter)``;
        coordinates ``member(run)``, ``replicate(run)`` and the targets' coordinates
        (``indicator``, ``threshold``, ``direction``, ``aggregation``, ``units``,
        ``label``, ...); provenance in the attributes.
    """
    from ..sweeps.store import provenance

    packages, index, member, replicate = package_runs(results)
    # Read each indicator from the store once (evaluation slices it by year many times).
    keep = [v for v in (*targets.indicators, "status") if v in results.data_vars]
    evaluated = evaluate(results[keep].load(), targets, run_dims=RUN_DIMS)
    value = _by_package(evaluated["value"], index, replicate)
    attained = _by_package(evaluated["attained"], index, replicate)
    coords = {"package": np.asarray(packages, dtype=object),
              "run": np.arange(index.shape[1], dtype=np.int64),
              "member": ("run", member, {"long_name": "ensemble member of the run (-1: the "
                                         "scenario's own parameters, no ensemble)"}),
              "replicate": ("run", replicate, {"long_name": "seed replicate of the run: "
                                               "SeedSequence(seed, spawn_key=(replicate,))"})}
    ds = xr.Dataset({"value": value, "attained": attained}).assign_coords(coords)
    p = probability(ds["attained"], "run")
    ds = ds.assign(p.data_vars)
    ds["fan"] = fan(ds["value"], "run", quantiles).assign_attrs(
        long_name="quantiles over runs of the target's value (fan chart)")
    if "township_attained" in evaluated:
        town = probability(_by_package(evaluated["township_attained"], index, replicate), "run")
        ds["township_probability"] = town["probability"].assign_attrs(
            long_name="probability that the township's villages meet the target")
        ds["township_probability_low"] = town["probability_low"]
        ds["township_probability_high"] = town["probability_high"]
    ds["seed_variance_share"] = _seed_variance_share(ds["value"], member, replicate)
    ds = ds.assign_coords({k: evaluated[k] for k in evaluated.coords
                           if evaluated[k].dims == ("target",)})
    ds["parameter_value"] = _parameter_values(member, experiment, ensemble)
    for name in ("value", "attained"):
        ds[name].attrs = evaluated[name].attrs
    name = experiment.name if experiment is not None else str(
        results.attrs.get("experiment_name", ""))
    status = results["status"].values.astype(str) if "status" in results else None
    prov = provenance()
    ds.attrs = {
        "title": f"{FORECAST_TITLE} {name}",
        "experiment_name": name,
        "ensemble": _ensemble_name(experiment) if experiment is not None else "",
        "targets_file": targets.path.name if targets.path is not None else "",
        "targets_toml": targets.text,
        "targets_illustrative": int(bool(targets.meta.get("illustrative", False))),
        "interval": p.attrs["interval"],
        "runs_per_package": int(index.shape[1]),
        "members": len(np.unique(member)),
        "replicates": int(results.sizes["replicate"]),
        "failed_runs": int((status == "failed").sum()) if status is not None else 0,
        "pending_runs": int((status == "pending").sum()) if status is not None else 0,
        "until": str(results.attrs.get("until", "")),
        "seed_entropy": str(results.attrs.get("seed_entropy", "")),
        "countysim_version": __version__,
        "git_commit": prov["git_commit"],
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "pairing": "run j of every package is the same ensemble member and seed (common "
                   "random numbers): package differences at one run are paired",
    }
    return ds


def _seed_variance_share(value: xr.DataArray, member: np.ndarray,
                         replicate: np.ndarray) -> xr.DataArray:
    """Within-member (seed) variance of ``value`` over its total variance across runs.

    Near 1: the runs differ by seed noise only; near 0: members (parameters and district)
    carry the spread. NaN without an ensemble or with one seed per member.
    """
    n_members, n_seeds = len(np.unique(member)), len(np.unique(replicate))
    attrs = {"long_name": "share of the variance of value over runs that is within "
             "ensemble members (seed noise); the rest is between members (parameters and "
             "district)", "units": "1"}
    template = value.isel(run=0, drop=True)
    if n_members < 2 or n_seeds < 2 or (member < 0).any():
        return xr.full_like(template, np.nan).assign_attrs(attrs)
    order = np.lexsort((replicate, member))
    ordered = value.transpose("package", "run", ...)
    template = ordered.isel(run=0, drop=True)
    data = np.moveaxis(ordered.values[:, order], 1, -1)  # (package, ..., run) member-major
    grid = data.reshape(*data.shape[:-1], n_members, n_seeds)
    with warnings.catch_warnings():  # targets without outcomes give NaN
        warnings.simplefilter("ignore", category=RuntimeWarning)
        # Population variances (ddof 0): with every run present, total = mean within-
        # member variance + variance of the member means, so the share lies in [0, 1].
        within = np.nanmean(np.nanvar(grid, axis=-1), axis=-1)
        total = np.nanvar(data, axis=-1)
        share = np.where(total > 0, within / total, np.nan)
    return template.copy(data=share).assign_attrs(attrs)


def _parameter_values(member: np.ndarray, experiment: Experiment | None,
                      ensemble: xr.Dataset | None) -> xr.DataArray:
    """``parameter_value(run, parameter)``: the ensemble member's values of each run."""
    if ensemble is None and experiment is not None:
        ensemble = getattr(experiment, "ensemble", None)
        if ensemble is None and _ensemble_name(experiment):
            ensemble = _load_ensemble(experiment)
    if ensemble is None or (member < 0).all():
        return xr.DataArray(np.empty((member.size, 0)), dims=("run", "parameter"),
                            coords={"parameter": np.asarray([], dtype=object)},
                            attrs={"long_name": "parameter values of the run's ensemble "
                                   "member (none: no ensemble)"})
    values = ensemble["value"].sel(member=xr.DataArray(member, dims="run"))
    values = values.drop_vars([c for c in values.coords if "run" in values[c].dims
                               and c not in ("run",)], errors="ignore")
    keep = [c for c in values.coords if c == "parameter" or values[c].dims == ("parameter",)]
    return values.reset_coords([c for c in values.coords if c not in keep and c != "run"],
                               drop=True).assign_attrs(
        long_name="parameter values of the run's ensemble member")


def _load_ensemble(experiment: Experiment) -> xr.Dataset:
    from ..sweeps.ensemble import load_ensemble

    folder = experiment.path.parent if experiment.path is not None else None
    return load_ensemble(_ensemble_name(experiment), relative_to=folder)


# --------------------------------------------------------------------- files, tables


def _check_out(out: str | Path, store: str | Path | None = None) -> Path:
    """The forecast's output path (real, symlinks resolved), or a one-line refusal.

    An existing ``.zarr`` output is replaced only if it is an earlier forecast's output
    and holds nothing else: never a sweep's store (the forecast's own runs, or a copy of
    one), another Zarr store, or a folder of other files.
    """
    given = Path(out)
    if given.suffix not in (".nc", ".zarr"):
        raise OutputError(given, "--out", "expected a file name ending in .nc (NetCDF) or "
                          ".zarr (a Zarr directory)")
    out = real_path(given)
    if store is not None and (out == real_path(store) or real_path(store) in out.parents):
        raise OutputError(given, "--out", f"is the forecast's run store {store}; writing "
                          "there would destroy its runs: choose another path")
    if given.suffix == ".nc":
        return check_output_path(given, "--out")
    from ..sweeps.files import inside_store

    found = inside_store(out.parent)
    if found is not None:
        raise OutputError(given, "--out", f"is inside the Zarr store {found}")
    what = not_a_regular_file(out)
    if what is None and out.exists():
        what = "a file"
    if what not in (None, "a folder"):
        raise OutputError(given, "--out", f"exists and is {what}; choose another path")
    if what == "a folder":
        problem = _not_a_forecast_output(out)
        if problem is not None:
            raise OutputError(given, "--out", f"exists and {problem}; a forecast replaces "
                              "only an earlier forecast's .zarr: choose another path")
    return out


def _not_a_forecast_output(folder: Path) -> str | None:
    """Why ``folder`` is not a forecast's ``.zarr`` output (``None`` if it is one)."""
    import json

    try:
        meta = json.loads((folder / "zarr.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "is not a Zarr store" if any(folder.iterdir()) else None
    except (OSError, ValueError):
        return "is a Zarr store whose metadata cannot be read"
    attrs = meta.get("attributes", {}) if isinstance(meta, dict) else {}
    if "experiment_hash" in attrs:
        return "is a sweep's store"
    if not str(attrs.get("title", "")).startswith(FORECAST_TITLE):
        return "is a Zarr store that is not a forecast"
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).parts
        if path.is_file() and path.name != "zarr.json" and "c" not in rel[:-1]:
            return f"holds {path.relative_to(folder)}, which no forecast wrote"
    return None


def write_forecast(ds: xr.Dataset, out: str | Path) -> Path:
    """Write a forecast Dataset atomically: ``.nc`` (NetCDF-4) or ``.zarr`` (a directory).

    A ``.zarr`` output is written to a temporary directory beside ``out`` and renamed into
    place, so a failure leaves the previous output as it was.

    Raises:
        OutputError: Not ``.nc``/``.zarr``, inside a Zarr store, or cannot be written.
    """
    out = _check_out(out)
    encoded = _encodable(ds)
    if out.suffix == ".nc":
        return write_netcdf(encoded, out)
    tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:12]}")
    old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:12]}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        encoded.to_zarr(tmp, mode="w-", zarr_format=3, consolidated=False)
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not out.exists():
            os.replace(old, out)
        raise OutputError(out, "<output>", f"cannot write: {describe_os_error(exc)}; the "
                          "previous output is unchanged") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return out


def _encodable(ds: xr.Dataset) -> xr.Dataset:
    """Strings as Python objects and booleans as int8 (NetCDF-4 and Zarr 3 store both)."""
    changed = {name: var.astype(np.int8) for name, var in ds.variables.items()
               if var.dtype == bool}
    for var in changed.values():
        var.attrs.update(flag_values="0 1", flag_meanings="false true")
    coords = {k: v for k, v in changed.items() if k in ds.coords}
    data = {k: v for k, v in changed.items() if k not in ds.coords}
    return ds.assign_coords(coords).assign(data)


def open_forecast(path: str | Path) -> xr.Dataset:
    """Open a forecast Dataset written by :func:`write_forecast` (``.nc`` or ``.zarr``).

    Raises:
        ForecastError: Not a forecast file.
    """
    path = Path(path)
    if not path.exists():
        raise ForecastError(path, "<file>", "no such forecast file")
    try:
        if path.suffix == ".zarr":
            ds = xr.open_zarr(path, consolidated=False, zarr_format=3).load()
        else:
            data = verified_bytes(path.read_bytes(), str(path))
            ds = xr.open_dataset(io.BytesIO(data), engine="h5netcdf").load()
    except DigestError as exc:
        raise ForecastError(path, exc.key, exc.problem) from None
    except (OSError, ValueError) as exc:
        raise ForecastError(path, "<file>", f"cannot be read as a forecast: {exc}") from None
    if "probability" not in ds or "package" not in ds.dims:
        raise ForecastError(path, "<file>", "is not a forecast (no probability by package)")
    if "per_village" in ds.coords:
        ds = ds.assign_coords(per_village=ds["per_village"].astype(bool))
    return ds


def _cell(p: float, low: float, high: float, n: int) -> str:
    if n == 0 or not np.isfinite(p):
        return "-"
    return f"{p:.2f} [{low:.2f}, {high:.2f}]"


def summary_table(ds: xr.Dataset, *, year: int | None = None) -> str:
    """The forecast as text: one row per target, one column per package.

    Each cell is the probability of attainment with its 95 % interval, in the target's
    headline year (or ``year``); if the runs end before the headline year, in the last
    year with an outcome.
    """
    packages = [str(p) for p in ds["package"].values]
    widths = [max(19, len(p) + 2) for p in packages]
    rows = []
    header = f"{'target':<28} {'year':>4}" + "".join(
        f"{p:>{w}}" for p, w in zip(packages, widths, strict=True))
    rows.append(header)
    for t in ds["target"].values:
        row = ds.sel(target=t)
        y = int(year if year is not None else row["headline_year"].item())
        if year is None and y not in ds["year"].values:
            # The horizon ends before the headline year: the target's last year covered.
            covered = [int(v) for v in ds["year"].values if (row["n"].sel(year=v) > 0).any()]
            if not covered:
                continue
            y = covered[-1]
        if y not in ds["year"].values:
            continue
        cells = []
        for p in packages:
            cell = row.sel(package=p, year=y)
            cells.append(_cell(float(cell["probability"]), float(cell["probability_low"]),
                               float(cell["probability_high"]), int(cell["n"])))
        rows.append(f"{str(t)[:28]:<28} {y:>4}" + "".join(
            f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
    runs = ds.attrs.get("runs_per_package", ds.sizes["run"])
    members, reps = ds.attrs.get("members", "?"), ds.attrs.get("replicates", "?")
    note = (f"probability of attainment [95 % Jeffreys interval] over {runs} runs per "
            f"package ({members} ensemble members x {reps} seeds)")
    if (ds["n"] == 0).any():
        note += "; -: no run has an outcome (e.g. no pilot villages)"
    if ds.attrs.get("failed_runs"):
        note += f"; {ds.attrs['failed_runs']} runs failed (left out)"
    if ds.attrs.get("targets_illustrative"):
        note += "; targets ILLUSTRATIVE"
    return "\n".join([*rows, note])


def describe(ds: xr.Dataset) -> dict[str, Any]:
    """A JSON-ready digest of a forecast (headline probabilities), for notes and tests."""
    out: dict[str, Any] = {}
    for t in ds["target"].values:
        y = int(ds["headline_year"].sel(target=t))
        out[str(t)] = {str(p): round(float(ds["probability"].sel(package=p, target=t,
                                                                 year=y)), 3)
                       for p in ds["package"].values}
    return json.loads(json.dumps(out))
