"""Forecasts to 2030 (issue 10): targets as data, attainment probabilities, policy
packages run over the calibrated ensemble, and paired comparisons.

Modules:

* :mod:`.targets`: forecast targets files and :func:`~.targets.evaluate`;
* :mod:`.attainment`: probabilities with Jeffreys intervals, fan quantiles;
* :mod:`.forecast`: the runner behind ``countysim forecast`` and ``countysim.forecast``;
* :mod:`.compare`: paired differences of two packages (``countysim compare``).

The subpackage is ``countysim.forecasting``, not ``countysim.forecast``, so the top-level
function ``countysim.forecast(...)`` is never shadowed by a submodule.
"""
