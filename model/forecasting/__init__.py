"""Forecasts to 2030: attainment of targets under policy packages, comparisons, reports.

The layer above :mod:`countysim.plot` (see the import-linter contract in
``pyproject.toml``). It is a subpackage named ``forecasting``, not ``forecast``, so that
it does not shadow the top-level function :func:`countysim.forecast`.
"""
