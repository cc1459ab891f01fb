"""Experiments: which scenarios a sweep runs, how many times, and from which seed.

An experiment file (``experiments/*.toml``) names a base scenario, the parameters to vary
and a design that turns them into *samples* (one parameter set each); every sample is run
``replicates`` times::

    name = "pilot_coverage_x_support"
    description = "Pilot-village coverage against district support for cooperatives"
    scenario = "../scenarios/baseline_2025.toml"   # relative to this file
    until = "2027-12"                              # horizon (default: the scenario's)
    replicates = 5
    seed = 20250613                                # root seed of the sweep

    [overrides]                                    # optional: fixed changes to the base
    firm_visits_per_year = 150

    [design]
    kind = "grid"

    [design.parameters]
    pilot_villages = [0, 25, 50, 90, 130]
    activation_rate = [0.0, 0.04, 0.08, 0.16]

Designs (``design.kind``):

``grid``
    Full factorial of the listed values; the last parameter varies fastest.
``list``
    Explicit points: the lists have equal length and are read column-wise.
``lhs``
    Latin hypercube of ``samples`` points (SALib ``latin.sample``).
``sobol``
    Saltelli's scheme for Sobol' indices (SALib ``sobol.sample``): ``samples`` = N, a power
    of two, gives ``N * (D + 2)`` samples, or ``N * (2D + 2)`` with ``second_order = true``.
``morris``
    Elementary-effects trajectories (SALib ``morris.sample``): ``trajectories`` = N,
    ``levels`` (even, default 4) gives ``N * (D + 1)`` samples.
``scenarios``
    ``files = ["a.toml", "b.toml"]``: each named scenario file is one sample (instead of a
    base ``scenario``); ``[overrides]`` apply to each.
``ensemble``
    Samples drawn from a parameter ensemble (:mod:`countysim.sweeps.ensemble`):
    ``ensemble = "litong_2025"`` (a packaged name, or a ``.nc`` path relative to this
    file), ``members = N`` (the first ``N`` members; default all) and optionally
    ``files = ["a.toml", ...]``, policy packages used instead of the base ``scenario``.
    Samples are files x members, the file varying slowest; each sample is that scenario
    with the member's parameter values and ``district_seed`` applied (``[overrides]``
    apply first and may not name an ensemble parameter). The store records
    ``member(sample)``, ``package(sample)`` (the scenario's name), ``district_seed`` and
    each ensemble parameter along ``sample``. Replicate ``r`` has the same seed in every
    sample, so runs of two packages with the same member and replicate are paired
    (common random numbers). Members are different districts, so villages are numbered
    (``village`` = 0, 1, ...) and their names are ``village_name(sample, village)``.

In ``lhs``, ``sobol`` and ``morris`` a numeric parameter is a range,
``{ low = 0.05, high = 0.3 }``, and a categorical or boolean one lists its choices,
``{ choices = ["capacity", "random"] }``. The samplers work in the unit hypercube; a
coordinate ``u`` in ``[0, 1]`` maps to ``low + u * (high - low)`` for floats, to
``low + floor(u * (high - low + 1))`` (capped at ``high``) for integers, so each integer is
equally likely, and to ``choices[floor(u * k)]`` (capped at the last) for ``k`` choices.
Grid and list designs take categorical values directly (``pilot_rule = ["capacity",
"random"]``, ``alliances = [true, false]``).

Outputs: a top-level ``outputs = ["urban_placements_ytd", "collective_income"]`` keeps
only those variables of :data:`countysim.core.observe.VARIABLES` in the store (the
workers drop the others before sending a run back), so large sweeps stay small.

Validation follows the scenario loader: the first problem found raises
:class:`ExperimentError`, whose message names the file, the key and what is allowed.
Every sample of a grid or list design is validated as a whole scenario when the file is
loaded. In a sampled design (``lhs``, ``sobol``, ``morris``) each range is checked against
the registry; a drawn combination that breaks a rule between parameters (for example two
shares summing above one) is recorded by the sweep as a failed run with the scenario
error as its text.

Seeds: the design is drawn from the root ``SeedSequence(seed)`` itself; replicate ``r``
of every sample runs with its child ``SeedSequence(seed, spawn_key=(r,))`` (the ``r``-th
of ``root.spawn(replicates)``), so replicates share common random numbers across samples.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..core.district import OPTIONAL_TABLES, TABLES
from ..core.errors import InputError, read_toml
from ..core.observe import VARIABLES
from ..core.parameters import PARAMETERS, Parameter
from ..core.scenario import (
    FIRST_MONTH,
    LAST_MONTH,
    NAME_RULE,
    Scenario,
    ScenarioError,
    is_name,
    load_scenario,
    month_index,
)
from ..core.scenario import _toml as _toml  # one TOML scalar writer for every input file
from .ensemble import (
    EnsembleError,
    ensemble_names,
    ensemble_path,
    is_path,
    load_ensemble,
    member_values,
)

__all__ = ["DESIGNS", "Experiment", "ExperimentError", "Factor", "limit", "load_experiment"]

DESIGNS = ("grid", "list", "lhs", "sobol", "morris", "scenarios", "ensemble")
SAMPLED = ("lhs", "sobol", "morris")
_TOP_LEVEL = ("name", "description", "scenario", "until", "replicates", "seed", "overrides",
              "design", "outputs")
_DESIGN_KEYS = {
    "grid": ("kind", "parameters"),
    "list": ("kind", "parameters"),
    "lhs": ("kind", "samples", "parameters"),
    "sobol": ("kind", "samples", "second_order", "parameters"),
    "morris": ("kind", "trajectories", "levels", "parameters"),
    "scenarios": ("kind", "files"),
    "ensemble": ("kind", "ensemble", "members", "files"),
}
# Parameters that change the village dimension (names and number of villages): the runs
# of one sweep share it, so these can only be fixed (in [overrides]), not varied.
SHAPE_PARAMETERS = ("villages", "townships", "district_seed")
# Size limits, checked before anything is drawn or run: a typo (samples = 2e9) should not
# cost hours and all the memory. Each is raised with an environment variable.
LIMITS = {"samples": ("COUNTYSIM_MAX_SAMPLES", 100_000),
          "runs": ("COUNTYSIM_MAX_RUNS", 100_000)}
# A forecast experiment's [forecast] table (its targets file, its store) is read by
# countysim.forecasting; a sweep accepts and ignores it (the runs do not depend on it).
_TOP_LEVEL += ("forecast",)


def limit(what: str) -> int:
    """The limit on ``"samples"`` or ``"runs"`` per sweep (environment, else default)."""
    variable, default = LIMITS[what]
    text = os.environ.get(variable, "")
    try:
        value = int(text) if text.strip() else default
    except ValueError:
        raise ExperimentError(f"${variable}", "<environment>", f"expected a whole number, "
                              f"got {text!r}") from None
    return value


class ExperimentError(InputError):
    """An experiment file is invalid."""


@dataclass(frozen=True)
class Factor:
    """One varied parameter and the values or range the design draws from.

    Attributes:
        name: Parameter name (a key of :data:`countysim.core.parameters.PARAMETERS`).
        values: Listed values (``grid`` and ``list`` designs).
        low: Lower end of a numeric range (sampled designs).
        high: Upper end of a numeric range (sampled designs).
        choices: Values of a categorical or boolean parameter (sampled designs).
    """

    name: str
    values: tuple[Any, ...] | None = None
    low: float | int | None = None
    high: float | int | None = None
    choices: tuple[Any, ...] | None = None

    @property
    def parameter(self) -> Parameter:
        """The registry entry of the parameter."""
        return PARAMETERS[self.name]

    def from_unit(self, u: np.ndarray) -> list[Any]:
        """Map unit-hypercube coordinates to parameter values (see the module docstring)."""
        u = np.asarray(u, dtype=float)
        if self.choices is not None:
            k = len(self.choices)
            index = np.minimum(np.floor(u * k).astype(np.int64), k - 1)
            return [self.choices[int(i)] for i in index]
        if self.parameter.kind is int:
            span = int(self.high) - int(self.low) + 1
            ints = np.minimum(int(self.low) + np.floor(u * span).astype(np.int64),
                              int(self.high))
            return [int(v) for v in ints]
        return [float(v) for v in self.low + u * (self.high - self.low)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of the factor."""
        out: dict[str, Any] = {"name": self.name, "unit": self.parameter.unit}
        for key in ("values", "low", "high", "choices"):
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True, eq=False)
class Experiment:
    """A validated experiment. Load it with :func:`load_experiment`, or build it in Python
    with :meth:`Experiment.build` (the same keys and validation as the file).

    Two experiments are equal when they run the same thing: same name, description and
    :meth:`definition` (design, samples, base scenario, seeds), wherever they came from.

    Attributes:
        name: Short name (default: the file's stem).
        description: One or two sentences for humans.
        kind: The design, one of :data:`DESIGNS`.
        options: Design options (``samples``, ``second_order``, ``trajectories``, ``levels``).
        factors: The varied parameters, in file order (empty for ``scenarios``).
        base: The base scenario with ``[overrides]`` applied (``None`` for ``scenarios``).
        scenarios: The named scenarios with ``[overrides]`` applied (``scenarios`` only).
        overrides: The fixed parameter values of ``[overrides]``.
        until: Last simulated month of every run, ``YYYY-MM``.
        start: First simulated month of every run, ``YYYY-MM``.
        replicates: Runs per sample.
        seed: Root seed of the sweep.
        samples: Parameter values of each sample (``{}`` for each named scenario).
        unit: Unit-hypercube coordinates of the samples (sampled designs), shape
            ``(n_samples, n_factors)``; ``None`` otherwise.
        path: The experiment file, if loaded from one.
        text: The file's text as written.
        outputs: The run variables the store keeps (empty: all of them).
        members: ``ensemble`` designs: the ensemble member of each sample.
        packages: ``ensemble`` designs with ``files``: the index into :attr:`scenarios`
            of each sample's scenario (empty without ``files``).
        ensemble: ``ensemble`` designs: the ensemble Dataset (its first members).
    """

    name: str
    description: str
    kind: str
    options: dict[str, Any]
    factors: tuple[Factor, ...]
    base: Scenario | None
    scenarios: tuple[Scenario, ...]
    overrides: dict[str, Any]
    until: str
    start: str
    replicates: int
    seed: int
    samples: tuple[dict[str, Any], ...]
    unit: np.ndarray | None = None
    path: Path | None = field(default=None, compare=False)
    text: str = ""
    outputs: tuple[str, ...] = ()
    members: tuple[int, ...] = ()
    packages: tuple[int, ...] = ()
    ensemble: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def build(cls, *, name: str, design: dict[str, Any], seed: int,
              scenario: str | Path | None = None, replicates: int = 1,
              until: str | None = None, description: str = "",
              overrides: dict[str, Any] | None = None,
              outputs: list[str] | None = None) -> Experiment:
        """Build an experiment from Python, with the keys of an experiment file.

        The arguments mirror the file's top-level keys (see the module docstring) and are
        validated exactly as :func:`load_experiment` validates a file; errors name
        ``<Experiment.build>`` as their file. Relative scenario paths are relative to the
        working directory. :meth:`to_toml` writes the experiment as a file::

            exp = countysim.Experiment.build(
                name="coverage", scenario="scenarios/baseline_2025.toml", seed=1,
                design={"kind": "grid", "parameters": {"pilot_villages": [0, 50, 90]}},
                replicates=5, until="2026-12")
            countysim.sweep(exp, "runs/coverage.zarr")

        Args:
            name: Short name (letters, digits, ``_`` and ``-``).
            design: The ``[design]`` table: ``kind`` and its keys, e.g. ``{"kind":
                "lhs", "samples": 20, "parameters": {"activation_rate": {"low": 0.0,
                "high": 0.2}}}``; for ``kind = "scenarios"``, ``files``.
            seed: Root seed of the sweep (an integer >= 0).
            scenario: The base scenario file (not with ``kind = "scenarios"``).
            replicates: Runs per sample.
            until: Horizon ``YYYY-MM``; default the scenario's.
            description: One or two sentences for humans.
            overrides: Fixed parameter values applied to the base (``[overrides]``).
            outputs: The run variables to keep in the store (default: all).

        Returns:
            The validated experiment with its samples drawn.

        Raises:
            ExperimentError: An invalid value; the message reads
                ``"<Experiment.build>: <key>: <problem>"``.
        """
        data: dict[str, Any] = {"name": name, "description": description,
                                "replicates": replicates, "seed": seed, "design": design}
        if scenario is not None:
            data["scenario"] = Path(scenario).as_posix() if isinstance(scenario, Path) \
                else scenario
        if until is not None:
            data["until"] = until
        if overrides:
            data["overrides"] = overrides
        if outputs is not None:
            data["outputs"] = outputs
        loader = _Loader(Path.cwd() / "<Experiment.build>", data, "", "<Experiment.build>")
        exp = loader.build()
        return replace(exp, text=exp.to_toml())

    def to_toml(self) -> str:
        """The experiment as an experiment file: :func:`load_experiment` reads it back equal.

        Scenario files are written as absolute paths, so the text can be saved anywhere.
        """
        lines = [f"name = {_toml(self.name)}", f"description = {_toml(self.description)}"]
        if self.base is not None:
            lines.append(f"scenario = {_toml(self.base.path.as_posix())}")
        lines += [f"until = {_toml(self.until)}", f"replicates = {self.replicates}",
                  f"seed = {self.seed}"]
        if self.outputs:
            lines.append("outputs = [" + ", ".join(_toml(v) for v in self.outputs) + "]")
        if self.overrides:
            lines += ["", "[overrides]"]
            lines += [f"{k} = {_toml(v)}" for k, v in self.overrides.items()]
        lines += ["", "[design]", f"kind = {_toml(self.kind)}"]
        lines += [f"{k} = {_toml(v)}" for k, v in self.options.items()]
        if self.scenarios:
            files = ", ".join(_toml(s.path.as_posix()) for s in self.scenarios)
            lines.append(f"files = [{files}]")
        if self.factors:
            lines += ["", "[design.parameters]"]
            for f in self.factors:
                if f.values is not None:
                    spec = "[" + ", ".join(_toml(v) for v in f.values) + "]"
                elif f.choices is not None:
                    spec = "{ choices = [" + ", ".join(_toml(v) for v in f.choices) + "] }"
                else:
                    spec = f"{{ low = {_toml(f.low)}, high = {_toml(f.high)} }}"
                lines.append(f"{f.name} = {spec}")
        return "\n".join(lines) + "\n"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Experiment):
            return NotImplemented
        return (self.description == other.description
                and self.definition() == other.definition())

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return (f"Experiment({self.name!r}, {self.kind}, {self.n_samples} samples x "
                f"{self.replicates} replicates)")

    @property
    def n_samples(self) -> int:
        """Number of samples (design points or named scenarios)."""
        return len(self.samples)

    @property
    def n_runs(self) -> int:
        """Number of runs: samples x replicates."""
        return self.n_samples * self.replicates

    @property
    def varied(self) -> tuple[str, ...]:
        """Names of the sample coordinates: the varied parameters, or ``("scenario",)``."""
        if self.kind == "scenarios":
            return ("scenario",)
        if self.kind == "ensemble":
            return ("package", "member", "district_seed",
                    *(str(p) for p in self.ensemble["parameter"].values))
        return tuple(f.name for f in self.factors)

    def scenario(self, sample: int) -> Scenario:
        """The complete scenario of one sample.

        Raises:
            ScenarioError: The sample's values break a cross-parameter rule (possible in
                sampled designs only; grid and list samples are checked on loading).
        """
        if self.kind == "scenarios":
            return self.scenarios[sample]
        values = self.samples[sample]
        if self.kind == "ensemble":
            base = self.scenarios[self.packages[sample]] if self.scenarios else self.base
            return base.replace(source=f"ensemble {self.ensemble.attrs['name']} member "
                                f"{self.members[sample]}", **values)
        return self.base.replace(source=f"experiment {self.name}", **values)

    def definition(self) -> dict[str, Any]:
        """The resolved experiment as JSON-ready data (what the results depend on)."""
        out: dict[str, Any] = {
            "name": self.name, "kind": self.kind, "options": self.options,
            "factors": [f.to_dict() for f in self.factors], "overrides": self.overrides,
            "start": self.start, "until": self.until, "replicates": self.replicates,
            "seed": self.seed, "samples": list(self.samples),
        }
        if self.scenarios:
            out["scenarios"] = {s.name: self._portable_toml(s) for s in self.scenarios}
        else:
            out["base_scenario"] = self._portable_toml(self.base)
        # Keys added after stores were first written: only when used, so the digests of
        # earlier experiments (and the stores they resume) stay as they were.
        if self.outputs:
            out["outputs"] = list(self.outputs)
        if self.kind == "ensemble":
            out["members"] = list(self.members)
            out["packages"] = list(self.packages)
        return out

    def _portable_toml(self, scenario: Scenario) -> str:
        """The scenario as TOML with its district folder relative to the experiment's, so
        a project moved elsewhere keeps its digest (issue 18: a moved project with a CSV
        district could not resume)."""
        text = scenario.to_toml()
        if scenario.district_data is None or self.path is None:
            return text
        relative = Path(os.path.relpath(scenario.district_data, self.path.parent)).as_posix()
        return "\n".join(f"district_data = {json.dumps(relative)}"
                          if line.startswith("district_data = ") else line
                          for line in text.split("\n"))

    @property
    def digest(self) -> str:
        """SHA-256 of :meth:`definition` (comments and layout of the file do not count)."""
        text = json.dumps(self.definition(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def input_files(self) -> list[Path]:
        """Every file the runs read: scenario files (each ``extends`` chain) and CSVs.

        The experiment file itself is not listed: what in it matters is in
        :attr:`digest`.
        """
        files: list[Path] = []
        for scenario in (*self.scenarios, self.base):
            if scenario is None:
                continue
            path = scenario.path
            while path is not None and path not in files:
                files.append(path)
                # The chain was validated when the scenario loaded.
                parent = tomllib.loads(path.read_text(encoding="utf-8")).get("extends")
                path = (path.parent / parent).resolve() if isinstance(parent, str) else None
            if scenario.district_data is not None:
                files += [scenario.district_data / f"{name}.csv"
                          for name in TABLES]
                files += [path for name in OPTIONAL_TABLES
                          if (path := scenario.district_data / f"{name}.csv").is_file()]
        return list(dict.fromkeys(files))

    def salib_problem(self) -> dict[str, Any] | None:
        """The SALib problem of a sampled design, in unit-hypercube coordinates."""
        if self.kind not in SAMPLED:
            return None
        return {"num_vars": len(self.factors), "names": [f.name for f in self.factors],
                "bounds": [[0.0, 1.0]] * len(self.factors)}


def load_experiment(path: str | Path) -> Experiment:
    """Load and validate an experiment file.

    Args:
        path: The TOML file; the scenario files it names are relative to it.

    Returns:
        The validated experiment with its samples drawn.

    Raises:
        ExperimentError: The file is missing, not TOML, or has an invalid key or value
            (including problems of the scenarios it names).
    """
    path = Path(path)
    text, data = read_toml(path, ExperimentError, "experiment")
    return _Loader(path, data, text).build()


# ----------------------------------------------------------------------------- loading


class _Loader:
    """Validates one experiment file; every error names ``self.path`` (or ``label``)."""

    def __init__(self, path: Path, data: dict[str, Any], text: str,
                 label: str | None = None) -> None:
        self.path, self.data, self.text, self.label = path, data, text, label

    def error(self, key: str, problem: str) -> ExperimentError:
        return ExperimentError(self.label or self.path, key, problem)

    def build(self) -> Experiment:
        data = self.data
        for key in data:
            if key not in _TOP_LEVEL:
                hint = _close(key, _TOP_LEVEL)
                if key in PARAMETERS:
                    hint = f"{key!r} is a parameter: put it in [overrides] or [design.parameters]"
                raise self.error(key, "unknown top-level key" + (f" ({hint})" if hint else "")
                                 + "; allowed: " + ", ".join(_TOP_LEVEL))
        name = self._string("name", self.path.stem)
        if "name" in data and not is_name(name):
            raise self.error("name", f"{name!r} is not {NAME_RULE}")
        description = self._string("description", "")
        replicates = self._int("replicates", 1, minimum=1)
        if replicates > limit("runs"):
            raise self.error("replicates", self._too_many(replicates, "runs"))
        if "seed" not in data:
            raise self.error("seed", "missing: a sweep needs a root seed (an integer >= 0)")
        seed = self._int("seed", 0, minimum=0)
        design = data.get("design")
        if not isinstance(design, dict):
            raise self.error("design", "missing or not a table: add [design] with kind = "
                             + " | ".join(repr(k) for k in DESIGNS))
        kind = design.get("kind")
        if kind not in DESIGNS:
            raise self.error("design.kind", f"expected one of {', '.join(map(repr, DESIGNS))}, "
                             f"got {kind!r}")
        for key in design:
            if key not in _DESIGN_KEYS[kind]:
                raise self.error(f"design.{key}", f"unknown key for kind = {kind!r}; allowed: "
                                 + ", ".join(_DESIGN_KEYS[kind]))
        overrides = self._overrides()
        outputs = self._outputs()
        if kind == "scenarios" or (kind == "ensemble" and "files" in design):
            files = design.get("files")
            if kind == "scenarios" and isinstance(files, list):
                self._check_size(len(files), replicates, "design.files")
            if "scenario" in data:
                raise self.error("scenario", f"not used with design kind {kind!r} and "
                                 "design.files: each file in design.files is a scenario; "
                                 "remove 'scenario'")
            base, scenarios = None, self._named_scenarios(design, overrides)
            first = scenarios[0]
        else:
            base, scenarios = self._base(overrides), ()
            first = base
        until = self._until(first)
        members: tuple[int, ...] = ()
        packages: tuple[int, ...] = ()
        ensemble = None
        if kind == "ensemble":
            for i, s in enumerate(scenarios or (base,)):
                if s.district_data is not None:  # members draw their own districts
                    raise self.error(f"design.files[{i}]" if scenarios else "scenario",
                                     f"{s.name!r} reads its district from "
                                     f"{s.district_data}; an ensemble's members each draw a "
                                     "district (firms, villages, ...) from their own "
                                     "values, so an ensemble design needs a scenario "
                                     "without district_data")
            factors, unit = (), None
            options, ensemble = self._ensemble(design, overrides)
            members, packages, samples = self._ensemble_samples(
                ensemble, scenarios or (base,), bool(scenarios), replicates)
        else:
            options = self._options(kind, design)
            factors = () if kind == "scenarios" else self._factors(kind, design, overrides,
                                                                   base)
            if kind != "scenarios":
                self._check_size(_design_size(kind, options, factors), replicates,
                                 "design.samples" if "samples" in options else
                                 "design.trajectories" if kind == "morris" else
                                 "design.parameters")
            samples, unit = self._samples(kind, options, factors, seed, scenarios)
            if kind in ("grid", "list"):
                self._check_samples(base, samples)
        for s in scenarios or (base,):
            if until < s.start:
                raise self.error("until", f"{until} is before the start {s.start} of "
                                 f"scenario {s.name!r}")
        return Experiment(name, description, kind, options, factors, base, scenarios,
                          overrides, until, first.start, replicates, seed, samples, unit,
                          None if self.label else self.path, self.text, outputs, members,
                          packages, ensemble)

    # ------------------------------------------------------------------ top level

    @staticmethod
    def _too_many(n: int, what: str) -> str:
        variable, _ = LIMITS[what]
        return (f"{n:,} {what} exceed the limit of {limit(what):,} {what} per sweep; "
                f"make the design smaller, or raise the limit with the environment "
                f"variable {variable}")

    def _check_size(self, n_samples: int, replicates: int, key: str) -> None:
        if n_samples > limit("samples"):
            raise self.error(key, self._too_many(n_samples, "samples"))
        if n_samples * replicates > limit("runs"):
            raise self.error(key, f"{n_samples:,} samples x {replicates:,} replicates: "
                             + self._too_many(n_samples * replicates, "runs"))

    def _string(self, key: str, default: str) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, got {value!r}")
        return value

    def _int(self, key: str, default: int, minimum: int) -> int:
        value = self.data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.error(key, f"expected an integer >= {minimum}, got {value!r}")
        return value

    def _overrides(self) -> dict[str, Any]:
        overrides = self.data.get("overrides", {})
        if not isinstance(overrides, dict):
            raise self.error("overrides", "must be a table ([overrides]) of parameter values")
        for key, value in overrides.items():
            if key in ("start", "until"):
                raise self.error(f"overrides.{key}", "set the horizon with the top-level "
                                 "'until'; the start month comes from the scenario")
            if key not in PARAMETERS:
                raise self.error(f"overrides.{key}", _unknown(key))
            if isinstance(value, dict | list):
                raise self.error(f"overrides.{key}", "expected a single value "
                                 f"({PARAMETERS[key].allowed()}); vary it in "
                                 "[design.parameters] instead")
        return dict(overrides)

    def _outputs(self) -> tuple[str, ...]:
        outputs = self.data.get("outputs")
        if outputs is None:
            return ()
        if (not isinstance(outputs, list) or not outputs
                or not all(isinstance(v, str) for v in outputs)):
            raise self.error("outputs", "expected a non-empty list of variable names, e.g. "
                             'outputs = ["urban_placements_ytd", "collective_income"]')
        seen: dict[str, int] = {}
        for i, name in enumerate(outputs):
            if name not in VARIABLES:
                hint = _close(name, list(VARIABLES))
                raise self.error(f"outputs[{i}]", f"unknown variable {name!r}"
                                 + (f"; {hint}" if hint else "") + " (the variables are "
                                 "countysim.core.observe.VARIABLES, listed in docs/outputs.md)")
            if name in seen:
                raise self.error(f"outputs[{i}]", f"{name!r} repeats outputs[{seen[name]}]")
            seen[name] = i
        return tuple(outputs)

    def _ensemble(self, design: dict[str, Any],
                  overrides: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """The ensemble named in ``design.ensemble`` (its first ``members``) and the options."""
        ref = design.get("ensemble")
        packaged = ", ".join(ensemble_names()) or "none"
        if not isinstance(ref, str) or not ref:
            raise self.error("design.ensemble", "missing: name a packaged ensemble "
                             f"({packaged}) or a .nc file relative to this file")
        try:
            source = ensemble_path(ref, relative_to=self.path.parent, file=self.label
                                   or self.path, key="design.ensemble")
            ds = load_ensemble(source)
        except EnsembleError as exc:
            if exc.key == "design.ensemble":
                raise self.error(exc.key, exc.problem) from None
            raise self.error("design.ensemble", f"invalid ensemble: {exc}") from None
        size = ds.sizes["member"]
        n = design.get("members", size)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise self.error("design.members", f"expected an integer >= 1, got {n!r}")
        if n > size:
            raise self.error("design.members", f"{n} exceeds the {size} members of ensemble "
                             f"{ds.attrs['name']!r}; use at most {size}")
        names = [str(p) for p in ds["parameter"].values]
        for p in (*names, "district_seed"):
            if p in overrides:
                raise self.error(f"overrides.{p}", f"is set by each member of ensemble "
                                 f"{ds.attrs['name']!r}; remove it from [overrides]")
        # A packaged name stays a name; a file is written as an absolute path (to_toml).
        stored = str(Path(source).resolve()) if is_path(ref) else ref
        return {"ensemble": stored, "members": n}, ds.isel(member=slice(0, n))

    def _ensemble_samples(self, ds: Any, bases: tuple[Scenario, ...], files: bool,
                          replicates: int
                          ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[dict, ...]]:
        """Files x members (file slowest), each member's values checked on each scenario."""
        n = ds.sizes["member"]
        self._check_size(len(bases) * n, replicates, "design.members")
        values = [member_values(ds, m) for m in range(n)]
        members, packages, samples = [], [], []
        for k, base in enumerate(bases):
            for m in range(n):
                try:
                    base.replace(**values[m])
                except ScenarioError as exc:
                    where = f"design.files[{k}]" if files else "scenario"
                    raise self.error(where, f"member {m} of ensemble {ds.attrs['name']!r} "
                                     f"does not make a valid scenario of {base.name!r}: "
                                     f"{exc.key}: {exc.problem}") from None
                members.append(m)
                packages.append(k)
                samples.append(values[m])
        return tuple(members), tuple(packages) if files else (), tuple(samples)

    def _scenario(self, key: str, file: Any, overrides: dict[str, Any]) -> Scenario:
        if not isinstance(file, str):
            raise self.error(key, f"expected a scenario file name (string), got {file!r}")
        try:
            scenario_path = (self.path.parent / file).resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
            raise self.error(key, f"cannot resolve {file!r}: {exc}") from None
        if not scenario_path.is_file():
            raise self.error(key, f"scenario file {scenario_path} does not exist")
        try:
            scenario = load_scenario(scenario_path)
        except ScenarioError as exc:
            raise self.error(key, f"invalid scenario: {exc}") from None
        try:
            return scenario.replace(source="experiment [overrides]", **overrides)
        except ScenarioError as exc:
            if exc.key in overrides:
                raise self.error(f"overrides.{exc.key}", exc.problem) from None
            raise self.error("overrides", f"{exc.key}: {exc.problem}") from None

    def _base(self, overrides: dict[str, Any]) -> Scenario:
        if "scenario" not in self.data:
            raise self.error("scenario", "missing: name the base scenario file, e.g. "
                             "scenario = \"../scenarios/baseline_2025.toml\"")
        return self._scenario("scenario", self.data["scenario"], overrides)

    def _named_scenarios(self, design: dict[str, Any],
                         overrides: dict[str, Any]) -> tuple[Scenario, ...]:
        files = design.get("files")
        if not isinstance(files, list) or not files:
            raise self.error("design.files", "expected a non-empty list of scenario files")
        scenarios = tuple(self._scenario(f"design.files[{i}]", f, overrides)
                          for i, f in enumerate(files))
        names: dict[str, int] = {}
        first = scenarios[0]
        for i, s in enumerate(scenarios):
            if s.name in names:
                raise self.error(f"design.files[{i}]", f"scenario name {s.name!r} repeats "
                                 f"design.files[{names[s.name]}]; names label the samples")
            names[s.name] = i
            if s.start != first.start:
                raise self.error(f"design.files[{i}]", f"starts {s.start} but "
                                 f"design.files[0] starts {first.start}; the runs of a sweep "
                                 "share one time axis")
            for p in SHAPE_PARAMETERS:
                if s.values[p] != first.values[p]:
                    raise self.error(f"design.files[{i}]", f"{p} = {s.values[p]!r} differs "
                                     f"from design.files[0] ({first.values[p]!r}); the runs "
                                     "of a sweep share one village dimension")
            if s.district_data != first.district_data:
                raise self.error(f"design.files[{i}]", "district_data differs from "
                                 "design.files[0]; the runs of a sweep share one district")
        return scenarios

    def _until(self, scenario: Scenario) -> str:
        until = self.data.get("until", scenario.until)
        if not isinstance(until, str):
            raise self.error("until", f"expected a month 'YYYY-MM', got {until!r}")
        try:
            month_index(until)
        except ValueError:
            raise self.error("until", f"expected a month 'YYYY-MM', got {until!r}") from None
        if not FIRST_MONTH <= until <= LAST_MONTH:
            raise self.error("until", f"{until} is outside {FIRST_MONTH}..{LAST_MONTH}")
        return until

    # --------------------------------------------------------------------- design

    def _options(self, kind: str, design: dict[str, Any]) -> dict[str, Any]:
        def positive_int(key: str, default: int | None = None, minimum: int = 1) -> int:
            value = design.get(key, default)
            if value is None:
                raise self.error(f"design.{key}", f"missing: kind = {kind!r} needs "
                                 f"{key} (an integer >= {minimum})")
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise self.error(f"design.{key}", f"expected an integer >= {minimum}, "
                                 f"got {value!r}")
            return value

        if kind == "lhs":
            return {"samples": positive_int("samples")}
        if kind == "sobol":
            n = positive_int("samples", minimum=2)
            if n & (n - 1):
                raise self.error("design.samples", f"{n} is not a power of two; Sobol' "
                                 "sequences keep their balance properties only for 2^k "
                                 f"points (try {1 << (n - 1).bit_length()})")
            second = design.get("second_order", False)
            if not isinstance(second, bool):
                raise self.error("design.second_order", f"expected true or false, got "
                                 f"{second!r}")
            return {"samples": n, "second_order": second}
        if kind == "morris":
            levels = positive_int("levels", 4, minimum=2)
            if levels % 2:
                raise self.error("design.levels", f"expected an even number of levels "
                                 f"(Morris' design needs it), got {levels}")
            return {"trajectories": positive_int("trajectories", minimum=2), "levels": levels}
        return {}

    def _factors(self, kind: str, design: dict[str, Any], overrides: dict[str, Any],
                 base: Scenario) -> tuple[Factor, ...]:
        params = design.get("parameters")
        if not isinstance(params, dict) or not params:
            raise self.error("design.parameters", "missing or empty: add [design.parameters] "
                             "with at least one parameter to vary")
        factors = []
        for name, spec in params.items():
            key = f"design.parameters.{name}"
            if name not in PARAMETERS:
                raise self.error(key, _unknown(name))
            if name in SHAPE_PARAMETERS:
                raise self.error(key, f"{name} sets the villages (their number and names), "
                                 "which all runs of a sweep share; fix it in [overrides] "
                                 "or sweep it with one experiment per value")
            if name in overrides:
                raise self.error(key, "is also fixed in [overrides]; remove it from one")
            if kind in SAMPLED:
                factors.append(self._range_factor(key, name, spec, base))
            else:
                factors.append(self._listed_factor(kind, key, name, spec, base))
        if kind == "list":
            lengths = {f.name: len(f.values) for f in factors}
            if len(set(lengths.values())) > 1:
                raise self.error("design.parameters", "kind = 'list' reads the lists "
                                 "column-wise, so they need equal lengths; got "
                                 + ", ".join(f"{k}: {n}" for k, n in lengths.items()))
            points = list(zip(*(f.values for f in factors), strict=True))
            _no_repeats(points, lambda i, first: self.error(
                "design.parameters", f"point {i} {points[i]!r} repeats point {first}; each "
                "point is one sample"))
        return tuple(factors)

    def _value(self, key: str, name: str, value: Any, base: Scenario) -> Any:
        """One value checked against the registry (type, bounds, choices) and coerced.

        Rules between parameters are left to :meth:`_check_samples` (grid, list) or to
        the run (sampled designs): a value may be valid only beside other varied values.
        """
        if isinstance(value, dict):
            # replace() takes a lever's schedule, but samples are labelled by single values.
            raise self.error(key, f"expected {PARAMETERS[name].allowed()}, got {value!r}: a "
                             "schedule by year cannot be swept; put it in the scenario")
        try:
            return base.replace(**{name: value}).values[name]
        except ScenarioError as exc:
            if exc.key == name:  # the value itself; cross-parameter rules use dotted keys
                raise self.error(key, exc.problem) from None
        param = PARAMETERS[name]
        if param.kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    def _listed_factor(self, kind: str, key: str, name: str, spec: Any,
                       base: Scenario) -> Factor:
        if not isinstance(spec, list) or not spec:
            raise self.error(key, "expected a non-empty list of values, e.g. "
                             f"{name} = [{_example(PARAMETERS[name])}]")
        values = tuple(self._value(f"{key}[{i}]", name, v, base) for i, v in enumerate(spec))
        if kind == "grid":  # a list design's points are columns: a column may repeat
            _no_repeats(values, lambda i, first: self.error(
                f"{key}[{i}]", f"{values[i]!r} repeats {key}[{first}]"))
        return Factor(name, values=values)

    def _range_factor(self, key: str, name: str, spec: Any, base: Scenario) -> Factor:
        param = PARAMETERS[name]
        categorical = param.choices is not None or param.kind is bool
        if categorical:
            allowed = ", ".join(repr(c) for c in (param.choices or (True, False)))
            if not isinstance(spec, dict) or set(spec) != {"choices"}:
                raise self.error(key, f"a {param.kind.__name__} parameter takes "
                                 f"{{ choices = [...] }} (from {allowed}), got {spec!r}")
            choices = spec["choices"]
            if not isinstance(choices, list) or not choices:
                raise self.error(f"{key}.choices", "expected a non-empty list of values "
                                 f"from {allowed}")
            values = tuple(self._value(f"{key}.choices[{i}]", name, v, base)
                           for i, v in enumerate(choices))
            if len(set(values)) != len(values):
                raise self.error(f"{key}.choices", f"values repeat: {list(values)}")
            return Factor(name, choices=values)
        if not isinstance(spec, dict) or set(spec) != {"low", "high"}:
            lo, hi = param.bounds
            raise self.error(key, f"a numeric parameter takes {{ low = ..., high = ... }} "
                             f"within [{lo:g}, {hi:g}] [{param.unit}], got {spec!r}")
        low = self._value(f"{key}.low", name, spec["low"], base)
        high = self._value(f"{key}.high", name, spec["high"], base)
        if not low < high:
            raise self.error(key, f"low ({low!r}) must be below high ({high!r})")
        return Factor(name, low=low, high=high)

    def _samples(self, kind: str, options: dict[str, Any], factors: tuple[Factor, ...],
                 seed: int, scenarios: tuple[Scenario, ...]
                 ) -> tuple[tuple[dict[str, Any], ...], np.ndarray | None]:
        if kind == "scenarios":
            return tuple({} for _ in scenarios), None
        names = [f.name for f in factors]
        if kind == "grid":
            points = itertools.product(*(f.values for f in factors))
            return tuple(dict(zip(names, p, strict=True)) for p in points), None
        if kind == "list":
            points = zip(*(f.values for f in factors), strict=True)
            return tuple(dict(zip(names, p, strict=True)) for p in points), None
        unit = draw_unit_samples(kind, options, len(factors), seed)
        columns = [f.from_unit(unit[:, j]) for j, f in enumerate(factors)]
        return tuple(dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)), unit

    def _check_samples(self, base: Scenario, samples: tuple[dict[str, Any], ...]) -> None:
        for i, values in enumerate(samples):
            try:
                base.replace(**values)
            except ScenarioError as exc:
                point = ", ".join(f"{k}={v!r}" for k, v in values.items())
                raise self.error("design.parameters", f"sample {i} ({point}) is not a valid "
                                 f"scenario: {exc.key}: {exc.problem}") from None


def _no_repeats(values: Any, error: Any) -> None:
    """Raise ``error(i, first)`` for the first value equal to an earlier one."""
    seen: dict[Any, int] = {}
    for i, v in enumerate(values):
        key = (type(v), v)  # 1 and True are different values here
        if key in seen:
            raise error(i, seen[key])
        seen[key] = i


def _design_size(kind: str, options: dict[str, Any], factors: tuple[Factor, ...]) -> int:
    """Number of samples a design will have, computed before anything is drawn."""
    d = len(factors)
    if kind == "grid":
        return math.prod(len(f.values) for f in factors)
    if kind == "list":
        return len(factors[0].values)
    if kind == "lhs":
        return options["samples"]
    if kind == "sobol":
        return options["samples"] * ((2 * d + 2) if options["second_order"] else (d + 2))
    return options["trajectories"] * (d + 1)  # morris


def draw_unit_samples(kind: str, options: dict[str, Any], n_factors: int,
                      seed: int) -> np.ndarray:
    """Draw a sampled design in the unit hypercube with SALib.

    The sampler's generator comes from the root ``SeedSequence(seed)`` itself; the runs'
    seeds are its spawned children, so the two never share a stream.

    Args:
        kind: ``"lhs"``, ``"sobol"`` or ``"morris"``.
        options: The design options of :class:`Experiment`.
        n_factors: Number of varied parameters.
        seed: The experiment's root seed.

    Returns:
        Array of shape ``(n_samples, n_factors)`` with values in ``[0, 1]``.
    """
    from SALib.sample import latin, morris, sobol

    rng = np.random.default_rng(np.random.SeedSequence(seed))
    problem = {"num_vars": n_factors, "names": [f"x{j}" for j in range(n_factors)],
               "bounds": [[0.0, 1.0]] * n_factors}
    if kind == "lhs":
        return latin.sample(problem, options["samples"], seed=rng)
    if kind == "sobol":
        return sobol.sample(problem, options["samples"],
                            calc_second_order=options["second_order"], seed=rng)
    if kind == "morris":
        return morris.sample(problem, options["trajectories"], num_levels=options["levels"],
                             seed=rng)
    raise ValueError(f"not a sampled design: {kind!r}")


def _close(key: str, pool: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(key, list(pool), n=3)
    return f"did you mean {', '.join(close)}?" if close else ""


def _unknown(name: str) -> str:
    hint = _close(name, list(PARAMETERS))
    return ("unknown parameter" + (f"; {hint}" if hint else "")
            + " (the allowed names are in countysim.PARAMETERS and docs/odd.md)")


def _example(param: Parameter) -> str:
    if param.choices is not None:
        return ", ".join(repr(c) for c in param.choices[:2]).replace("'", '"')
    if param.kind is bool:
        return "true, false"
    lo, hi = param.bounds
    if param.kind is int:
        return f"{int(lo)}, {int(min(hi, lo + max(1, (hi - lo) // 2)))}"
    mid = lo + (hi - lo) / 2
    return f"{lo:g}, {mid:g}" if math.isfinite(mid) else f"{lo:g}"
