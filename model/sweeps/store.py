"""The results store of a sweep: a Zarr (format 3) directory written run by run.

Layout. Every variable of a run's Dataset gets two leading dims, ``sample`` and
``replicate``, and is chunked one run per chunk, so each run's data are separate files.
A run's coordinates that are not dimensions (``township``, ``pilot``) depend on the
scenario, not on the seed, so they get the ``sample`` dim only. Beside them:

* one coordinate along ``sample`` per varied parameter (or ``scenario`` for a list of
  named scenarios; ``member``, ``package``, ``district_seed`` and each ensemble parameter
  for an ``ensemble`` design, whose villages are numbered, with ``village_name`` per
  sample), and ``design_unit`` (``sample`` x ``parameter``), the unit-hypercube
  point of a sampled design, which SALib's analysers take as ``X``;
* ``seed_spawn_key`` along ``replicate``: run ``(i, r)`` used
  ``SeedSequence(seed_entropy, spawn_key=(r,))`` (attribute ``seed_entropy``);
* ``scenario_hash`` along ``sample``: the digest of each sample's complete scenario, as in
  a single run's ``scenario_hash`` attribute;
* ``status`` (``pending``, ``done``, ``failed``) and ``error`` per run;
* attributes: the experiment file's text and digest, the design, the base scenario's TOML,
  the seed tree, package versions and the git commit.

Crash safety. The whole layout is created in a temporary directory that is renamed into
place, so a store either exists complete or not at all. Zarr's local store writes each
chunk to a temporary file and renames it, so no chunk is ever half written. A run's
``status`` is written last: a run is ``done`` only once all its data are on disk. A sweep
killed at any moment therefore loses only the runs in flight; resuming runs every run
whose status is still ``pending`` and rewrites its chunks, which are a deterministic
function of the run's scenario and seed, so the finished store is identical, file by
file, to one written without interruption.

Integrity. Every chunk is compressed with zstd *with its checksum*, and every chunk of a
finished run is written even when it holds only fill values, so a run marked done whose
chunk is missing, truncated or altered is detected (:mod:`countysim.sweeps.integrity`)
and run again on resume. Only one sweep writes a store at a time (a file lock beside it).

Provenance. The store records the digest of every input file (the scenario files of each
``extends`` chain and the district CSVs) and of the installed countysim code; resuming
with other inputs or other code is refused unless forced, and a forced resume records
which runs came from which inputs (``origin`` and ``attrs["origins"]``).

Missing values. Runs that are pending or failed have no chunks; reading gives the fill
value, which is declared as ``_FillValue`` (NaN for floats, the smallest integer for
integers), so xarray shows them as NaN and integer variables read as floats.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from ..core import __version__
from ..core.parameters import PARAMETERS
from .files import check_output_path, write_netcdf
from .signals import held

if TYPE_CHECKING:
    from .experiment import Experiment

__all__ = ["DONE", "FAILED", "PENDING", "RunWriter", "StoreError", "code_digest",
           "create_store", "export", "input_digests", "open_results", "provenance",
           "read_status", "salib_problem"]

PENDING, DONE, FAILED = "pending", "done", "failed"
RUN_DIMS = ("sample", "replicate")
_PACKAGES = ("numpy", "pandas", "scipy", "xarray", "zarr", "mesa", "SALib")
# Version of the store's layout rules: 2 adds chunk checksums, chunks written even when
# they hold only fill values, the list of arrays, input and code digests and origins.
STORE_FORMAT = 2
ORIGIN = "origin"


def checksummed() -> tuple[Any, ...]:
    """The chunk compressor of every array: zstd (level 0, the default) with checksum."""
    from zarr.codecs import ZstdCodec

    return (ZstdCodec(level=0, checksum=True),)


class StoreError(ValueError):
    """A results store cannot be created, resumed or read as asked."""


# ------------------------------------------------------------------------ provenance


@functools.cache
def provenance() -> dict[str, str]:
    """Package versions and the git commit of the countysim source (cached per process).

    Returns:
        ``{"versions": <JSON object>, "git_commit": <sha, sha+dirty or "unknown">}``.
    """
    versions = {"python": sys.version.split()[0], "countysim": __version__}
    for name in _PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return {"versions": json.dumps(versions, sort_keys=True), "git_commit": _git_commit(),
            "code_digest": code_digest()}


@functools.cache
def code_digest() -> str:
    """SHA-256 of the installed countysim code: every ``.py`` file, by path and content.

    Unlike the git commit it sees uncommitted changes and works outside a checkout, so a
    resumed store can tell whether its runs came from the same model code.
    """
    package = Path(__file__).resolve().parents[1]
    sha = hashlib.sha256()
    for file in sorted(package.rglob("*.py")):
        sha.update(file.relative_to(package).as_posix().encode() + b"\0")
        sha.update(hashlib.sha256(file.read_bytes()).digest())
    return sha.hexdigest()


def input_digests(experiment: Experiment) -> dict[str, str]:
    """SHA-256 of the contents of every input file of an experiment, by file.

    Covers the scenario files of every ``extends`` chain and the district CSV files (see
    :meth:`Experiment.input_files`), named relative to the experiment's folder so that a
    project moved elsewhere keeps its digests.
    """
    root = experiment.path.parent if experiment.path else Path.cwd()
    return {Path(os.path.relpath(f, root)).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in experiment.input_files()}


def _git_commit() -> str:
    source = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "-C", str(source), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"  # no git, or not a checkout (an installed wheel)
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


# ---------------------------------------------------------------------------- layout


def _fill(dtype: np.dtype) -> Any:
    if dtype.kind == "f":
        return np.nan
    if dtype.kind == "i":
        return np.iinfo(dtype).min
    if dtype.kind == "u":
        return np.iinfo(dtype).max
    if dtype.kind in "UOT":
        return ""
    raise StoreError(f"a run variable of dtype {dtype} cannot be stored in a sweep "
                     "(supported: integers, floats, strings)")


def _empty(dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """A read-only array of fill values that takes no memory (for the layout only)."""
    if dtype.kind in "UOT":
        return np.broadcast_to(np.array("", dtype=object), shape)
    return np.broadcast_to(np.array(_fill(dtype), dtype=dtype), shape)


def _encoding(dtype: np.dtype, chunks: tuple[int, ...]) -> dict[str, Any]:
    enc: dict[str, Any] = {"chunks": chunks}
    if dtype.kind in "iu":
        # The same value as Zarr's fill and as CF _FillValue: chunks never written read
        # as missing, not as 0.
        fill = _fill(dtype)
        enc.update(_FillValue=fill, fill_value=fill)
    return enc


def _months(start: str, until: str) -> pd.DatetimeIndex:
    return pd.date_range(f"{start}-01", f"{until}-01", freq="MS")


def create_store(path: str | Path, experiment: Experiment, template: xr.Dataset,
                 scenario_hashes: list[str],
                 inputs: Mapping[str, str] | None = None) -> None:
    """Create the complete, empty layout of a sweep's store.

    Args:
        path: The store directory; must not exist.
        experiment: The experiment the store is for.
        template: A Dataset of one (short) run of the experiment: its variables, dims,
            dtypes, attributes and non-time coordinates define the layout.
        scenario_hashes: Digest of each sample's scenario (``""`` if it is invalid).
        inputs: The input files' digests (:meth:`InputSnapshot.digests`, of the bytes the
            runs read); default: read the files now.

    Raises:
        StoreError: ``path`` exists, or the template has a variable that cannot be stored.
    """
    path = Path(path)
    if path.exists():
        raise StoreError(f"{path} already exists")
    S, R = experiment.n_samples, experiment.replicates
    months = _months(experiment.start, experiment.until)
    sizes = {**template.sizes, "time": len(months)}
    index = {name: template[name].values for name in template.dims if name != "time"}
    index["time"] = months.values.astype(template["time"].dtype)
    run_vars = [*template.data_vars,
                *(c for c in template.coords if c not in template.dims
                  and "time" in template[c].dims)]
    per_sample = [c for c in template.coords
                  if c not in template.dims and "time" not in template[c].dims]
    clash = {*run_vars, *per_sample, *index} & {*experiment.varied, *RUN_DIMS, "status",
                                                "error", ORIGIN, "scenario_hash",
                                                "design_unit", "parameter", "seed_spawn_key"}
    if clash:
        raise StoreError(f"sweep names collide with run variables: {sorted(clash)}")

    # Step 1: the per-run arrays at one sample x one replicate, through xarray so that
    # names, dims and CF attributes are exactly what xarray reads back.
    data_vars: dict[str, Any] = {}
    coords: dict[str, Any] = {name: (name, values, template[name].attrs)
                              for name, values in index.items()}
    encoding: dict[str, dict[str, Any]] = {}
    for name in run_vars:
        var = template[name]
        shape = tuple(sizes[d] for d in var.dims)
        target = coords if name in template.coords else data_vars
        target[name] = ((*RUN_DIMS, *var.dims), _empty(var.dtype, (1, 1, *shape)),
                        dict(var.attrs))
        encoding[name] = _encoding(var.dtype, (1, 1, *shape))
    for name in per_sample:
        var = template[name]
        shape = tuple(sizes[d] for d in var.dims)
        coords[name] = (("sample", *var.dims), _empty(var.dtype, (1, *shape)), dict(var.attrs))
        encoding[name] = _encoding(var.dtype, (1, *shape))
    data_vars["status"] = (RUN_DIMS, np.full((1, 1), PENDING, dtype=object),
                           {"long_name": f"status of the run: {PENDING}, {DONE} or {FAILED}"})
    data_vars["error"] = (RUN_DIMS, np.full((1, 1), "", dtype=object),
                          {"long_name": "error raised by the run (empty unless failed)"})
    data_vars[ORIGIN] = (RUN_DIMS, np.zeros((1, 1), dtype=np.int16),
                         {"long_name": "inputs and code the run came from: an index into "
                          "attrs['origins'] (0 = those that created the store)"})
    encoding["status"] = {"chunks": (1, 1), "fill_value": PENDING}
    encoding["error"] = {"chunks": (1, 1)}
    encoding[ORIGIN] = {"chunks": (1, 1)}
    runs = xr.Dataset(data_vars, coords=coords)
    for enc in encoding.values():
        enc["compressors"] = checksummed()

    # Step 2: the design, seeds and provenance at full size. Every chunk is written, even
    # one holding only fill values, so a missing chunk always means damage.
    design = _design_dataset(experiment, scenario_hashes)
    design.attrs = _attributes(experiment, run_vars, per_sample, inputs)
    design_encoding = {name: {"compressors": checksummed()} for name in design.variables
                       if name not in runs.variables}

    tmp = path.with_name(f".{path.name}.creating-{uuid.uuid4().hex[:12]}")
    try:
        runs.to_zarr(tmp, mode="w-", encoding=encoding, zarr_format=3, consolidated=False)
        _write_index_chunks(tmp, list(index))
        _grow(tmp, S, R)
        design.to_zarr(tmp, mode="a", zarr_format=3, consolidated=False,
                       encoding=design_encoding, write_empty_chunks=True)
        _record_arrays(tmp)
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_index_chunks(path: Path, names: list[str]) -> None:
    """Write the chunks of the dims' coordinates even where they hold only fill values.

    A one-month sweep's ``time`` encodes as the single value 0, zarr's fill value, whose
    chunk zarr would not write; the readers' check would then take it for damage.
    """
    import zarr

    with zarr.config.set({"array.write_empty_chunks": True}):
        for name in names:
            array = zarr.open_array(str(path / name), mode="r+", zarr_format=3)
            array[...] = array[...]


def _record_arrays(path: Path) -> None:
    """Add the names of all arrays to ``sweep_layout``: a vanished array is then noticed."""
    import zarr

    group = zarr.open_group(str(path), mode="r+", zarr_format=3)
    layout = json.loads(group.attrs["sweep_layout"])
    layout["arrays"] = sorted(name for name, _ in group.arrays())
    group.attrs["sweep_layout"] = json.dumps(layout)


def remove_unfinished_creations(path: str | Path) -> None:
    """Delete layouts left half-made beside ``path`` by a process killed while creating it."""
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.creating-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _grow(path: Path, n_samples: int, n_replicates: int) -> None:
    """Resize every array with a sample or replicate dim to the full sweep."""
    import zarr

    group = zarr.open_group(str(path), mode="r+", zarr_format=3)
    full = {"sample": n_samples, "replicate": n_replicates}
    for _, array in group.arrays():
        dims = array.metadata.dimension_names or ()
        if full.keys() & set(dims):
            array.resize(tuple(full.get(d, n) for d, n in zip(dims, array.shape, strict=True)))


def _design_dataset(experiment: Experiment, scenario_hashes: list[str]) -> xr.Dataset:
    S, R = experiment.n_samples, experiment.replicates
    coords: dict[str, Any] = {
        "sample": ("sample", np.arange(S), {"long_name": "design point"}),
        "replicate": ("replicate", np.arange(R),
                      {"long_name": "replicate (same seed in every sample)"}),
        "seed_spawn_key": ("replicate", np.array([str(r) for r in range(R)], dtype=object),
                           {"long_name": "spawn key of the replicate's SeedSequence "
                            "under the root seed_entropy"}),
    }
    if experiment.kind == "scenarios":
        coords["scenario"] = ("sample", np.array([s.name for s in experiment.scenarios],
                                                 dtype=object), {"long_name": "scenario"})
    if experiment.kind == "ensemble":
        coords.update(_ensemble_coordinates(experiment))
    for factor in experiment.factors:
        param = factor.parameter
        values = [s[factor.name] for s in experiment.samples]
        array = np.array(values, dtype=object if param.kind is str else param.kind)
        coords[factor.name] = ("sample", array, {"long_name": param.doc, "units": param.unit,
                                                 "source": param.source})
    data_vars: dict[str, Any] = {
        "scenario_hash": ("sample", np.array(scenario_hashes, dtype=object),
                          {"long_name": "SHA-256 of the sample's complete scenario TOML "
                           "(empty if the sample is not a valid scenario)"}),
    }
    if experiment.unit is not None:
        coords["parameter"] = ("parameter", np.array([f.name for f in experiment.factors],
                                                     dtype=object))
        data_vars["design_unit"] = (("sample", "parameter"), experiment.unit,
                                    {"long_name": "design point in the unit hypercube "
                                     "(the X of SALib's analysers)", "units": "1"})
    return xr.Dataset(data_vars, coords=coords)


def _ensemble_coordinates(experiment: Experiment) -> dict[str, Any]:
    """``member``, ``package``, ``district_seed`` and each ensemble parameter by sample."""
    ens = experiment.ensemble
    names = [s.name for s in experiment.scenarios] if experiment.scenarios else None
    package = [names[k] for k in experiment.packages] if names else \
        [experiment.base.name] * experiment.n_samples
    coords: dict[str, Any] = {
        "member": ("sample", np.array(experiment.members, dtype=np.int64),
                   {"long_name": f"member of ensemble {ens.attrs['name']} (runs with the "
                    "same member and replicate are paired across packages)"}),
        "package": ("sample", np.array(package, dtype=object),
                    {"long_name": "policy package: the sample's scenario"}),
        "district_seed": ("sample", np.array([s["district_seed"] for s in experiment.samples],
                                             dtype=np.int64),
                          {"long_name": "seed of the member's synthetic district"}),
    }
    for j, p in enumerate(str(p) for p in ens["parameter"].values):
        param = PARAMETERS[p]
        coords[p] = ("sample", np.array([s[p] for s in experiment.samples], dtype=float),
                     {"long_name": param.doc, "units": param.unit,
                      "role": str(ens["role"].values[j])})
    return coords


def _attributes(experiment: Experiment, run_vars: list[str], per_sample: list[str],
                inputs: Mapping[str, str] | None = None) -> dict[str, Any]:
    definition = experiment.definition()
    design = {k: definition[k] for k in ("kind", "options", "factors", "overrides", "start",
                                         "until", "replicates", "seed")}
    design["n_samples"] = experiment.n_samples
    attrs: dict[str, Any] = {
        "title": f"countysim sweep {experiment.name}",
        "Conventions": "CF-1.10",
        "countysim_version": __version__,
        "experiment_name": experiment.name,
        "experiment_description": experiment.description,
        "experiment_file": experiment.path.name if experiment.path else "",
        "experiment_toml": experiment.text,
        "experiment_hash": experiment.digest,
        "design": json.dumps(design, ensure_ascii=False),
        "start": experiment.start,
        "until": experiment.until,
        "replicates": experiment.replicates,
        "seed_entropy": str(experiment.seed),
        "seed_scheme": "run (sample i, replicate r) is seeded with "
                       "SeedSequence(seed_entropy, spawn_key=(r,)) = "
                       "SeedSequence(seed_entropy).spawn(replicates)[r], the same in every "
                       "sample (common random numbers); a sampled design is drawn from "
                       "default_rng(SeedSequence(seed_entropy))",
        "sweep_layout": json.dumps({"run": run_vars, "per_sample": per_sample}),
        "store_format": STORE_FORMAT,
        **provenance(),
    }
    attrs["inputs"] = json.dumps(input_digests(experiment) if inputs is None else dict(inputs),
                                 sort_keys=True)
    attrs["origins"] = json.dumps([origin_record(attrs)])
    if experiment.kind == "ensemble":
        ens = experiment.ensemble
        attrs["ensemble"] = experiment.options["ensemble"]
        attrs["ensemble_provenance"] = json.dumps(
            {k: ens.attrs[k] for k in ("name", "scenario", "calibration", "targets", "created",
                                       "countysim_version", "git_commit", "method")},
            ensure_ascii=False)
    if experiment.outputs:
        attrs["outputs"] = json.dumps(list(experiment.outputs))
    if experiment.scenarios:
        attrs["scenarios_toml"] = json.dumps(
            {s.name: s.to_toml() for s in experiment.scenarios}, ensure_ascii=False)
    else:
        attrs["scenario_toml"] = experiment.base.to_toml()
    problem = experiment.salib_problem()
    if problem is not None:
        attrs["salib_problem"] = json.dumps(problem)
    return attrs


# ----------------------------------------------------------------------- resume, read


def _group_attrs(path: Path) -> dict[str, Any]:
    import zarr

    if not path.is_dir():
        raise StoreError(f"{path}: no such sweep store")
    try:
        group = zarr.open_group(str(path), mode="r", zarr_format=3)
    except (FileNotFoundError, ValueError, zarr.errors.NodeNotFoundError) as exc:
        raise StoreError(f"{path} is not a countysim sweep store ({exc})") from None
    attrs = dict(group.attrs)
    if "experiment_hash" not in attrs:
        raise StoreError(f"{path} is not a countysim sweep store (no experiment_hash)")
    return attrs


def origin_record(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """What a run's results depend on besides the experiment: input files and code."""
    return {"inputs": json.loads(attrs.get("inputs", "null")),
            "code_digest": attrs.get("code_digest"),
            "countysim_version": attrs.get("countysim_version"),
            "git_commit": attrs.get("git_commit")}


