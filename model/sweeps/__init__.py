"""Sweeps: experiment designs, executors and the resumable Zarr results store.

Built on :mod:`countysim.core`; never imported by it.
"""
