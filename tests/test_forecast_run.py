"""End to end: a small forecast on the small district through the sweep machinery, the
command line, the shipped policy packages and the forecast experiment's errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from countysim.cli import main
from countysim.core.scenario import load_scenario
from countysim.forecasting.attainment import FAN_QUANTILES
from countysim.forecasting.forecast import (
    ForecastError,
    forecast,
    load_forecast_spec,
    open_forecast,
    summary_table,
)
from countysim.testing import small_scenario

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
SHIPPED_TARGETS = SCENARIOS / "targets" / "litong_2030_illustrative.toml"
REPLICATES = 3

# Two targets with known answers on any run: an always-met one (at least zero legacy
# problems open) and an impossible one (more urban placements than the district has
# workers), beside two the small district's runs decide.
TARGETS = """
[[targets]]
id = "always"
label = "never negative"
indicator = "legacy_open"
aggregation = "december"
direction = ">="
threshold = 0
units = "problems"
window = [2025, 2026]
source = "test"

[[targets]]
id = "impossible"
label = "more placements than people"
indicator = "urban_placements"
aggregation = "flow_per_year"
direction = ">="
threshold = 1e9
units = "persons/yr"
window = [2025, 2026]
source = "test"

[[targets]]
id = "share"
label = "half the villages earn 100k"
indicator = "collective_income"
aggregation = "share_of_villages"
level = 100000
direction = ">="
threshold = 0.5
units = "share of villages"
years = [2026]
source = "test"

[[targets]]
id = "pilot"
label = "pilot income growth"
indicator = "collective_income_growth_pilot"
aggregation = "december"
direction = ">="
threshold = 0.05
units = "1"
years = [2026]
source = "test"
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small-district packages, targets and a forecast experiment, in one folder."""
    path = tmp_path_factory.mktemp("forecast")
    scenario = small_scenario()
    (path / "small.toml").write_text(scenario.to_toml().replace(
        'name = "defaults"', 'name = "small_base"'), encoding="utf-8")
    (path / "small_withdrawn.toml").write_text(
        'extends = "small.toml"\nname = "small_withdrawn"\n[levers]\npilot_villages = '
        f'{{ value = {{ 2025 = {scenario.values["pilot_villages"]}, 2026 = 0 }}, source = '
        '"test" }\n', encoding="utf-8")
    (path / "targets.toml").write_text(TARGETS, encoding="utf-8")
    (path / "forecast.toml").write_text(f"""
