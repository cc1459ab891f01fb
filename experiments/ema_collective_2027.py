"""Scenario discovery: under which conditions does the 2027 collective-income target fail?

The illustrative target (issue 10; ``village_income_100k`` in
``scenarios/targets/litong_2030_illustrative.toml`` where that file exists): *every
village's collective income is at least 100,000 yuan in 2027*, i.e. the poorest village's
2027 collective income (12 monthly values summed) is >= 100,000 yuan.

countysim runs as an EMA Workbench model (:mod:`countysim.forecasting.ema`): the
uncertainties are the calibrated ensemble's members (``countysim.load_ensemble
("litong_2025")``, falling back to the calibration's prior ranges in
``experiments/calibrate_2025.toml`` when no ensemble is installed) and the seed; the
levers are pilot coverage, technicians and alliances. PRIM finds the box of conditions
where the target fails most; extra-trees feature scoring ranks what drives it.

Run from the repository root (needs ``pip install -e ".[ema]"``)::

    .venv/bin/python experiments/ema_collective_2027.py --scenarios 100 --policies 3
    .venv/bin/python experiments/ema_collective_2027.py --small      # a quick check

Writes ``experiments.csv`` (inputs and the outcome of every run), ``prim_box.png``,
``summary.md`` into ``--out`` (default ``runs/ema_collective_2027[_small]``).
"""

from __future__ import annotations

import argparse
import io
import tomllib
import warnings
from pathlib import Path

import countysim
import numpy as np
import xarray as xr
from countysim.forecasting import ema
from countysim.sweeps.files import write_atomically
from countysim.testing import SMALL_DISTRICT, small_scenario

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TARGETS = REPO / "scenarios" / "targets" / "litong_2030_illustrative.toml"
TARGET_ID = "village_income_100k"
YEAR = 2027
#: The target's level when the targets file is not there (issue 10's wording).
LEVEL = 100_000.0


def fmt(value: float) -> str:
    """A number for the summary table: 3 significant digits, thousands separated."""
    value = float(value)
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.3g}"


def target_level() -> tuple[float, str]:
    """The yearly collective income every village must reach, and where it came from."""
    if TARGETS.is_file():
        for t in tomllib.loads(TARGETS.read_text(encoding="utf-8")).get("targets", []):
            if t.get("id") == TARGET_ID and "level" in t:
                return float(t["level"]), f"{TARGETS.name}: {TARGET_ID}"
    return LEVEL, "issue 10's illustrative target (local definition)"


