"""The corpus of bad scenario files: each gives one clear error naming the file and key.

``tests/data/bad_scenarios/expected.toml`` lists, for every bad file, the key the error
must name and a fragment of the message. The loader must raise ``ScenarioError``; the
CLI must print that error on one line of stderr, without a traceback, and exit with 2.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import DATA
from countysim import ScenarioError, load_scenario
from countysim.cli import EXIT_USAGE, main

BAD = DATA / "bad_scenarios"
EXPECTED: dict[str, dict[str, str]] = tomllib.loads(
    (BAD / "expected.toml").read_text(encoding="utf-8"))
FILES = sorted(p for p in BAD.glob("*.toml") if p.name != "expected.toml")
COUNTYSIM = Path(sys.executable).with_name("countysim")


def test_corpus_and_expectations_agree():
    stems = {p.stem for p in FILES}
    assert stems == set(EXPECTED), (
        f"files without expectations: {stems - set(EXPECTED)}; "
        f"expectations without files: {set(EXPECTED) - stems}")
    assert len(FILES) >= 15


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_load_scenario_raises_a_clear_error(path):
    expected = EXPECTED[path.stem]
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    message = str(err)
    assert err.key == expected["key"]
    assert Path(err.file).name == expected.get("file", path.name)
    # The message names the file and the key, then what is wrong.
    assert message.startswith(f"{err.file}: {err.key}: ")
    assert path.name in message
    assert expected["fragment"] in message
    assert "\n" not in message


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_cli_reports_one_line_and_exits_2(path, tmp_path, capsys):
    out = tmp_path / "run.nc"
    status = main(["run", str(path), "--out", str(out)])
    captured = capsys.readouterr()
    assert status == EXIT_USAGE == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("countysim: error: ")
    assert path.name in lines[0] and EXPECTED[path.stem]["key"] in lines[0]
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert not out.exists()


@pytest.mark.parametrize("name", ["too_many_pilot_villages", "invalid_syntax",
                                  "cyclic_extends_a", "schedule_inconsistent_in_one_year"])
def test_console_script_exit_status_on_bad_scenario(name, tmp_path):
    path = BAD / f"{name}.toml"
    proc = subprocess.run([str(COUNTYSIM), "run", str(path), "--out", str(tmp_path / "x.nc")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert path.name in lines[0] and EXPECTED[name]["key"] in lines[0]


def test_check_command_reports_bad_scenarios_the_same_way(capsys):
    status = main(["check", str(BAD / "unknown_key.toml")])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "levers.pilot_vilages" in err


def test_missing_scenario_file(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(missing)
    assert main(["run", str(missing), "--out", str(tmp_path / "x.nc")]) == 2
    err = capsys.readouterr().err
    assert "nope.toml" in err and len(err.strip().splitlines()) == 1
