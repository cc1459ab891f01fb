"""The indicator table: a run's key indicators beside the article's figures.

The article (A*) reports year-to-date figures in late autumn 2025; the table reads the
model at :data:`REPORT_MONTH` when the run reaches it, else at the run's last month.
The calibration (issue 4) owns the full target definitions with their uncertainty; this
table is the quick look an analyst gets after ``countysim run``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

REPORT_MONTH = "2025-10"  # "深秋" (late autumn) article: January to October 2025


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    figure: str
    label: str
    variable: str
    article: float | None
    wording: str
    scale: float = 1.0
    month: str = REPORT_MONTH


ROWS = (
    Row("A4", "new urban jobs (net of retirements)", "urban_new_jobs_ytd", 3906, "3,906"),
    Row("A5", "rural workers into income", "rural_nonfarm_entrants_ytd", 26000, "2.6万"),
    Row("A6", "problems resolved (cum.)", "problems_resolved_cum", 1000, "千余件 (>= 1,000)"),
    Row("A29", "legacy problems resolved", "legacy_resolved_cum", 1172, "1,172"),
    Row("A7", "cadres promoted", "cadres_promoted_ytd", 58, "58"),
    Row("A8", "cadres advanced in rank", "cadres_advanced_ytd", 84, "84"),
    Row("A9", "cadres removed", "cadres_removed_ytd", 13, "13"),
    # 预计 (expected) +10% is a forecast for the whole of 2025: read it at 2025-12.
    Row("A14", "pilot collective income growth %", "collective_income_growth_pilot", 10,
        "预计 10% (Dec)", 100.0, "2025-12"),
    Row("A3", "firms visited", "firms_visited_ytd", 110, "110余 (lever)"),
    Row("", "rural income per capita (yuan/yr)", "rural_income_per_capita", None, ""),
    Row("", "urban income per capita (yuan/yr)", "urban_income_per_capita", None, ""),
    Row("", "cooperative workers", "cooperative_workers", None, ""),
)


def report_time(ds: xr.Dataset, month: str = REPORT_MONTH) -> pd.Timestamp:
    """The month a row reads: ``month`` if simulated, else the run's last month."""
    wanted = pd.Timestamp(month + "-01")
    times = pd.DatetimeIndex(ds["time"].values)
    return wanted if wanted in times else times[-1]


def indicator_table(ds: xr.Dataset) -> pd.DataFrame:
    """Key indicators at :func:`report_time` beside the article's figures."""
    records = []
    for row in ROWS:
        value = float(ds[row.variable].sel(time=report_time(ds, row.month))) * row.scale
        ratio = value / row.article if row.article and np.isfinite(value) else np.nan
        records.append({"figure": row.figure, "indicator": row.label, "model": value,
                        "article": row.wording, "model/article": ratio})
    return pd.DataFrame.from_records(records)


def short_run_notes(ds: xr.Dataset) -> list[str]:
    """Lines saying which rows the run ends too early for (read at its last month instead).

    A run cut short (``--until 2025-06``) reads year-to-date values over fewer months than
    the article's figures cover: its ratios are not comparable, and the table says so.
    """
    last = pd.DatetimeIndex(ds["time"].values)[-1]
    late = [r for r in ROWS if r.article is not None and pd.Timestamp(r.month + "-01") > last]
    if not late:
        return []
    months = "; ".join(f"{', '.join(r.figure for r in late if r.month == m)}: {m}"
                       for m in dict.fromkeys(r.month for r in late))
    return [f"NOTE: the run ends at {last:%Y-%m}, before the months the article's figures "
            f"refer to ({months}): those rows read {last:%Y-%m}, so model/article compares "
            "different periods"]


def format_table(ds: xr.Dataset) -> str:
    """The indicator table as aligned text, with a heading naming the month and seed."""
    table = indicator_table(ds)
    when = report_time(ds).strftime("%Y-%m")
    lines = [f"countysim {ds.attrs.get('countysim_version', '?')} · scenario "
             f"{ds.attrs.get('scenario_name', '?')} · seed {ds.attrs.get('seed_entropy', '?')}"
             f" · values at {when} unless noted",
             *short_run_notes(ds),
             f"{'fig':<4} {'indicator':<36} {'model':>12} {'article':>18} {'ratio':>6}"]
    for rec in table.itertuples(index=False):
        integral = np.isfinite(rec.model) and float(rec.model).is_integer()
        model = f"{rec.model:,.0f}" if integral or abs(rec.model) >= 100 else f"{rec.model:,.1f}"
        ratio = "" if np.isnan(rec[4]) else f"{rec[4]:.2f}"
        lines.append(f"{rec.figure:<4} {rec.indicator:<36} {model:>12} {rec.article:>18} "
                     f"{ratio:>6}".rstrip())
    return "\n".join(lines)
