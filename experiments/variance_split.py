"""The forecast's spread split by source: link priors, district draws, other parameters, seeds.

Issue 16, item 7. The forecast (``experiments/forecast_2030.toml``) runs every package on
every member of ``litong_2025`` with several seeds; its spread over runs mixes four
sources. With 60 members and ~61 varying parameters a regression split would be noise,
so this script runs four nested designs on the same members and seeds (common random
numbers) and takes differences of variances:

* D0 "full": each member as shipped (fitted values, carried hand-set draws, causal-link
  draws, its own district seed), as the forecast runs it;
* D1 "links at prior medians": D0 with every causal-link strength (the ensemble's
  parameters with a ``link``, docs/pathways.md) at its registry value, the median of its
  prior as the model uses it;
* D2 "+ district fixed": D1 with the district seed of ``scenarios/baseline_2025.toml``;
* D3 "+ other parameters fixed": the package's own scenario (the baseline's values and
  district) with the links at their registry values, for every run: only seeds vary.

Per package and target, with ``V`` the variance over runs (members x seeds) of the
target's value in its headline year, the sequential split is: links ``V0 - V1``, district
``V1 - V2``, other parameters ``V2 - V3``, seeds ``V3``, each as a share of ``V0``. The
order matters (a source's share is its effect with the earlier ones already fixed), and a
negative difference is noise and is reported as it is. Standard errors: bootstrap over
members (a member is resampled with its seeds, in all four designs together).

Run from the repository root (writes ``docs/variance_split.md``)::

    .venv/bin/python experiments/variance_split.py [--workers 2] [--members 60]
        [--seeds 2] [--packages NAME ...] [--until 2030-12]

Seeds: run (member ``m``, replicate ``r``) has ``SeedSequence(seed, spawn_key=(m, r))``
with the forecast experiment's ``seed``, the same in every design and package. Not the
forecast's own seeds (``spawn_key=(r,)``, the same for every member): in D3 every member
is the same scenario, so those would give only ``--seeds`` distinct runs and no estimate
of the seed variance. For the same reason the forecast's store cannot stand in for D0.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr
from countysim.core.county import run as run_model
from countysim.core.parameters import PARAMETERS
from countysim.core.scenario import Scenario, load_scenario
from countysim.forecasting.forecast import load_forecast_spec
from countysim.forecasting.targets import ForecastTargets, evaluate
from countysim.sweeps.ensemble import member_values
from tqdm.auto import tqdm

REPO = Path(__file__).resolve().parents[1]
FORECAST = REPO / "experiments" / "forecast_2030.toml"
BASELINE = REPO / "scenarios" / "baseline_2025.toml"
DESIGNS = ("full", "links at prior medians", "+ district fixed", "+ other parameters fixed")
SOURCES = ("links", "district", "other parameters", "seeds")
N_BOOT = 1000
BOOT_SEED = 167  # the bootstrap's own stream (issue 16, item 7); not a model seed


def link_parameters(ensemble: xr.Dataset) -> list[str]:
    """The causal links' strengths the ensemble draws: its parameters with a ``link``.

    Only these vary between members; a link outside the ensemble (``matching_boost`` is a
    lever) is the same in every run and carries no spread.
    """
    return [str(p) for p in ensemble["parameter"].values
            if PARAMETERS[str(p)].link and PARAMETERS[str(p)].prior]


def at_medians(links: list[str]) -> dict[str, object]:
    """Every link strength at its registry value (the median of its prior as the model
    uses it; not the baseline's draw, which is its central member's)."""
    return {name: PARAMETERS[name].kind(PARAMETERS[name].default) for name in links}


def design_scenario(design: int, package: Scenario, values: dict[str, object],
                    links: list[str], district_seed: int) -> Scenario:
    """The scenario of one member in one package under design ``design`` (0-3).

    Args:
        design: Index into :data:`DESIGNS`.
        package: The package's scenario (a file of the forecast's design, with the
            experiment's overrides), holding the baseline's values and district.
        values: The member's values (:func:`countysim.sweeps.ensemble.member_values`).
        links: The link parameters (:func:`link_parameters`).
        district_seed: The baseline scenario's district seed (D2).

    Returns:
        The scenario to run.
    """
    medians = at_medians(links)
    if design == 0:
        changes = values
    elif design == 1:
        changes = values | medians
    elif design == 2:
        changes = values | medians | {"district_seed": district_seed}
    else:
        # The package as shipped: every parameter at the baseline's value; the links stay
        # at their medians so that D3 is nested in D2 (only the other parameters change).
        changes = medians | {"district_seed": district_seed}
    return package.replace(source=f"variance split: {DESIGNS[design]}", **changes)


def run_seed(root: int, member: int, replicate: int) -> np.random.SeedSequence:
    """The seed of (member, replicate): the same in every design and package."""
    return np.random.SeedSequence(root, spawn_key=(member, replicate))


def one_run(args: tuple[Scenario, int, int, int, str, ForecastTargets, tuple[str, ...]]
            ) -> np.ndarray:
    """One run's value of every target in every year, shape ``(target, year)``.

    The value is the forecast's own (:func:`countysim.forecasting.targets.evaluate`, as
    :func:`countysim.forecasting.forecast.forecast_dataset` uses it).
    """
    scenario, root, member, replicate, until, targets, outputs = args
    ds = run_model(scenario, seed=run_seed(root, member, replicate), until=until,
                   variables=outputs)
    return evaluate(ds[list(targets.indicators)], targets)["value"].values


def variances(values: np.ndarray) -> np.ndarray:
    """Variance over runs: ``values`` is ``(design, member, seed, ...)``; the result is
    ``(design, ...)``. Population variance (ddof 0); the shares do not depend on it, as
    every design has the same runs."""
    flat = values.reshape(values.shape[0], -1, *values.shape[3:])
    return np.nanvar(flat, axis=1)


def split(values: np.ndarray) -> np.ndarray:
    """The sequential split of the D0 variance, shape ``(source, ...)`` (see SOURCES).

    Args:
        values: ``(design, member, seed, ...)`` with the four designs of :data:`DESIGNS`.

    Returns:
        ``[(V0 - V1), (V1 - V2), (V2 - V3), V3] / V0``; the four sum to 1. A negative
        difference (noise: a fixed source cannot add variance in expectation) is kept as
        it is. NaN where V0 is 0 or NaN.
    """
    v = variances(values)
    parts = np.stack([v[0] - v[1], v[1] - v[2], v[2] - v[3], v[3]])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(v[0] > 0, parts / np.where(v[0] > 0, v[0], 1.0), np.nan)


def bootstrap_se(values: np.ndarray, n_boot: int = N_BOOT,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """Bootstrap standard errors of :func:`split` over members.

    A resample draws members with replacement and keeps each with all its seeds in all
    four designs, so the designs stay paired (common random numbers) as in the runs.

    Args:
        values: ``(design, member, seed, ...)``.
        n_boot: Resamples.
        rng: The resampling stream (default from :data:`BOOT_SEED`).

    Returns:
        The standard deviation over resamples, shape ``(source, ...)``.
    """
    rng = rng if rng is not None else np.random.default_rng(BOOT_SEED)
    n = values.shape[1]
    draws = np.stack([split(values[:, rng.integers(0, n, n)]) for _ in range(n_boot)])
    return np.nanstd(draws, axis=0, ddof=1)


def headline_index(years: list[int], headline: int) -> int:
    """The year a target's split is given for: its headline year, or the last year run
    if the runs end before it (as ``summary_table`` does)."""
    return years.index(headline) if headline in years else len(years) - 1


def _pct(share: float, se: float) -> str:
    if not np.isfinite(share):
        return "-"
    text = f"{100 * share:.0f} ± {100 * se:.0f} %"
    # Within two standard errors of zero: the reader should not read a source into it.
    return text if abs(share) >= 2 * se else f"({text})"


def reading(label: str, year: int, shares: np.ndarray, se: np.ndarray) -> str:
    """One plain-language sentence for a target, from its shares and their errors."""
    if not np.all(np.isfinite(shares)):
        return f"- {label} ({year}): no spread to split (every run has the same value)."

    def part(k: int) -> str:
        noise = " (within noise)" if abs(shares[k]) < 2 * se[k] else ""
        return f"{100 * shares[k]:.0f} %{noise}"

    top = int(np.argmax(shares))
    largest = ("the district draw" if SOURCES[top] == "district" else SOURCES[top])
    clear = abs(shares[top]) >= 2 * se[top]
    return (f"- {label}: links carry {part(0)} of the {year} spread over runs, the "
            f"district draw {part(1)}, other parameters {part(2)} and seeds {part(3)}; "
            f"the largest is {largest}" + ("" if clear else ", within noise") + ".")


def page(values: np.ndarray, packages: list[str], targets: ForecastTargets, years: list[int],
         n_members: int, n_seeds: int, links: list[str], seed: int, command: str,
         seconds: float) -> list[str]:
    """The docs page's lines (``values``: ``(package, design, member, seed, target, year)``)."""
    n_runs = values[..., 0, 0].size
    lines = ["# The forecast's spread by source", "",
             "<!-- Generated by experiments/variance_split.py; do not edit by hand. -->", "",
             f"Made by `{command}`: {len(packages)} package(s) x {len(DESIGNS)} designs x "
             f"{n_members} members x {n_seeds} seeds = {n_runs:,} runs to {years[-1]}-12 "
             f"({seconds / 60:.1f} min).", "",
             "The spread of each target's value over the forecast's runs "
             "([Forecasts to 2030](forecast.md)) split into its sources by four nested "
             "designs on the same members and seeds (common random numbers): D0 each "
             "member as shipped; D1 every causal-link strength at its registry value (the "
             f"median of its prior: {', '.join(f'`{n}`' for n in links)}); D2 also the "
             "baseline scenario's district draw; D3 also every other parameter at the "
             "baseline's value (only seeds vary). With V the variance over runs (members x "
             "seeds) in the target's headline year (or the last year run), the split is "
             "**sequential, in the order links, district, other parameters**: links "
             "V0 - V1, district V1 - V2, other parameters V2 - V3, seeds V3, as shares of "
             "V0 (they sum to 100 %). A source's share is its effect with the earlier ones "
             "already fixed; another order would give other shares where sources interact. "
             "**Negative differences are reported as they are** (noise: fixing a source "
             "cannot add variance in expectation), not clipped. Each share is ± its "
             f"bootstrap standard error over members ({N_BOOT} resamples of the members, "
             "each with its seeds in all four designs); in brackets: within two standard "
             "errors of zero. Seeds: run (member m, replicate r) is "
             f"`SeedSequence({seed}, spawn_key=(m, r))` in every design and package.", ""]
    for p, package in enumerate(packages):
        lines += [f"## {package}", "",
                  "| target | year | sd over runs (D0) | links | district | other "
                  "parameters | seeds |", "|---|---|---|---|---|---|---|"]
        for t, target in enumerate(targets):
            y = headline_index(years, target.headline)
            data = values[p, :, :, :, t, y]
            shares, se = split(data), bootstrap_se(data)
            sd = float(np.sqrt(variances(data)[0]))
            lines.append(f"| {target.label} | {years[y]} | {sd:.4g} {target.units} | "
                         + " | ".join(_pct(s, e) for s, e in zip(shares, se, strict=True))
                         + " |")
        lines.append("")
    first = packages[0]
    lines += ["## Reading", "",
              f"Under `{first}`, per target (shares of the spread over runs; within noise: "
              "less than two standard errors from zero):", ""]
    for t, target in enumerate(targets):
        y = headline_index(years, target.headline)
        data = values[0, :, :, :, t, y]
        lines.append(reading(target.label, years[y], split(data), bootstrap_se(data)))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--members", type=int, default=None,
                        help="the first N members of the ensemble (default: all)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per member")
    parser.add_argument("--packages", nargs="+", default=None,
                        help="package names (scenario names of the forecast's design; "
                        "default: all)")
    parser.add_argument("--until", default=None,
                        help="last month (default: the forecast experiment's until)")
    parser.add_argument("--forecast", type=Path, default=FORECAST,
                        help="the forecast experiment whose packages, ensemble, targets "
                        "and seed are used")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "variance_split.md")
    args = parser.parse_args()
    spec = load_forecast_spec(args.forecast)
    exp = spec.experiment
    ensemble = exp.ensemble
    n_members = args.members or ensemble.sizes["member"]
    if not 1 < n_members <= ensemble.sizes["member"]:
        parser.error(f"--members: 2..{ensemble.sizes['member']}")
    names = [s.name for s in exp.scenarios]
    chosen = args.packages or names
    unknown = [p for p in chosen if p not in names]
    if unknown:
        parser.error(f"--packages: {unknown} not in {names}")
    until = args.until or exp.until
    links = link_parameters(ensemble)
    district_seed = load_scenario(BASELINE)["district_seed"]
    outputs = tuple(dict.fromkeys((*spec.targets.indicators, *(exp.outputs or ()))))
    keys, jobs = [], []
    for p, name in enumerate(chosen):
        package = exp.scenarios[names.index(name)]
        for d in range(len(DESIGNS)):
            for m in range(n_members):
                scenario = design_scenario(d, package, member_values(ensemble, m), links,
                                           district_seed)
                for r in range(args.seeds):
                    keys.append((p, d, m, r))
                    jobs.append((scenario, exp.seed, m, r, until, spec.targets, outputs))
    start = time.perf_counter()
    results = []
    with cf.ProcessPoolExecutor(args.workers) as pool:
        for out in tqdm(pool.map(one_run, jobs, chunksize=2), total=len(jobs), desc="runs",
                        unit="run", disable=not sys.stderr.isatty()):
            results.append(out)
    seconds = time.perf_counter() - start
    n_years = results[0].shape[1]
    values = np.full((len(chosen), len(DESIGNS), n_members, args.seeds,
                      len(spec.targets), n_years), np.nan)
    for key, out in zip(keys, results, strict=True):
        values[key] = out
    # The years evaluate covers: every calendar year from the experiment's start on.
    years = list(range(int(exp.start[:4]), int(exp.start[:4]) + n_years))
    command = shlex.join([".venv/bin/python", "experiments/variance_split.py",
                          *sys.argv[1:]])
    lines = page(values, chosen, spec.targets, years, n_members, args.seeds, links,
                 exp.seed, command, seconds)
    if n_members < ensemble.sizes["member"] or len(chosen) < len(names):
        # A trial run must not be read as the forecast's split.
        lines.insert(6, f"**A trial run** ({n_members} of {ensemble.sizes['member']} "
                     f"members, {len(chosen)} of {len(names)} packages): the shares are "
                     "not the forecast's; run the script without --members and --packages "
                     "for them.\n")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"{len(jobs)} runs in {seconds:.1f} s on {args.workers} workers: "
          f"{seconds * args.workers / len(jobs):.2f} worker-s per run", file=sys.stderr)


if __name__ == "__main__":
    main()
