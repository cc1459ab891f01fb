"""Output files written atomically: a temporary file beside the target, then a rename.

Every file the package writes (a run's or an export's NetCDF, the calibration's report and
figures, district CSVs, a scenario updated by the calibration) goes through
:func:`write_atomically`: the bytes go to ``.<name>.tmp-<random>`` in the target's folder,
are flushed to disk, and the temporary file is renamed over the target. A failure at any
point (disk full, read-only file system, a file-size limit, a kill) leaves the previous
file as it was and no temporary file behind (a kill may leave one; it is never read).

NetCDF is serialised in memory first (:func:`write_netcdf`): HDF5 writing straight to a
file that cannot grow crashes the interpreter (a segmentation fault at exit) instead of
raising, whereas a failed ``write`` of bytes from Python raises a plain :class:`OSError`.

This module sits in :mod:`countysim.sweeps`, the lowest layer that writes output files, so
that the calibration and the command line share it.
"""

from __future__ import annotations

import errno
import os
import stat
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.digest import add_digest
from ..core.errors import InputError

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["USER_ERRNOS", "OutputError", "check_output_path", "describe_os_error",
           "inside_store", "not_a_regular_file", "real_path", "write_atomically",
           "write_netcdf"]

# Failures whose cause is on the user's side (space, permissions, limits, a bad path):
# reported on one line with exit status 2, like bad input.
USER_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES,
                         errno.EPERM, errno.ENOENT, errno.ENOTDIR, errno.EISDIR,
                         errno.ENAMETOOLONG, errno.ELOOP, errno.EEXIST, errno.EINVAL})


class OutputError(InputError):
    """An output file cannot be written where or as asked (one line, exit status 2)."""


def describe_os_error(exc: OSError) -> str:
    """``strerror`` of an :class:`OSError`, e.g. ``"No space left on device"``."""
    return exc.strerror or str(exc) or type(exc).__name__


def inside_store(path: str | Path) -> Path | None:
    """The Zarr store that ``path`` is in (or is), else ``None``.

    A folder holding ``zarr.json`` is a Zarr node; writing anything into it would corrupt
    the store.
    """
    path = Path(os.path.abspath(path))
    for folder in (path, *path.parents):
        if (folder / "zarr.json").is_file():
            return folder
    return None


def real_path(path: str | Path) -> Path:
    """``path`` absolute with every symlink resolved (a missing tail is kept as given).

    Locks, comparisons between paths and atomic replacement go by this path: a symlink
    and its target are then one path, and a rename replaces the target, not the link.
    """
    return Path(os.path.realpath(path))


_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def not_a_regular_file(path: str | Path) -> str | None:
    """What an existing ``path`` is if it is neither a regular file nor missing, else None."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return f"not readable ({describe_os_error(exc)})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def check_output_path(path: str | Path, key: str = "<output>") -> Path:
    """Refuse an output path that is not a regular file (or new), or lies in a Zarr store.

    An output replaces only what it owns: a regular file. A device (``/dev/full``,
    ``/dev/null``), a FIFO, a socket, a folder or a store is never replaced.

    Args:
        path: The file to write.
        key: What names the path in the error (e.g. ``"--out"``).

    Returns:
        The real path (symlinks resolved) to write, so that the link stays a link.

    Raises:
        OutputError: ``path`` is a folder, a device, a FIFO or socket, or inside a store.
    """
    path = Path(path)
    real = real_path(path)
    store = inside_store(real)
    if store is not None:
        raise OutputError(path, key, f"is inside the Zarr store {store}; writing there "
                          "would corrupt it: choose a file outside the store")
    what = not_a_regular_file(real)
    if what == "a folder":
        raise OutputError(path, key, "is a folder; give the path of a file")
    if what is not None:
        raise OutputError(path, key, f"exists and is {what}; an output replaces only a "
                          "regular file: give the path of a new or regular file")
    return real


def write_atomically(path: str | Path, data: bytes | memoryview) -> Path:
    """Write ``data`` to ``path`` through a temporary file renamed into place.

    Args:
        path: The target file (its folder is created if missing).
        data: The complete contents.

    Returns:
        ``path``.

    Raises:
        OutputError: The file could not be written; the previous file, if any, is intact.
    """
    path = real_path(path)
    what = not_a_regular_file(path)
    if what is not None:  # a rename would replace the device, FIFO or folder itself
        raise OutputError(path, "<output>", f"exists and is {what}; an output replaces only "
                          "a regular file; nothing was written")
    existed = path.exists()
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        kept = "the previous file is unchanged" if existed else "nothing was written"
        raise OutputError(path, "<output>", f"cannot write: {describe_os_error(exc)}; "
                          f"{kept}") from None
    except BaseException:  # a KeyboardInterrupt mid-write: no temporary file left
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_netcdf(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a Dataset as NetCDF-4 (engine ``h5netcdf``) atomically.

    The file is serialised in memory, then written by :func:`write_atomically`, so a full
    disk or a file-size limit gives an :class:`OutputError` rather than a crash. It
    carries its content digest (:mod:`countysim.core.digest`), which every reader of the
    package checks.
    """
    data = add_digest(ds, lambda d: d.to_netcdf(engine="h5netcdf"))
    return write_atomically(path, data)
