"""Scenarios: validated, frozen parameter sets loaded from TOML.

A scenario file has a few top-level keys and one table per parameter section::

    name = "baseline_2025"
    description = "Litong district as of January 2025"
    extends = "other.toml"          # optional: start from another scenario
    start = "2025-01"               # first simulated month
    until = "2025-12"               # default last month of a run
    district_data = "data/litong"   # optional: folder of villages/firms/cadres CSVs

    [levers]
    pilot_villages = { value = 50, source = "A13" }
    alliances = false               # a bare value is allowed; its source is the file
    firm_visits_per_year = { 2025 = 132, 2027 = 200 }  # a lever scheduled by year
    returnees = { value = { 2026 = 100 }, source = "plan" }

A lever's schedule maps whole years (2020..2030) to the value in force from January of
that year; before its first year the inherited value holds from the start year on, and
in the spin-up years before the start the registry's ``before`` (the 2024 regime), if
set (see :meth:`Scenario.value_in`). Only levers can be scheduled.

Every key is checked against :mod:`countysim.core.parameters`; the first problem found is
raised as :class:`ScenarioError`, whose message names the file, the key and what is
allowed.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, read_toml
from .parameters import PARAMETERS, SECTIONS, Parameter

__all__ = ["CONSISTENCY_RULES", "Rule", "Scenario", "ScenarioError", "check_consistency",
           "default_scenario", "load_scenario"]

# A parameter set's version: short enough to quote in CHANGELOG.md, long enough (48 bits)
# that two parameter sets do not share it by chance.
PARAMETER_SET_PREFIX = "ps-"
PARAMETER_SET_DIGITS = 12

_TOP_LEVEL = ("name", "description", "extends", "start", "until", "district_data")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# A scenario's name becomes a file name (runs/<name>.nc): a name, never a path.
_NAME = re.compile(r"^\w[\w.+-]{0,99}$")
NAME_RULE = ("a name of 1 to 100 letters, digits, '_', '-', '+' or '.', starting with a "
             "letter, digit or '_' (not a path)")
# Longer extends chains are surely mistakes; the limit also keeps recursion shallow.
MAX_EXTENDS = 32
FIRST_MONTH = "2025-01"
LAST_MONTH = "2030-12"
# Schedules may reach back into the spin-up years the model runs before 2025.
FIRST_YEAR, LAST_YEAR = 2020, 2030
_YEAR = re.compile(r"^\d{4}$")


class ScenarioError(InputError):
    """A scenario file or override is invalid."""


def is_name(value: object) -> bool:
    """Whether ``value`` is a valid scenario or experiment name (see :data:`NAME_RULE`)."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def month_index(month: str) -> int:
    """Months since 2025-01 of a ``YYYY-MM`` string (``"2025-01"`` -> 0)."""
    m = _MONTH.match(month)
    if m is None:
        raise ValueError(f"{month!r} is not a month of the form YYYY-MM")
    return (int(m.group(1)) - 2025) * 12 + int(m.group(2)) - 1


