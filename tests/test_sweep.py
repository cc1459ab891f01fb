"""Sweeps: byte-identical stores whatever the executor, resume after a crash, failed runs.

Every sweep here runs the small district of ``conftest.SMALL_DISTRICT`` for a few months.
Stores are compared file by file (path and SHA-256 of every file) and, once opened, with
``xarray.testing.assert_identical``.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import countysim
import numpy as np
import pytest
import xarray as xr
from conftest import BASELINE, SMALL_DISTRICT, create_test_scenario, write_toml
from countysim import StoreError, load_experiment, open_results, sweep
from countysim.cli import EXIT_USAGE, main
from countysim.core.district import build_district
from countysim.sweeps.store import read_status
from countysim.sweeps.sweep import SerialExecutor, replicate_seed

COUNTYSIM = Path(sys.executable).with_name("countysim")


@pytest.fixture(scope="module")
def small_base(tmp_path_factory) -> Path:
    """A small scenario whose district is read from CSV files (with a pilot column)."""
    folder = tmp_path_factory.mktemp("base")
    scenario = create_test_scenario()
    build_district(scenario).to_csv(folder / "district")
    text = scenario.to_toml().replace("until = ", 'district_data = "district"\nuntil = ', 1)
    return write_toml(folder / "small.toml", text.replace('"defaults"', '"small"', 1))


def experiment_text(base: Path, design: str, *, until: str = "2025-04",
                    replicates: int = 2, seed: int = 5) -> str:
    return (f'name = "small"\nscenario = "{base.as_posix()}"\nuntil = "{until}"\n'
            f"replicates = {replicates}\nseed = {seed}\n[design]\n{design}")


# 2 x 2 samples x 2 replicates. With pilot_rule "listed" the pilots are the district
# file's listed villages (the small district's pilots), so asking for one more passes
# validation and fails in the run (DistrictDataError): the stores also carry failed runs
# and their error text.
_PILOTS = SMALL_DISTRICT["pilot_villages"]
GRID = ('kind = "grid"\n[design.parameters]\npilot_rule = ["capacity", "listed"]\n'
        f"pilot_villages = [{_PILOTS}, {_PILOTS + 1}]\n")
# 3 samples x 8 replicates, long enough to interrupt part way.
LONG = 'kind = "grid"\n[design.parameters]\nactivation_rate = [0.0, 0.08, 0.16]\n'


def digest(store: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file of a store."""
    return {str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(store.rglob("*")) if p.is_file()}


def assert_same_store(a: Path, b: Path) -> None:
    __tracebackhide__ = True
    da, db = digest(a), digest(b)
    assert da.keys() == db.keys(), f"files differ: {sorted(da.keys() ^ db.keys())[:5]}"
    differing = [k for k in da if da[k] != db[k]]
    assert not differing, f"{len(differing)} files differ, e.g. {differing[:5]}"
    xr.testing.assert_identical(open_results(a).load(), open_results(b).load())


@pytest.fixture(scope="module")
def grid_file(small_base, tmp_path_factory) -> Path:
    return write_toml(tmp_path_factory.mktemp("exp") / "grid.toml",
                      experiment_text(small_base, GRID))


@pytest.fixture(scope="module")
def long_file(small_base, tmp_path_factory) -> Path:
    return write_toml(tmp_path_factory.mktemp("exp") / "long.toml",
                      experiment_text(small_base, LONG, until="2025-09", replicates=8))


@pytest.fixture(scope="module")
def serial_store(grid_file, tmp_path_factory) -> Path:
    """The grid swept in this process: the reference store."""
    store = tmp_path_factory.mktemp("serial") / "grid.zarr"
    summary = sweep(grid_file, store, workers=1, progress=False)
    assert (summary.done, summary.failed, summary.pending) == (6, 2, 0)
    return store


