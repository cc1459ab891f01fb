"""The district definition: generation from aggregates, pilot choice, CSV round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import create_test_scenario, write_toml
from countysim import load_scenario, run
from countysim.cli import main
from countysim.core import tables as T
from countysim.core.county import CountyModel
from countysim.core.district import (
    LITONG_TOWNSHIPS,
    DistrictDataError,
    build_district,
    draw_cadre_qualities,
    pilot_order,
    select_pilots,
    settled_pool,
)
from countysim.core.scenario import Scenario, ScenarioError

# ------------------------------------------------------------------------- generation


def test_generated_district_matches_the_aggregates():
    s = create_test_scenario(villages=23, townships=5, pilot_villages=7, firms=31,
                             evaluated_cadres=44)
    d = build_district(s)
    v = d.villages
    assert len(v) == 23 and len(d.firms) == 31 and len(d.cadres) == 44
    assert v["township"].nunique() == 5  # every township has at least one village
    assert v["village"].is_unique and d.firms["firm"].is_unique and d.cadres["cadre"].is_unique
    assert v["pilot"].sum() == 7
    assert (v["households"] >= T.MIN_HOUSEHOLDS).all()
    expected_households = s.population * s.rural_share / s.household_size
    assert v["households"].sum() >= round(expected_households)
    assert np.array_equal(v["workforce"], np.round(v["households"] * s.household_size
                                                   * s.labour_force_share))
    assert set(v["product_line"]) <= set(T.PRODUCT_LINE_NAMES)
    assert (v["idle_land_mu"] >= 0).all() and (v["idle_buildings"] >= 0).all()
    assert v["branch_capacity"].between(0, 1).all()
    assert set(d.firms["sector"]) <= set(T.FIRM_SECTOR_NAMES)
    assert set(d.firms["location"]) <= {"urban", "town"}
    assert (d.firms["employees"] >= 1).all()
    assert set(d.cadres["post"]) <= {"township", "department"}
    for q in T.CADRE_QUALITIES:
        assert d.cadres[q].between(0, 1).all()
    assert d.urban_labour_force == round(s.population * (1 - s.rural_share)
                                         * s.labour_force_share)


def test_litong_has_its_township_names():
    d = build_district(create_test_scenario(townships=12, villages=30))
    assert set(d.villages["township"]) == set(LITONG_TOWNSHIPS)


def test_one_village_per_township_is_allowed():
    d = build_district(create_test_scenario(townships=6, villages=6, pilot_villages=6))
    assert d.villages["township"].value_counts().eq(1).all()
    assert d.villages["pilot"].all()


def test_generation_is_deterministic_for_district_seed():
    # Generated twice from scratch (generated districts are kept per process, so a second
    # call would otherwise copy the first), and the kept copy is the same again.
    from countysim.core import district

    a = build_district(create_test_scenario(district_seed=5))
    district._GENERATED.clear()
    b = build_district(create_test_scenario(district_seed=5))
    pd.testing.assert_frame_equal(b.villages, build_district(
        create_test_scenario(district_seed=5)).villages)
    c = build_district(create_test_scenario(district_seed=6))
    for name in ("villages", "firms", "cadres"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert not a.villages.equals(c.villages)
    assert not a.cadres.equals(c.cadres)


def test_district_does_not_depend_on_the_run_seed():
    s = create_test_scenario()
    a, b = CountyModel(s, rng=1), CountyModel(s, rng=2)
    pd.testing.assert_frame_equal(a.district.villages, b.district.villages)
    pd.testing.assert_frame_equal(a.district.cadres, b.district.cadres)


def test_settled_pool_has_the_rank_cycle_of_its_rules():
    """A settled pool's years in rank: flat up to the minimum, then thinning out."""
    s = create_test_scenario(evaluated_cadres=2000, advance_rate=0.6, advance_min_tenure=2.0)
    q, tenure, promoted = settled_pool(s, 2000, np.random.default_rng(0))
    assert q.shape == (2000, 5) and ((q >= 0) & (q <= 1)).all()
    # Spells end by advancement within about a year past the minimum (+ the rank wait):
    # almost nobody waits four years; the first two years hold more than half the pool.
    assert (tenure >= 0).all() and np.mean(tenure > 4.0) < 0.05
    assert np.mean(tenure < 2.0) > 0.5
    # Without advancement, spells end only by leaving: far longer.
    _, still, _ = settled_pool(s.replace(advance_rate=0.0), 2000, np.random.default_rng(0))
    assert still.mean() > 2 * tenure.mean()
    # The promoted are selected: more capable than the pool they leave.
    assert promoted.size > 0 and promoted.mean() > q[:, 1].mean() + 0.02


