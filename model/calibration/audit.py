"""The identity audit: which article figures and comparators are the model's own outputs.

An output that moves one-for-one with a single input and with nothing else is an
*identity* of that input: matching it checks the input, not the model. The audit perturbs
every numeric parameter of a scenario by :data:`STEP` (±20 %) on paired seeds (common
random numbers), reads every target of a targets file (the article's figures and the
comparators, :mod:`countysim.calibration.targets`) and computes the central elasticity

    e = ((y+ - y-) / y0) / ((x+ - x-) / x0)

of each output ``y`` to each parameter ``x`` (``y0``, ``x0``: the unperturbed values;
``x+``, ``x-`` clipped to the parameter's bounds, integers rounded), with its standard
error over the seed pairs. :func:`classify` then applies the rule of
:data:`IDENTITY_BAND` and :data:`OTHERS_BELOW`.

Example:
    >>> from countysim.calibration.audit import audit, classify  # doctest: +SKIP
    >>> result = audit("scenarios/baseline_2025.toml", parameters=["separation_rate"],
    ...                seeds=(3000, 3001))  # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..core.county import run
from ..core.errors import InputError
from ..core.parameters import PARAMETERS
from ..core.scenario import Scenario, ScenarioError, load_scenario
from ..core.version import __version__
from .targets import Target, load_targets

__all__ = ["AUDIT_SEEDS", "IDENTITY_BAND", "OTHERS_BELOW", "STEP", "TABLE_COLUMNS",
           "Classification", "audit", "audit_parameters", "classify", "classify_all",
           "read_table", "to_markdown"]

STEP = 0.2  # the relative perturbation of each parameter (issue 15: +-20 %)
#: An identity moves with one input at an elasticity of 0.8-1.2 in absolute value ...
IDENTITY_BAND = (0.8, 1.2)
#: ... and with every other input below this (absolute elasticity).
OTHERS_BELOW = 0.1
#: Seeds no other check uses: the calibration (0-19), validation (100-104), the long-run
#: tests (200-204) and the lever effects (2000-) use others.
AUDIT_SEEDS = tuple(range(3000, 3006))
#: Parameters that are not quantities to perturb: a seed, and the length of the spin-up.
NOT_PERTURBED = ("district_seed", "spinup_months")

#: The columns of the audit's table (``countysim audit --table``, e.g.
#: ``docs/audit_baseline_2025.csv``): one row per parameter and output.
TABLE_COLUMNS = ("parameter", "output", "elasticity", "se")

Runner = Callable[[Scenario, int, Sequence[Target]], np.ndarray]


def run_targets(scenario: Scenario, seed: int, targets: Sequence[Target]) -> np.ndarray:
    """Run ``scenario`` with ``seed`` to the last target's month and read every target."""
    until = max(t.read_at for t in targets)
    ds = run(scenario, seed=seed, until=until)
    return np.array([t.evaluate(ds, scenario.start) for t in targets], dtype=float)


def _perturbed(name: str, value: float) -> tuple[float, float]:
    """The low and high values of a parameter: ±STEP, within bounds, integers rounded."""
    param = PARAMETERS[name]
    lo, hi = param.bounds
    values = [min(max(value * (1.0 + s * STEP), lo), hi) for s in (-1.0, 1.0)]
    if param.kind is int:
        values = [round(v) for v in values]
    return values[0], values[1]


def audit_parameters(scenario: Scenario) -> tuple[list[str], dict[str, str]]:
    """The parameters the audit perturbs, and those it leaves out with the reason.

    Numeric parameters (not :data:`NOT_PERTURBED`) whose value is not zero (a relative
    change of zero is none) and that have no schedule; both sides must be valid values.
    """
    chosen, skipped = [], {}
    for name, param in PARAMETERS.items():
        if param.kind not in (int, float) or name in NOT_PERTURBED:
            continue
        value = scenario[name]
        if name in scenario.schedules:
            skipped[name] = "scheduled lever"
        elif value == 0:
            skipped[name] = "zero: a relative change is no change"
        else:
            low, high = _perturbed(name, value)
            if low == high:
                skipped[name] = "its bounds or rounding leave no change"
                continue
            try:
                scenario.replace(**{name: low})
                scenario.replace(**{name: high})
            except ScenarioError as exc:
                skipped[name] = f"a perturbed value is inconsistent ({exc.problem})"
                continue
            chosen.append(name)
    return chosen, skipped


