"""Parameter ensembles: the calibration's accepted points, shipped and loaded by name.

An ensemble is a NetCDF file (``countysim/data/ensembles/<name>.nc`` in the package, or
any path) holding ``N`` *members*, each a full set of the uncertain parameters' values
plus a draw of the synthetic district. Sweeps and forecasts draw their samples from it
(``[design] kind = "ensemble"``, see :mod:`countysim.sweeps.experiment`), so parameter and
district uncertainty is carried into every result, not only seed noise::

    ens = countysim.load_ensemble("litong_2025")
    ens.value.sel(parameter="separation_rate")      # one value per member

The Dataset (validated by :func:`validate_ensemble` on reading and writing):

* dims ``member`` (``0 .. N-1``) and ``parameter`` (registry names);
* ``value(member, parameter)`` float64: each member's parameter values. Only behavioural
  parameters and parameters whose source is an ``assumption:``; never levers (an analyst's
  choice, not an uncertainty) and never the village-shaping ``villages``/``townships``;
* ``district_seed(member)`` int64: the member's draw of the synthetic district;
* coordinates on ``parameter``: ``unit`` (the registry's), ``low`` and ``high`` (the range
  searched or carried) and ``role``: ``"calibrated"`` (fitted to targets) or ``"carried"``
  (a hand-set parameter carried as uncertainty over its stated range, not fitted);
* attributes :data:`ATTRS`: ``name``, ``scenario`` (the scenario's name),
  ``scenario_toml`` (its full resolved text, so the file stands alone), ``calibration``
  (experiment name), ``targets`` (targets file name), ``created``, ``countysim_version``,
  ``git_commit``, ``description`` and ``method``.

Integer parameters are stored as float64 and rounded when applied (:func:`member_values`).
The calibration builds the Dataset with :func:`ensemble_from_points` and writes it with
:func:`write_ensemble`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import io
import math
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..core.digest import DigestError, verified_bytes
from ..core.errors import InputError
from ..core.parameters import PARAMETERS
from ..core.scenario import Scenario, load_scenario
from ..core.version import __version__

__all__ = ["ATTRS", "ROLES", "EnsembleError", "ensemble_from_points", "ensemble_member",
           "ensemble_names",
           "ensemble_path", "is_path", "load_ensemble", "member_values", "validate_ensemble",
           "write_ensemble"]

ROLES = ("calibrated", "carried")
ATTRS = ("name", "scenario", "scenario_toml", "calibration", "targets", "created",
         "countysim_version", "git_commit", "description", "method")
# Parameters that set the village dimension, which all runs of a sweep share; an ensemble
# varies the district only through district_seed (its own variable).
_NOT_UNCERTAIN = ("villages", "townships", "district_seed")
_PACKAGE_DIR = ("data", "ensembles")


class EnsembleError(InputError):
    """An ensemble file or Dataset is invalid, or no ensemble has the name asked for."""


# ------------------------------------------------------------------------- finding


def _package_dir() -> Traversable:
    """The packaged ensembles folder (an ``importlib.resources`` Traversable)."""
    return resources.files("countysim").joinpath(*_PACKAGE_DIR)


def ensemble_names() -> list[str]:
    """Names of the ensembles shipped with the package, sorted (e.g. ``["litong_2025"]``)."""
    folder = _package_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name[:-3] for p in folder.iterdir()
                  if p.name.endswith(".nc") and not p.name.startswith("."))


def is_path(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a file (a Path, has a ``/``, or ends in ``.nc``)."""
    text = str(name_or_path)
    return isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.endswith(".nc")


def ensemble_path(name_or_path: str | Path, *, relative_to: Path | None = None,
                  file: str | Path = "<load_ensemble>", key: str = "ensemble"
                  ) -> Path | Traversable:
    """Resolve a packaged name or a file path to the ensemble file.

    Args:
        name_or_path: A packaged name (see :func:`ensemble_names`) or a path to a ``.nc``
            file (anything with a ``/`` or ending in ``.nc``).
        relative_to: Folder a relative path is relative to (default: the working folder).
        file: The file named in errors (e.g. the experiment file).
        key: The key named in errors.

    Returns:
        The file (a :class:`~pathlib.Path`, or a Traversable for packaged data).

    Raises:
        EnsembleError: No such file, or no packaged ensemble of that name.
    """
    if is_path(name_or_path):
        path = Path(name_or_path)
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        if not path.is_file():
            raise EnsembleError(file, key, f"ensemble file {path} does not exist; give a "
                                f"packaged name ({_available()}) or an existing .nc file")
        return path
    name = str(name_or_path)
    names = ensemble_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise EnsembleError(file, key, f"unknown ensemble {name!r}; {hint}packaged "
                            f"ensembles: {_available()} (or give a path to a .nc file)")
    return _package_dir().joinpath(f"{name}.nc")


