"""Calibration: targets, statsmodels emulators, history matching and its report.

Built on :mod:`countysim.core` and :mod:`countysim.sweeps`; never imported by them.
"""
