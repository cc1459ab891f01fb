"""Paired comparisons of two policy packages: the honest replacement for two single runs.

Two single runs differ by the policy *and* by their seed, and the seed alone moves a
figure by several percent; a difference of 11 in A8 "moved" by a change with seed 0 was
-4.7 +- 8.0 over six paired replicates. :func:`compare` therefore compares package B with
package A run by run: the same ensemble member (parameters and district draw) and the same
seed (common random numbers) in both, so the difference ``d = B - A`` of one run is the
policy's effect under that member and seed, and the spread of ``d`` over runs is the
uncertainty of the effect.

For every time-series indicator of the runs (variables with dims ``time`` only) and every
year, the year's value is the December value for year-to-date (``*_ytd``) and cumulative
(``*_cum``) counts, and the mean of the year's 12 months otherwise (stocks, rates,
annualised incomes; a monthly flow reads as its mean monthly flow, whose year total is
the matching ``*_ytd``). A year the runs do not cover in full is NaN.

Statistics over the ``n`` paired runs with a value in both packages (a run failed in either
is left out of both): ``mean`` and ``sd`` of ``d``; ``low`` and ``high``, the 5 % and 95 %
quantiles of ``d`` (the 90 % interval of the effect over members and seeds: where the
effect of one realisation lies); ``mean_low`` and ``mean_high``, the 90 % confidence
interval of the mean effect (``mean +- 1.645 sd / sqrt(n)``); and the paired
``z = mean / (sd / sqrt(n))`` (|z| >= 3: beyond run-to-run noise).
"""

from __future__ import annotations

import math
import re
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ..core.observe import VARIABLES
from ..core.scenario import FIRST_YEAR, LAST_YEAR, Scenario, load_scenario
from .forecast import ForecastError, package_runs

__all__ = ["INTERVAL", "compare", "compare_scenarios", "comparison_table", "first_difference",
           "horizon", "identical_line", "paired_comparison", "yearly"]

#: Coverage of the comparison's intervals (the issue's "90 % interval").
INTERVAL = 0.90
_Z = 1.6448536269514722  # standard normal 95 % quantile: the two-sided 90 % interval


def yearly(results: xr.Dataset, indicators: Sequence[str]) -> xr.Dataset:
    """Each indicator's value per calendar year (see the module docstring for the rule).

    Args:
        results: Runs with a monthly ``time`` dim.
        indicators: Time-only variables of ``results``.

    Returns:
        The indicators with ``time`` replaced by ``year`` (NaN for incomplete years).
    """
    year_of = results["time"].dt.year.values
    years = np.unique(year_of)
    out = {}
    for name in indicators:
        da = results[name].astype(float)
        parts = []
        for y in years:
            index = np.flatnonzero(year_of == y)
            months = da.isel(time=index)
            if index.size != 12:
                part = xr.full_like(months.isel(time=0, drop=True), np.nan)
            elif name.endswith(("_ytd", "_cum")):
                part = months.isel(time=-1, drop=True)
            else:
                part = months.mean("time", skipna=False)
            parts.append(part.drop_vars("time", errors="ignore"))
        out[name] = xr.concat(parts, dim=xr.DataArray(years.astype(np.int64), dims="year",
                                                      name="year"), coords="minimal",
                              compat="override").assign_attrs(results[name].attrs)
    return xr.Dataset(out)


def _units(results: xr.Dataset, name: str) -> str:
    attrs = results[name].attrs
    if attrs.get("unit_of_measure"):
        return str(attrs["unit_of_measure"])
    return VARIABLES[name].units if name in VARIABLES else str(attrs.get("units", ""))


def _indicators(results: xr.Dataset) -> list[str]:
    return [n for n, v in results.data_vars.items()
            if v.dims[-1:] == ("time",) and not set(v.dims) & {"village", "labour_state"}
            and np.issubdtype(v.dtype, np.number) and n not in ("status",)]


