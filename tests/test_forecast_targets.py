"""Forecast targets: the file format, its one-line errors, and evaluate() on synthetic runs
whose yearly values are known by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from countysim.forecasting.targets import (
    AGGREGATIONS,
    ForecastTargetError,
    default_per_year,
    evaluate,
    load_forecast_targets,
    targets_from_data,
)

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "scenarios" / "targets" / "litong_2030_illustrative.toml"

GOOD = """
[[targets]]
id = "placements"
label = ">= 4,000 placements a year"
indicator = "urban_placements"
aggregation = "flow_per_year"
direction = ">="
threshold = 4000
units = "persons/yr"
window = [2026, 2027]
source = "test"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(text, encoding="utf-8")
    return path


def months(first: str, last: str) -> pd.DatetimeIndex:
    return pd.date_range(f"{first}-01", f"{last}-01", freq="MS")


def synthetic_runs(n_runs: int = 4) -> xr.Dataset:
    """Runs over 2025-01..2027-12 whose yearly values follow from simple formulas.

    Run r places 300 + 50 r people a month in 2026 (so 3,600 + 600 r a year) and 400 a
    month in other years; village v of run r earns (v + 1) * 1,000 * (1 + r) yuan a month;
    the unemployment rate is 0.05 + 0.001 r every month; rural income grows 10 % a year
    in run 0 and 5 % in the others (annualised level, constant within each year).
    """
    time = months("2025-01", "2027-12")
    year = time.year.to_numpy()
    runs = np.arange(n_runs)
    villages = [f"V{v}" for v in range(6)]
    placements = np.where(year[None, :] == 2026, 300 + 50 * runs[:, None], 400.0)
    income = ((np.arange(6) + 1) * 1000.0)[None, None, :] * (1 + runs)[:, None, None]
    income = np.broadcast_to(income, (n_runs, time.size, 6))
    growth = np.where(runs == 0, 1.10, 1.05)[:, None] ** (year - 2025)[None, :]
    ds = xr.Dataset(
        {
            "urban_placements": (("run", "time"), placements,
                                 {"unit_of_measure": "persons", "units": "1"}),
            "collective_income": (("run", "time", "village"), income,
                                  {"unit_of_measure": "yuan/month", "units": "1"}),
            "urban_unemployment_rate": (("run", "time"), np.broadcast_to(
                (0.05 + 0.001 * runs)[:, None], (n_runs, time.size)), {"units": "1"}),
            "rural_income_per_capita": (("run", "time"), 20000.0 * growth,
                                        {"unit_of_measure": "yuan/yr", "units": "1"}),
            "legacy_open": (("run", "time"), np.broadcast_to(
                np.linspace(500, 0, time.size), (n_runs, time.size)),
                {"unit_of_measure": "problems", "units": "1"}),
        },
        coords={"run": runs, "time": time, "village": villages,
                "township": ("village", ["A", "A", "A", "B", "B", "B"])})
    return ds


def targets_of(*entries: dict) -> object:
    base = {"label": "t", "units": "u", "source": "test", "direction": ">="}
    return targets_from_data({"targets": [{**base, **e} for e in entries]})


def test_shipped_file_loads_and_is_labelled_illustrative() -> None:
    targets = load_forecast_targets(SHIPPED)
    assert targets.meta["illustrative"] is True
    assert all(t.illustrative and t.source.startswith("illustrative") for t in targets)
    assert set(targets.ids) == {"village_income_100k", "pilot_income_growth",
                                "urban_placements", "rural_workers_into_income",
                                "rural_income_growth", "legacy_backlog_cleared",
                                "urban_unemployment"}
    assert {t.aggregation for t in targets} <= set(AGGREGATIONS)


