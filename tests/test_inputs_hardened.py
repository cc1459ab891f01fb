"""Hardened inputs: every bad input gets one line naming the file and key, exit status 2.

The corpus (issue 8): district CSVs with infinite, huge or blank values, IDs with leading
zeros, pilot flags other than 0/1; scenario names that are paths; extends chains that are
too long or loop through symlinks; list designs with repeated values; a description with
U+007F; the API's ``seed``, ``until``, NumPy overrides, ``window`` and ``retry_failed``.
Bad scenario and experiment files are in ``tests/data/bad_*`` with their expected
messages.

The fuzz tests (hypothesis, derandomized, no database) feed generated scenario files,
experiment files and edited district CSVs to the command line in this process: each
input either runs (exit 0) or gives exactly one line ``countysim: error: ...`` with exit
status 2; any other exception fails the test. CI runs a few examples of each; the
``stress`` variants (``make test-slow``) run many more.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from conftest import BASELINE, create_test_scenario, write_toml
from countysim import ExperimentError, Scenario, ScenarioError, load_experiment, load_scenario
from countysim.cli import EXIT_USAGE, main
from countysim.core.county import run
from countysim.core.district import DistrictDataError, build_district, read_district_tables
from countysim.core.parameters import PARAMETERS, SECTIONS
from countysim.sweeps.sweep import sweep
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_district import _edit, _set, _with_district_data
from test_district import district_folder as district_folder  # the fixture, shared

# Outcomes of every input the fuzz tests tried: {"ran": n, "refused": n}. With
# COUNTYSIM_FUZZ_TALLY=<file> the counts are written there at the end of the module.
TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _write_tally():
    yield
    target = os.environ.get("COUNTYSIM_FUZZ_TALLY")
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(json.dumps(dict(TALLY)) + "\n")


def assert_runs_or_one_line_error(status: int, err: str) -> None:
    """Exit 0, or exit 2 with exactly one line ``countysim: error: ...`` on stderr."""
    __tracebackhide__ = True
    lines = err.strip().splitlines()
    if status == 0:
        TALLY["ran"] += 1
        return
    assert status == EXIT_USAGE, f"exit status {status}: {err}"
    assert len(lines) == 1, f"{len(lines)} lines: {err}"
    assert lines[0].startswith("countysim: error: "), err
    assert "Traceback" not in err
    TALLY["refused"] += 1


# ------------------------------------------------------------------- district CSV files


def _all(column: str, value: str):
    def edit(frame):
        frame[column] = value
        return frame
    return edit


CSV_CASES = [
    # (id, file, edit, fragments of the one-line message)
    ("income-inf", "villages", _set(0, "collective_income", "inf"),
     ["villages.csv: row 2, column 'collective_income': 'inf' is not a finite number"]),
    ("income-blank", "villages", _set(3, "collective_income", ""),
     ["row 5, column 'collective_income': '' is not a finite number"]),
    ("income-nan", "villages", _set(1, "collective_income", "nan"),
     ["row 3, column 'collective_income': 'nan'"]),
    ("workforce-inf", "villages", _set(2, "workforce", "inf"),
     ["row 4, column 'workforce': 'inf' is not a whole number in [0, 1000000]"]),
    ("workforce-1e19", "villages", _set(2, "workforce", "1e19"),
     ["row 4, column 'workforce': '1e19' is not a whole number in [0, 1000000]"]),
    ("households-1e30", "villages", _set(0, "households", "1e30"),
     ["row 2, column 'households': '1e30' is not a whole number in [1, 1000000]"]),
    ("employees-1e30", "firms", _set(0, "employees", "1e30"),
     ["firms.csv: row 2, column 'employees': '1e30'"]),
    ("workforce-all-zero", "villages", _all("workforce", "0"),
     ["column 'workforce': the rows sum to 0; the district needs a total in [1, 5000000]"]),
    ("workforce-too-many", "villages", _all("workforce", "1000000"),
     ["column 'workforce': the rows sum to 20000000"]),
    ("productivity-all-zero", "firms", _all("productivity", "0"),
     ["row 2, column 'productivity': '0' is not a finite number in (0, 1e6]"]),
    ("productivity-negative", "firms", _set(7, "productivity", "-0.5"),
     ["row 9, column 'productivity'"]),
    ("pilot-2", "villages", _set(4, "pilot", "2"),
     ["row 6, column 'pilot': '2' is not a pilot flag: 1/0 or true/false"]),
    ("blank-name", "villages", _set(6, "village", ""),
     ["row 8, column 'village': '' is not a name (the cell is blank)"]),
    ("blank-firm", "firms", _set(0, "firm", "  "), ["row 2, column 'firm'"]),
    ("tenure-negative", "cadres", _set(0, "tenure_years", "-1"),
     ["cadres.csv: row 2, column 'tenure_years'"]),
    ("quality-nan", "cadres", _set(2, "capability", "nan"),
     ["row 4, column 'capability': 'nan' is not a number in [0, 1]"]),
]


@pytest.mark.parametrize(("name", "edit", "fragments"), [c[1:] for c in CSV_CASES],
                         ids=[c[0] for c in CSV_CASES])
def test_bad_district_csv_gives_one_line_naming_file_row_and_column(district_folder, name, edit,
                                                                     fragments, capsys):
    s, folder = district_folder
    _edit(folder, name, edit)
    scenario = _with_district_data(s, folder)
    with pytest.raises(DistrictDataError) as info:
        build_district(scenario)
    for fragment in fragments:
        assert fragment in str(info.value)
    status = main(["run", str(scenario.path), "--out", str(folder.parent / "x.nc")])
    err = capsys.readouterr().err
    assert status == EXIT_USAGE
    assert err.count("\n") == 1 and err.startswith(f"countysim: error: {folder / name}.csv")
    assert not (folder.parent / "x.nc").exists()


def test_a_sweep_on_bad_district_csv_is_refused_before_any_work(district_folder, tmp_path, capsys):
    s, folder = district_folder
    _edit(folder, "villages", _set(0, "collective_income", "inf"))
    scenario = _with_district_data(s, folder)
    exp = write_toml(tmp_path / "e.toml", f'scenario = "{scenario.path.as_posix()}"\nseed = 1\n'
                     '[design]\nkind = "grid"\n[design.parameters]\n'
                     "activation_rate = [0.5, 1.0]\n")
    status = main(["sweep", str(exp), "--store", str(tmp_path / "s.zarr"), "--quiet"])
    err = capsys.readouterr().err
    assert status == EXIT_USAGE and err.count("\n") == 1
    assert "villages.csv: row 2, column 'collective_income'" in err
    assert not (tmp_path / "s.zarr").exists()


def test_ids_keep_leading_zeros_and_pilot_flags_read_as_0_or_1(district_folder):
    s, folder = district_folder
    ids = [f"{k:03d}" for k in range(1, 21)]
    ids[1] = "1"  # "001" and "1" are different villages
    n = s.pilot_villages  # the listed pilots must match the scenario's count
    _edit(folder, "villages", lambda f: f.assign(village=ids, pilot=["1"] * n + ["0"] * (20 - n)))
    _edit(folder, "firms", _set(0, "firm", "007"))
    scenario = _with_district_data(s, folder, '[levers]\npilot_rule = "listed"\n')
    villages, firms, _ = read_district_tables(folder)
    assert villages["village"].tolist() == ids
    assert firms["firm"].iloc[0] == "007"
    assert villages["pilot"].dtype == bool and villages["pilot"].sum() == n
    ds = run(scenario, seed=0, until="2025-02")
    assert ds["village"].values.tolist() == ids
    assert ds["pilot"].values.tolist() == [1] * n + [0] * (20 - n)


# ---------------------------------------------------------------- scenarios, experiments


def test_extends_chain_longer_than_the_limit(tmp_path):
    write_toml(tmp_path / "s0.toml", 'description = "the root"\n')
    for k in range(1, 41):
        write_toml(tmp_path / f"s{k}.toml", f'extends = "s{k - 1}.toml"\n')
    # 32 files; only the last child is named in the inherited description
    assert load_scenario(tmp_path / "s31.toml").description == "the root (extended by s31)"
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "s40.toml")
    assert info.value.key == "extends" and "longer than 32 files" in info.value.problem


def test_extends_through_a_symlink_loop(tmp_path, capsys):
    (tmp_path / "loop_a.toml").symlink_to(tmp_path / "loop_b.toml")
    (tmp_path / "loop_b.toml").symlink_to(tmp_path / "loop_a.toml")
    child = write_toml(tmp_path / "child.toml", 'extends = "loop_a.toml"\n')
    assert main(["check", str(child)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"countysim: error: {child}: extends: cannot resolve")
    assert main(["check", str(tmp_path / "loop_a.toml")]) == EXIT_USAGE
    assert "<file>: cannot resolve" in capsys.readouterr().err


def test_design_file_through_a_symlink_loop(tmp_path):
    (tmp_path / "a.toml").symlink_to(tmp_path / "b.toml")
    (tmp_path / "b.toml").symlink_to(tmp_path / "a.toml")
    path = write_toml(tmp_path / "e.toml", 'seed = 1\n[design]\nkind = "scenarios"\n'
                      'files = ["a.toml"]\n')
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    assert info.value.key == "design.files[0]" and "cannot resolve" in info.value.problem


def test_list_design_may_repeat_a_value_within_a_column(tmp_path):
    path = write_toml(tmp_path / "e.toml", f'scenario = "{BASELINE.as_posix()}"\nseed = 1\n'
                      '[design]\nkind = "list"\n[design.parameters]\n'
                      'pilot_rule = ["capacity", "random"]\npilot_villages = [5, 5]\n')
    exp = load_experiment(path)
    assert exp.samples == ({"pilot_rule": "capacity", "pilot_villages": 5},
                           {"pilot_rule": "random", "pilot_villages": 5})


def test_size_limits_can_be_raised_from_the_environment(tmp_path, monkeypatch):
    path = write_toml(tmp_path / "e.toml", f'scenario = "{BASELINE.as_posix()}"\nseed = 1\n'
                      'replicates = 3\n[design]\nkind = "grid"\n[design.parameters]\n'
                      "activation_rate = [0.5, 1.0]\n")
    monkeypatch.setenv("COUNTYSIM_MAX_RUNS", "5")
    with pytest.raises(ExperimentError, match="6 runs exceed the limit of 5 runs"):
        load_experiment(path)
    monkeypatch.setenv("COUNTYSIM_MAX_RUNS", "6")
    assert load_experiment(path).n_runs == 6
    monkeypatch.setenv("COUNTYSIM_MAX_SAMPLES", "1")
    with pytest.raises(ExperimentError, match="COUNTYSIM_MAX_SAMPLES"):
        load_experiment(path)


def test_description_with_delete_character_round_trips(scenario_file, capsys):
    # "\u007F" is a valid TOML escape; the character itself may not appear in TOML text.
    path = scenario_file('name = "del"\ndescription = "before\\u007Fafter\\u0001"\n')
    scenario = load_scenario(path)
    assert scenario.description == "before\x7fafter\x01"
    assert Scenario.from_toml(scenario.to_toml()) == scenario
    assert main(["check", str(path)]) == 0
    text = capsys.readouterr().out
    assert "\x7f" not in text and Scenario.from_toml(text).description == scenario.description
    ds = run(scenario.replace(**create_test_scenario().values), seed=0, until="2025-01")
    assert Scenario.from_toml(ds.attrs["scenario_toml"]).description == "before\x7fafter\x01"


# ------------------------------------------------------------------------------ the API


def test_run_refuses_a_seed_of_none():
    with pytest.raises(TypeError, match=r"seed must be an int or numpy\.random\.SeedSequence"):
        run(create_test_scenario(), seed=None)


@pytest.mark.parametrize(("until", "fragment"), [
    (202512, "expected a month 'YYYY-MM', got 202512"),
    ("", "expected a month 'YYYY-MM', got ''"),
    ("2031-01", "2031-01 is outside 2025-01..2030-12"),
])
def test_run_refuses_a_bad_until(until, fragment):
    with pytest.raises(ScenarioError) as info:
        run(create_test_scenario(), seed=0, until=until)
    assert info.value.key == "until" and fragment in str(info.value)


def test_run_refuses_until_before_the_start():
    with pytest.raises(ScenarioError, match="before the scenario's start 2025-03"):
        run(create_test_scenario(start="2025-03"), seed=0, until="2025-02")


def test_numpy_scalar_overrides_equal_python_values():
    s = create_test_scenario()
    a = run(s, seed=3, until="2025-02", pilot_villages=np.int64(2), alliances=np.bool_(True),
            activation_rate=np.float64(0.15))
    b = run(s, seed=3, until="2025-02", pilot_villages=2, alliances=True,
            activation_rate=0.15)
    xr.testing.assert_identical(a, b)


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"window": -1}, "window must be a positive integer, got -1"),
    ({"window": 0}, "window must be a positive integer"),
    ({"window": True}, "window must be a positive integer"),
    ({"retry_failed": True}, "retry_failed=True needs resume=True"),
    ({"force_mixed": True}, "force_mixed=True needs resume=True"),
])
def test_sweep_refuses_bad_options_before_any_work(kwargs, fragment, tmp_path):
    path = write_toml(tmp_path / "e.toml", f'scenario = "{BASELINE.as_posix()}"\nseed = 1\n'
                      '[design]\nkind = "grid"\n[design.parameters]\n'
                      "activation_rate = [0.5, 1.0]\n")
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")):
        sweep(path, tmp_path / "s.zarr", workers=1, progress=False, **kwargs)
    assert not (tmp_path / "s.zarr").exists()


def test_cli_force_mixed_needs_resume(tmp_path, capsys):
    status = main(["sweep", "e.toml", "--store", str(tmp_path / "s.zarr"), "--force-mixed"])
    assert status == EXIT_USAGE and "--force-mixed needs --resume" in capsys.readouterr().err


# ------------------------------------------------------------------------------- fuzzing

FUZZ = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
FUZZ_SLOW = settings(FUZZ, max_examples=300)

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
SCALARS = st.one_of(
    st.integers(-(2**63), 2**63 - 1), st.integers(-5, 200),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 2),
    st.booleans(), TEXT,
    st.sampled_from(["2025-01", "2025-03", "2030-12", "2031-01", "2024-13", "capacity",
                     "listed", "random", "../x", "a\nb", "../../../x", "/abs/x"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["value", "source", "low", "high",
                                                         "choices", "x"]), inner, max_size=2),
                      max_leaves=6)


def toml_value(value: Any) -> str:
    """Any generated value as TOML (strings with JSON escapes, DEL escaped too)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
                if math.isinf(value) else repr(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


PARAMETER_NAMES = sorted(PARAMETERS)


def mostly(valid: st.SearchStrategy, wild: st.SearchStrategy = VALUES) -> st.SearchStrategy:
    """``valid`` about seven times in eight, else ``wild``: most inputs pass the first check.

    (Hypothesis favours the ends of a range, so the wild branch is in the middle.)
    """
    return st.integers(0, 7).flatmap(lambda k: wild if k == 5 else valid)


def registry_value(name: str) -> st.SearchStrategy:
    """A value of parameter ``name`` within its registry bounds or choices."""
    p = PARAMETERS[name]
    if p.choices is not None:
        return st.sampled_from(p.choices)
    if p.kind is bool:
        return st.booleans()
    lo, hi = p.bounds
    if p.kind is int:
        return st.integers(int(lo), int(min(hi, lo + 50)))
    return st.floats(lo, min(hi, lo + 10), allow_nan=False)


@st.composite
def scenario_texts(draw) -> str:
    """A scenario file: top-level keys and parameter tables, mostly valid."""
    top = {"name": mostly(st.sampled_from(["a", "b_2", "x.y"])),
           "description": mostly(TEXT),
           "extends": mostly(st.sampled_from(["base.toml", "base.toml", "self.toml",
                                              "missing.toml"])),
           "start": mostly(st.sampled_from(["2025-01", "2025-02"])),
           "until": mostly(st.sampled_from(["2025-03", "2025-12"])),
           "district_data": mostly(st.just("district")),
           "horizon": VALUES}
    lines = []
    for key in draw(st.lists(st.sampled_from(sorted(top)), unique=True, max_size=4)):
        lines.append(f"{key} = {toml_value(draw(top[key]))}")
    for section in draw(st.lists(mostly(st.sampled_from(SECTIONS), st.just("bogus")),
                                 unique=True, max_size=3)):
        lines.append(f"[{section}]")
        own = [n for n in PARAMETER_NAMES if PARAMETERS[n].section == section]
        names = mostly(st.sampled_from(own or PARAMETER_NAMES),
                       st.sampled_from([*PARAMETER_NAMES, "pilot_vilages", "x"]))
        for name in draw(st.lists(names, unique=True, max_size=4)):
            value = registry_value(name) if name in PARAMETERS else VALUES
            lines.append(f"{name} = {toml_value(draw(mostly(value)))}")
    return "\n".join(lines) + "\n"


def fuzz_folder() -> tempfile.TemporaryDirectory:
    """A fresh folder with a valid small scenario (base.toml) and its district CSVs."""
    tmp = tempfile.TemporaryDirectory(prefix="countysim-fuzz-")
    folder = Path(tmp.name)
    s = create_test_scenario(until="2025-02")
    build_district(s).to_csv(folder / "district")
    write_toml(folder / "base.toml", s.to_toml().replace('"defaults"', '"base"', 1))
    return tmp


def check_scenario(text: str, capsys) -> None:
    with fuzz_folder() as tmp:
        path = write_toml(Path(tmp) / "self.toml", text)
        status = main(["check", str(path)])
        assert_runs_or_one_line_error(status, capsys.readouterr().err)


def check_raw_scenario(data: bytes, capsys) -> None:
    with fuzz_folder() as tmp:
        path = Path(tmp) / "raw.toml"
        path.write_bytes(data)
        status = main(["check", str(path)])
        assert_runs_or_one_line_error(status, capsys.readouterr().err)


@FUZZ
@given(text=scenario_texts())
def test_fuzz_scenario_files(text, capsys):
    check_scenario(text, capsys)


@FUZZ
@given(data=st.binary(max_size=200))
def test_fuzz_raw_bytes_as_a_scenario(data, capsys):
    check_raw_scenario(data, capsys)


@pytest.mark.stress
@FUZZ_SLOW
@given(text=scenario_texts())
def test_fuzz_scenario_files_long(text, capsys):
    check_scenario(text, capsys)


SWEPT = ["activation_rate", "pilot_villages", "pilot_rule", "alliances", "villages",
         "matching_boost", "coop_wage_share", "unknown_lever"]


@st.composite
def experiment_texts(draw) -> str:
    """An experiment file on base.toml: top-level keys and a design, mostly valid."""
    top = {"seed": mostly(st.integers(0, 10), SCALARS),
           "scenario": mostly(st.just("base.toml"), st.sampled_from(["missing.toml", "."])),
           "until": mostly(st.sampled_from(["2025-01", "2025-02"]),
                           st.sampled_from(["2024-12", "2031-01", "2025-13", 3])),
           "replicates": mostly(st.integers(1, 2), SCALARS),
           "name": mostly(st.just("fuzz"), SCALARS),
           "description": TEXT}
    # Each key is there about seven times in eight.
    lines = [f"{k} = {toml_value(draw(v))}" for k, v in top.items()
             if draw(st.integers(0, 7)) != 5]
    kind = draw(mostly(st.sampled_from(["grid", "list", "lhs", "sobol", "morris"]),
                       st.sampled_from(["scenarios", "x"])))
    lines += ["[design]", f'kind = "{kind}"']
    options = {"lhs": ["samples"], "sobol": ["samples", "second_order"],
               "morris": ["trajectories", "levels"], "scenarios": ["files"]}.get(kind, [])
    extra = [o for o in ("samples", "levels", "files") if o not in options]
    valid = {"samples": st.sampled_from([2, 4]), "second_order": st.booleans(),
             "trajectories": st.sampled_from([2, 3]), "levels": st.sampled_from([2, 4]),
             "files": st.just(["base.toml"])}
    misplaced = mostly(st.just([]), st.lists(st.sampled_from(extra), min_size=1, max_size=1))
    for option in options + draw(misplaced):
        value = draw(mostly(valid[option], SCALARS))
        lines.append(f"{option} = {toml_value(value)}")
    lines.append("[design.parameters]")
    for name in draw(st.lists(st.sampled_from(SWEPT), unique=True, min_size=1, max_size=2)):
        value = registry_value(name) if name in PARAMETERS else SCALARS
        value = mostly(value, SCALARS)
        spec = draw(mostly(
            st.one_of(st.lists(value, min_size=1, max_size=2, unique=True),
                      st.fixed_dictionaries({"low": value, "high": value}),
                      st.fixed_dictionaries({"choices": st.lists(value, min_size=1,
                                                                 max_size=2, unique=True)})),
            VALUES))
        lines.append(f"{name} = {toml_value(spec)}")
    return "\n".join(lines) + "\n"


def check_experiment(text: str, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COUNTYSIM_MAX_RUNS", "4")  # bigger designs: refused at once
    with fuzz_folder() as tmp:
        path = write_toml(Path(tmp) / "e.toml", text)
        status = main(["sweep", str(path), "--store", str(Path(tmp) / "s.zarr"),
                       "--workers", "1", "--quiet"])
        assert_runs_or_one_line_error(status, capsys.readouterr().err)


@FUZZ
@given(text=experiment_texts())
def test_fuzz_experiment_files(text, capsys, monkeypatch):
    check_experiment(text, capsys, monkeypatch)


@pytest.mark.stress
@settings(FUZZ, max_examples=150)
@given(text=experiment_texts())
def test_fuzz_experiment_files_long(text, capsys, monkeypatch):
    check_experiment(text, capsys, monkeypatch)


CELLS = st.one_of(
    st.sampled_from(["", " ", "inf", "-inf", "nan", "NaN", "1e19", "1e30", "-1", "0", "001",
                     "2", "true", "FALSE", "1.5", " 3 ", "x", "9" * 30, "0x10", "1_000"]),
    st.integers(-(10**20), 10**20).map(str), st.floats().map(repr), TEXT)


@st.composite
def csv_edits(draw) -> list[tuple[str, int, str, str]]:
    """One to three cells of the district CSVs set to generated text."""
    columns = {"villages": ["village", "township", "households", "workforce", "product_line",
                            "idle_land_mu", "idle_buildings", "collective_income",
                            "branch_capacity", "distance_km", "pilot"],
               "firms": ["firm", "sector", "location", "employees", "productivity"],
               "cadres": ["cadre", "post", "tenure_years", "capability", "integrity"]}
    plausible = st.one_of(st.integers(0, 500).map(str), st.floats(0, 1).map(repr),
                          st.sampled_from(["T01", "dairy", "urban", "township", "true"]))
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(columns)))
        edits.append((name, draw(st.integers(0, 19)), draw(st.sampled_from(columns[name])),
                      draw(st.one_of(plausible, CELLS))))
    return edits