@pytest.fixture(scope="module")
def long_store(long_file, tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("long") / "long.zarr"
    sweep(long_file, store, workers=1, progress=False)
    return store


# ----------------------------------------------------------------- what the store holds


def test_results_have_sample_and_replicate_dims(serial_store, grid_file):
    exp = load_experiment(grid_file)
    ds = open_results(serial_store)
    run = countysim.run(exp.scenario(0), seed=0, until=exp.until)
    assert set(run.data_vars) <= set(ds.data_vars)
    for name, var in run.data_vars.items():
        assert ds[name].dims == ("sample", "replicate", *var.dims)
        assert ds[name].attrs["units"] == var.attrs["units"]
    assert ds.sizes["sample"] == 4 and ds.sizes["replicate"] == 2
    assert ds.sizes["time"] == 4 and ds.sizes["village"] == SMALL_DISTRICT["villages"]
    assert list(ds["pilot_rule"].values) == [s["pilot_rule"] for s in exp.samples]
    assert list(ds["pilot_villages"].values) == [s["pilot_villages"] for s in exp.samples]
    assert list(ds["scenario_hash"].values) == [exp.scenario(i).digest for i in range(4)]
    assert ds.attrs["experiment_hash"] == exp.digest
    assert ds.attrs["experiment_toml"] == grid_file.read_text()
    assert ds.attrs["seed_entropy"] == "5"
    assert list(ds["seed_spawn_key"].values) == ["0", "1"]
    assert countysim.Scenario.from_toml(ds.attrs["scenario_toml"]) == exp.base
    for key in ("versions", "git_commit", "countysim_version", "design"):
        assert ds.attrs[key]


def test_each_run_equals_a_single_run_with_the_replicate_seed(serial_store, grid_file):
    """Common random numbers: replicate r of every sample runs with the r-th child seed."""
    exp = load_experiment(grid_file)
    ds = open_results(serial_store)
    for i, r in [(0, 0), (0, 1), (2, 1)]:
        seed = np.random.SeedSequence(exp.seed).spawn(exp.replicates)[r]
        assert seed.spawn_key == replicate_seed(exp.seed, r).spawn_key
        run = countysim.run(exp.scenario(i), seed=seed, until=exp.until)
        stored = ds.isel(sample=i, replicate=r)
        for name, var in run.data_vars.items():
            np.testing.assert_array_equal(stored[name].values, var.values.astype(float),
                                          err_msg=name)
        np.testing.assert_array_equal(stored["pilot"].values, run["pilot"].values)
        assert list(stored["township"].values) == list(run["township"].values)
        np.testing.assert_array_equal(stored["time"].values,
                                      run["time"].values.astype("datetime64[ns]"))
    # The district's townships are the same in every sample: a village coordinate, so
    # groupby("township") groups villages and keeps the samples apart.
    assert ds["township"].dims == ("village",)
    by_township = ds["village_income_per_capita"].groupby("township").mean()
    assert by_township.sizes["sample"] == ds.sizes["sample"]
    # The same replicate differs between replicates (else the seeds are not distinct).
    a = ds["matches"].isel(sample=0, replicate=0).values
    b = ds["matches"].isel(sample=0, replicate=1).values
    assert not np.array_equal(a, b)


def test_failed_runs_are_recorded_and_the_sweep_goes_on(serial_store):
    ds = open_results(serial_store)
    bad = (ds["pilot_rule"].values == "listed") & (ds["pilot_villages"].values == _PILOTS + 1)
    status = ds["status"].values
    assert bad.sum() == 1
    assert (status[bad] == "failed").all()
    assert (status[~bad] == "done").all()
    for text in ds["error"].values[bad].ravel():
        assert text.startswith("DistrictDataError:")
        assert f"lists {_PILOTS} villages but levers.pilot_villages = {_PILOTS + 1}" in text
        assert "[district.py:" in text  # where it was raised, without the path
    assert (ds["error"].values[~bad] == "").all()
    assert np.isnan(ds["workers"].values[bad]).all()
    assert np.isnan(ds["collective_income"].values[bad]).all()
    assert not np.isnan(ds["workers"].values[~bad]).any()
    assert np.isnan(ds["pilot"].values[bad]).all()
    assert (ds["pilot"].values[~bad].sum(axis=-1) == ds["pilot_villages"].values[~bad]).all()
    # Masking by status works on every variable, strings included.
    done = ds.where(ds["status"] == "done")
    assert done["error"].isnull().values[bad].all()
    assert float(done["matches"].mean()) == float(ds["matches"].values[~bad].mean())


def test_results_open_lazily_or_as_dask(serial_store):
    lazy = open_results(serial_store)
    assert not lazy["village_workers"].variable._in_memory
    pytest.importorskip("dask")
    chunked = open_results(serial_store, chunks={})
    assert chunked["village_workers"].chunks[:2] == ((1,) * 4, (1, 1))
    xr.testing.assert_identical(chunked.load(), lazy.load())


def test_invalid_sampled_points_are_failed_runs(small_base, tmp_path):
    """A drawn point that breaks a rule between parameters fails; the others run."""
    design = ('kind = "lhs"\nsamples = 4\n[design.parameters]\n'
              "coop_wage_share = { low = 0.0, high = 1.0 }\n"
              "coop_collective_share = { low = 0.0, high = 1.0 }\n")
    path = write_toml(tmp_path / "lhs.toml", experiment_text(small_base, design,
                                                             until="2025-01", replicates=1,
                                                             seed=1))
    exp = load_experiment(path)
    invalid = [s["coop_wage_share"] + s["coop_collective_share"] > 1 for s in exp.samples]
    assert any(invalid) and not all(invalid)  # else change the seed
    summary = sweep(exp, tmp_path / "s.zarr", workers=1, progress=False)
    ds = open_results(tmp_path / "s.zarr")
    assert summary.failed == sum(invalid)
    for i, bad in enumerate(invalid):
        assert ds["status"].values[i, 0] == ("failed" if bad else "done")
        if bad:
            assert "ScenarioError" in ds["error"].values[i, 0]
            assert ds["scenario_hash"].values[i] == ""


def test_categorical_levers_in_a_sampled_design(small_base, tmp_path):
    design = ('kind = "lhs"\nsamples = 3\n[design.parameters]\n'
              'pilot_rule = { choices = ["capacity", "random"] }\n'
              "alliances = { choices = [true, false] }\n")
    path = write_toml(tmp_path / "cat.toml",
                      experiment_text(small_base, design, until="2025-01", replicates=1))
    exp = load_experiment(path)
    sweep(exp, tmp_path / "s.zarr", workers=1, progress=False)
    ds = open_results(tmp_path / "s.zarr")
    assert ds["alliances"].dtype == bool
    assert list(ds["alliances"].values) == [s["alliances"] for s in exp.samples]
    assert list(ds["pilot_rule"].values) == [s["pilot_rule"] for s in exp.samples]
    np.testing.assert_array_equal(ds["design_unit"].values, exp.unit)
    assert list(ds["parameter"].values) == ["pilot_rule", "alliances"]
    assert (ds["status"].values == "done").all()


def test_named_scenarios_are_a_scenario_coordinate(tmp_path):
    for name, pilots in (("few_pilots", 5), ("no_pilots", 0)):
        write_toml(tmp_path / f"{name}.toml",
                   f'name = "{name}"\nextends = "{BASELINE.as_posix()}"\n'
                   f"[levers]\npilot_villages = {pilots}\n")
    overrides = "\n".join(f"{k} = {v!r}" for k, v in SMALL_DISTRICT.items()
                          if k != "pilot_villages")
    text = (f'seed = 2\nuntil = "2025-02"\n[overrides]\n{overrides}\n[design]\n'
            'kind = "scenarios"\nfiles = ["few_pilots.toml", "no_pilots.toml"]\n')
    path = write_toml(tmp_path / "named.toml", text)
    sweep(path, tmp_path / "s.zarr", workers=1, progress=False)
    ds = open_results(tmp_path / "s.zarr")
    assert list(ds["scenario"].values) == ["few_pilots", "no_pilots"]
    assert ds["pilot"].sel(sample=0).sum() == 5 and ds["pilot"].sel(sample=1).sum() == 0
    assert (ds["status"].values == "done").all()
    assert "few_pilots" in ds.attrs["scenarios_toml"]


# --------------------------------------------------------------- same bytes, any executor


def test_two_processes_write_the_same_store(serial_store, grid_file, tmp_path):
    store = tmp_path / "procs.zarr"
    sweep(grid_file, store, workers=2, progress=False)
    assert_same_store(serial_store, store)


def test_dask_cluster_writes_the_same_store(serial_store, grid_file, tmp_path):
    distributed = pytest.importorskip("distributed")
    with (distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                   dashboard_address=None) as cluster,
          distributed.Client(cluster) as client):
        sweep(grid_file, tmp_path / "dask.zarr", executor=client.get_executor(),
              progress=False)
    assert_same_store(serial_store, tmp_path / "dask.zarr")


