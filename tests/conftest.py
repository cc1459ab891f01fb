"""Shared factories, fixtures and assertion helpers for the countysim test suite.

The helpers follow xarray's test style: plain factory functions that build small, fast
objects (``create_test_scenario``, ``create_test_model``, ``create_test_dataset``), thin
pytest fixtures around them, and ``assert_*`` helpers that hide their own frames from
tracebacks (``__tracebackhide__ = True``) so a failure points at the calling test.

The small district (``SMALL_DISTRICT``, ``create_test_scenario``) and the Dataset
invariants (``assert_*``) are public in :mod:`countysim.testing`, defined there once and
imported here. Other test modules (sweeps, calibration) may import from here::

    from conftest import create_test_scenario, assert_workers_conserved

Everything here checks *relations* between recorded variables (conservation, counting
rules, bounds), never reference outputs of the model, so the helpers stay valid while the
behavioural defaults are recalibrated.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from countysim import testing
from countysim.core.county import CountyModel
from countysim.core.labour import N_STATES, RESERVE, Workforce
from countysim.core.parameters import PARAMETERS
from countysim.core.problems import Origin, Status
from countysim.core.scenario import Scenario
from countysim.core.tables import Labour
from countysim.testing import (  # noqa: F401  (re-exported for the test modules)
    CADRE_OUTCOMES,
    CUM_OF_MONTHLY,
    SIGNED_VARIABLES,
    SMALL_DISTRICT,
    YTD_FLOWS,
    YTD_OF_MONTHLY,
    assert_cadre_outcomes_add_up,
    assert_dataset_metadata,
    assert_flows_counted_once,
    assert_no_negative_or_nan,
    assert_problems_balanced,
    assert_workers_conserved,
    assert_ytd_resets,
    assert_zero_pilot_effect,
    calendar_months,
    calendar_years,
    ytd_increments,
)

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
BASELINE = SCENARIOS / "baseline_2025.toml"
DATA = Path(__file__).resolve().parent / "data"


def experiment_script(name: str) -> Any:
    """The script ``experiments/<name>.py`` imported as a module (the experiments are
    scripts, not a package), so its functions can be tested."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- factories


# The canonical small district and its factory live in countysim.testing (public).
create_test_scenario = testing.small_scenario


def create_test_model(scenario: Scenario | None = None, *, seed: int = 0,
                      **overrides: Any) -> CountyModel:
    """A :class:`CountyModel` of a small district, not yet stepped.

    Args:
        scenario: The scenario; default :func:`create_test_scenario` with ``overrides``.
        seed: Seed of the run.
        **overrides: Passed to :func:`create_test_scenario` (or, when ``scenario`` is
            given, to the model constructor as keyword overrides).
    """
    if scenario is None:
        return CountyModel(create_test_scenario(**overrides), rng=seed)
    return CountyModel(scenario, rng=seed, **overrides)


def run_test_model(scenario: Scenario | None = None, *, seed: int = 0, months: int = 12,
                   **overrides: Any) -> tuple[CountyModel, xr.Dataset]:
    """Run a small district for ``months`` months from its start month.

    Args:
        scenario: The scenario; default :func:`create_test_scenario` with ``overrides``.
        seed: Seed of the run.
        months: Number of monthly steps (at least 1).
        **overrides: As for :func:`create_test_model`.

    Returns:
        The stepped model and its Dataset.
    """
    model = create_test_model(scenario, seed=seed, **overrides)
    for _ in range(months):
        model.step()
    return model, model.dataset()


def create_test_dataset(seed: int = 0, months: int = 12, **overrides: Any) -> xr.Dataset:
    """The Dataset of a small run (see :func:`run_test_model`)."""
    return run_test_model(seed=seed, months=months, **overrides)[1]


def levers_2024() -> dict[str, Any]:
    """The pre-programme (2024) value of every lever the programmes changed.

    These are the registry's ``before`` values, the regime the spin-up runs under; with
    them kept, the district must stay settled (``scenarios/policies_2024_forever.toml``).
    """
    return {name: p.before for name, p in PARAMETERS.items()
            if p.section == "levers" and p.before is not None}


