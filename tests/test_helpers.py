"""The assertion helpers of conftest can fail: each detects a corrupted Dataset or model."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (
    assert_cadre_outcomes_add_up,
    assert_dataset_metadata,
    assert_flows_counted_once,
    assert_no_negative_or_nan,
    assert_problems_balanced,
    assert_workers_conserved,
    assert_workforce_consistent,
    assert_ytd_resets,
    assert_zero_pilot_effect,
    create_test_dataset,
    create_test_model,
    create_test_scenario,
    monthly_growth,
)
from countysim.core.tables import Labour

F, S = Labour.FARMING, Labour.SEEKING


@pytest.fixture
def ds(small_dataset):
    """A private deep copy of the small run's Dataset, free to corrupt."""
    return small_dataset.copy(deep=True)


def test_helpers_accept_a_valid_run(ds, small_run):
    model, _ = small_run
    assert_workers_conserved(ds, monthly_growth(create_test_scenario()))
    assert_workforce_consistent(model.workforce)
    assert_no_negative_or_nan(ds)
    assert_flows_counted_once(ds)
    assert_ytd_resets(ds, evaluation_interval=3)
    assert_problems_balanced(ds)
    assert_problems_balanced(ds, model.open_before)
    assert_cadre_outcomes_add_up(ds)
    assert_dataset_metadata(ds)


def test_workers_conserved_detects_a_lost_worker(ds):
    ds["workers"].values[5, F] -= 1
    with pytest.raises(AssertionError, match="not the labour force"):
        assert_workers_conserved(ds)


def test_workers_conserved_detects_urban_farmers(ds):
    ds["workers"].values[:, F] += 1
    ds["workers"].values[:, S] -= 1
    with pytest.raises(AssertionError, match="urban residents"):
        assert_workers_conserved(ds)


def test_workers_conserved_detects_a_worker_moving_home(ds):
    # The totals stay right; village 0 loses a farmer to village 1 from month 5 on.
    ds["village_workers"].values[5:, 0, F] -= 1
    ds["village_workers"].values[5:, 1, F] += 1
    with pytest.raises(AssertionError, match="moved home"):
        assert_workers_conserved(ds)


def test_workers_conserved_detects_entrants_off_the_trend(ds):
    # Two urban seekers too many from month 5 on: consistent stocks, but month 5's net
    # entrants exceed the trend's (~5.0 a month) rounded up.
    ds["labour_force"].values[5:] += 2
    ds["workers"].values[5:, S] += 2
    assert_workers_conserved(ds)  # without the trend, a plausible run
    with pytest.raises(AssertionError, match="trend"):
        assert_workers_conserved(ds, monthly_growth(create_test_scenario()))


def test_workforce_consistent_detects_stale_counts():
    wf = create_test_model().workforce
    assert_workforce_consistent(wf)
    farmer = int(np.flatnonzero(wf.state == F)[0])
    wf.state[farmer] = S  # a move that bypasses the bookkeeping
    with pytest.raises(AssertionError, match="cells"):
        assert_workforce_consistent(wf)
    wf.state[farmer] = F
    wf.employees[0] += 1
    with pytest.raises(AssertionError, match="employees"):
        assert_workforce_consistent(wf)
    wf.employees[0] -= 1
    wf.active += 1
    with pytest.raises(AssertionError, match="active"):
        assert_workforce_consistent(wf)


def test_no_negative_or_nan_detects_both(ds):
    bad = ds.copy(deep=True)
    bad["rural_income_per_capita"].values[3] = np.nan
    with pytest.raises(AssertionError, match="NaN"):
        assert_no_negative_or_nan(bad)
    ds["collective_income"].values[2, 1] = -1.0
    with pytest.raises(AssertionError, match="negative"):
        assert_no_negative_or_nan(ds)


def test_flows_counted_once_detects_double_counting(ds):
    ds["urban_placements_ytd"].values[4:] += 1
    with pytest.raises(AssertionError, match="does not grow"):
        assert_flows_counted_once(ds)


def test_ytd_resets_detects_a_missing_reset(ds):
    jan = 12  # the small run starts 2025-01 and lasts 14 months
    ds["cadres_promoted_ytd"].values[jan:] = ds["cadres_promoted_ytd"].values[jan - 1] + 1
    with pytest.raises(AssertionError, match="January"):
        assert_ytd_resets(ds, evaluation_interval=3)


def test_problems_balanced_detects_an_unrecorded_resolution(ds):
    ds["problems_resolved"].values[4] += 1
    ds["problems_resolved_cum"].values[4:] += 1
    with pytest.raises(AssertionError, match="routine problems not balanced"):
        assert_problems_balanced(ds)


def test_problems_balanced_detects_a_missing_running_sum(ds):
    ds["legacy_resolved_cum"].values[6:] += 1
    with pytest.raises(AssertionError, match="running sum"):
        assert_problems_balanced(ds)


def test_problems_balanced_detects_unrecorded_legacy_inflow(ds):
    ds["legacy_raised"].values[3] += 2
    with pytest.raises(AssertionError, match="legacy problems not balanced"):
        assert_problems_balanced(ds)


def test_problems_balanced_checks_the_first_month_against_the_start_stock(ds, small_run):
    routine, legacy = small_run[0].open_before
    assert_problems_balanced(ds, (routine, legacy))
    with pytest.raises(AssertionError, match="legacy problems not balanced"):
        assert_problems_balanced(ds, (routine, legacy + 1))


def test_cadre_outcomes_detects_a_missing_cadre(ds):
    ds["cadres_evaluated_ytd"].values[-1] += 1
    with pytest.raises(AssertionError, match="add up"):
        assert_cadre_outcomes_add_up(ds)


def test_zero_pilot_effect_detects_pilots(ds):
    with pytest.raises(AssertionError, match="pilot"):
        assert_zero_pilot_effect(ds)
    none = create_test_dataset(months=3, pilot_villages=0, returnees=0)
    assert_zero_pilot_effect(none)
    none["active_land"].values[1, 0] = 1.0
    with pytest.raises(AssertionError, match="land"):
        assert_zero_pilot_effect(none)


def test_dataset_metadata_detects_missing_units(ds):
    del ds["workers"].attrs["units"]
    with pytest.raises(AssertionError, match="units"):
        assert_dataset_metadata(ds)
