"""Why a forecast's answer is 0 or 1: where the runs lie, and whether an input fixes them.

A probability of exactly 0 or 1 under every package does not tell the packages apart.
It has one of two causes, and the report (:mod:`countysim.forecasting.report`) says
which for every such target:

* the threshold lies outside the ensemble's whole spread of the target's value: every
  run's value, under every package, lies on one side of it (:func:`spread_text` says
  where, and how close the nearest run comes);
* the indicator is an *identity* of one input: the identity audit
  (:mod:`countysim.calibration.audit`, ``docs/audit.md``) finds that it moves one-for-one
  with one parameter and with nothing else, so the answer is that input's value passed
  through, not the model's (:func:`identity_text`).

The audit reads the article's figures and comparators as the calibration reads them
(``scenarios/targets/litong_2025.toml``). A forecast target is the audit's output *X*
when it reads the same variable the same way (:func:`audit_output`): the same month for a
year-to-date count or stock (A4 and A5 at the end of October, A14 in December), the same
months summed or averaged (R6: the year's mean), the growth of one year's mean over the
previous year's (R7r), the share of villages at or above the same level (R11). A monthly
flow summed from January is its year-to-date count (:data:`countysim.testing.YTD_OF_MONTHLY`).
The audit is of the 2025 baseline; a target read in 2030 is the same reading of a later
year, so the class is a guide, not a measurement, for that year.

Example:
    >>> from countysim.forecasting.certainty import load_identity_audit  # doctest: +SKIP
    >>> audit = load_identity_audit("docs/audit_baseline_2025.csv",
    ...                             "scenarios/targets/litong_2025.toml")  # doctest: +SKIP
    >>> write_report(ds, "reports/f", audit=audit)  # doctest: +SKIP
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from ..calibration.audit import IDENTITY_BAND, OTHERS_BELOW, Classification, classify_all
from ..calibration.audit import read_table as read_audit_table
from ..calibration.targets import Target, load_targets
from ..core.errors import InputError
from ..core.observe import VARIABLES
from ..testing import YTD_OF_MONTHLY
from . import figures
from .targets import WHOLE_YEAR, ForecastTarget, targets_from_data

__all__ = ["IdentityAudit", "audit_output", "certain_targets", "explain", "identity_text",
           "load_identity_audit", "spread_text", "targets_of"]

# A reading: (variable, statistic, first month, last month, village summary, level).
Reading = tuple[str, str, int | None, int, str | None, float | None]


@dataclass(frozen=True)
class IdentityAudit:
    """The identity audit as data: its elasticities and the targets it read.

    Attributes:
        table: ``elasticity`` over ``parameter`` x ``output`` (an
            :func:`countysim.calibration.audit.audit` result, or its table read back with
            :func:`countysim.calibration.audit.read_table`).
        targets: The calibration targets the audit read (its outputs are their IDs).
        source: Where the table came from, for the report.
    """

    table: xr.Dataset
    targets: tuple[Target, ...]
    source: str = ""

    def classes(self) -> dict[str, Classification]:
        """Each output's class (:func:`countysim.calibration.audit.classify`)."""
        return {c.output: c for c in classify_all(self.table)}


def load_identity_audit(table: str | Path, targets: str | Path) -> IdentityAudit:
    """The audit's table (``countysim audit --table``) with the targets file it read.

    Raises:
        InputError: Either file is unusable, or the table names an output the targets
            file does not have (they belong to different audits).
    """
    data = read_audit_table(table)
    loaded = tuple(load_targets(targets, require_held_out=False))
    ids = {t.id for t in loaded}
    unknown = [str(o) for o in data["output"].values if str(o) not in ids]
    if unknown:
        raise InputError(table, "output", f"{', '.join(unknown[:3])} not a target of "
                         f"{targets}: give the targets file the audit read")
    return IdentityAudit(data, loaded, str(table))


def _month(text: str) -> int:
    return int(text[5:7])