def monthly_growth(scenario: Scenario) -> float:
    """The labour force's monthly trend growth rate (B2) in ``scenario``."""
    return (1.0 + scenario.population_growth) ** (1 / 12) - 1.0


def write_toml(path: Path, text: str) -> Path:
    """Write a scenario file (creating folders) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
def small_scenario() -> Scenario:
    """The default small test scenario."""
    return create_test_scenario()


@pytest.fixture(scope="session")
def small_run() -> tuple[CountyModel, xr.Dataset]:
    """A 14-month run of the small district (crosses one January). Do not mutate it.

    The model carries ``open_before``: routine and legacy problems open before the
    start month (see :func:`open_problems`).
    """
    model = create_test_model(seed=11)
    model.open_before = open_problems(model)
    for _ in range(14):
        model.step()
    return model, model.dataset()


@pytest.fixture(scope="session")
def small_dataset(small_run: tuple[CountyModel, xr.Dataset]) -> xr.Dataset:
    """The Dataset of :func:`small_run`."""
    return small_run[1]


@pytest.fixture(scope="session")
def baseline_dataset() -> xr.Dataset:
    """A 12-month run of the full Litong baseline (used sparingly: ~0.3 s)."""
    from countysim import load_scenario, run

    return run(load_scenario(BASELINE), seed=2025, until="2025-12")


@pytest.fixture
def scenario_file(tmp_path: Path) -> Callable[..., Path]:
    """Factory writing a scenario TOML into ``tmp_path``.

    Returns:
        ``make(text, name="s.toml") -> Path``.
    """

    def make(text: str, name: str = "s.toml") -> Path:
        return write_toml(tmp_path / name, text)

    return make


# ---------------------------------------------------------------------- time utilities


def running_sum_within_year(ds: xr.Dataset, name: str) -> np.ndarray:
    """Running sum of monthly flow ``name`` that restarts every calendar year."""
    values = ds[name].values.astype(np.int64)
    years = calendar_years(ds)
    out = np.zeros_like(values)
    for year in np.unique(years):
        sel = years == year
        out[sel] = np.cumsum(values[sel])
    return out


# ------------------------------------------------------------------ assertion helpers




def assert_workforce_consistent(wf: Workforce) -> None:
    """A workforce's incremental counts agree with a recount of its rows.

    Every row is in exactly one state (a labour state or the reserve); ``cells`` (workers
    by home and state) and ``employees`` (per employer) equal a recount; exactly the
    urban-job holders have an employer; ``active`` is the number of rows not in the
    reserve; only local wage workers hold cooperative jobs.

    Args:
        wf: A :class:`~countysim.core.labour.Workforce`, e.g. ``model.workforce``.
    """
    __tracebackhide__ = True
    assert ((wf.state >= 0) & (wf.state < N_STATES)).all(), "a row has no valid state"
    recount = np.bincount((wf.home + 1) * N_STATES + wf.state, minlength=wf.cells.size)
    assert np.array_equal(wf.cells, recount), "incremental cells differ from a recount"
    job = wf.state == Labour.URBAN_JOB
    assert (wf.employer[job] >= 0).all(), "an urban-job holder has no employer"
    assert (wf.employer[~job] == -1).all(), "a worker without an urban job has an employer"
    employees = np.bincount(wf.employer[job], minlength=wf.employees.size)
    assert np.array_equal(wf.employees, employees), "incremental employees differ from a recount"
    assert wf.active == int((wf.state != RESERVE).sum()), "active is not the labour force"
    assert (wf.state[wf.coop_job] == Labour.LOCAL_WAGE).all(), (
        "a cooperative job outside local wage work")








def open_problems(model: CountyModel) -> tuple[int, int]:
    """Routine and legacy problems unresolved in ``model`` now (e.g. before the start month)."""
    q = model.problems
    unresolved = q.status != Status.RESOLVED
    legacy = q.origin == Origin.LEGACY
    return int((unresolved & ~legacy).sum()), int((unresolved & legacy).sum())










def assert_runs_equal(a: xr.Dataset, b: xr.Dataset) -> None:
    """Two runs have identical data, coordinates and attributes."""
    __tracebackhide__ = True
    xr.testing.assert_identical(a, b)