def uncertainty(ensemble: str, members: int | None) -> dict:
    """The calibrated ensemble (a packaged name or a file), else the calibration's priors."""
    loader = getattr(countysim, "load_ensemble", None)   # countysim.sweeps.ensemble
    try:
        if loader is not None:
            return {"ensemble": loader(ensemble), "members": members}
        if Path(ensemble).is_file():
            return {"ensemble": xr.open_dataset(ensemble).load(), "members": members}
    except (ValueError, OSError):
        pass
    data = tomllib.loads((HERE / "calibrate_2025.toml").read_text(encoding="utf-8"))
    return {"ranges": {k: tuple(v["range"]) for k, v in data["parameters"].items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=None,
                        help="uncertainty samples (default 100; 20 with --small)")
    parser.add_argument("--policies", type=int, default=None,
                        help="lever samples (default 3; 2 with --small)")
    parser.add_argument("--ensemble", default="litong_2025",
                        help="ensemble name or file (default litong_2025; without one the "
                             "calibration's prior ranges are used)")
    parser.add_argument("--members", type=int, default=None, help="first N members only")
    parser.add_argument("--workers", type=int, default=1, help="processes (<= 2 here)")
    parser.add_argument("--seed", type=int, default=2027, help="root seed of the sampling")
    parser.add_argument("--small", action="store_true",
                        help="the small test district (a pipeline check)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from ema_workbench import MultiprocessingEvaluator, SequentialEvaluator, perform_experiments
    from ema_workbench.analysis import feature_scoring, prim

    if args.small:
        scenario, pilots = small_scenario(), SMALL_DISTRICT["villages"]
        n_s, n_p = args.scenarios or 20, args.policies or 2
        technicians = (SMALL_DISTRICT["technicians"] // 2, SMALL_DISTRICT["technicians"] * 2)
    else:
        scenario = countysim.load_scenario(REPO / "scenarios" / "baseline_2025.toml")
        pilots, n_s, n_p = scenario.values["villages"], args.scenarios or 100, args.policies or 3
        technicians = (125, 500)                  # A18's 250 halved / doubled
    out = args.out or REPO / "runs" / ("ema_collective_2027" + ("_small" if args.small else ""))
    level, level_source = target_level()
    source = "prior ranges of experiments/calibrate_2025.toml"
    model = ema.countysim_model(
        scenario, until=f"{YEAR}-12", **uncertainty(args.ensemble, args.members),
        levers={"pilot_villages": (0, pilots), "technicians": technicians,
                "alliances": [True, False]},
        outcomes={k: ema.KEY_OUTCOMES[k] for k in ("min_collective_income",
                                                   "mean_collective_income")})
    if model.ensemble is not None:
        source = f"ensemble {model.ensemble.attrs.get('name', '')} members"
    seeds = np.random.SeedSequence(args.seed).spawn(2)
    evaluator = (SequentialEvaluator(model) if args.workers <= 1
                 else MultiprocessingEvaluator(model, n_processes=args.workers))
    with evaluator, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pandas 3 notices inside the Workbench
        experiments, outcomes = perform_experiments(
            model, scenarios=n_s, policies=n_p, evaluator=evaluator,
            uncertainty_sampling_kwargs={"rng": np.random.default_rng(seeds[0])},
            lever_sampling_kwargs={"rng": np.random.default_rng(seeds[1])})
    fails = ema.failure(outcomes, model, "min_collective_income", YEAR, level)
    poorest = outcomes["min_collective_income"]
    x = ema.with_member_parameters(experiments, model)
    x["alliances"] = x["alliances"].astype(str)  # PRIM treats it as categorical
    # The district draw as a condition PRIM can read: a seed's number has no order, but
    # the poorest village's income in the first year is set mostly by the draw.
    x["poorest_village_2025"] = poorest[:, model.years.index(model.years[0])]
    income = poorest[:, model.years.index(YEAR)]

    out.mkdir(parents=True, exist_ok=True)
    table = x.assign(**{f"poorest_village_{YEAR}": income, "target_failed": fails})
    write_atomically(out / "experiments.csv", table.to_csv(index=False).encode())

    lines = [f"# Where the {YEAR} collective-income target fails", "",
             f"<!-- Generated by experiments/ema_collective_2027.py"
             f"{' --small' if args.small else ''}; do not edit by hand. -->", "",
             f"Target: every village's {YEAR} collective income >= {level:,.0f} yuan "
             f"({level_source}). Runs: {len(x)} ({n_s} uncertainty samples x {n_p} lever "
             f"samples), {'small test district' if args.small else 'Litong'}; uncertainty: "
             f"{source} and the seed.", "",
             f"The target fails in {fails.mean():.0%} of runs. The poorest village's {YEAR} "
             f"collective income: median {np.median(income):,.0f} yuan, 5-95 % "
             f"{np.quantile(income, 0.05):,.0f}-{np.quantile(income, 0.95):,.0f}, highest "
             f"{income.max():,.0f}.", ""]
    if 0 < fails.sum() < len(fails):
        y, what = fails, "the target fails"
    else:
        # Always (or never) failing: PRIM needs both classes, so ask the relative question.
        cut = float(np.median(income))
        y, what = income < cut, (f"the poorest village earns less than the runs' median "
                                 f"({cut:,.0f} yuan; the target "
                                 f"{'always' if fails.all() else 'never'} fails)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        box = prim.Prim(x, y, peel_alpha=0.1).find_box()
    fig = ema.plot_prim_box(box)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    write_atomically(out / "prim_box.png", buffer.getvalue())
    stats = box.peeling_trajectory.iloc[box._cur_box]
    lines += [f"PRIM, where {what}: box with coverage {stats['coverage']:.2f}, density "
              f"{stats['density']:.2f}, mass {stats['mass']:.2f} (the case holds in "
              f"{stats['density']:.0%} of the runs inside the box, which hold "
              f"{stats['coverage']:.0%} of all such runs):", "",
              "| dimension | box | sampled range |", "|---|---|---|"]
    for row in ema.box_limits(box).to_dict("records"):
        if "values" in row and isinstance(row["values"], list):
            lines.append(f"| `{row['dimension']}` | {', '.join(row['values'])} | |")
        else:
            lines.append(f"| `{row['dimension']}` | {fmt(row['low'])} - "
                         f"{fmt(row['high'])} | {fmt(row['range_low'])} - "
                         f"{fmt(row['range_high'])} |")
    numeric = x.assign(alliances=(x["alliances"] == "True").astype(float))
    scores = feature_scoring.get_feature_scores_all(
        numeric, {"poorest": income}, random_state=args.seed)
    ranked = scores.iloc[:, 0].sort_values(ascending=False)
    lines += ["", f"Feature scores (extra trees) for the poorest village's {YEAR} income:",
              "", "| input | score |", "|---|---|"]
    lines += [f"| `{k}` | {v:.3f} |" for k, v in ranked.items()]
    write_atomically(out / "summary.md", ("\n".join(lines) + "\n").encode())
    print("\n".join(lines))
    print(f"\nwrote {out}/experiments.csv, summary.md, prim_box.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