def test_flow_per_year_sums_the_months_and_compares_with_the_threshold() -> None:
    ds = synthetic_runs()
    targets = targets_of({"id": "p", "indicator": "urban_placements",
                          "aggregation": "flow_per_year", "threshold": 4000,
                          "window": [2026, 2027]})
    ev = evaluate(ds, targets)
    value = ev.value.sel(target="p")
    np.testing.assert_allclose(value.sel(year=2026), 3600 + 600 * np.arange(4))
    np.testing.assert_allclose(value.sel(year=2027), 4800)
    # 2025 has a value (fan charts) but is no year of the target: attained NaN.
    assert value.sel(year=2025).notnull().all()
    assert ev.attained.sel(target="p", year=2025).isnull().all()
    np.testing.assert_array_equal(ev.attained.sel(target="p", year=2026), [0, 1, 1, 1])
    np.testing.assert_array_equal(ev.attained.sel(target="p", year=2027), [1, 1, 1, 1])
    assert ev.attained.dims == ("run", "target", "year")


def test_village_aggregations_and_townships() -> None:
    ds = synthetic_runs()
    # Village v of run r earns 12,000 (v + 1)(1 + r) yuan a year.
    targets = targets_of(
        {"id": "share", "indicator": "collective_income", "aggregation": "share_of_villages",
         "level": 36000, "threshold": 0.5, "years": [2026]},
        {"id": "mean", "indicator": "collective_income", "aggregation": "mean_over_villages",
         "threshold": 50000, "years": [2026]},
        {"id": "total", "indicator": "collective_income", "aggregation": "total",
         "threshold": 300000, "years": [2026]})
    ev = evaluate(ds, targets).sel(year=2026)
    r = np.arange(4)
    yearly = 12000.0 * (np.arange(6)[None, :] + 1) * (1 + r)[:, None]
    np.testing.assert_allclose(ev.value.sel(target="share"), (yearly >= 36000).mean(1))
    np.testing.assert_allclose(ev.value.sel(target="mean"), yearly.mean(1))
    np.testing.assert_allclose(ev.value.sel(target="total"), yearly.sum(1))
    np.testing.assert_array_equal(ev.attained.sel(target="total"),
                                  (yearly.sum(1) >= 300000).astype(float))
    # Township A holds villages 0-2, B villages 3-5.
    town = ev.township_value.sel(target="share")
    np.testing.assert_allclose(town.sel(township="A"), (yearly[:, :3] >= 36000).mean(1))
    np.testing.assert_allclose(town.sel(township="B"), (yearly[:, 3:] >= 36000).mean(1))
    assert ev.township_value.sel(target="total").isnull().all()


def test_growth_rate_and_annual_mean_and_december() -> None:
    ds = synthetic_runs()
    targets = targets_of(
        {"id": "g", "indicator": "rural_income_per_capita", "aggregation": "growth_rate",
         "threshold": 0.07, "window": [2026, 2027]},
        {"id": "u", "indicator": "urban_unemployment_rate", "aggregation": "annual_mean",
         "direction": "<=", "threshold": 0.0515, "window": [2025, 2027]},
        {"id": "l", "indicator": "legacy_open", "aggregation": "december",
         "direction": "<=", "threshold": 1.0, "years": [2027]})
    ev = evaluate(ds, targets)
    g = ev.value.sel(target="g")
    assert g.sel(year=2025).isnull().all()  # no 2024 in the runs
    np.testing.assert_allclose(g.sel(year=2027), [0.10, 0.05, 0.05, 0.05])
    np.testing.assert_array_equal(ev.attained.sel(target="g", year=2027), [1, 0, 0, 0])
    np.testing.assert_allclose(ev.value.sel(target="u", year=2026), 0.05 + 0.001 * np.arange(4))
    np.testing.assert_array_equal(ev.attained.sel(target="u", year=2026), [1, 1, 0, 0])
    np.testing.assert_allclose(ev.value.sel(target="l", year=2027), 0.0, atol=1e-9)
    np.testing.assert_array_equal(ev.attained.sel(target="l", year=2027), 1.0)


