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

Every key is checked against :mod:`countysim.core.parameters`; the first problem found is
raised as :class:`ScenarioError`, whose message names the file, the key and what is
allowed.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, read_toml
from .parameters import PARAMETERS, SECTIONS, Parameter

__all__ = ["Scenario", "ScenarioError", "default_scenario", "load_scenario"]

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
    """

    name: str
    description: str
    values: dict[str, Any]
    sources: dict[str, str]
    start: str = FIRST_MONTH
    until: str = "2025-12"
    district_data: Path | None = None
    path: Path | None = field(default=None, compare=False)

    __iter__ = None  # by-name __getitem__ must not make a scenario look like a sequence

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", FrozenDict(self.values))
        object.__setattr__(self, "sources", FrozenDict(self.sources))
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

    def replace(self, source: str = "override", **overrides: Any) -> Scenario:
        """Return a new scenario with some parameters changed and re-validated.

        Args:
            source: Provenance recorded for the changed values.
            **overrides: Parameter names and new values, e.g. ``pilot_villages=0``.

        Raises:
            ScenarioError: An unknown name, wrong type, out-of-range or inconsistent value.
        """
        values, sources = dict(self.values), dict(self.sources)
        for key, value in overrides.items():
            if key in ("start", "until"):
                _check_month("<overrides>", key, value)
                continue
            param = PARAMETERS.get(key)
            if param is None:
                raise ScenarioError("<overrides>", key, _unknown_parameter(key))
            values[key] = _coerce("<overrides>", param, value)
            sources[key] = source
        months = {k: overrides.get(k, getattr(self, k)) for k in ("start", "until")}
        _check_consistency("<overrides>", values, months["start"], months["until"])
        _check_listed("<overrides>", values, self.district_data)
        return Scenario(self.name, self.description, values, sources,
                        months["start"], months["until"], self.district_data, self.path)

    def to_toml(self) -> str:
        """Canonical, self-contained TOML text (no ``extends``) that loads back equal."""
        lines = [f"name = {_toml(self.name)}", f"description = {_toml(self.description)}",
                 f"start = {_toml(self.start)}", f"until = {_toml(self.until)}"]
        if self.district_data is not None:
            lines.append(f"district_data = {_toml(str(self.district_data))}")
        for section in SECTIONS:
            lines += ["", f"[{section}]"]
            for p in (p for p in PARAMETERS.values() if p.section == section):
                lines.append(f"{p.name} = {{ value = {_toml(self.values[p.name])}, "
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
        _check_listed(name, scenario.values, scenario.district_data)
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
    _check_listed(scenario.path, scenario.values, scenario.district_data)
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
    for key, value in data.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ScenarioError(path, key, "must be a table ([" + key + "])")
            for name, raw in value.items():
                param = _section_parameter(path, key, name)
                val, src = _unwrap(path, f"{key}.{name}", raw, default_source=path.name)
                values[name] = _coerce(path, param, val, key=f"{key}.{name}")
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
    _check_consistency(path, values, start, until)
    district_data = parent.district_data if parent else None
    if "district_data" in data:
        district_data = (path.parent / data["district_data"]).resolve()
        if not district_data.is_dir():
            raise ScenarioError(path, "district_data", f"folder {district_data} does not exist")
    name = data.get("name", path.stem)
    description = data.get("description", parent.description if parent else "")
    return Scenario(name, description, values, sources, start, until, district_data, path)


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
    if not isinstance(raw, dict):
        return raw, default_source
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


def _check_consistency(path: str | Path, v: Mapping[str, Any], start: str, until: str) -> None:
    """Relations between parameters that single bounds cannot express."""
    if until < start:
        raise ScenarioError(path, "until", f"{until} is before start {start}")
    if v["pilot_villages"] > v["villages"]:
        raise ScenarioError(path, "levers.pilot_villages",
                            f"{v['pilot_villages']} pilot villages but only "
                            f"{v['villages']} villages (district.villages)")
    if v["townships"] > v["villages"]:
        raise ScenarioError(path, "district.townships",
                            f"{v['townships']} townships but only {v['villages']} villages")
    shares = ("rural_share_farming", "rural_share_local_wage", "rural_share_urban_job",
              "rural_share_migrant")
    total = sum(v[s] for s in shares)
    if total > 1.0 + 1e-9:
        raise ScenarioError(path, "district.rural_share_*",
                            f"initial rural labour shares sum to {total:.3f}; must be <= 1 "
                            "(the rest are seeking work)")
    needed = 2 * v["mentor_pairs"] + v["recruits"]
    if needed > v["evaluated_cadres"]:
        # Each pair takes a mentor and a mentee from the pool; each recruit a mentor.
        raise ScenarioError(path, "levers.mentor_pairs",
                            f"{v['mentor_pairs']} pairs and {v['recruits']} recruits need "
                            f"{needed} distinct evaluated cadres; only {v['evaluated_cadres']}")
    if v["coop_collective_share"] + v["coop_wage_share"] > 1.0 + 1e-9:
        raise ScenarioError(path, "behaviour.coop_collective_share",
                            "coop_collective_share + coop_wage_share must be <= 1")
    if v["promotion_score_min"] <= v["removal_score_max"]:
        raise ScenarioError(path, "levers.promotion_score_min",
                            "must be above levers.removal_score_max")


def _check_listed(path: str | Path, v: Mapping[str, Any], district_data: Path | None) -> None:
    if v["pilot_rule"] == "listed" and district_data is None:
        raise ScenarioError(path, "levers.pilot_rule",
                            "'listed' takes the pilot column of villages.csv and needs "
                            "district_data; use 'capacity', 'idle_assets' or 'random' for a "
                            "generated district")


def _toml(value: Any) -> str:
    """One TOML scalar; JSON string escapes are valid TOML basic-string escapes.

    JSON leaves DEL (U+007F) as it is, but TOML forbids it in strings: escape it too.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")
