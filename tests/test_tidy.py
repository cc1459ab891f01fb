"""countysim.to_tidy: a run's (or sweep's) Dataset as one long DataFrame."""

from __future__ import annotations

import countysim
import numpy as np
import pandas as pd
import pytest
import xarray as xr


@pytest.fixture(scope="module")
def tidy(small_dataset: xr.Dataset) -> pd.DataFrame:
    return countysim.to_tidy(small_dataset)


def test_one_row_per_variable_and_coordinate(small_dataset, tidy):
    counts = tidy.groupby("variable", sort=False).size()
    assert list(counts.index) == list(small_dataset.data_vars)
    for name, da in small_dataset.data_vars.items():
        assert counts[name] == da.size, name
        got = tidy.loc[tidy.variable == name, "value"].to_numpy()
        np.testing.assert_array_equal(got, da.values.astype(float).ravel(), err_msg=name)


def test_columns_and_missing_dims(small_dataset, tidy):
    assert list(tidy.columns) == ["variable", "unit", "time", "village", "township", "pilot",
                                  "labour_state", "value"]
    assert tidy["value"].dtype == float
    district_wide = [n for n, da in small_dataset.data_vars.items() if da.dims == ("time",)]
    rows = tidy[tidy.variable.isin(district_wide)]
    assert rows[["village", "township", "pilot", "labour_state"]].isna().all().all()
    assert not rows["time"].isna().any()


def test_village_rows_carry_their_township_and_pilot_flag(small_dataset, tidy):
    name = next(n for n, da in small_dataset.data_vars.items() if "village" in da.dims)
    rows = tidy[tidy.variable == name]
    expected = small_dataset["township"].to_series()
    assert (rows["township"].to_numpy() == expected[rows["village"]].to_numpy()).all()
    pilot = small_dataset["pilot"].to_series()
    assert (rows["pilot"].to_numpy() == pilot[rows["village"]].to_numpy()).all()
    assert str(rows["pilot"].dtype) == "Int64"


def test_a_cell_reads_as_in_the_dataset(small_dataset, tidy):
    da = small_dataset["village_workers"]  # the one variable with all three dims
    t, v, s = (da[d].values[-1] for d in da.dims)
    row = tidy[(tidy.variable == da.name) & (tidy.time == t) & (tidy.village == v)
               & (tidy.labour_state == s)]
    assert len(row) == 1
    assert row["value"].iloc[0] == float(da.sel({da.dims[0]: t, da.dims[1]: v,
                                                 da.dims[2]: s}))


def test_units_come_from_the_attributes(small_dataset, tidy):
    for name, unit in tidy.groupby("variable").unit.first().items():
        attrs = small_dataset[name].attrs
        assert unit == attrs.get("unit_of_measure", attrs["units"]), name


def test_selection_and_unknown_names(small_dataset):
    one = countysim.to_tidy(small_dataset, "urban_unemployment_rate")
    assert list(one.columns) == ["variable", "unit", "time", "value"]
    assert len(one) == small_dataset.sizes["time"]
    two = countysim.to_tidy(small_dataset, ["collective_income", "urban_unemployment_rate"])
    assert list(two.variable.unique()) == ["collective_income", "urban_unemployment_rate"]
    with pytest.raises(KeyError, match="not_a_variable"):
        countysim.to_tidy(small_dataset, ["urban_unemployment_rate", "not_a_variable"])


def test_a_sweeps_dims_come_first(small_dataset):
    # A sweep's results stack runs along sample and replicate (countysim.open_results).
    runs = small_dataset[["urban_unemployment_rate", "collective_income"]]
    sweep = xr.concat([runs, runs + 1], dim="replicate").expand_dims(sample=[0])
    df = countysim.to_tidy(sweep)
    assert list(df.columns[:5]) == ["variable", "unit", "sample", "replicate", "time"]
    assert len(df) == sum(da.size for da in sweep.data_vars.values())
    first = df[df.replicate == 0].set_index(["variable", "time", "village"]).value
    second = df[df.replicate == 1].set_index(["variable", "time", "village"]).value
    np.testing.assert_allclose(second.to_numpy(), first.to_numpy() + 1)
