"""Parameter ensembles: the file format, its validation, and the packaged litong_2025."""

from __future__ import annotations

import json
from pathlib import Path

import countysim
import numpy as np
import pytest
import xarray as xr
from conftest import BASELINE, SMALL_DISTRICT, write_toml
from countysim import (
    EnsembleError,
    ExperimentError,
    load_ensemble,
    load_experiment,
    load_scenario,
    open_results,
    sweep,
)
from countysim.core.observe import VARIABLES
from countysim.core.parameters import PARAMETERS
from countysim.sweeps.ensemble import (
    ATTRS,
    ensemble_from_points,
    ensemble_names,
    member_values,
    write_ensemble,
)
from countysim.sweeps.files import OutputError, write_netcdf
from countysim.sweeps.sweep import replicate_seed, shape_run

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
    assert back.attrs.pop("content_digest").startswith("sha256:")  # checked on loading
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


# ------------------------------------------------------------------ design kind "ensemble"

_PILOTS = SMALL_DISTRICT["pilot_villages"]
# Three members, two months, two replicates: 2 packages x 3 members x 2 replicates = 12
# runs of the small district (about 0.1 s each).
MEMBERS, UNTIL = 3, "2025-02"
KEEP = ["urban_placements_ytd", "collective_income"]


def _package(folder: Path, name: str, pilots: int) -> None:
    write_toml(folder / f"{name}.toml", f'name = "{name}"\nextends = "{BASELINE.as_posix()}"'
               f"\n[levers]\npilot_villages = {pilots}\n")


def ensemble_experiment(folder: Path, *, design: str = "", top: str = "",
                        files: tuple[str, ...] = ("base", "twin", "more")) -> Path:
    """Packages ``base``, ``twin`` (base under another name) and ``more`` (more pilots)."""
    _package(folder, "base", _PILOTS)
    _package(folder, "twin", _PILOTS)
    _package(folder, "more", _PILOTS + 4)
    # The members set their own values of the parameters they carry (the issue-9
    # calibration carries district values such as firms and legacy_backlog too): the small
    # district keeps its other sizes.
    members_set = {str(p) for p in load_ensemble("litong_2025")["parameter"].values}
    overrides = "\n".join(f"{k} = {v!r}" for k, v in SMALL_DISTRICT.items()
                          if k != "pilot_villages" and k not in members_set)
    listed = ", ".join(f'"{f}.toml"' for f in files)
    design = design or (f'ensemble = "litong_2025"\nmembers = {MEMBERS}\nfiles = [{listed}]')
    return write_toml(folder / "exp.toml",
                      f'seed = 7\nuntil = "{UNTIL}"\nreplicates = 2\n{top}\n'
                      f"[overrides]\n{overrides}\n[design]\nkind = \"ensemble\"\n{design}\n")


@pytest.fixture(scope="module")
def ensemble_file(tmp_path_factory) -> Path:
    return ensemble_experiment(tmp_path_factory.mktemp("ens"),
                               top="outputs = " + str(KEEP).replace("'", '"'))