def _same_origin(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    # The git commit is informational: a commit that changes no code changes nothing.
    return all(a.get(k) == b.get(k) for k in ("inputs", "code_digest", "countysim_version"))


def _differences(was: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    if was.get("inputs") is None or was.get("code_digest") is None:
        return ["the store was written by a countysim without input and code digests"]
    out = []
    before, after = was["inputs"], now["inputs"]
    for name in sorted(before.keys() | after.keys()):
        if name not in after:
            out.append(f"{name} is no longer an input")
        elif name not in before:
            out.append(f"{name} is a new input")
        elif before[name] != after[name]:
            out.append(f"{name} changed")
    if was["countysim_version"] != now["countysim_version"]:
        out.append(f"countysim {was['countysim_version']} is now {now['countysim_version']}")
    if was["code_digest"] != now["code_digest"]:
        out.append(f"the countysim code changed (commit {was.get('git_commit')}, now "
                   f"{now.get('git_commit')})")
    return out


def check_resumable(path: str | Path, experiment: Experiment, *,
                    force_mixed: bool = False,
                    inputs: Mapping[str, str] | None = None) -> int:
    """Check that a store may be resumed with this experiment, its inputs and this code.

    Args:
        path: The store.
        experiment: The experiment to resume with.
        force_mixed: Accept other input files or code than the store's first runs came
            from; the new origin is appended to ``attrs["origins"]`` and the runs written
            now are labelled with it in the ``origin`` variable.
        inputs: The digests of the inputs this session's runs read (its snapshot);
            default: read the files now.

    Returns:
        The index in ``attrs["origins"]`` of what this session's runs come from.

    Raises:
        StoreError: Not a sweep store, a store of a different experiment, or (without
            ``force_mixed``) one written from other input files or other code.
    """
    import zarr

    path = Path(path)
    attrs = _group_attrs(path)
    if attrs["experiment_hash"] != experiment.digest:
        raise StoreError(f"{path} holds a sweep of another experiment "
                         f"({attrs.get('experiment_name')!r}, digest "
                         f"{attrs['experiment_hash'][:12]}; this one is "
                         f"{experiment.digest[:12]}): resume with the experiment that "
                         "created it, or write to a new store")
    now = origin_record({**provenance(), "countysim_version": __version__,
                         "inputs": json.dumps(input_digests(experiment) if inputs is None
                                              else dict(inputs), sort_keys=True)})
    origins = json.loads(attrs.get("origins", "null")) or [origin_record(attrs)]
    for index, origin in enumerate(origins):
        if _same_origin(origin, now) and (index == 0 or force_mixed):
            return index
    if not force_mixed:
        diffs = _differences(origins[0], now)
        raise StoreError(f"{path} was written from other inputs or code ("
                         + "; ".join(diffs[:4]) + (f"; {len(diffs) - 4} more" if len(diffs) > 4
                                                   else "")
                         + "): resuming would mix runs of both in one store; resume with "
                         "the same inputs and code, write to a new store, or pass "
                         "--force-mixed (force_mixed=True) to mix them, recording which "
                         "runs came from what")
    if len(origins) >= np.iinfo(np.int16).max:
        raise StoreError(f"{path} already mixes {len(origins)} origins; write a new store")
    origins.append(now)
    group = zarr.open_group(str(path), mode="r+", zarr_format=3)
    group.attrs["origins"] = json.dumps(origins)
    return len(origins) - 1


# Chunks read in one zarr call by the store's readers: some tenths of a second, the
# longest a stop waits (see signals.held).
_CHUNKS_PER_READ = 2000


def default_chunk_keys(array: Any) -> bool:
    """Whether ``array``'s chunks are files ``c/<i>/<j>/...`` (zarr's default keys), the
    layout the store's fast readers rely on."""
    key = getattr(array.metadata, "chunk_key_encoding", None)
    return getattr(key, "name", None) == "default" and key.separator == "/"


def _rows_with_chunks(array_path: Path, array: Any) -> np.ndarray:
    """The rows (samples) of a run array that have at least one chunk on disk.

    Pending runs have no chunk, so only these rows need reading. With zarr's default
    chunk keys ("c/<sample>/<replicate>") a row's chunks are a folder's files; any
    other key encoding reads every row.
    """
    if default_chunk_keys(array):
        folder = array_path / "c"
        try:
            names = [e.name for e in os.scandir(folder) if e.is_dir()]
        except FileNotFoundError:
            return np.empty(0, dtype=int)
        present = sorted(int(n) for n in names if n.isdigit() and int(n) < array.shape[0])
        return np.asarray(present, dtype=int)
    return np.arange(array.shape[0])


def read_status(path: str | Path) -> np.ndarray:
    """The status of every run, an array of ``"pending"``/``"done"``/``"failed"``.

    A status chunk that cannot be read (damaged) or holds another value counts as
    ``"pending"``: the run is then simply run again.
    """
    return read_status_checked(path)[0]


def read_status_checked(path: str | Path) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The status of every run and the runs whose status chunk could not be read.

    Raises:
        StoreError: The ``status`` array itself (its metadata) is missing or unreadable.
    """
    import zarr

    try:
        # Pending runs have no status chunk: they read as the fill value, "pending".
        with zarr.config.set({"array.read_missing_chunks": True}):
            array = zarr.open_array(str(Path(path) / "status"), mode="r", zarr_format=3)
    except Exception as exc:  # missing or corrupt metadata: any error means unreadable
        raise StoreError(f"{path}: the status array is missing or damaged ({exc}); "
                         "resume the sweep to repair it") from None
    damaged: list[tuple[int, int]] = []
    status = np.full(array.shape, PENDING, dtype=object)
    rows = _rows_with_chunks(Path(path) / "status", array)
    # A fresh store of 100,000 runs has no status chunk: the rows to read are those
    # with a chunk on disk, a block at a time, each held against signals (a stop waits
    # for one block, never for the whole read, and leaves no read pending).
    step = max(1, _CHUNKS_PER_READ // max(1, array.shape[1]))
    for start in range(0, len(rows), step):
        block = rows[start:start + step]
        with held():
            try:
                status[block] = array.get_orthogonal_selection((block, slice(None)))
                continue
            except Exception:  # one damaged chunk spoils the block: read it run by run
                pass
            for i in block.tolist():
                for r in range(array.shape[1]):
                    try:
                        status[i, r] = array[i, r]
                    except Exception:
                        damaged.append((i, r))
    valid = np.isin(status.astype(str), [PENDING, DONE, FAILED])
    for i, r in np.argwhere(~valid):
        damaged.append((int(i), int(r)))
    status[~valid] = PENDING
    return status, sorted(set(damaged))


def open_results(store: str | Path, chunks: Any = None, *, check: bool = True) -> xr.Dataset:
    """Open a sweep's results as an :class:`xarray.Dataset` (lazily once checked).

    Args:
        store: The store directory written by :func:`countysim.sweep`.
        chunks: Passed to :func:`xarray.open_zarr`; ``None`` (default) gives lazily
            indexed NumPy arrays, ``{}`` dask arrays with one chunk per run.
        check: Check every finished run's chunks first (their checksums, and that none
            and no array is missing), as ``countysim verify`` does: damaged data are
            refused rather than read as NaN or left out. ``False`` skips the check (it
            reads the whole store once) for a store just checked.

    Returns:
        The run variables with dims ``sample`` and ``replicate`` in front, the varied
        parameters (or ``scenario``) as coordinates along ``sample``, ``status`` and
        ``error`` per run. Runs not done read as NaN.

    Raises:
        StoreError: ``store`` is not a sweep store, or (with ``check``) it is damaged.
    """
    path = Path(store)
    layout = json.loads(_group_attrs(path)["sweep_layout"])
    if check:
        from .integrity import require_intact

        require_intact(path)
    ds = xr.open_zarr(path, consolidated=False, zarr_format=3, chunks=chunks)
    # Zarr lists arrays in directory order; put the variables in the run's order.
    first = [n for n in [*layout["run"], "status", "error"] if n in ds.data_vars]
    rest = sorted(n for n in ds.data_vars if n not in first)
    # Zarr lists a group's members concurrently, in the order the listings finish: the
    # coordinates are put in a fixed order too, so two exports are byte-identical.
    ds = xr.Dataset({n: ds[n].variable for n in [*first, *rest]},
                    coords={n: ds.coords[n].variable for n in sorted(ds.coords)},
                    attrs=ds.attrs)
    # Zarr 3 strings decode to NumPy's StringDType, which xarray cannot mix with NaN
    # (``ds.where(ds.status == "done")`` would raise); Python objects, xarray's usual
    # strings, can. String variables are small (per run or per sample), so load them.
    strings = {n: v.load().astype(object) for n, v in ds.variables.items()
               if v.dtype.kind == "T"}
    ds = ds.assign({n: v for n, v in strings.items() if n in ds.data_vars}).assign_coords(
        {n: v for n, v in strings.items() if n in ds.coords})
    return _district_coordinates(ds)


def salib_problem(results: xr.Dataset | str | Path) -> dict[str, Any]:
    """The SALib problem of a sampled sweep, as the dict SALib's ``analyze`` functions take.

    The store keeps it as JSON text (``attrs["salib_problem"]``: NetCDF and Zarr
    attributes hold no dicts). Its bounds are the unit hypercube, so the matching inputs
    are ``results["design_unit"]``, in the order of ``problem["names"]``::

        from SALib.analyze import sobol
        results = countysim.open_results("runs/sobol.zarr")
        problem = countysim.salib_problem(results)
        y = results["cooperative_workers"].isel(time=-1).mean("replicate").values
        indices = sobol.analyze(problem, y)

    Args:
        results: A sweep's results (:func:`open_results`, or an exported NetCDF file
            opened with xarray), or the path of its store.

    Returns:
        ``{"num_vars": D, "names": [...], "bounds": [[0.0, 1.0], ...]}``.

    Raises:
        StoreError: The results are not of a sampled design (``lhs``, ``sobol``,
            ``morris``), which alone have a SALib problem.
    """
    label = "<results>"
    if not isinstance(results, xr.Dataset):
        label = str(results)
        attrs = _group_attrs(Path(results))
    else:
        attrs = results.attrs
    text = attrs.get("salib_problem")
    if text is None:
        try:
            kind = repr(json.loads(attrs["design"])["kind"])
        except (KeyError, TypeError, ValueError):
            kind = "unknown (not a sweep's results)"
        raise StoreError(f"{label}: salib_problem: none: only sampled designs (lhs, sobol, "
                         f"morris) have a SALib problem; this sweep's design kind is {kind}")
    return json.loads(text) if isinstance(text, str) else dict(text)


# Per-sample coordinates that describe the district, not the levers: the same for every
# sample (the district's shape cannot be varied), so they are read along ``village`` only
# and ``groupby("township")`` groups villages, not (sample, village) pairs.
DISTRICT_COORDS = ("township",)


def _district_coordinates(ds: xr.Dataset) -> xr.Dataset:
    for name in DISTRICT_COORDS:
        if name not in ds.coords or "sample" not in ds[name].dims:
            continue
        values = np.asarray(ds[name].load().values)
        # Samples never run have no chunk (fill values): the others must all agree.
        filled = [row for row in values if not all(v in ("", None) or v != v for v in row)]
        if filled and all(np.array_equal(row, filled[0]) for row in filled):
            ds = ds.assign_coords({name: (ds[name].dims[1:], filled[0], ds[name].attrs)})
    return ds


def export(store: str | Path, out: str | Path) -> Path:
    """Write a sweep's results to one NetCDF-4 file (engine ``h5netcdf``).

    Args:
        store: The sweep's store.
        out: The NetCDF file to write (parent folders are created). It is written to a
            temporary file renamed into place, so a failure leaves any previous file.

    Returns:
        The path written.

    Raises:
        StoreError: ``store`` is not a sweep store, or it is damaged (see
            :func:`open_results`).
        OutputError: ``out`` is inside a Zarr store or a folder, or cannot be written
            (disk full, read-only, too large).
    """
    out = check_output_path(out, "out")
    ds = open_results(store)
    return write_netcdf(ds.load(), out)


# ---------------------------------------------------------------------------- writing


# Zarr 3.4's fused codec pipeline encodes a chunk in one synchronous step: the same
# codecs, hence the same bytes, with about a third less overhead per chunk than the
# default pipeline (a run is ~40 small chunks). Opt-in in zarr 3.4, so set only here.
_FAST_PIPELINE = {"codec_pipeline.path": "zarr.core.codec_pipeline.FusedCodecPipeline"}


class RunWriter:
    """Writes finished runs into an existing store (used by the sweep's parent process).

    Each run's chunks are written concurrently, then its ``status``, so that a run is
    marked done only when its data are on disk. Every chunk is written, even one holding
    only fill values, so that a missing chunk of a finished run always means damage.

    Args:
        path: The store created by :func:`create_store`.
        origin: Index in ``attrs["origins"]`` of this session's inputs and code (see
            :func:`check_resumable`); written per run once a store mixes origins.
    """

    def __init__(self, path: str | Path, origin: int = 0) -> None:
        import zarr
        import zarr.api.asynchronous as za
        import zarr.core.codec_pipeline as pipelines

        self.path = Path(path)
        attrs = _group_attrs(self.path)
        layout = json.loads(attrs["sweep_layout"])
        self.run_vars: list[str] = layout["run"]
        self.per_sample: list[str] = layout["per_sample"]
        self.origin = origin
        # Label runs only in a store that mixes origins: a plain store has no origin chunks.
        mixed = len(json.loads(attrs.get("origins", "[]"))) > 1
        # A private event loop: zarr's async API writes a run's chunks concurrently,
        # about twice as fast as one synchronous write per array.
        self._loop = asyncio.new_event_loop()
        # Inside a running event loop (Jupyter, ``asyncio.run``) this thread cannot run
        # another: the writer's loop then runs in a private thread of its own.
        self._thread = ThreadPoolExecutor(1) if _loop_running() else None
        self._written: dict[int, dict[str, np.ndarray]] = {}
        names = [*self.run_vars, *self.per_sample, "status", "error"]
        if mixed and (self.path / ORIGIN / "zarr.json").is_file():  # not in format-1 stores
            names.append(ORIGIN)
        fast = _FAST_PIPELINE if hasattr(pipelines, "FusedCodecPipeline") else {}
        with zarr.config.set({**fast, "array.write_empty_chunks": True}):
            group = self._complete(za.open_group(store=str(self.path), mode="r+", zarr_format=3))
            self._arrays = {n: self._complete(group.getitem(n)) for n in names}
        with xr.open_zarr(self.path, consolidated=False, zarr_format=3) as ds:
            self._dims = {n: ds[n].dims for n in [*self.run_vars, *self.per_sample]}
            run_dims = {d for n in self.run_vars for d in ds[n].dims} - set(RUN_DIMS)
            self._index = {d: ds[d].values for d in sorted(run_dims)}

    def close(self) -> None:
        """Release the writer's event loop (finishing writes cut short by an exception)."""
        if self._loop.is_closed():
            return
        left = asyncio.all_tasks(self._loop)
        for task in left:
            task.cancel()
        if left:  # else asyncio prints each one's traceback when it is collected
            self._complete(asyncio.gather(*left, return_exceptions=True))
        if self._thread is not None:
            self._thread.submit(self._loop.close).result()
            self._thread.shutdown()
        else:
            self._loop.close()

    def _complete(self, awaitable: Any) -> Any:
        """Run an awaitable to completion on the writer's loop (in its thread if it has one)."""
        if self._thread is None:
            return self._loop.run_until_complete(awaitable)
        return self._thread.submit(self._loop.run_until_complete, awaitable).result()

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mismatch(self, ds: xr.Dataset, sample: int) -> str | None:
        """Why a run's Dataset does not fit the store's layout, or ``None`` if it does."""
        names = [*ds.data_vars, *(c for c in ds.coords if c not in ds.dims)]
        missing = set(self.run_vars) | set(self.per_sample)
        if set(names) != missing:
            return (f"variables differ from the sweep's: missing "
                    f"{sorted(missing - set(names))}, extra {sorted(set(names) - missing)}")
        for dim, values in self._index.items():
            if dim not in ds.dims or len(ds[dim]) != len(values):
                return f"dimension {dim!r} has another length than the sweep's"
            if not np.array_equal(np.asarray(ds[dim].values, dtype=values.dtype), values):
                return f"coordinate {dim!r} differs from the sweep's (another district?)"
        for name, dims in self._dims.items():
            run_dims = dims[1:] if name in self.per_sample else dims[2:]
            if ds[name].dims != run_dims:
                return f"{name} has dims {ds[name].dims}, the sweep expects {run_dims}"
            stored = self._arrays[name].dtype
            if not np.can_cast(ds[name].dtype, stored, casting="same_kind"):
                return f"{name} has dtype {ds[name].dtype}, the sweep stores {stored}"
        for name, values in self._written.get(sample, {}).items():
            if not np.array_equal(np.asarray(ds[name].values), values):
                return (f"{name} differs from another replicate of sample {sample}; it "
                        "must depend on the scenario only")
        return None

    def write_done(self, sample: int, replicate: int, ds: xr.Dataset) -> None:
        """Write a finished run's data, then mark it done."""
        arrays, key = self._arrays, (sample, replicate)
        writes = [arrays[n].setitem(key, np.asarray(ds[n].values)) for n in self.run_vars]
        if sample not in self._written:
            # Every replicate of a sample has the same values here (they depend on the
            # scenario only); writing them once per session saves a file write per run,
            # and a resumed session rewrites the same bytes.
            writes += [arrays[n].setitem(sample, np.asarray(ds[n].values, dtype=object)
                                         if ds[n].dtype.kind in "UT" else ds[n].values)
                       for n in self.per_sample]
        writes.append(arrays["error"].setitem(key, ""))
        if ORIGIN in arrays:
            writes.append(arrays[ORIGIN].setitem(key, self.origin))
        self._run(*writes)
        self._written[sample] = {n: np.asarray(ds[n].values) for n in self.per_sample}
        self._run(arrays["status"].setitem(key, DONE))

    def write_failed(self, sample: int, replicate: int, error: str) -> None:
        """Record a failed run: its error text, then its status."""
        key = (sample, replicate)
        writes = [self._arrays["error"].setitem(key, error)]
        if ORIGIN in self._arrays:
            writes.append(self._arrays[ORIGIN].setitem(key, self.origin))
        self._run(*writes)
        self._run(self._arrays["status"].setitem(key, FAILED))

    def _run(self, *coroutines: Any) -> None:
        async def gather() -> None:
            await asyncio.gather(*coroutines)

        self._complete(gather())


def _loop_running() -> bool:
    """Whether this thread is already running an event loop (Jupyter, ``asyncio.run``)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def summarise(status: np.ndarray) -> Mapping[str, int]:
    """Count the runs of each status."""
    values, counts = np.unique(np.asarray(status, dtype=str), return_counts=True)
    out = {PENDING: 0, DONE: 0, FAILED: 0}
    out.update({str(v): int(c) for v, c in zip(values, counts, strict=True)})
    return out


def store_size(path: str | Path) -> int:
    """Bytes on disk of a store's files."""
    return sum(os.path.getsize(p) for p in Path(path).rglob("*") if p.is_file())
