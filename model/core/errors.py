"""Errors for bad input files: each names the file, the key and what is allowed."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


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


def read_toml(path: Path, error: type[InputError], what: str) -> tuple[str, dict[str, Any]]:
    """Read a TOML input file, or raise ``error`` naming the file.

    Args:
        path: The file.
        error: The :class:`InputError` subclass to raise.
        what: What the file is, for the message (e.g. ``"experiment"``).

    Returns:
        The file's text and its parsed content.
    """
    if not path.is_file():
        raise error(path, "<file>", f"{what} file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(path, "<syntax>", f"not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays or tables
        raise error(path, "<syntax>", "not valid TOML here: arrays or tables nested too "
                    "deeply") from None
    except OSError as exc:
        raise error(path, "<file>", f"cannot be read: {exc.strerror}") from None
