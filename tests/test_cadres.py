"""Cadres (steps 3 and 7): effort, learning, mentoring, turnover and the 五比五看 evaluation."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import countysim.core.county
import numpy as np
import pytest
from conftest import (
    assert_cadre_outcomes_add_up,
    create_test_model,
    levers_2024,
    run_test_model,
)
from countysim.core.cadres import Cadre, choose_effort, evaluate, mentor_cadres
from countysim.core.problems import Status
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


def effort_with(model, **levers) -> np.ndarray:
    """Effort every cadre of ``model`` would choose with some of this year's levers changed."""
    saved = model.p
    model.p = saved.replace(**levers)
    try:
        return choose_effort(model, list(model.cadres))
    finally:
        model.p = saved


# ----------------------------------------------------------------------- effort


def test_zero_strictness_gives_the_mandated_floor():
    model = stepped_model(1)
    for floor in (0.0, 0.3, 0.9):
        effort = effort_with(model, frontline_share=floor, evaluation_strictness=0.0)
        np.testing.assert_allclose(effort, floor)
    assert all(c.effort == pytest.approx(0.9) for c in model.cadres)  # set on the agents


def test_stricter_evaluation_raises_effort():
    model = stepped_model(1)
    efforts = [effort_with(model, evaluation_strictness=s) for s in (0.0, 0.5, 1.0)]
    for low, high in pairwise(efforts):
        assert (high >= low).all() and high.mean() > low.mean()
    floor = model.p.frontline_share
    assert (efforts[-1] >= floor).all() and (efforts[-1] <= 1.0).all()


def test_a_larger_results_weight_raises_effort():
    model = stepped_model(1)
    efforts = [effort_with(model, results_weight=w) for w in (0.1, 0.2, 0.5)]
    for low, high in pairwise(efforts):
        assert (high >= low).all() and high.mean() > low.mean()


def test_effort_is_capped_at_full_time():
    model = stepped_model(1)
    effort = effort_with(model, effort_response=3.0, results_weight=1.0,
                         frontline_share=0.5)
    assert effort.max() == 1.0 and effort.min() >= 0.5


def test_effort_peaks_near_the_promotion_cut_off():
    # The marginal reward is a normal density of the distance to the cut-off (and to the
    # removal line): a cadre at the cut-off works harder than one far above it.
    model = stepped_model(1)
    cadres = list(model.cadres)[:2]
    for c in cadres:
        c.qualities[0] = 0.8  # the same responsibility
        c.merit = 0.9  # far from the removal line
    cadres[0].standing = model.p.promotion_score_min
    cadres[1].standing = model.p.promotion_score_min + 3.0
    effort = choose_effort(model, cadres)
    assert effort[0] > effort[1] > model.p.frontline_share - 1e-12


# ------------------------------------------------------------------- learning, mentors


def test_mentoring_closes_part_of_the_gap_to_the_mentor():
    # L3: a mentee closes mentor_boost of the gap to its mentor's capability a year (a
    # twelfth a month), on top of on-the-job learning; never past the mentor.
    model = create_test_model(capability_growth=0.0, mentor_boost=0.6)
    model.step()
    mentor = Cadre(model, np.full(5, 0.9), "township", 1.0)
    mentee = Cadre(model, np.full(5, 0.5), "township", 1.0)
    peer = Cadre(model, np.full(5, 0.5), "township", 1.0)
    mentee.mentor_id = mentor.unique_id
    cadres = [mentor, mentee, peer]
    for _ in range(6):
        mentor_cadres(model, cadres)
        for c in cadres:
            c.step()
    # Six months at 0.05 of the gap each: 0.4 x (1 - 0.95^6) of it closed.
    assert mentee.capability == pytest.approx(0.9 - 0.4 * 0.95 ** 6)
    assert peer.capability == 0.5 and mentor.capability == 0.9
    for _ in range(500):
        mentor_cadres(model, cadres)
    assert mentee.capability <= mentor.capability
    # A mentee already as capable as its mentor gains nothing from it.
    strong = Cadre(model, np.full(5, 0.95), "township", 1.0)
    strong.mentor_id = mentor.unique_id
    mentor_cadres(model, [mentor, strong])
    assert strong.capability == 0.95