def _available() -> str:
    return ", ".join(ensemble_names()) or "none"


# ------------------------------------------------------------------------- reading


def load_ensemble(name_or_path: str | Path | Traversable, *,
                  relative_to: Path | None = None) -> xr.Dataset:
    """Load a parameter ensemble by packaged name or path (see the module docstring).

    Works from an installed wheel: packaged ensembles are read through
    :mod:`importlib.resources`.

    Args:
        name_or_path: ``"litong_2025"`` (see :func:`ensemble_names`), a ``.nc`` path, or
            the file :func:`ensemble_path` resolved.
        relative_to: Folder a relative path is relative to (default: the working folder).

    Returns:
        The validated Dataset, in memory (the file is closed).

    Raises:
        EnsembleError: Unknown name, missing or unreadable file, or an invalid ensemble;
            one line naming the file, the key and what is allowed.
    """
    source = ensemble_path(name_or_path, relative_to=relative_to) \
        if isinstance(name_or_path, str | Path) else name_or_path
    label = str(source)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise EnsembleError(label, "<file>", f"cannot be read: {exc.strerror or exc}") from None
    try:
        # The packaged ensembles must carry their digest: they are the forecasts' input.
        verified_bytes(data, label, required=isinstance(name_or_path, str)
                       and not is_path(name_or_path))
    except DigestError as exc:
        raise EnsembleError(label, exc.key, exc.problem) from None
    try:
        with xr.open_dataset(io.BytesIO(data), engine="h5netcdf") as ds:
            ds = ds.load()
    except OSError as exc:
        raise EnsembleError(label, "<file>", f"cannot be read: {exc.strerror or exc}") from None
    except Exception:  # h5py or xarray: whatever the file is, it is not NetCDF
        raise EnsembleError(label, "<file>", "not a NetCDF file: an ensemble is the .nc "
                            "file write_ensemble (or countysim calibrate) writes") from None
    validate_ensemble(ds, file=label)
    return ds


def validate_ensemble(ds: xr.Dataset, *, file: str | Path = "<dataset>") -> None:
    """Check that ``ds`` is an ensemble as described in the module docstring.

    Args:
        ds: The Dataset.
        file: The file named in errors.

    Raises:
        EnsembleError: The first problem found, naming the key and what is allowed.
    """
    def fail(key: str, problem: str) -> EnsembleError:
        return EnsembleError(file, key, problem)

    for name, dims, kind in (("value", ("member", "parameter"), "f"),
                             ("district_seed", ("member",), "i")):
        if name not in ds.data_vars:
            raise fail(name, f"missing: an ensemble has the variable {name}{dims}")
        var = ds[name]
        if var.dims != dims:
            raise fail(name, f"has dims {var.dims}; expected {dims}")
        if var.dtype.kind != kind or var.dtype.itemsize != 8:
            raise fail(name, f"has dtype {var.dtype}; expected "
                       f"{'float64' if kind == 'f' else 'int64'}")
    n = ds.sizes["member"]
    if n < 1 or ds.sizes["parameter"] < 1:
        raise fail("member", "an ensemble needs at least one member and one parameter")
    if "member" in ds.coords and not np.array_equal(ds["member"].values, np.arange(n)):
        raise fail("member", f"members are numbered 0..{n - 1} in order")
    for coord in ("unit", "low", "high", "role"):
        if coord not in ds.coords or ds[coord].dims != ("parameter",):
            raise fail(coord, f"missing: the coordinate {coord}(parameter) is required")
    names = [str(p) for p in ds["parameter"].values]
    if len(set(names)) != len(names):
        raise fail("parameter", f"names repeat: {names}")
    values = ds["value"].values
    low = ds["low"].values.astype(float)
    high = ds["high"].values.astype(float)
    for j, name in enumerate(names):
        key = f"parameter[{name}]"
        param = PARAMETERS.get(name)
        if param is None:
            close = difflib.get_close_matches(name, list(PARAMETERS), n=1)
            raise fail(key, "not a model parameter" + (f"; did you mean {close[0]}?" if close
                       else "") + " (see countysim.PARAMETERS)")
        if param.section == "levers":
            raise fail(key, "is a lever (a policy choice, not an uncertainty); an ensemble "
                       "holds behavioural and assumption: parameters only")
        if name in _NOT_UNCERTAIN:
            raise fail(key, f"{name} shapes the villages every run shares; vary the district "
                       "with district_seed(member) instead")
        if param.section != "behaviour" and not param.source.startswith("assumption:"):
            raise fail(key, f"its value is a published figure ({param.source}); an ensemble "
                       "holds behavioural and assumption: parameters only")
        if param.kind not in (int, float):
            raise fail(key, f"is {param.kind.__name__}; an ensemble holds numbers only")
        unit = str(ds["unit"].values[j])
        if unit != param.unit:
            raise fail(f"unit[{name}]", f"{unit!r}; the registry's unit is {param.unit!r}")
        role = str(ds["role"].values[j])
        if role not in ROLES:
            raise fail(f"role[{name}]", f"{role!r}; allowed: {', '.join(ROLES)}")
        lo, hi = param.bounds
        if not (math.isfinite(low[j]) and math.isfinite(high[j])
                and lo <= low[j] <= high[j] <= hi):
            raise fail(f"low[{name}]", f"range [{low[j]:g}, {high[j]:g}] must be finite, "
                       f"ordered and within the registry's [{lo:g}, {hi:g}] [{param.unit}]")
        column = values[:, j]
        bad = ~np.isfinite(column) | (column < low[j]) | (column > high[j])
        if bad.any():
            m = int(np.argmax(bad))
            raise fail(f"value[member={m}, parameter={name}]", f"{column[m]!r} is outside "
                       f"the ensemble's range [{low[j]:g}, {high[j]:g}]")
    seeds = ds["district_seed"].values
    if (seeds < 0).any():
        m = int(np.argmax(seeds < 0))
        raise fail(f"district_seed[member={m}]", f"{seeds[m]} is negative; seeds are >= 0")
    for attr in ATTRS:
        if not isinstance(ds.attrs.get(attr), str):
            raise fail(f"attrs.{attr}", "missing or not text; an ensemble records "
                       + ", ".join(ATTRS))


