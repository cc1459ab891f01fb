"""Forecasting to 2030: targets, attainment, comparisons, surfaces, sensitivity and EMA.

The layer above :mod:`countysim.plot` and below the command line (see the import-linter
contract in ``pyproject.toml``). Modules are imported by name, e.g.
``from countysim.forecasting import sensitivity``; nothing is imported here, so the
optional extras (``countysim[ema]``) are needed only by the modules that use them.
"""
