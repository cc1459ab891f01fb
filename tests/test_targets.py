"""The calibration targets file: the shipped file's content, variances and bad files.

Reference variances are computed by hand from the wording rules in
``scenarios/targets/litong_2025.toml`` (written out beside each assertion), not copied
from the code's output.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from countysim.calibration.targets import ACROSS, KINDS, STATISTICS, TargetError, load_targets

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


ARTICLE = ("A4", "A5", "A6", "A7", "A8", "A9", "A14", "A29")
PATTERNS = ("R6", "R7r", "R7u", "R11", "A19", "A26", "R15", "R2")


def test_shipped_targets_are_the_article_figures_and_patterns() -> None:
    t = load_targets(SHIPPED)
    # Values as printed in the article's figures (docs/sources.md), and the comparators:
    # R6 the mean of 5.1 % and 5.2 %; R7r the mean of 7.1, 6.6, 5.8, 5.6, 6.9 %; R7u of
    # 5.0, 4.6, 4.3, 5.5, 4.8 %; R11 183 of 195 villages; A19 and A26 the lower ends;
    # R15 between Ningxia's 1.0 (2022-23) and 1.7 (2017-22) points a year; R2 831,000
    # away from home x 6.3 %.
    expected = {"A4": 3906, "A5": 26000, "A6": 1000, "A7": 58, "A8": 84, "A9": 13,
                "A14": 0.10, "A29": 1172, "R6": 0.0515, "R7r": 0.064, "R7u": 0.0484,
                "R11": 183 / 195, "A19": 150_000, "A26": 10_000, "R15": 0.013,
                "R2": 52_000}
    assert {x.id: x.value for x in t} == pytest.approx(expected, rel=1e-3)
    # A29 by the file's choice; R11 and R2 by their role (an input check is never fitted).
    assert [x.id for x in t.held_out] == ["A29", "R11", "R2"]
    assert {x.id for x in t if x.role == "input_check"} == {"R11", "R2"}
    assert {x.id: x.kind for x in t} == {"A4": "point", "A5": "rounded", "A6": "lower_bound",
                                         "A7": "binomial", "A8": "binomial", "A9": "binomial",
                                         "A14": "expectation", "A29": "point",
                                         "R6": "comparator", "R7r": "comparator",
                                         "R7u": "comparator", "R11": "comparator",
                                         "A19": "range", "A26": "range", "R15": "comparator",
                                         "R2": "comparator"}
    # Each quote contains the figure as written in the article or the comparator's source.
    for tid, text in {"A4": "3906", "A5": "2.6万", "A6": "千余件", "A7": "58名", "A8": "84名",
                      "A9": "13名", "A14": "10%", "A29": "1172", "R6": "5.2%", "R7r": "7.1%",
                      "R7u": "4.3%", "R11": "93.85%", "A19": "15万元", "A26": "2万余元",
                      "R15": "67.31%", "R2": "83.1万"}.items():
        assert text in t.by_id(tid).quote
    for tid in PATTERNS:
        assert t.by_id(tid).source


def test_shipped_windows_read_october_except_the_yearly_figures() -> None:
    t = load_targets(SHIPPED)
    for tid in ARTICLE:
        x = t.by_id(tid)
        assert x.window[0] == "2025-01" and x.statistic == "end"
        assert x.read_at == ("2025-12" if x.id == "A14" else "2025-10")
    assert t.meta["report_month"] == "2025-10"
    # Patterns: the model's own years, 2025 for levels, 2026 over 2025 for growth and for
    # the move to town (December to December).
    windows = {x.id: x.window for x in t if x.id in PATTERNS}
    assert windows == {"R6": ("2025-01", "2025-12"), "R7r": ("2025-01", "2026-12"),
                       "R7u": ("2025-01", "2026-12"), "R11": ("2025-01", "2025-12"),
                       "A19": ("2025-01", "2026-12"), "A26": ("2026-01", "2026-12"),
                       "R15": ("2025-12", "2026-12"), "R2": ("2025-01", "2025-12")}


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
    # Comparators: their own sd only (no reporting or window term).
    assert t.by_id("R6").obs_sd_total == pytest.approx(0.01)
    assert t.by_id("R11").obs_sd_total == pytest.approx(0.05)
    # Ranges: edge sd 10 % of the lower end.
    assert t.by_id("A19").interval == (150_000.0, 450_000.0)
    assert t.by_id("A19").obs_sd_total == pytest.approx(15_000.0)


def test_every_kind_is_documented() -> None:
    assert set(KINDS) == {"point", "lower_bound", "binomial", "rounded", "expectation",
                          "comparator", "range"}


# ------------------------------------------------------------------- statistics

PATTERN = GOOD + """
[[targets]]
id = "P1"
quote = "a pattern"
value = 0.5
kind = "comparator"
obs_sd = 0.1
variable = "collective_income"
statistic = "sum"
across = "share_at_least"
threshold = 100
window = ["2025-01", "2025-03"]
held_out = false
reasoning = "test"
"""


def _target(tmp_path: Path, **keys: str | None):
    """Target P1 of PATTERN with some keys replaced (None removes a key)."""
    head, tail = PATTERN.split("[[targets]]\nid = \"P1\"\n")
    body = dict(line.split(" = ", 1) for line in tail.strip().split("\n"))
    for k, v in keys.items():
        if v is None:
            body.pop(k, None)
        else:
            body[k] = v
    text = head + "[[targets]]\nid = \"P1\"\n" + "\n".join(f"{k} = {v}" for k, v in body.items())
    return load_targets(write(tmp_path, text)).by_id("P1")


def test_every_statistic_and_summary_is_documented() -> None:
    assert set(STATISTICS) == {"end", "mean", "sum", "growth", "rise", "annual_growth",
                               "annual_change"}
    assert set(ACROSS) == {"mean", "max", "quantile", "share_at_least"}


def test_statistics_read_the_months_and_villages_as_documented(tmp_path: Path) -> None:
    # A fake run: 24 months from 2025-01, 4 villages (the first two pilot). The expected
    # values are worked out by hand in the comments.
    months = np.arange(24, dtype=float)
    village = np.column_stack([10 + months, 20 + 2 * months, 100 + 0 * months, 1 + months])
    ds = {"collective_income": village, "urban_placements_ytd": 100 + months,
          "pilot": np.array([1, 1, 0, 0])}
    # Sums over 2025-01..03 per village: [33, 66, 300, 6]; share >= 100: 1 of 4.
    assert _target(tmp_path).evaluate(ds, "2025-01") == pytest.approx(0.25)
    # Largest sum over the pilot villages: 66.
    t = _target(tmp_path, across='"max"', threshold=None, villages='"pilot"')
    assert t.evaluate(ds, "2025-01") == pytest.approx(66.0)
    # Median of the 2025-03 values [12, 24, 100, 3]: (12 + 24) / 2.
    t = _target(tmp_path, across='"quantile"', threshold=None, q="0.5", statistic='"end"')
    assert t.evaluate(ds, "2025-01") == pytest.approx(18.0)
    # Mean over villages of the mean over months 0..2: (11 + 22 + 100 + 2) / 4.
    t = _target(tmp_path, across='"mean"', threshold=None, statistic='"mean"')
    assert t.evaluate(ds, "2025-01") == pytest.approx(33.75)
    # Change of the yearly sum: village 1 gains 12 x 12 = 144, village 2 twice that (288).
    t = _target(tmp_path, across='"max"', threshold=None, statistic='"annual_change"',
                window='["2025-01", "2026-12"]', villages='"pilot"')
    assert t.evaluate(ds, "2025-01") == pytest.approx(288.0)
    # District totals: growth of the yearly mean, (100 + 17.5) / (100 + 5.5) - 1.
    t = _target(tmp_path, across=None, threshold=None, statistic='"annual_growth"',
                variable='"urban_placements_ytd"', window='["2025-01", "2026-12"]')
    assert t.evaluate(ds, "2025-01") == pytest.approx(117.5 / 105.5 - 1)
    # Annualised growth from 2025-01 to 2025-07 (6 months): (106 / 100) ** 2 - 1.
    t = _target(tmp_path, across=None, threshold=None, statistic='"growth"',
                variable='"urban_placements_ytd"', window='["2025-01", "2025-07"]')
    assert t.evaluate(ds, "2025-01") == pytest.approx(1.06 ** 2 - 1)
    # Annualised rise from 2025-01 to 2025-07 (6 months): (106 - 100) x 12 / 6.
    t = _target(tmp_path, across=None, threshold=None, statistic='"rise"',
                variable='"urban_placements_ytd"', window='["2025-01", "2025-07"]')
    assert t.evaluate(ds, "2025-01") == pytest.approx(12.0)
    # The default statistic is the value at the window's end (2025-05: month 4).
    t = _target(tmp_path, across=None, threshold=None, statistic=None,
                variable='"urban_placements_ytd"', window='["2025-03", "2025-05"]')
    assert t.evaluate(ds, "2025-01") == pytest.approx(104.0)


@pytest.mark.parametrize("keys, key, words", [
    ({"statistic": '"median"'}, "P1.statistic", "expected one of end, mean"),
    ({"across": '"min"'}, "P1.across", "expected one of mean, max"),
    ({"across": None, "threshold": None}, "P1.variable", "per-village variable, across"),
    ({"variable": '"urban_placements_ytd"'}, "P1.across", "across needs a per-village"),
    ({"threshold": None}, "P1.threshold", "required with across = 'share_at_least'"),
    ({"q": "0.5"}, "P1.q", "only with it"),
    ({"across": '"quantile"', "threshold": None, "q": "1.5"}, "P1.q", "out of range"),
    ({"villages": '"rich"'}, "P1.villages", "expected one of all, pilot"),
    ({"statistic": '"annual_growth"'}, "P1.window", "must span 24 months"),
    ({"kind": '"range"', "obs_sd": None}, "P1.upper", "required for kind 'range'"),
    ({"obs_sd": None}, "P1.obs_sd", "required for kind 'comparator'"),
])
def test_bad_pattern_targets_name_the_key(tmp_path: Path, keys: dict, key: str,
                                          words: str) -> None:
    with pytest.raises(TargetError) as info:
        _target(tmp_path, **keys)
    assert info.value.key == key
    assert words in info.value.problem


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
