"""countysim: an agent-based model of a county-level district's development targets.

The default district is Litong (利通区), Wuzhong, Ningxia. Quick start::

    import countysim
    scenario = countysim.load_scenario("scenarios/baseline_2025.toml")
    ds = countysim.run(scenario, seed=1, until="2025-12")
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("countysim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

from .county import CountyModel, run
from .parameters import PARAMETERS
from .scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "PARAMETERS",
    "CountyModel",
    "Scenario",
    "ScenarioError",
    "__version__",
    "load_scenario",
    "run",
]
