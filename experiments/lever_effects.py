"""Lever effects: every lever's causal chain, and how far it moves development outcomes.

For every lever of the registry, the baseline is run against a changed lever (switched
off to its pre-programme value where it has one, else doubled or flipped) with the same
seeds (common random numbers), 2025-01 to 2030-12, three times: with every causal link's
strength (the parameters with a ``link``, docs/pathways.md) at the weak end of its prior,
at its median (the registry value) and at the strong end. The cadre-side reforms are also
switched off together. Per outcome (a yearly mean over 2025-2030) the page gives the mean
paired difference, its paired standard deviation and z = mean / (sd / sqrt(n)).

Run from the repository root (writes ``docs/lever_effects.md``)::

    .venv/bin/python experiments/lever_effects.py [--median-seeds 30] [--extend-to 120]
        [--seeds 10] [--workers 2]

The median table uses more seeds than the ends (30 against 10 by default): a lever whose
chain is weak shows only over many paired seeds, and the ends only need the direction
and order of size. A lever that moves no development outcome beyond |z| = 3 on the first
30 seeds is run on more (``--extend-to``, 120 by default; a second stage of a sequential
design): its row then reports all of them and says how many. Only a lever that is still
within noise then is called so, with the smallest effect its seeds could have shown.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import math
import sys
from pathlib import Path

import countysim
import numpy as np
from countysim.core.parameters import PARAMETERS, by_section
from tqdm.auto import tqdm

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scenarios" / "baseline_2025.toml"
YEARS = (2025, 2030)
FIRST_SEED = 2000  # seeds the calibration (0-19), validation (100-104) and audit never use

# Outcome name -> (label, unit); each a yearly mean over YEARS.
OUTCOMES = {
    "rural_income": ("rural income per capita", "yuan/yr"),
    "collective_income": ("collective income, all villages", "10k yuan/yr"),
    "jobs": ("urban jobs held", "persons"),
    "placements": ("urban placements (A4 flow)", "persons/yr"),
    "rural_entrants": ("rural workers into income (A5 flow)", "persons/yr"),
    "unemployment": ("urban unemployment rate", "% points"),
    "urban_income": ("urban income per capita", "yuan/yr"),
    "problems_resolved": ("problems resolved (A6 flow)", "problems/yr"),
}
DEVELOPMENT = ("rural_income", "collective_income", "jobs", "placements", "rural_entrants",
               "unemployment")
VILLAGE = ("rural_income", "collective_income")
URBAN = ("jobs", "placements", "rural_entrants")

# The cadre-side reforms of 2025 (A1, A2, A3, A11), switched off together.
CADRE_REFORMS = ("evaluation_strictness", "frontline_share", "firm_visits_per_year",
                 "mentor_pairs", "recruits")
BUNDLE = "cadre-side reforms"

# Link parameters whose *high* prior end is the weak one (more shells, faster closure).
WEAK_HIGH = ("shell_share", "returnee_closure_rate")
ENDS = ("weak", "median", "strong")

# Each lever's chain (lever -> intermediate states -> outcomes) and the link parameters on it.
_EVAL = ("evaluation (A1) -> incentive: effort (L1) -> problems resolved (L4) -> firms' "
         "hiring and investment (L5), stalled village assets (L6), cooperatives (L7); "
         "selection: who leads villages and townships (L2) -> local growth")
_EVAL_LINKS = ("effort_response", "leader_growth_effect", "coop_leader_effect",
               "problem_productivity_penalty", "problem_investment_drag", "unlock_elasticity")
_COOP = ("pilot villages (A13) -> party-branch cooperatives led by the village's cadre (L7: "
         "formation, activation, shells, returns) -> collective income, members' income, "
         "local jobs (A5); reinvestment and new idle land (L8)")
_COOP_LINKS = ("coop_leader_effect", "shell_share", "reinvest_share", "asset_return",
               "idle_land_per_settler", "unlock_elasticity")
_MENTOR = ("mentoring (A11) -> mentees' capability (L3) -> problems resolved (L4), village "
           "leadership (L7, L2) and who is promoted (L2)")
_MENTOR_LINKS = ("mentor_boost", "leader_growth_effect", "coop_leader_effect")
CHAINS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pilot_villages": (_COOP, _COOP_LINKS),
    "pilot_rule": ("which villages pilot: strong branches or most idle assets -> " + _COOP,
                   _COOP_LINKS),
    "alliances": ("alliances (A15) -> shared channels, wider markets (less saturation) -> "
                  "cooperative revenue and farm prices", ("coop_leader_effect", "shell_share")),
    "alliance_size": ("alliance size (A15) -> which pilot villages share channels -> "
                      "cooperative revenue", ("coop_leader_effect", "shell_share")),
    "frontline_share": ("front-line time (A2) -> effort -> problems collected and resolved "
                        "(L4) -> firms (L5), stalled assets (L6); village leadership (L7, L2)",
                        ("problem_productivity_penalty", "problem_investment_drag",
                         "unlock_elasticity", "coop_leader_effect", "leader_growth_effect")),
    "firm_visits_per_year": ("visits (A3) -> firms' problems found early (L5), subsidies, "
                             "the matching platform (L11) -> hiring, job-finding",
                             ("problem_productivity_penalty", "problem_investment_drag",
                              "matching_boost")),
    "subsidy_per_visit": ("subsidies (A3) -> visited firms' labour cost for a year -> hiring",
                          ()),
    "matching_boost": ("big-data matching (A3) -> matching efficiency of firms on the "
                       "platform (L11) -> job-finding, placements", ("matching_boost",)),
    "mentor_pairs": (_MENTOR, _MENTOR_LINKS),
    "recruits": ("mentored newcomers (A11) -> " + _MENTOR.split("-> ", 1)[1], _MENTOR_LINKS),
    "expert_mentors": ("local experts (A18) -> trained technicians -> yields of advised "
                       "households (L9) -> farm income, product lines",
                       ("technician_yield_gain",)),
    "technicians": ("technicians (A18) -> yields of advised households once trained (L9) -> "
                    "farm income", ("technician_yield_gain",)),
    "returnees": ("returnees (A21) -> ventures that hire and may close (L10) -> local jobs "
                  "(A5), collective income, rural income",
                  ("returnee_jobs", "returnee_closure_rate")),
    "nonfarm_trainees": ("training (L12) -> trained farmers move into transfer work -> A5, "
                         "rural income", ("training_nonfarm_gain",)),
    "evaluated_cadres": ("a larger evaluated pool -> stronger selection for leading posts "
                         "(L2) -> local growth; more cadres for the villages: more "
                         "front-line time per village, its problems heard sooner (L6, L7)",
                         ("leader_growth_effect", "coop_leader_effect")),
    "evaluation_strictness": (_EVAL, _EVAL_LINKS),
    "results_weight": (_EVAL, _EVAL_LINKS),
    "integrity_checks": ("integrity checks (A1) -> removal of cadres with failures (L2: "
                         "selection; breach_penalty) -> their villages' leadership and "
                         "problem resolution", ("breach_penalty", "leader_growth_effect",
                                                "coop_leader_effect")),
    "evaluation_interval": ("how often the evaluation decides -> how long leading posts stay "
                            "with acting holders (L2) and how fresh the incentive is (L1)",
                            ("leader_growth_effect", "effort_response")),
    "promotion_score_min": ("the promotion bar -> who may lead, how long posts stay vacant "
                            "(L2); effort near the bar (L1)",
                            ("leader_growth_effect", "effort_response")),
    "advance_min_tenure": ("rank advancement (A8) -> effort of cadres near eligibility (L1) "
                           "-> problems (L4), village leadership (L7, L2)",
                           ("effort_response", "coop_leader_effect", "leader_growth_effect")),
}


def link_parameters() -> list[str]:
    """The causal links' strengths: registry parameters with a ``link`` and a prior."""
    return [n for n, p in PARAMETERS.items() if p.link and p.prior and p.section != "levers"]


