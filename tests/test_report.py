"""The indicator table printed after a run."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import create_test_dataset
from countysim.core.report import REPORT_MONTH, ROWS, format_table, indicator_table, report_time


def test_report_reads_the_article_month_when_simulated(small_dataset):
    # The small run covers 2025-01..2026-02, so it includes the article's month.
    assert report_time(small_dataset) == pd.Timestamp(REPORT_MONTH + "-01")


def test_report_reads_the_last_month_of_a_short_run():
    ds = create_test_dataset(months=4)
    assert report_time(ds) == pd.Timestamp("2025-04-01")


def test_indicator_table_matches_the_dataset(small_dataset):
    table = indicator_table(small_dataset)
    assert len(table) == len(ROWS)
    for row, rec in zip(ROWS, table.itertuples(index=False), strict=True):
        when = report_time(small_dataset, row.month)
        value = float(small_dataset[row.variable].sel(time=when)) * row.scale
        assert rec.model == value or (np.isnan(rec.model) and np.isnan(value))
        if row.article:
            assert np.isclose(rec[4], value / row.article, equal_nan=True)
        else:
            assert np.isnan(rec[4])


def test_format_table_lists_every_row(small_dataset):
    text = format_table(small_dataset)
    assert REPORT_MONTH in text.splitlines()[0]
    for row in ROWS:
        assert row.label in text and row.wording in text


def test_table_without_pilot_villages_is_printable():
    ds = create_test_dataset(months=2, pilot_villages=0)
    text = format_table(ds)
    assert "pilot collective income growth" in text


def test_short_run_says_above_the_table_that_it_ends_early(small_dataset):
    lines = format_table(create_test_dataset(months=6)).splitlines()
    assert lines[1].startswith("NOTE: the run ends at 2025-06")
    assert "A4" in lines[1] and "2025-10" in lines[1] and "A14: 2025-12" in lines[1]
    assert lines[2].startswith("fig ")
    # A run reaching December (the small run ends 2026-02) needs no note.
    assert not [line for line in format_table(small_dataset).splitlines()
                if line.startswith("NOTE")]
