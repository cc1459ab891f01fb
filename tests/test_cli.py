"""The ``countysim`` command line: run, check, district; exit statuses and messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import countysim
import pytest
import xarray as xr
from conftest import create_test_scenario, write_toml
from countysim import Scenario, load_scenario
from countysim.cli import EXIT_USAGE, main
from countysim.core.report import ROWS

COUNTYSIM = Path(sys.executable).with_name("countysim")


@pytest.fixture
def small_file(tmp_path) -> Path:
    """A small scenario as a TOML file (name ``small``, horizon 2025-03)."""
    text = create_test_scenario(until="2025-03").to_toml().replace(
        'name = "defaults"', 'name = "small"')
    return write_toml(tmp_path / "small.toml", text)


def test_run_writes_netcdf_and_prints_the_table(small_file, tmp_path, capsys):
    out = tmp_path / "out" / "small.nc"
    assert main(["run", str(small_file), "--seed", "3", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert out.is_file()
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.sizes["time"] == 3
        assert ds.attrs["seed_entropy"] == "3"
        assert ds.attrs["scenario_name"] == "small"
        assert Scenario.from_toml(ds.attrs["scenario_toml"]) == load_scenario(small_file)
    for row in ROWS:
        assert row.label in stdout
        if row.figure:
            assert row.figure in stdout
    assert "seed 3" in stdout and "2025-03" in stdout
    assert f"wrote {out}" in stdout


def test_run_until_overrides_the_scenario_horizon(small_file, tmp_path, capsys):
    out = tmp_path / "two.nc"
    assert main(["run", str(small_file), "--until", "2025-02", "--out", str(out)]) == 0
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.sizes["time"] == 2
    assert "values at 2025-02" in capsys.readouterr().out


def test_run_default_output_path(small_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(small_file), "--until", "2025-01"]) == 0
    assert (tmp_path / "runs" / "small.nc").is_file()
    capsys.readouterr()


def test_same_seed_same_file_contents(small_file, tmp_path, capsys):
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    for out in (a, b):
        assert main(["run", str(small_file), "--seed", "5", "--out", str(out)]) == 0
    capsys.readouterr()
    with xr.open_dataset(a, engine="h5netcdf") as da, xr.open_dataset(b, engine="h5netcdf") as db:
        xr.testing.assert_identical(da.load(), db.load())


def _one_line_error(capsys) -> str:
    """Assert stderr holds exactly one error line without a traceback; return it."""
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("countysim: error: ") and "Traceback" not in captured.err
    return lines[0]


def test_until_before_start_is_a_usage_error(tmp_path, capsys):
    text = create_test_scenario(start="2025-06").to_toml()
    path = write_toml(tmp_path / "late.toml", text)
    status = main(["run", str(path), "--until", "2025-03", "--out", str(tmp_path / "x.nc")])
    assert status == EXIT_USAGE
    assert "2025-03" in _one_line_error(capsys)
    assert not (tmp_path / "x.nc").exists()


def test_until_after_the_horizon_is_a_usage_error(small_file, tmp_path, capsys):
    # The scenario loader rejects until > 2030-12; the --until option must do the same,
    # on one line and with status 2, rather than fail with a traceback.
    status = main(["run", str(small_file), "--until", "2031-01", "--out",
                   str(tmp_path / "x.nc")])
    assert status == EXIT_USAGE
    assert "2031-01" in _one_line_error(capsys)


@pytest.mark.parametrize("args", [["run"], ["run", "x.toml", "--until", "2025-13"],
                                  ["run", "x.toml", "--until", "May"],
                                  ["run", "x.toml", "--seed", "-1"],
                                  ["run", "x.toml", "--seed", "one"], ["fly"], []])
def test_bad_arguments_exit_with_status_2(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error" in err


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert countysim.__version__ in capsys.readouterr().out


def test_check_prints_the_resolved_scenario(small_file, capsys):
    assert main(["check", str(small_file)]) == 0
    text = capsys.readouterr().out
    assert Scenario.from_toml(text) == load_scenario(small_file)


def test_console_script_runs_and_exits(small_file, tmp_path):
    out = tmp_path / "cli.nc"
    ok = subprocess.run([str(COUNTYSIM), "run", str(small_file), "--until", "2025-02",
                         "--out", str(out)], capture_output=True, text=True, timeout=300,
                        check=False)
    assert ok.returncode == 0, ok.stderr
    assert out.is_file() and "A4" in ok.stdout and "Traceback" not in ok.stderr
    bad = subprocess.run([str(COUNTYSIM), "run", str(small_file), "--until", "2025-13"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_run_out_a_folder_is_one_line_exit_2(small_file, tmp_path, capsys):
    assert main(["run", str(small_file), "--until", "2025-01", "--out", str(tmp_path)]) \
        == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out: is a folder; give the path of a file" in err


def test_make_run_names_the_output_after_the_scenario():
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    root = Path(__file__).resolve().parents[1]
    dry = subprocess.run(["make", "-n", "-C", str(root), "run",
                          "SCENARIO=scenarios/no_pilot_cooperatives.toml"],
                         capture_output=True, text=True, check=True).stdout
    assert "--out runs/no_pilot_cooperatives.nc" in dry


# ------------------------------------------------------- run --year (issue 17, item 2)


def _row_cells(stdout: str, label: str) -> list[str]:
    line = next(x for x in stdout.splitlines() if x.startswith(label))
    return line[len(label):].split()


def test_run_year_prints_that_years_december_values(small_file, tmp_path, capsys):
    out = tmp_path / "y.nc"
    assert main(["run", str(small_file), "--year", "2026", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "values at 2026-12" in stdout
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert str(ds["time"].values[-1])[:7] == "2026-12"  # --year runs to its December
        for row in ROWS:
            if row.variable == "collective_income_growth_pilot":
                continue  # a ratio printed to one decimal: checked by the others' format
            cells = _row_cells(stdout, row.label)
            expected = [float(ds[row.variable].sel(time=f"{y}-12-01")) * row.scale
                        for y in (2025, 2026)]
            assert [float(c.replace(",", "")) for c in cells] == pytest.approx(
                expected, abs=0.5), row.label


def test_run_year_2025_is_the_articles_table(small_file, tmp_path, capsys):
    assert main(["run", str(small_file), "--year", "2025", "--out",
                 str(tmp_path / "y.nc")]) == 0
    stdout = capsys.readouterr().out
    assert "values at 2025-10" in stdout and "article" in stdout


@pytest.mark.parametrize(("extra", "needle"), [(["--year", "2031"], "2031"),
                                               (["--year", "2026", "--until", "2025-06"],
                                                "after --until 2025-06")])
def test_run_year_outside_the_run_is_one_line_exit_2(small_file, tmp_path, capsys, extra,
                                                     needle):
    status = main(["run", str(small_file), *extra, "--out", str(tmp_path / "y.nc")])
    assert status == EXIT_USAGE
    assert needle in _one_line_error(capsys)


@pytest.fixture
def policy_path(small_file) -> Path:
    """The small scenario with firm visits doubled from 2026."""
    return write_toml(small_file.with_name("path.toml"),
                      'extends = "small.toml"\nname = "path"\n[levers]\n'
                      'firm_visits_per_year = { 2025 = 9, 2026 = 18 }\n')


def test_policy_path_run_shows_the_years_where_it_matters(policy_path, tmp_path, capsys):
    assert main(["run", str(policy_path), "--until", "2027-12", "--out",
                 str(tmp_path / "p.nc")]) == 0
    stdout = capsys.readouterr().out
    assert "values at 2025-10" in stdout  # the article's table first
    assert "from 2026: firm_visits_per_year 9 -> 18" in stdout
    header = next(x for x in stdout.splitlines() if x.startswith("indicator") and "2026-12"
                  in x)
    assert header.split()[1:] == ["2025-12", "2026-12", "2027-12"]


def test_policy_path_run_ending_before_the_change_says_so(policy_path, tmp_path, capsys):
    assert main(["run", str(policy_path), "--out", str(tmp_path / "p.nc")]) == 0
    stdout = capsys.readouterr().out
    assert "levers change from 2026" in stdout and "--year 2026" in stdout
    assert main(["run", str(policy_path).replace("path.toml", "small.toml"), "--out",
                 str(tmp_path / "s.nc")]) == 0
    plain = capsys.readouterr().out
    assert "policy path" not in plain and "\n\n" not in plain  # no schedule: nothing added


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_explore_invalid_port_is_one_line(port, capsys) -> None:
    """Issue 18, case 10: ``explore --port 70000`` was an ``OverflowError`` in solara."""
    with pytest.raises(SystemExit) as info:
        main(["explore", "--port", port])
    assert info.value.code == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert "--port" in err and port in err


def test_explore_busy_port_is_one_line(capsys) -> None:
    """A port another server holds is refused before the explorer starts."""
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert main(["explore", "--port", str(port)]) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--port {port}: already in use" in err[0]
    assert main(["explore", "--host", "no.such.host.invalid", "--port", "1"]) == EXIT_USAGE
    assert "--host no.such.host.invalid" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["bogus"], ["sweep", "x.toml", "--store", "s.zarr",
                                                   "--workers", "0"], ["run"]])
def test_argument_errors_are_one_line_without_the_usage_block(argv, capsys) -> None:
    """Issue 18, case 11: argparse printed its usage block before the one line."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("countysim") and ": error: " in err[0]
    assert err[0].endswith("-h for usage)") and "usage:" not in err[0]


def test_readme_exit_code_table_matches_the_code() -> None:
    """The README's table lists exactly the statuses the CLI gives (issue 18, case 11)."""
    import re
    import signal

    from countysim.cli import EXIT_CODES, EXIT_FAILURE, EXIT_OK
    from countysim.sweeps.signals import Stopped, exit_status

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    table = {int(code) for code in re.findall(r"^\| (\d+) \| ", readme, flags=re.M)}
    assert table == set(EXIT_CODES)
    assert (EXIT_OK, EXIT_FAILURE, EXIT_USAGE) == (0, 1, 2)
    for name, code in (("SIGTERM", 143), ("SIGHUP", 129)):
        assert exit_status(Stopped(getattr(signal, name))) == code
        assert code in EXIT_CODES and name in EXIT_CODES[code]
    assert exit_status(KeyboardInterrupt()) == 130 and "SIGINT" in EXIT_CODES[130]