def test_sweep_starts_its_own_local_dask_cluster(serial_store, grid_file, tmp_path):
    pytest.importorskip("distributed")
    summary = sweep(grid_file, tmp_path / "local.zarr", dask=True, workers=1,
                    progress=False)
    assert summary.ran == 8
    assert_same_store(serial_store, tmp_path / "local.zarr")


def test_default_codec_pipeline_writes_the_same_store(serial_store, grid_file, tmp_path,
                                                      monkeypatch):
    """The writer's faster (fused) zarr pipeline must not change a single byte."""
    import countysim.sweeps.store

    monkeypatch.setattr(countysim.sweeps.store, "_FAST_PIPELINE", {})
    sweep(grid_file, tmp_path / "default.zarr", workers=1, progress=False)
    assert_same_store(serial_store, tmp_path / "default.zarr")


def test_window_does_not_change_the_store(serial_store, grid_file, tmp_path):
    sweep(grid_file, tmp_path / "w.zarr", executor=SerialExecutor(), window=1,
          progress=False)
    assert_same_store(serial_store, tmp_path / "w.zarr")


# ------------------------------------------------------------------------------ resume


class InterruptingExecutor(SerialExecutor):
    """Runs in this process and raises KeyboardInterrupt at the ``stop_at``-th submit."""

    def __init__(self, stop_at: int) -> None:
        super().__init__()
        self.stop_at, self.submitted = stop_at, 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        if self.submitted == self.stop_at:
            raise KeyboardInterrupt
        return super().submit(fn, *args, **kwargs)