def test_incomplete_years_and_failed_runs_give_nan() -> None:
    ds = synthetic_runs().sel(time=slice(None, "2027-10-01"))
    ds["urban_placements"] = ds.urban_placements.where(ds.run != 2)  # run 2 failed
    targets = targets_of({"id": "p", "indicator": "urban_placements",
                          "aggregation": "flow_per_year", "threshold": 4000,
                          "window": [2026, 2027]})
    ev = evaluate(ds, targets)
    assert ev.value.sel(target="p", year=2027).isnull().all()  # only 10 months of 2027
    assert ev.attained.sel(target="p", year=2026, run=2).isnull()
    assert ev.attained.sel(target="p", year=2026).notnull().sum() == 3


def test_default_reductions_follow_units() -> None:
    assert default_per_year("yuan/month", "total") == "sum"
    assert default_per_year("yuan/yr", "growth_rate") == "mean"
    assert default_per_year("1", "mean_over_villages") == "mean"
    assert default_per_year("problems", "growth_rate") == "december"
    assert default_per_year("yuan/month", "december") == "december"


def test_missing_indicator_in_results_is_one_line() -> None:
    ds = synthetic_runs().drop_vars("urban_placements")
    targets = targets_of({"id": "p", "indicator": "urban_placements",
                          "aggregation": "flow_per_year", "threshold": 1, "years": [2026]})
    with pytest.raises(ForecastTargetError, match=r"targets\[0\]\.indicator: "
                       r"'urban_placements' \(p\) is not a variable"):
        evaluate(ds, targets)


@pytest.mark.parametrize(("old", "new", "key", "message"), [
    ('indicator = "urban_placements"', 'indicator = "urban_placement"', "indicator",
     "unknown variable 'urban_placement' (did you mean urban_placements"),
    ('aggregation = "flow_per_year"', 'aggregation = "sum"', "aggregation",
     "expected one of december, annual_mean"),
    ('aggregation = "flow_per_year"', 'aggregation = "share_of_villages"', "aggregation",
     "reduces over villages but urban_placements has dims"),
    ('direction = ">="', 'direction = ">"', "direction", "expected '>=' or '<='"),
    ("threshold = 4000", 'threshold = "4000"', "threshold", "expected a finite number"),
    ("window = [2026, 2027]", "window = [2027, 2026]", "window", "before the first"),
    ("window = [2026, 2027]", "window = [2026, 2031]", "window[1]",
     "whole years in 2025..2030"),
    ("window = [2026, 2027]", "years = [2027, 2026]", "years", "increasing years"),
    ("window = [2026, 2027]", "", "years", "give exactly one of years"),
    ('source = "test"', "", "source", "missing (required"),
    ('source = "test"', 'source = "test"\nlevle = 3', "levle", "unknown key (did you mean level"),
    ('source = "test"', 'source = "test"\nlevel = 3', "level",
     "only share_of_villages takes a per-village level"),
    ('source = "test"', 'source = "test"\nheadline_year = 2030', "headline_year",
     "not one of the target's years"),
    ('id = "placements"', 'id = "two words"', "id", "is not an id"),
])
def test_bad_target_files_name_file_key_and_problem(tmp_path: Path, old: str, new: str,
                                                    key: str, message: str) -> None:
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ForecastTargetError) as info:
        load_forecast_targets(path)
    text = str(info.value)
    assert text.startswith(f"{path}: targets[0].{key}: "), text
    assert message in text, text
    assert "\n" not in text


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(ForecastTargetError, match=r"<file>: forecast targets file .* does "
                       "not exist"):
        load_forecast_targets(tmp_path / "nope.toml")
    with pytest.raises(ForecastTargetError, match=r"<syntax>: not valid TOML"):
        load_forecast_targets(write(tmp_path, "[[targets]\n"))
    with pytest.raises(ForecastTargetError, match=r": targets: missing or empty"):
        load_forecast_targets(write(tmp_path, 'title = "x"\n'))
    with pytest.raises(ForecastTargetError, match=r": titel: unknown top-level key \(did "
                       "you mean title"):
        load_forecast_targets(write(tmp_path, 'titel = "x"\n' + GOOD))
    with pytest.raises(ForecastTargetError, match=r"targets\[1\]\.id: 'placements' repeats "
                       r"targets\[0\]"):
        load_forecast_targets(write(tmp_path, GOOD + GOOD))
    growth = GOOD.replace('"flow_per_year"', '"growth_rate"').replace("[2026, 2027]",
                                                                      "[2025, 2027]")
    with pytest.raises(ForecastTargetError, match=r"window: a growth rate needs the previous"):
        load_forecast_targets(write(tmp_path, growth))
    share = GOOD.replace('"urban_placements"', '"collective_income"').replace(
        '"flow_per_year"', '"share_of_villages"')
    with pytest.raises(ForecastTargetError, match=r"level: missing: share_of_villages"):
        load_forecast_targets(write(tmp_path, share))
    with pytest.raises(ForecastTargetError, match=r"threshold: a share of villages lies in"):
        load_forecast_targets(write(tmp_path, share.replace("source", "level = 1\nsource")))


