"""Cadres (steps 3 and 7): effort, learning, mentoring and the 五比五看 evaluation."""

from __future__ import annotations

from collections import Counter

import countysim.core.county
import numpy as np
import pytest
from conftest import create_test_model, run_test_model
from countysim.core.cadres import Cadre, evaluate
from countysim.core.problems import Origin, Status
from countysim.core.tables import RECRUIT_PROBATION_MONTHS


def stepped_model(months: int = 2, **overrides):
    """A small model stepped ``months`` times with no evaluation on the way."""
    model = create_test_model(evaluation_interval=12, **overrides)
    for _ in range(months):
        model.step()
    return model


def pool_of(model) -> list[Cadre]:
    """The evaluated pool, in model order."""
    return [c for c in model.cadres if c.evaluated]


# ------------------------------------------------------------------- effort, learning


def test_effort_is_the_front_line_share_without_results_based_evaluation():
    model = stepped_model(1, frontline_share=0.3, evaluation_strictness=0.0)
    assert all(c.effort == pytest.approx(0.3) for c in model.cadres)


def test_strict_evaluation_raises_effort_up_to_full_time():
    model = stepped_model(1, frontline_share=0.3, evaluation_strictness=1.0,
                          effort_response=1.0)
    efforts = np.array([c.effort for c in model.cadres])
    responsibility = np.array([c.qualities[0] for c in model.cadres])
    assert (efforts >= 0.3).all() and (efforts <= 1.0).all()
    np.testing.assert_allclose(efforts, np.minimum(1.0, 0.3 * (1 + responsibility)))
    full = stepped_model(1, frontline_share=0.9, evaluation_strictness=1.0, effort_response=3.0)
    assert max(c.effort for c in full.cadres) == 1.0


def test_mentoring_speeds_capability_growth():
    model = create_test_model(capability_growth=0.05, mentor_boost=2.0)
    model.step()
    a = Cadre(model, np.full(5, 0.5), "township", 1.0)
    b = Cadre(model, np.full(5, 0.5), "township", 1.0)
    b.mentor_id = a.unique_id
    for _ in range(6):
        a.step()
        b.step()
    assert b.capability > a.capability > 0.5
    assert b.capability <= 1.0
    # Capability approaches 1 but never passes it.
    for _ in range(500):
        b.step()
    assert 0.99 < b.capability <= 1.0


def test_mentor_pairs_and_recruits_are_matched():
    model = create_test_model(evaluated_cadres=40, mentor_pairs=6, recruits=5)
    cadres = list(model.cadres)
    recruits = [c for c in cadres if not c.evaluated]
    assert len(cadres) == 45 and len(recruits) == 5
    mentees = [c for c in cadres if c.mentor_id >= 0]
    assert len(mentees) == 6 + 5 and all(r.mentor_id >= 0 for r in recruits)
    mentors = [m.mentor_id for m in mentees]
    assert len(set(mentors)) == len(mentors), "a mentor has two mentees"
    assert not set(mentors) & {c.unique_id for c in mentees}, "a mentee mentors"
    # Mentees in the pool are the least experienced cadres.
    pool = [c for c in cadres if c.evaluated]
    pool_mentees = [c for c in pool if c.mentor_id >= 0]
    others = [c for c in pool if c.mentor_id < 0]
    assert max(c.tenure for c in pool_mentees) <= min(c.tenure for c in others)


def test_recruits_join_the_evaluated_pool_after_probation():
    model = create_test_model(recruits=4, evaluation_interval=12)
    recruits = [c for c in model.cadres if not c.evaluated]
    assert len(recruits) == 4
    for _ in range(RECRUIT_PROBATION_MONTHS):
        model.step()
    assert not any(c.evaluated for c in recruits)
    model.step()
    assert all(c.evaluated for c in recruits)


def test_no_integrity_breaches_at_zero_rate():
    model = stepped_model(12, integrity_failure_rate=0.0)
    assert not any(c.breach for c in model.cadres)


# ------------------------------------------------------------------------- evaluate


def test_promotions_are_limited_by_open_leading_posts():
    for posts in (0, 1, 3):
        model = stepped_model(promotion_score_min=-3.0, removal_score_max=-5.0)
        model.leading_posts = posts
        promoted, _ = evaluate(model, pool_of(model))
        assert len(promoted) == posts  # 60 candidates above -3 sd fill every post
        assert model.leading_posts == 0
        assert model.outcomes_ytd[0] == posts


def test_promotions_need_a_score_above_the_threshold():
    model = stepped_model(promotion_score_min=0.5)
    model.leading_posts = 1_000
    pool = pool_of(model)
    promoted, removed = evaluate(model, pool)
    assert model.leading_posts == 1_000 - len(promoted)
    assert len(promoted) < len(pool)
    average = {c.unique_id: c.score_sum / c.score_count for c in pool}
    assert all(average[c.unique_id] >= 0.5 for c in promoted)
    # Promotion club: nobody left behind has a better average than someone promoted.
    left = [average[c.unique_id] for c in pool
            if c not in promoted and c not in removed and c.outcome_year != model.year]
    if promoted and left:
        assert min(average[c.unique_id] for c in promoted) >= max(
            (a for a in left if a >= 0.5), default=-np.inf)


