"""The forecast report and its figures, on synthetic forecast Datasets with known answers.

``countysim.forecasting.synthetic.synthetic_forecast`` builds a Dataset with the layout
of ``countysim.forecast``'s from a known generative model, so the report can be checked
without running the model: every package and target is in the Markdown, every figure it
links is a PNG on disk, the numbers in its tables are the Dataset's, targets that are
always met or never met read 1 and 0, and bad input gives one line and exit status 2.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from countysim.cli import EXIT_USAGE, main
from countysim.forecasting import figures, report
from countysim.forecasting.report import ReportError, paired_difference, write_report
from countysim.forecasting.synthetic import (
    DEFAULT_TARGETS,
    QUANTILES,
    SyntheticTarget,
    synthetic_forecast,
)
from countysim.sweeps.files import OutputError

matplotlib.use("Agg")  # the tests only: the package never picks a backend

PNG = b"\x89PNG\r\n\x1a\n"
YEARS = (2025, 2026, 2027, 2028, 2029, 2030)
# Known answers: no run can miss the first (threshold far below every value) and none can
# reach the second (far above): probabilities exactly 1 and 0 in every package.
ALWAYS = SyntheticTarget("always_met", "always met", "urban_placements", -1e9, ">=",
                         "flow_per_year", "persons/yr", (2026, 2030), 3900.0, 10.0,
                         member_sd=50.0, seed_sd=100.0)
NEVER = SyntheticTarget("impossible", "never met", "urban_placements", 1e9, ">=",
                        "flow_per_year", "persons/yr", (2027,), 3900.0, 10.0,
                        member_sd=50.0, seed_sd=100.0)


@pytest.fixture(scope="module")
def forecast() -> xr.Dataset:
    return synthetic_forecast(targets=(*DEFAULT_TARGETS, ALWAYS, NEVER), members=10,
                              replicates=2, seed=3)


@pytest.fixture(scope="module")
def written(forecast, tmp_path_factory) -> Path:
    """One report on disk, shared by the read-only tests."""
    out = tmp_path_factory.mktemp("report") / "forecast_report"
    write_report(forecast, out, command="countysim report f.nc --out forecast_report")
    return out


# ------------------------------------------------------------------ the synthetic Dataset


def test_synthetic_forecast_has_the_spec_layout(forecast):
    ds = forecast
    for name, dims in report.REQUIRED.items():
        assert set(ds[name].dims) == set(dims), name
    assert ds["value"].dims == ("package", "run", "target", "year")
    assert ds["attained"].dims == ("package", "run", "target", "year")
    assert ds["parameter_value"].dims == ("run", "parameter")
    assert ds["township_probability"].dims == ("package", "target", "year", "township")
    assert tuple(ds["quantile"].values) == QUANTILES
    for coord in ("indicator", "threshold", "direction", "aggregation", "units", "label"):
        assert ds[coord].dims == ("target",), coord
    assert ds["member"].dims == ds["replicate"].dims == ("run",)
    assert set(np.unique(ds["attained"].values[np.isfinite(ds["attained"].values)])) <= {0, 1}


def test_probability_is_the_share_of_runs_and_inside_its_interval(forecast):
    ds = forecast
    share = ds["attained"].mean("run")  # NaN outside the target's years
    np.testing.assert_allclose(ds["probability"], share, equal_nan=True)
    finite = np.isfinite(ds["probability"])
    assert (ds["probability_low"] <= ds["probability"]).where(finite, True).all()
    assert (ds["probability"] <= ds["probability_high"]).where(finite, True).all()
    # Outside a target's years nothing is evaluated: no runs count.
    assert int(ds["n"].sel(target="impossible", year=2030).max()) == 0
    assert ds["n"].sel(target="impossible", year=2027).min() == ds.sizes["run"]


def test_known_answers_always_met_and_impossible(forecast):
    always = forecast.sel(target="always_met", year=2030)
    never = forecast.sel(target="impossible", year=2027)
    assert (always["probability"] == 1).all() and (always["probability_high"] == 1).all()
    assert (never["probability"] == 0).all() and (never["probability_low"] == 0).all()
    # The Jeffreys interval still leaves room for the unobserved outcome at n = 20.
    assert (always["probability_low"] < 1).all() and (never["probability_high"] > 0).all()


def test_packages_are_paired_on_member_and_seed(forecast):
    # Same run index, same member and seed noise: under packages with equal effects
    # (none here for always_met) the values are identical run by run.
    v = forecast["value"].sel(target="always_met")
    xr.testing.assert_equal(v.isel(package=0, drop=True), v.isel(package=1, drop=True))


def test_synthetic_forecast_is_reproducible_and_seeded():
    a, b = synthetic_forecast(seed=5), synthetic_forecast(seed=5)
    xr.testing.assert_identical(a, b)
    assert not synthetic_forecast(seed=6)["value"].equals(a["value"])


# ------------------------------------------------------------------ the report


def test_report_files_are_written(written):
    text = (written / "report.md").read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links, "the report shows no figure"
    for link in links:
        assert (written / link).read_bytes().startswith(PNG), link
    on_disk = {p.relative_to(written).as_posix() for p in (written / "figures").iterdir()}
    assert on_disk == set(links), "a figure is written but not shown, or the reverse"
    # Written atomically: no temporary or old folder is left beside the report.
    assert [p.name for p in written.parent.iterdir()] == [written.name]


def test_report_names_every_package_and_target(forecast, written):
    text = (written / "report.md").read_text(encoding="utf-8")
    for package in forecast["package"].values:
        assert f"`{package}`" in text
    for target in forecast["target"].values:
        assert f"`{target}`" in text
        assert f"figures/fan_{target}.png" in text
    assert "## What was run" in text and "## Probability of attainment" in text
    assert "synthetic" in text.splitlines()[2].lower()  # the banner under the title
    assert "**Illustrative targets.**" in text  # targets_illustrative = 1
    assert "countysim report f.nc --out forecast_report" in text
    assert f"{forecast.sizes['run']} (10 ensemble members x 2 replicates)" in text


def test_attainment_table_holds_the_datasets_numbers(forecast, written):
    text = (written / "report.md").read_text(encoding="utf-8")
    table = text.split("## Probability of attainment")[1].split("![")[0]
    rows = {line.split("|")[1].strip(" `"): [c.strip() for c in line.split("|")[2:-1]]
            for line in table.splitlines() if line.startswith("| `")}
    targets = [str(t) for t in forecast["target"].values]
    assert set(rows) == {str(p) for p in forecast["package"].values}
    for package, cells in rows.items():
        for target, cell in zip(targets, cells, strict=True):
            year = figures.target_year(forecast, target)
            x = forecast.sel(package=package, target=target, year=year)
            assert cell == (f"{float(x.probability):.2f} [{float(x.probability_low):.2f}, "
                            f"{float(x.probability_high):.2f}]"), (package, target)
        assert cells[targets.index("always_met")].startswith("1.00 [")
        assert cells[targets.index("impossible")].startswith("0.00 [0.00, ")


def test_per_village_targets_get_a_township_figure(forecast, written):
    text = (written / "report.md").read_text(encoding="utf-8")
    per_village = [str(t) for t in forecast["target"].values
                   if figures.is_per_village(forecast, str(t))]
    assert per_village == ["collective_income_100k"]
    assert "figures/township_collective_income_100k.png" in text
    town = forecast["township_probability"].sel(target="collective_income_100k", year=2027,
                                                 package="programme_withdrawn").to_series()
    assert f"`programme_withdrawn` {town.idxmin()} {town.min():.2f}" in text
    assert "township_urban_placements" not in text


def test_rewriting_replaces_the_report_and_is_deterministic(forecast, written, tmp_path):
    again = tmp_path / "again"
    write_report(forecast, again, command="countysim report f.nc --out forecast_report")
    for path in written.rglob("*"):
        if path.is_file():
            assert (again / path.relative_to(written)).read_bytes() == path.read_bytes(), path
    # Over an earlier report: replaced, nothing else left.
    (again / "figures" / "stale.png").write_bytes(PNG)
    write_report(forecast.isel(target=[0]), again)
    assert not (again / "figures" / "stale.png").exists()
    assert "fan_urban_placements_4000" not in (again / "report.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]


def test_a_failed_write_keeps_the_previous_report(forecast, tmp_path, monkeypatch):
    out = tmp_path / "rep"
    small = forecast.isel(target=[0, 1])
    write_report(small, out)
    before = (out / "report.md").read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report.os, "fsync", full_disk)
    with pytest.raises(OutputError, match="No space left on device; the previous report"):
        write_report(forecast, out)
    assert (out / "report.md").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_paired_difference_known_answers(forecast):
    same = paired_difference(forecast, "programme_expanded", "programme_expanded")
    finite = np.isfinite(same["difference"])
    assert finite.any()
    assert (same["difference"].where(finite, 0) == 0).all()
    assert (same["difference_high"].where(finite, 0) == 0).all()
    # always_met: 1 - 1 = 0 in every run; impossible: 0 - 0.
    d = paired_difference(forecast, "programme_withdrawn", "baseline_continued")
    assert float(d["difference"].sel(target="always_met", year=2030)) == 0
    # One package met everywhere and the other nowhere: +1 exactly.
    ds = forecast.copy()
    att = ds["attained"].copy()
    att.loc[{"package": "programme_expanded", "target": "impossible"}] = xr.where(
        att.sel(package="programme_expanded", target="impossible").notnull(), 1.0, np.nan)
    ds["attained"] = att
    d = paired_difference(ds, "programme_expanded", "baseline_continued")
    x = d.sel(target="impossible", year=2027)
    assert float(x["difference"]) == float(x["difference_low"]) == 1.0
    assert int(x["groups"]) == 10  # members, not runs: the interval is over members


# ------------------------------------------------------------------ the figures


def test_heatmap_cells_show_probabilities_with_intervals(forecast):
    ax = figures.attainment_heatmap(forecast)
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == forecast.sizes["package"] * forecast.sizes["target"]
    x = forecast.sel(package="baseline_continued", target="impossible", year=2027)
    assert f"{float(x.probability):.2f}\n[0.00, {float(x.probability_high):.2f}]" in texts
    ax.figure.clf()


def test_fan_chart_draws_the_threshold_and_the_quantiles(forecast):
    ax = figures.fan_chart(forecast, "urban_placements_4000", "programme_expanded")
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_ydata()[0] == 4000
    median = forecast["fan"].sel(package="programme_expanded",
                                 target="urban_placements_4000", quantile=0.5)
    solid = next(ln for ln in ax.lines if ln.get_label() == "median")
    np.testing.assert_allclose(solid.get_ydata(), median.values)
    assert len(ax.collections) == 2  # the 5-95 % and 25-75 % bands
    # Shares are drawn in percent.
    ax2 = figures.fan_chart(forecast, "urban_unemployment_5_5", "baseline_continued")
    assert next(ln for ln in ax2.lines if ln.get_linestyle() == "--").get_ydata()[0] == 5.5


def test_figures_refuse_unknown_names(forecast):
    with pytest.raises(KeyError, match="not a target"):
        figures.fan_charts(forecast, "nope")
    with pytest.raises(KeyError, match="not a package"):
        figures.fan_chart(forecast, "always_met", "nope")
    with pytest.raises(ValueError, match="no township breakdown"):
        figures.township_breakdown(forecast, "urban_placements_4000")
    with pytest.raises(KeyError, match="not a year"):
        figures.attainment_heatmap(forecast, year=2040)


# ------------------------------------------------------------------ optional sections


def _sensitivity() -> xr.Dataset:
    """Indices laid out as countysim.forecasting.sensitivity.analyse returns them."""
    rng = np.random.default_rng(0)
    dims = ("outcome", "factor", "year")
    st = rng.uniform(0, 1, (2, 3, len(YEARS)))
    return xr.Dataset({"ST": (dims, st, {"long_name": "total-order Sobol' index"}),
                       "ST_conf": (dims, 0.1 * st),
                       "S1": (dims, 0.5 * st, {"long_name": "first-order Sobol' index"}),
                       "S1_conf": (dims, 0.05 * st),
                       "n_groups": (("outcome", "year"), np.full((2, len(YEARS)), 64))},
                      coords={"outcome": ["a", "b"], "year": list(YEARS),
                              "factor": ["p1", "p2", "p3"]},
                      attrs={"method": "sobol", "failed_runs": "none in this test"})


def _prim() -> xr.Dataset:
    return xr.Dataset({"box_low": ("parameter", [0.2, 10.0]),
                       "box_high": ("parameter", [0.5, 30.0]),
                       "range_low": ("parameter", [0.0, 0.0]),
                       "range_high": ("parameter", [1.0, 100.0])},
                      coords={"parameter": ["p1", "p2"]},
                      attrs={"coverage": 0.8, "density": 0.7,
                             "description": "runs missing the 2027 target"})


def test_sensitivity_and_prim_are_included_when_given(forecast, tmp_path):
    out = tmp_path / "rep"
    write_report(forecast.isel(target=[0]), out, sensitivity=_sensitivity(), prim=_prim())
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "## Sensitivity over time" in text and "## Scenario discovery" in text
    for index in ("ST", "S1"):  # Sobol's main indices; no figure of the half-widths
        assert (out / "figures" / f"sensitivity_{index}.png").read_bytes().startswith(PNG)
    assert sorted(p.name for p in (out / "figures").glob("sensitivity_*")) == [
        "sensitivity_S1.png", "sensitivity_ST.png"]
    assert "from 64 groups of runs" in text
    st = _sensitivity()["ST"].sel(outcome="b", year=YEARS[-1]).to_series()
    top = st.sort_values(ascending=False).index[0]
    assert f"| `b` | `{top}` {st[top]:.2f}," in text
    assert (out / "figures" / "prim_box.png").read_bytes().startswith(PNG)
    assert "| `p2` | 10 .. 30 | 0 .. 100 |" in text
    assert "coverage 0.80, density 0.70" in text


# ------------------------------------------------------------------ the command line


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("countysim: error: ") and "Traceback" not in captured.err
    return lines[0]


@pytest.fixture(scope="module")
def forecast_file(forecast, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("nc") / "forecast.nc"
    forecast.isel(target=[0, 5]).to_netcdf(path, engine="h5netcdf")
    return path


def test_cli_report_from_a_netcdf_file(forecast_file, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(forecast_file), "--out", str(out)]) == 0
    assert f"wrote {out / 'report.md'}" in capsys.readouterr().out
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "`always_met`" in text and f"countysim report {forecast_file}" in text


def test_cli_report_with_sensitivity_and_prim_files(forecast_file, tmp_path, capsys):
    sens, prim = tmp_path / "sens.nc", tmp_path / "prim.nc"
    _sensitivity().to_netcdf(sens, engine="h5netcdf")
    _prim().to_netcdf(prim, engine="h5netcdf")
    out = tmp_path / "rep"
    assert main(["report", str(forecast_file), "--out", str(out), "--sensitivity",
                 str(sens), "--prim", str(prim)]) == 0
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "## Sensitivity over time" in text and "PRIM" in text
    capsys.readouterr()


@pytest.mark.parametrize("what", ["missing", "not_netcdf", "no_fan", "no_threshold",
                                  "bad_sensitivity"])
def test_cli_bad_input_is_one_line(what, forecast, forecast_file, tmp_path, capsys):
    path, extra = tmp_path / "f.nc", []
    if what == "not_netcdf":
        path.write_text("not a forecast", encoding="utf-8")
    elif what == "no_fan":
        forecast.drop_vars("fan").to_netcdf(path, engine="h5netcdf")
    elif what == "no_threshold":
        forecast.drop_vars("threshold").to_netcdf(path, engine="h5netcdf")
    elif what == "bad_sensitivity":
        path = forecast_file
        sens = tmp_path / "sens.nc"
        _sensitivity().isel(year=0).to_netcdf(sens, engine="h5netcdf")
        extra = ["--sensitivity", str(sens)]
    out = tmp_path / "rep"
    assert main(["report", str(path), "--out", str(out), *extra]) == EXIT_USAGE
    line = _one_line_error(capsys)
    expected = {"missing": f"{path}: <file>: forecast file {path} does not exist",
                "not_netcdf": f"{path}: <file>: not a NetCDF file",
                "no_fan": f"{path}: fan: missing: a forecast Dataset needs",
                "no_threshold": f"{path}: threshold: missing",
                "bad_sensitivity": "sens.nc: year: missing"}[what]
    assert expected in line
    assert not out.exists()


def test_cli_refuses_an_output_that_is_not_a_report_folder(forecast_file, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me", encoding="utf-8")
    assert main(["report", str(forecast_file), "--out", str(mine)]) == EXIT_USAGE
    assert "holds notes.txt, which no report wrote" in _one_line_error(capsys)
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "keep me"
    afile = tmp_path / "a.txt"
    afile.write_text("x", encoding="utf-8")
    assert main(["report", str(forecast_file), "--out", str(afile)]) == EXIT_USAGE
    assert "is a file" in _one_line_error(capsys)


def test_a_report_folder_with_other_files_is_refused_not_emptied(forecast_file, tmp_path,
                                                                  capsys):
    """Issue 18, case 8: report.md, notes.txt and src/main.py: nothing is lost."""
    mine = tmp_path / "mine"
    (mine / "src").mkdir(parents=True)
    for name, text in (("report.md", "old"), ("notes.txt", "n"), ("src/main.py", "m")):
        (mine / name).write_text(text, encoding="utf-8")
    assert main(["report", str(forecast_file), "--out", str(mine)]) == EXIT_USAGE
    assert "holds notes.txt, which no report wrote" in _one_line_error(capsys)
    assert sorted(p.relative_to(mine).as_posix() for p in mine.rglob("*")) == [
        "notes.txt", "report.md", "src", "src/main.py"]
    assert (mine / "report.md").read_text(encoding="utf-8") == "old"


def test_a_symlinked_report_folder_is_replaced_through_the_link(forecast_file, tmp_path,
                                                                capsys):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "replink"
    link.symlink_to(real, target_is_directory=True)
    for _ in range(2):  # a new report, then one replacing it
        assert main(["report", str(forecast_file), "--out", str(link)]) == 0
    capsys.readouterr()
    assert link.is_symlink() and (real / "report.md").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real", "replink"]


def test_check_forecast_names_the_variable_with_wrong_dims(forecast):
    bad = forecast.assign(n=forecast["n"].isel(year=0, drop=True))
    with pytest.raises(ReportError, match=r"n: has dims \(package, target\), needs"):
        report.check_forecast(bad, "f.nc")


def test_summary_and_paired_tables_say_what_was_seen(forecast, written):
    text = (written / "report.md").read_text(encoding="utf-8")
    # Every package meets always_met in every run: no ranking of equal probabilities,
    # and no zero-width "interval" for paired differences that are all 0.
    assert ("- `always_met` (>= -1,000,000,000 persons/yr in 2030): the same under every "
            "package, 1.00 [0.88, 1.00].") in text
    table = text.split("**Probability of attainment** (difference")[1].split("**The")[0]
    row = next(line for line in table.splitlines() if line.startswith("| `programme_exp"))
    header = next(line for line in table.splitlines() if line.startswith("| package"))
    column = [c.strip() for c in header.split("|")].index("`always_met` (2030)")
    assert row.split("|")[column].strip() == "0 (no run differs)"
    # The indicators' paired differences: in the targets' units, shares in points.
    assert "`urban_unemployment_5_5` (2030, pp)" in text
    assert "`urban_placements_4000` (2030, persons/yr)" in text
    d = paired_difference(forecast, "programme_withdrawn", "baseline_continued",
                          variable="value").sel(target="urban_placements_4000", year=2030)
    assert f"{float(d.difference):+.3g} [{float(d.difference_low):+.3g}" in text


def test_a_workbench_prim_box_goes_into_the_report(forecast, tmp_path):
    prim = pytest.importorskip("ema_workbench.analysis.prim",
                               reason="needs the ema extra (ema-workbench)")
    rng = np.random.default_rng(7)
    x = pd.DataFrame({"a": rng.uniform(0, 1, 600), "b": rng.uniform(10, 20, 600),
                      "c": rng.uniform(0, 1, 600)})
    # The runs of interest are exactly a < 0.3 and b > 15: PRIM must restrict a and b
    # near those limits and leave c free.
    y = ((x["a"] < 0.3) & (x["b"] > 15)).to_numpy()
    box = prim.Prim(x, y).find_box()
    ds = report.prim_box_dataset(box, description="runs of interest")
    assert list(ds["factor"].values) == ["a", "b", "c"]
    assert list(ds["restricted"].values) == [1, 1, 0]
    # Within a few peeling steps (alpha 0.05 of 600 points) of the true limits.
    assert ds["box_high"].sel(factor="a") == pytest.approx(0.3, abs=0.05)
    assert ds["box_low"].sel(factor="b") == pytest.approx(15, abs=0.5)
    assert ds.attrs["coverage"] == pytest.approx(box.coverage)
    path = tmp_path / "prim.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    out = tmp_path / "rep"
    write_report(forecast.isel(target=[0]), out, prim=report.open_extra(path, "prim"))
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "Which conditions lead to runs of interest?" in text
    assert "| `a` |" in text and "| `c` |" not in text
    assert "Not restricted by the box (any value): `c`." in text


# ------------------------------------------------------------------ on a real forecast


@pytest.fixture(scope="module")
def real_forecast(tmp_path_factory) -> Path:
    """A real forecast file: two packages of the small district, the ensemble's first 2
    members x 2 seeds, to 2026-12, against the shipped illustrative targets."""
    from countysim.forecasting.forecast import forecast as run_forecast
    from countysim.testing import small_scenario

    folder = tmp_path_factory.mktemp("real")
    scenario = small_scenario()
    (folder / "small.toml").write_text(scenario.to_toml().replace(
        'name = "defaults"', 'name = "small_base"'), encoding="utf-8")
    (folder / "small_withdrawn.toml").write_text(
        'extends = "small.toml"\nname = "small_withdrawn"\n[levers]\npilot_villages = '
        f'{{ value = {{ 2025 = {scenario.values["pilot_villages"]}, 2026 = 0 }}, source = '
        '"test" }\n', encoding="utf-8")
    targets = Path(__file__).resolve().parents[1] / "scenarios" / "targets" / (
        "litong_2030_illustrative.toml")
    (folder / "forecast.toml").write_text(f"""
