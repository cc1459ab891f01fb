"""The installed package's version (``0+unknown`` when run from an uninstalled tree)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("countysim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