def test_mentor_pairs_are_formed_each_january():
    model = create_test_model(evaluated_cadres=40, mentor_pairs=6, recruits=5)
    model.step()  # January 2025: the programme's first pairs
    cadres = list(model.cadres)
    assert len(cadres) == 40, "recruits fill posts; they do not add cadres"
    mentees = [c for c in cadres if c.mentor_id >= 0 and c.evaluated]
    assert len(mentees) == 6
    mentors = [m.mentor_id for m in mentees]
    assert len(set(mentors)) == len(mentors), "a mentor has two mentees"
    assert not set(mentors) & {c.unique_id for c in mentees}, "a mentee mentors"
    pool = [c for c in cadres if c.evaluated]
    others = [c for c in pool if c.mentor_id < 0]
    assert max(c.tenure for c in mentees) <= min(c.tenure for c in others)
    # Mentors kept for this year's first recruits: capable, distinct from the pairs. Posts
    # turn over in January too, so some recruits have already taken theirs.
    mentored_recruits = [c.mentor_id for c in cadres if not c.evaluated and c.mentor_id >= 0]
    reserved = model.recruit_mentors + mentored_recruits
    assert len(reserved) == 5 and len(set(reserved)) == 5
    assert not set(reserved) & (set(mentors) | {c.unique_id for c in mentees})


def test_no_mentoring_before_the_programme():
    # The spin-up runs under the 2024 levers: no pairs, no mentored recruits.
    model = create_test_model(mentor_pairs=6, recruits=5)
    assert all(c.mentor_id == -1 for c in model.cadres)


def test_newcomers_get_the_reserved_mentors_and_serve_a_probation():
    model = create_test_model(recruits=3, cadre_exit_rate=0.0, evaluation_interval=12)
    model.step()
    reserved = list(model.recruit_mentors)
    leaving = list(model.cadres)[:4]
    model._refill(leaving)
    newcomers = [c for c in model.cadres if c.joined == model.month]
    assert len(newcomers) == 4 and len(model.cadres) == model.spec.evaluated_cadres
    assert sorted(c.mentor_id for c in newcomers if c.mentor_id >= 0) == sorted(reserved)
    assert not any(c.evaluated for c in newcomers)
    for _ in range(RECRUIT_PROBATION_MONTHS - 1):
        model.step()
    assert not any(c.evaluated for c in newcomers), "probation ended early"
    model.step()
    assert all(c.evaluated for c in newcomers), "probation did not end after a year"


def test_no_integrity_breaches_at_zero_rate():
    model = stepped_model(12, integrity_failure_rate=0.0)
    assert not any(c.breach for c in model.cadres)


# ------------------------------------------------------------------------- evaluate


def test_promotions_are_limited_by_vacant_leading_posts():
    for posts in (0, 1, 3):
        model = stepped_model(promotion_score_min=-3.0, removal_score_max=0.0)
        model.leading_vacancies = posts
        promoted, _ = evaluate(model, pool_of(model))
        assert len(promoted) == posts  # 60 candidates above -3 sd fill every post
        assert model.leading_vacancies == 0
        assert model.outcomes_ytd[0] == posts


def test_promotions_need_a_standing_above_the_threshold():
    model = stepped_model(promotion_score_min=0.5, removal_score_max=0.0)
    model.leading_vacancies = 1_000
    pool = pool_of(model)
    promoted, removed = evaluate(model, pool)
    assert 0 < len(promoted) < len(pool)
    assert model.leading_vacancies == 1_000 - len(promoted)
    assert all(c.standing >= 0.5 for c in promoted)
    # Promotion club: every free cadre with a standing above the bar was promoted.
    left = [c for c in pool if c not in promoted and c not in removed]
    assert all(c.standing < 0.5 for c in left if c.outcome_year != model.year)


def test_removal_is_an_absolute_standard_on_merit():
    # Merits of the small pool spread over ~0.34-0.68: bars below, inside and above.
    removed_counts = []
    for bar in (0.0, 0.4, 0.5, 1.0):
        # The bar is set after the spin-up, whose evaluations would apply it too.
        model = stepped_model(integrity_checks=False)
        model.p = model.p.replace(removal_score_max=bar)
        model.leading_vacancies = 0
        pool = pool_of(model)
        _, removed = evaluate(model, pool)
        # Removed exactly: the cadres whose (moving-average) merit is at or below the bar.
        assert {c.unique_id for c in removed} == {c.unique_id for c in pool if c.merit <= bar}
        removed_counts.append(len(removed))
    assert removed_counts[0] == 0 and removed_counts[-1] == len(pool)
    assert 0 < removed_counts[1] < removed_counts[2] < len(pool), removed_counts


