"""The lever-effects experiment (experiments/lever_effects.py, docs/lever_effects.md).

The page's runs take ~15 minutes; these tests check the logic that decides what is run
and how it is summarised: the prior ends, each lever's change, the paired statistics,
and that every lever has its chain named.
"""

from __future__ import annotations

import math
from pathlib import Path

import countysim
import numpy as np
import pytest
from conftest import experiment_script
from countysim.core.parameters import PARAMETERS, by_section

ROOT = Path(__file__).resolve().parents[1]


lever_effects = experiment_script("lever_effects")
LEVERS = [p.name for p in by_section("levers")]


def test_the_ends_of_the_priors():
    weak, strong = lever_effects.at_end("weak"), lever_effects.at_end("strong")
    links = lever_effects.link_parameters()
    assert links and set(weak) == set(strong) == set(links)
    # The median is the registry's sourced value, whatever draw the baseline holds.
    assert lever_effects.at_end("median") == {n: PARAMETERS[n].default for n in links}
    for name in links:
        lo, hi = PARAMETERS[name].prior
        expected = (hi, lo) if name in lever_effects.WEAK_HIGH else (lo, hi)
        assert (weak[name], strong[name]) == pytest.approx(expected), name
    # Every name on the weak-is-high list is a link with a prior (a typo would be ignored).
    assert set(lever_effects.WEAK_HIGH) <= set(links)


@pytest.mark.parametrize("name", LEVERS)
def test_each_lever_is_changed_to_an_allowed_other_value(name):
    base = countysim.load_scenario(lever_effects.BASELINE)[name]
    value = lever_effects.change(name)
    assert value != base
    p = PARAMETERS[name]
    if p.choices is not None:
        assert value in p.choices
    elif p.kind is not bool:
        lo, hi = p.bounds
        assert lo <= value <= hi
    # The changed scenario is valid (replace validates every value).
    countysim.load_scenario(lever_effects.BASELINE).replace(**lever_effects.changes(name))


def test_every_lever_has_its_chain_and_links_are_parameters():
    assert set(lever_effects.CHAINS) == set(LEVERS)
    for chain, links in lever_effects.CHAINS.values():
        assert chain and all(link in PARAMETERS for link in links)
    assert set(lever_effects.changes(lever_effects.BUNDLE)) == set(lever_effects.CADRE_REFORMS)


def test_paired_summary():
    seeds = [1, 2, 3, 4]
    diffs = np.array([2.0, 4.0, 3.0, 5.0])
    results = {("median", None, s): {"jobs": 100.0 + s} for s in seeds}
    results |= {("median", "x", s): {"jobs": 100.0 + s + d}
                for s, d in zip(seeds, diffs, strict=True)}
    mean, sd, z = lever_effects.summary(results, "median", "x", "jobs", seeds)
    assert mean == pytest.approx(3.5)
    assert sd == pytest.approx(diffs.std(ddof=1))
    assert z == pytest.approx(3.5 / (diffs.std(ddof=1) / math.sqrt(4)))
    # No paired noise at all: an effect is infinitely clear, no effect is zero.
    same = {("median", "y", s): {"jobs": 100.0 + s} for s in seeds} | results
    assert lever_effects.summary(same, "median", "y", "jobs", seeds) == (0.0, 0.0, 0.0)


def test_a_row_moves_development_only_beyond_noise_on_a_development_outcome():
    seeds = [1, 2, 3, 4]
    base = {("median", None, s): dict.fromkeys(lever_effects.OUTCOMES, 100.0) for s in seeds}
    # A clear shift of problems resolved (not a development outcome) and noise elsewhere.
    shift = {("median", "x", s): dict.fromkeys(lever_effects.OUTCOMES, 100.0 + (-1) ** s)
             | {"problems_resolved": 150.0 + s % 2} for s in seeds}
    results = base | shift
    assert not lever_effects.moves_development(results, "median", "x", seeds)
    # The same shift on urban jobs is a development outcome.
    for s in seeds:
        results[("median", "x", s)]["jobs"] = 150.0 + s % 2
    assert lever_effects.moves_development(results, "median", "x", seeds)