def test_settled_pool_echoes_no_rank_cohorts():
    """Years in rank are flat below the minimum: no cohort that would echo every 2 years.

    A cohort in step (the old start's echo was 30 % between years) would show as one
    year's rank cohort far larger than the next.
    """
    s = create_test_scenario(evaluated_cadres=2000, advance_rate=0.6, advance_min_tenure=2.0)
    _, tenure, _ = settled_pool(s, 2000, np.random.default_rng(3))
    counts = np.histogram(tenure, bins=[0, 1, 2])[0]
    # A flat density up to the minimum: the last two years' cohorts differ by sampling only
    # (SD of a difference of two ~700 counts ~37: 5 SD is 190).
    assert abs(counts[0] - counts[1]) < 190, counts


def test_cadre_quality_shift_moves_all_qualities_down():
    rng = np.random.default_rng(0)
    base = draw_cadre_qualities(4000, rng)
    shifted = draw_cadre_qualities(4000, np.random.default_rng(0), shift=-0.8)
    assert base.shape == (4000, len(T.CADRE_QUALITIES))
    assert ((shifted > 0) & (shifted < 1)).all()
    # Same normal draws, lower logit: every quality is lower, element by element.
    assert (shifted < base).all()


# ------------------------------------------------------------------------ pilot choice


def _villages(capacity, idle, households) -> pd.DataFrame:
    """A minimal village table with the columns the pilot rules read."""
    return pd.DataFrame({"branch_capacity": capacity, "idle_land_mu": idle,
                         "households": households})


def test_select_pilots_by_capacity_and_by_idle_assets():
    v = _villages([0.1, 0.9, 0.5, 0.7], [10.0, 0.0, 90.0, 5.0], [10, 10, 30, 10])
    rng = np.random.default_rng(0)
    assert select_pilots(v, 2, "capacity", rng).tolist() == [False, True, False, True]
    # idle land per household: 1.0, 0.0, 3.0, 0.5
    assert select_pilots(v, 2, "idle_assets", rng).tolist() == [True, False, True, False]
    assert not select_pilots(v, 0, "capacity", rng).any()
    assert select_pilots(v, 4, "capacity", rng).all()


def test_select_pilots_ties_are_broken_by_position():
    v = _villages([0.5] * 5, [1.0] * 5, [10] * 5)
    assert select_pilots(v, 2, "capacity", np.random.default_rng(0)).tolist() == [
        True, True, False, False, False]


def test_select_pilots_at_random_is_reproducible():
    v = _villages(np.linspace(0, 1, 50), np.ones(50), np.ones(50))
    a = select_pilots(v, 10, "random", np.random.default_rng(3))
    b = select_pilots(v, 10, "random", np.random.default_rng(3))
    assert a.sum() == 10 and np.array_equal(a, b)
    assert not np.array_equal(a, select_pilots(v, 10, "capacity", np.random.default_rng(3)))


def test_select_pilots_listed():
    v = _villages([0.5] * 3, [1.0] * 3, [10] * 3).assign(pilot=[True, False, True])
    mask = select_pilots(v, 2, "listed", np.random.default_rng(0), Path("d"))
    assert mask.tolist() == [True, False, True]
    with pytest.raises(DistrictDataError, match=r"lists 2 villages but levers\.pilot_villages"):
        select_pilots(v, 1, "listed", np.random.default_rng(0), Path("d"))
    with pytest.raises(DistrictDataError, match="'pilot' column"):
        select_pilots(v.drop(columns="pilot"), 1, "listed", np.random.default_rng(0))


def test_pilot_order_takes_listed_villages_first_then_by_capacity():
    v = _villages([0.9, 0.2, 0.5, 0.7, 0.1], [1.0] * 5, [10] * 5).assign(
        pilot=[False, True, False, False, True])
    order = pilot_order(v, 2, "listed", np.random.default_rng(0), Path("d"))
    # Listed 1 (0.2) and 4 (0.1) by capacity, then the others by capacity: 0.9, 0.7, 0.5.
    assert order.tolist() == [1, 4, 0, 3, 2]
    assert select_pilots(v, 2, "listed", np.random.default_rng(0), Path("d")).tolist() == [
        False, True, False, False, True]


@pytest.mark.parametrize("rule", ["capacity", "idle_assets", "random"])
def test_pilot_order_is_a_permutation_whose_head_is_the_pilot_set(rule):
    rng = np.random.default_rng(5)
    v = _villages(rng.random(30), rng.random(30) * 50, rng.integers(10, 100, 30))
    order = pilot_order(v, 12, rule, np.random.default_rng(1))
    assert sorted(order.tolist()) == list(range(30))
    mask = select_pilots(v, 12, rule, np.random.default_rng(1))
    assert set(np.flatnonzero(mask)) == set(order[:12].tolist())
    if rule == "capacity":
        assert np.all(np.diff(v["branch_capacity"].to_numpy()[order]) <= 0)
    if rule == "idle_assets":
        per_household = (v["idle_land_mu"] / v["households"]).to_numpy()
        assert np.all(np.diff(per_household[order]) <= 0)


