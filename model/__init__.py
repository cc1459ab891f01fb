"""countysim: an agent-based model of a county-level district's development targets.

The default district is Litong (利通区), Wuzhong, Ningxia. Quick start::

    import countysim
    scenario = countysim.load_scenario("scenarios/baseline_2025.toml")
    ds = countysim.run(scenario, seed=1, until="2025-12")
    ds = countysim.open_run("runs/baseline_2025.nc")  # a file `countysim run` wrote

Sweeps (see docs/sweeps.md)::

    countysim.sweep("experiments/pilot_coverage_x_support.toml", "runs/coverage.zarr")
    results = countysim.open_results("runs/coverage.zarr")
    problem = countysim.salib_problem(results)   # a sampled design's SALib problem (dict)

Parameter ensembles shipped with the package (the calibration's accepted points)::

    ens = countysim.load_ensemble("litong_2025")
    member = countysim.ensemble_member("litong_2025", 3)   # a Scenario: run it with any seed

Calibration results (the NetCDF file ``countysim calibrate`` writes)::

    ds = countysim.open_calibration("runs/calibration/calibrate_2025.nc")

Forecasts to 2030 and paired comparisons (see docs/forecast.md)::

    fc = countysim.forecast("experiments/forecast_2030.toml", out="runs/forecast.nc")
    diff = countysim.compare("scenarios/baseline_2025.toml",
                             "scenarios/programme_withdrawn.toml", ensemble="litong_2025")
"""

from .calibration.targets import TargetError, load_targets
from .core.county import CountyModel, run
from .core.observe import open_run, to_tidy
from .core.parameters import PARAMETERS
from .core.scenario import Scenario, ScenarioError, load_scenario
from .core.version import __version__
from .sweeps.ensemble import EnsembleError, ensemble_member, load_ensemble
from .sweeps.experiment import Experiment, ExperimentError, load_experiment
from .sweeps.store import StoreError, export, open_results, salib_problem
from .sweeps.sweep import SweepError, SweepSummary, sweep

# The calibration pulls in statsmodels and scipy.optimize: imported on first use.
_LAZY = {"calibrate": "calibrate", "load_calibration": "calibrate",
         "CalibrationError": "calibrate", "update_scenario": "calibrate",
         "open_calibration": "calibrate"}


# Forecasts (issue 10): countysim.forecast(...) and countysim.compare(...) are functions of
# the countysim.forecasting subpackage, imported on first use like the calibration.
_LAZY_FORECASTING = {"forecast": ("forecast", "forecast"),
                     "open_forecast": ("forecast", "open_forecast"),
                     "load_forecast_targets": ("targets", "load_forecast_targets"),
                     "compare": ("compare", "paired_comparison")}


# Submodules for notebooks and tests (matplotlib, hypothesis): imported on first use, so
# `countysim.plot.indicator_paths(...)` works after a plain `import countysim`.
_LAZY_MODULES = ("plot", "testing", "validate")


def __getattr__(name: str):
    from importlib import import_module

    if name in _LAZY:
        value = getattr(import_module(f".calibration.{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later look-ups find the function, not a submodule
        return value
    if name in _LAZY_FORECASTING:
        module, attribute = _LAZY_FORECASTING[name]
        value = getattr(import_module(f".forecasting.{module}", __name__), attribute)
        globals()[name] = value
        return value
    if name in _LAZY_MODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PARAMETERS",
    "CalibrationError",
    "CountyModel",
    "EnsembleError",
    "Experiment",
    "ExperimentError",
    "Scenario",
    "ScenarioError",
    "StoreError",
    "SweepError",
    "SweepSummary",
    "TargetError",
    "__version__",
    "calibrate",
    "compare",
    "ensemble_member",
    "export",
    "forecast",
    "load_calibration",
    "load_ensemble",
    "load_experiment",
    "load_forecast_targets",
    "load_scenario",
    "load_targets",
    "open_calibration",
    "open_forecast",
    "open_results",
    "open_run",
    "run",
    "salib_problem",
    "sweep",
    "to_tidy",
    "update_scenario",
]