def compare(results: xr.Dataset, a: str, b: str, *,
            indicators: Sequence[str] | None = None) -> xr.Dataset:
    """Paired differences B - A of every indicator, per year, over common runs.

    Args:
        results: A sweep's results whose samples are labelled by package (``package`` or
            ``scenario`` along ``sample``), e.g. a forecast's store opened with
            :func:`countysim.open_results`.
        a: The reference package.
        b: The package compared with it.
        indicators: The time-series variables to compare (default: all).

    Returns:
        Dims ``indicator`` x ``year``: ``a_mean``, ``b_mean`` (means over the paired runs),
        ``mean``, ``sd``, ``low``, ``high``, ``mean_low``, ``mean_high``, ``z`` and ``n``
        (see the module docstring), and ``difference(run, indicator, year)``, the paired
        differences themselves.

    Raises:
        ForecastError: ``a`` or ``b`` is not a package of the results, or they are equal.
    """
    packages, index, member, replicate = package_runs(results)
    for key, name in (("a", a), ("b", b)):
        if name not in packages:
            raise ForecastError("<results>", key, f"{name!r} is not a package of the results; "
                                "packages: " + ", ".join(packages))
    if a == b:
        raise ForecastError("<results>", "b", f"compares {a!r} with itself")
    names = list(indicators) if indicators is not None else _indicators(results)
    if not names:
        raise ForecastError("<results>", "indicators", "no time-series indicator to compare")
    missing = [n for n in names if n not in results.data_vars]
    if missing:
        raise ForecastError("<results>", "indicators", f"not in the results: {missing}")
    per_year = yearly(results[names], names)
    stacked = per_year.to_dataarray("indicator")

    def runs_of(package: str) -> xr.DataArray:
        i = packages.index(package)
        return stacked.isel(sample=xr.DataArray(index[i], dims="run"),
                            replicate=xr.DataArray(replicate, dims="run"))

    va, vb = runs_of(a), runs_of(b)
    both = va.notnull() & vb.notnull()
    va, vb = va.where(both), vb.where(both)
    d = (vb - va).transpose("run", "indicator", "year")
    n = both.sum("run")
    with warnings.catch_warnings():  # an indicator without paired runs gives NaN
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        mean = d.mean("run")
        sd = d.std("run", ddof=1)
        a_mean, b_mean = va.mean("run"), vb.mean("run")
        quantiles = d.quantile([(1 - INTERVAL) / 2, (1 + INTERVAL) / 2], dim="run",
                               skipna=True)
    se = sd / np.sqrt(n.where(n > 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = xr.where(se > 0, mean / se, xr.where(mean == 0, 0.0, np.sign(mean) * np.inf))
    z = z.where(n > 1)
    units = [_units(results, v) for v in names]
    out = xr.Dataset({
        "a_mean": a_mean, "b_mean": b_mean,
        "mean": mean, "sd": sd,
        "low": quantiles.isel(quantile=0, drop=True),
        "high": quantiles.isel(quantile=1, drop=True),
        "mean_low": mean - _Z * se, "mean_high": mean + _Z * se,
        "z": z, "n": n.astype(np.int64),
        "difference": d,
    })
    out = out.drop_vars([c for c in out.coords if c not in ("indicator", "year")])
    out = out.assign_coords(run=np.arange(index.shape[1], dtype=np.int64),
                            member=("run", member), replicate=("run", replicate),
                            units=("indicator", np.asarray(units, dtype=object)))
    descriptions = {
        "a_mean": f"mean of {a} over the paired runs", "b_mean": f"mean of {b}",
        "mean": f"mean paired difference {b} - {a}", "sd": "sd of the paired differences",
        "low": "5 % quantile of the paired differences",
        "high": "95 % quantile of the paired differences",
        "mean_low": "lower end of the 90 % confidence interval of the mean difference",
        "mean_high": "upper end of the 90 % confidence interval of the mean difference",
        "z": "paired z: mean / (sd / sqrt(n))", "n": "paired runs",
        "difference": f"paired difference {b} - {a} of each run",
    }
    for name, text in descriptions.items():
        out[name].attrs = {"long_name": text}
    out.attrs = {"a": a, "b": b, "pairing": "same ensemble member and seed in both "
                 "(common random numbers)", "interval": f"{INTERVAL:.0%}",
                 "runs": int(index.shape[1]),
                 "members": len(np.unique(member)),
                 "replicates": int(results.sizes["replicate"])}
    first = _stored_first_difference(results, a, b)
    if first is not None:
        out.attrs["first_difference"] = first
    return out


def _stored_first_difference(results: xr.Dataset, a: str, b: str) -> str | None:
    """:func:`first_difference` of packages ``a`` and ``b`` from the scenarios a store
    keeps (``scenarios_toml``), or ``None`` if the results do not keep them."""
    import json

    from ..core.errors import InputError

    try:
        texts = json.loads(results.attrs["scenarios_toml"])
        sa, sb = (Scenario.from_toml(texts[n], name=n) for n in (a, b))
    except (KeyError, TypeError, ValueError, InputError):
        return None
    return first_difference(sa, sb) or "none"


def compare_scenarios(a: str | Path, b: str | Path, *, ensemble: str | None = None,
                      members: int | None = None, replicates: int = 5, seed: int = 0,
                      until: str | None = None, store: str | Path | None = None,
                      workers: int | None = None, progress: bool = True) -> xr.Dataset:
    """Run two scenario files paired (ensemble members x seeds) and compare them.

    Args:
        a: The reference scenario file.
        b: The scenario file compared with it.
        ensemble: Draw members from this ensemble (a packaged name or a file); ``None``
            runs the scenarios' own parameters, so only seeds vary.
        members: The first N members (default: all of the ensemble).
        replicates: Seeds per member.
        seed: Root seed.
        until: Horizon ``YYYY-MM`` (default: the longer of the two scenarios' ``until``).
        store: Keep the runs in this Zarr store (default: a temporary one, removed).
        workers: Worker processes (default one per core).
        progress: Show a progress bar.

    Returns:
        The comparison (:func:`compare`), whose attributes also hold ``until``,
        ``first_difference`` (:func:`first_difference`, ``"none"`` if the parameter sets
        agree throughout) and ``notes`` (:func:`horizon`).
    """
    from ..sweeps.experiment import Experiment, ExperimentError
    from ..sweeps.store import open_results
    from ..sweeps.sweep import sweep

    until, notes = horizon(a, b, until)
    first = first_difference(load_scenario(a), load_scenario(b))
    files = [Path(a).resolve().as_posix(), Path(b).resolve().as_posix()]
    design: dict = {"kind": "scenarios", "files": files}
    if ensemble is not None:
        design = {"kind": "ensemble", "ensemble": str(ensemble), "files": files}
        if members is not None:
            design["members"] = members
    try:
        exp = Experiment.build(name="compare", design=design, seed=seed,
                               replicates=replicates, until=until,
                               description=f"countysim compare {a} {b}")
    except ExperimentError as exc:
        # The experiment is built here, not read from a file: name the user's input
        # (a scenario file, the horizon, the ensemble), not "<Experiment.build>".
        def named(m: re.Match) -> str:
            return f"{'AB'[int(m.group(1))]} ({(a, b)[int(m.group(1))]})"

        problem = re.sub(r"design\.files\[(\d)\]", named, exc.problem)
        if "repeats" in problem:
            problem = (f"A ({a}) and B ({b}) have the same name; the comparison labels "
                       "them by name: give one its own 'name'")
        match = re.fullmatch(r"design\.files\[(\d)\](.*)", exc.key)
        if match:
            raise ForecastError((a, b)[int(match.group(1))], match.group(2).lstrip(".")
                                or "<scenario>", problem) from None
        raise ForecastError(f"countysim compare {a} {b}", exc.key.removeprefix("design."),
                            problem) from None
    names = [s.name for s in exp.scenarios] if exp.scenarios else [Path(a).stem, Path(b).stem]
    # The table says why years before the first change show zeros (comparison_table).
    attrs = {"until": until, "first_difference": first or "none", "notes": "\n".join(notes)}
    if store is not None:
        sweep(exp, store, workers=workers, progress=progress)
        out = compare(open_results(store).load(), names[0], names[1])
        return out.assign_attrs(attrs)
    with tempfile.TemporaryDirectory(prefix="countysim-compare-") as tmp:
        path = Path(tmp) / "compare.zarr"
        sweep(exp, path, workers=workers, progress=progress)
        return compare(open_results(path).load(), names[0], names[1]).assign_attrs(attrs)


def first_difference(a: Scenario, b: Scenario) -> str | None:
    """The first month in which two scenarios' parameter sets differ.

    Runs of two scenarios with the same ensemble member and seed are identical, month by
    month, until their parameters differ (common random numbers); before that month every
    paired difference is zero by construction, not because the policy does nothing.

    Args:
        a: A scenario.
        b: Another scenario.

    Returns:
        ``YYYY-MM``: the start month if the scenarios differ from the start (or in the
        spin-up, or in their district), else January of the first year whose values in
        force differ; ``None`` if the parameter sets agree in every year.
    """
    start = min(a.start, b.start)
    if a.start != b.start or a.district_data != b.district_data:
        return start
    first_year = int(a.start[:4])
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        if a.in_year(year).values != b.in_year(year).values:
            # A difference in the spin-up years shapes the state at the start.
            return start if year <= first_year else f"{year}-01"
    return None


def horizon(a: str | Path, b: str | Path, until: str | None = None) -> tuple[str, list[str]]:
    """The horizon of a comparison of two scenario files, and notes on it.

    Args:
        a: The reference scenario file.
        b: The scenario file compared with it.
        until: An explicit horizon ``YYYY-MM``, or ``None`` for the longer of the two
            scenarios' ``until``.

    Returns:
        The horizon and lines for the reader (that the scenarios' horizons differ).
    """
    sa, sb = load_scenario(a), load_scenario(b)
    notes = []
    if until is None:
        until = max(sa.until, sb.until)
        if sa.until != sb.until:
            notes.append(f"the scenarios' horizons differ ({sa.name} until {sa.until}, "
                         f"{sb.name} until {sb.until}): comparing to {until}, the longer")
    return until, notes


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "nan" if x != x else ("inf" if x > 0 else "-inf")
    magnitude = abs(x)
    if magnitude >= 1000:
        return f"{x:,.0f}"
    if magnitude >= 10:
        return f"{x:.1f}"
    if magnitude >= 0.1:
        return f"{x:.3f}"
    return f"{x:.4g}"


def comparison_table(ds: xr.Dataset, *, year: int | None = None,
                     only_moved: bool = False) -> str:
    """The comparison of one year as text: one row per indicator.

    Args:
        ds: A comparison (:func:`compare`).
        year: The year (default: the last with paired runs).
        only_moved: Show only indicators with |z| >= 3.
    """
    if year is None:
        covered = [int(y) for y in ds["year"].values if (ds["n"].sel(year=y) > 0).any()]
        year = covered[-1] if covered else int(ds["year"].values[-1])
    sel = ds.sel(year=year)
    a, b = ds.attrs.get("a", "A"), ds.attrs.get("b", "B")
    notes = [f"NOTE: {line}" for line in str(ds.attrs.get("notes", "")).splitlines()]
    first = str(ds.attrs.get("first_difference", ""))  # absent for a store's packages
    if first == "none" or (first and year < int(first[:4])):
        # A table of zeros reads as "the package does nothing": say why instead.
        return "\n".join([*notes, identical_line(a, b, first, year)])
    if first and int(first[:4]) > int(ds["year"].values[0]):
        notes.append(f"NOTE: {b} and {a} are identical before {first} (the first scheduled "
                     "change): their paired differences are zero until then")
    head = (f"{'indicator':<34} {'units':<16} {a[:14]:>14} {b[:14]:>14} {'B - A':>12} "
            f"{'sd':>10} {'90 % interval':>24} {'z':>7}")
    rows = [*notes, f"paired differences {b} - {a} in {year} ({int(sel['n'].max())} paired runs: "
            f"{ds.attrs.get('members', '?')} members x {ds.attrs.get('replicates', '?')} "
            "seeds)", head]
    for name in ds["indicator"].values:
        r = sel.sel(indicator=name)
        z = float(r["z"])
        if only_moved and not abs(z) >= 3:
            continue
        mark = " *" if abs(z) >= 3 else ""
        interval = f"[{_fmt(float(r['low']))}, {_fmt(float(r['high']))}]"
        rows.append(f"{str(name)[:34]:<34} {str(r['units'].item())[:16]:<16} "
                    f"{_fmt(float(r['a_mean'])):>14} {_fmt(float(r['b_mean'])):>14} "
                    f"{_fmt(float(r['mean'])):>12} {_fmt(float(r['sd'])):>10} "
                    f"{interval:>24} {_fmt(z):>7}{mark}")
    rows.append("* |z| >= 3: beyond run-to-run noise. 90 % interval: 5-95 % of the paired "
                "differences over members and seeds.")
    return "\n".join(rows)


def identical_line(a: str, b: str, first: str, year: int | None = None) -> str:
    """The line that replaces a table of zeros: the packages are identical in ``year``.

    Args:
        a: The reference package's name.
        b: The compared package's name.
        first: Their :func:`first_difference` (``"none"``: identical throughout).
        year: The year the reader asked for (``None``: the comparison's horizon ends
            before ``first``).
    """
    if first == "none":
        return (f"{b} and {a} are identical: the same parameters in every year, so every "
                "paired difference is zero")
    when = f"in {year}" if year is not None else "over the whole horizon"
    return (f"{b} and {a} are identical before {first} (the first scheduled change): "
            f"every paired difference {when} is zero by construction; compare a year from "
            f"{first[:4]} on (countysim compare --year {first[:4]}, or --until "
            f"{first[:4]}-12 or later)")


def paired_comparison(a: str | Path, b: str | Path, *,
                      results: str | Path | xr.Dataset | None = None,
                      ensemble: str | None = None, members: int | None = None,
                      replicates: int = 5, seed: int = 0, until: str | None = None,
                      store: str | Path | None = None, workers: int | None = None,
                      progress: bool = True) -> xr.Dataset:
    """``countysim.compare``: compare package B with package A, paired run by run.

    Either two scenario files, run here over ensemble members x seeds
    (:func:`compare_scenarios`), or two package names of existing ``results`` (a
    forecast's store or its opened Dataset, :func:`compare`)::

        diff = countysim.compare("scenarios/baseline_2025.toml",
                                 "scenarios/programme_withdrawn.toml",
                                 ensemble="litong_2025", members=20, replicates=3)
        diff = countysim.compare("baseline_2025", "programme_withdrawn",
                                 results="runs/forecast/forecast_2030.zarr")

    Args:
        a: Reference: a scenario file, or a package name of ``results``.
        b: Compared with ``a``: likewise.
        results: A sweep store (path) or results Dataset holding packages ``a`` and ``b``.
        ensemble: For scenario files: see :func:`compare_scenarios`.
        members: For scenario files: see :func:`compare_scenarios`.
        replicates: For scenario files: see :func:`compare_scenarios`.
        seed: For scenario files: see :func:`compare_scenarios`.
        until: For scenario files: see :func:`compare_scenarios`.
        store: For scenario files: see :func:`compare_scenarios`.
        workers: For scenario files: see :func:`compare_scenarios`.
        progress: For scenario files: see :func:`compare_scenarios`.

    Returns:
        The comparison (:func:`compare`).
    """
    if results is None:
        return compare_scenarios(a, b, ensemble=ensemble, members=members,
                                 replicates=replicates, seed=seed, until=until, store=store,
                                 workers=workers, progress=progress)
    if not isinstance(results, xr.Dataset):
        from ..sweeps.store import open_results

        results = open_results(results)
    return compare(results.load(), str(a), str(b))
