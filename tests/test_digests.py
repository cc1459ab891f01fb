"""Every NetCDF file the package writes carries a content digest; every reader checks it.

Issue 18, case 9: corrupted copies of the shipped ensemble and of run files loaded with
changed values or raised raw h5py errors. Now a changed byte in any variable's data, a
truncated file or garbage is refused on one line naming the file (exit 2 on the command
line), and the shipped ensemble is checked on every load.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr
from countysim import load_ensemble, open_run
from countysim.calibration.calibrate import CalibrationError, open_calibration
from countysim.cli import EXIT_USAGE, main
from countysim.core.digest import DIGEST_ATTR, DigestError, netcdf_digest, verified_bytes
from countysim.forecasting.forecast import ForecastError, open_forecast
from countysim.sweeps.ensemble import EnsembleError, ensemble_path
from countysim.sweeps.files import write_netcdf

SHIPPED = Path(str(ensemble_path("litong_2025")))


def flip_data_byte(path: Path, variable: str, index: int = 0) -> None:
    """Change one byte inside a contiguous variable's stored values (not its metadata)."""
    with h5py.File(path, "r") as f:
        dataset = f[variable]
        offset, itemsize = dataset.id.get_offset(), dataset.dtype.itemsize
    assert offset is not None, f"{variable} is not contiguous"
    data = bytearray(path.read_bytes())
    data[offset + index * itemsize + itemsize - 2] ^= 0x10
    path.write_bytes(bytes(data))


@pytest.fixture
def small_file(tmp_path) -> Path:
    ds = xr.Dataset({"value": ("x", np.linspace(0.1, 0.9, 5)),
                     "label": ("x", np.array(list("abcde"), dtype=object))},
                    coords={"x": np.arange(5)}, attrs={"title": "test"})
    return write_netcdf(ds, tmp_path / "f.nc")


def test_written_files_carry_a_digest_of_their_contents(small_file):
    data = small_file.read_bytes()
    with xr.open_dataset(small_file, engine="h5netcdf") as ds:
        assert ds.attrs[DIGEST_ATTR] == netcdf_digest(data)
    assert verified_bytes(data, "f.nc") is data


def test_the_digest_does_not_depend_on_when_the_file_was_written(tmp_path):
    ds = xr.Dataset({"v": ("t", np.arange(3.0))})
    a, b = write_netcdf(ds, tmp_path / "a.nc"), write_netcdf(ds, tmp_path / "b.nc")
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("damage", ["value", "label", "attribute", "truncated", "garbage"])
def test_a_damaged_file_is_refused_in_one_line(small_file, damage):
    if damage == "value":
        flip_data_byte(small_file, "value", 2)
    elif damage == "label":
        data = small_file.read_bytes()
        small_file.write_bytes(data.replace(b"abcde"[2:3] + b"\x00", b"z\x00", 1)
                               if b"c\x00" in data else data.replace(b"c", b"z", 1))
    elif damage == "attribute":
        with h5py.File(small_file, "r+") as f:
            f.attrs["title"] = "tampered"
    elif damage == "truncated":
        small_file.write_bytes(small_file.read_bytes()[:1500])
    else:
        small_file.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 600)
    with pytest.raises(DigestError) as info:
        verified_bytes(small_file.read_bytes(), str(small_file))
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{small_file}: ")
    assert ("differ from the digest" if damage in ("value", "label", "attribute")
            else "damaged or not a NetCDF file") in message


def test_open_run_refuses_a_damaged_run_file(tmp_path, small_dataset, capsys):
    from countysim.core.observe import to_netcdf_layout

    path = write_netcdf(to_netcdf_layout(small_dataset), tmp_path / "run.nc")
    xr.testing.assert_equal(open_run(path)["workers"], small_dataset["workers"])
    flip_data_byte(path, "urban_placements", 3)
    with pytest.raises(DigestError, match=r"run\.nc: content_digest: damaged"):
        open_run(path)
    path.write_bytes(path.read_bytes()[:4000])
    with pytest.raises(DigestError, match="damaged or not a NetCDF file"):
        open_run(path)


def test_the_shipped_ensemble_carries_its_digest_and_is_checked(tmp_path):
    data = SHIPPED.read_bytes()
    with xr.open_dataset(io.BytesIO(data), engine="h5netcdf") as ds:
        assert ds.attrs[DIGEST_ATTR] == netcdf_digest(data)
    load_ensemble("litong_2025")
    copy = tmp_path / "copy.nc"
    shutil.copyfile(SHIPPED, copy)
    with h5py.File(copy, "r") as f:
        name = next(n for n in f if isinstance(f[n], h5py.Dataset) and f[n].dtype.kind == "f"
                    and f[n].id.get_offset() is not None and f[n].size > 4)
    flip_data_byte(copy, name, 1)
    with pytest.raises(EnsembleError, match=r"copy\.nc: content_digest: damaged"):
        load_ensemble(copy)


def test_the_shipped_ensemble_must_have_a_digest(tmp_path, monkeypatch):
    from countysim.sweeps import ensemble as ens

    stripped = tmp_path / "litong_2025.nc"
    shutil.copyfile(SHIPPED, stripped)
    with h5py.File(stripped, "r+") as f:
        del f.attrs[DIGEST_ATTR]
    monkeypatch.setattr(ens, "_package_dir", lambda: tmp_path)
    with pytest.raises(EnsembleError, match="content_digest: missing"):
        load_ensemble("litong_2025")


def test_open_calibration_and_open_forecast_refuse_damaged_files(tmp_path, capsys):
    attrs = {a: "x" for a in ("experiment_toml", "targets_toml", "scenario_toml",
                              "diagnostics")}
    cal = write_netcdf(xr.Dataset({"implausibility": ("point", np.linspace(0, 3, 8))},
                                  attrs=attrs), tmp_path / "cal.nc")
    open_calibration(cal)
    flip_data_byte(cal, "implausibility", 4)
    with pytest.raises(CalibrationError, match=r"cal\.nc: content_digest: damaged"):
        open_calibration(cal)
    fc = write_netcdf(xr.Dataset({"probability": ("package", np.array([0.2, 0.7]))},
                                 coords={"package": ["a", "b"]}), tmp_path / "fc.nc")
    flip_data_byte(fc, "probability", 1)
    with pytest.raises(ForecastError, match=r"fc\.nc: content_digest: damaged"):
        open_forecast(fc)
    assert main(["report", str(fc), "--out", str(tmp_path / "rep")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "content_digest: damaged" in err
