"""Integrity of a sweep's store: one writer at a time, and a check of every finished run.

Lock. A sweep holds an exclusive OS file lock (``fcntl.flock``) on ``.<store>.lock``
beside the store from before it looks at the store until it returns, so creating,
resuming and cleaning up temporary files happen in one process only. A second sweep on
the same store is refused at once and changes nothing. The lock is released by the
kernel when the process ends, however it ends (even ``kill -9``), so a stale lock cannot
block a resume. The lock file itself stays: removing it would let a third process lock a
new file while the second still holds the old one.

Check. :func:`check_store` reads every chunk of every run marked done (or failed) with
missing chunks treated as errors, so a chunk, a variable's folder or an array's metadata
that vanished, and a chunk whose bytes changed (zstd checksum), are all found. A resumed
sweep runs those runs again (restoring missing metadata from a freshly made layout
first); ``countysim verify`` reports them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .signals import held
from .store import (
    _CHUNKS_PER_READ,
    DONE,
    FAILED,
    ORIGIN,
    PENDING,
    STORE_FORMAT,
    StoreError,
    _group_attrs,
    default_chunk_keys,
    read_status_checked,
)

__all__ = ["StoreCheck", "check_store", "lock_path", "require_intact", "restore_arrays",
           "store_lock"]

try:
    import fcntl
except ImportError:  # not POSIX: no lock (documented in docs/sweeps.md)
    fcntl = None  # type: ignore[assignment]

# Bytes read at a time when checking an array: bounds memory for big stores.
_BLOCK_BYTES = 64 << 20


def lock_path(store: str | Path) -> Path:
    """The lock file of a store: ``.<name>.lock`` in the folder of the store's real path.

    Symlinks are resolved first: a store and a link to it are one store, with one lock
    (two writers through two names would delete each other's unfinished chunks).
    """
    store = Path(os.path.realpath(store))  # "." and "a/.." have names once normalised
    return store.with_name(f".{store.name}.lock")


@contextmanager
def store_lock(store: str | Path) -> Iterator[None]:
    """Hold the store's write lock for the duration of the ``with`` block.

    Raises:
        StoreError: Another process holds the lock (a sweep is writing the store).
        OSError: The lock file cannot be created (e.g. a read-only folder).
    """
    store = Path(store)
    if fcntl is None:
        yield
        return
    lock = lock_path(store)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            who = f" (process {holder})" if holder.isdigit() else ""
            raise StoreError(f"{store} is being written by another countysim sweep{who}; "
                             "nothing was changed: wait for it to finish (or stop it), "
                             "then resume") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@dataclass
class StoreCheck:
    """What :func:`check_store` found.

    Attributes:
        status: Status of every run, damaged status chunks counted as pending.
        damaged: Runs marked done or failed whose data are missing or unreadable, with
            the first problem found for each.
        broken_arrays: Arrays whose metadata or (for arrays that are not per run) data
            are missing or unreadable; a resume restores them from a fresh layout.
        status_damaged: Runs whose status chunk could not be read.
    """

    status: np.ndarray
    damaged: dict[tuple[int, int], str] = field(default_factory=dict)
    broken_arrays: dict[str, str] = field(default_factory=dict)
    status_damaged: list[tuple[int, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No damage found."""
        return not (self.damaged or self.broken_arrays or self.status_damaged)

    def describe(self, store: str | Path) -> str:
        """One line for people."""
        if self.ok:
            n = int(np.isin(self.status, [DONE, FAILED]).sum())
            return f"{store}: ok; {n} finished runs of {self.status.size} checked"
        parts = []
        if self.damaged:
            (i, r), why = next(iter(sorted(self.damaged.items())))
            parts.append(f"{len(self.damaged)} finished runs damaged (first: sample {i}, "
                         f"replicate {r}: {why})")
        if self.status_damaged:
            parts.append(f"{len(self.status_damaged)} status chunks unreadable")
        if self.broken_arrays:
            names = sorted(self.broken_arrays)
            parts.append(f"{len(names)} arrays missing or damaged ({', '.join(names[:5])}"
                         + (", ..." if len(names) > 5 else "") + ")")
        return (f"{store}: " + "; ".join(parts)
                + ": run the sweep again with --resume to run the damaged runs again")


def _open(path: Path, name: str) -> Any:
    import zarr

    return zarr.open_array(str(path / name), mode="r", zarr_format=3)


def check_store(store: str | Path) -> StoreCheck:
    """Check that every finished run of a store is present and readable.

    Args:
        store: The sweep's store.

    Returns:
        The findings; nothing is changed.

    Raises:
        StoreError: Not a sweep store.
    """
    import zarr

    path = Path(store)
    attrs = _group_attrs(path)
    layout = json.loads(attrs["sweep_layout"])
    run_vars, per_sample = layout["run"], layout["per_sample"]
    strict = attrs.get("store_format", 1) >= STORE_FORMAT
    names = layout.get("arrays") or [*run_vars, *per_sample, "status", "error"]
    check = StoreCheck(np.empty((0, 0), dtype=object))
    # Arrays take zarr's config when opened. Old stores (format 1) did not write chunks
    # of fill values, so there a missing chunk is no damage.
    with zarr.config.set({"array.read_missing_chunks": not strict}):
        arrays: dict[str, Any] = {}
        for name in names:
            try:
                arrays[name] = _open(path, name)
            except Exception as exc:  # vanished or corrupt metadata
                check.broken_arrays[name] = f"cannot open: {type(exc).__name__}"
        if "status" in check.broken_arrays:
            # Nothing can be checked without the statuses; a resume restores the array's
            # metadata (its chunks are usually intact) and checks again.
            shape = (json.loads(attrs["design"])["n_samples"], int(attrs["replicates"]))
            check.status = np.full(shape, PENDING, dtype=object)
            return check
        check.status, check.status_damaged = read_status_checked(path)
        finished = np.isin(check.status, [DONE, FAILED])
        done = check.status == DONE
        for name in run_vars:
            if name in arrays:
                _check_runs(arrays[name], done, name, check.damaged)
        if "error" in arrays:
            wanted = finished if strict else check.status == FAILED
            _check_runs(arrays["error"], wanted, "error", check.damaged)
        for name in per_sample:
            if name in arrays:
                _check_samples(arrays[name], done, name, check.damaged)
        for name, array in arrays.items():
            if name in (*run_vars, *per_sample, "status", "error", ORIGIN):
                continue
            with held():  # design arrays: one or a few chunks each
                try:
                    array[...]
                except Exception as exc:
                    check.broken_arrays[name] = f"unreadable: {type(exc).__name__}"
    return check


def require_intact(store: str | Path) -> StoreCheck:
    """:func:`check_store`, raising on any damage: what every reader of a store calls.

    A reader that went on would return NaN for a run marked done whose chunk is missing,
    drop a variable whose metadata vanished, or fail deep inside zarr on a bad checksum.

    Raises:
        StoreError: Not a sweep store, or damaged (one line naming the first damaged run
            and variable, or the damaged arrays, and how to repair it).
    """
    check = check_store(store)
    if not check.ok:
        raise StoreError(check.describe(store).replace(
            ": run the sweep again", "; nothing was read: run the sweep again"))
    return check


def _check_runs(array: Any, wanted: np.ndarray, name: str,
                damaged: dict[tuple[int, int], str]) -> None:
    """Read the chunk of every wanted run, pinpointing the damaged ones.

    Blocks of samples whose runs are all wanted are read in one call (zarr reads their
    chunks concurrently); elsewhere, and where a block fails, runs are read one by one.
    Pending runs legitimately have no chunks, so they are never read.
    """
    files = _ChunkFiles.of(array)
    if files is not None:
        # Chunk files checked directly (~20 us a chunk against zarr's ~0.7 ms): a resume
        # of a finished 100,000-run store checks in minutes, not an hour. A sample with
        # anything amiss is read through zarr below, which says what.
        wanted = wanted.copy()
        for i in np.flatnonzero(wanted.any(axis=1)).tolist():
            if files.intact(i, np.flatnonzero(wanted[i]).tolist()):
                wanted[i] = False
    row_bytes = max(1, int(np.prod(array.shape[1:])) * np.dtype(array.dtype).itemsize)
    row_chunks = max(1, int(np.prod(array.cdata_shape[1:])))
    step = max(1, min(_BLOCK_BYTES // row_bytes, _CHUNKS_PER_READ // row_chunks))
    rest = (slice(None),) * (array.ndim - 2)
    for start in range(0, array.shape[0], step):
        block = wanted[start:start + step]
        rows = np.flatnonzero(block.any(axis=1)) + start
        if not len(rows):
            continue
        complete = wanted[rows].all(axis=1)
        with held():
            try:
                # A sweep runs sample by sample, so a block is mostly whole rows: one
                # call reads them all (a call per row costs ~10 ms of zarr overhead).
                if complete.any():
                    array.get_orthogonal_selection((rows[complete], slice(None), *rest))
                for i in rows[~complete].tolist():
                    array.get_orthogonal_selection((i, np.flatnonzero(wanted[i]), *rest))
                continue
            except Exception:  # found below, row by row and run by run
                pass
        for i in rows.tolist():
            with held():
                _check_row(array, wanted, i, name, damaged)


class _ChunkFiles:
    """A run array's chunk files, checked without zarr: present, and decoding (zstd's
    checksum) to a chunk's size. Only for the layout a sweep writes: one run a chunk,
    zarr's default chunk keys, bytes then zstd with its checksum."""

    def __init__(self, array: Any, folder: str) -> None:
        from numcodecs import Zstd

        self.folder = folder
        self.tails = ["/".join(map(str, idx)) for idx in np.ndindex(*array.cdata_shape[2:])]
        self.nbytes = int(np.prod(array.chunks)) * np.dtype(array.dtype).itemsize
        self.zstd = Zstd()

    @classmethod
    def of(cls, array: Any) -> _ChunkFiles | None:
        from zarr.codecs import BytesCodec, ZstdCodec

        codecs = getattr(array.metadata, "codecs", ())
        local = getattr(array.store, "root", None)
        if (len(codecs) != 2 or not isinstance(codecs[0], BytesCodec)
                or not isinstance(codecs[1], ZstdCodec) or not codecs[1].checksum
                or not default_chunk_keys(array) or tuple(array.chunks[:2]) != (1, 1)
                or local is None
                or np.dtype(array.dtype).kind not in "biuf"):
            return None
        return cls(array, os.path.join(str(local), array.path, "c"))

    def intact(self, i: int, cols: list[int]) -> bool:
        """Whether every chunk of runs ``(i, r)``, ``r`` in ``cols``, is there and sound."""
        for r in cols:
            run = f"{self.folder}/{i}/{r}/"
            for tail in self.tails:
                try:
                    with open(run + tail, "rb") as handle:
                        if len(self.zstd.decode(handle.read())) != self.nbytes:
                            return False
                except Exception:  # missing or damaged: zarr's read below says which
                    return False
        return True


def _check_row(array: Any, wanted: np.ndarray, i: int, name: str,
               damaged: dict[tuple[int, int], str]) -> None:
    """Read the wanted runs of sample ``i``, the whole row at once where it can."""
    cols = np.flatnonzero(wanted[i]).tolist()
    if len(cols) == wanted.shape[1]:
        try:
            array[i]
            return
        except Exception:  # found below, run by run
            pass
    for r in cols:
        try:
            array[i, r]
        except Exception as exc:
            damaged.setdefault((i, r), f"{name}: {_why(exc)}")


def _check_samples(array: Any, done: np.ndarray, name: str,
                   damaged: dict[tuple[int, int], str]) -> None:
    """Per-sample arrays: a damaged chunk marks the sample's first done run damaged.

    Running that one again rewrites the sample's chunk (the writer writes it once per
    session for each sample).
    """
    wanted = done.any(axis=1)
    row_chunks = max(1, int(np.prod(array.cdata_shape[1:])))
    step = max(1, _CHUNKS_PER_READ // row_chunks)
    for start in range(0, array.shape[0], step):
        block = wanted[start:start + step]
        with held():
            if block.all():
                try:
                    array[start:start + len(block)]
                    continue
                except Exception:  # found below, sample by sample
                    pass
            for i in (np.flatnonzero(block) + start).tolist():
                try:
                    array[i]
                except Exception as exc:
                    r = int(np.flatnonzero(done[i])[0])
                    damaged.setdefault((i, r), f"{name}: {_why(exc)}")


def _why(exc: BaseException) -> str:
    import zarr.errors

    if isinstance(exc, zarr.errors.ChunkNotFoundError):
        return "chunk missing"
    return f"unreadable ({type(exc).__name__})"


def restore_arrays(store: str | Path, fresh: str | Path, names: list[str]) -> None:
    """Restore damaged arrays of ``store`` from a freshly made layout of the same sweep.

    For each name, files missing from the store, or whose bytes differ from the fresh
    layout's metadata or (for arrays that are not per run) chunks, are copied over.
    Chunks of runs are left alone: the runs that lack them are run again.

    Args:
        store: The damaged store (held under the lock).
        fresh: A layout made by :func:`~countysim.sweeps.store.create_store` for the same
            experiment.
        names: The arrays to restore.
    """
    store, fresh = Path(store), Path(fresh)
    layout = json.loads(_group_attrs(store)["sweep_layout"])
    per_run = {*layout["run"], *layout["per_sample"], "status", "error", ORIGIN}
    for name in names:
        source = fresh / name
        if not source.is_dir():
            continue
        for file in source.rglob("*"):
            if not file.is_file():
                continue
            rel = file.relative_to(fresh)
            if name in per_run and rel.name != "zarr.json":
                continue
            target = store / rel
            if not target.is_file() or target.read_bytes() != file.read_bytes():
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.restore")
                shutil.copyfile(file, tmp)
                os.replace(tmp, target)
