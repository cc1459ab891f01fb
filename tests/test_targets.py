"""The calibration targets file: the shipped file's content, variances and bad files.

Reference variances are computed by hand from the wording rules in
``scenarios/targets/litong_2025.toml`` (written out beside each assertion), not copied
from the code's output.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from countysim.calibration.targets import KINDS, TargetError, load_targets

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "scenarios" / "targets" / "litong_2025.toml"

GOOD = """
title = "test"
[[targets]]
id = "A4"
quote = "推动3906人捧起城镇“新饭碗”"
value = 3906
kind = "point"
variable = "urban_placements_ytd"
window = ["2025-01", "2025-10"]
reporting_cv = 0.01
held_out = false
reasoning = "exact count"

[[targets]]
id = "A29"
quote = "累计化解历史遗留问题1172件"
value = 1172
kind = "point"
variable = "legacy_resolved_cum"
window = ["2025-01", "2025-10"]
reporting_cv = 0.01
held_out = true
reasoning = "exact count"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ the shipped file


def test_shipped_targets_are_the_article_figures() -> None:
    t = load_targets(SHIPPED)
    # Values as printed in the article's figures (docs/sources.md).
    expected = {"A4": 3906, "A5": 26000, "A6": 1000, "A7": 58, "A8": 84, "A9": 13,
                "A14": 0.10, "A29": 1172}
    assert {x.id: x.value for x in t} == pytest.approx(expected)
    assert [x.id for x in t.held_out] == ["A29"]
    assert {x.id: x.kind for x in t} == {"A4": "point", "A5": "rounded", "A6": "lower_bound",
                                         "A7": "binomial", "A8": "binomial", "A9": "binomial",
                                         "A14": "expectation", "A29": "point"}
    # Each quote contains the figure as written in the article.
    for tid, text in {"A4": "3906", "A5": "2.6万", "A6": "千余件", "A7": "58名", "A8": "84名",
                      "A9": "13名", "A14": "10%", "A29": "1172"}.items():
        assert text in t.by_id(tid).quote


def test_shipped_windows_read_october_except_the_yearly_forecast() -> None:
    t = load_targets(SHIPPED)
    for x in t:
        assert x.window[0] == "2025-01"
        assert x.read_at == ("2025-12" if x.id == "A14" else "2025-10")
    assert t.meta["report_month"] == "2025-10"


def test_shipped_observation_variances_follow_the_wording() -> None:
    t = load_targets(SHIPPED)
    # A4: (0.01 * 3906)^2 + (3906 * 0.5 / 10)^2 = 39.06^2 + 195.3^2
    assert t.by_id("A4").obs_variance == pytest.approx(39.06 ** 2 + 195.3 ** 2)
    # A5: rounding 1000^2/12, reporting (0.03 * 26000)^2 = 780^2, window 1300^2
    assert t.by_id("A5").obs_variance == pytest.approx(1000 ** 2 / 12 + 780 ** 2 + 1300 ** 2)
    # A7: binomial 479 * (58/479) * (421/479) = 58 * 421 / 479, window (58 * 0.05)^2
    assert t.by_id("A7").obs_variance == pytest.approx(58 * 421 / 479 + 2.9 ** 2)
    # A9: 13 * 466 / 479 + (13 * 0.05)^2
    assert t.by_id("A9").obs_variance == pytest.approx(13 * 466 / 479 + 0.65 ** 2)
    # A14: a forecast sd of 2 percentage points, no window term.
    assert t.by_id("A14").obs_sd_total == pytest.approx(0.02)
    # A6: the range [1000, 1999] itself carries no variance; only its edges do.
    a6 = t.by_id("A6")
    assert a6.interval == (1000.0, 1999.0)
    assert a6.obs_variance == pytest.approx(20.0 ** 2 + 50.0 ** 2)


def test_every_kind_is_documented() -> None:
    assert set(KINDS) == {"point", "lower_bound", "binomial", "rounded", "expectation"}


# ------------------------------------------------------------------------ bad files


def test_good_minimal_file_loads(tmp_path: Path) -> None:
    t = load_targets(write(tmp_path, GOOD))
    assert t.ids == ["A4", "A29"]
    assert [x.id for x in t.fitted] == ["A4"]
    assert t.by_id("A4").obs_sd_total == pytest.approx(39.06)