# ------------------------------------------------------------------------- writing


def write_ensemble(ds: xr.Dataset, path: str | Path) -> Path:
    """Validate an ensemble and write it as NetCDF atomically.

    Args:
        ds: The ensemble (see :func:`ensemble_from_points`).
        path: The ``.nc`` file, e.g. ``model/data/ensembles/litong_2025.nc``.

    Returns:
        ``path``.

    Raises:
        EnsembleError: The Dataset is not a valid ensemble (nothing is written).
        OutputError: The file cannot be written (the previous file is intact).
    """
    from .files import check_output_path, write_netcdf

    path = check_output_path(path)
    if path.suffix != ".nc":
        raise EnsembleError(path, "<output>", "an ensemble file ends in .nc")
    validate_ensemble(ds, file=path)
    return write_netcdf(ds, path)


def ensemble_from_points(points: Mapping[str, np.ndarray], district_seeds: np.ndarray, *,
                         name: str, scenario: str, scenario_toml: str, calibration: str,
                         targets: str, description: str, method: str,
                         ranges: Mapping[str, tuple[float, float]],
                         roles: Mapping[str, str] | None = None,
                         git_commit: str | None = None) -> xr.Dataset:
    """Build a validated ensemble Dataset from parameter points.

    Args:
        points: Parameter name -> values, one per member (equal lengths, N).
        district_seeds: The members' district seeds, shape ``(N,)``, integers >= 0
            (draw them from the calibration's ``SeedSequence``).
        name: The ensemble's name (its file stem, e.g. ``"litong_2025"``).
        scenario: Name of the scenario the members belong to.
        scenario_toml: That scenario's full resolved text (``Scenario.to_toml()``).
        calibration: Name of the calibration experiment that produced the points.
        targets: Name of the targets file the calibration fitted.
        description: What the ensemble is, for humans.
        method: How the members were chosen (e.g. "history matching, 4 waves, ...").
        ranges: Parameter name -> ``(low, high)``: the prior range searched (calibrated)
            or carried.
        roles: Parameter name -> ``"calibrated"`` or ``"carried"`` (default calibrated).
        git_commit: The commit of the code that produced the points (default: this
            checkout's, ``"unknown"`` outside one).

    Returns:
        The Dataset (validated; write it with :func:`write_ensemble`).

    Raises:
        EnsembleError: The points do not make a valid ensemble.
    """
    names = list(points)
    seeds = np.asarray(district_seeds)
    lengths = {len(np.asarray(points[p])) for p in names}
    if len(lengths) != 1 or seeds.shape != (lengths.pop(),):
        raise EnsembleError("<ensemble_from_points>", "points", "every parameter and "
                            "district_seeds need one value per member (equal lengths)")
    if not np.issubdtype(seeds.dtype, np.integer):
        raise EnsembleError("<ensemble_from_points>", "district_seeds", "expected integers")
    missing = [p for p in names if p not in ranges]
    if missing:
        raise EnsembleError("<ensemble_from_points>", "ranges", f"no range for {missing}")
    roles = dict(roles or {})
    unknown = [p for p in names if p not in PARAMETERS]
    if unknown:
        raise EnsembleError("<ensemble_from_points>", f"points.{unknown[0]}",
                            "not a model parameter (see countysim.PARAMETERS)")
    if git_commit is None:
        from .store import provenance  # store imports the experiment module, which imports this

        git_commit = provenance()["git_commit"]
    value = np.column_stack([np.asarray(points[p], dtype=np.float64) for p in names])
    ds = xr.Dataset(
        {"value": (("member", "parameter"), value,
                   {"long_name": "parameter value of each member (units: see unit)"}),
         "district_seed": (("member",), seeds.astype(np.int64),
                           {"long_name": "seed of the member's synthetic district"})},
        coords={"member": np.arange(value.shape[0], dtype=np.int64),
                "parameter": names,
                "unit": ("parameter", [PARAMETERS[p].unit for p in names]),
                "low": ("parameter", [float(ranges[p][0]) for p in names]),
                "high": ("parameter", [float(ranges[p][1]) for p in names]),
                "role": ("parameter", [roles.get(p, "calibrated") for p in names])},
        attrs={"name": name, "scenario": scenario, "scenario_toml": scenario_toml,
               "calibration": calibration, "targets": targets,
               "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "countysim_version": __version__, "git_commit": git_commit,
               "description": description, "method": method})
    validate_ensemble(ds, file=f"<ensemble {name}>")
    return ds