class FrozenDict(dict):
    """A dict that refuses changes: a scenario's values change only through validation."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("scenario values are read-only; use Scenario.replace(...)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]
    __ior__ = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple:
        return (FrozenDict, (dict(self),))


@dataclass(frozen=True, eq=False)
class Scenario:
    """A complete, validated parameter set. Do not build directly: use :func:`load_scenario`.

    Parameter values are attributes (``scenario.pilot_villages``) and items of
    :attr:`values`; :attr:`sources` gives each value's provenance.

    Attributes:
        name: Short name used in file names and datasets.
        description: One or two sentences for humans.
        values: Every parameter's value, keyed by parameter name.
        sources: Every parameter's source (figure ID, assumption, file or override).
        start: First simulated month, ``YYYY-MM``.
        until: Default last simulated month, ``YYYY-MM``.
        district_data: Folder with ``villages.csv``, ``firms.csv``, ``cadres.csv``,
            or ``None`` to generate the district from the aggregates.
        path: The file the scenario was loaded from, if any.
        schedules: The levers scheduled by year: ``name -> {year: value}``, sorted by
            year. Each schedule has an entry at or before the start year (the loader adds
            the inherited value at the start year if the first scheduled year is later),
            so :attr:`values` and the schedules agree.
    """

    name: str
    description: str
    values: dict[str, Any]
    sources: dict[str, str]
    start: str = FIRST_MONTH
    until: str = "2025-12"
    district_data: Path | None = None
    path: Path | None = field(default=None, compare=False)
    schedules: Mapping[str, Mapping[int, Any]] = field(default_factory=dict)

    __iter__ = None  # by-name __getitem__ must not make a scenario look like a sequence

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", FrozenDict(self.values))
        object.__setattr__(self, "sources", FrozenDict(self.sources))
        object.__setattr__(self, "schedules", FrozenDict(
            {n: FrozenDict(sorted(self.schedules[n].items()))
             for n in PARAMETERS if n in self.schedules}))
        object.__setattr__(self, "_years", {})  # in_year cache
        # Parameters as plain instance attributes: the model reads them ~10^5 times a run.
        clash = set(self.values) & set(dir(type(self)))
        if clash:
            raise TypeError(f"parameter names clash with Scenario attributes: {sorted(clash)}")
        for key, value in self.values.items():
            object.__setattr__(self, key, value)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails; guard dunders so pickling works.
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return object.__getattribute__(self, "values")[name]
        except KeyError:
            raise AttributeError(f"Scenario has no parameter {name!r}") from None

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __getstate__(self) -> dict[str, Any]:
        # The in_year cache is rebuilt on demand; workers need not receive it.
        return {k: v for k, v in self.__dict__.items() if k != "_years"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _years={})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scenario) and self.to_toml() == other.to_toml()

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"Scenario({self.name!r}, digest={self.digest[:12]})"

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical TOML text (identifies the parameter set)."""
        return hashlib.sha256(self.to_toml().encode()).hexdigest()

    @property
    def parameter_set(self) -> str:
        """A short version of the parameter set a run of this scenario uses.

        ``ps-`` and 12 hex digits of the SHA-256 of the registry's defaults and 2024
        values (:attr:`~countysim.core.parameters.Parameter.before`, the spin-up's regime)
        and of this scenario's resolved values, schedules and months. Unlike
        :attr:`digest`, names, descriptions and sources do not enter it, so two
        scenarios that run the same numbers share it, while a changed default moves it
        even for a scenario that sets every value itself (the spin-up reads ``before``).
        A district read from files (``district_data``) enters only as being read from
        files: its CSVs' contents are not part of the digest.
        Recorded in every run's ``attrs["parameter_set"]`` (docs/outputs.md).
        """
        registry = {n: [p.default, p.before] for n, p in PARAMETERS.items()}
        content = {"registry": registry, "values": dict(self.values),
                   "schedules": {n: {str(y): v for y, v in s.items()}
                                 for n, s in self.schedules.items()},
                   "start": self.start, "until": self.until,
                   # Whether the district is read from files, not their path: a path
                   # differs between machines for the same numbers.
                   "district_data": self.district_data is not None}
        text = json.dumps(content, sort_keys=True, default=repr)
        return PARAMETER_SET_PREFIX + hashlib.sha256(text.encode()).hexdigest()[
            :PARAMETER_SET_DIGITS]

    def value_in(self, name: str, year: int) -> Any:
        """The value of a parameter in force in a calendar year.

        From the start year on: the value of the latest scheduled year at or before
        ``year``, else the value at the start. Before the start year (the spin-up): the
        latest scheduled year at or before ``year`` if any, else the registry's
        :attr:`~countysim.core.parameters.Parameter.before` (the 2024 regime) if set,
        else the value at the start.

        Args:
            name: A parameter name.
            year: A calendar year, e.g. ``2027``.

        Raises:
            KeyError: ``name`` is not a parameter.
        """
        return _value_in(name, self.values[name], self.schedules.get(name),
                         int(self.start[:4]), operator.index(year))

    def in_year(self, year: int) -> Scenario:
        """The scenario's parameter set in force in a calendar year.

        Cached per year: the model asks for it every January.

        Args:
            year: A calendar year, e.g. ``2027``.

        Returns:
            A scenario without schedules whose values are :meth:`value_in` of every
            parameter for ``year``; name, description, sources, months, district data
            and path are this scenario's. It is not re-validated: the schedules were
            validated, for every year they cover, when this scenario was built.
        """
        year = operator.index(year)
        cached = self._years.get(year)
        if cached is None:
            values = _values_in(self.values, self.schedules, int(self.start[:4]), year)
            cached = Scenario(self.name, self.description, values, self.sources,
                              self.start, self.until, self.district_data, self.path)
            self._years[year] = cached
        return cached

    def replace(self, source: str = "override", **overrides: Any) -> Scenario:
        """Return a new scenario with some parameters changed and re-validated.

        Args:
            source: Provenance recorded for the changed values.
            **overrides: Parameter names and new values, e.g. ``pilot_villages=0``; a
                lever also takes a schedule ``{year: value}`` (int or string years),
                e.g. ``pilot_villages={2025: 50, 2027: 90}``. A value replaces the
                lever's schedule; a schedule starting after the start year keeps the
                current value until its first year.

        Raises:
            ScenarioError: An unknown name, wrong type, out-of-range or inconsistent value.
        """
        values, sources = dict(self.values), dict(self.sources)
        schedules = dict(self.schedules)
        for key, value in overrides.items():
            if key in ("start", "until"):
                _check_month("<overrides>", key, value)
                continue
            param = PARAMETERS.get(key)
            if param is None:
                raise ScenarioError("<overrides>", key, _unknown_parameter(key))
            _set_value("<overrides>", param, key, value, values, schedules)
            sources[key] = source
        months = {k: overrides.get(k, getattr(self, k)) for k in ("start", "until")}
        values, schedules = _in_force_at_start(values, schedules, months["start"])
        check_consistency(values, months["start"], months["until"], "<overrides>")
        _check_years("<overrides>", values, schedules, months["start"], months["until"])
        _check_listed("<overrides>", values, self.district_data, schedules)
        return Scenario(self.name, self.description, values, sources,
                        months["start"], months["until"], self.district_data, self.path,
                        schedules)

    def to_toml(self) -> str:
        """Canonical, self-contained TOML text (no ``extends``) that loads back equal."""
        lines = [f"name = {_toml(self.name)}", f"description = {_toml(self.description)}",
                 f"start = {_toml(self.start)}", f"until = {_toml(self.until)}"]
        if self.district_data is not None:
            lines.append(f"district_data = {_toml(str(self.district_data))}")
        for section in SECTIONS:
            lines += ["", f"[{section}]"]
            for p in (p for p in PARAMETERS.values() if p.section == section):
                schedule = self.schedules.get(p.name)
                value = _toml(self.values[p.name]) if schedule is None else _toml_schedule(schedule)
                lines.append(f"{p.name} = {{ value = {value}, "
                             f"source = {_toml(self.sources[p.name])} }}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_toml(cls, text: str, *, name: str = "<string>") -> Scenario:
        """Build a scenario from TOML text (e.g. a Dataset's ``scenario_toml`` attribute)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(name, "<syntax>", f"not valid TOML: {exc}") from None
        except RecursionError:
            raise ScenarioError(name, "<syntax>", "not valid TOML here: arrays or tables "
                                "nested too deeply") from None
        if "extends" in data:
            raise ScenarioError(name, "extends", "not allowed in TOML text; load a file")
        scenario = _build(Path(name), data, _layer_defaults(), None)
        _check_listed(name, scenario.values, scenario.district_data, scenario.schedules)
        return scenario


def default_scenario() -> Scenario:
    """The registry defaults as a scenario.

    Its district and levers equal ``scenarios/baseline_2025.toml``; the baseline's
    behavioural values are the calibrated ones once the calibration has run.
    """
    values, sources = _layer_defaults()
    return Scenario("defaults", "registry defaults", values, sources)


def load_scenario(path: str | Path, **overrides: Any) -> Scenario:
    """Load and validate a scenario file, following ``extends`` chains.

    Args:
        path: The TOML file.
        **overrides: Parameter values that replace the file's (see :meth:`Scenario.replace`).

    Returns:
        The frozen, validated scenario.

    Raises:
        ScenarioError: The file is missing, not TOML, or has an invalid key or value.
    """
    scenario = _load(Path(path), ())
    # A parent may leave district_data to the file that extends it: check the result only.
    _check_listed(scenario.path, scenario.values, scenario.district_data, scenario.schedules)
    return scenario.replace(**overrides) if overrides else scenario


# ----------------------------------------------------------------------------- loading


def _load(path: Path, chain: tuple[Path, ...]) -> Scenario:
    where, key = (chain[-1], "extends") if chain else (path, "<file>")
    try:
        path = path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.12)
        raise ScenarioError(where, key, f"cannot resolve {path}: {exc}") from None
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError(chain[-1], "extends", f"cyclic extends: {cycle}")
    if len(chain) >= MAX_EXTENDS:
        raise ScenarioError(where, key, f"extends chain longer than {MAX_EXTENDS} files; "
                            "flatten it (countysim check prints a scenario resolved)")
    data = _read(path, chain)
    parent = data.get("extends")
    if parent is None:
        base, parent_scenario = _layer_defaults(), None
    else:
        if not isinstance(parent, str):
            raise ScenarioError(path, "extends", "must be a file name (string)")
        parent_scenario = _load(path.parent / parent, (*chain, path))
        base = (dict(parent_scenario.values), dict(parent_scenario.sources))
    return _build(path, data, base, parent_scenario)


def _read(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    if not path.is_file():
        where = chain[-1] if chain else path
        key = "extends" if chain else "<file>"
        raise ScenarioError(where, key, f"scenario file {path} does not exist")
    return read_toml(path, ScenarioError, "scenario")[1]


def _layer_defaults() -> tuple[dict[str, Any], dict[str, str]]:
    return ({n: p.default for n, p in PARAMETERS.items()},
            {n: p.source for n, p in PARAMETERS.items()})


def _build(path: Path, data: Mapping[str, Any], base: tuple[dict, dict],
           parent: Scenario | None) -> Scenario:
    values, sources = dict(base[0]), dict(base[1])
    schedules = dict(parent.schedules) if parent else {}
    for key, value in data.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ScenarioError(path, key, "must be a table ([" + key + "])")
            for name, raw in value.items():
                param = _section_parameter(path, key, name)
                val, src = _unwrap(path, f"{key}.{name}", raw, default_source=path.name)
                _set_value(path, param, f"{key}.{name}", val, values, schedules)
                sources[name] = src
        elif key not in _TOP_LEVEL:
            allowed = ", ".join((*_TOP_LEVEL, *(f"[{s}]" for s in SECTIONS)))
            hint = ""
            if key in PARAMETERS:
                hint = f" ({key!r} is a parameter: put it in [{PARAMETERS[key].section}])"
            raise ScenarioError(path, key, f"unknown top-level key{hint}; allowed: {allowed}")
    for key in ("name", "description", "start", "until", "district_data"):
        if key in data and not isinstance(data[key], str):
            raise ScenarioError(path, key, "must be a string")
    if "name" in data and not is_name(data["name"]):
        raise ScenarioError(path, "name", f"{data['name']!r} is not {NAME_RULE}")
    start = data.get("start", parent.start if parent else FIRST_MONTH)
    until = data.get("until", parent.until if parent else "2025-12")
    _check_month(path, "start", start)
    _check_month(path, "until", until)
    values, schedules = _in_force_at_start(values, schedules, start)
    check_consistency(values, start, until, path)
    _check_years(path, values, schedules, start, until)
    district_data = parent.district_data if parent else None
    if "district_data" in data:
        district_data = (path.parent / data["district_data"]).resolve()
        if not district_data.is_dir():
            raise ScenarioError(path, "district_data", f"folder {district_data} does not exist")
    name = data.get("name", path.stem)
    description = data.get("description", _inherited_description(parent, name))
    return Scenario(name, description, values, sources, start, until, district_data, path,
                    schedules)


def _inherited_description(parent: Scenario | None, name: str) -> str:
    """A child without its own description: the parent's, saying who extends it.

    Down a chain only the last file is named: ``"<root description> (extended by <name>)"``.
    """
    if parent is None:
        return ""
    if not parent.description:
        return f"{parent.name} extended by {name}"
    return re.sub(r" \(extended by [^()]*\)$", "", parent.description) + f" (extended by {name})"


def _section_parameter(path: Path, section: str, name: str) -> Parameter:
    param = PARAMETERS.get(name)
    if param is None:
        raise ScenarioError(path, f"{section}.{name}", _unknown_parameter(name, section))
    if param.section != section:
        raise ScenarioError(path, f"{section}.{name}",
                            f"belongs in [{param.section}], not [{section}]")
    return param


def _unknown_parameter(name: str, section: str | None = None) -> str:
    import difflib

    pool = [p.name for p in PARAMETERS.values() if section is None or p.section == section]
    close = difflib.get_close_matches(name, list(PARAMETERS), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    where = f" in [{section}]" if section else ""
    return f"unknown parameter{where}{hint} (allowed: {', '.join(pool)})"


def _unwrap(path: Path, key: str, raw: Any, default_source: str) -> tuple[Any, str]:
    if not isinstance(raw, dict) or not {"value", "source"} & raw.keys():
        return raw, default_source  # a value, or a bare schedule { 2025 = 50, ... }
    extra = set(raw) - {"value", "source"}
    if extra or "value" not in raw:
        raise ScenarioError(path, key, "a table value must be { value = ..., source = \"...\" }"
                            f"; got keys {sorted(raw)}")
    source = raw.get("source", default_source)
    if not isinstance(source, str) or not source.strip():
        raise ScenarioError(path, key + ".source", "must be a non-empty string")
    return raw["value"], source


def _coerce(path: str | Path, param: Parameter, value: Any, key: str | None = None) -> Any:
    key = key or param.name
    kind = param.kind
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ScenarioError(path, key, f"expected {param.allowed()}, got {value!r} "
                            f"({type(value).__name__})")
    if param.choices is not None and value not in param.choices:
        raise ScenarioError(path, key, f"expected {param.allowed()}, got {value!r}")
    if param.bounds is not None:
        lo, hi = param.bounds
        if not lo <= value <= hi:  # also rejects NaN
            raise ScenarioError(path, key, f"{value!r} is out of range: expected "
                                f"{param.allowed()} [{param.unit}]")
    return value


def _check_month(path: str | Path, key: str, value: Any) -> None:
    if not isinstance(value, str) or not _MONTH.match(value):
        raise ScenarioError(path, key, f"expected a month 'YYYY-MM', got {value!r}")
    if not FIRST_MONTH <= value <= LAST_MONTH:
        raise ScenarioError(path, key, f"{value} is outside {FIRST_MONTH}..{LAST_MONTH}")


@dataclass(frozen=True)
class Rule:
    """A relation between parameters that single bounds cannot express.

    Attributes:
        key: The dotted key an error names (``"levers.pilot_villages"``).
        text: The rule, for people (``"pilot_villages <= villages"``).
        broken: Given the values, the problem if the rule is broken, else ``None``.
    """

    key: str
    text: str
    broken: Callable[[Mapping[str, Any]], str | None]


def _mentors(v: Mapping[str, Any]) -> str | None:
    # Each pair takes a mentor and a mentee from the pool; each recruit a mentor.
    needed = 2 * v["mentor_pairs"] + v["recruits"]
    return (f"{v['mentor_pairs']} pairs and {v['recruits']} recruits need {needed} distinct "
            f"evaluated cadres; only {v['evaluated_cadres']}"
            if needed > v["evaluated_cadres"] else None)


#: Every cross-parameter rule a scenario must respect (in every year of its schedules);
#: ``start <= until`` is checked beside them. :func:`check_consistency` applies them and
#: :mod:`countysim.testing` draws scenarios that respect them.
CONSISTENCY_RULES: tuple[Rule, ...] = (
    Rule("levers.pilot_villages", "pilot_villages <= villages",
         lambda v: f"{v['pilot_villages']} pilot villages but only {v['villages']} villages "
                   "(district.villages)" if v["pilot_villages"] > v["villages"] else None),
    Rule("district.townships", "townships <= villages",
         lambda v: f"{v['townships']} townships but only {v['villages']} villages"
                   if v["townships"] > v["villages"] else None),
    Rule("levers.mentor_pairs", "2 * mentor_pairs + recruits <= evaluated_cadres", _mentors),
    Rule("behaviour.coop_collective_share", "coop_collective_share + coop_wage_share <= 1",
         lambda v: "coop_collective_share + coop_wage_share must be <= 1"
                   if v["coop_collective_share"] + v["coop_wage_share"] > 1.0 + 1e-9 else None),
)


def check_consistency(values: Mapping[str, Any], start: str = FIRST_MONTH,
                      until: str = LAST_MONTH, path: str | Path = "<values>") -> None:
    """Check the rules between parameters (:data:`CONSISTENCY_RULES`) and ``start <= until``.

    Args:
        values: Every parameter's value, by name (e.g. ``scenario.values``).
        start: First simulated month, ``"YYYY-MM"``.
        until: Last simulated month.
        path: The file named in the error.

    Raises:
        ScenarioError: The first rule broken, naming ``path`` and the rule's key.
    """
    if until < start:
        raise ScenarioError(path, "until", f"{until} is before start {start}")
    for rule in CONSISTENCY_RULES:
        problem = rule.broken(values)
        if problem is not None:
            raise ScenarioError(path, rule.key, problem)


def _check_listed(path: str | Path, v: Mapping[str, Any], district_data: Path | None,
                  schedules: Mapping[str, Mapping[int, Any]] | None = None) -> None:
    rules = {v["pilot_rule"], *(schedules or {}).get("pilot_rule", {}).values()}
    if "listed" in rules and district_data is None:
        raise ScenarioError(path, "levers.pilot_rule",
                            "'listed' takes the pilot column of villages.csv and needs "
                            "district_data; use 'capacity', 'idle_assets' or 'random' for a "
                            "generated district")


# ----------------------------------------------------------------------------- schedules


# Levers the model reads once, when it builds the district: a schedule would be ignored.
# The pilot rule orders the villages once, so that a growing programme adds villages and
# a shrinking one drops the last added; the evaluated pool is a settled stock of cadres.
# (`technicians` is scheduled: more are placed, or some retire, each January.)
STATIC_LEVERS = frozenset({"pilot_rule", "evaluated_cadres"})


def _set_value(path: str | Path, param: Parameter, key: str, value: Any,
               values: dict[str, Any], schedules: dict[str, Mapping[int, Any]]) -> None:
    """Set a parameter from a file or an override: a value replaces the lever's schedule."""
    if isinstance(value, Mapping):
        schedules[param.name] = _schedule(path, param, key, value)
    else:
        values[param.name] = _coerce(path, param, value, key=key)
        schedules.pop(param.name, None)


def _schedule(path: str | Path, param: Parameter, key: str,
              raw: Mapping[Any, Any]) -> dict[int, Any]:
    """A validated ``{year: value}`` schedule; each value is checked like any value."""
    if param.section != "levers":
        raise ScenarioError(path, key, "only levers can be scheduled by year; "
                            f"[{param.section}] takes a value or "
                            "{ value = ..., source = \"...\" }")
    if param.name in STATIC_LEVERS:
        raise ScenarioError(path, key, "read once, when the district is built: it cannot "
                            "change by year (give one value)")
    if not raw:
        raise ScenarioError(path, key, "empty schedule: give at least one year and its "
                            "value, e.g. { 2027 = ... }")
    schedule: dict[int, Any] = {}
    for year_key, value in raw.items():
        if isinstance(value, Mapping) and value:
            # TOML reads `2025.5 = x` as the dotted key {"2025": {"5": x}}.
            year_key = f"{year_key}.{next(iter(value))}"
        year = _year(path, key, year_key)
        if year in schedule:
            raise ScenarioError(path, f"{key}.{year}", "year given twice")
        schedule[year] = _coerce(path, param, value, key=f"{key}.{year}")
    return schedule


def _year(path: str | Path, key: str, year_key: Any) -> int:
    """A schedule's year from a TOML key (always a string) or an override's int or string."""
    if isinstance(year_key, str) and _YEAR.match(year_key):
        year = int(year_key)
    elif isinstance(year_key, int) and not isinstance(year_key, bool):
        year = year_key
    else:
        raise ScenarioError(path, f"{key}.{year_key}", f"expected a whole year "
                            f"{FIRST_YEAR}..{LAST_YEAR} as key, got {year_key!r}")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ScenarioError(path, f"{key}.{year}",
                            f"year {year} is outside {FIRST_YEAR}..{LAST_YEAR}")
    return year


def _in_force_at_start(values: Mapping[str, Any], schedules: Mapping[str, Mapping[int, Any]],
                       start: str) -> tuple[dict[str, Any], dict[str, Mapping[int, Any]]]:
    """The values in force in the start year, and schedules that each cover it.

    A schedule whose first year is after the start year keeps the inherited value
    (``values``) until then; writing that value at the start year makes the schedule
    self-contained, so that ``to_toml`` round-trips without the parent.
    """
    year = int(start[:4])
    values, schedules = dict(values), dict(schedules)
    for name, schedule in schedules.items():
        earlier = [y for y in schedule if y <= year]
        if earlier:
            values[name] = schedule[max(earlier)]
        else:
            schedules[name] = {year: values[name], **schedule}
    return values, schedules


def _value_in(name: str, value: Any, schedule: Mapping[int, Any] | None, start_year: int,
              year: int) -> Any:
    """See :meth:`Scenario.value_in`; ``value`` is the one in force in the start year."""
    if schedule:
        latest = max((y for y in schedule if y <= year), default=None)
        if latest is not None:
            return schedule[latest]
    if year < start_year and PARAMETERS[name].before is not None:
        return PARAMETERS[name].before
    return value


def _values_in(values: Mapping[str, Any], schedules: Mapping[str, Mapping[int, Any]],
               start_year: int, year: int) -> dict[str, Any]:
    return {n: _value_in(n, v, schedules.get(n), start_year, year) for n, v in values.items()}


def _check_years(path: str | Path, values: Mapping[str, Any],
                 schedules: Mapping[str, Mapping[int, Any]], start: str, until: str) -> None:
    """The consistency rules in every scheduled year other than the start year.

    From the first scheduled year to the later of ``until`` and the last scheduled year:
    a run may go past ``until`` (``--until``), and a schedule must not hide a bad year.
    """
    if not schedules:
        return
    start_year = int(start[:4])
    years = {y for schedule in schedules.values() for y in schedule}
    for year in range(min(years), max(*years, int(until[:4])) + 1):
        if year == start_year:  # `values`, checked by the caller without naming the year
            continue
        try:
            check_consistency(_values_in(values, schedules, start_year, year),
                              start, until, path)
        except ScenarioError as exc:
            raise ScenarioError(exc.file, exc.key, f"in {year}: {exc.problem}") from None


def _toml_schedule(schedule: Mapping[int, Any]) -> str:
    return "{ " + ", ".join(f"{year} = {_toml(v)}" for year, v in schedule.items()) + " }"


def _toml(value: Any) -> str:
    """One TOML scalar; JSON string escapes are valid TOML basic-string escapes.

    JSON leaves DEL (U+007F) as it is, but TOML forbids it in strings: escape it too.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")
