"""The identity audit (countysim.calibration.audit, ``countysim audit``, docs/audit.md).

The elasticity and the classing rule are checked on functions whose elasticities are
known exactly; the generated page is checked against a re-run of two of its rows (same
seeds, so the numbers must agree to the CSV's six significant digits).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import BASELINE
from countysim.calibration.audit import audit, audit_parameters, classify
from countysim.calibration.targets import load_targets
from countysim.cli import main
from countysim.core.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "audit.md"
TABLE = REPO / "docs" / "audit_baseline_2025.csv"
TARGETS = REPO / "scenarios" / "targets" / "litong_2025.toml"


def test_one_input_one_for_one_is_an_identity():
    names = ["a", "b", "c"]
    assert classify(np.array([1.0, 0.05, -0.09]), names).kind == "identity"
    assert classify(np.array([-0.85, 0.0, 0.0]), names).kind == "identity"
    # A second input at 0.1 or more, or the one input far from one-for-one: a mechanism.
    assert classify(np.array([1.0, 0.1, 0.0]), names).kind == "mechanism"
    assert classify(np.array([1.5, 0.0, 0.0]), names).kind == "mechanism"
    assert classify(np.array([0.5, 0.0, 0.0]), names).kind == "mechanism"
    c = classify(np.array([0.2, -1.0, 0.3]), names, "X")
    assert c.top == ("b", -1.0) and c.second == ("c", 0.3) and c.moved_by == 3
    assert classify(np.array([np.nan, 1.0]), ["a", "b"]).kind == "identity"


def test_elasticities_of_known_functions_are_exact():
    # y0 = x (identity), y1 = x * z (two inputs, each at 1), y2 = x^2 (elasticity 2 at
    # +-20 %: (1.44 - 0.64) / 0.4), plus seed noise that the pairing cancels.
    scenario = load_scenario(BASELINE)
    targets = load_targets(TARGETS, require_held_out=False)[:3]

    def runner(s, seed, _targets):
        x, z = s["separation_rate"], s["job_finding_rate"]
        noise = 1.0 + 0.01 * seed
        return np.array([x, x * z, x * x]) * noise

    result = audit(scenario, targets, parameters=["separation_rate", "job_finding_rate"],
                   seeds=(1, 2, 3), runner=runner)
    e = result["elasticity"].values  # (parameter, output)
    np.testing.assert_allclose(e[0], [1.0, 1.0, 2.0], rtol=0.04)  # noise scales y0 only
    np.testing.assert_allclose(e[1], [0.0, 1.0, 0.0], atol=1e-12)
    kinds = [classify(e[:, j], ["x", "z"]).kind for j in range(3)]
    assert kinds == ["identity", "mechanism", "mechanism"]


def test_the_audit_skips_what_cannot_be_perturbed():
    chosen, skipped = audit_parameters(load_scenario(BASELINE))
    assert "district_seed" not in chosen and "spinup_months" not in chosen
    assert "separation_rate" in chosen and "villages" in chosen
    assert all(load_scenario(BASELINE)[name] == 0 for name, why in skipped.items()
               if why.startswith("zero"))


def test_an_unknown_parameter_is_one_line_and_exit_2(capsys):
    assert main(["audit", str(BASELINE), "--parameters", "nope", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope" in err


def _page_rows() -> dict[tuple[str, str], tuple[float, float]]:
    with TABLE.open() as f:
        return {(r["parameter"], r["output"]): (float(r["elasticity"]), float(r["se"]))
                for r in csv.DictReader(f)}


@pytest.mark.slow
def test_the_audit_page_is_current():
    # Two rows re-run with the page's seeds: the top input of the first output on the
    # page, and the separation rate. Model changes that move them need a new page.
    text = PAGE.read_text(encoding="utf-8")
    seeds = re.search(r"seeds (\d+)–(\d+)", text)
    assert seeds, "the page names its seeds"
    first, last = int(seeds.group(1)), int(seeds.group(2))
    rows = _page_rows()
    top = re.search(r"\| \*\*(?:identity|mechanism)\*\* \| `(\w+)`", text).group(1)
    parameters = sorted({top, "separation_rate"})
    result = audit(load_scenario(BASELINE), load_targets(TARGETS, require_held_out=False),
                   parameters=parameters, seeds=range(first, last + 1))
    for p in parameters:
        for o in result["output"].values:
            e = float(result["elasticity"].sel(parameter=p, output=o))
            page = rows[(p, str(o))][0]
            assert (np.isnan(e) and np.isnan(page)) or e == pytest.approx(
                page, rel=1e-5, abs=1e-9), (
                f"docs/audit.md is out of date ({p} -> {o}: {e} vs {page}): run "
                "`countysim audit --out docs/audit.md --table docs/audit_baseline_2025.csv`")