def at_end(end: str) -> dict[str, object]:
    """Overrides putting every link strength at the weak end of its prior, its median (the
    registry's sourced value: the baseline scenario holds its ensemble member's draws) or
    its strong end."""
    out = {}
    for name in link_parameters():
        p = PARAMETERS[name]
        lo, hi = p.prior
        weak, strong = (hi, lo) if name in WEAK_HIGH else (lo, hi)
        out[name] = p.kind({"weak": weak, "median": p.default, "strong": strong}[end])
    return out


def change(name: str) -> object:
    """The changed value of a lever: its pre-programme value, else doubled or flipped."""
    p = PARAMETERS[name]
    base = countysim.load_scenario(BASELINE)[name]
    if p.before is not None and p.before != base:
        return p.before
    if p.kind is bool:
        return not base
    if p.choices is not None:
        return next(c for c in p.choices if c not in (base, "listed"))
    doubled = base * 2 if base else (p.bounds[1] + p.bounds[0]) / 2
    lo, hi = p.bounds
    value = min(max(doubled, lo), hi)
    if name == "pilot_villages":
        value = min(value, countysim.load_scenario(BASELINE).villages)
    return p.kind(value)


def changes(name: str) -> dict[str, object]:
    """The overrides of one row: a lever changed alone, or the cadre-side bundle."""
    if name == BUNDLE:
        return {lever: change(lever) for lever in CADRE_REFORMS}
    return {name: change(name)}


