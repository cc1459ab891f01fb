"""The long-run checks' arithmetic (countysim.validate): stocks against their trends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import BASELINE, create_test_dataset, create_test_scenario
from countysim.cli import main
from countysim.validate import (
    STOCKS,
    Stock,
    check_stocks,
    flat,
    format_stocks,
    labour_force,
)


@pytest.fixture(scope="module")
def runs():
    return [create_test_dataset(seed=s, months=36) for s in (0, 1)]


def test_a_stock_on_its_trend_deviates_by_nothing(runs):
    scenario = create_test_scenario()
    on_trend = Stock("the labour force", lambda ds: labour_force(ds, scenario) * 3.0,
                     labour_force)
    [(_, deviation)] = check_stocks(runs, scenario, [on_trend])
    assert deviation.shape == (2, 6)
    assert np.allclose(deviation[:, :3], 0.0, atol=1e-12)
    assert np.isnan(deviation[:, 3:]).all()  # the runs end in 2027


def test_deviations_are_relative_to_2025_and_to_the_trend(runs):
    scenario = create_test_scenario()
    rows = check_stocks(runs, scenario, STOCKS)
    assert [stock.label for stock, _ in rows] == [s.label for s in STOCKS]
    for stock, deviation in rows:
        assert (deviation[:, 0] == 0.0).all(), stock.label
        ds = runs[0]
        x, trend = stock.statistic(ds), stock.trend(ds, scenario)
        assert deviation[0, 2] == pytest.approx((x[2] / x[0]) / (trend[2] / trend[0]) - 1.0)


def test_the_table_marks_stocks_beyond_the_tolerance():
    drifting = Stock("drifting", lambda ds: None, flat)
    steady = Stock("steady", lambda ds: None, flat)
    years = np.array([[0.0, 0.01, 0.02, 0.031, 0.04, 0.05]])
    text, ok = format_stocks([(steady, years / 2), (drifting, years)], tolerance=0.03)
    assert not ok
    steady_line, drifting_line = (line for line in text.splitlines()
                                  if line.startswith(("steady", "drifting")))
    assert "✗" not in steady_line and drifting_line.count("✗") == 3
    assert format_stocks([(steady, years / 2)], tolerance=0.03)[1]


def test_settled_names_a_missing_scenario_in_one_line(capsys, tmp_path):
    assert main(["validate", "--settled", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.toml" in err[0]


def test_settled_runs_an_explicit_baseline_as_given(monkeypatch, capsys):
    # --settled defaults to the 2024-forever scenario, but a scenario named on the command
    # line is the one checked, even the baseline.
    import countysim.validate as validate

    seen = []
    monkeypatch.setattr(validate, "settled",
                        lambda scenario, seeds: (seen.append(scenario), ("table", True))[1])
    monkeypatch.chdir(BASELINE.parent.parent)  # the default is relative to the repository
    baseline = Path("scenarios") / BASELINE.name
    assert main(["validate", "--settled", str(baseline), "--seeds", "1"]) == 0
    assert main(["validate", "--settled", "--seeds", "1"]) == 0
    assert seen == [baseline, validate.SETTLED_SCENARIO]
