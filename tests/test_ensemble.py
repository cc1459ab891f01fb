"""Parameter ensembles: the file format, its validation, and the packaged litong_2025."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import BASELINE
from countysim import EnsembleError, load_ensemble, load_scenario
from countysim.core.parameters import PARAMETERS
from countysim.sweeps.ensemble import (
    ATTRS,
    ensemble_from_points,
    ensemble_names,
    member_values,
    write_ensemble,
)
from countysim.sweeps.files import OutputError

# Two behavioural parameters and their prior ranges (from the registry's bounds, narrowed).
RANGES = {"separation_rate": (0.0, 0.003), "activation_rate": (0.02, 0.25)}


def small_ensemble(n: int = 4, seed: int = 5, **changes) -> xr.Dataset:
    """An ensemble of ``n`` members drawn uniformly in RANGES."""
    rng = np.random.default_rng(seed)
    points = {p: rng.uniform(lo, hi, n) for p, (lo, hi) in RANGES.items()}
    scenario = load_scenario(BASELINE)
    kwargs = dict(name="tiny", scenario=scenario.name, scenario_toml=scenario.to_toml(),
                  calibration="test", targets="none.toml", description="a test ensemble",
                  method="uniform draws", ranges=RANGES, git_commit="abc")
    kwargs.update(changes)
    seeds = rng.integers(0, 2**63 - 1, n, dtype=np.int64)
    return ensemble_from_points(points, seeds, **kwargs)


def test_round_trip(tmp_path):
    ds = small_ensemble()
    path = write_ensemble(ds, tmp_path / "tiny.nc")
    back = load_ensemble(path)
    xr.testing.assert_identical(back, ds)
    assert back["value"].dtype == np.float64 and back["district_seed"].dtype == np.int64
    assert set(ATTRS) <= set(back.attrs)
    # Relative paths resolve against relative_to (the experiment file's folder).
    assert load_ensemble("tiny.nc", relative_to=tmp_path).sizes["member"] == 4


def test_member_values_apply_to_a_scenario():
    ds = small_ensemble()
    values = member_values(ds, 2)
    assert values["district_seed"] == int(ds["district_seed"][2])
    scenario = load_scenario(BASELINE).replace(**values)
    assert scenario.separation_rate == pytest.approx(float(ds["value"][2, 0]))


def test_packaged_ensemble_loads_by_name():
    assert "litong_2025" in ensemble_names()
    ds = load_ensemble("litong_2025")
    assert 1 <= ds.sizes["member"] <= 300  # "a few hundred members at most" (issue 9)
    assert ds.attrs["scenario"] == "baseline_2025"
    assert all(PARAMETERS[str(p)].section != "levers" for p in ds["parameter"].values)
    # The stored scenario text stands alone: it loads and names the same scenario.
    from countysim import Scenario

    assert Scenario.from_toml(ds.attrs["scenario_toml"]).name == "baseline_2025"
    # Members are distinct districts and distinct points.
    assert len(np.unique(ds["district_seed"].values)) == ds.sizes["member"]
    assert len(np.unique(ds["value"].values, axis=0)) == ds.sizes["member"]


def test_unknown_name_lists_the_packaged_ones():
    with pytest.raises(EnsembleError) as info:
        load_ensemble("litong_2052")
    err = info.value
    assert err.key == "ensemble" and "litong_2025" in err.problem
    assert "did you mean 'litong_2025'" in err.problem
    assert "\n" not in str(err)


def test_missing_and_non_netcdf_files(tmp_path):
    with pytest.raises(EnsembleError, match="does not exist"):
        load_ensemble(tmp_path / "nope.nc")
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    with pytest.raises(EnsembleError, match="not a NetCDF file") as info:
        load_ensemble(bad)
    assert info.value.file == str(bad)


def _broken(change):
    ds = small_ensemble()
    return change(ds.copy(deep=True)) or ds


@pytest.mark.parametrize(("change", "key", "fragment"), [
    (lambda ds: ds.drop_vars("district_seed"), "district_seed", "missing"),
    (lambda ds: ds.assign(district_seed=ds["district_seed"].astype(np.float64)),
     "district_seed", "expected int64"),
    (lambda ds: ds.assign_coords(role=("parameter", ["calibrated", "fitted"])),
     "role[activation_rate]", "allowed: calibrated, carried"),
    (lambda ds: ds.assign_coords(unit=("parameter", ["1/yr", "1/month"])),
     "unit[separation_rate]", "registry's unit is '1/month'"),
    (lambda ds: ds.assign_coords(parameter=["separation_rate", "pilot_villages"]),
     "parameter[pilot_villages]", "is a lever"),
    (lambda ds: ds.assign_coords(parameter=["separation_rate", "activaton_rate"]),
     "parameter[activaton_rate]", "did you mean activation_rate"),
    (lambda ds: ds.assign_coords(parameter=["separation_rate", "villages"]),
     "parameter[villages]", "vary the district with district_seed"),
    (lambda ds: ds.assign_coords(parameter=["separation_rate", "population"]),
     "parameter[population]", "published figure"),
    (lambda ds: ds.assign_coords(high=("parameter", [0.003, 5.0])),
     "low[activation_rate]", "within the registry's"),
    (lambda ds: ds["value"].__setitem__((1, 0), 0.5), "value[member=1, parameter="
     "separation_rate]", "outside the ensemble's range"),
    (lambda ds: ds.attrs.pop("scenario_toml"), "attrs.scenario_toml", "missing"),
], ids=["no-seed", "float-seed", "role", "unit", "lever", "typo", "shape", "published", "range",
        "value", "attrs"])
def test_invalid_ensembles_are_refused_on_one_line(tmp_path, change, key, fragment):
    ds = small_ensemble()
    changed = change(ds)
    ds = changed if isinstance(changed, xr.Dataset) else ds
    path = tmp_path / "bad.nc"
    with pytest.raises(EnsembleError) as info:
        write_ensemble(ds, path)
    err = info.value
    assert (err.key, err.file) == (key, str(path))
    assert fragment in err.problem
    assert "\n" not in str(err)
    assert not path.exists()  # nothing written


def test_write_refuses_other_suffixes_and_folders(tmp_path):
    with pytest.raises(EnsembleError, match=r"ends in \.nc"):
        write_ensemble(small_ensemble(), tmp_path / "e.zarr")
    with pytest.raises(OutputError, match="is a folder"):
        write_ensemble(small_ensemble(), tmp_path)


def test_builder_checks_lengths():
    with pytest.raises(EnsembleError, match="equal lengths"):
        ensemble_from_points({"separation_rate": np.array([0.001, 0.002])},
                             np.array([1, 2, 3]), name="x", scenario="s", scenario_toml="",
                             calibration="c", targets="t", description="d", method="m",
                             ranges=RANGES)


# ------------------------------------------------------------------------------ the wheel


@pytest.mark.slow
def test_wheel_ships_the_ensemble_and_loads_it_when_installed(tmp_path):
    """The wheel holds litong_2025.nc, and load_ensemble finds it from the unpacked wheel.

    Installing a wheel is unpacking it into site-packages; the unpacked copy comes first
    on PYTHONPATH, ahead of this checkout's editable install (the test checks that the
    package imported is the copy), and the dependencies come from the venv.
    """
    import importlib.util
    import shutil
    import subprocess
    import sys
    import zipfile

    from conftest import REPO

    # Built from a copy, so the build's folders (build/, *.egg-info) stay out of the repo.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "model", source / "model",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path / "dist"
    # Offline-friendly: the venv's setuptools when it has one, else pip's isolated build.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q",
                    *isolation, "-w", str(out)], check=True, capture_output=True, timeout=600)
    (wheel,) = out.glob("countysim-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "countysim/data/ensembles/litong_2025.nc" in names
        site = tmp_path / "site"
        zf.extractall(site)
    code = ("import countysim, pathlib, sys; "
            f"assert pathlib.Path(countysim.__file__).is_relative_to({str(site)!r}), "
            "countysim.__file__; "
            "ds = countysim.load_ensemble('litong_2025'); "
            "print(ds.sizes['member'], ds.attrs['name'])")
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    n, name = done.stdout.split()
    assert name == "litong_2025" and int(n) == load_ensemble("litong_2025").sizes["member"]