def test_built_district_has_the_pilot_order_of_its_rule():
    s = create_test_scenario(pilot_villages=7)
    d = build_district(s)
    assert sorted(d.pilot_order.tolist()) == list(range(len(d.villages)))
    # The start year's pilots are the head of the order; a later year with more pilot
    # villages (a schedule) extends the same list.
    assert set(np.flatnonzero(d.villages["pilot"])) == set(d.pilot_order[:7].tolist())
    capacity = d.villages["branch_capacity"].to_numpy()
    assert np.all(np.diff(capacity[d.pilot_order]) <= 0)


def test_listed_rule_without_data_is_an_error(scenario_file):
    # 'listed' reads the pilot column of villages.csv: a generated district has none. A
    # scenario file says so when loaded; a programmatic override at the latest when the
    # district is built.
    with pytest.raises(ScenarioError, match=r"levers\.pilot_rule.*district_data"):
        load_scenario(scenario_file('[levers]\npilot_rule = "listed"\n'))
    with pytest.raises((ScenarioError, DistrictDataError), match="pilot"):
        build_district(create_test_scenario(pilot_rule="listed"))


# ----------------------------------------------------------------------------- CSV


def _with_district_data(base: Scenario, folder: Path, extra: str = "") -> Scenario:
    """A scenario file extending ``base`` with ``district_data = folder``, loaded back.

    Args:
        base: The scenario to extend (written next to ``folder`` as ``base.toml``).
        folder: The district folder (``villages.csv``, ``firms.csv``, ``cadres.csv``).
        extra: More TOML text for the child file, e.g. a ``[levers]`` table.
    """
    write_toml(folder.parent / "base.toml", base.to_toml())
    child = write_toml(folder.parent / "with_data.toml",
                       f'extends = "base.toml"\ndistrict_data = "{folder.name}"\n{extra}')
    return load_scenario(child)


@pytest.fixture
def district_folder(tmp_path) -> tuple[Scenario, Path]:
    """A small scenario, its district written as CSV, and a scenario reading the CSVs."""
    s = create_test_scenario()
    folder = tmp_path / "district"
    build_district(s).to_csv(folder)
    return s, folder


def test_csv_round_trip_gives_the_same_district_and_run(district_folder):
    s, folder = district_folder
    loaded = _with_district_data(s, folder)
    assert loaded.district_data == folder.resolve()
    generated, read = build_district(s), build_district(loaded)
    for name in ("villages", "firms", "cadres"):
        pd.testing.assert_frame_equal(getattr(generated, name), getattr(read, name),
                                      check_dtype=False)
    assert generated.urban_labour_force == read.urban_labour_force
    a = run(s, seed=4, until="2025-08")
    b = run(loaded, seed=4, until="2025-08")
    assert a.equals(b), "a run from the CSV district differs from the generated one"
    assert "district_data" in b.attrs["scenario_toml"]


def test_csv_round_trip_with_the_listed_pilot_rule(district_folder):
    s, folder = district_folder
    listed = _with_district_data(s, folder, '[levers]\npilot_rule = "listed"\n')
    assert listed.pilot_rule == "listed"
    a, b = run(s, seed=2, until="2025-04"), run(listed, seed=2, until="2025-04")
    assert np.array_equal(a["pilot"].values, b["pilot"].values)
    assert a.equals(b)


def test_cli_district_command_writes_loadable_csv(tmp_path, capsys):
    s = create_test_scenario()
    scenario = write_toml(tmp_path / "small.toml", s.to_toml())
    assert main(["district", str(scenario), "--out", str(tmp_path / "district")]) == 0
    assert "20 villages" in capsys.readouterr().out
    for name in ("villages", "firms", "cadres"):
        assert (tmp_path / "district" / f"{name}.csv").is_file()
    loaded = _with_district_data(s, tmp_path / "district")
    assert build_district(loaded).villages["village"].tolist() == (
        build_district(s).villages["village"].tolist())


def _edit(folder: Path, name: str, edit) -> None:
    """Apply ``edit`` (DataFrame -> DataFrame, all columns as text) to ``<name>.csv``."""
    path = folder / f"{name}.csv"
    frame = pd.read_csv(path, dtype=object)
    frame = edit(frame)
    frame.to_csv(path, index=False)


def _set(row: int, column: str, value):
    """An edit that sets one cell (``row`` is the 0-based data row)."""

    def edit(frame):
        frame.loc[row, column] = value
        return frame
    return edit