def outcomes(ds) -> dict[str, float]:
    """The outcomes of one run: yearly means over :data:`YEARS`."""
    n_years = YEARS[1] - YEARS[0] + 1
    jobs = ds.workers.sel(labour_state="urban_job")
    return {
        "rural_income": float(ds.rural_income_per_capita.mean()),
        "collective_income": float(ds.collective_income.sum()) / 1e4 / n_years,
        "jobs": float(jobs.mean()),
        "placements": float(ds.urban_placements.sum()) / n_years,
        "rural_entrants": float(ds.rural_nonfarm_entrants.sum()) / n_years,
        "unemployment": 100 * float(ds.urban_unemployment_rate.mean()),
        "urban_income": float(ds.urban_income_per_capita.mean()),
        "problems_resolved": float(ds.problems_resolved.sum()) / n_years,
    }


def one_run(args: tuple[str, str | None, int]) -> tuple[str, str | None, int, dict[str, float]]:
    end, name, seed = args
    overrides = at_end(end) | ({} if name is None else changes(name))
    ds = countysim.run(BASELINE, seed=seed, until=f"{YEARS[1]}-12", **overrides)
    return end, name, seed, outcomes(ds)


def summary(results, end: str, name: str, key: str, seeds: list[int]
            ) -> tuple[float, float, float]:
    """Mean paired difference, its sd and z for one row, prior end and outcome."""
    diff = np.array([results[(end, name, s)][key] - results[(end, None, s)][key]
                     for s in seeds])
    mean, sd = float(diff.mean()), float(diff.std(ddof=1))
    z = mean / (sd / math.sqrt(len(seeds))) if sd > 0 else (math.inf if mean else 0.0)
    return mean, sd, z


def moves_development(results, end: str, name: str, seeds: list[int]) -> bool:
    """Whether a row moves any development outcome beyond seed noise (|z| >= 3)."""
    return any(abs(summary(results, end, name, key, seeds)[2]) >= 3 for key in DEVELOPMENT)


def run_all(jobs: list[tuple[str, str | None, int]], workers: int, desc: str, results: dict
            ) -> None:
    """Run ``jobs`` (prior end, row, seed) on ``workers`` processes into ``results``."""
    with cf.ProcessPoolExecutor(workers) as pool:
        runs = pool.map(one_run, jobs, chunksize=4)
        for end, name, seed, out in tqdm(runs, total=len(jobs), desc=desc, unit="run",
                                         disable=not sys.stderr.isatty()):
            results[(end, name, seed)] = out


