"""Forecasts to 2030: targets as data, attainment probabilities, policy packages run over
the calibrated ensemble, paired comparisons, attainment surfaces, naive baselines,
sensitivity over time and scenario discovery.

Modules:

* :mod:`.targets`: forecast targets files and :func:`~.targets.evaluate`;
* :mod:`.attainment`: probabilities with Jeffreys intervals, fan quantiles;
* :mod:`.forecast`: the runner behind ``countysim forecast`` and ``countysim.forecast``;
* :mod:`.compare`: paired differences of two packages (``countysim compare``);
* :mod:`.surface`: a binomial GLM attainment surface over levers;
* :mod:`.baseline`: unobserved-components baselines of the district's own series;
* :mod:`.sensitivity`: Morris and Sobol' indices per year;
* :mod:`.ema`: countysim as an EMA Workbench model (the ``countysim[ema]`` extra).

The layer above :mod:`countysim.plot` and below the command line (see the import-linter
contract in ``pyproject.toml``). Nothing is imported here, so the optional extras are
needed only by the modules that use them. The subpackage is ``countysim.forecasting``,
not ``countysim.forecast``, so the top-level function ``countysim.forecast(...)`` is never
shadowed by a submodule.
"""
