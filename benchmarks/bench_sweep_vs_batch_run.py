"""The sweep against ``mesa.batch_run`` on the same design, both keeping the same variables.

Design: the small district of ``bench_sweep.py`` (about 1/20 of Litong), 12 months
(2025-01 to 2025-12, after the scenario's spin-up), a grid of 10 paces of cooperative
activation x 5 replicates = 50 runs. Both keep the same :data:`OUTPUTS`, every month:

* the sweep: an experiment with ``outputs = OUTPUTS``, written to a Zarr store on disk
  (``countysim.sweep``);
* ``mesa.batch_run``: :class:`KeepOutputs`, the model whose ``DataCollector`` holds only
  :data:`OUTPUTS` (``data_collection_period=1``), returning a list of dicts in memory.

Each is timed in this process (pytest-benchmark, median of ``ROUNDS`` rounds after one
warm-up round), with 1 process and with 2 worker processes. Wall time on a shared machine
moves with the other jobs, so :func:`test_cpu_time_in_one_process` also runs the two in
turn, round by round, and compares the CPU time of this process (``time.process_time``:
every thread, none of the waiting), which other jobs hardly change. The two share the model, so
the difference is the machinery: for the sweep, the store (creating its layout from a
one-month run, writing each run's chunks) and the executor; for batch_run, loading the
scenario file again in every run and its DataCollector. Run with ``make bench``; the
medians go to ``benchmarks/sweep_vs_batch_run.md``.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import time
from pathlib import Path

import countysim
import mesa
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
BASELINE = HERE.parent / "scenarios" / "baseline_2025.toml"
RESULTS_MD = HERE / "sweep_vs_batch_run.md"
# The small district of bench_sweep.py: a 12-month run takes ~60 ms.
SMALL = {"villages": 20, "townships": 4, "pilot_villages": 5, "firms": 40,
         "population": 20_000, "evaluated_cadres": 60, "mentor_pairs": 5, "recruits": 3,
         "legacy_backlog": 100}
UNTIL, MONTHS = "2025-12", 12
REPLICATES = 5
# 10 paces of cooperative activation, none to 4x the 2025 value (0.08).
ACTIVATION = [round(float(x), 6) for x in np.linspace(0.0, 0.32, 10)]
# District-level series an analyst of the targets keeps (A4, A5, A14, R4).
OUTPUTS = ["urban_placements_ytd", "rural_nonfarm_entrants_ytd",
           "collective_income_growth_pilot", "rural_income_per_capita"]
ROUNDS = 3
RESULTS: dict[str, dict] = {}


class KeepOutputs(countysim.CountyModel):
    """The model as batch_run sees it, collecting only :data:`OUTPUTS`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.datacollector = mesa.DataCollector(model_reporters={n: n for n in OUTPUTS})


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    write_report(RESULTS)


def write_experiment(folder: Path, outputs: list[str] | None) -> Path:
    overrides = "\n".join(f"{k} = {v!r}" for k, v in SMALL.items())
    keep = "" if outputs is None else "outputs = [" + ", ".join(f'"{v}"' for v in outputs) \
        + "]\n"
    text = (f'name = "versus_batch_run"\nscenario = "{BASELINE.as_posix()}"\n'
            f'until = "{UNTIL}"\nreplicates = {REPLICATES}\nseed = 1\n'
            f"{keep}[overrides]\n{overrides}\n"
            f'[design]\nkind = "grid"\n[design.parameters]\nactivation_rate = {ACTIVATION}\n')
    path = folder / "versus.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def experiment_file(tmp_path_factory) -> Path:
    return write_experiment(tmp_path_factory.mktemp("exp"), OUTPUTS)


@pytest.mark.parametrize("workers", [1, 2])
def test_sweep(benchmark, experiment_file, tmp_path_factory, workers):
    exp = countysim.load_experiment(experiment_file)
    folder = tmp_path_factory.mktemp(f"sweep{workers}")
    stores = iter(range(100))

    def setup():
        return (exp, folder / f"s{next(stores)}.zarr"), {"workers": workers,
                                                         "progress": False}

    summary = benchmark.pedantic(countysim.sweep, setup=setup, rounds=ROUNDS,
                                 warmup_rounds=1)
    assert summary.done == exp.n_runs == len(ACTIVATION) * REPLICATES
    ds = countysim.open_results(summary.store)
    assert set(ds.data_vars) - {"status", "error", "origin", "scenario_hash"} == set(OUTPUTS)
    RESULTS[f"sweep_{workers}"] = {"median_s": benchmark.stats.stats.median,
                                   "runs": exp.n_runs, "store_mb": _size(summary.store)}
    shutil.rmtree(folder, ignore_errors=True)


