"""Forecast targets as data: what the district aims at, per year, and whether a run meets it.

A forecast targets file (``scenarios/targets/*.toml``, e.g.
``scenarios/targets/litong_2030_illustrative.toml``) holds one ``[[targets]]`` table per
target::

    [[targets]]
    id = "urban_placements"
    label = ">= 4,000 urban placements a year"
    indicator = "urban_placements"          # a variable of the run Dataset
    aggregation = "flow_per_year"           # how a run's months become one value a year
    direction = ">="
    threshold = 4000
    units = "persons/yr"
    window = [2026, 2030]                   # or years = [2027, 2030]
    months = [1, 10]                        # optional: read January-October only
    headline_year = 2030                    # optional: the year summaries show
    source = "illustrative: ..."            # where the target comes from
    illustrative = true                     # optional, default false

Aggregations (:data:`AGGREGATIONS`) turn a run's monthly series into one value per
calendar year. The months of a year are first reduced by ``per_year`` (:data:`PER_YEAR`:
``sum`` for flows, ``mean`` for rates and annualised levels, ``december`` for stocks and
year-to-date counts; the default follows the indicator's units, see
:func:`default_per_year`); village aggregations then reduce over villages. A year the run
does not cover in full (all 12 months) gets NaN, never a partial value.

``months = [first, last]`` (optional, calendar months 1-12, default ``[1, 12]``) reads
each year over those months only, for figures counted over part of a year (the article's
"January to October" counts, A4 and A5): ``sum`` and ``mean`` reduce only the window's
months, ``december`` reads the window's last month (October for ``[1, 10]``: a
year-to-date count at the end of October), and a growth rate compares the same window of
consecutive years. A year needs every month of its window, else NaN (a run ending in
2030-10 has a 2030 value for ``months = [1, 10]``, none for the whole year). There is
deliberately no annualising key: scaling ten months to twelve assumes an even seasonal
profile, which seasonal farm work and January restarts do not have; write the threshold
for the window instead.

:func:`evaluate` works on any Dataset with a ``time`` dim and the indicators as variables:
one run, a sweep's :func:`countysim.open_results` (dims ``sample`` x ``replicate`` in
front), or a forecast's runs. ``attained`` is 1.0 (met), 0.0 (missed) or NaN (no value:
the year is outside the target's years, the run failed, or the year is incomplete).

Errors in a targets file are raised as :class:`ForecastTargetError`, one line naming the
file, the key and what is allowed.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..calibration.targets import TargetSet
from ..core.errors import InputError, read_toml
from ..core.observe import VARIABLES
from ..core.scenario import FIRST_MONTH, LAST_MONTH

__all__ = ["AGGREGATIONS", "DIRECTIONS", "PER_YEAR", "ForecastTarget", "ForecastTargetError",
           "ForecastTargets", "default_per_year", "evaluate", "load_forecast_targets",
           "village_aggregation"]

#: How a run's monthly series becomes one value per year (the ``aggregation`` key).
AGGREGATIONS: dict[str, str] = {
    "december": "the indicator in the year's December, or in the `months` window's last "
                "month (a stock, a year-to-date count, a rate at year end)",
    "annual_mean": "the mean of the year's 12 months, or of its `months` window (a rate "
                   "such as unemployment)",
    "flow_per_year": "the sum of a monthly flow over the year's 12 months, or over its "
                     "`months` window",
    "growth_rate": "the year's value (per_year) over the previous year's, minus 1",
    "total": "district total: the sum over villages of each village's year value",
    "mean_over_villages": "the mean over villages of each village's year value",
    "share_of_villages": "the share of villages whose year value meets `level` "
                         "(compared by `level_direction`)",
}
VILLAGE_AGGREGATIONS = ("total", "mean_over_villages", "share_of_villages")
#: How the months of one year are reduced before any village aggregation (``per_year``).
PER_YEAR: dict[str, str] = {
    "sum": "sum of the 12 months, or of the `months` window (monthly flows; yuan/month -> "
           "yuan/yr)",
    "mean": "mean of the 12 months, or of the `months` window (rates, annualised levels "
            "such as yuan/yr)",
    "december": "the December value, or the `months` window's last month (stocks, "
                "year-to-date counts)",
}
#: Comparison of a value with the threshold (``direction``, ``level_direction``).
DIRECTIONS: dict[str, Callable[[Any, Any], Any]] = {">=": operator.ge, "<=": operator.le}
MONTHS_PER_YEAR = 12
FIRST_YEAR, LAST_YEAR = int(FIRST_MONTH[:4]), int(LAST_MONTH[:4])

_REQUIRED = ("id", "label", "indicator", "aggregation", "direction", "threshold", "units",
             "source")
_OPTIONAL = ("years", "window", "months", "headline_year", "illustrative", "per_year",
             "level", "level_direction", "reasoning")
#: The whole year: the default ``months`` window.
WHOLE_YEAR = (1, MONTHS_PER_YEAR)
_TOP_LEVEL = ("title", "description", "notes", "illustrative", "targets")
_ID = re.compile(r"^[A-Za-z_][\w.-]{0,63}$")


class ForecastTargetError(InputError):
    """A forecast targets file (or a target given in code) is invalid."""


def default_per_year(units: str, aggregation: str) -> str:
    """The default ``per_year`` reduction for an indicator's units and an aggregation.

    ``flow_per_year`` sums and ``december`` takes December, whatever the units. Otherwise
    units per month (``yuan/month``) are summed into a year, units per year (``yuan/yr``,
    already annualised) and dimensionless rates (``1``) are averaged over the year, and
    everything else (stocks: ``persons``, ``problems``) is read in December.

    Args:
        units: The indicator's units (the variable's ``units`` attribute).
        aggregation: One of :data:`AGGREGATIONS`.

    Returns:
        A key of :data:`PER_YEAR`.
    """
    if aggregation == "flow_per_year":
        return "sum"
    if aggregation == "december":
        return "december"
    if aggregation == "annual_mean":
        return "mean"
    if units.endswith("/month"):
        return "sum"
    if units.endswith(("/yr", "/year")) or units == "1":
        return "mean"
    return "december"


def village_aggregation(aggregation: str) -> bool:
    """Whether an aggregation reduces over villages (needs a ``village`` indicator)."""
    return aggregation in VILLAGE_AGGREGATIONS


@dataclass(frozen=True)
class ForecastTarget:
    """One forecast target: an indicator, how it is aggregated to a year, and a threshold.

    Attributes:
        id: Short identifier (letters, digits, ``_``, ``-``, ``.``); labels the ``target``
            dim.
        label: One line for tables and figures.
        indicator: The run variable the target reads (a key of
            :data:`countysim.core.observe.VARIABLES`).
        aggregation: One of :data:`AGGREGATIONS`.
        direction: ``">="`` or ``"<="``: the year's value against ``threshold``.
        threshold: The value to reach, in ``units``.
        units: Units of the aggregated value (``threshold`` and ``value``).
        years: The calendar years in which the target is checked.
        source: Where the target comes from (a plan, an article figure, or
            ``"illustrative: ..."``).
        illustrative: True for made-up targets that show the machinery, not policy.
        per_year: How a year's months are reduced (:data:`PER_YEAR`); default from the
            indicator's units (:func:`default_per_year`).
        level: For ``share_of_villages``: the per-village level a village must meet.
        level_direction: For ``share_of_villages``: how a village's value is compared with
            ``level``.
        headline_year: The year summaries report (default: the first of ``years``).
        reasoning: Why the target is written this way (optional).
        months: The calendar months (first, last; 1-12) a year is read over: the whole
            year by default, ``(1, 10)`` for a January-October count.
    """

    id: str
    label: str
    indicator: str
    aggregation: str
    direction: str
    threshold: float
    units: str
    years: tuple[int, ...]
    source: str
    illustrative: bool = False
    per_year: str = ""
    level: float | None = None
    level_direction: str = ">="
    headline_year: int | None = None
    reasoning: str = ""
    months: tuple[int, int] = WHOLE_YEAR

    @property
    def per_village(self) -> bool:
        """Whether the target reduces over villages (so it has a per-township reading)."""
        return village_aggregation(self.aggregation)

    @property
    def headline(self) -> int:
        """The year summaries report."""
        return self.headline_year if self.headline_year is not None else self.years[0]

    def reduction(self, units: str) -> str:
        """The ``per_year`` reduction used for an indicator with these ``units``."""
        return self.per_year or default_per_year(units, self.aggregation)

    def met(self, value: Any) -> Any:
        """Whether ``value`` meets the target (elementwise; NaN compares as False)."""
        return DIRECTIONS[self.direction](value, self.threshold)


@dataclass(frozen=True)
class ForecastTargets(TargetSet[ForecastTarget]):
    """The forecast targets of one file, in file order (see
    :class:`countysim.calibration.targets.TargetSet`)."""

    @property
    def indicators(self) -> list[str]:
        """The run variables the targets read (each once, in file order)."""
        return list(dict.fromkeys(t.indicator for t in self.items))

    @property
    def name(self) -> str:
        """The file's stem, or ``"targets"`` if built in code."""
        return self.path.stem if self.path is not None else "targets"