@pytest.fixture(scope="module")
def ensemble_store(ensemble_file, tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("serial") / "s.zarr"
    summary = sweep(ensemble_file, store, workers=1, progress=False)
    assert (summary.done, summary.failed) == (18, 0)
    return store


def test_samples_are_files_x_members_with_the_members_values(ensemble_file):
    exp = load_experiment(ensemble_file)
    ens = load_ensemble("litong_2025")
    assert exp.n_samples == 3 * MEMBERS
    assert exp.members == (0, 1, 2) * 3          # member fastest
    assert exp.packages == (0,) * 3 + (1,) * 3 + (2,) * 3  # file slowest
    for i in range(exp.n_samples):
        scenario = exp.scenario(i)
        m = exp.members[i]
        assert scenario.name == ("base", "twin", "more")[exp.packages[i]]
        assert scenario.district_seed == int(ens["district_seed"][m])
        for p in ens["parameter"].values:
            assert scenario.values[str(p)] == pytest.approx(float(ens["value"].sel(
                member=m, parameter=p)))
        assert scenario.villages == SMALL_DISTRICT["villages"]  # [overrides] still apply
    assert exp.scenario(6).pilot_villages == _PILOTS + 4
    # The file it writes loads back equal; the digest covers the members' values.
    again = write_toml(ensemble_file.parent / "again.toml", exp.to_toml())
    assert load_experiment(again) == exp


def test_store_records_member_package_and_parameters(ensemble_store):
    ds = open_results(ensemble_store)
    assert list(ds["member"].values) == [0, 1, 2] * 3
    assert list(ds["package"].values) == ["base"] * 3 + ["twin"] * 3 + ["more"] * 3
    ens = load_ensemble("litong_2025")
    np.testing.assert_array_equal(ds["district_seed"].values[:3],
                                  ens["district_seed"].values[:3])
    np.testing.assert_allclose(ds["activation_rate"].values[:3],
                               ens["value"].sel(parameter="activation_rate").values[:3])
    assert ds.attrs["ensemble"] == "litong_2025"
    assert json.loads(ds.attrs["ensemble_provenance"])["calibration"] == \
        ens.attrs["calibration"]
    # Different district draws: villages are numbered, their names kept per sample.
    assert list(ds["village"].values) == list(range(SMALL_DISTRICT["villages"]))
    assert ds["village_name"].dims == ("sample", "village")


def test_packages_are_paired_by_member_and_replicate(ensemble_store, ensemble_file):
    """``twin`` is ``base`` under another name: with the same member and replicate seed
    its runs are identical, run for run. Another member (another point and district) or
    another replicate gives other results, so the equality is the pairing, not luck."""
    ds = open_results(ensemble_store).load()
    income = ds["collective_income"]
    base, twin, more = (income.isel(sample=slice(k * MEMBERS, (k + 1) * MEMBERS))
                        for k in range(3))
    np.testing.assert_array_equal(base.values, twin.values)
    assert not np.array_equal(base.values[0], base.values[1])       # members differ
    assert not np.array_equal(base.values[:, 0], base.values[:, 1])  # replicates differ
    assert not np.array_equal(base.values, more.values)             # the package matters
    # Each run is the single run of its scenario with its replicate's seed.
    exp = load_experiment(ensemble_file)
    for i, r in ((0, 1), (7, 0)):
        single = shape_run(countysim.run(exp.scenario(i), seed=replicate_seed(exp.seed, r),
                                         until=exp.until), exp.outputs, True)
        stored = ds.isel(sample=i, replicate=r)
        for name in (*KEEP, "village_name", "township"):
            np.testing.assert_array_equal(stored[name].values, single[name].values)


def test_same_seed_gives_the_same_store_with_one_or_two_workers(ensemble_store,
                                                                ensemble_file, tmp_path):
    store = tmp_path / "two.zarr"
    sweep(ensemble_file, store, workers=2, progress=False)
    files = sorted(p.relative_to(store) for p in store.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(ensemble_store) for p in ensemble_store.rglob("*")
                           if p.is_file())
    for f in files:
        assert (store / f).read_bytes() == (ensemble_store / f).read_bytes(), f
    xr.testing.assert_identical(open_results(store).load(), open_results(ensemble_store).load())


def test_outputs_keep_only_the_named_variables_and_shrink_the_store(ensemble_store,
                                                                   tmp_path):
    ds = open_results(ensemble_store)
    assert set(ds.data_vars) == {*KEEP, "status", "error", "origin", "scenario_hash"}
    assert "labour_state" not in ds.dims  # no kept variable uses it
    full = ensemble_experiment(tmp_path, files=("base",))
    sweep(full, tmp_path / "all.zarr", workers=1, progress=False)
    everything = open_results(tmp_path / "all.zarr")
    assert set(VARIABLES) <= set(everything.data_vars)
    # Per run: bytes on disk with every variable against with two (one sample in three).
    size = {k: sum(p.stat().st_size for p in s.rglob("*") if p.is_file())
            for k, s in (("kept", ensemble_store), ("all", tmp_path / "all.zarr"))}
    # About four times smaller per run (3.9 with the issue-9 ensemble, whose members differ
    # in more values and compress less); 3 leaves room for that.
    assert size["kept"] / 18 < size["all"] / 6 / 3


def test_shipped_example_experiment_loads():
    from conftest import REPO

    exp = load_experiment(REPO / "experiments" / "ensemble_baseline.toml")
    assert (exp.kind, exp.n_samples, exp.options["ensemble"]) == ("ensemble", 10,
                                                                  "litong_2025")
    assert exp.members == tuple(range(10)) and exp.packages == ()
    assert set(exp.outputs) <= set(VARIABLES)


def test_run_builds_only_the_variables_asked_for():
    scenario = load_scenario(BASELINE).replace(**SMALL_DISTRICT)
    full = countysim.run(scenario, seed=3, until="2025-02")
    some = countysim.run(scenario, seed=3, until="2025-02", variables=KEEP)
    assert list(some.data_vars) == KEEP
    for name in KEEP:
        xr.testing.assert_identical(some[name], full[name])


@pytest.mark.parametrize(("design", "top", "key", "fragment"), [
    ('ensemble = "litong_2052"', "", "design.ensemble",
     "did you mean 'litong_2025'? packaged ensembles: litong_2025"),
    ('ensemble = "missing.nc"', "", "design.ensemble", "does not exist"),
    ("members = 3", "", "design.ensemble", "missing: name a packaged ensemble"),
    ('ensemble = "litong_2025"\nmembers = 100000', "", "design.members",
     "members of ensemble 'litong_2025'; use at most"),
    ('ensemble = "litong_2025"\nmembers = 0', "", "design.members", "integer >= 1"),
    ('ensemble = "litong_2025"\nsamples = 3', "", "design.samples",
     "allowed: kind, ensemble, members, files"),
    ('ensemble = "litong_2025"\nfiles = ["base.toml"]', 'scenario = "base.toml"', "scenario",
     "remove 'scenario'"),
    ('ensemble = "litong_2025"', 'outputs = ["urban_placement_ytd"]', "outputs[0]",
     "did you mean urban_placements_ytd"),
    ('ensemble = "litong_2025"', 'outputs = ["labour_force", "labour_force"]', "outputs[1]",
     "repeats outputs[0]"),
    ('ensemble = "litong_2025"', "outputs = []", "outputs", "non-empty list"),
], ids=["unknown-name", "missing-file", "no-ensemble", "too-many-members", "zero-members",
        "unknown-key", "scenario-and-files", "unknown-output", "repeated-output",
        "empty-outputs"])
def test_bad_ensemble_experiments_fail_on_one_line(tmp_path, design, top, key, fragment):
    if "files" not in design and "scenario" not in top:
        top += '\nscenario = "base.toml"'
    path = ensemble_experiment(tmp_path, design=design, top=top)
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    err = info.value
    assert (err.file, err.key) == (str(path), key)
    assert fragment in err.problem
    assert "\n" not in str(err)


def test_ensemble_parameter_in_overrides_is_refused(tmp_path):
    path = ensemble_experiment(tmp_path, files=("base",))
    path.write_text(path.read_text().replace("[overrides]\n", "[overrides]\n"
                                             "activation_rate = 0.1\n"))
    with pytest.raises(ExperimentError, match="is set by each member") as info:
        load_experiment(path)
    assert info.value.key == "overrides.activation_rate"


def test_ensemble_with_a_lever_is_refused_by_the_experiment(tmp_path):
    """An ensemble file written by other means (not write_ensemble) holding a lever."""
    ds = small_ensemble()
    ds = ds.assign_coords(parameter=["separation_rate", "frontline_share"],
                          unit=("parameter", ["1/month", "1"]),
                          low=("parameter", [0.0, 0.0]), high=("parameter", [0.003, 1.0]))
    write_netcdf(ds, tmp_path / "levers.nc")
    path = ensemble_experiment(tmp_path, design='ensemble = "levers.nc"', files=("base",),
                               top='scenario = "base.toml"')
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    err = info.value
    assert err.key == "design.ensemble"
    assert "parameter[frontline_share]: is a lever" in err.problem
    assert "\n" not in str(err)


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


def test_ensemble_member_is_the_scenario_a_sweep_runs() -> None:
    """countysim.ensemble_member (issue 17, item 7): member k's values and district draw
    on the ensemble's scenario, or on another scenario; out of range: one line."""
    import countysim
    from countysim.sweeps.ensemble import member_values

    ens = countysim.load_ensemble("litong_2025")
    values = member_values(ens, 3)
    member = countysim.ensemble_member("litong_2025", 3)
    assert member.name == ens.attrs["scenario"]
    assert {k: member.values[k] for k in values} == values
    assert member.sources["district_seed"] == "ensemble litong_2025 member 3"
    path = BASELINE.with_name("programme_withdrawn.toml")
    withdrawn = countysim.ensemble_member(ens, 3, path)
    assert withdrawn.name == "programme_withdrawn"
    assert withdrawn.schedules == countysim.load_scenario(path).schedules
    assert {k: withdrawn.values[k] for k in values} == values
    n = ens.sizes["member"]
    with pytest.raises(countysim.EnsembleError, match=rf"litong_2025: member: expected a "
                       rf"member 0..{n - 1}, got {n}"):
        countysim.ensemble_member("litong_2025", n)