def test_integrity_checks_off_means_no_integrity_removals():
    model = stepped_model(integrity_checks=False, evaluation_strictness=0.0)
    pool = pool_of(model)
    for c in pool:
        c.breach = True
    model.leading_posts = 0
    _, removed = evaluate(model, pool)
    assert removed == [] and model.outcomes_ytd[2] == 0


def test_integrity_checks_on_remove_every_detected_breach():
    model = stepped_model(integrity_checks=True, evaluation_strictness=0.0,
                          integrity_failure_rate=0.0)
    pool = pool_of(model)
    breached = pool[::7]
    for c in breached:
        c.breach = True
    model.leading_posts = 0
    _, removed = evaluate(model, pool)
    assert set(removed) == set(breached)


def test_seniority_evaluation_removes_nobody_for_score():
    # evaluation_strictness = 0: promotion by seniority only, no removal for low scores.
    model = stepped_model(evaluation_strictness=0.0, integrity_checks=False,
                          removal_score_max=0.0)
    model.leading_posts = 0
    _, removed = evaluate(model, pool_of(model))
    assert removed == []


def test_at_most_one_outcome_per_cadre_per_year_within_evaluate():
    model = stepped_model(advance_rate=1.0, advance_min_tenure=0.0, removal_score_max=-0.8,
                          promotion_score_min=-0.5)
    pool = pool_of(model)
    n_pool = len(pool)
    outcomes = Counter()
    for _ in range(4):  # four evaluations in the same calendar year
        model.leading_posts = 5
        before = {c.unique_id: c.outcome_year for c in pool}
        promoted, removed = evaluate(model, pool)
        for c in pool:
            if c.outcome_year == model.year and before[c.unique_id] != model.year:
                outcomes[c.unique_id] += 1
        assert all(before[c.unique_id] != model.year for c in promoted + removed)
        pool = [c for c in pool if c not in promoted and c not in removed]
    assert outcomes and max(outcomes.values()) == 1
    assert sum(model.outcomes_ytd[:3]) == len(outcomes)
    # Each cadre is counted once as evaluated, however many evaluations it had.
    assert model.outcomes_ytd[3] == n_pool


def test_empty_pool():
    model = stepped_model()
    assert evaluate(model, []) == ([], [])


# ---------------------------------------------------------------- through the model


def test_at_most_one_outcome_per_cadre_per_year_over_two_years(monkeypatch):
    """Track every evaluation of a run with monthly evaluations and generous rates."""
    seen: Counter = Counter()
    original = countysim.core.county.evaluate

    def tracking(model, pool):
        year = model.year
        before = {c.unique_id: c.outcome_year for c in pool}
        promoted, removed = original(model, pool)
        for c in pool:
            if c.outcome_year == year and before[c.unique_id] != year:
                seen[(year, c.unique_id)] += 1
        for c in promoted + removed:
            assert before[c.unique_id] != year, "second outcome in a year"
        return promoted, removed

    monkeypatch.setattr(countysim.core.county, "evaluate", tracking)
    _, ds = run_test_model(months=24, evaluation_interval=1, advance_rate=0.5,
                           advance_min_tenure=0.0, promotion_rate=0.05,
                           removal_score_max=-1.0, integrity_failure_rate=0.2)
    assert seen and max(seen.values()) == 1
    for year in (2025, 2026):
        n = sum(1 for (y, _) in seen if y == year)
        dec = ds.sel(time=f"{year}-12-01")
        assert n == int(dec["cadres_promoted_ytd"] + dec["cadres_advanced_ytd"]
                        + dec["cadres_removed_ytd"])


def test_promotions_never_exceed_leading_posts_opened():
    # Leading posts accumulate monthly; promotions can only use posts already open.
    opened, promoted = 0, 0
    model = create_test_model(promotion_rate=0.02, promotion_score_min=-3.0,
                              removal_score_max=-4.0, evaluation_interval=3)
    for _ in range(12):
        posts_before = model.leading_posts
        outcomes_before = int(model.outcomes_ytd[0])
        model.step()
        used = int(model.outcomes_ytd[0]) - outcomes_before
        opened_now = model.leading_posts - posts_before + used
        assert opened_now >= 0 and used <= posts_before + opened_now
        opened += opened_now
        promoted += used
    assert promoted <= opened
    assert model.leading_posts == opened - promoted


def test_departed_cadres_are_replaced_and_their_problems_released():
    model, ds = run_test_model(months=12, evaluation_interval=1, removal_score_max=-1.0,
                               promotion_rate=0.05, promotion_score_min=0.0)
    assert ds["cadres_promoted_ytd"].values[-1] + ds["cadres_removed_ytd"].values[-1] > 0
    evaluated = [c for c in model.cadres if c.evaluated]
    assert len(evaluated) == model.p.evaluated_cadres  # recruits still on probation
    ids = {c.unique_id for c in model.cadres}
    q = model.problems
    assigned = (q.status == Status.ASSIGNED) & (q.origin != Origin.LEGACY)
    assert set(q.cadre[assigned].tolist()) <= ids, "a problem is assigned to a departed cadre"


def test_legacy_cadres_keep_their_number():
    model, _ = run_test_model(months=12, evaluation_interval=1, removal_score_max=-1.0,
                              legacy_cadre_share=0.2)
    assert sum(c.on_legacy for c in model.cadres) == round(0.2 * model.p.evaluated_cadres)