def _readings(target: ForecastTarget) -> set[Reading]:
    """How a forecast target reads its indicator, in the calibration's terms."""
    units = VARIABLES[target.indicator].units if target.indicator in VARIABLES else ""
    how = target.reduction(units)
    first, last = target.months
    across, level = None, None
    if target.aggregation == "share_of_villages":
        if target.level_direction != ">=":
            return set()
        across, level = "share_at_least", target.level
    elif target.per_village:
        return set()  # totals and means over villages: no audited figure reads them
    if target.aggregation == "growth_rate":
        if how != "mean" or target.months != WHOLE_YEAR:
            return set()
        return {(target.indicator, "annual_growth", first, last, None, None)}
    if how == "december":
        return {(target.indicator, "end", None, last, across, level)}
    out = {(target.indicator, how, first, last, across, level)}
    ytd = {flow: count for count, flow in YTD_OF_MONTHLY.items()}
    if how == "sum" and first == 1 and target.indicator in ytd and across is None:
        out.add((ytd[target.indicator], "end", None, last, None, None))
    return out


def _reading(target: Target) -> Reading | None:
    """How a calibration target reads its variable (``None``: no forecast target can)."""
    if target.villages != "all" or target.across not in (None, "share_at_least"):
        return None
    (y0, m0), (y1, m1) = ((int(w[:4]), _month(w)) for w in target.window)
    span = 12 * (y1 - y0) + m1 - m0 + 1
    level = target.threshold if target.across else None
    if target.statistic == "end":
        return (target.variable, "end", None, m1, target.across, level)
    if target.statistic in ("sum", "mean") and y0 == y1:
        return (target.variable, target.statistic, m0, m1, target.across, level)
    if target.statistic == "annual_growth" and span == 24 and target.across is None:
        return (target.variable, "annual_growth", m0, m1, None, None)
    return None


def audit_output(target: ForecastTarget, audited: Sequence[Target]) -> str | None:
    """The audit output that reads what ``target`` reads (``None``: not in the audit).

    Args:
        target: A forecast target.
        audited: The calibration targets the audit read.

    Returns:
        The first calibration target's ID whose reading is the forecast target's (same
        variable, statistic, months and village summary), or ``None``.
    """
    readings = _readings(target)
    return next((t.id for t in audited if _reading(t) in readings), None)


def targets_of(ds: xr.Dataset) -> dict[str, ForecastTarget]:
    """The forecast's targets by ID, from the targets file it holds (``targets_toml``).

    Empty if the Dataset holds no targets file or one that no longer loads (e.g. a
    synthetic forecast): the report then says the targets are not in the audit.
    """
    text = str(ds.attrs.get("targets_toml", ""))
    if not text:
        return {}
    try:
        targets = targets_from_data(tomllib.loads(text), ds.attrs.get("targets_file")
                                    or "<targets>", text)
    except (tomllib.TOMLDecodeError, InputError):
        return {}
    return {t.id: t for t in targets}


def certain_targets(ds: xr.Dataset) -> dict[str, int]:
    """Targets whose probability is exactly 0 or 1 under every package, with their year.

    The year is the report's (:func:`countysim.forecasting.figures.target_year`);
    packages without an outcome in it are left out, and a target needs at least one
    package with one.
    """
    out = {}
    for t in (str(v) for v in ds["target"].values):
        year = figures.target_year(ds, t)
        if year is None:
            continue
        p = ds["probability"].sel(target=t, year=year).values.astype(float)
        p = p[np.isfinite(p)]
        if p.size and np.isin(p, (0.0, 1.0)).all():
            out[t] = year
    return out


def _side(low: float, high: float, threshold: float) -> str:
    if low > threshold:
        return "above"
    if low >= threshold:
        return "at or above"
    if high < threshold:
        return "below"
    if high <= threshold:
        return "at or below"
    return "on both sides of"


