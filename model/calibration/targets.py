"""Calibration targets: the article's figures as data, with the uncertainty their wording implies.

A targets file (``scenarios/targets/litong_2025.toml``) holds one ``[[targets]]`` table per
figure. Each names the figure ID, the quoted Chinese text, the value, the *kind* of figure,
the model variable and month it is compared with, and whether it is held out of the fit::

    [[targets]]
    id = "A4"
    quote = "推动3906人捧起城镇“新饭碗”"
    value = 3906
    kind = "point"
    variable = "urban_placements_ytd"
    window = ["2025-01", "2025-10"]
    reporting_cv = 0.01
    window_sd_months = 0.5
    held_out = false
    reasoning = "why these numbers"

A target's ``role`` (:data:`ROLES`) is ``"fit"`` by default. A figure that an input of
the model was sized from, or that the identity audit finds moving one-for-one with one
input (:mod:`countysim.calibration.audit`), is an ``"input_check"``: it names the
``inputs`` it checks, and it is reported and predicted like a held-out figure but never
fitted, since fitting to it would return the input (tests/test_target_roles.py keeps the
roles in line with the audit and the parameters' sources).

The kind fixes how the observation variance follows from the wording (see :data:`KINDS`);
every number that enters the variance is in the file beside the figure, so the tolerance
of each target can be read and argued with. Problems are raised as :class:`TargetError`,
whose message names the file, the key and what is allowed, like
:class:`~countysim.core.scenario.ScenarioError`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..core.errors import InputError, read_toml
from ..core.observe import VARIABLES
from ..core.parameters import PARAMETERS
from ..core.scenario import month_index

MONTHS_PER_YEAR = 12

__all__ = ["ACROSS", "KINDS", "ROLES", "STATISTICS", "Target", "TargetError", "Targets",
           "load_targets"]

#: Allowed kinds of figure and what each means for the observation variance.
KINDS: dict[str, str] = {
    "point": "an exact figure; variance from reporting_cv and window_sd_months only",
    "lower_bound": "'X余' (more than X): the truth lies in [value, upper]; the distance to "
                   "that interval is what counts, plus reporting and window variance",
    "binomial": "a count k out of a pool of n: variance n p (1 - p) with p = k / n, plus "
                "reporting and window variance",
    "rounded": "a rounded figure ('2.6万'): uniform rounding variance step^2 / 12, plus "
               "reporting and window variance",
    "expectation": "a forecast ('预计'): variance obs_sd^2 of a forecast error, plus "
                   "reporting variance",
    "comparator": "a fact from another year, place or scale (R*, B*) used as a pattern: "
                  "variance obs_sd^2 of how far the district may sit from it",
    "range": "a pattern known only as a range [value, upper] (an anecdote, half to twice "
             "a figure): any value inside has implausibility zero, as for lower_bound",
}

#: What a target does in a calibration.
ROLES: dict[str, str] = {
    "fit": "calibrates: its implausibility rules points out",
    "input_check": "checks inputs it was sized from, or passes through (the identity "
                   "audit): reported and predicted, never fitted",
}

#: How a target reads its variable over the window's months (see :meth:`Target.evaluate`).
STATISTICS: dict[str, str] = {
    "end": "the value at the window's last month (a year-to-date figure, a level)",
    "mean": "the mean over the window's months",
    "sum": "the sum over the window's months (a monthly flow summed to a yearly one)",
    "growth": "annualised growth from the window's first to its last month: "
              "(x_end / x_start) ** (12 / months between) - 1",
    "rise": "annualised rise from the window's first to its last month: "
            "(x_end - x_start) x 12 / months between (a share's points a year)",
    "annual_growth": "growth of the yearly mean: mean of the window's last 12 months over "
                     "the mean of its first 12, minus 1 (a 24-month window)",
    "annual_change": "change of the yearly sum: sum of the last 12 months minus the sum of "
                     "the first 12 (a 24-month window; yuan/month becomes yuan/yr)",
}

#: How a per-village statistic becomes one number (targets on ("time", "village") variables).
ACROSS: dict[str, str] = {
    "mean": "mean over the villages",
    "max": "largest village value (an anecdote of the best village)",
    "quantile": "the q-quantile over the villages (key q)",
    "share_at_least": "share of villages whose value is >= threshold (key threshold)",
}
VILLAGE_SETS = ("all", "pilot")

_REQUIRED = ("id", "quote", "value", "kind", "variable", "window", "held_out", "reasoning")
_KIND_KEYS = {"point": (), "lower_bound": ("upper",), "binomial": ("pool",),
              "rounded": ("step",), "expectation": ("obs_sd",), "comparator": ("obs_sd",),
              "range": ("upper",)}
_OPTIONAL = ("reporting_cv", "window_sd_months", "units", "statistic", "across", "q",
             "threshold", "villages", "source", "role", "inputs")
_TOP_LEVEL = ("title", "article", "article_file", "report_month", "notes", "targets")

# The kind of target a TargetSet holds (calibration or forecast targets).
T = TypeVar("T")


class TargetError(InputError):
    """A targets file is invalid."""


@dataclass(frozen=True)
class Target:
    """One calibration target (a figure of the article and its uncertainty).

    Attributes:
        id: Figure ID (``"A4"``).
        quote: The figure as written in the article.
        value: The figure (for ``lower_bound``: the bound).
        kind: One of :data:`KINDS`.
        variable: Model variable (a ``time``-only variable of the run Dataset).
        window: First and last month the figure covers (``YYYY-MM``); the model is read
            at the last month.
        held_out: Kept out of the fit and predicted instead.
        reasoning: Why the kind, window and variance are what they are.
        upper: Upper end of the plausible range (``lower_bound`` only).
        pool: Size of the pool a count is drawn from (``binomial`` only).
        step: Rounding step of the figure (``rounded`` only).
        obs_sd: Standard deviation of a forecast's error (``expectation`` only).
        reporting_cv: Relative standard deviation of reporting error.
        window_sd_months: Uncertainty (sd, months) of the month the figure was counted to;
            converted to variance as if the flow were even over the window.
        units: Units of the value (as in the Dataset).
        statistic: How the variable is read over the window (:data:`STATISTICS`).
        across: For a per-village variable, how villages are summarised (:data:`ACROSS`).
        q: Quantile for ``across = "quantile"``.
        threshold: Threshold for ``across = "share_at_least"``.
        villages: Which villages (``"all"`` or ``"pilot"``, A13).
        source: Where a comparator or pattern comes from (B*, R*, A* IDs).
        role: One of :data:`ROLES`; an ``"input_check"`` is always held out of the fit.
        inputs: The parameters an input check checks (empty for a fit target).
    """

    id: str
    quote: str
    value: float
    kind: str
    variable: str
    window: tuple[str, str]
    held_out: bool
    reasoning: str
    upper: float | None = None
    pool: int | None = None
    step: float | None = None
    obs_sd: float | None = None
    reporting_cv: float = 0.0
    window_sd_months: float = 0.0
    units: str = ""
    statistic: str = "end"
    across: str | None = None
    q: float | None = None
    threshold: float | None = None
    villages: str = "all"
    source: str = ""
    role: str = "fit"
    inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # An input check is never fitted, whatever a file or an experiment holds out
        # (``dataclasses.replace`` passes through here too).
        if self.role == "input_check" and not self.held_out:
            object.__setattr__(self, "held_out", True)

    @property
    def read_at(self) -> str:
        """The month the model is read at (end of the window)."""
        return self.window[1]

    @property
    def months(self) -> int:
        """Number of months the window covers."""
        return month_index(self.window[1]) - month_index(self.window[0]) + 1

    @property
    def interval(self) -> tuple[float, float]:
        """Range of values the figure admits without error (a point for most kinds)."""
        if self.kind in ("lower_bound", "range"):
            return float(self.value), float(self.upper)
        return float(self.value), float(self.value)

    @property
    def centre(self) -> float:
        """Middle of :attr:`interval`: the value plots and relative terms use."""
        lo, hi = self.interval
        return 0.5 * (lo + hi)

    @property
    def obs_variance(self) -> float:
        """Observation variance implied by the wording (see :data:`KINDS`)."""
        v = float(self.value)
        var = (self.reporting_cv * v) ** 2
        if self.kind not in ("expectation", "comparator"):
            # A year-to-date flow counted to a month earlier or later than assumed differs
            # by about that many months' average flow.
            var += (v * self.window_sd_months / self.months) ** 2
        if self.kind == "binomial":
            p = v / self.pool
            var += self.pool * p * (1.0 - p)
        elif self.kind == "rounded":
            var += self.step ** 2 / 12.0
        elif self.kind in ("expectation", "comparator"):
            var += self.obs_sd ** 2
        return var

    def evaluate(self, ds: Any, start: str) -> float:
        """The target's statistic of one run.

        Args:
            ds: A run's Dataset (``countysim.run``), or a mapping of variable name to an
                array whose first axis is months from ``start`` (and, for per-village
                variables, whose second axis is the village) with, for ``villages =
                "pilot"``, a ``"pilot"`` entry (0/1 per village).
            start: The run's first month (``YYYY-MM``).

        Returns:
            The value the article's figure is compared with.
        """
        x = np.asarray(ds[self.variable].values if hasattr(ds[self.variable], "values")
                       else ds[self.variable], dtype=float)
        i0 = month_index(self.window[0]) - month_index(start)
        i1 = month_index(self.window[1]) - month_index(start)
        if self.statistic == "end":
            y = x[i1]
        elif self.statistic == "mean":
            y = x[i0:i1 + 1].mean(axis=0)
        elif self.statistic == "sum":
            y = x[i0:i1 + 1].sum(axis=0)
        elif self.statistic == "growth":
            with np.errstate(divide="ignore", invalid="ignore"):
                y = (x[i1] / x[i0]) ** (MONTHS_PER_YEAR / (i1 - i0)) - 1.0
        elif self.statistic == "rise":
            y = (x[i1] - x[i0]) * MONTHS_PER_YEAR / (i1 - i0)
        elif self.statistic == "annual_growth":
            with np.errstate(divide="ignore", invalid="ignore"):
                y = x[i0 + 12:i1 + 1].mean(axis=0) / x[i0:i0 + 12].mean(axis=0) - 1.0
        else:  # annual_change
            y = x[i0 + 12:i1 + 1].sum(axis=0) - x[i0:i0 + 12].sum(axis=0)
        if self.across is None:
            return float(y)
        if self.villages == "pilot":
            pilot = ds["pilot"]
            pilot = np.asarray(getattr(pilot, "values", pilot)) == 1
            y = y[pilot]
        if y.size == 0:
            return float("nan")
        if self.across == "mean":
            return float(np.mean(y))
        if self.across == "max":
            return float(np.max(y))
        if self.across == "quantile":
            return float(np.quantile(y, self.q))
        return float(np.mean(y >= self.threshold))

    @property
    def obs_sd_total(self) -> float:
        """Square root of :attr:`obs_variance`."""
        return math.sqrt(self.obs_variance)

    def describe_uncertainty(self) -> str:
        """One line on how the observation variance was built, for reports."""
        parts = []
        if self.kind in ("lower_bound", "range"):
            parts.append(f"range [{self.value:g}, {self.upper:g}]")
        if self.kind == "binomial":
            parts.append(f"binomial k={self.value:g} of n={self.pool}")
        if self.kind == "rounded":
            parts.append(f"rounding step {self.step:g}")
        if self.kind == "expectation":
            parts.append(f"forecast sd {self.obs_sd:g}")
        if self.kind == "comparator":
            parts.append(f"comparator sd {self.obs_sd:g}")
        if self.reporting_cv:
            parts.append(f"reporting cv {self.reporting_cv:g}")
        if self.window_sd_months and self.kind not in ("expectation", "comparator"):
            parts.append(f"window sd {self.window_sd_months:g} month")
        return ", ".join(parts) + f"; total sd {self.obs_sd_total:.3g}"


@dataclass(frozen=True)
class TargetSet(Sequence[T]):
    """The targets of one file, in file order (calibration or forecast targets).

    Attributes:
        items: The targets.
        path: The file they were loaded from (``None`` if built in code).
        text: The file's text (stored with results for provenance).
        meta: The file's top-level keys other than ``targets``.
    """

    items: tuple[T, ...]
    path: Path | None = None
    text: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, i):  # type: ignore[override]
        return self.items[i]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    @property
    def ids(self) -> list[str]:
        """Target IDs in file order."""
        return [t.id for t in self.items]


@dataclass(frozen=True)
class Targets(TargetSet[Target]):
    """The calibration targets of one file, in file order (see :class:`TargetSet`)."""

    @property
    def fitted(self) -> list[Target]:
        """The targets the calibration fits."""
        return [t for t in self.items if not t.held_out]

    @property
    def held_out(self) -> list[Target]:
        """The targets kept out of the fit."""
        return [t for t in self.items if t.held_out]

    def by_id(self, target_id: str) -> Target:
        """The target with figure ID ``target_id``."""
        for t in self.items:
            if t.id == target_id:
                return t
        raise KeyError(f"no target {target_id!r}; have {', '.join(self.ids)}")

    def select(self, ids: Sequence[str]) -> Targets:
        """A subset, in the order given."""
        return Targets(tuple(self.by_id(i) for i in ids), self.path, self.text, self.meta)

    def with_values(self, values: Mapping[str, float], **changes: Any) -> Targets:
        """A copy with new values (and other field changes) for the targets named."""
        items = tuple(replace(t, value=float(values[t.id]), **changes) if t.id in values else t
                      for t in self.items)
        return Targets(items, self.path, self.text, self.meta)


def load_targets(path: str | Path, *, require_held_out: bool = True) -> Targets:
    """Load and validate a targets file.

    Args:
        path: The TOML file.
        require_held_out: Require exactly one target with ``held_out = true`` (the
            calibration's held-out check); pseudo-targets for recovery may have none.

    Returns:
        The targets in file order.

    Raises:
        TargetError: The file is missing, not TOML, or has an invalid key or value.
    """
    path = Path(path)
    text, data = read_toml(path, TargetError, "targets")
    for key in data:
        if key not in _TOP_LEVEL:
            raise TargetError(path, key, f"unknown top-level key; allowed: {', '.join(_TOP_LEVEL)}")
    raw = data.get("targets")
    if not isinstance(raw, list) or not raw or not all(isinstance(t, dict) for t in raw):
        raise TargetError(path, "targets", "expected one or more [[targets]] tables")
    items = tuple(_target(path, i, t) for i, t in enumerate(raw))
    ids = [t.id for t in items]
    for tid in ids:
        if ids.count(tid) > 1:
            raise TargetError(path, f"{tid}.id", "figure ID appears more than once")
    # Input checks are held out by their role, not by the file's held-out choice.
    n_held = sum(t.held_out and t.role == "fit" for t in items)
    if require_held_out and n_held != 1:
        raise TargetError(path, "held_out", f"exactly one target must have held_out = true; "
                          f"found {n_held}")
    if all(t.held_out for t in items):
        raise TargetError(path, "held_out", "every target is held out: nothing left to fit")
    meta = {k: v for k, v in data.items() if k != "targets"}
    if "report_month" in meta:
        _month(path, "report_month", meta["report_month"])
    return Targets(items, path, text, meta)


# ----------------------------------------------------------------------------- checks


def _target(path: Path, index: int, raw: dict[str, Any]) -> Target:
    """Parse and validate one ``[[targets]]`` table.

    The checks run in a fixed order (keys, types, value, variable, reading, window, role,
    variance terms, the kind's own keys), so a table with several problems always reports
    the same one first.

    Args:
        path: The targets file (named in errors).
        index: The table's position in the file (names it in errors when it has no ``id``).
        raw: The table as parsed from TOML.

    Returns:
        The target.

    Raises:
        TargetError: A key is missing, unknown or has an invalid value.
    """
    label = str(raw.get("id", f"targets[{index}]"))
    kind = _check_keys(path, label, raw)
    _check_types(path, label, raw)
    value = _number(path, f"{label}.value", raw["value"])
    meta = _variable(path, label, raw["variable"])
    kw = _reading(path, label, raw, meta)
    window = _window(path, label, raw["window"], kw["statistic"])
    kw.update(source=raw.get("source", ""), **_role(path, label, raw))
    cv = raw.get("reporting_cv", 0.0)
    kw["reporting_cv"] = _number(path, f"{label}.reporting_cv", cv, lo=0.0, hi=1.0)
    sd_m = raw.get("window_sd_months", 0.0)
    kw["window_sd_months"] = _number(path, f"{label}.window_sd_months", sd_m, lo=0.0, hi=12.0)
    kw.update(_kind_values(path, label, kind, raw, value))
    target = Target(id=raw["id"], quote=raw["quote"], value=value, kind=kind,
                    variable=raw["variable"], window=window,
                    held_out=raw["held_out"],
                    reasoning=raw["reasoning"].strip(), units=raw.get("units", meta.units),
                    **kw)
    if target.obs_variance <= 0:
        raise TargetError(path, f"{label}.reporting_cv", "the target has zero observation "
                          "variance; give reporting_cv or window_sd_months")
    return target


def _check_keys(path: Path, label: str, raw: Mapping[str, Any]) -> str:
    """Check a table's keys: the required ones, the kind, no unknown key, the kind's own.

    Args:
        path: The targets file.
        label: The table's name in errors (its ``id``).
        raw: The table.

    Returns:
        The target's kind (one of :data:`KINDS`).

    Raises:
        TargetError: A required key is missing, the kind is unknown, or a key is not
            allowed for the kind.
    """
    for key in _REQUIRED:
        if key not in raw:
            raise TargetError(path, f"{label}.{key}", "required key is missing")
    kind = raw["kind"]
    if kind not in KINDS:
        raise TargetError(path, f"{label}.kind", f"expected one of {', '.join(KINDS)}, got "
                          f"{kind!r}")
    allowed = (*_REQUIRED, *_OPTIONAL, *_KIND_KEYS[kind])
    for key in raw:
        if key not in allowed:
            # A key of another kind is a likely slip of the kind: say which kind it belongs to.
            other = [k for k, keys in _KIND_KEYS.items() if key in keys]
            hint = f" (only for kind {other[0]!r})" if other else ""
            raise TargetError(path, f"{label}.{key}", f"unknown key for kind {kind!r}{hint}; "
                              f"allowed: {', '.join(allowed)}")
    for key in _KIND_KEYS[kind]:
        if key not in raw:
            raise TargetError(path, f"{label}.{key}", f"required for kind {kind!r}")
    return kind


def _check_types(path: Path, label: str, raw: Mapping[str, Any]) -> None:
    """Check that the text keys are non-empty strings and ``held_out`` is a boolean.

    Raises:
        TargetError: A text key is empty or not a string, or ``held_out`` is not a boolean.
    """
    for key in ("id", "quote", "variable", "reasoning", "units", "source"):
        if key in raw and (not isinstance(raw[key], str) or not raw[key].strip()):
            raise TargetError(path, f"{label}.{key}", "must be a non-empty string")
    if not isinstance(raw["held_out"], bool):
        raise TargetError(path, f"{label}.held_out", f"expected true or false, got "
                          f"{raw['held_out']!r}")


def _variable(path: Path, label: str, variable: str) -> Any:
    """The metadata of the model variable a target reads (an entry of ``VARIABLES``).

    Raises:
        TargetError: No model variable has that name.
    """
    meta = VARIABLES.get(variable)
    if meta is None:
        allowed_vars = [n for n, v in VARIABLES.items() if v.dims == ("time",)]
        raise TargetError(path, f"{label}.variable", f"unknown model variable {variable!r}; "
                          f"allowed: {', '.join(allowed_vars)}")
    return meta


def _reading(path: Path, label: str, raw: Mapping[str, Any], meta: Any) -> dict[str, Any]:
    """How a target reads its variable: the statistic and, per village, the summary.

    Args:
        path: The targets file.
        label: The table's name in errors.
        raw: The table.
        meta: The variable's metadata (its ``dims`` decide whether ``across`` is needed).

    Returns:
        ``statistic``, ``across``, ``q``, ``threshold`` and ``villages``, as
        :class:`Target` takes them.

    Raises:
        TargetError: ``across`` does not fit the variable's dims, or a value or a key that
            only one summary takes is wrong.
    """
    variable = raw["variable"]
    across = raw.get("across")
    if across is None and meta.dims != ("time",):
        raise TargetError(path, f"{label}.variable", f"{variable!r} has dims {meta.dims}; a "
                          "target needs a district total (dims ('time',)) or, for a "
                          "per-village variable, across = one of " + ", ".join(ACROSS))
    if across is not None:
        if across not in ACROSS:
            raise TargetError(path, f"{label}.across", f"expected one of {', '.join(ACROSS)}, "
                              f"got {across!r}")
        if meta.dims != ("time", "village"):
            raise TargetError(path, f"{label}.across", f"{variable!r} has dims {meta.dims}; "
                              "across needs a per-village variable (dims ('time', 'village'))")
    statistic = raw.get("statistic", "end")
    if statistic not in STATISTICS:
        raise TargetError(path, f"{label}.statistic", f"expected one of "
                          f"{', '.join(STATISTICS)}, got {statistic!r}")
    villages = raw.get("villages", "all")
    if villages not in VILLAGE_SETS:
        raise TargetError(path, f"{label}.villages", f"expected one of "
                          f"{', '.join(VILLAGE_SETS)}, got {villages!r}")
    if villages != "all" and across is None:
        raise TargetError(path, f"{label}.villages", "only for a per-village target (across)")
    q = raw.get("q")
    if (q is None) != (across != "quantile"):
        raise TargetError(path, f"{label}.q", "required with across = 'quantile' and only "
                          "with it")
    if q is not None:
        q = _number(path, f"{label}.q", q, lo=0.0, hi=1.0)
    threshold = raw.get("threshold")
    if (threshold is None) != (across != "share_at_least"):
        raise TargetError(path, f"{label}.threshold", "required with across = "
                          "'share_at_least' and only with it")
    if threshold is not None:
        threshold = _number(path, f"{label}.threshold", threshold)
    return {"statistic": statistic, "across": across, "q": q, "threshold": threshold,
            "villages": villages}


def _window(path: Path, label: str, window: Any, statistic: str) -> tuple[str, str]:
    """The window's first and last month, checked against the statistic that reads it.

    Raises:
        TargetError: The window is not two months in order, or is too short (or, for a
            yearly comparison, not 24 months) for the statistic.
    """
    if (not isinstance(window, list) or len(window) != 2
            or not all(isinstance(m, str) for m in window)):
        raise TargetError(path, f"{label}.window", "expected [\"YYYY-MM\", \"YYYY-MM\"] "
                          f"(first and last month), got {window!r}")
    for m in window:
        _month(path, f"{label}.window", m)
    if window[1] < window[0]:
        raise TargetError(path, f"{label}.window", f"ends {window[1]} before it starts "
                          f"{window[0]}")
    span = month_index(window[1]) - month_index(window[0]) + 1
    if statistic in ("annual_growth", "annual_change") and span != 2 * MONTHS_PER_YEAR:
        raise TargetError(path, f"{label}.window", f"statistic {statistic!r} compares two "
                          f"years: the window must span 24 months, not {span}")
    if statistic == "growth" and span < 2:
        raise TargetError(path, f"{label}.window", "statistic 'growth' needs a window of at "
                          "least two months")
    return window[0], window[1]


def _kind_values(path: Path, label: str, kind: str, raw: Mapping[str, Any],
                 value: float) -> dict[str, Any]:
    """The keys only the target's kind takes (:data:`_KIND_KEYS`), checked against its value.

    Args:
        path: The targets file.
        label: The table's name in errors.
        kind: The target's kind (its keys are known to be present).
        raw: The table.
        value: The target's value, already checked to be a number.

    Returns:
        ``upper``, ``pool``, ``step`` or ``obs_sd`` as :class:`Target` takes it (nothing for
        a ``point``).

    Raises:
        TargetError: The kind's key is out of range or inconsistent with the value.
    """
    kw: dict[str, Any] = {}
    if kind in ("lower_bound", "range"):
        kw["upper"] = _number(path, f"{label}.upper", raw["upper"])
        if kw["upper"] <= value:
            raise TargetError(path, f"{label}.upper", f"must exceed value {value:g}")
    elif kind == "binomial":
        pool = raw["pool"]
        if not isinstance(pool, int) or isinstance(pool, bool) or pool < 1:
            raise TargetError(path, f"{label}.pool", f"expected a positive integer, got {pool!r}")
        if not 0 <= value <= pool or value != int(value):
            raise TargetError(path, f"{label}.value", f"a binomial count must be an integer in "
                              f"[0, pool={pool}], got {value:g}")
        kw["pool"] = pool
    elif kind == "rounded":
        kw["step"] = _number(path, f"{label}.step", raw["step"], lo=0.0)
        if kw["step"] <= 0:
            raise TargetError(path, f"{label}.step", "must be positive")
    elif kind in ("expectation", "comparator"):
        kw["obs_sd"] = _number(path, f"{label}.obs_sd", raw["obs_sd"], lo=0.0)
        if kw["obs_sd"] <= 0:
            raise TargetError(path, f"{label}.obs_sd", "must be positive")
    return kw


def _role(path: Path, label: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The target's role and, for an input check, the parameters it checks."""
    role = raw.get("role", "fit")
    if role not in ROLES:
        raise TargetError(path, f"{label}.role", f"expected one of {', '.join(ROLES)}, got "
                          f"{role!r}")
    inputs = raw.get("inputs", [])
    if role == "fit":
        if inputs:
            raise TargetError(path, f"{label}.inputs", "only for role = 'input_check'")
        return {"role": role, "inputs": ()}
    if (not isinstance(inputs, list) or not inputs
            or not all(isinstance(n, str) for n in inputs)):
        raise TargetError(path, f"{label}.inputs", "an input check names the parameters it "
                          f"checks: a non-empty list of parameter names, got {inputs!r}")
    for name in inputs:
        if name not in PARAMETERS:
            raise TargetError(path, f"{label}.inputs", f"unknown parameter {name!r}")
    return {"role": role, "inputs": tuple(inputs)}


def _number(path: Path, key: str, value: Any, lo: float | None = None,
            hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TargetError(path, key, f"expected a number, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        raise TargetError(path, key, f"{value!r} is out of range [{lo_s}, {hi_s}]")
    return float(value)


def _month(path: Path, key: str, value: Any) -> None:
    try:
        if not isinstance(value, str):
            raise ValueError
        month_index(value)
    except ValueError:
        raise TargetError(path, key, f"expected a month 'YYYY-MM', got {value!r}") from None