def test_interrupted_sweep_resumes_to_the_same_store(long_store, long_file, tmp_path):
    store = tmp_path / "s.zarr"
    with pytest.raises(KeyboardInterrupt):
        sweep(long_file, store, executor=InterruptingExecutor(stop_at=10), progress=False)
    status = read_status(store)
    done = int((status == "done").sum())
    assert 0 < done < status.size
    summary = sweep(long_file, store, executor=SerialExecutor(), resume=True,
                    progress=False)
    assert summary.ran == status.size - done
    assert summary.done == status.size
    assert_same_store(long_store, store)


def test_killed_sweep_resumes_to_the_same_store(long_store, long_file, tmp_path):
    """SIGKILL the CLI part way through, then resume: the store equals an unbroken one."""
    store = tmp_path / "killed.zarr"
    proc = subprocess.Popen([str(COUNTYSIM), "sweep", str(long_file), "--store", str(store),
                             "--workers", "1", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    status_dir = store / "status" / "c"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if status_dir.is_dir() and sum(1 for _ in status_dir.rglob("*")) >= 6:
                break
            time.sleep(0.005)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    status = read_status(store)
    done = int((status == "done").sum())
    assert 0 < done < status.size, "the sweep was not killed part way"
    summary = sweep(long_file, store, workers=1, resume=True, progress=False)
    assert summary.ran == status.size - done
    assert not list(store.rglob("*.partial"))
    assert_same_store(long_store, store)


def test_resume_of_a_finished_store_runs_nothing(serial_store, grid_file, tmp_path):
    before = digest(serial_store)
    summary = sweep(grid_file, serial_store, workers=1, resume=True, progress=False)
    assert summary.ran == 0 and (summary.done, summary.failed) == (6, 2)
    assert digest(serial_store) == before


def test_retry_failed_runs_the_failed_runs_again(serial_store, grid_file, tmp_path):
    import shutil

    store = tmp_path / "copy.zarr"
    shutil.copytree(serial_store, store)
    summary = sweep(grid_file, store, workers=1, resume=True, retry_failed=True,
                    progress=False)
    assert summary.ran == 2 and summary.failed == 2
    assert_same_store(serial_store, store)


def test_existing_store_needs_resume(serial_store, grid_file):
    with pytest.raises(StoreError, match="already exists"):
        sweep(grid_file, serial_store, workers=1, progress=False)


def test_resume_refuses_another_experiment(serial_store, small_base, tmp_path):
    other = write_toml(tmp_path / "grid.toml", experiment_text(small_base, GRID, seed=6))
    with pytest.raises(StoreError, match="another experiment"):
        sweep(other, serial_store, workers=1, resume=True, progress=False)


def test_resume_refuses_a_folder_that_is_not_a_store(grid_file, tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(StoreError, match="not a countysim sweep store"):
        sweep(grid_file, tmp_path / "plain", workers=1, resume=True, progress=False)


def test_conflicting_executor_options(grid_file, tmp_path):
    with pytest.raises(ValueError, match="either executor"):
        sweep(grid_file, tmp_path / "s.zarr", workers=2, executor=SerialExecutor())
    with pytest.raises(ValueError, match="positive integer"):
        sweep(grid_file, tmp_path / "s.zarr", workers=0)
    assert not (tmp_path / "s.zarr").exists()


# ------------------------------------------------------------------------- CLI, export


def test_cli_sweep_and_export(serial_store, grid_file, tmp_path, capsys):
    store = tmp_path / "cli.zarr"
    assert main(["sweep", str(grid_file), "--store", str(store), "--workers", "1",
                 "--quiet"]) == 0
    out = capsys.readouterr()
    assert "6 of 8 runs done, 2 failed" in out.out and out.err == ""
    assert_same_store(serial_store, store)
    assert main(["sweep", str(grid_file), "--store", str(store), "--quiet"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already exists" in err[0]
    nc = tmp_path / "out" / "grid.nc"
    assert main(["export", str(store), str(nc)]) == 0
    with xr.open_dataset(nc, engine="h5netcdf") as exported:
        expected = open_results(store).load()
        for name in ("workers", "pilot", "collective_income", "pilot_villages"):
            xr.testing.assert_equal(exported[name], expected[name])
        assert list(exported["status"].values.ravel()) == list(
            expected["status"].values.ravel())
        assert list(exported["pilot_rule"].values) == list(expected["pilot_rule"].values)
        assert exported.attrs["experiment_hash"] == expected.attrs["experiment_hash"]


def test_cli_usage_errors(grid_file, tmp_path, capsys):
    assert main(["export", str(tmp_path / "none.zarr"), str(tmp_path / "x.nc")]) == EXIT_USAGE
    assert "no such sweep store" in capsys.readouterr().err
    assert main(["sweep", str(grid_file), "--store", str(tmp_path / "s.zarr"),
                 "--retry-failed"]) == EXIT_USAGE
    assert "--retry-failed needs --resume" in capsys.readouterr().err
    assert main(["sweep", str(grid_file), "--store", str(tmp_path / "s.zarr"),
                 "--workers", "2", "--dask", "tcp://127.0.0.1:1"]) == EXIT_USAGE
    assert "cannot be used with a --dask scheduler address" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["sweep", str(grid_file), "--store", str(tmp_path / "s.zarr"), "--workers",
              "0"])
    assert info.value.code == EXIT_USAGE
    assert not (tmp_path / "s.zarr").exists()


def test_sweep_inside_a_running_event_loop(serial_store, grid_file, tmp_path):
    """Jupyter runs cells inside an event loop: the sweep's writer must not need this one."""
    import asyncio

    store = tmp_path / "in_loop.zarr"

    async def main() -> countysim.SweepSummary:
        asyncio.get_running_loop()  # the sweep below runs while this loop is running
        return countysim.sweep(grid_file, store, workers=1, progress=False)

    summary = asyncio.run(main())
    assert (summary.done, summary.failed, summary.pending) == (6, 2, 0)
    assert_same_store(serial_store, store)


def test_salib_problem_is_the_dict_salib_analyze_takes(small_base, serial_store, tmp_path):
    """countysim.salib_problem (issue 17, item 8): the store keeps JSON text; the helper
    gives SALib's dict, which SALib's analyze functions accept with design_unit as X."""
    import countysim
    from SALib.analyze import delta

    design = ('kind = "lhs"\nsamples = 8\n[design.parameters]\n'
              "activation_rate = { low = 0.02, high = 0.2 }\n"
              "pilot_villages = { low = 2, high = 12 }\n")
    path = write_toml(tmp_path / "lhs.toml",
                      experiment_text(small_base, design, until="2025-02", replicates=1))
    sweep(path, tmp_path / "s.zarr", workers=1, progress=False)
    results = open_results(tmp_path / "s.zarr")
    assert isinstance(results.attrs["salib_problem"], str)
    problem = countysim.salib_problem(results)
    assert problem == countysim.salib_problem(tmp_path / "s.zarr")
    assert problem == {"num_vars": 2, "names": ["activation_rate", "pilot_villages"],
                       "bounds": [[0.0, 1.0], [0.0, 1.0]]}
    assert problem["names"] == list(results["parameter"].values)
    y = results["cooperative_workers"].isel(time=-1).mean("replicate").values
    indices = delta.analyze(problem, results["design_unit"].values, y, num_resamples=5,
                            seed=1)
    assert list(indices["names"]) == problem["names"]
    with pytest.raises(countysim.StoreError, match=r"salib_problem: none: only sampled "
                       r"designs .* design kind is 'grid'"):
        countysim.salib_problem(open_results(serial_store))


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "nope://x", "tcp://"])
def test_bad_dask_address_is_one_line_exit_2(address, grid_file, tmp_path):
    """Issue 18, case 11: ``--dask tcp://127.0.0.1:1`` exited 1, 'cannot write: Timed out'.

    Run as a process, so that whatever the half-built dask Client prints when it is freed
    at exit is seen too.
    """
    pytest.importorskip("distributed")
    env = os.environ | {"COUNTYSIM_DASK_TIMEOUT": "1"}
    done = subprocess.run([sys.executable, "-m", "countysim.cli", "sweep", str(grid_file),
                           "--store", str(tmp_path / "s.zarr"), "--quiet", "--dask", address],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == EXIT_USAGE, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"countysim: error: <arguments>: dask: {address}: ")
    assert "cannot write" not in lines[0]
    assert not (tmp_path / "s.zarr").exists()  # nothing to resume: no store left behind


def test_worker_count_is_capped_at_runs_and_cores():
    """Issue 18, case 13: ``--workers 1000`` on 48 runs started 50 processes (6.1 GB)."""
    from countysim.sweeps.sweep import _executor, usable_cores, worker_count

    cores = usable_cores()
    assert worker_count(1000, 48) == min(48, cores)
    assert worker_count(1000) == cores
    assert worker_count(None, 1) == 1
    assert worker_count(2, 0) == 1  # never zero processes
    with _executor(1000, None, None, 2) as (_pool, slots):
        assert slots == min(2, cores)


def test_a_moved_project_with_a_csv_district_resumes(tmp_path) -> None:
    """Issue 18, case 12: the experiment's digest names the district folder relative to
    the experiment, so a project moved elsewhere resumes its store (it was refused as
    another experiment, even with --force-mixed)."""
    import shutil

    from countysim.core.district import build_district
    from countysim.testing import small_scenario

    first = tmp_path / "first"
    small = small_scenario()
    build_district(small).to_csv(first / "district")
    (first / "small.toml").write_text(small.to_toml(), encoding="utf-8")
    write_toml(first / "csv.toml", 'extends = "small.toml"\nname = "csv"\n'
               'district_data = "district"\n')
    write_toml(first / "exp.toml", 'name = "g"\nscenario = "csv.toml"\nuntil = "2025-02"\n'
               'replicates = 2\nseed = 1\n[design]\nkind = "grid"\n[design.parameters]\n'
               'activation_rate = [0.05, 0.1]\n')
    digest = load_experiment(first / "exp.toml").digest
    assert sweep(first / "exp.toml", first / "runs.zarr", workers=1,
                 progress=False).done == 4
    moved = tmp_path / "elsewhere" / "project"
    moved.parent.mkdir()
    shutil.move(first, moved)
    assert load_experiment(moved / "exp.toml").digest == digest
    summary = sweep(moved / "exp.toml", moved / "runs.zarr", workers=1, resume=True,
                    progress=False)
    assert summary.done == summary.runs == 4