def _cell(mean: float, sd: float, z: float, key: str) -> str:
    text = f"{mean:+,.2f} ± {sd:,.2f}" if key == "unemployment" else f"{mean:+,.0f} ± {sd:,.0f}"
    return f"**{text}**" if abs(z) >= 3 else text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10,
                        help="paired seeds at the weak and strong ends of the priors")
    parser.add_argument("--median-seeds", type=int, default=30,
                        help="paired seeds at the median of the priors (the first table)")
    parser.add_argument("--extend-to", type=int, default=120,
                        help="paired seeds at the median for a lever within noise on the "
                        "first --median-seeds (0: no second stage)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "lever_effects.md")
    parser.add_argument("--ends", nargs="+", choices=ENDS, default=list(ENDS),
                        help="prior ends to run (a quick look: --ends median)")
    args = parser.parse_args()
    ends = [e for e in ENDS if e in args.ends]
    levers = [p.name for p in by_section("levers")]
    rows = [*levers, BUNDLE]
    n_seeds = {end: args.median_seeds if end == "median" else args.seeds for end in ends}
    seeds_at = {end: list(range(FIRST_SEED, FIRST_SEED + n)) for end, n in n_seeds.items()}
    seeds = seeds_at.get("median", next(iter(seeds_at.values())))
    jobs = [(end, name, s) for end in ends for name in (None, *rows) for s in seeds_at[end]]
    results: dict[tuple[str, str | None, int], dict[str, float]] = {}
    run_all(jobs, args.workers, "lever runs", results)
    # Second stage: more paired seeds for the rows within noise on the first ones.
    seeds_of = dict.fromkeys(rows, seeds)
    if "median" in ends and args.extend_to > len(seeds):
        weak_rows = [r for r in rows if not moves_development(results, "median", r, seeds)]
        more = list(range(seeds[-1] + 1, FIRST_SEED + args.extend_to))
        if weak_rows:
            run_all([("median", name, s) for name in (None, *weak_rows) for s in more],
                    args.workers, "more seeds", results)
            seeds_of |= dict.fromkeys(weak_rows, seeds + more)
    base = {k: np.mean([results[("median", None, s)][k] for s in seeds]) for k in OUTCOMES}
    lines = [
        "# Lever effects on development outcomes",
        "",
        "<!-- Generated by experiments/lever_effects.py; do not edit by hand. -->",
        "",
        f"Each lever of `scenarios/baseline_2025.toml` changed alone, against the baseline "
        f"with the same seeds (common random numbers; seeds {seeds[0]}-{seeds[-1]} at the "
        f"median of the priors, the first {args.seeds} at their ends; never used by the "
        f"calibration), outcomes as yearly means over {YEARS[0]}-{YEARS[1]}. A "
        "lever is switched to its pre-programme (2024) value where it has one, else doubled "
        "(numbers) or flipped (switches); the last row switches the cadre-side reforms off "
        f"together ({', '.join(f'`{n}`' for n in CADRE_REFORMS)}). Cells: mean paired "
        "difference ± paired sd; **bold** where |z| = |mean| / (sd / √n) ≥ 3, i.e. beyond "
        "seed noise. A lever within noise on these seeds is run on more (up to seed "
        f"{FIRST_SEED + args.extend_to - 1}), and its row gives them all; the last column "
        "says how many. Every causal link's strength is at the median of its prior (the "
        "registry value, not the baseline member's draw) in the first table; the second "
        "gives the largest effect at the weak and strong ends of the priors too "
        "(docs/pathways.md).",
        "",
        "Baseline levels (median priors, mean over the seeds): "
        + "; ".join(f"{OUTCOMES[k][0]} {base[k]:,.2f} {OUTCOMES[k][1]}" if k == "unemployment"
                    else f"{OUTCOMES[k][0]} {base[k]:,.0f} {OUTCOMES[k][1]}" for k in OUTCOMES)
        + ".",
        "",
        "## At the median of the priors",
        "",
        "| lever | change | " + " | ".join(f"{OUTCOMES[k][0]} ({OUTCOMES[k][1]})"
                                            for k in OUTCOMES) + " | moves a development "
        "outcome | paired seeds |",
        "|---|---|" + "---|" * len(OUTCOMES) + "---|---|",
    ]
    quiet: list[str] = []
    best: dict[str, str] = {}
    for name in rows:
        cells, top = [], (0.0, DEVELOPMENT[0])
        moves = moves_development(results, "median", name, seeds_of[name])
        for key in OUTCOMES:
            mean, sd, z = summary(results, "median", name, key, seeds_of[name])
            if key in DEVELOPMENT and abs(z) > top[0]:
                top = (abs(z), key)
            cells.append(_cell(mean, sd, z, key))
        best[name] = top[1]
        what = ", ".join(f"{k} → {v}" for k, v in changes(name).items())
        label = f"`{name}`" if name != BUNDLE else f"**{name}**"
        lines.append(f"| {label} | {what} | " + " | ".join(cells)
                     + f" | {'yes' if moves else 'no'} | {len(seeds_of[name])} |")
        if not moves:
            quiet.append(name)
    lines += ["", "## Chains, links and the priors' ends", "",
              "Each lever's chain and the link strengths on it; the outcome it moves most "
              "(largest |z| at the median), as mean paired difference (% of the baseline, z) "
              "with every link at the weak end, the median and the strong end of its prior.",
              "", "| lever | chain | links | outcome | weak end | median | strong end |",
              "|---|---|---|---|---|---|---|"]
    for name in rows:
        key = best[name]
        chain, links = (CHAINS.get(name, ("", ())) if name != BUNDLE else
                        ("all of the chains of the five levers above", ()))
        cells = []
        for end in ENDS:
            if end not in ends:
                cells.append("not run")
                continue
            at = seeds_of[name] if end == "median" else seeds_at[end]
            mean, _, z = summary(results, end, name, key, at)
            level = np.mean([results[(end, None, s)][key] for s in at])
            pct = 100 * mean / level if key != "unemployment" and level else float("nan")
            share = f", {pct:+.2f} %" if np.isfinite(pct) else ""
            cells.append(f"{mean:+,.2f}{share}, z {z:+.1f}" if key == "unemployment"
                         else f"{mean:+,.0f}{share}, z {z:+.1f}")
        link_text = ", ".join(f"`{n}`" for n in links) or "-"
        lines.append(f"| `{name}` | {chain} | {link_text} | {OUTCOMES[key][0]} | "
                     + " | ".join(cells) + " |")
    lines += ["", "## The cadre-side reforms together", "",
              "Every development outcome with the five cadre-side levers switched off "
              "together: mean paired difference as % of the baseline (z), at each end of "
              "the priors.", "",
              "| outcome | " + " | ".join(ends) + " |", "|---|" + "---|" * len(ends)]
    for key in DEVELOPMENT:
        parts = []
        for end in ends:
            mean, _, z = summary(results, end, BUNDLE, key, seeds_at[end])
            level = np.mean([results[(end, None, s)][key] for s in seeds_at[end]])
            parts.append(f"{mean:+.2f} points (z {z:+.1f})" if key == "unemployment"
                         else f"{100 * mean / level:+.2f} % (z {z:+.1f})")
        lines.append(f"| {OUTCOMES[key][0]} | " + " | ".join(parts) + " |")
    lines += ["", "## Levers that do not move a development outcome beyond noise at the "
              "median", "",
              "For each: its chain, the outcome it moves most and by how much, and the "
              "smallest effect its seeds could have shown (3 paired sd / √n).", ""]
    for name in quiet:
        key = best[name]
        mean, sd, z = summary(results, "median", name, key, seeds_of[name])
        level = base[key]
        detectable = 3 * sd / math.sqrt(len(seeds_of[name]))
        size = (f"{mean:+.3f} points (z {z:+.1f}; detectable {detectable:.3f})"
                if key == "unemployment" else
                f"{100 * mean / level:+.2f} % (z {z:+.1f}; detectable "
                f"{100 * detectable / level:.2f} %)")
        lines.append(f"- `{name}`: {CHAINS.get(name, ('', ()))[0]}. Largest: "
                     f"{OUTCOMES[key][0]} {size}.")
    if not quiet:
        lines.append("None: every lever moves at least one development outcome beyond seed "
                     "noise.")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