name = "small_forecast"
until = "2026-12"
replicates = {REPLICATES}
seed = 11
[design]
kind = "scenarios"
files = ["small.toml", "small_withdrawn.toml"]
[forecast]
targets = "targets.toml"
store = "runs.zarr"
""", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def result(folder: Path) -> xr.Dataset:
    return forecast(folder / "forecast.toml", out=folder / "forecast.nc", workers=1,
                    progress=False)


def test_forecast_dataset_layout(result: xr.Dataset) -> None:
    assert list(result["package"].values) == ["small_base", "small_withdrawn"]
    assert result["value"].dims == ("package", "run", "target", "year")
    assert result["attained"].dims == ("package", "run", "target", "year")
    assert result["probability"].dims == ("package", "target", "year")
    assert result["fan"].dims == ("package", "target", "year", "quantile")
    assert result["township_probability"].dims == ("package", "target", "year", "township")
    assert result["parameter_value"].dims == ("run", "parameter")
    assert list(result["quantile"].values) == list(FAN_QUANTILES)
    assert list(result["year"].values) == [2025, 2026]
    assert result.sizes["run"] == REPLICATES
    np.testing.assert_array_equal(result["replicate"], np.arange(REPLICATES))
    assert (result["member"] == -1).all()  # no ensemble: seeds only
    for coord in ("indicator", "threshold", "direction", "aggregation", "units", "label"):
        assert result[coord].dims == ("target",)
    assert result.attrs["experiment_name"] == "small_forecast"
    assert result.attrs["failed_runs"] == 0
    assert result.attrs["git_commit"] and result.attrs["created"]


def test_known_answers_on_real_runs(result: xr.Dataset) -> None:
    p = result["probability"]
    assert (p.sel(target="always") == 1).all()
    assert (p.sel(target="impossible") == 0).all()
    assert (result["n"].sel(target="always") == REPLICATES).all()
    # Outside a target's years there is no outcome.
    assert (result["n"].sel(target="share", year=2025) == 0).all()
    assert p.sel(target="share", year=2025).isnull().all()
    # Withdrawn pilots have no pilot growth in 2026: no outcome rather than a miss.
    assert result["n"].sel(target="pilot", year=2026, package="small_withdrawn") == 0
    # The probability is the share of runs meeting the target, its interval around it.
    np.testing.assert_allclose(p, result["attained"].mean("run"), equal_nan=True)
    ok = p.notnull()
    assert ((result["probability_low"] <= p + 1e-12) | ~ok).all()
    assert ((result["probability_high"] >= p - 1e-12) | ~ok).all()
    assert result["probability_low"].where(~ok).isnull().all()
    # Fans: quantiles of the value over runs, ordered.
    fan = result["fan"].sel(target="share", year=2026)
    assert (fan.diff("quantile") >= 0).all()


def test_runs_are_paired_across_packages(result: xr.Dataset, folder: Path) -> None:
    """Run j of both packages has the same seed: the 2025 values (before the packages
    differ) are identical."""
    v2025 = result["value"].sel(year=2025, target=["always", "impossible"])
    np.testing.assert_array_equal(v2025.sel(package="small_base"),
                                  v2025.sel(package="small_withdrawn"))


def test_written_file_reads_back_equal(result: xr.Dataset, folder: Path) -> None:
    back = open_forecast(folder / "forecast.nc")
    for name in ("value", "attained", "probability", "probability_low", "n", "fan",
                 "township_probability"):
        xr.testing.assert_equal(back[name].reset_coords(drop=True),
                                result[name].reset_coords(drop=True))
    table = summary_table(back)
    assert "small_base" in table and "small_withdrawn" in table
    assert "1.00 [" in table and "0.00 [0.00," in table


def test_cli_forecast_resumes_the_store_and_prints_the_table(folder: Path, result: xr.Dataset,
                                                             capsys) -> None:
    out = folder / "again.zarr"
    status = main(["forecast", str(folder / "forecast.toml"), "--resume", "--quiet",
                   "--workers", "1", "--out", str(out)])
    text = capsys.readouterr().out
    assert status == 0, text
    assert "probability of attainment [95 % Jeffreys interval]" in text
    assert f"wrote {out}" in text
    again = open_forecast(out)
    xr.testing.assert_equal(again["probability"].reset_coords(drop=True),
                            result["probability"].reset_coords(drop=True))
    status = main(["forecast", str(folder / "forecast.toml"), "--quiet", "--out",
                   str(folder / "x.nc")])
    err = capsys.readouterr().err
    assert status == 2 and "already exists: resume it" in err and err.count("\n") == 1


def test_a_store_of_another_experiment_is_refused(folder: Path, result: xr.Dataset,
                                                  capsys) -> None:
    other = folder / "other.toml"
    other.write_text((folder / "forecast.toml").read_text(encoding="utf-8").replace(
        "seed = 11", "seed = 12"), encoding="utf-8")
    status = main(["forecast", str(other), "--resume", "--quiet", "--out",
                   str(folder / "other.nc")])
    err = capsys.readouterr().err
    assert status == 2 and "holds a sweep of another experiment" in err
    assert not (folder / "other.nc").exists()


def _tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("target", ["own_store", "store_copy", "link_to_store", "other_zarr",
                                    "folder_of_files"])
def test_forecast_out_never_replaces_what_it_did_not_write(folder: Path, result: xr.Dataset,
                                                          tmp_path: Path, capsys,
                                                          target: str) -> None:
    """Issue 18, case 2: --out onto a store (or a folder of other things): one line, exit 2."""
    import shutil

    import zarr

    out = {"own_store": folder / "runs.zarr", "store_copy": tmp_path / "copy.zarr",
           "link_to_store": tmp_path / "link.zarr", "other_zarr": tmp_path / "other.zarr",
           "folder_of_files": tmp_path / "mine.zarr"}[target]
    if target == "store_copy":
        shutil.copytree(folder / "runs.zarr", out)
    elif target == "link_to_store":
        out.symlink_to(folder / "runs.zarr", target_is_directory=True)
    elif target == "other_zarr":
        zarr.open_group(str(out), mode="w", zarr_format=3).attrs["title"] = "mine"
    elif target == "folder_of_files":
        out.mkdir()
        (out / "notes.txt").write_text("keep", encoding="utf-8")
    real = out.resolve()
    before = _tree(real)
    status = main(["forecast", str(folder / "forecast.toml"), "--resume", "--quiet",
                   "--workers", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1, err
    assert {"own_store": "is the forecast's run store", "store_copy": "is a sweep's store",
            "link_to_store": "is the forecast's run store",
            "other_zarr": "is a Zarr store that is not a forecast",
            "folder_of_files": "is not a Zarr store"}[target] in err
    assert _tree(real) == before


def test_forecast_resume_runs_damaged_runs_again(folder: Path, result: xr.Dataset,
                                                 tmp_path: Path, capsys) -> None:
    """Issue 18, case 3: a finished store with a chunk missing; n must not drop."""
    import shutil

    copy = tmp_path / "project"
    shutil.copytree(folder, copy)
    chunk = next(p for p in sorted((copy / "runs.zarr" / "workers" / "c").rglob("*"))
                 if p.is_file())
    chunk.unlink()
    status = main(["forecast", str(copy / "forecast.toml"), "--resume", "--quiet",
                   "--workers", "1", "--out", str(copy / "again.nc")])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    again = open_forecast(copy / "again.nc")
    assert again["n"].max() == REPLICATES
    xr.testing.assert_equal(again["n"].reset_coords(drop=True),
                            result["n"].reset_coords(drop=True))
    xr.testing.assert_equal(again["probability"].reset_coords(drop=True),
                            result["probability"].reset_coords(drop=True))


def test_cli_compare_from_the_store(folder: Path, result: xr.Dataset, capsys) -> None:
    status = main(["compare", "small_base", "small_withdrawn", "--results",
                   str(folder / "runs.zarr"), "--year", "2026"])
    text = capsys.readouterr().out
    assert status == 0, text
    assert "paired differences small_withdrawn - small_base in 2026" in text
    row = next(line for line in text.splitlines() if line.startswith("cooperative_workers"))
    # Pilots withdrawn: cooperative jobs fall in every pair, so the interval of the mean
    # difference lies below zero (whether |z| >= 3, the "*", depends on a few members'
    # spread: z was -2.4 with the 18-member ensemble).
    low, high = (float(x) for x in re.search(r"\[(-?[\d.]+), (-?[\d.]+)\]", row).groups())
    assert low < high < 0, row
    status = main(["compare", "small_base", "nope", "--results", str(folder / "runs.zarr")])
    err = capsys.readouterr().err
    assert status == 2 and "'nope' is not a package" in err and err.count("\n") == 1


def test_compare_scenario_files_over_ensemble_members(folder: Path) -> None:
    """countysim.compare on two scenario files: members x seeds, paired."""
    import countysim

    out = countysim.compare(folder / "small.toml", folder / "small_withdrawn.toml",
                            ensemble="litong_2025", members=2, replicates=2, until="2026-12",
                            workers=1, progress=False)
    assert out["member"].values.tolist() == [0, 0, 1, 1]
    assert out["replicate"].values.tolist() == [0, 1, 0, 1]
    assert int(out["n"].sel(indicator="cooperative_workers", year=2026)) == 4
    # The packages differ from 2026 only: 2025 is identical run by run.
    assert (out["difference"].sel(indicator="cooperative_workers", year=2025) == 0).all()
    assert (out["mean"].sel(indicator="cooperative_workers", year=2026) < 0).item()


def test_forecast_experiment_errors(folder: Path, tmp_path: Path) -> None:
    text = (folder / "forecast.toml").read_text(encoding="utf-8")
    for f in ("small.toml", "small_withdrawn.toml", "targets.toml"):
        (tmp_path / f).write_text((folder / f).read_text(encoding="utf-8"), encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('targets = "targets.toml"\n', ""), encoding="utf-8")
    with pytest.raises(ForecastError, match=r"bad.toml: forecast.targets: missing"):
        load_forecast_spec(bad)
    bad.write_text(text.replace('store = "runs.zarr"', 'stor = "x"'), encoding="utf-8")
    with pytest.raises(ForecastError, match=r"bad.toml: forecast.stor: unknown key; allowed"):
        load_forecast_spec(bad)
    bad.write_text(text.replace('seed = 11', 'seed = 11\noutputs = ["legacy_open"]'),
                   encoding="utf-8")
    with pytest.raises(ForecastError, match=r"bad.toml: outputs: does not keep "
                       r"'urban_placements', which target 'impossible' .*targets\[1\]\)"):
        load_forecast_spec(bad)
    bad.write_text(text.replace('"targets.toml"', '"nope.toml"'), encoding="utf-8")
    assert main(["forecast", str(bad)]) == 2


def test_shipped_packages_are_2026_paths() -> None:
    """Every shipped package keeps the article's 2025 levers; the changes start in 2026."""
    base = load_scenario(SCENARIOS / "baseline_2025.toml")
    names = ("programme_expanded", "programme_withdrawn", "mentoring_frontline_doubled_2026",
             "jobs_and_returnees_2026")
    for name in names:
        package = load_scenario(SCENARIOS / f"{name}.toml")
        changed = [lever for lever in base.values
                   if package.value_in(lever, 2026) != base.value_in(lever, 2026)]
        assert changed, name
        for lever in changed:
            assert package.value_in(lever, 2025) == base.value_in(lever, 2025), (name, lever)
    withdrawn = load_scenario(SCENARIOS / "programme_withdrawn.toml")
    assert withdrawn.value_in("pilot_villages", 2025) == 50
    assert withdrawn.value_in("pilot_villages", 2027) == 0


def test_cli_compare_reads_the_store_a_forecast_file_names(folder: Path, result: xr.Dataset,
                                                           capsys) -> None:
    """compare --results takes the forecast .nc that forecast --out wrote (issue 17)."""
    status = main(["compare", "small_base", "small_withdrawn", "--results",
                   str(folder / "forecast.nc"), "--year", "2026"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "paired differences small_withdrawn - small_base in 2026" in captured.out


def test_cli_compare_from_the_store_before_the_first_change(folder: Path, result: xr.Dataset,
                                                            capsys) -> None:
    """The store keeps the packages' scenarios: 2025, before the withdrawal, reads
    "identical before 2026-01", not a table of zeros (issue 17, item 1)."""
    status = main(["compare", "small_base", "small_withdrawn", "--results",
                   str(folder / "runs.zarr"), "--year", "2025"])
    out = capsys.readouterr().out
    assert status == 0
    assert "paired differences" not in out
    assert "small_withdrawn and small_base are identical before 2026-01" in out
