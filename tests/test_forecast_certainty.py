"""Why a forecast's answer is 0 or 1 (countysim.forecasting.certainty and the report's
"Why some answers are 0 or 1"): on synthetic forecasts with known answers, an audit table
built by hand (an identity and a mechanism), and the shipped targets mapped onto the
shipped audit."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
import xarray as xr
from countysim.calibration.audit import classify_all, read_table
from countysim.calibration.targets import load_targets
from countysim.cli import EXIT_USAGE, main
from countysim.core.errors import InputError
from countysim.forecasting import certainty, report
from countysim.forecasting.certainty import IdentityAudit, audit_output, load_identity_audit
from countysim.forecasting.synthetic import SyntheticTarget, synthetic_forecast
from countysim.forecasting.targets import load_forecast_targets, targets_from_data

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "scenarios" / "targets" / "litong_2030_illustrative.toml"
AUDITED = REPO / "scenarios" / "targets" / "litong_2025.toml"
TABLE = REPO / "docs" / "audit_baseline_2025.csv"
SECTION = "### Why some answers are 0 or 1"

# Known answers under every package: the first target is met by every run (threshold far
# below the values), the second by about half of them; ids as in the shipped file, so its
# definitions (ds.attrs["targets_toml"]) map them onto the audit (A4, A5).
CERTAIN = SyntheticTarget("urban_placements", "certain", "urban_new_jobs_ytd", 1000.0, ">=",
                          "december", "persons", (2026, 2027, 2028, 2029, 2030), 3900.0,
                          10.0, member_sd=50.0, seed_sd=100.0)
UNCERTAIN = SyntheticTarget("rural_workers_into_income", "uncertain",
                            "rural_nonfarm_entrants", 26000.0, ">=", "flow_per_year",
                            "persons", (2026, 2027, 2028, 2029, 2030), 26000.0, 0.0,
                            member_sd=300.0, seed_sd=500.0)


@pytest.fixture(scope="module")
def forecast() -> xr.Dataset:
    ds = synthetic_forecast(targets=(CERTAIN, UNCERTAIN), members=10, replicates=2, seed=4)
    ds.attrs["targets_toml"] = SHIPPED.read_text(encoding="utf-8")
    return ds


def audit_with(a4: dict[str, float]) -> IdentityAudit:
    """An audit of A4 and A5 over three parameters: A4's elasticities as given, A5 a
    mechanism (two inputs near one)."""
    parameters = ["population", "rural_share", "job_finding_rate"]
    e = np.array([[a4.get(p, 0.0) for p in parameters], [1.0, 0.99, -0.65]]).T
    table = xr.Dataset({"elasticity": (("parameter", "output"), e)},
                       coords={"parameter": parameters, "output": ["A4", "A5"]})
    return IdentityAudit(table, tuple(load_targets(AUDITED, require_held_out=False)),
                         "hand-made")


def why(forecast: xr.Dataset, audit: IdentityAudit | None) -> str:
    text, _ = report.render(forecast, audit=audit)
    assert SECTION in text
    return text.split(SECTION)[1].split("\n### ")[0].split("\n## ")[0]


def test_only_targets_certain_under_every_package_are_explained(forecast):
    p = forecast["probability"].sel(year=2030)
    assert (p.sel(target="urban_placements") == 1).all()
    assert ((p.sel(target="rural_workers_into_income") > 0)
            & (p.sel(target="rural_workers_into_income") < 1)).all()
    assert certainty.certain_targets(forecast) == {"urban_placements": 2030}
    section = why(forecast, audit_with({"population": 0.97, "rural_share": 0.5}))
    assert "- `urban_placements`: met by every run under every package" in section
    assert "`rural_workers_into_income`" not in section


def test_the_spread_is_every_runs_value_against_the_threshold(forecast):
    section = why(forecast, None)
    values = forecast["value"].sel(target="urban_placements", year=2030).values
    low, high = np.nanmin(values), np.nanmax(values)
    assert (f"every run's 2030 value lies in [{low:,.0f} persons, {high:,.0f} persons], all "
            "above the threshold 1,000 persons") in section
    assert f"(the nearest run is {low - 1000:,.0f} persons from it" in section
    assert "Identity audit: not given" in section


def test_missed_by_every_run_and_mixed_packages():
    never = SyntheticTarget("never", "never", "urban_placements", 1e6, ">=", "december",
                            "persons", (2030,), 3900.0, 10.0, seed_sd=100.0)
    split = SyntheticTarget("split", "split", "urban_placements", 4000.0, ">=", "december",
                            "persons", (2030,), 3000.0, 0.0, {"programme_expanded": 500.0},
                            seed_sd=1.0)
    ds = synthetic_forecast(targets=(never, split), members=4, replicates=2, seed=1)
    text = certainty.explain(ds)
    assert text["never"].startswith("missed by every run under every package; every run's "
                                    "2030 value lies in [")
    assert "all below the threshold 1,000,000 persons" in text["never"]
    assert text["split"].startswith("met by every run under `programme_expanded` and by "
                                    "none under `baseline_continued`, `programme_withdrawn`")
    assert "under `programme_expanded` lies in [" in text["split"]
    assert "not in the audit" in certainty.explain(ds, audit_with({}))["never"]


def test_an_identity_of_one_input_is_said_so(forecast):
    section = why(forecast, audit_with({"population": 1.0, "rural_share": 0.05}))
    assert "**an identity of one input**: A4" in section
    assert "moves one-for-one with `population` +1.00 and with no other input" in section
    mechanism = why(forecast, audit_with({"population": 0.97, "rural_share": 0.5}))
    assert "not an identity of one input: A4" in mechanism
    assert ("moved by 2 inputs at |elasticity| >= 0.1 (largest `population` +0.97, then "
            "`rural_share` +0.50" in mechanism)
    assert "identity of one input**" not in mechanism


def test_without_the_targets_definitions_nothing_is_matched(forecast):
    ds = forecast.copy()
    ds.attrs = {k: v for k, v in forecast.attrs.items() if k != "targets_toml"}
    section = why(ds, audit_with({"population": 1.0}))
    assert "not in the audit (the forecast does not hold the target's definition" in section


def test_shipped_targets_map_onto_the_audited_readings():
    audited = load_targets(AUDITED, require_held_out=False)
    mapped = {t.id: audit_output(t, audited) for t in load_forecast_targets(SHIPPED)}
    assert mapped == {"village_income_100k": "R11", "pilot_income_growth": "A14",
                      "urban_placements": "A4", "rural_workers_into_income": "A5",
                      "rural_income_growth": "R7r", "legacy_backlog_cleared": None,
                      "urban_unemployment": "R6"}
    base = {"label": "t", "units": "persons", "source": "test", "direction": ">=",
            "threshold": 1, "window": [2026, 2030]}

    def output(**entry):
        return audit_output(targets_from_data({"targets": [{**base, "id": "x", **entry}]})
                            .items[0], audited)

    # December, not October; gross placements, not net new jobs; ten months not summed
    # from January: other readings than the audit's.
    assert output(indicator="urban_new_jobs_ytd", aggregation="december") is None
    assert output(indicator="urban_placements", aggregation="flow_per_year",
                  months=[1, 10]) is None
    assert output(indicator="rural_nonfarm_entrants", aggregation="flow_per_year",
                  months=[2, 11]) is None
    assert output(indicator="rural_nonfarm_entrants_ytd", aggregation="december",
                  months=[1, 10]) == "A5"


def test_the_shipped_audit_table_reads_back_as_the_page_says():
    audit = load_identity_audit(TABLE, AUDITED)
    classes = audit.classes()
    page = (REPO / "docs" / "audit.md").read_text(encoding="utf-8")
    for c in classes.values():
        assert f"| {c.output} |" in page and f"**{c.kind}**" in page
    # A4 is moved most by the size of the labour force (docs/audit.md).
    assert classes["A4"].kind == "mechanism" and classes["A4"].top[0] in (
        "population", "labour_force_share")
    assert [c.output for c in classify_all(read_table(TABLE))] == list(classes)


@pytest.mark.parametrize(("text", "key", "problem"), [
    ("parameter,output,se\na,A4,0.1\n", "elasticity", "missing column"),
    ("parameter,output,elasticity,se\na,A4,x,0.1\n", "elasticity", "line 2: 'x' is not"),
    ("parameter,output,elasticity,se\n", "<file>", "no rows"),
])
def test_a_bad_audit_table_is_one_line(tmp_path, text, key, problem):
    path = tmp_path / "audit.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_table(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: {problem}") and "\n" not in message


def test_cli_report_with_the_audit(forecast, tmp_path, capsys):
    path = tmp_path / "f.nc"
    forecast.to_netcdf(path)
    out = tmp_path / "report"
    assert main(["report", str(path), "--out", str(out), "--audit", str(TABLE),
                 "--audit-targets", str(AUDITED)]) == 0
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "not an identity of one input: A4" in text and f"--audit {TABLE}" in text
    capsys.readouterr()
    assert main(["report", str(path), "--out", str(tmp_path / "r2"), "--audit",
                 str(tmp_path / "nope.csv")]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert "nope.csv" in err and err.count("\n") == 0
