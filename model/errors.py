"""Errors for bad input files: each names the file, the key and what is allowed."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """An input file (scenario, experiment, targets, calibration) is invalid.

    The message reads ``"<file>: <key>: <problem>"``; the command line prints it on one
    line and exits with status 2.

    Attributes:
        file: The file at fault (``"<overrides>"`` for keyword overrides).
        key: The dotted key at fault, e.g. ``"levers.pilot_villages"``.
        problem: What is wrong and what is allowed.
    """

    def __init__(self, file: str | Path, key: str, problem: str) -> None:
        self.file, self.key, self.problem = str(file), key, problem
        super().__init__(f"{self.file}: {key}: {problem}")