def _task(args: tuple[Scenario, int, tuple[Target, ...], Runner]) -> np.ndarray:
    scenario, seed, targets, runner = args
    return runner(scenario, seed, targets)


def audit(scenario: Scenario | str | Path, targets: Sequence[Target] | str | Path | None = None,
          *, parameters: Sequence[str] | None = None, seeds: Sequence[int] = AUDIT_SEEDS,
          workers: int = 1, progress: bool = False, runner: Runner = run_targets) -> xr.Dataset:
    """Elasticity of every target to every parameter (±STEP, paired seeds).

    Args:
        scenario: The scenario (or its file).
        targets: The targets (or their file); default the scenario's 2025 targets file,
            ``scenarios/targets/litong_2025.toml`` beside it.
        parameters: The parameters to perturb (default :func:`audit_parameters`).
        seeds: The seeds; every perturbed run is paired with the base run of its seed.
        workers: Processes to run in (1: in this process).
        progress: Show a progress bar (tqdm).
        runner: ``runner(scenario, seed, targets)`` returns the targets' values of one run
            (default :func:`run_targets`); tests pass a cheap function here.

    Returns:
        A Dataset with dims ``parameter`` x ``output``: ``elasticity`` and its standard
        error ``se``; ``value``, ``low`` and ``high`` (parameter values); ``base`` (output,
        the seed mean of the unperturbed runs); ``skipped`` parameters in the attributes.

    Raises:
        ValueError: No seeds, fewer than two for a standard error, or an unknown parameter.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if targets is None:
        if scenario.path is None:
            raise ValueError("targets: give a targets file (the scenario has no folder)")
        targets = Path(scenario.path).parent / "targets" / "litong_2025.toml"
    if not isinstance(targets, Sequence) or isinstance(targets, str):
        targets = load_targets(targets, require_held_out=False)
    targets = tuple(targets)
    seeds = [int(s) for s in seeds]
    if len(seeds) < 2:
        raise ValueError(f"seeds: {len(seeds)} given; a standard error needs at least 2")
    chosen, skipped = audit_parameters(scenario)
    if parameters is not None:
        unknown = [p for p in parameters if p not in chosen]
        if unknown:
            why = "; ".join(f"{p}: {skipped.get(p, 'not a numeric parameter')}"
                            for p in unknown)
            raise ValueError(f"parameters: cannot perturb {why}")
        chosen = list(parameters)
    variants = [scenario] + [scenario.replace(source="audit", **{p: v})
                             for p in chosen for v in _perturbed(p, scenario[p])]
    jobs = [(v, s, targets, runner) for v in variants for s in seeds]
    results = _map(jobs, workers, progress)
    y = np.array(results).reshape(len(variants), len(seeds), len(targets))
    base, low, high = y[0], y[1::2], y[2::2]  # (seed, output), (parameter, seed, output)
    x0 = np.array([scenario[p] for p in chosen], dtype=float)
    xl = np.array([_perturbed(p, scenario[p])[0] for p in chosen], dtype=float)
    xh = np.array([_perturbed(p, scenario[p])[1] for p in chosen], dtype=float)
    y0 = base.mean(axis=0)
    dx = ((xh - xl) / x0)[:, None, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        per_seed = (high - low) / np.where(y0 == 0, np.nan, y0)[None, None, :] / dx
    elasticity = per_seed.mean(axis=1)
    se = per_seed.std(axis=1, ddof=1) / math.sqrt(len(seeds))
    dims = ("parameter", "output")
    return xr.Dataset(
        {"elasticity": (dims, elasticity, {"long_name": "central elasticity (paired seeds)"}),
         "se": (dims, se, {"long_name": "standard error of the elasticity over seed pairs"}),
         "value": ("parameter", x0), "low": ("parameter", xl), "high": ("parameter", xh),
         "base": ("output", y0, {"long_name": "seed mean of the unperturbed runs"})},
        coords={"parameter": chosen, "output": [t.id for t in targets]},
        attrs={"scenario": scenario.name, "scenario_digest": scenario.digest,
               "seeds": list(seeds), "step": STEP, "countysim": __version__,
               "skipped": "; ".join(f"{k}: {v}" for k, v in skipped.items())})


def _map(jobs: list[tuple[Any, ...]], workers: int, progress: bool) -> list[np.ndarray]:
    bar = None
    if progress:
        from ..sweeps.sweep import progress_bar

        bar = progress_bar()(total=len(jobs), desc="audit runs", unit="run")
    try:
        if workers <= 1:
            out = []
            for job in jobs:
                out.append(_task(job))
                if bar is not None:
                    bar.update()
            return out
        with cf.ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            futures = [pool.submit(_task, job) for job in jobs]
            for future in cf.as_completed(futures):
                future.result()  # a failed run fails the audit now
                if bar is not None:
                    bar.update()
            return [f.result() for f in futures]
    finally:
        if bar is not None:
            bar.close()


@dataclass(frozen=True)
class Classification:
    """What one output is by the audit's rule.

    Attributes:
        output: The target's ID.
        kind: ``"identity"`` or ``"mechanism"``.
        top: The parameter with the largest absolute elasticity, and the elasticity.
        second: The next one (``None`` with a single parameter).
        moved_by: How many parameters move the output at an absolute elasticity of at
            least :data:`OTHERS_BELOW`.
    """

    output: str
    kind: str
    top: tuple[str, float]
    second: tuple[str, float] | None
    moved_by: int


def classify(elasticity: np.ndarray, parameters: Sequence[str],
             output: str = "") -> Classification:
    """Class one output from its elasticities to the parameters.

    An *identity* of input X: ``|e_X|`` in :data:`IDENTITY_BAND` and every other
    ``|e|`` below :data:`OTHERS_BELOW`. Anything else is a *mechanism* (several inputs
    shape it, or one does but not one-for-one). NaN elasticities (a zero base) count
    as zero.
    """
    e = np.nan_to_num(np.asarray(elasticity, dtype=float))
    order = np.argsort(-np.abs(e), kind="stable")
    top = (parameters[order[0]], float(e[order[0]]))
    second = (parameters[order[1]], float(e[order[1]])) if e.size > 1 else None
    others = np.abs(e[order[1:]])
    lo, hi = IDENTITY_BAND
    identity = lo <= abs(top[1]) <= hi and bool((others < OTHERS_BELOW).all())
    return Classification(output, "identity" if identity else "mechanism", top, second,
                          int((np.abs(e) >= OTHERS_BELOW).sum()))


def classify_all(result: xr.Dataset) -> list[Classification]:
    """:func:`classify` for every output of an :func:`audit` result."""
    names = [str(p) for p in result["parameter"].values]
    return [classify(result["elasticity"].sel(output=o).values, names, str(o))
            for o in result["output"].values]


def read_table(path: str | Path) -> xr.Dataset:
    """Read the audit's table (``countysim audit --table``) back as an :func:`audit` result.

    Args:
        path: The CSV file, columns :data:`TABLE_COLUMNS` (more are ignored).

    Returns:
        ``elasticity`` and ``se`` over ``parameter`` x ``output`` (NaN where the table has
        no row), which :func:`classify_all` classes as the audit did.

    Raises:
        InputError: The file is missing or unreadable, lacks a column, has a value that is
            not a number, or has no rows; the message names the file and the column.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, "<file>", f"cannot read the audit table: {exc}") from None
    if not rows:
        raise InputError(path, "<file>", "no rows: write the table with `countysim audit "
                         "--table PATH`")
    for column in TABLE_COLUMNS:
        if column not in rows[0]:
            raise InputError(path, column, "missing column; the audit table has "
                             + ", ".join(TABLE_COLUMNS))
    parameters = list(dict.fromkeys(r["parameter"] for r in rows))
    outputs = list(dict.fromkeys(r["output"] for r in rows))
    data = {k: np.full((len(parameters), len(outputs)), np.nan) for k in ("elasticity", "se")}
    p_index = {p: i for i, p in enumerate(parameters)}
    o_index = {o: j for j, o in enumerate(outputs)}
    for n, row in enumerate(rows, start=2):
        for key, values in data.items():
            try:
                value = float(row[key]) if row[key] not in ("", None) else np.nan
            except ValueError:
                raise InputError(path, key, f"line {n}: {row[key]!r} is not a number") from None
            values[p_index[row["parameter"]], o_index[row["output"]]] = value
    dims = ("parameter", "output")
    return xr.Dataset({k: (dims, v) for k, v in data.items()},
                      coords={"parameter": parameters, "output": outputs},
                      attrs={"source": str(path)})