def load_forecast_targets(path: str | Path) -> ForecastTargets:
    """Load and validate a forecast targets file.

    Args:
        path: The TOML file.

    Returns:
        The targets, in file order.

    Raises:
        ForecastTargetError: The file is missing, not TOML, or has an invalid key or value;
            the message reads ``"<file>: <key>: <problem>"``.
    """
    path = Path(path)
    text, data = read_toml(path, ForecastTargetError, "forecast targets")
    return targets_from_data(data, path, text)


def targets_from_data(data: Mapping[str, Any], path: str | Path = "<targets>",
                      text: str = "") -> ForecastTargets:
    """Validate parsed targets (a file's content, or a dict built in code).

    Args:
        data: The parsed TOML: top-level keys and a ``targets`` list of tables.
        path: The file named in errors.
        text: The file's text, kept for provenance.

    Returns:
        The targets.

    Raises:
        ForecastTargetError: An invalid key or value.
    """
    path = Path(path)
    for key in data:
        if key not in _TOP_LEVEL:
            raise ForecastTargetError(path, key, "unknown top-level key" + _hint(key, _TOP_LEVEL)
                                      + "; allowed: " + ", ".join(_TOP_LEVEL))
    entries = data.get("targets")
    if not isinstance(entries, list) or not entries:
        raise ForecastTargetError(path, "targets", "missing or empty: add [[targets]] tables "
                                  "with " + ", ".join(_REQUIRED))
    items: list[ForecastTarget] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        target = _target(path, i, entry)
        if target.id in seen:
            raise ForecastTargetError(path, f"targets[{i}].id", f"{target.id!r} repeats "
                                      f"targets[{seen[target.id]}]; ids label the target dim")
        seen[target.id] = i
        items.append(target)
    meta = {k: v for k, v in data.items() if k != "targets"}
    return ForecastTargets(tuple(items), path if path.name != "<targets>" else None, text, meta)


