"""What kind of countysim file a path is, so that a command given the wrong kind says so.

Every input file of a command has its own loader, which reports the first key it does
not know: given another kind of file (a scenario to ``countysim sweep``), that reads
"start: unknown top-level key", which is true but does not say what went wrong.
:func:`file_kind` recognises each kind of file from its top-level keys (TOML) or its
attributes and dimensions (NetCDF, Zarr), and :func:`wrong_kind` turns a mismatch into
the one-line message the command line prints.

The test is a sniff, not a validation: a file is recognised by keys only its kind has,
and an unrecognised file is left to the command's own loader and its messages.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

__all__ = ["KINDS", "file_kind", "wrong_kind"]

#: The kinds of file, each with what makes it and what reads it.
KINDS = {
    "scenario": "a scenario file (scenarios/*.toml: [district], [levers], [behaviour]); "
                "countysim run, check, compare and validate read it",
    "experiment": "an experiment file ([design]; docs/sweeps.md); countysim sweep reads it",
    "forecast experiment": "a forecast experiment ([design] and [forecast]; "
                           "docs/forecast.md); countysim forecast reads it",
    "calibration experiment": "a calibration experiment ([history_matching]; "
                              "docs/calibration.md); countysim calibrate reads it",
    "targets file": "a targets file ([[targets]]); named by a calibration or forecast "
                    "experiment",
    "run": "a run's NetCDF file, written by countysim run --out",
    "forecast": "a forecast Dataset, written by countysim forecast --out; countysim report "
                "reads it",
    "sweep store": "a sweep's Zarr store (a folder), written by countysim sweep or "
                   "countysim forecast; countysim export, verify and compare --results "
                   "read it",
    "ensemble": "a parameter ensemble (NetCDF, member x parameter), written by countysim "
                "calibrate",
    "calibration result": "a calibration's NetCDF file, written by countysim calibrate",
}

_SCENARIO_KEYS = ("extends", "start", "district_data", "district", "levers", "behaviour")
_CALIBRATION_KEYS = ("history_matching", "use_targets", "held_out", "recovery",
                     "cross_validation", "carried")


def _toml_kind(path: Path) -> str | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None
    if any(k in data for k in _CALIBRATION_KEYS):
        return "calibration experiment"
    if "design" in data:
        return "forecast experiment" if "forecast" in data else "experiment"
    if isinstance(data.get("targets"), list) and "scenario" not in data:
        return "targets file"
    if any(k in data for k in _SCENARIO_KEYS):
        return "scenario"
    return None


def _dataset_kind(attrs: dict, dims: set[str], variables: set[str]) -> str | None:
    if "probability" in variables and "package" in dims:
        return "forecast"
    if "experiment_hash" in attrs:
        return "sweep store"
    if {"member", "parameter"} <= dims and "value" in variables:
        return "ensemble"
    if "wave" in dims and "experiment_toml" in attrs:
        return "calibration result"
    if "scenario_toml" in attrs and "time" in dims:
        return "run"
    return None


def _zarr_kind(path: Path) -> str | None:
    try:
        meta = json.loads((path / "zarr.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    attrs = meta.get("attributes", {}) if isinstance(meta, dict) else {}
    if "experiment_hash" in attrs:
        return "sweep store"
    dims: set[str] = set()
    variables: set[str] = set()
    for child in path.iterdir():
        try:
            array = json.loads((child / "zarr.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        variables.add(child.name)
        dims.update(array.get("dimension_names") or ())
    return _dataset_kind(attrs, dims, variables)


def _netcdf_kind(path: Path) -> str | None:
    try:
        import h5netcdf

        with h5netcdf.File(path, "r") as f:
            return _dataset_kind(dict(f.attrs), set(f.dimensions), set(f.variables))
    except (OSError, ValueError, ImportError):
        return None


def file_kind(path: str | Path) -> str | None:
    """The kind of countysim file ``path`` is (a key of :data:`KINDS`), if recognisable.

    Args:
        path: A file or folder.

    Returns:
        The kind, or ``None`` if the path does not exist or is not recognisably one of
        :data:`KINDS`.
    """
    path = Path(path)
    if path.is_dir():
        return _zarr_kind(path)
    if not path.is_file():
        return None
    if path.suffix == ".toml":
        return _toml_kind(path)
    with path.open("rb") as f:
        magic = f.read(8)
    if magic.startswith(b"\x89HDF"):
        return _netcdf_kind(path)
    return _toml_kind(path)


def wrong_kind(path: str | Path, expected: str | tuple[str, ...], what: str) -> str | None:
    """The one-line message for a file of another kind than ``expected``, if it is one.

    Args:
        path: The file given.
        expected: The kind (or kinds) the reader takes (keys of :data:`KINDS`).
        what: Who reads it, e.g. ``"countysim sweep"`` or ``"compare --results"``.

    Returns:
        ``"<path>: this is <kind>; <what> takes <expected>"``, or ``None`` if the file is
        of an expected kind or not recognised (its own loader then reports it).
    """
    kinds = (expected,) if isinstance(expected, str) else expected
    kind = file_kind(path)
    if kind is None or kind in kinds:
        return None
    wanted = " or ".join(KINDS[k].split(";")[0] for k in kinds)
    return f"{path}: this is {KINDS[kind].split(';')[0]}; {what} takes {wanted}"
