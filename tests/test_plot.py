"""countysim.plot: each helper draws on small runs, returns its Axes, labels units.

The Agg backend is chosen here, for the tests only: the package never picks a backend.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import SMALL_DISTRICT, create_test_scenario, write_toml
from countysim import open_results, plot, run, sweep
from matplotlib.collections import PatchCollection, PolyCollection


@pytest.fixture(scope="module")
def runs() -> list[xr.Dataset]:
    """Three seeds of the small district over 2025."""
    scenario = create_test_scenario()
    return [run(scenario, seed=s, until="2025-12") for s in range(3)]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def data_lines(ax) -> list:
    """Lines drawn from data (not the article marker)."""
    return [line for line in ax.get_lines() if not str(line.get_gid()).startswith("article")]


def article_markers(ax) -> list:
    return [line for line in ax.get_lines() if str(line.get_gid()).startswith("article:")]


def test_indicator_paths_fan_has_median_band_and_article_a4(runs):
    ax = plot.indicator_paths(runs, "urban_new_jobs_ytd")
    assert isinstance(ax, matplotlib.axes.Axes)
    lines = data_lines(ax)
    assert len(lines) == 1  # the median
    median = np.median(np.stack([ds["urban_new_jobs_ytd"].values for ds in runs]), axis=0)
    np.testing.assert_allclose(lines[0].get_ydata(), median)
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 1  # the band
    (marker,) = article_markers(ax)
    assert marker.get_gid() == "article:A4"
    assert marker.get_label() == "article A4: 3,906 at 2025-10"
    x, y = marker.get_xdata()[0], marker.get_ydata()[0]
    assert pd.Timestamp(mdates.num2date(mdates.date2num(x))).strftime("%Y-%m") == "2025-10"
    assert y == 3906
    assert "persons" in ax.get_ylabel() and ax.get_xlabel() == "month"


def test_indicator_paths_lines_one_per_run_and_scaled_article_value(runs):
    ax = plot.indicator_paths(runs, "collective_income_growth_pilot", style="lines")
    assert len(data_lines(ax)) == len(runs)
    (marker,) = article_markers(ax)
    assert marker.get_gid() == "article:A14"
    assert marker.get_ydata()[0] == pytest.approx(0.10)  # "10%" in the variable's units
    assert "(1)" in ax.get_ylabel()


def test_indicator_paths_several_names_on_a_given_axes(runs):
    _, ax = plt.subplots()
    names = ["cadres_promoted_ytd", "cadres_advanced_ytd", "cadres_removed_ytd"]
    assert plot.indicator_paths(runs[0], names, ax=ax) is ax
    assert len(data_lines(ax)) == 3  # one run: a line per name, no band
    assert {m.get_gid() for m in article_markers(ax)} == {"article:A7", "article:A8",
                                                            "article:A9"}
    assert "cadres" in ax.get_ylabel()


def test_indicator_paths_without_an_article_figure_and_bad_inputs(runs):
    ax = plot.indicator_paths(runs[0], "rural_income_per_capita")
    assert not article_markers(ax)
    assert "yuan/yr" in ax.get_ylabel()
    with pytest.raises(ValueError, match="different units"):
        plot.indicator_paths(runs, ["urban_placements_ytd", "cadre_effort"])
    with pytest.raises(ValueError, match="select or reduce"):
        plot.indicator_paths(runs, "collective_income")
    with pytest.raises(ValueError, match="style"):
        plot.indicator_paths(runs, "urban_placements_ytd", style="dots")


def test_indicator_paths_take_a_sweep_like_dataset(runs):
    stacked = xr.concat(runs, dim="replicate").expand_dims(sample=[0])
    ax = plot.indicator_paths(stacked, "urban_placements_ytd", style="lines")
    assert len(data_lines(ax)) == len(runs)


def test_compare_labels_both_scenarios(runs):
    other = [run(create_test_scenario(pilot_villages=0), seed=s, until="2025-12")
             for s in range(2)]
    ax = plot.compare(runs, other, "cooperative_workers", labels=("baseline", "no pilots"))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("baseline") for t in labels)
    assert any(t.startswith("no pilots") for t in labels)
    assert len(data_lines(ax)) == 2  # two medians
    assert "persons" in ax.get_ylabel()
    np.testing.assert_array_equal(data_lines(ax)[1].get_ydata(), 0)  # no pilots, no jobs


def test_village_map_one_cell_per_village_coloured_by_the_value(runs):
    ds = runs[0]
    ax = plot.village_map(ds, "village_income_per_capita", time="2025-06")
    (cells,) = [c for c in ax.collections if isinstance(c, PatchCollection)]
    assert len(cells.get_paths()) == SMALL_DISTRICT["villages"]
    np.testing.assert_allclose(cells.get_array(),
                               ds["village_income_per_capita"].sel(time="2025-06-01").values)
    townships = sorted(set(ds["township"].values.astype(str)))
    assert sorted(t.get_text() for t in ax.texts) == townships
    assert sum(1 for p in ax.patches if str(p.get_gid()).startswith("township:")) == len(
        townships)
    assert "yuan/yr" in cells.colorbar.ax.get_ylabel()
    widths = np.asarray(cells.get_linewidths())
    assert (widths == 2.0).sum() == int(ds["pilot"].sum())  # pilots are outlined


def test_village_map_takes_a_selected_dataarray_and_checks_time(runs):
    ds = runs[0]
    farming = ds["village_workers"].sel(labour_state="farming")
    ax = plot.village_map(ds, farming)
    (cells,) = [c for c in ax.collections if isinstance(c, PatchCollection)]
    np.testing.assert_allclose(cells.get_array(), farming.isel(time=-1).values)
    assert cells.colorbar.ax.get_ylabel() == "village_workers, labour_state=farming (persons)"
    with pytest.raises(KeyError, match="not a month"):
        plot.village_map(ds, "productivity", time="2031-01")
    with pytest.raises(ValueError, match="select"):
        plot.village_map(ds, "village_workers")


def sweep_like(values: np.ndarray) -> xr.Dataset:
    """A 2 x 3 grid (a x b), 2 replicates, 2 months: the shape of open_results."""
    a = np.repeat([0, 8], 3)
    b = np.tile([0.0, 0.04, 0.08], 2)
    time = pd.date_range("2025-01-01", periods=2, freq="MS")
    return xr.Dataset(
        {"cooperative_workers": (("sample", "replicate", "time"), values,
                                 {"units": "persons"})},
        coords={"sample": np.arange(6), "replicate": [0, 1], "time": time,
                "pilot_villages": ("sample", a), "activation_rate": ("sample", b)})


def test_response_surface_heatmap_is_the_replicate_mean_on_the_grid():
    values = np.arange(6 * 2 * 2, dtype=float).reshape(6, 2, 2)
    values[5, 1, 1] = np.nan  # a failed replicate is left out of the mean
    ax = plot.response_surface(sweep_like(values), "activation_rate", "pilot_villages",
                               "cooperative_workers")
    (mesh,) = ax.collections
    grid = np.asarray(mesh.get_array()).reshape(2, 3)  # rows: pilot_villages
    expected = np.nanmean(values[:, :, -1], axis=1).reshape(2, 3)
    np.testing.assert_allclose(grid, expected)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "0.04", "0.08"]
    assert ax.get_xlabel() == "activation_rate (1/month)"
    assert ax.get_ylabel() == "pilot_villages (villages)"
    assert "persons" in mesh.colorbar.ax.get_ylabel()
    assert len(ax.texts) == 6


def test_response_surface_contour_and_bad_inputs():
    ds = sweep_like(np.random.default_rng(0).random((6, 2, 2)))
    ax = plot.response_surface(ds, "activation_rate", "pilot_villages",
                               "cooperative_workers", kind="contour", time="2025-01")
    assert ax.collections and "2025-01" in ax.get_title()
    with pytest.raises(ValueError, match="varied parameter"):
        plot.response_surface(ds, "seed", "pilot_villages", "cooperative_workers")
    with pytest.raises(ValueError, match="kind"):
        plot.response_surface(ds, "activation_rate", "pilot_villages",
                              "cooperative_workers", kind="bars")


def test_response_surface_of_a_real_sweep(tmp_path):
    """A 2 x 2 grid of the small district, 2 replicates, 2 months, swept in-process."""
    base = write_toml(tmp_path / "small.toml", create_test_scenario().to_toml())
    experiment = write_toml(tmp_path / "grid.toml", (
        f'name = "grid"\nscenario = "{base.as_posix()}"\nuntil = "2025-02"\n'
        'replicates = 2\nseed = 3\n[design]\nkind = "grid"\n[design.parameters]\n'
        "pilot_villages = [4, 12]\nactivation_rate = [0.04, 0.16]\n"))
    sweep(experiment, tmp_path / "grid.zarr", workers=1, progress=False)
    results = open_results(tmp_path / "grid.zarr")
    ax = plot.response_surface(results, "activation_rate", "pilot_villages",
                               "village_income_per_capita")  # summed over villages
    (mesh,) = ax.collections
    expected = (results["village_income_per_capita"].isel(time=-1).sum("village")
                .mean("replicate").values.reshape(2, 2))  # grid: last parameter fastest
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(2, 2), expected)
    assert "mean of 2 replicates" in mesh.colorbar.ax.get_ylabel()
    ax = plot.indicator_paths(results, "cooperative_workers", style="lines")
    assert len(data_lines(ax)) == 4 * 2


def test_the_package_does_not_choose_a_backend():
    from pathlib import Path

    source = Path(plot.__file__).read_text(encoding="utf-8")
    assert "matplotlib.use(" not in source and "switch_backend" not in source
