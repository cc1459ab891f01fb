"""One run as an xarray Dataset (step 8): dims, coordinates, metadata, provenance, NetCDF."""

from __future__ import annotations

import hashlib

import countysim
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import assert_dataset_metadata, create_test_model, create_test_scenario, write_toml
from countysim.core.observe import MODEL_REPORTERS, VARIABLES
from countysim.core.scenario import Scenario
from countysim.core.tables import LABOUR_STATES
from countysim.core.villages import COOPERATIVE_KINDS

REQUIRED_FIGURES = ("A4", "A5", "A6", "A7", "A8", "A9", "A14", "A29")


def test_dataset_contract(small_dataset):
    assert_dataset_metadata(small_dataset)


def test_dims_and_coordinates(small_run):
    model, ds = small_run
    assert ds.sizes["time"] == 14
    assert ds.sizes["village"] == model.p.villages
    assert ds.sizes["labour_state"] == len(LABOUR_STATES)
    assert list(ds["labour_state"].values) == list(LABOUR_STATES)
    villages = model.district.villages
    assert list(ds["village"].values) == villages["village"].tolist()
    assert list(ds["township"].values) == villages["township"].tolist()
    assert ds["pilot"].values.astype(bool).tolist() == villages["pilot"].tolist()
    # The township coordinate groups villages, as an analyst would use it.
    assert set(ds.groupby("township").groups) == set(villages["township"])


def test_time_is_consecutive_month_starts(small_dataset):
    times = pd.DatetimeIndex(small_dataset["time"].values)
    assert (times.day == 1).all()
    expected = pd.date_range("2025-01-01", periods=times.size, freq="MS")
    assert (times == expected).all()


def test_variables_have_the_declared_dims_units_and_names(small_dataset):
    assert set(small_dataset.data_vars) == set(VARIABLES)
    for name, meta in VARIABLES.items():
        var = small_dataset[name]
        assert var.dims == meta.dims, name
        # CF units are UDUNITS-parsable: "1", with the counted thing or currency beside.
        assert var.attrs["units"] == "1", name
        assert var.attrs.get("unit_of_measure", "1") == meta.units, name
        assert var.attrs["long_name"] == meta.long_name
        assert meta.units and meta.long_name


@pytest.mark.parametrize("figure", REQUIRED_FIGURES)
def test_article_figures_are_tagged(small_dataset, figure):
    tagged = [name for name, var in small_dataset.data_vars.items()
              if var.attrs.get("figure") == figure]
    assert tagged, f"no variable carries figure={figure!r}"


def test_figure_ids_are_well_formed(small_dataset):
    for name, var in small_dataset.variables.items():
        if "figure" in var.attrs:
            assert var.attrs["figure"][0] in "ABR" and var.attrs["figure"][1:].isdigit(), name


def test_cooperative_flags_are_documented(small_dataset):
    attrs = small_dataset["cooperative"].attrs
    assert list(attrs["flag_values"]) == list(range(len(COOPERATIVE_KINDS)))
    assert attrs["flag_meanings"].split() == list(COOPERATIVE_KINDS)
    assert set(np.unique(small_dataset["cooperative"].values)) <= set(attrs["flag_values"])


def test_provenance_attributes(small_run):
    model, ds = small_run
    assert ds.attrs["countysim_version"] == countysim.__version__
    assert Scenario.from_toml(ds.attrs["scenario_toml"]) == model.p
    assert ds.attrs["scenario_hash"] == model.p.digest
    assert ds.attrs["scenario_hash"] == hashlib.sha256(
        ds.attrs["scenario_toml"].encode()).hexdigest()
    assert ds.attrs["seed_entropy"] == str(model.seed.entropy) == "11"
    assert ds.attrs["start"] == model.p.start


def test_netcdf_round_trip(small_dataset, tmp_path):
    path = tmp_path / "run.nc"
    small_dataset.to_netcdf(path, engine="h5netcdf")
    with xr.open_dataset(path, engine="h5netcdf") as back:
        back = back.load()
    xr.testing.assert_identical(back, small_dataset)


