"""Output-change alarms: the headline figures against tests/reference/headline.json.

A change that moves the model's output fails here until the references are refreshed
(``make references``) and ``CHANGELOG.md`` names the new ``output_version``, saying why.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from countysim import load_scenario
from countysim.testing import (
    HEADLINE_DECEMBER,
    HEADLINE_TARGETS,
    REFERENCE_FILE,
    REFERENCE_RTOL,
    REFERENCE_SCENARIO,
    REFRESH_COMMAND,
    load_references,
    output_version,
    reference_values,
    refresh_references,
    small_scenario,
)

ROOT = Path(__file__).resolve().parents[1]
HOW_TO_REFRESH = (f"if the change is intended, run `make references` ({REFRESH_COMMAND}) "
                  "and add a CHANGELOG.md entry naming the new output_version and why the "
                  "output changed")


@pytest.fixture(scope="module")
def references() -> dict:
    return load_references(ROOT / REFERENCE_FILE)


def differences(expected: dict, actual: dict) -> list[str]:
    """Every value that differs beyond REFERENCE_RTOL, as 'seed s: key ref -> now'."""
    out = []
    for seed in sorted(set(expected) | set(actual)):
        row_e, row_a = expected.get(seed, {}), actual.get(seed, {})
        for key in sorted(set(row_e) | set(row_a)):
            e, a = row_e.get(key, math.nan), row_a.get(key, math.nan)
            if not math.isclose(e, a, rel_tol=REFERENCE_RTOL, abs_tol=0.0):
                out.append(f"seed {seed}: {key} {e!r} -> {a!r}")
    return out


def test_headline_output_matches_the_references(references):
    actual = reference_values(ROOT, seeds=references["seeds"])
    diff = differences(references["values"], actual)
    assert not diff, ("the model's headline output changed from " + REFERENCE_FILE + " ("
                      + references["output_version"] + "):\n  " + "\n  ".join(diff)
                      + "\n" + HOW_TO_REFRESH)


def test_parameter_set_matches_the_references(references):
    current = load_scenario(ROOT / REFERENCE_SCENARIO).parameter_set
    assert current == references["parameter_set"], (
        f"the reference scenario's parameter set is {current}, the references were made "
        f"with {references['parameter_set']}; {HOW_TO_REFRESH}")


def test_references_cover_every_headline_figure(references):
    expected = set(HEADLINE_TARGETS) | {f"{n}@{references['until']}" for n in HEADLINE_DECEMBER}
    assert len(references["seeds"]) > 1
    for seed in references["seeds"]:
        assert set(references["values"][str(seed)]) == expected


def test_output_version_is_the_digest_of_the_values(references):
    # A hand edit of the values without a new version would dodge the changelog check.
    assert output_version(references["values"], references["parameter_set"]) == \
        references["output_version"], \
        f"{REFERENCE_FILE} was edited by hand; {HOW_TO_REFRESH}"


def test_changelog_names_the_current_output_version(references):
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert references["output_version"] in changelog, (
        f"CHANGELOG.md does not mention output_version {references['output_version']} of "
        f"{REFERENCE_FILE}: add an entry saying why the model's output changed")


def test_output_version_moves_with_any_value():
    values = {"0": {"A4": 1.0, "A5": 2.0}}
    moved = {"0": {"A4": 1.0, "A5": math.nextafter(2.0, 3.0)}}
    assert output_version(values) != output_version(moved)
    assert output_version(values) == output_version({"0": {"A5": 2.0, "A4": 1.0}})
    assert output_version(values, "ps-a") != output_version(values, "ps-b")


def test_refresh_writes_what_the_comparison_reads(tmp_path):
    scenario = small_scenario()
    out = tmp_path / "headline.json"
    record = refresh_references(ROOT, out=out, scenario=scenario, seeds=(0,))
    back = load_references(out)
    assert back == record
    assert back["parameter_set"] == scenario.parameter_set
    assert back["command"] == REFRESH_COMMAND and back["git_commit"]
    assert not differences(back["values"], reference_values(ROOT, scenario=scenario,
                                                            seeds=(0,)))
    other_seed = reference_values(ROOT, scenario=scenario, seeds=(1,))["1"]
    assert differences(back["values"], {"0": other_seed})


def test_parameter_set_ignores_names_and_moves_with_values():
    scenario = small_scenario()
    assert dataclasses.replace(scenario, name="renamed").parameter_set == scenario.parameter_set
    changed = scenario.replace(pilot_villages=scenario.pilot_villages - 1)
    assert changed.parameter_set != scenario.parameter_set
    assert scenario.parameter_set.startswith("ps-")
