"""One run as an xarray Dataset (step 8): dims, coordinates, metadata, provenance, NetCDF."""

from __future__ import annotations

import hashlib

import countysim
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import assert_dataset_metadata, create_test_model
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
        assert var.attrs["units"] == meta.units
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