def check_csv_edits(edits: list[tuple[str, int, str, str]], capsys) -> None:
    with fuzz_folder() as tmp:
        folder = Path(tmp)
        for name, row, column, value in edits:
            _edit(folder / "district", name, _set(row, column, value))
        path = write_toml(folder / "child.toml",
                          'extends = "base.toml"\ndistrict_data = "district"\n')
        out = folder / "out.nc"
        status = main(["run", str(path), "--until", "2025-01", "--out", str(out)])
        assert_runs_or_one_line_error(status, capsys.readouterr().err)
        if status == 0:  # accepted input gives finite output
            with xr.open_dataset(out, engine="h5netcdf") as ds:
                for name, var in ds.data_vars.items():
                    assert not np.isinf(var.values).any(), f"{name} is infinite"


@FUZZ
@given(edits=csv_edits())
def test_fuzz_district_csv_cells(edits, capsys):
    check_csv_edits(edits, capsys)


@pytest.mark.stress
@settings(FUZZ, max_examples=300)
@given(edits=csv_edits())
def test_fuzz_district_csv_cells_long(edits, capsys):
    check_csv_edits(edits, capsys)


def test_fuzz_tally_counts_every_outcome():
    """The tally above counts inputs; a sanity check that the helper records both kinds."""
    before = Counter(TALLY)
    assert_runs_or_one_line_error(0, "")
    assert_runs_or_one_line_error(2, "countysim: error: x: y: z\n")
    with pytest.raises(AssertionError):
        assert_runs_or_one_line_error(1, "boom\n")
    with pytest.raises(AssertionError):
        assert_runs_or_one_line_error(2, "countysim: error: a\nTraceback\n")
    assert TALLY["ran"] == before["ran"] + 1 and TALLY["refused"] == before["refused"] + 1
    TALLY.subtract({"ran": 1, "refused": 1})  # not inputs: keep the tally honest



def test_run_unknown_variable_is_one_line_naming_it_and_where_the_allowed_are():
    """Issue 18, case 10: ``run(variables=['nope'])`` was a bare ``KeyError``."""
    import countysim
    from countysim.core.scenario import ScenarioError

    with pytest.raises(ScenarioError) as info:
        countysim.run(variables=["workers", "nope"])
    message = str(info.value)
    assert "\n" not in message
    assert "variables" in message and "'nope'" in message
    assert "countysim.core.observe.VARIABLES" in message
    with pytest.raises(ScenarioError, match="did you mean"):
        countysim.run(variables=["worker"])
    with pytest.raises(ScenarioError, match="is a string"):
        countysim.run(variables="workers")
