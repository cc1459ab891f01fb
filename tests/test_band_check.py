"""The calibration's band check (issue 16, item 4): members must stay inside the validation
bands to 2030 on seeds of their own (countysim.calibration.members.band_check)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from countysim.calibration.bands import BANDS
from countysim.calibration.calibrate import load_calibration
from countysim.calibration.members import NOT_RUN, _Check, band_check, member_mask

EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "calibrate_2025.toml"


class _FakeRunner:
    """Records what the band check asks for; point ``i`` leaves the bands in ``leaves[i]``
    (keyed by the point's first coordinate, so the answer follows the point, not its
    position in the call)."""

    def __init__(self, leaves: dict[float, list[str]]) -> None:
        self.leaves = leaves
        self.calls: list[tuple[float, list, dict]] = []

    def bands(self, points, seeds, draws):
        out = []
        for k, x in enumerate(np.atleast_2d(points)):
            self.calls.append((float(x[0]), seeds(k), dict(draws(k))))
            out.append(self.leaves.get(float(x[0]), []))
        return out


def _check(n: int) -> _Check:
    points = np.arange(n, dtype=float)[:, None] * np.ones((1, 3))
    return _Check(points, np.zeros((n, 2, 1)), np.zeros((n, 1)),
                  [{"district_seed": 100 + i} for i in range(n)])


@pytest.fixture(scope="module")
def spec():
    return replace(load_calibration(EXPERIMENT), band_seeds=3)


def test_only_non_implausible_points_run_and_a_band_left_excludes(spec) -> None:
    ok = np.array([True, False, True, True])
    runner = _FakeRunner({2.0: [BANDS[0].label]})
    bands = band_check(spec, runner, _check(4), ok)
    assert [c[0] for c in runner.calls] == [0.0, 2.0, 3.0]  # the implausible point is skipped
    assert bands.inside.tolist() == [1, NOT_RUN, 0, 1]
    assert bands.per_band[2, 0] == 0 and (bands.per_band[2, 1:] == 1).all()
    assert (bands.per_band[1] == NOT_RUN).all()
    assert member_mask(ok, bands.inside).tolist() == [True, False, False, True]


def test_each_point_runs_with_its_own_draws_and_seeds_whoever_else_runs(spec) -> None:
    # The seeds of point 3 do not depend on which other points passed the fit: a point's
    # membership is its own (and so does not depend on the number of workers).
    first, second = _FakeRunner({}), _FakeRunner({})
    band_check(spec, first, _check(4), np.array([True, True, True, True]))
    band_check(spec, second, _check(4), np.array([False, False, False, True]))
    seeds_a = [s.spawn_key for s in first.calls[3][1]]
    seeds_b = [s.spawn_key for s in second.calls[0][1]]
    assert seeds_a == seeds_b and len(seeds_a) == spec.band_seeds
    assert len(set(seeds_a)) == spec.band_seeds
    assert first.calls[3][2] == {"district_seed": 103}
    # Different points, different seeds.
    assert {s.spawn_key for s in first.calls[0][1]}.isdisjoint(seeds_a)


def test_no_band_check_leaves_the_fit_alone(spec) -> None:
    runner = _FakeRunner({})
    ok = np.array([True, False])
    bands = band_check(replace(spec, band_seeds=0), runner, _check(2), ok)
    assert not runner.calls
    assert (bands.inside == NOT_RUN).all()
    assert member_mask(ok, bands.inside).tolist() == [True, False]
    assert member_mask(ok, None).tolist() == [True, False]




def test_the_runner_runs_a_point_to_2030_and_names_the_bands_it_leaves() -> None:
    from countysim.calibration.runner import _run_bands
    from countysim.core.scenario import load_scenario

    scenario = load_scenario(EXPERIMENT.parents[1] / "scenarios" / "baseline_2025.toml")
    labels = {band.label for band in BANDS}
    # Unemployment far above the band (no one finds a job): the band is named.
    failed, error = _run_bands((scenario, {"job_finding_rate": 0.005}, [1]))
    assert not error and set(failed) <= labels
    assert "urban unemployment, Dec" in failed
    # A run that cannot be made leaves every band, with the reason.
    failed, error = _run_bands((scenario, {"settle_rate": -1.0}, [1]))
    assert set(failed) == labels and error