def member_values(ds: xr.Dataset, member: int) -> dict[str, Any]:
    """One member's parameter values and district seed, ready for ``Scenario.replace``.

    Integer parameters are rounded to the nearest integer.
    """
    row = ds["value"].isel(member=member).values
    out: dict[str, Any] = {}
    for name, v in zip((str(p) for p in ds["parameter"].values), row, strict=True):
        out[name] = round(float(v)) if PARAMETERS[name].kind is int else float(v)
    out["district_seed"] = int(ds["district_seed"].values[member])
    return out


def ensemble_member(ensemble: str | Path | xr.Dataset, member: int,
                    scenario: str | Path | Scenario | None = None) -> Scenario:
    """One ensemble member as a scenario: ``countysim.run(ensemble_member(...), seed=s)``
    runs what a sweep or forecast runs for that member and seed.

    Example::

        s = countysim.ensemble_member("litong_2025", 3)           # the ensemble's scenario
        s = countysim.ensemble_member("litong_2025", 3, "scenarios/programme_withdrawn.toml")
        ds = countysim.run(s, seed=0, until="2026-12")

    Args:
        ensemble: A packaged name (``"litong_2025"``), an ensemble file, or a Dataset from
            :func:`load_ensemble`.
        member: The member, ``0 .. N-1``.
        scenario: The scenario the member's values are applied to (a file or a
            :class:`~countysim.core.scenario.Scenario`); default the scenario the ensemble
            was calibrated on (its ``scenario_toml``).

    Returns:
        The scenario with the member's parameter values and ``district_seed``, each
        sourced ``"ensemble <name> member <k>"``.

    Raises:
        EnsembleError: No such member, or an invalid ensemble.
        ScenarioError: The member's values do not make a valid scenario of ``scenario``.
    """
    ds = ensemble if isinstance(ensemble, xr.Dataset) else load_ensemble(ensemble)
    name = str(ds.attrs.get("name", ensemble if not isinstance(ensemble, xr.Dataset)
                            else "<dataset>"))
    n = ds.sizes["member"]
    if isinstance(member, bool) or not isinstance(member, int | np.integer) \
            or not 0 <= member < n:
        raise EnsembleError(name, "member", f"expected a member 0..{n - 1}, got {member!r}")
    if scenario is None:
        base = Scenario.from_toml(str(ds.attrs["scenario_toml"]),
                                  name=f"ensemble {name}: scenario_toml")
    elif isinstance(scenario, Scenario):
        base = scenario
    else:
        base = load_scenario(scenario)
    return base.replace(source=f"ensemble {name} member {int(member)}",
                        **member_values(ds, int(member)))