def _hint(key: str, pool: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(pool), n=2)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _target(path: Path, i: int, entry: Any) -> ForecastTarget:
    where = f"targets[{i}]"

    def error(key: str, problem: str) -> ForecastTargetError:
        return ForecastTargetError(path, f"{where}.{key}" if key else where, problem)

    if not isinstance(entry, dict):
        raise error("", "expected a table ([[targets]])")
    for key in entry:
        if key not in _REQUIRED + _OPTIONAL:
            raise error(key, "unknown key" + _hint(key, _REQUIRED + _OPTIONAL) + "; allowed: "
                        + ", ".join(_REQUIRED + _OPTIONAL))
    for key in _REQUIRED:
        if key not in entry:
            raise error(key, "missing (required: " + ", ".join(_REQUIRED) + ")")
    for key in ("id", "label", "indicator", "aggregation", "direction", "units", "source"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise error(key, f"expected a non-empty string, got {entry[key]!r}")
    if not _ID.fullmatch(entry["id"]):
        raise error("id", f"{entry['id']!r} is not an id: 1 to 64 letters, digits, '_', "
                    "'-' or '.', starting with a letter or '_'")
    indicator = entry["indicator"]
    if indicator not in VARIABLES:
        raise error("indicator", f"unknown variable {indicator!r}"
                    + _hint(indicator, list(VARIABLES))
                    + " (the run Dataset's variables: countysim.core.observe.VARIABLES, "
                    "docs/outputs.md)")
    aggregation = entry["aggregation"]
    if aggregation not in AGGREGATIONS:
        raise error("aggregation", f"expected one of {', '.join(AGGREGATIONS)}, got "
                    f"{aggregation!r}")
    dims = VARIABLES[indicator].dims
    if village_aggregation(aggregation) and dims != ("time", "village"):
        raise error("aggregation", f"{aggregation!r} reduces over villages but {indicator} "
                    f"has dims {dims}; use december, annual_mean, flow_per_year or "
                    "growth_rate")
    if not village_aggregation(aggregation) and dims != ("time",):
        raise error("aggregation", f"{indicator} has dims {dims}: reduce over villages with "
                    + ", ".join(VILLAGE_AGGREGATIONS))
    direction = entry["direction"]
    if direction not in DIRECTIONS:
        raise error("direction", f"expected '>=' or '<=', got {direction!r}")
    threshold = _number(entry["threshold"], error, "threshold")
    years = _years(entry, error)
    per_year = entry.get("per_year", "")
    if per_year != "" and per_year not in PER_YEAR:
        raise error("per_year", f"expected one of {', '.join(PER_YEAR)}, got {per_year!r}")
    if per_year and aggregation in ("december", "annual_mean", "flow_per_year"):
        raise error("per_year", f"aggregation {aggregation!r} fixes the reduction of the "
                    "year's months; remove per_year")
    level = entry.get("level")
    level_direction = entry.get("level_direction", ">=")
    if aggregation == "share_of_villages":
        if level is None:
            raise error("level", "missing: share_of_villages needs the per-village level "
                        "(in the indicator's yearly units)")
        level = _number(level, error, "level")
        if level_direction not in DIRECTIONS:
            raise error("level_direction", f"expected '>=' or '<=', got {level_direction!r}")
        if not 0.0 <= threshold <= 1.0:
            raise error("threshold", f"a share of villages lies in [0, 1], got {threshold!r}")
    elif "level" in entry or "level_direction" in entry:
        raise error("level" if "level" in entry else "level_direction",
                    "only share_of_villages takes a per-village level")
    headline = entry.get("headline_year")
    if headline is not None and headline not in years:
        raise error("headline_year", f"{headline!r} is not one of the target's years "
                    f"{list(years)}")
    illustrative = entry.get("illustrative", False)
    if not isinstance(illustrative, bool):
        raise error("illustrative", f"expected true or false, got {illustrative!r}")
    reasoning = entry.get("reasoning", "")
    if not isinstance(reasoning, str):
        raise error("reasoning", f"expected a string, got {reasoning!r}")
    months = _months(entry, error)
    if aggregation == "growth_rate" and years[0] <= FIRST_YEAR:
        raise error("window" if "window" in entry else "years", f"a growth rate needs the "
                    f"previous year; the runs start in {FIRST_YEAR}, so the first year is "
                    f"{FIRST_YEAR + 1}")
    return ForecastTarget(entry["id"], entry["label"], indicator, aggregation, direction,
                          threshold, entry["units"], years, entry["source"], illustrative,
                          per_year, level, level_direction, headline, reasoning, months)


def _number(value: Any, error: Callable[[str, str], ForecastTargetError], key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise error(key, f"expected a finite number, got {value!r}")
    return float(value)


def _months(entry: Mapping[str, Any], error: Callable[[str, str], ForecastTargetError]
            ) -> tuple[int, int]:
    if "months" not in entry:
        return WHOLE_YEAR
    window = entry["months"]
    allowed = ("expected [first, last], calendar months 1-12 with first <= last (e.g. "
               "[1, 10] for January-October)")
    if (not isinstance(window, list) or len(window) != 2
            or any(isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 12
                   for m in window) or window[1] < window[0]):
        raise error("months", f"{allowed}, got {window!r}")
    return window[0], window[1]


def _years(entry: Mapping[str, Any], error: Callable[[str, str], ForecastTargetError]
           ) -> tuple[int, ...]:
    allowed = f"whole years in {FIRST_YEAR}..{LAST_YEAR}"
    if ("years" in entry) == ("window" in entry):
        raise error("years", "give exactly one of years = [2027, ...] (the years checked) "
                    "or window = [first, last]")

    def year(key: str, value: Any) -> int:
        if (isinstance(value, bool) or not isinstance(value, int)
                or not FIRST_YEAR <= value <= LAST_YEAR):
            raise error(key, f"expected {allowed}, got {value!r}")
        return value

    if "window" in entry:
        window = entry["window"]
        if not isinstance(window, list) or len(window) != 2:
            raise error("window", f"expected [first, last] ({allowed}), got {window!r}")
        first, last = year("window[0]", window[0]), year("window[1]", window[1])
        if last < first:
            raise error("window", f"last year {last} is before the first {first}")
        return tuple(range(first, last + 1))
    years = entry["years"]
    if not isinstance(years, list) or not years:
        raise error("years", f"expected a non-empty list of {allowed}, got {years!r}")
    out = tuple(year(f"years[{i}]", y) for i, y in enumerate(years))
    if list(out) != sorted(set(out)):
        raise error("years", f"expected increasing years without repeats, got {list(out)}")
    return out


# ------------------------------------------------------------------------- evaluation


def _calendar_years(ds: xr.Dataset | xr.DataArray) -> np.ndarray:
    return np.unique(ds["time"].dt.year.values)


def _per_year(da: xr.DataArray, how: str, years: Sequence[int],
              window: tuple[int, int] = WHOLE_YEAR) -> xr.DataArray:
    """Reduce each year's months in ``window`` (NaN for a year without all of them)."""
    year_of = da["time"].dt.year.values
    month_of = da["time"].dt.month.values
    inside = (month_of >= window[0]) & (month_of <= window[1])
    needed = window[1] - window[0] + 1
    out = []
    for y in years:
        index = np.flatnonzero((year_of == y) & inside)
        months = da.isel(time=index)
        if index.size != needed:
            value = xr.full_like(da.isel(time=0, drop=True), np.nan, dtype=float)
        elif how == "sum":
            value = months.sum("time", skipna=False)
        elif how == "mean":
            value = months.mean("time", skipna=False)
        else:  # december: the window's last month (December for the whole year)
            value = months.isel(time=-1, drop=True)
        out.append(value.astype(float).drop_vars("time", errors="ignore"))
    return xr.concat(out, dim=xr.DataArray(np.asarray(years, dtype=np.int64), dims="year",
                                           name="year"), coords="minimal",
                     compat="override")


def _units(ds: xr.Dataset, name: str) -> str:
    units = ds[name].attrs.get("unit_of_measure") or ds[name].attrs.get("units")
    return str(units) if units not in (None, "") else VARIABLES[name].units


def _value_key(ds: xr.Dataset, target: ForecastTarget) -> tuple[Any, ...]:
    """What :func:`_target_value` depends on: two targets with the same key have the same
    yearly values (a share of villages also depends on its village-level test)."""
    share = target.aggregation == "share_of_villages"
    return (target.indicator, target.aggregation, target.reduction(_units(ds, target.indicator)),
            target.months, target.per_village, target.level_direction if share else None,
            target.level if share else None)


def _target_value(ds: xr.Dataset, target: ForecastTarget, years: Sequence[int]
                  ) -> tuple[xr.DataArray, xr.DataArray | None]:
    """The yearly value of a target, and per-township values for village targets."""
    da = ds[target.indicator]
    how = target.reduction(_units(ds, target.indicator))
    if target.aggregation == "growth_rate":
        both = _per_year(da, how, [years[0] - 1, *years], target.months)
        previous = both.isel(year=slice(None, -1)).assign_coords(year=both.year[1:])
        current = both.isel(year=slice(1, None))
        # A zero or negative base has no meaningful growth rate: NaN, not inf.
        return current / previous.where(previous > 0) - 1.0, None
    yearly = _per_year(da, how, years, target.months)
    if not target.per_village:
        return yearly, None
    valid = yearly.notnull()
    if target.aggregation == "share_of_villages":
        meets = DIRECTIONS[target.level_direction](yearly, target.level).astype(float)
        village_value = meets.where(valid)
        reduce = "mean"
    elif target.aggregation == "mean_over_villages":
        village_value, reduce = yearly, "mean"
    else:  # total
        village_value, reduce = yearly, "sum"
    value = getattr(village_value, reduce)("village", skipna=False)
    township = None
    if "township" in ds.coords and reduce == "mean":
        township = _by_township(village_value, ds["township"])
    return value, township


def _by_township(village_value: xr.DataArray, township: xr.DataArray) -> xr.DataArray:
    """Mean over each township's villages (township labels may vary by run)."""
    labels = township.load()
    names = sorted({str(v) for v in np.unique(labels.values.astype(object))
                    if isinstance(v, str) and v})
    out = []
    for name in names:
        mask = labels == name
        n = mask.sum("village")
        total = village_value.where(mask).sum("village", skipna=True)
        # Villages of other townships are masked to NaN; a NaN of this township's own
        # villages (a failed run) must still give NaN, so count them separately.
        missing = (village_value.isnull() & mask).any("village")
        out.append(total.where(~missing) / n.where(n > 0))
    return xr.concat(out, dim=xr.DataArray(np.asarray(names, dtype=object), dims="township",
                                           name="township"), coords="minimal",
                     compat="override")


def evaluate(results: xr.Dataset, targets: ForecastTargets | Sequence[ForecastTarget], *,
             run_dims: Sequence[str] | None = None, years: Sequence[int] | None = None
             ) -> xr.Dataset:
    """Each run's yearly value of each target, and whether it meets the target.

    Args:
        results: Runs with a ``time`` dim (monthly) and the targets' indicators as
            variables: one run, a sweep's :func:`countysim.open_results` Dataset, or any
            Dataset with extra leading dims.
        targets: The targets (:func:`load_forecast_targets`).
        run_dims: The dims that index runs (default: every dim of the first indicator
            other than ``time`` and ``village``). Used to order the output's dims.
        years: The calendar years to evaluate (default: every year ``results`` covers).

    Returns:
        A Dataset with dims ``(*run_dims, target, year)``:

        ``value``, the target's aggregated value in each year (in the target's units),
        for every year, also those outside the target's years (for fan charts);
        ``attained``, 1.0 met, 0.0 missed, NaN where ``value`` is NaN or the year is not
        one of the target's years; ``township_value`` and ``township_attained`` (dims
        ``(*run_dims, target, year, township)``), the same per township, for
        ``share_of_villages`` and ``mean_over_villages`` targets (NaN for the others), if
        ``results`` has a ``township`` coordinate;
        and on ``target`` the coordinates ``indicator``, ``threshold``, ``direction``,
        ``aggregation``, ``units``, ``label``, ``headline_year`` and ``per_village``.

    Raises:
        ForecastTargetError: An indicator is not a variable of ``results`` (the message
            names the target), or ``results`` has no ``time`` dim.
    """
    targets = tuple(targets)
    if not targets:
        raise ForecastTargetError("<targets>", "targets", "no targets to evaluate")
    if "time" not in results.dims:
        raise ForecastTargetError("<results>", "time", "the results have no time dim; "
                                  "evaluate needs the runs' monthly series")
    for i, t in enumerate(targets):
        if t.indicator not in results.data_vars:
            raise ForecastTargetError("<results>", f"targets[{i}].indicator",
                                      f"{t.indicator!r} ({t.id}) is not a variable of the "
                                      "results; keep it in the experiment's outputs")
    if run_dims is None:
        first = results[targets[0].indicator]
        run_dims = [d for d in first.dims if d not in ("time", "village")]
    run_dims = list(run_dims)
    years = [int(y) for y in (years if years is not None else _calendar_years(results))]
    values, attained, town_values, town_attained = [], [], [], []
    any_township = False
    # Targets that differ only in threshold, direction or years share their yearly values:
    # each distinct value is computed once, so a file of many thresholds on a few
    # indicators costs what its indicators cost (issue 18: 10,000 targets took 290 s).
    computed: dict[tuple[Any, ...], tuple[xr.DataArray, xr.DataArray | None]] = {}
    for t in targets:
        key = _value_key(results, t)
        if key not in computed:
            computed[key] = _target_value(results, t, years)
        value, township = computed[key]
        in_years = xr.DataArray(np.isin(years, t.years), dims="year",
                                coords={"year": years})
        hit = xr.where(value.notnull() & in_years, t.met(value).astype(float), np.nan)
        values.append(value)
        attained.append(hit)
        if township is not None:
            any_township = True
            town_values.append(township)
            town_attained.append(xr.where(township.notnull() & in_years,
                                          t.met(township).astype(float), np.nan))
        else:
            town_values.append(None)
            town_attained.append(None)
    target_dim = xr.DataArray([t.id for t in targets], dims="target", name="target")

    def stack(parts: list[xr.DataArray]) -> xr.DataArray:
        joined = xr.concat(parts, dim=target_dim, coords="minimal", compat="override",
                           join="outer")
        extra = [d for d in joined.dims if d not in (*run_dims, "target", "year")]
        return joined.transpose(*run_dims, "target", "year", *extra)

    out = xr.Dataset({"value": stack(values), "attained": stack(attained)})
    if any_township:
        template = next(v for v in town_values if v is not None)
        nan = xr.full_like(template, np.nan)
        out["township_value"] = stack([v if v is not None else nan for v in town_values])
        out["township_attained"] = stack([v if v is not None else nan for v in town_attained])
    out = out.assign_coords(year=np.asarray(years, dtype=np.int64), **target_coords(targets))
    out["value"].attrs = {"long_name": "the target's indicator, aggregated to the year "
                          "(units: the target's units coordinate)"}
    out["attained"].attrs = {"long_name": "target met in the year (1 met, 0 missed, NaN: "
                             "no value or not a year of the target)", "units": "1"}
    if any_township:
        out["township_value"].attrs = {"long_name": "the target's value over the "
                                       "township's villages"}
        out["township_attained"].attrs = {"long_name": "target met by the township's "
                                           "villages (1, 0, NaN)", "units": "1"}
    return out


def target_coords(targets: Sequence[ForecastTarget]) -> dict[str, tuple[str, Any]]:
    """The coordinates along ``target`` that describe each target."""
    def column(values: list[Any], dtype: Any = object) -> tuple[str, np.ndarray]:
        return ("target", np.asarray(values, dtype=dtype))

    return {
        "target": column([t.id for t in targets]),
        "indicator": column([t.indicator for t in targets]),
        "threshold": column([t.threshold for t in targets], float),
        "direction": column([t.direction for t in targets]),
        "aggregation": column([t.aggregation for t in targets]),
        "units": column([t.units for t in targets]),
        "label": column([t.label for t in targets]),
        "headline_year": column([t.headline for t in targets], np.int64),
        "per_village": column([t.per_village for t in targets], bool),
    }