def test_seniority_evaluation_removes_nobody_for_merit():
    # evaluation_strictness = 0: promotion by seniority only, no removal for low merit.
    model = stepped_model(evaluation_strictness=0.0, integrity_checks=False,
                          removal_score_max=1.0)
    model.leading_vacancies = 0
    _, removed = evaluate(model, pool_of(model))
    assert removed == []


def test_integrity_checks_off_means_no_integrity_removals():
    model = stepped_model(integrity_checks=False, evaluation_strictness=0.0)
    pool = pool_of(model)
    for c in pool:
        c.breach = True
    model.leading_vacancies = 0
    _, removed = evaluate(model, pool)
    assert removed == [] and model.outcomes_ytd[2] == 0


def test_integrity_checks_on_remove_every_detected_breach():
    model = stepped_model(integrity_checks=True, evaluation_strictness=0.0,
                          integrity_failure_rate=0.0)
    pool = pool_of(model)
    breached = pool[::7]
    for c in breached:
        c.breach = True
    model.leading_vacancies = 0
    _, removed = evaluate(model, pool)
    assert set(removed) == set(breached)


def test_at_most_one_outcome_per_cadre_per_year_within_evaluate():
    model = stepped_model(advance_rate=1.0, advance_min_tenure=0.0, removal_score_max=0.45,
                          promotion_score_min=-0.5)
    pool = pool_of(model)
    n_pool = len(pool)
    outcomes = Counter()
    for _ in range(4):  # four evaluations in the same calendar year
        model.leading_vacancies = 5
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
        if model.month >= 0:
            for c in pool:
                if c.outcome_year == year and before[c.unique_id] != year:
                    seen[(year, c.unique_id)] += 1
        for c in promoted + removed:
            assert before[c.unique_id] != year, "second outcome in a year"
        return promoted, removed

    monkeypatch.setattr(countysim.core.county, "evaluate", tracking)
    _, ds = run_test_model(months=24, evaluation_interval=1, advance_rate=0.5,
                           advance_min_tenure=0.0, removal_score_max=0.4,
                           integrity_failure_rate=0.2)
    assert seen and max(seen.values()) == 1
    for year in (2025, 2026):
        n = sum(1 for (y, _) in seen if y == year)
        dec = ds.sel(time=f"{year}-12-01")
        assert n == int(dec["cadres_promoted_ytd"] + dec["cadres_advanced_ytd"]
                        + dec["cadres_removed_ytd"])


def test_newcomers_are_not_evaluated_during_probation(monkeypatch):
    # Remove everybody at every evaluation: the newcomers who replace them must sit out
    # their probation year before they can be removed in turn.
    pools: list[tuple[int, list[int]]] = []
    original = countysim.core.county.evaluate

    def tracking(model, pool):
        pools.append((model.month, [c.joined for c in pool]))
        return original(model, pool)

    monkeypatch.setattr(countysim.core.county, "evaluate", tracking)
    _, ds = run_test_model(months=18, removal_score_max=1.0, evaluation_interval=3)
    for month, joined in pools:
        newcomers = [j for j in joined if j != -1]
        assert all(month - j >= RECRUIT_PROBATION_MONTHS for j in newcomers)
    # The 2025 pool goes at the first evaluation (bar some who left or were promoted).
    assert ds["cadres_removed_ytd"].values[11] >= 50, "the 2025 pool was not removed"


def test_leading_posts_fall_vacant_at_the_turnover_rate():
    # 120 posts x 0.2 a year = 2 a month. Over 24 months x 4 seeds the number opened is
    # Poisson with mean 192 and SD 13.9; 4 SD is 55.
    opened = 0
    for seed in range(4):
        model = create_test_model(seed=seed, leading_posts=120)
        for _ in range(24):
            before, promoted_before = model.leading_vacancies, int(model.outcomes_ytd[0])
            model.step()
            if model.calendar_month == 1:  # year-to-date counts restart in January
                promoted_before = 0
            promoted = int(model.outcomes_ytd[0]) - promoted_before
            opened += model.leading_vacancies - before + promoted
    assert abs(opened - 192) < 55


def test_promotions_never_exceed_leading_posts_vacant():
    model = create_test_model(promotion_score_min=-3.0, removal_score_max=0.0)
    for _ in range(12):
        before = model.leading_vacancies
        promoted_before = int(model.outcomes_ytd[0])
        model.step()
        if model.calendar_month == 1:  # year-to-date counts restart in January
            promoted_before = 0
        promoted = int(model.outcomes_ytd[0]) - promoted_before
        opened = model.leading_vacancies - before + promoted
        assert opened >= 0 and promoted <= before + opened
        assert model.leading_vacancies >= 0
    assert model.outcomes_ytd[0] > 0