@pytest.mark.parametrize("old, new, key, words", [
    ('kind = "point"\nvariable = "urban', 'kind = "guess"\nvariable = "urban', "A4.kind",
     "expected one of point, lower_bound"),
    ('value = 3906\n', '', "A4.value", "required key is missing"),
    ('value = 3906\n', 'value = "3906"\n', "A4.value", "expected a number"),
    ('reporting_cv = 0.01\nheld_out = false', 'reporting_cv = 0.01\npool = 479\nheld_out = false',
     "A4.pool", "only for kind 'binomial'"),
    ('variable = "urban_placements_ytd"', 'variable = "urban_placements_total"',
     "A4.variable", "unknown model variable"),
    ('variable = "urban_placements_ytd"', 'variable = "collective_income"', "A4.variable",
     "needs a district total"),
    ('window = ["2025-01", "2025-10"]\nreporting_cv = 0.01\nheld_out = false',
     'window = ["2025-10", "2025-01"]\nreporting_cv = 0.01\nheld_out = false', "A4.window",
     "before it starts"),
    ('window = ["2025-01", "2025-10"]\nreporting_cv = 0.01\nheld_out = false',
     'window = ["2025-1", "2025-10"]\nreporting_cv = 0.01\nheld_out = false', "A4.window",
     "expected a month"),
    ('reporting_cv = 0.01\nheld_out = false', 'reporting_cv = 0.0\nheld_out = false',
     "A4.reporting_cv", "zero observation variance"),
    ('reporting_cv = 0.01\nheld_out = false', 'reporting_cv = 1.5\nheld_out = false',
     "A4.reporting_cv", "out of range"),
    ('held_out = false', 'held_out = "no"', "A4.held_out", "true or false"),
    ('held_out = false', 'held_out = true', "held_out", "exactly one target"),
    ('held_out = true', 'held_out = false', "held_out", "exactly one target"),
    ('id = "A29"', 'id = "A4"', "A4.id", "more than once"),
    ('title = "test"', 'titel = "test"', "titel", "unknown top-level key"),
])
def test_bad_target_files_name_file_key_and_problem(tmp_path: Path, old: str, new: str,
                                                    key: str, words: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(TargetError) as info:
        load_targets(path)
    assert info.value.key == key
    assert words in info.value.problem
    assert str(path) in str(info.value)


def test_binomial_needs_a_pool_and_a_count_inside_it(tmp_path: Path) -> None:
    text = GOOD.replace('kind = "point"\nvariable = "urban_placements_ytd"',
                        'kind = "binomial"\nvariable = "cadres_promoted_ytd"', 1)
    with pytest.raises(TargetError, match="required for kind 'binomial'"):
        load_targets(write(tmp_path, text))
    too_many = text.replace("reporting_cv = 0.01\nheld_out = false",
                            "pool = 479\nheld_out = false", 1)
    with pytest.raises(TargetError) as info:
        load_targets(write(tmp_path, too_many))
    assert info.value.key == "A4.value" and "[0, pool=479]" in info.value.problem


def test_lower_bound_needs_an_upper_end_above_it(tmp_path: Path) -> None:
    text = GOOD.replace('kind = "point"', 'kind = "lower_bound"\nupper = 3000', 1)
    with pytest.raises(TargetError, match="must exceed value 3906") as info:
        load_targets(write(tmp_path, text))
    assert info.value.key == "A4.upper"


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="does not exist"):
        load_targets(tmp_path / "nope.toml")
    with pytest.raises(TargetError, match="not valid TOML") as info:
        load_targets(write(tmp_path, "[[targets]\nid = 1"))
    assert info.value.key == "<syntax>"
    with pytest.raises(TargetError, match=r"one or more \[\[targets\]\]"):
        load_targets(write(tmp_path, 'title = "empty"\n'))


def test_recovery_files_may_hold_nothing_out(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("held_out = true", "held_out = false"))
    assert not load_targets(path, require_held_out=False).held_out


def test_rounded_target_variance_is_uniform_rounding(tmp_path: Path) -> None:
    text = GOOD.replace('kind = "point"', 'kind = "rounded"\nstep = 100', 1)
    t = load_targets(write(tmp_path, text)).by_id("A4")
    # 100^2 / 12 + (0.01 * 3906)^2
    assert t.obs_variance == pytest.approx(100 ** 2 / 12 + 39.06 ** 2)
    assert math.isclose(t.centre, 3906)
