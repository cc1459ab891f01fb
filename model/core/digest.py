"""Content digests of the NetCDF files the package writes, checked when they are read.

HDF5 has no checksum of its own for unfiltered data: a flipped byte in a run file or an
ensemble loads silently with a changed value. Every NetCDF file the package writes
therefore carries ``content_digest``, the SHA-256 of what a reader sees *before* any
decoding, read with h5py: every HDF5 dataset's name, shape, dtype, attributes and raw
values, and the file's other attributes. A reader recomputes it from the file's bytes
and refuses a file whose digest differs, in one line naming the file; a file that cannot
be parsed at all is refused the same way instead of with an h5py traceback.

The digest is of the raw (encoded) values, not of the decoded Dataset, so it does not
depend on how xarray decodes times, masks fill values or turns strings into objects.

This module is in the core because :func:`countysim.open_run` (core) reads run files;
the writers live in :mod:`countysim.sweeps.files`.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputError

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["DIGEST_ATTR", "HDF5_SIGNATURE", "DigestError", "add_digest", "netcdf_digest",
           "verified_bytes"]

DIGEST_ATTR = "content_digest"
# The first bytes of an HDF5 (NetCDF-4) file written from the start of the file.
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_PREFIX = "sha256:"


class DigestError(InputError):
    """A NetCDF file's contents do not match its digest, or it cannot be parsed.

    An :class:`InputError` (one line, exit status 2) whose key is ``<file>`` or
    ``content_digest``.
    """


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    array = np.asarray(value)
    if array.dtype.kind in "fc":
        return [repr(v) for v in array.ravel().tolist()]  # repr keeps NaN and -0.0 apart
    if array.dtype.kind in "OSU":
        return [_json_value(v) if isinstance(v, bytes) else str(v) for v in array.ravel()]
    return array.ravel().tolist()


def _attrs(attrs: Any) -> bytes:
    import h5py

    out = {}
    for key in sorted(attrs):
        if key == DIGEST_ATTR:
            continue
        # Object references (DIMENSION_LIST, REFERENCE_LIST) hold addresses in the file,
        # which move when an attribute grows the header; what they link is in the dims.
        if h5py.check_dtype(ref=attrs.get_id(key).dtype) is not None or \
                attrs.get_id(key).dtype.names is not None:
            continue
        out[key] = _json_value(attrs[key])
    return json.dumps(out, sort_keys=True, default=str).encode()


def _digest_of(file: Any) -> str:
    """The digest of an open :class:`h5py.File`: attributes and raw values, by name."""
    import h5py

    sha = hashlib.sha256(b"countysim netcdf digest 1\0")
    sha.update(_attrs(file.attrs))
    names: list[str] = []
    file.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset)
                    else None)
    for name in sorted(names):
        var = file[name]
        values = np.asarray(var[()])
        head = {"name": name, "shape": list(values.shape), "dtype": values.dtype.str}
        sha.update(b"\0" + json.dumps(head, sort_keys=True).encode() + b"\0")
        sha.update(_attrs(var.attrs) + b"\0")
        if values.dtype.kind in "OUS":
            for item in values.ravel().tolist():
                text = item if isinstance(item, bytes) else str(item).encode("utf-8")
                sha.update(len(text).to_bytes(8, "little") + text)
        else:
            sha.update(np.ascontiguousarray(values).tobytes())
    return _PREFIX + sha.hexdigest()


def _read(data: bytes) -> tuple[str, str | None]:
    """The digest of a NetCDF file's bytes, and the digest it stores (or ``None``)."""
    import h5py

    with h5py.File(io.BytesIO(data), "r") as file:
        stored = file.attrs.get(DIGEST_ATTR)
        if isinstance(stored, bytes):
            stored = stored.decode()
        return _digest_of(file), None if stored is None else str(stored)


def netcdf_digest(data: bytes) -> str:
    """The content digest of a NetCDF file's bytes (its ``content_digest`` left out)."""
    return _read(data)[0]


def add_digest(ds: xr.Dataset, serialise: Callable[[xr.Dataset], bytes]) -> bytes:
    """``ds`` serialised with its content digest in ``attrs["content_digest"]``.

    The Dataset is serialised once to learn the digest of what a reader will see, then
    again with the digest added; adding an attribute changes no value.
    """
    plain = ds.copy()
    plain.attrs = {k: v for k, v in ds.attrs.items() if k != DIGEST_ATTR}
    first = bytes(serialise(plain))
    plain.attrs[DIGEST_ATTR] = netcdf_digest(first)
    return bytes(serialise(plain))


def verified_bytes(data: bytes, label: str, *, required: bool = False) -> bytes:
    """Check a NetCDF file's bytes against their content digest.

    Args:
        data: The file's bytes.
        label: The file, as named in errors.
        required: Refuse a file without a digest (the shipped ensembles carry one);
            otherwise a file written before digests were added is accepted unchecked.

    Returns:
        ``data``.

    Raises:
        DigestError: The file cannot be parsed, has no digest (when ``required``), or its
            contents differ from its digest (one line naming the file).
    """
    try:
        actual, stored = _read(data)
    except Exception as exc:  # h5py OSError/KeyError/ValueError: not readable as HDF5
        problem = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise DigestError(label, "<file>", f"damaged or not a NetCDF file "
                          f"({type(exc).__name__}: {problem}); nothing was read: write the "
                          "file again") from None
    if stored is None:
        if required:
            raise DigestError(label, DIGEST_ATTR, "missing: the file cannot be checked for "
                              "damage: write it again with this countysim")
        return data
    if stored != actual:
        raise DigestError(label, DIGEST_ATTR, f"damaged: the contents differ from the "
                          f"digest ({stored[:19]}..., the file gives {actual[:19]}...); "
                          "nothing was read: write the file again or restore a copy")
    return data
