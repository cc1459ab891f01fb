"""The forecast's spread by source (experiments/variance_split.py, docs/variance_split.md).

The full design takes ~20 minutes; these tests check the split's arithmetic on values
whose variances are known, its bootstrap errors, the four designs' scenarios, and (slow)
one small real run of the script end to end.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import countysim
import numpy as np
import pytest
from conftest import experiment_script
from countysim.core.parameters import PARAMETERS
from countysim.forecasting.forecast import load_forecast_spec
from countysim.sweeps.ensemble import member_values

ROOT = Path(__file__).resolve().parents[1]
variance_split = experiment_script("variance_split")


def known(variances: list[float], members: int = 2, seeds: int = 2) -> np.ndarray:
    """Values ``(design, member, seed)`` whose population variance over runs is exactly
    ``variances[d]`` in design ``d``: +-sqrt(V) alternating over an even number of runs."""
    signs = np.resize([1.0, -1.0], members * seeds).reshape(members, seeds)
    return np.stack([np.sqrt(v) * signs for v in variances])


def test_the_split_of_known_variances():
    shares = variance_split.split(known([4.0, 3.0, 2.0, 1.0]))
    assert shares == pytest.approx([0.25, 0.25, 0.25, 0.25])
    shares = variance_split.split(known([10.0, 4.0, 3.0, 0.5]))
    assert shares == pytest.approx([0.6, 0.1, 0.25, 0.05])


def test_a_negative_difference_is_kept_and_shares_sum_to_one():
    # Fixing the district "adds" variance here (noise): its share is negative, not 0.
    shares = variance_split.split(known([4.0, 2.0, 3.0, 1.0]))
    assert shares == pytest.approx([0.5, -0.25, 0.5, 0.25])
    rng = np.random.default_rng(3)
    values = rng.normal(size=(4, 7, 3, 2, 5))  # trailing dims (target, year) are kept
    shares = variance_split.split(values)
    assert shares.shape == (4, 2, 5)
    assert shares.sum(axis=0) == pytest.approx(np.ones((2, 5)))
    # No spread at all: nothing to split.
    assert np.isnan(variance_split.split(np.ones((4, 3, 2)))).all()


def nested(members: int, seeds: int, rng: np.random.Generator) -> np.ndarray:
    """Designs like the real ones: each source adds its own member-level noise."""
    link, district, other = (rng.normal(scale=s, size=(members, 1)) for s in (2.0, 1.0, 1.5))
    seed = rng.normal(size=(members, seeds))
    return np.stack([link + district + other + seed, district + other + seed,
                     other + seed, seed])


def test_the_bootstrap_error_is_positive_and_shrinks_with_members():
    rng = np.random.default_rng(11)
    small = variance_split.bootstrap_se(nested(10, 2, rng), n_boot=400)
    large = variance_split.bootstrap_se(nested(160, 2, rng), n_boot=400)
    assert (small > 0).all() and (large > 0).all()
    assert (large < small).all()
    # Same resampling stream: the same errors.
    values = nested(10, 2, rng)
    assert np.array_equal(variance_split.bootstrap_se(values, n_boot=50),
                          variance_split.bootstrap_se(values, n_boot=50))


def test_the_four_designs_are_nested():
    spec = load_forecast_spec(variance_split.FORECAST)
    ensemble = spec.experiment.ensemble
    links = variance_split.link_parameters(ensemble)
    # The links the ensemble draws, as the calibration carries them ("L.. prior").
    assert links and all(PARAMETERS[n].link for n in links)
    assert set(links) >= {"effort_response", "returnee_jobs", "shell_share"}
    package = spec.experiment.scenarios[1]
    baseline = countysim.load_scenario(variance_split.BASELINE)
    seed = baseline["district_seed"]
    values = member_values(ensemble, 3)
    d0, d1, d2, d3 = (variance_split.design_scenario(d, package, values, links, seed)
                      for d in range(4))
    # D0 is what the forecast runs for the member in that package.
    member = next(i for i, (m, k) in enumerate(zip(spec.experiment.members,
                                                   spec.experiment.packages, strict=True))
                  if m == 3 and k == 1)
    expected = spec.experiment.scenario(member)
    others = [n for n in values if n not in links and n != "district_seed"]
    for name in values:
        assert d0[name] == expected[name], name
    for name in links:
        assert d1[name] == d2[name] == d3[name] == PARAMETERS[name].default
    assert d1["district_seed"] == values["district_seed"] != seed
    assert d2["district_seed"] == d3["district_seed"] == seed
    for name in others:
        assert d1[name] == d2[name] == values[name]
        assert d3[name] == package[name] == baseline[name]
    # The package's levers in every design.
    assert all(d["pilot_villages"] == package["pilot_villages"] for d in (d0, d1, d2, d3))


def test_seeds_are_the_same_across_designs_and_distinct_across_runs():
    seeds = {(m, r): variance_split.run_seed(1, m, r).generate_state(2).tobytes()
             for m in range(5) for r in range(3)}
    assert len(set(seeds.values())) == len(seeds)
    assert (variance_split.run_seed(1, 2, 1).generate_state(2).tobytes() == seeds[(2, 1)])


@pytest.mark.slow
def test_a_small_real_split_end_to_end(tmp_path):
    """2 members x 2 seeds x 1 package x 4 designs to 2026-12 (16 runs)."""
    out = tmp_path / "variance_split.md"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "variance_split.py"), "--members", "2",
         "--seeds", "2", "--packages", "baseline_2025", "--until", "2026-12",
         "--workers", "2", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert "Generated by experiments/variance_split.py" in text
    assert "sequential" in text and "Negative differences are reported as they are" in text
    assert "## baseline_2025" in text and "## Reading" in text
    spec = load_forecast_spec(variance_split.FORECAST)
    for target in spec.targets:
        assert f"| {target.label} | 2026 |" in text
        assert f"- {target.label}: links carry" in text
    print(f"16 runs end to end in {seconds:.1f} s; {done.stderr.strip().splitlines()[-1]}")
