"""Calibration targets are classed as fit or input check (issue 16, item 1).

Two rules, each checked against the data it rests on:

* **The identity audit.** A target that moves one-for-one with one input and with
  nothing else (:func:`countysim.calibration.audit.classify` on the generated table
  ``docs/audit_baseline_2025.csv``) is an input check of that input, never a fit target.
* **No target sizes what it calibrates.** A target must not be the source of a
  parameter the calibration does not fit: when such a parameter's registry source cites
  a fit target, fitting to the target would in part return the parameter. Each such
  citation is either the reason the target is an input check (its ``inputs``) or listed
  in :data:`CITED_NOT_SIZED` with why the figure does not set the value. A new
  citation fails here until it is classed one way or the other.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from countysim.calibration.audit import classify
from countysim.calibration.spec import load_calibration
from countysim.calibration.targets import TargetError, load_targets
from countysim.core.parameters import PARAMETERS

REPO = Path(__file__).resolve().parents[1]
TARGETS = REPO / "scenarios" / "targets" / "litong_2025.toml"
EXPERIMENT = REPO / "experiments" / "calibrate_2025.toml"
AUDIT_TABLE = REPO / "docs" / "audit_baseline_2025.csv"
FIGURE_ID = re.compile(r"\b([AR]\d+[ru]?)\b")

#: (parameter, fit target) pairs where the parameter's source cites the target without
#: taking its value from it, and why.
CITED_NOT_SIZED = {
    ("legacy_backlog", "A29"): "A29's 1,172 resolved cases are a lower bound on the "
                               "backlog, not its size (carried over 1,300-3,600)",
    ("leading_posts", "A7"): "the count of leading posts is the leading teams' structure; "
                             "A7's scale is quoted as a check. A7 fits the posts' turnover",
    ("problem_rate_firm", "A6"): "names the figure it bears on; sized as half to twice a "
                                 "hand-set rate",
    ("resolve_skill", "A6"): "names the figure it bears on; hand-set, not fitted",
    ("resolve_difficulty", "A6"): "names the figure it bears on; hand-set, not fitted",
    ("coop_member_households", "A26"): "the cooperative's size is the anecdote's context "
                                       "(30+ households); A26's value is the gain per "
                                       "household",
    ("returnee_income", "A19"): "A19's lead goose bounds the best case; A19 moves with it "
                                "by less than 0.1 (the audit)",
    ("returnee_jobs", "A19"): "L10's prior (2-6 jobs per venture) sizes it; A19 is quoted "
                              "beside the venture",
}


def _audit() -> dict[str, tuple[list[str], np.ndarray]]:
    rows: dict[str, tuple[list[str], list[float]]] = {}
    with AUDIT_TABLE.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            names, values = rows.setdefault(r["output"], ([], []))
            names.append(r["parameter"])
            values.append(float(r["elasticity"]))
    return {o: (n, np.array(v)) for o, (n, v) in rows.items()}


def _cited(parameter: str) -> set[str]:
    return set(FIGURE_ID.findall(PARAMETERS[parameter].source))


def test_every_target_of_the_audit_is_classed_by_its_rule():
    targets, audit = load_targets(TARGETS, require_held_out=False), _audit()
    assert set(targets.ids) <= set(audit), "the audit table misses targets: rerun it"
    for t in targets:
        names, e = audit[t.id]
        c = classify(e, names, t.id)
        if c.kind == "identity":
            assert t.role == "input_check" and c.top[0] in t.inputs, (t.id, c)


def test_no_fit_target_is_the_source_of_a_parameter():
    targets = load_targets(TARGETS, require_held_out=False)
    fit = {t.id for t in targets if t.role == "fit"}
    # The calibration is the source of what it fits ("fitted by calibration to A4").
    fitted = set(load_calibration(EXPERIMENT).names)
    cited = {(name, tid) for name in PARAMETERS if name not in fitted
             for tid in _cited(name) & fit}
    assert cited == set(CITED_NOT_SIZED), (
        "a parameter's source cites a fit target: make the target an input check of it, "
        "or list the pair in CITED_NOT_SIZED with why the figure does not size it")


def test_an_input_check_checks_the_inputs_sized_from_it():
    targets = load_targets(TARGETS, require_held_out=False)
    checks = [t for t in targets if t.role == "input_check"]
    assert [t.id for t in checks] == ["R11", "R2"]
    for t in checks:
        sized = {name for name in PARAMETERS if t.id in _cited(name)}
        assert set(t.inputs) == sized, t.id
        assert t.held_out  # never fitted, whatever the file says


def test_the_calibration_never_fits_an_input_check():
    spec = load_calibration(EXPERIMENT)  # its held_out = [] must not bring R11 back
    r11 = spec.targets.by_id("R11")
    assert r11.held_out and r11.role == "input_check"
    assert "R11" not in {t.id for t in spec.targets.fitted}
    # Every input it checks is left as an input: none is fitted.
    assert not set(r11.inputs) & set(spec.names)


@pytest.mark.parametrize(("extra", "key", "allowed"), [
    ('role = "check"', "R11.role", "fit, input_check"),
    ('role = "input_check"', "R11.inputs", "non-empty list"),
    ('role = "input_check"\ninputs = ["no_such_parameter"]', "R11.inputs", "unknown"),
    ('inputs = ["villages"]', "R11.inputs", "only for role"),
])
def test_a_bad_role_is_one_line_naming_the_key(tmp_path, extra, key, allowed):
    text = TARGETS.read_text(encoding="utf-8")
    text = text.replace('role = "input_check"\ninputs = ["collective_income_median", '
                        '"collective_income_sigma"]\n', extra + "\n")
    bad = tmp_path / "targets.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(TargetError) as err:
        load_targets(bad, require_held_out=False)
    message = str(err.value)
    assert "\n" not in message and key in message and allowed in message