def to_markdown(result: xr.Dataset, labels: dict[str, str] | None = None,
                command: str = "") -> str:
    """The audit as a Markdown page: the classes, then every elasticity of 0.1 or more.

    Args:
        result: An :func:`audit` result.
        labels: Output ID -> a short description for the table.
        command: The command line that made the result (shown on the page).
    """
    labels = labels or {}
    classes = classify_all(result)
    n_identity = sum(c.kind == "identity" for c in classes)
    seeds = result.attrs["seeds"]
    lines = [
        "# Identity audit",
        "",
        "<!-- generated by `countysim audit`; do not edit by hand -->",
        "",
        "Which of the article's figures and the comparators are the model's own outputs, "
        "and which pass one input through. Every numeric parameter of the scenario is "
        f"moved by ±{STEP:.0%} on paired seeds and every target is read as the "
        "calibration reads it; the elasticity is `((y+ - y-) / y0) / ((x+ - x-) / x0)`. "
        f"An output is an **identity** of input X when |e_X| is in {IDENTITY_BAND[0]}–"
        f"{IDENTITY_BAND[1]} and every other |e| is below {OTHERS_BELOW}; otherwise a "
        "**mechanism**.",
        "",
        f"Scenario `{result.attrs['scenario']}` "
        f"(digest `{result.attrs['scenario_digest'][:12]}`), "
        f"{result.sizes['parameter']} parameters, seeds {seeds[0]}–{seeds[-1]} "
        f"({len(seeds)} pairs per side), countysim {result.attrs['countysim']}. "
        + (f"Made with `{command}`." if command else ""),
        "",
        f"**{n_identity} of {len(classes)} outputs are identities.**",
        "",
        "| output | what | model (base) | class | largest elasticity | next "
        "| inputs with \\|e\\| >= 0.1 |",
        "|---|---|---:|---|---|---|---:|",
    ]
    for c in classes:
        se = float(result["se"].sel(output=c.output, parameter=c.top[0]))
        second = (f"`{c.second[0]}` {c.second[1]:+.2f}" if c.second else "-")
        base = _num(float(result["base"].sel(output=c.output)))
        lines.append(
            f"| {c.output} | {labels.get(c.output, '')} | {base} | **{c.kind}** "
            f"| `{c.top[0]}` {c.top[1]:+.2f} ± {se:.2f} | {second} | {c.moved_by} |")
    lines += ["", "## Every elasticity of 0.1 or more", "",
              "Standard errors over the seed pairs; an entry below about twice its error is "
              "noise.", ""]
    for c in classes:
        e = result["elasticity"].sel(output=c.output)
        se = result["se"].sel(output=c.output)
        big = [(str(p), float(e.sel(parameter=p)), float(se.sel(parameter=p)))
               for p in result["parameter"].values if abs(float(e.sel(parameter=p))) >= 0.1]
        big.sort(key=lambda t: -abs(t[1]))
        text = ", ".join(f"`{p}` {v:+.2f} ± {s:.2f}" for p, v, s in big) or "none"
        lines.append(f"- **{c.output}**: {text}")
    if result.attrs.get("skipped"):
        lines += ["", "## Not perturbed", "", "; ".join(
            f"`{item.split(':', 1)[0]}`:{item.split(':', 1)[1]}"
            for item in result.attrs["skipped"].split("; ")) + "."]
    return "\n".join(lines) + "\n"


def _num(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"