def test_dataset_before_any_step_is_empty_but_well_formed():
    model = create_test_model()
    ds = model.dataset()
    assert ds.sizes["time"] == 0 and ds.sizes["village"] == model.p.villages
    for name, meta in VARIABLES.items():
        assert ds[name].dims == meta.dims
    assert_dataset_metadata(ds)


def test_dataset_grows_with_the_run():
    model = create_test_model()
    model.step()
    first = model.dataset()
    model.step()
    second = model.dataset()
    assert (first.sizes["time"], second.sizes["time"]) == (1, 2)
    xr.testing.assert_identical(first, second.isel(time=[0]))


def test_model_reporters_mirror_the_district_series():
    model = create_test_model()
    for _ in range(3):
        model.step()
    ds = model.dataset()
    frame = model.datacollector.get_model_vars_dataframe()
    assert len(frame) == 3
    for name in MODEL_REPORTERS:
        assert VARIABLES[name].dims == ("time",)
        np.testing.assert_array_equal(frame[name].to_numpy(dtype=float),
                                      ds[name].values.astype(float))


def test_time_stamps_are_documented_month_starts(small_dataset):
    attrs = small_dataset["time"].attrs
    assert (attrs["standard_name"], attrs["axis"]) == ("time", "T")
    assert "first day" in attrs["long_name"] and "end-of-month" in attrs["comment"]
    assert small_dataset.attrs["history"].startswith("countysim ")


def test_run_file_round_trips_through_open_run(small_dataset, tmp_path):
    import countysim
    from countysim.core.observe import to_netcdf_layout
    from countysim.sweeps.files import write_netcdf

    path = write_netcdf(to_netcdf_layout(small_dataset), tmp_path / "run.nc")
    with xr.open_dataset(path, engine="h5netcdf") as raw:
        # No string coordinate variables in the file; the labels are auxiliary coordinates.
        assert "village" not in raw.coords and "village_name" in raw.coords
        assert "labour_state" not in raw.coords and "labour_state_name" in raw.coords
    back = countysim.open_run(path)
    # The file carries a digest of its content (checked when read), the run does not.
    assert back.attrs.pop("content_digest").startswith("sha256:")
    xr.testing.assert_identical(back, small_dataset)
    first = str(small_dataset["village"].values[0])
    assert back["village_workers"].sel(village=first).shape[0] == small_dataset.sizes["time"]


def cf_errors(path) -> tuple[list[str], list[str], dict]:
    """The IOOS compliance checker's CF-1.10 errors and warnings (messages), and the
    exceptions its checks raised."""
    import warnings

    with warnings.catch_warnings():  # its deprecated IOOS SOS checkers warn on import
        warnings.simplefilter("ignore", DeprecationWarning)
        from compliance_checker.base import BaseCheck
        from compliance_checker.runner import CheckSuite

        suite = CheckSuite()
        suite.load_all_available_checkers()
    results, exceptions = suite.run_all(suite.load_dataset(str(path)), ["cf:1.10"],
                                        skip_checks=[])["cf:1.10"]
    failed = [r for r in results if r.value[0] < r.value[1] if isinstance(r.value, tuple)]
    failed += [r for r in results if r.value is False]
    errors = [m for r in failed if r.weight == BaseCheck.HIGH for m in r.msgs]
    warnings = [m for r in failed if r.weight == BaseCheck.MEDIUM for m in r.msgs]
    return errors, warnings, exceptions


def test_run_netcdf_passes_the_cf_compliance_checker(tmp_path):
    pytest.importorskip("compliance_checker", reason="compliance-checker not installed "
                        "(pip install -e '.[dev]')")
    from countysim.cli import main

    path = tmp_path / "run.nc"
    scenario = write_toml(tmp_path / "small.toml", create_test_scenario(until="2025-03")
                          .to_toml())
    assert main(["run", str(scenario), "--out", str(path)]) == 0
    errors, warnings, exceptions = cf_errors(path)
    assert errors == [] and exceptions == {}, (errors, exceptions)
    # Left: CF's recommended dim order (T, Z, Y, X last) for (time, village) variables.
    assert all("recommended order" in w for w in warnings), warnings