def test_targets_sharing_an_indicator_compute_its_values_once(monkeypatch) -> None:
    """Issue 18, case 13: many thresholds on a few indicators cost what the indicators
    cost; each target still gets its own attainment, and a share of villages at another
    village-level test is computed apart."""
    import countysim.forecasting.targets as module

    ds = synthetic_runs()
    entries = [{"id": f"p{k}", "indicator": "urban_placements",
                "aggregation": "flow_per_year", "threshold": 3000 + 100 * k,
                "years": [2026]} for k in range(40)]
    entries += [{"id": f"s{k}", "indicator": "collective_income",
                 "aggregation": "share_of_villages", "level": level, "threshold": 0.5,
                 "years": [2026]} for k, level in enumerate((24000, 36000, 36000))]
    calls = []
    original = module._target_value
    monkeypatch.setattr(module, "_target_value",
                        lambda *a: calls.append(a[1].id) or original(*a))
    ev = evaluate(ds, targets_of(*entries)).sel(year=2026)
    assert calls == ["p0", "s0", "s1"]  # one placements value, two village-level tests
    placements = 3600.0 + 600 * np.arange(4)
    for k in (0, 17, 39):
        np.testing.assert_allclose(ev.value.sel(target=f"p{k}"), placements)
        np.testing.assert_array_equal(ev.attained.sel(target=f"p{k}"),
                                      (placements >= 3000 + 100 * k).astype(float))
    yearly = 12000.0 * (np.arange(6)[None, :] + 1) * (1 + np.arange(4))[:, None]
    np.testing.assert_allclose(ev.value.sel(target="s0"), (yearly >= 24000).mean(1))
    np.testing.assert_allclose(ev.value.sel(target="s2"), (yearly >= 36000).mean(1))


# ------------------------------------------------------------ part of a year: months


def ramp_runs(last: str = "2027-12") -> xr.Dataset:
    """Run r places m (1 + r) people in calendar month m (1..12) of every year, and its
    year-to-date count is the running sum from January: Jan-Oct sums to 55 (1 + r), the
    whole year to 78 (1 + r); months 3-5 sum to 12 (1 + r) and average 4 (1 + r); the
    count at the end of October is 55 (1 + r)."""
    time = months("2025-01", last)
    month = time.month.to_numpy()
    scale = 1.0 + np.arange(3)[:, None]
    flow = month[None, :] * scale
    ytd = np.stack([np.concatenate([np.cumsum(row[time.year == y]) for y in
                                    np.unique(time.year)]) for row in flow])
    return xr.Dataset(
        {"urban_placements": (("run", "time"), flow, {"unit_of_measure": "persons"}),
         "urban_new_jobs_ytd": (("run", "time"), ytd, {"unit_of_measure": "persons"}),
         "urban_unemployment_rate": (("run", "time"), flow / 100.0, {"units": "1"})},
        coords={"run": np.arange(3), "time": time})