def spread_text(ds: xr.Dataset, target: str, year: int) -> str:
    """Where the ensemble's whole spread of the target's value lies against its threshold.

    From every run's ``value`` where the forecast has it (else the fan's 5-95 % range).
    """
    units = str(ds["units"].sel(target=target).values) if "units" in ds.coords else ""
    threshold = float(ds["threshold"].sel(target=target))
    p = ds["probability"].sel(target=target, year=year)
    packages = [str(k) for k in ds["package"].values]
    met = [k for k in packages if float(p.sel(package=k)) == 1.0]
    missed = [k for k in packages if float(p.sel(package=k)) == 0.0]
    if not missed:
        verdict = "met by every run under every package" if len(met) == len(packages) else (
            "met by every run under every package with an outcome")
    elif not met:
        verdict = "missed by every run under every package" if len(missed) == len(
            packages) else "missed by every run under every package with an outcome"
    else:
        verdict = (f"met by every run under {', '.join(f'`{k}`' for k in met)} and by none "
                   f"under {', '.join(f'`{k}`' for k in missed)}")
    fmt = figures.format_value
    if "value" in ds:
        values = ds["value"].sel(target=target, year=year)
        what, one = f"every run's {year} value", "run"
    else:
        values = ds["fan"].sel(target=target, year=year)
        what, one = f"the runs' {year} 5-95 % range", "quantile"
    groups = [(None, values)] if not (met and missed) else [
        (k, values.sel(package=k)) for k in (*met, *missed)]
    parts = []
    for name, v in groups:
        x = v.values.astype(float)
        x = x[np.isfinite(x)]
        if not x.size:
            continue
        low, high = float(x.min()), float(x.max())
        nearest = float(np.min(np.abs(x - threshold)))
        relative = (f", {nearest / abs(threshold):.0%} of the threshold" if threshold != 0
                    else "")
        where = f" under `{name}`" if name else ""
        # A distance between shares or rates is in percentage points, not percent.
        gap = (f"{100 * nearest:.3g} percentage points" if figures.is_fraction(units)
               else fmt(nearest, units))
        parts.append(f"{what}{where} lies in [{fmt(low, units)}, {fmt(high, units)}], all "
                     f"{_side(low, high, threshold)} the threshold {fmt(threshold, units)} "
                     f"(the nearest {one} is {gap} from it{relative})")
    return verdict + ("; " + "; ".join(parts) if parts else "") + "."


def identity_text(target: ForecastTarget | None, audit: IdentityAudit | None) -> str:
    """Whether the identity audit finds the target's indicator fixed by one input."""
    if audit is None:
        return ("Identity audit: not given (pass the audit's table, e.g. `countysim "
                "report ... --audit docs/audit_baseline_2025.csv`).")
    if target is None:
        return ("Identity audit: not in the audit (the forecast does not hold the target's "
                "definition, so it cannot be matched to an audited figure).")
    output = audit_output(target, audit.targets)
    classes = audit.classes()
    if output is None or output not in classes:
        return (f"Identity audit: not in the audit (no audited figure reads "
                f"`{target.indicator}` the way this target does).")
    c = classes[output]
    top = f"`{c.top[0]}` {c.top[1]:+.2f}"
    if c.kind == "identity":
        return (f"Identity audit: **an identity of one input**: {output}, the same reading "
                f"audited on the 2025 baseline, moves one-for-one with {top} and with no "
                f"other input (every other |elasticity| below {OTHERS_BELOW}), so the "
                "answer passes that input's value through rather than testing the model.")
    second = f", then `{c.second[0]}` {c.second[1]:+.2f}" if c.second else ""
    return (f"Identity audit: not an identity of one input: {output}, the same reading "
            f"audited on the 2025 baseline, is moved by {c.moved_by} inputs at "
            f"|elasticity| >= {OTHERS_BELOW} (largest {top}{second}; an identity needs one "
            f"in {IDENTITY_BAND[0]}-{IDENTITY_BAND[1]} and every other below "
            f"{OTHERS_BELOW}).")


def explain(ds: xr.Dataset, audit: IdentityAudit | None = None,
            definitions: Mapping[str, ForecastTarget] | None = None) -> dict[str, str]:
    """For every target whose answer is 0 or 1 under every package, why (one paragraph).

    Args:
        ds: A forecast Dataset.
        audit: The identity audit (``None``: the text says it was not given).
        definitions: The targets by ID (default: from the forecast, :func:`targets_of`).

    Returns:
        Target ID -> Markdown text, in the forecast's target order.
    """
    definitions = targets_of(ds) if definitions is None else definitions
    return {t: f"{spread_text(ds, t, year)} {identity_text(definitions.get(t), audit)}"
            for t, year in certain_targets(ds).items()}
