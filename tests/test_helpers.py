"""The assertion helpers of conftest can fail: each detects a corrupted Dataset."""

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
    assert_ytd_resets,
    assert_zero_pilot_effect,
    create_test_dataset,
    create_test_scenario,
)


@pytest.fixture
def ds(small_dataset):
    """A private deep copy of the small run's Dataset, free to corrupt."""
    return small_dataset.copy(deep=True)


def test_helpers_accept_a_valid_run(ds):
    assert_workers_conserved(ds)
    assert_no_negative_or_nan(ds)
    assert_flows_counted_once(ds)
    assert_ytd_resets(ds, evaluation_interval=3)
    assert_problems_balanced(ds, create_test_scenario().legacy_backlog)
    assert_cadre_outcomes_add_up(ds)
    assert_dataset_metadata(ds)


def test_workers_conserved_detects_a_lost_worker(ds):
    ds["workers"].values[5, 0] -= 1
    with pytest.raises(AssertionError, match="not conserved"):
        assert_workers_conserved(ds)


def test_workers_conserved_detects_urban_farmers(ds):
    ds["workers"].values[:, 0] += 1
    ds["workers"].values[:, 4] -= 1
    with pytest.raises(AssertionError, match="urban residents"):
        assert_workers_conserved(ds)


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
    with pytest.raises(AssertionError, match="running sum"):
        assert_flows_counted_once(ds)


def test_ytd_resets_detects_a_missing_reset(ds):
    jan = 12  # the small run starts 2025-01 and lasts 14 months
    ds["cadres_promoted_ytd"].values[jan:] = ds["cadres_promoted_ytd"].values[jan - 1] + 1
    with pytest.raises(AssertionError, match="January"):
        assert_ytd_resets(ds, evaluation_interval=3)


def test_problems_balanced_detects_excess_resolutions(ds):
    with pytest.raises(AssertionError):
        assert_problems_balanced(ds, legacy_backlog=0)


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
