"""Writing calibrated values into a scenario file, keeping its comments and layout."""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from ..core.parameters import PARAMETERS
from ..core.scenario import load_scenario
from ..sweeps.files import write_atomically

__all__ = ["update_scenario"]

_LINE = re.compile(r"^(?P<name>[a-z_0-9]+)(?P<eq>\s*=\s*)(?P<rest>.*)$")


def update_scenario(path: str | Path, values: Mapping[str, float],
                    ranges: Mapping[str, tuple[float, float]], experiment: str,
                    date: str | None = None, member: int = -1,
                    draws: Mapping[str, float] | None = None,
                    carried_ranges: Mapping[str, tuple[float, float]] | None = None
                    ) -> list[str]:
    """Write calibrated values into a scenario file, keeping its comments and layout.

    Each parameter's line in its section (``[behaviour]``, or ``[levers]`` or
    ``[district]`` for an assumed lever or district value) becomes
    ``name = { value = V, source = "calibration: <experiment> <date>, accepted range
    [lo, hi]" }``; a parameter the file does not list is appended to its section. A whole
    float for an integer parameter is written as an int.

    Args:
        path: The scenario TOML file.
        values: Calibrated values by parameter name.
        ranges: Accepted ``(lo, hi)`` by parameter name.
        experiment: Experiment name for the provenance.
        date: ISO date for the provenance (default today).
        member: The ensemble member the baseline is (a medoid baseline), for the
            provenance of ``draws``.
        draws: That member's carried values and district draw, written too, each
            sourced as the member's draw (from ``carried_ranges``).
        carried_ranges: The carried ranges of ``draws`` by parameter name.

    Returns:
        The names of the parameters written.

    Raises:
        KeyError: A name is not a parameter.
        ValueError: The file has no section for a parameter it does not list.
        ScenarioError: The file would no longer load (it is then left unchanged).
    """
    path = Path(path)
    date = date or _dt.date.today().isoformat()
    draws = dict(draws or {})
    carried_ranges = carried_ranges or {}
    home = {name: PARAMETERS[name].section for name in (*values, *draws)}

    def line(name: str) -> str:
        if name in draws:
            return _scenario_line(name, draws[name], _draw_source(
                carried_ranges.get(name), experiment, date, member))
        return _scenario_line(name, values[name], _accepted_source(ranges[name], experiment,
                                                                   date))

    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    done, last = _replace_lines(lines, home, line)
    missing = [n for n in home if n not in done]
    for name in missing:
        if home[name] not in last:
            raise ValueError(f"{path}: no [{home[name]}] section to write {name}")
    # Insert from the bottom up so that earlier positions stay valid.
    for section in sorted({home[n] for n in missing}, key=last.__getitem__, reverse=True):
        extra = [line(n) for n in missing if home[n] == section]
        lines[last[section] + 1:last[section] + 1] = extra
    _write_checked(path, "".join(lines))
    return list(home)


def _replace_lines(lines: list[str], home: Mapping[str, str],
                   line: Callable[[str], str]) -> tuple[set[str], dict[str, int]]:
    """Rewrite, in place, each line of a parameter in ``home`` that stands in its section.

    Returns:
        The names rewritten, and the index of each section's last non-comment line
        (its header's, if it has none), where a missing parameter is appended.
    """
    section, done = None, set()
    last: dict[str, int] = {}
    for i, text in enumerate(lines):
        stripped = text.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped.strip("[]").strip()
            last.setdefault(section, i)
            continue
        if section is None:
            continue
        if stripped and not stripped.startswith("#"):
            last[section] = i
        m = _LINE.match(text.rstrip("\n"))
        if m and home.get(m.group("name")) == section:
            lines[i] = line(m.group("name"))
            done.add(m.group("name"))
    return done, last


def _write_checked(path: Path, text: str) -> None:
    """Replace the scenario file with ``text`` only if ``text`` loads as a scenario."""
    # Check the new text as a file of the same folder (its extends and district_data are
    # relative to it) before it replaces the scenario.
    check = path.with_name(f".{path.name}.check-{os.getpid()}{path.suffix}")
    write_atomically(check, text.encode("utf-8"))
    try:
        load_scenario(check)
    finally:
        check.unlink(missing_ok=True)
    write_atomically(path, text.encode("utf-8"))


def _accepted_source(rng: tuple[float, float], experiment: str, date: str) -> str:
    return f"calibration: {experiment} {date}, accepted range [{_sig(rng[0])}, {_sig(rng[1])}]"


def _draw_source(rng: tuple[float, float] | None, experiment: str, date: str,
                 member: int) -> str:
    what = (f"carried range [{_sig(rng[0])}, {_sig(rng[1])}]" if rng is not None
            else "its district draw")
    return f"calibration: {experiment} {date}, the medoid: ensemble member {member}'s draw ({what})"


def _scenario_line(name: str, value: float, source: str) -> str:
    if PARAMETERS[name].kind is int and float(value).is_integer():
        value = int(value)  # a whole float would not load as an int parameter
    return f"{name} = {{ value = {value!r}, source = {json.dumps(source, ensure_ascii=False)} }}\n"


def _sig(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}"