def windowed(id: str, months: list[int] | None = None, *, threshold: float = 100,
             indicator: str = "urban_placements", aggregation: str = "flow_per_year",
             window: tuple[int, int] = (2025, 2027)) -> dict:
    """A target entry over ``window``, read over ``months`` (none: the whole year)."""
    entry = {"id": id, "indicator": indicator, "aggregation": aggregation,
             "threshold": threshold, "window": list(window)}
    return {**entry, "months": months} if months is not None else entry


def test_months_window_reduces_only_those_months() -> None:
    targets = targets_of(
        windowed("jan_oct", [1, 10]), windowed("year"), windowed("spring", [3, 5]),
        windowed("spring_mean", [3, 5], indicator="urban_unemployment_rate",
                 aggregation="annual_mean", threshold=0.05),
        windowed("ytd_oct", [1, 10], indicator="urban_new_jobs_ytd", aggregation="december"),
        windowed("ytd_dec", indicator="urban_new_jobs_ytd", aggregation="december"))
    ev = evaluate(ramp_runs(), targets)
    scale = 1.0 + np.arange(3)
    expected = {"jan_oct": 55 * scale, "year": 78 * scale, "spring": 12 * scale,
                "spring_mean": 0.04 * scale, "ytd_oct": 55 * scale, "ytd_dec": 78 * scale}
    for target, value in expected.items():
        for year in (2025, 2026, 2027):
            np.testing.assert_allclose(ev.value.sel(target=target, year=year), value,
                                       err_msg=f"{target} {year}")
    # 55, 110, 165 against 100: the first run misses, the others meet it.
    np.testing.assert_array_equal(ev.attained.sel(target="jan_oct", year=2026), [0, 1, 1])
    shipped = {t.id: t for t in load_forecast_targets(SHIPPED)}
    assert shipped["urban_placements"].months == shipped["rural_workers_into_income"].months
    assert shipped["urban_placements"].months == (1, 10)
    assert {t.id: t.months for t in targets}["year"] == (1, 12)


def test_a_year_needs_every_month_of_its_window() -> None:
    targets = targets_of(
        windowed("jan_oct", [1, 10], threshold=1, window=(2026, 2027)),
        windowed("year", threshold=1, window=(2026, 2027)),
        windowed("growth", [1, 10], threshold=0.0, aggregation="growth_rate",
                 window=(2026, 2027)))
    ev = evaluate(ramp_runs(last="2027-10"), targets)
    np.testing.assert_allclose(ev.value.sel(target="jan_oct", year=2027), [55, 110, 165])
    assert ev.value.sel(target="year", year=2027).isnull().all()
    np.testing.assert_allclose(ev.value.sel(target="growth", year=2027), 0.0, atol=1e-12)
    short = evaluate(ramp_runs(last="2027-09"), targets)
    assert short.value.sel(target="jan_oct", year=2027).isnull().all()
    assert short.value.sel(target="growth", year=2027).isnull().all()
    np.testing.assert_allclose(short.value.sel(target="jan_oct", year=2026), [55, 110, 165])


@pytest.mark.parametrize("value", ["[10, 1]", "[0, 10]", "[1, 13]", "[1]", "[1, 5, 10]",
                                   '"1-10"', "10", "[1.0, 10]", "[true, 10]", "[]"])
def test_bad_months_are_one_line_naming_file_and_key(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, GOOD.replace('source = "test"', f'source = "test"\nmonths = {value}'))
    with pytest.raises(ForecastTargetError) as info:
        load_forecast_targets(path)
    text = str(info.value)
    assert text.startswith(f"{path}: targets[0].months: expected [first, last], calendar "
                           "months 1-12 with first <= last"), text
    assert text.endswith("got " + repr(__import__("tomllib").loads(f"x = {value}")["x"])), text
    assert "\n" not in text