def test_departed_cadres_are_replaced_and_their_cases_pass_to_the_newcomers():
    model = create_test_model(evaluation_interval=1, removal_score_max=0.45,
                              promotion_score_min=0.0, cadre_exit_rate=0.2)
    q = model.problems
    handed = 0
    for _ in range(12):
        before = {c.unique_id for c in model.cadres}
        held = np.flatnonzero((q.status == Status.ASSIGNED) & (q.cadre >= 0))
        owner = q.cadre[held].copy()
        model.step()
        after = {c.unique_id for c in model.cadres}
        assert len(after) == model.spec.evaluated_cadres  # every post filled
        # A departed cadre's cases that are still unresolved are held by a newcomer.
        moved = held[~np.isin(owner, list(after)) & (q.status[held] != Status.RESOLVED)]
        assert np.isin(q.cadre[moved], list(after - before)).all()
        assert (q.status[moved] == Status.ASSIGNED).all()
        handed += moved.size
    assert handed > 0
    ds = model.dataset()
    assert ds["cadres_promoted_ytd"].values[-1] + ds["cadres_removed_ytd"].values[-1] > 0


def test_a_newcomers_caseload_is_the_mean_of_its_months_in_post():
    # A one-year moving average started at zero would score a newcomer low on results for
    # a year; over its first months it is the plain mean of what it resolved.
    model = create_test_model(cadre_exit_rate=0.3)
    newcomers = {}
    for _ in range(8):
        model.step()
        for c in model.cadres:
            if 0 <= c.joined < model.month:  # joined after last month's resolutions
                newcomers.setdefault(c.unique_id, (c, []))[1].append(c.resolved_month)
    checked = 0
    for cadre, counts in newcomers.values():
        if cadre not in model.cadres:  # left again within the eight months
            continue
        assert cadre.months_in_post == min(len(counts), 12)
        assert cadre.resolved_avg == pytest.approx(np.mean(counts))
        checked += 1
    assert checked >= 5


def test_legacy_cadres_keep_their_number():
    model, _ = run_test_model(months=12, evaluation_interval=1, removal_score_max=0.45,
                              legacy_cadre_share=0.2, cadre_exit_rate=0.2)
    assert sum(c.on_legacy for c in model.cadres) == round(0.2 * model.spec.evaluated_cadres)


def test_outcomes_add_up_when_evaluated_cadres_depart():
    # A cadre evaluated this year with no outcome who then retires or transfers is still
    # one of the year's unchanged cadres (a fast exit rate makes it happen every year).
    for seed in range(3):
        _, ds = run_test_model(seed=seed, months=24, cadre_exit_rate=0.3)
        assert_cadre_outcomes_add_up(ds)


def test_initial_records_set_the_effort_the_run_settles_at():
    # The problem queues are derived at the effort the initial records give, so those
    # records must be the ones the run's own evaluations keep: a year of noisy scores in
    # moving averages, none yet for newcomers on probation. Scored once without noise they
    # set the effort 5-8 % low (full district and this one), and the queues then shrank
    # for years. 3 % is about three times the seed-to-seed sd of the ratio on these seeds.
    ratios = []
    for seed in range(3):
        start = create_test_model(seed=seed, spinup_months=0, **levers_2024())
        model, _ = run_test_model(seed=seed, months=24, **levers_2024())
        effort = np.mean([c.effort for c in model.cadres])
        ratios.append(np.mean([c.effort for c in start.cadres]) / effort)
    assert abs(np.mean(ratios) - 1.0) < 0.03, ratios


def test_quick_nanstd_and_skill_are_numpys_to_the_bit():
    # effort_of's spread and the front line's vectorised skill are the numbers np.nanstd
    # and the Cadre.skill property give, bit for bit (the runs' outputs depend on it).
    from countysim.core.cadres import _nanstd, quality_table, skill_of

    rng = np.random.default_rng(7)
    for _ in range(500):
        n = int(rng.integers(2, 2000))
        x = rng.normal(rng.uniform(-3, 3), rng.uniform(0.01, 5), n)
        x[rng.random(n) < rng.uniform(0, 0.5)] = np.nan
        if np.isfinite(x).sum() > 1:
            assert np.float64(_nanstd(x)).tobytes() == np.float64(np.nanstd(x)).tobytes()
    model = stepped_model(months=3)
    cadres = list(model.cadres)
    for c in cadres[::3]:
        c.breach = True
    assert skill_of(model, cadres, quality_table(cadres)).tolist() == [c.skill for c in cadres]
