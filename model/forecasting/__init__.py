"""Forecasts to 2030 (issue 10): targets as data, attainment probabilities, policy
packages run over the calibrated ensemble, comparisons, statistics and reports.

Modules:

* :mod:`.targets`: forecast targets files and :func:`~.targets.evaluate`;
* :mod:`.attainment`: probabilities with Jeffreys intervals, fan quantiles;
* :mod:`.forecast`: the runner behind ``countysim forecast`` and ``countysim.forecast``;
* :mod:`.compare`: paired differences of two packages (``countysim compare``);
* :mod:`.surface`, :mod:`.baseline`, :mod:`.sensitivity`, :mod:`.ema`: attainment
  surfaces, the district's own series as a naive baseline, sensitivity along time, the
  EMA Workbench (``countysim[ema]``);
* :mod:`.figures`, :mod:`.report`: the forecast's figures and ``countysim report``;
  :mod:`.synthetic`: a synthetic forecast Dataset for tests.

The layer above :mod:`countysim.plot` and below the command line (see the import-linter
contract in ``pyproject.toml``). Modules are imported by name, e.g.
``from countysim.forecasting import sensitivity``; nothing is imported here, so the
optional extras are needed only by the modules that use them. The subpackage is
``countysim.forecasting``, not ``countysim.forecast``, so the top-level function
``countysim.forecast(...)`` is never shadowed by a submodule.
"""
