"""A command given the wrong kind of file says which kind it got and which it takes, on
one line with exit status 2 (issue 17, item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from countysim.cli import EXIT_USAGE, main
from countysim.forecasting.forecast import write_forecast
from countysim.forecasting.synthetic import synthetic_forecast
from countysim.sweeps.kinds import KINDS, file_kind
from countysim.testing import small_scenario

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "scenarios" / "baseline_2025.toml"
EXPERIMENT = REPO / "experiments" / "pilot_coverage_x_support.toml"
FORECAST_EXPERIMENT = REPO / "experiments" / "forecast_2030.toml"
CALIBRATION = REPO / "experiments" / "calibrate_2025.toml"
TARGETS = REPO / "scenarios" / "targets" / "litong_2025.toml"
ENSEMBLE = REPO / "model" / "data" / "ensembles" / "litong_2025.nc"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One file of each kind that needs writing: a run, a sweep store, a forecast."""
    import countysim

    path = tmp_path_factory.mktemp("kinds")
    scenario = path / "small.toml"
    scenario.write_text(small_scenario(until="2025-01").to_toml(), encoding="utf-8")
    assert main(["run", str(scenario), "--out", str(path / "run.nc")]) == 0
    experiment = path / "exp.toml"
    experiment.write_text(f'name = "kinds"\nscenario = "{scenario}"\nseed = 1\n'
                          'until = "2025-01"\n[design]\nkind = "grid"\n'
                          '[design.parameters]\npilot_villages = [2]\n', encoding="utf-8")
    countysim.sweep(experiment, path / "store.zarr", workers=1, progress=False)
    forecast = synthetic_forecast().assign_attrs(store=str(path / "gone.zarr"))
    write_forecast(forecast, path / "forecast.nc")
    return {"scenario": scenario, "run": path / "run.nc", "store": path / "store.zarr",
            "forecast": path / "forecast.nc"}


def test_file_kind_recognises_each_kind(files: dict[str, Path]) -> None:
    kinds = {SCENARIO: "scenario", EXPERIMENT: "experiment",
             FORECAST_EXPERIMENT: "forecast experiment", CALIBRATION: "calibration experiment",
             TARGETS: "targets file", ENSEMBLE: "ensemble", files["run"]: "run",
             files["store"]: "sweep store", files["forecast"]: "forecast"}
    assert {file_kind(p) for p in kinds} <= set(KINDS)
    assert {p.name: file_kind(p) for p in kinds} == {p.name: k for p, k in kinds.items()}
    assert file_kind(REPO / "README.md") is None
    assert file_kind(REPO / "nothing.toml") is None


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_sweep_given_a_scenario(capsys, tmp_path) -> None:
    status = main(["sweep", str(SCENARIO), "--store", str(tmp_path / "s.zarr")])
    err = _error(capsys)
    assert status == EXIT_USAGE
    assert f"{SCENARIO}: this is a scenario file" in err
    assert "countysim sweep takes an experiment file" in err
    assert not (tmp_path / "s.zarr").exists()


@pytest.mark.parametrize(("args", "got", "wanted"), [
    (["run", "{EXPERIMENT}"], "an experiment file", "countysim run takes a scenario file"),
    (["check", "{TARGETS}"], "a targets file", "takes a scenario file"),
    (["calibrate", "{SCENARIO}"], "a scenario file", "takes a calibration experiment"),
    (["forecast", "{CALIBRATION}"], "a calibration experiment", "takes a forecast experiment"),
    (["compare", "{SCENARIO}", "{EXPERIMENT}"], "an experiment file",
     "countysim compare (B) takes a scenario file"),
    (["report", "{run}", "--out", "{tmp}/r"], "a run's NetCDF file",
     "countysim report takes a forecast Dataset"),
    (["export", "{forecast}", "{tmp}/o.nc"], "a forecast Dataset", "takes a sweep's Zarr store"),
    (["verify", "{ENSEMBLE}"], "a parameter ensemble", "takes a sweep's Zarr store"),
    (["compare", "a", "b", "--results", "{run}"], "a run's NetCDF file",
     "compare --results takes a sweep's Zarr store"),
])
def test_wrong_kind_is_named_on_one_line(files, tmp_path, capsys, args, got, wanted) -> None:
    names = {"EXPERIMENT": EXPERIMENT, "TARGETS": TARGETS, "SCENARIO": SCENARIO,
             "CALIBRATION": CALIBRATION, "ENSEMBLE": ENSEMBLE, "tmp": tmp_path, **files}
    status = main([a.format(**names) for a in args])
    err = _error(capsys)
    assert status == EXIT_USAGE
    assert f"this is {got}" in err and wanted in err


def test_compare_results_forecast_without_its_store(files, capsys) -> None:
    status = main(["compare", "a", "b", "--results", str(files["forecast"])])
    err = _error(capsys)
    assert status == EXIT_USAGE
    assert "this is a forecast Dataset" in err and "gone.zarr" in err
    assert "pass --results STORE" in err


def test_compare_errors_name_the_users_input_not_internals(files, capsys) -> None:
    later = files["scenario"].with_name("later.toml")
    text = small_scenario(start="2025-06", until="2025-08").to_toml()
    later.write_text(text, encoding="utf-8")
    renamed = later.with_name("renamed.toml")
    renamed.write_text(text.replace('name = "defaults"', 'name = "later"'), encoding="utf-8")
    for first, needle in ((later, "have the same name"), (renamed, f"A ({renamed}) starts")):
        status = main(["compare", str(first), str(files["scenario"]), "--until", "2025-08",
                       "--ensemble", "none", "--seeds", "2", "--quiet"])
        err = _error(capsys)
        assert status == EXIT_USAGE
        assert "<Experiment.build>" not in err and "design.files" not in err, err
        assert needle in err, err