name = "small_forecast"
until = "2026-12"
replicates = 2
seed = 5
[design]
kind = "ensemble"
ensemble = "litong_2025"
members = 2
files = ["small.toml", "small_withdrawn.toml"]
[forecast]
targets = "{targets}"
store = "runs.zarr"
""", encoding="utf-8")
    out = folder / "forecast.zarr"
    run_forecast(folder / "forecast.toml", out=out, workers=1, progress=False)
    return out


def test_report_on_a_real_forecast(real_forecast, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(real_forecast), "--out", str(out)]) == 0
    capsys.readouterr()
    text = (out / "report.md").read_text(encoding="utf-8")
    ds = report.open_forecast(real_forecast)
    for name in (*ds["package"].values, *ds["target"].values):
        assert f"`{name}`" in text
    assert "4 (2 ensemble members x 2 replicates)" in text
    assert "**Illustrative targets.**" in text and "Synthetic" not in text
    # The headline table holds the forecast's own numbers.
    y = figures.target_year(ds, "urban_unemployment")
    x = ds.sel(package="small_base", target="urban_unemployment", year=y)
    cell = f"{float(x.probability):.2f} [{float(x.probability_low):.2f}, "
    assert cell in text.split("## Probability of attainment")[1].split("![")[0]
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (out / link).read_bytes().startswith(PNG), link
    # 2 members x 2 seeds: the forecast splits the spread into seeds and members.
    assert "### Where the spread comes from" in text
    share = float(ds["seed_variance_share"].sel(package="small_base",
                                                target="urban_unemployment", year=y))
    section = text.split("### Where the spread comes from")[1].split("\n## ")[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    column = [c.strip() for c in lines[0].split("|")].index(f"`urban_unemployment` ({y})")
    row = next(line for line in lines if line.startswith("| `small_base`"))
    assert row.split("|")[column].strip() == f"{share:.2f}"
    assert 0 <= share <= 1


def test_a_forecast_without_ensemble_says_seed_noise_only(forecast):
    # countysim forecast on a design of kind "scenarios": member -1 for every run.
    seeds_only = forecast.isel(target=[0]).assign_coords(
        member=("run", np.full(forecast.sizes["run"], -1)))
    text, _ = report.render(seeds_only)
    assert "(no ensemble: the packages' own parameter values, 2 seeds" in text
    assert "differ by their seeds only" in text and "t interval over runs" in text
    d = paired_difference(seeds_only, "programme_expanded", "baseline_continued")
    assert int(d["groups"].sel(year=2027).item()) == forecast.sizes["run"]


def test_failed_runs_count_in_neither_numerator_nor_n():
    ds = synthetic_forecast(members=10, replicates=2, failed_share=0.25, seed=2)
    finished = np.isfinite(ds["value"].isel(package=0, target=0, year=0)).sum().item()
    assert 0 < finished < ds.sizes["run"]  # seed 2 fails some runs, not all
    n = ds["n"].sel(target="urban_placements_4000", year=2030)
    assert (n == finished).all()
    hits = ds["attained"].sel(target="urban_placements_4000", year=2030).sum("run")
    np.testing.assert_allclose(ds["probability"].sel(target="urban_placements_4000",
                                                     year=2030), hits / finished)
    text, _ = report.render(ds.isel(target=[1]))
    assert f"(up to {finished} per package; failed runs do not count)" in text


def test_report_reads_the_sensitivity_modules_output(forecast_file, tmp_path, capsys):
    """--sensitivity with what countysim.forecasting.sensitivity.analyse returns."""
    import json

    from countysim.forecasting import sensitivity as sa
    from countysim.sweeps.experiment import draw_unit_samples

    names, years = ["x1", "x2", "x3"], [2026, 2027, 2028]
    unit = draw_unit_samples("morris", {"trajectories": 10, "levels": 4}, 3, 4)
    # A linear outcome whose x1 effect grows by year: mu_star(x1) = 2 (year - 2025).
    y = np.stack([(y - 2025) * 2 * unit[:, 0] + unit[:, 1] for y in years], axis=-1)
    results = xr.Dataset(
        {"y": (("sample", "replicate", "year"), np.repeat(y[:, None, :], 2, axis=1)),
         "design_unit": (("sample", "parameter"), unit),
         "status": (("sample", "replicate"), np.full((len(unit), 2), "done", dtype=object))},
        coords={"sample": np.arange(len(unit)), "replicate": [0, 1], "parameter": names,
                "year": years},
        attrs={"design": json.dumps({"kind": "morris", "options": {"trajectories": 10,
                                                                    "levels": 4}}),
               "salib_problem": json.dumps({"num_vars": 3, "names": names,
                                            "bounds": [[0.0, 1.0]] * 3})})
    indices = sa.analyse(results, {"y": lambda ds: ds["y"]}, num_resamples=50, seed=1)
    path = tmp_path / "sens.nc"
    indices.to_netcdf(path, engine="h5netcdf")
    out = tmp_path / "rep"
    assert main(["report", str(forecast_file), "--out", str(out), "--sensitivity",
                 str(path)]) == 0
    capsys.readouterr()
    text = (out / "report.md").read_text(encoding="utf-8")
    # Morris: mu_star and sigma shown; x1 is the largest in the last year, 2 x 3 = 6.
    assert sorted(p.name for p in (out / "figures").glob("sensitivity_*")) == [
        "sensitivity_mu_star.png", "sensitivity_sigma.png"]
    assert "| `y` | `x1` 6.00, `x2` 1.00, `x3` 0.00 |" in text


def test_fan_chart_axis_says_what_is_plotted(forecast):
    """A share_of_villages target plots the share of villages meeting the level, not the
    indicator: "collective_income (%)" mislabelled it (issue 17, item 9)."""
    ax = figures.fan_chart(forecast, "collective_income_100k", "baseline_continued")
    assert ax.get_ylabel() == "villages with collective_income (%)"
    toml = ('[[targets]]\nid = "collective_income_100k"\nindicator = "collective_income"\n'
            'aggregation = "share_of_villages"\nlevel = 100000\n')
    ax = figures.fan_chart(forecast.assign_attrs(targets_toml=toml), "collective_income_100k",
                           "baseline_continued")
    assert ax.get_ylabel() == "villages with collective_income >= 100,000 (%)"
    labels = {t: figures.fan_chart(forecast, t, "baseline_continued").get_ylabel()
              for t in ("urban_placements_4000", "urban_unemployment_5_5",
                        "rural_income_growth_7")}
    assert labels == {"urban_placements_4000": "urban_placements (persons/yr)",
                      "urban_unemployment_5_5": "urban_unemployment_rate (%)",
                      "rural_income_growth_7": "rural_income_per_capita growth (%)"}