def test_sweep_keeping_every_variable(benchmark, tmp_path_factory):
    """For scale: the same sweep without ``outputs`` (all 46 variables, village ones too)."""
    folder = tmp_path_factory.mktemp("all")
    exp = countysim.load_experiment(write_experiment(folder, None))
    stores = iter(range(100))

    def setup():
        return (exp, folder / f"s{next(stores)}.zarr"), {"workers": 1, "progress": False}

    summary = benchmark.pedantic(countysim.sweep, setup=setup, rounds=ROUNDS,
                                 warmup_rounds=1)
    assert summary.done == exp.n_runs
    RESULTS["sweep_all_1"] = {"median_s": benchmark.stats.stats.median, "runs": exp.n_runs,
                              "store_mb": _size(summary.store)}
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("workers", [1, 2])
def test_batch_run(benchmark, workers):
    rows = benchmark.pedantic(_batch_run, args=(workers,), rounds=ROUNDS, warmup_rounds=1)
    runs = len(ACTIVATION) * REPLICATES
    assert len({r["RunId"] for r in rows}) == runs
    assert len(rows) == runs * MONTHS and set(OUTPUTS) <= set(rows[0])
    RESULTS[f"batch_run_{workers}"] = {"median_s": benchmark.stats.stats.median, "runs": runs}


def _batch_run(workers: int) -> list[dict]:
    return mesa.batch_run(KeepOutputs, parameters={"scenario": str(BASELINE), "until": UNTIL,
                                                   **SMALL, "activation_rate": ACTIVATION},
                          rng=list(range(REPLICATES)), max_steps=MONTHS,
                          data_collection_period=1, number_processes=workers,
                          display_progress=False)


def test_cpu_time_in_one_process(benchmark, experiment_file, tmp_path_factory):
    """Sweep and batch_run in turn, in this process: CPU and wall seconds, per round."""
    exp = countysim.load_experiment(experiment_file)
    folder = tmp_path_factory.mktemp("cpu")
    seconds: dict[str, list[float]] = {"sweep_cpu": [], "batch_run_cpu": [],
                                       "sweep_wall": [], "batch_run_wall": []}
    rounds = iter(range(100))

    def timed(name: str, work, *args, **kwargs):
        cpu, wall = time.process_time(), time.perf_counter()
        out = work(*args, **kwargs)
        seconds[f"{name}_cpu"].append(time.process_time() - cpu)
        seconds[f"{name}_wall"].append(time.perf_counter() - wall)
        return out

    def one_round() -> None:
        summary = timed("sweep", countysim.sweep, exp, folder / f"s{next(rounds)}.zarr",
                        workers=1, progress=False)
        rows = timed("batch_run", _batch_run, 1)
        assert summary.done == len({r["RunId"] for r in rows}) == exp.n_runs

    benchmark.pedantic(one_round, rounds=ROUNDS, warmup_rounds=1)
    medians = {k: statistics.median(v[1:]) for k, v in seconds.items()}  # [0]: warm-up
    benchmark.extra_info.update(medians)
    RESULTS["cpu"] = medians
    shutil.rmtree(folder, ignore_errors=True)


def _size(store: Path) -> float:
    return sum(p.stat().st_size for p in store.rglob("*") if p.is_file()) / 2**20


def write_report(results: dict[str, dict]) -> None:
    """Rewrite benchmarks/sweep_vs_batch_run.md from what this session measured."""
    if not results:
        return
    lines = ["# Sweep against mesa.batch_run (issue 10)", "",
             "Written by `benchmarks/bench_sweep_vs_batch_run.py` (`make bench`); measured "
             f"on {platform.machine()}, {os.cpu_count()} CPUs, Python "
             f"{platform.python_version()}, countysim {countysim.__version__}. "
             f"{len(ACTIVATION) * REPLICATES} runs of the small district, {MONTHS} months, "
             f"both keeping {', '.join(OUTPUTS)} every month; median of {ROUNDS} rounds.", "",
             "| processes | sweep (s) | batch_run (s) | batch_run / sweep |", "|---|---|---|---|"]
    for workers in (1, 2):
        s, b = results.get(f"sweep_{workers}"), results.get(f"batch_run_{workers}")
        if s and b:
            lines.append(f"| {workers} | {s['median_s']:.2f} | {b['median_s']:.2f} | "
                         f"{b['median_s'] / s['median_s']:.2f} |")
    cpu = results.get("cpu")
    if cpu:
        lines += ["", f"In 1 process, the two run in turn ({ROUNDS} rounds, median): CPU time "
                  f"sweep {cpu['sweep_cpu']:.2f} s, batch_run {cpu['batch_run_cpu']:.2f} s "
                  f"(batch_run / sweep {cpu['batch_run_cpu'] / cpu['sweep_cpu']:.2f}); "
                  f"wall time sweep {cpu['sweep_wall']:.2f} s, batch_run "
                  f"{cpu['batch_run_wall']:.2f} s (batch_run / sweep "
                  f"{cpu['batch_run_wall'] / cpu['sweep_wall']:.2f})."]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines += ["", "The table's medians are taken test by test, minutes apart; on a shared "
              f"machine (load average {load} when this was written) they move with the other "
              "jobs, so the in-turn figures are the comparison."]
    every, kept = results.get("sweep_all_1"), results.get("sweep_1")
    if every and kept:
        lines += ["", "The sweep in 1 process keeping every variable instead of `outputs`: "
                  f"{every['median_s']:.2f} s, store {every['store_mb']:.2f} MB on disk "
                  f"against {kept['store_mb']:.2f} MB with `outputs`."]
    lines.append("")
    RESULTS_MD.write_text("\n".join(lines), encoding="utf-8")
