"""Sensitivity along time to 2030: run experiments/sensitivity_2030.toml, then Morris indices.

Runs the sweep (resumable: run it again with ``--resume`` after an interruption), reduces
every run to yearly key outcomes, computes Morris indices per year
(:func:`countysim.forecasting.sensitivity.analyse`: failed runs are left out, see there)
and writes the indices Dataset (NetCDF) and a figure of ``mu_star`` over time.

Run from the repository root::

    .venv/bin/python experiments/sensitivity_2030.py --workers 2       # full: 416 runs
    .venv/bin/python experiments/sensitivity_2030.py --small           # pipeline check

``--small`` uses the small test district (:data:`countysim.testing.SMALL_DISTRICT`), 4
trajectories and 1 replicate (52 runs, under a minute): it shows the pipeline works; its
indices describe a toy district, not Litong.
"""

from __future__ import annotations

import argparse
import io
import sys
import tomllib
from pathlib import Path

import countysim
import numpy as np
from countysim.forecasting import sensitivity as sa
from countysim.sweeps.files import write_atomically, write_netcdf
from countysim.testing import SMALL_DISTRICT, small_scenario

HERE = Path(__file__).resolve().parent
EXPERIMENT = HERE / "sensitivity_2030.toml"

#: The key outcomes, each one value per run and year.
OUTCOMES = {
    "urban_placements": sa.yearly("urban_placements_ytd", "december"),
    "rural_workers_into_income": sa.yearly("rural_nonfarm_entrants_ytd", "december"),
    "rural_income_per_capita": sa.yearly("rural_income_per_capita", "december"),
    "urban_unemployment_rate": sa.yearly("urban_unemployment_rate", "mean"),
    "min_collective_income": sa.yearly("collective_income", "sum", village="min"),
}


def small_experiment(folder: Path, trajectories: int = 4) -> countysim.Experiment:
    """The experiment on the small district (its scenario written to ``folder``)."""
    data = tomllib.loads(EXPERIMENT.read_text(encoding="utf-8"))
    design = dict(data["design"], trajectories=trajectories)
    params = dict(design["parameters"])
    params["pilot_villages"] = {"low": 0, "high": SMALL_DISTRICT["villages"]}
    design["parameters"] = params
    scenario = folder / "small_district.toml"
    write_atomically(scenario, small_scenario().to_toml().encode())
    return countysim.Experiment.build(
        name=data["name"] + "_small", description=data["description"] + " (small district)",
        scenario=scenario, until=data["until"], replicates=1, seed=data["seed"],
        design=design)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="small district, 52 runs")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (<= 2 here)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default runs/sensitivity_2030[_small])")
    parser.add_argument("--trajectories", type=int, default=4,
                        help="Morris trajectories with --small (default 4)")
    parser.add_argument("--resume", action="store_true", help="resume an interrupted sweep")
    args = parser.parse_args(argv)

    out = args.out or Path("runs") / ("sensitivity_2030_small" if args.small
                                      else "sensitivity_2030")
    out.mkdir(parents=True, exist_ok=True)
    exp = (small_experiment(out, args.trajectories) if args.small
           else countysim.load_experiment(EXPERIMENT))
    store = out / "store.zarr"
    print(f"{exp!r}: {exp.n_runs} runs into {store}", file=sys.stderr)
    summary = countysim.sweep(exp, store, workers=args.workers, resume=args.resume)
    print(summary, file=sys.stderr)

    results = countysim.open_results(store)
    indices = sa.analyse(results, OUTCOMES, seed=exp.seed)
    indices.attrs["experiment_toml"] = exp.text or exp.to_toml()
    write_netcdf(indices, out / "indices.nc")
    fig = sa.plot_indices(indices)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    write_atomically(out / "indices.png", buffer.getvalue())

    # Summary: per outcome, the factors by mu_star in the last year, relative to the
    # largest (Morris' usual screening read-out).
    last = int(indices.year.max())
    print(f"Morris mu_star in {last}, relative to each outcome's largest "
          f"({int(indices.n_groups.min())} of {indices.attrs['blocks_total']} trajectories "
          "used):")
    for outcome in indices.outcome.values:
        mu = indices.mu_star.sel(outcome=outcome, year=last)
        order = np.argsort(-mu.values)
        top = ", ".join(f"{indices.factor.values[i]} {mu.values[i] / mu.values[order[0]]:.2f}"
                        for i in order[:4])
        print(f"  {outcome}: {top}")
    print(f"wrote {out / 'indices.nc'} and {out / 'indices.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
