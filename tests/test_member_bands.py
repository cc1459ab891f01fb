"""The members-against-bands page (experiments/member_bands.py, docs/member_bands.md).

Its runs take a few minutes; these tests check that the members' seeds are their own and
that the page describes the shipped ensemble (regenerate it after a re-calibration).
"""

from __future__ import annotations

import re
from pathlib import Path

import countysim
from conftest import experiment_script
from countysim.calibration.audit import AUDIT_SEEDS
from countysim.validate import BANDS, SETTLED_SEEDS, VALIDATION_SEEDS

ROOT = Path(__file__).resolve().parents[1]
member_bands = experiment_script("member_bands")


def test_each_member_has_seeds_no_other_check_uses():
    n = countysim.load_ensemble(member_bands.ENSEMBLE).sizes["member"]
    seeds = [s for m in range(n) for s in member_bands.member_seeds(m, 3)]
    assert len(set(seeds)) == len(seeds)
    others = {*range(20), *VALIDATION_SEEDS, *SETTLED_SEEDS, *range(200, 224),
              *range(2000, 2120), *AUDIT_SEEDS}
    assert not set(seeds) & others


def test_the_page_is_of_the_shipped_ensemble():
    text = (ROOT / "docs" / "member_bands.md").read_text(encoding="utf-8")
    n = countysim.load_ensemble(member_bands.ENSEMBLE).sizes["member"]
    m = re.search(r"\*\*(\d+) of (\d+) members", text)
    assert m and int(m.group(2)) == n, "rerun experiments/member_bands.py"
    assert all(band.label in text for band in BANDS)
