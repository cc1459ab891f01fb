"""The simulation core: parameters, scenarios, the district, the Mesa model and its output.

This layer imports nothing from the layers above it (``countysim.sweeps``,
``countysim.calibration``, the CLI); ``make lint`` enforces that with import-linter.
"""

from .version import __version__

__all__ = ["__version__"]
