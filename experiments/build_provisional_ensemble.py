"""Build the PROVISIONAL packaged ensemble from an existing calibration result.

Until the issue-9 calibration writes ``litong_2025`` itself, the shipped ensemble is
built from the current calibration's accepted (non-implausible) points: at most
``--members`` of them, chosen at random without replacement, each paired with a district
seed; every parameter has role ``"calibrated"`` and its prior range as ``low``/``high``.
All draws come from one ``SeedSequence(--seed)``: its first child picks the points, its
second draws the district seeds.

Run from the repository root (needs ``countysim calibrate experiments/calibrate_2025.toml``
first)::

    .venv/bin/python experiments/build_provisional_ensemble.py \\
        runs/calibration/calibrate_2025.nc model/data/ensembles/litong_2025.nc
"""

from __future__ import annotations

import argparse
from pathlib import Path

import countysim
import numpy as np
from countysim.sweeps.ensemble import ensemble_from_points, write_ensemble

# The largest district seed the registry allows (district_seed bounds: 0 .. 2**63 - 1).
SEED_HIGH = 2**63 - 1
# Root seed of this build (the date the provisional ensemble was first made).
DEFAULT_SEED = 20261127
# A few hundred members at most (issue 9): enough for attainment probabilities with
# Wilson intervals of about +-6 points at p = 0.5, small enough to ship (~60 kB).
DEFAULT_MEMBERS = 300


def build(calibration: Path, *, members: int = DEFAULT_MEMBERS, seed: int = DEFAULT_SEED):
    """The provisional ensemble Dataset from a calibration result file."""
    cal = countysim.open_calibration(calibration)
    accepted = cal["accepted"].values
    names = [str(p) for p in cal["parameter"].values]
    pick_ss, district_ss = np.random.SeedSequence(seed).spawn(2)
    n = min(members, accepted.shape[0])
    rows = np.sort(np.random.default_rng(pick_ss).choice(accepted.shape[0], n, replace=False))
    seeds = np.random.default_rng(district_ss).integers(0, SEED_HIGH, size=n, dtype=np.int64)
    ranges = {p: (float(lo), float(hi)) for p, lo, hi in
              zip(names, cal["prior_lower"].values, cal["prior_upper"].values, strict=True)}
    return ensemble_from_points(
        {p: accepted[rows, j] for j, p in enumerate(names)}, seeds,
        name="litong_2025",
        scenario=countysim.Scenario.from_toml(cal.attrs["scenario_toml"]).name,
        scenario_toml=cal.attrs["scenario_toml"],
        calibration=cal.attrs["experiment"],
        targets=Path(cal.attrs["targets_file"]).name,
        ranges=ranges,
        description=(
            "PROVISIONAL: built from the calibration calibrate_2025 of "
            f"{cal.attrs['date']} ({accepted.shape[0]} accepted points) until the issue-9 "
            "calibration rewrites it; the district seeds were not part of that calibration "
            "(it ran one district), so members pair a fitted point with a new district."),
        method=(
            f"{n} of the {accepted.shape[0]} non-implausible points after the last "
            f"history-matching wave (cut-off {float(cal.attrs['cutoff']):g}, rule "
            f"{cal.attrs['rule']}), chosen uniformly without replacement; district seeds "
            f"uniform on [0, 2^63 - 1); SeedSequence({seed}) children 0 and 1; built by "
            "experiments/build_provisional_ensemble.py"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("calibration", type=Path, help="calibration result (.nc)")
    parser.add_argument("out", type=Path, help="ensemble file to write (.nc)")
    parser.add_argument("--members", type=int, default=DEFAULT_MEMBERS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    ds = build(args.calibration, members=args.members, seed=args.seed)
    write_ensemble(ds, args.out)
    print(f"wrote {args.out}: {ds.sizes['member']} members x {ds.sizes['parameter']} "
          f"parameters, {args.out.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