@pytest.mark.parametrize(("name", "edit", "fragments"), [
    ("villages", _set(2, "households", "many"),
     ["villages.csv", "row 4", "'households'", "'many'", "whole number"]),
    ("villages", _set(0, "idle_land_mu", "-1.5"), ["villages.csv", "row 2", "'idle_land_mu'"]),
    ("villages", _set(5, "branch_capacity", "1.5"),
     ["villages.csv", "row 7", "'branch_capacity'", "[0, 1]"]),
    ("villages", _set(3, "product_line", "rice"),
     ["villages.csv", "row 5", "'product_line'", "'rice'", "dairy"]),
    ("villages", _set(1, "village", "T01-01"), ["villages.csv", "'village'", "more than once"]),
    ("villages", lambda f: f.drop(columns=["households"]),
     ["villages.csv", "missing column(s) households"]),
    ("villages", _set(0, "township", "T99"), ["villages.csv", "5 townships", "townships = 4"]),
    ("firms", _set(4, "employees", "2.5"), ["firms.csv", "row 6", "'employees'"]),
    ("firms", _set(0, "sector", "mining"), ["firms.csv", "row 2", "'sector'", "'mining'"]),
    ("firms", _set(0, "location", "moon"), ["firms.csv", "row 2", "'location'"]),
    ("firms", lambda f: f.iloc[:-1], ["firms.csv", "39 rows", "firms = 40"]),
    ("cadres", _set(9, "capability", "1.2"), ["cadres.csv", "row 11", "'capability'"]),
    ("cadres", _set(0, "post", "army"), ["cadres.csv", "row 2", "'post'"]),
    ("cadres", lambda f: f.iloc[:0], ["cadres.csv", "no rows"]),
], ids=["not-a-number", "negative", "unit-range", "bad-choice", "duplicate", "missing-column",
        "township-count", "not-whole", "bad-sector", "bad-location", "row-count",
        "quality-range", "bad-post", "empty"])
def test_csv_errors_name_file_row_and_column(district_folder, name, edit, fragments):
    s, folder = district_folder
    _edit(folder, name, edit)
    with pytest.raises(DistrictDataError) as info:
        build_district(_with_district_data(s, folder))
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_csv_missing_file(district_folder):
    s, folder = district_folder
    (folder / "firms.csv").unlink()
    with pytest.raises(DistrictDataError, match=r"firms\.csv: file missing"):
        build_district(_with_district_data(s, folder))


def test_csv_unreadable_file(district_folder):
    s, folder = district_folder
    (folder / "cadres.csv").write_text("")
    with pytest.raises(DistrictDataError, match=r"cadres\.csv"):
        build_district(_with_district_data(s, folder))


def test_cli_reports_bad_district_data_on_one_line(district_folder, capsys):
    s, folder = district_folder
    _edit(folder, "villages", _set(2, "households", "many"))
    scenario = _with_district_data(s, folder)
    assert main(["run", str(scenario.path), "--out", str(folder / "x.nc")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "villages.csv" in err and "row 4" in err


def test_village_without_households_is_rejected_or_harmless(district_folder):
    # The CSV schema accepts households = 0 ("a whole number >= 0"). Such a village must
    # either be rejected with a clear error or run without NaN/inf per-capita incomes.
    s, folder = district_folder
    _edit(folder, "villages", lambda f: f.assign(
        households=f["households"].where(f.index != 3, "0"),
        workforce=f["workforce"].where(f.index != 3, "0")))
    loaded = _with_district_data(s, folder)
    try:
        build_district(loaded)
    except DistrictDataError as exc:
        assert "households" in str(exc) and "row 5" in str(exc)
        return
    ds = run(loaded, seed=0, until="2025-03")
    for name, var in ds.data_vars.items():
        if name != "collective_income_growth_pilot":
            assert np.isfinite(var.values).all(), f"{name} is not finite"


def test_the_leading_posts_history_round_trips_and_is_checked(district_folder):
    # promoted.csv carries whom the 2024 rules promoted (L2's reference); a bad value gets
    # one line naming the file, row and column.
    s, folder = district_folder
    generated = build_district(s).promoted_capability
    assert generated.size and (folder / "promoted.csv").is_file()
    np.testing.assert_array_equal(build_district(_with_district_data(s, folder))
                                  .promoted_capability, generated)
    (folder / "promoted.csv").write_text("capability\n0.5\n1.7\n")
    with pytest.raises(DistrictDataError, match=r"promoted.csv: row 3, column 'capability'"):
        build_district(_with_district_data(s, folder))
    (folder / "promoted.csv").unlink()  # optional: the spin-up's promotions then
    assert build_district(_with_district_data(s, folder)).promoted_capability.size == 0
