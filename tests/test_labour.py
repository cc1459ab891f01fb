"""Workers as arrays and the labour-market processes (step 5, A4 and A5 flow counting)."""

from __future__ import annotations

import numpy as np
import pytest
from countysim.core.labour import (
    NO_EMPLOYER,
    URBAN,
    Workforce,
    rank_within_groups,
    weighted_sample,
)
from countysim.core.tables import Labour

F, L, U, M, S = (Labour.FARMING, Labour.LOCAL_WAGE, Labour.URBAN_JOB, Labour.MIGRANT,
                 Labour.SEEKING)


def make_workforce(home, state, employer=None, skill=None) -> Workforce:
    """A workforce from plain lists (``home`` -1 = urban)."""
    home = np.asarray(home)
    state = np.asarray(state)
    employer = (np.where(state == U, 0, NO_EMPLOYER) if employer is None
                else np.asarray(employer))
    skill = np.full(home.size, 0.5) if skill is None else np.asarray(skill)
    return Workforce(home, state, skill, employer)


# --------------------------------------------------------------------- weighted_sample


def test_weighted_sample_draws_distinct_indices():
    rng = np.random.default_rng(0)
    for k in (1, 5, 49):
        idx = weighted_sample(np.ones(50), k, rng)
        assert idx.size == k == np.unique(idx).size
        assert ((idx >= 0) & (idx < 50)).all()


def test_weighted_sample_edge_sizes():
    rng = np.random.default_rng(0)
    assert weighted_sample(np.ones(5), 0, rng).size == 0
    assert weighted_sample(np.ones(5), -3, rng).size == 0
    assert weighted_sample(np.ones(0), 3, rng).size == 0
    assert sorted(weighted_sample(np.ones(5), 5, rng)) == [0, 1, 2, 3, 4]
    assert sorted(weighted_sample(np.ones(5), 9, rng)) == [0, 1, 2, 3, 4]


def test_weighted_sample_takes_zero_weights_last():
    rng = np.random.default_rng(1)
    for _ in range(200):
        assert set(weighted_sample(np.array([0.0, 0.0, 1.0, 5.0, 1.0]), 3, rng)) == {2, 3, 4}


def test_weighted_sample_single_draw_is_proportional_to_weight():
    # With exponential keys, P(item i drawn first) = w_i / sum(w) exactly. With 20,000
    # draws the SE of each frequency is <= sqrt(0.25 / 20000) = 0.0035; 0.02 is > 5 SE,
    # so this fails only if the sampler is biased, never by chance (fixed seed anyway).
    rng = np.random.default_rng(2025)
    w = np.arange(1.0, 11.0)
    draws = np.array([weighted_sample(w, 1, rng)[0] for _ in range(20_000)])
    freq = np.bincount(draws, minlength=w.size) / draws.size
    np.testing.assert_allclose(freq, w / w.sum(), atol=0.02)


def test_weighted_sample_favours_weight_without_replacement():
    # Inclusion frequency of heavy items must exceed that of light ones (k = 2 of 4).
    # Expected: heavy ~0.99, light ~0.01 per draw; 2,000 draws leave no room for chance.
    rng = np.random.default_rng(7)
    w = np.array([1.0, 1.0, 50.0, 50.0])
    hits = np.zeros(4)
    for _ in range(2_000):
        hits[weighted_sample(w, 2, rng)] += 1
    assert hits.sum() == 4_000
    assert min(hits[2:]) > 10 * max(hits[:2])


# ------------------------------------------------------------------ rank_within_groups


def test_rank_within_groups_is_a_permutation_per_group():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 7, size=500)
    ranks = rank_within_groups(groups, rng)
    for g in range(7):
        r = ranks[groups == g]
        assert sorted(r) == list(range(r.size))


def test_rank_within_groups_is_random_and_reproducible():
    groups = np.zeros(100, dtype=np.int64)
    a = rank_within_groups(groups, np.random.default_rng(1))
    b = rank_within_groups(groups, np.random.default_rng(1))
    c = rank_within_groups(groups, np.random.default_rng(2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_rank_within_groups_empty():
    assert rank_within_groups(np.empty(0, dtype=np.int64), np.random.default_rng(0)).size == 0


# ----------------------------------------------------------------------------- create


def test_create_places_everyone_once():
    rng = np.random.default_rng(3)
    village_workforce = np.array([100, 250, 0, 40])
    shares = np.array([0.4, 0.1, 0.1, 0.3, 0.1])
    firm_employees = np.array([30, 5, 12])
    wf = Workforce.create(village_workforce, shares, 500, 0.05, firm_employees, rng)
    assert len(wf) == 390 + 500
    assert np.array_equal(np.bincount(wf.home[wf.rural], minlength=4), village_workforce)
    assert (wf.home[~wf.rural] == URBAN).sum() == 500
    urban_states = set(wf.state[~wf.rural].tolist())
    assert urban_states <= {U, S}
    assert wf.counts().sum() == len(wf)
    assert wf.village_counts(4).sum() == 390
    assert np.array_equal(wf.village_counts(4).sum(axis=1), village_workforce)
    # Urban-job holders have an employer, nobody else does; modelled firms are not overfilled.
    assert (wf.employer[wf.state == U] >= 0).all()
    assert (wf.employer[wf.state != U] == NO_EMPLOYER).all()
    employees = wf.employees(firm_employees.size + 1)
    assert employees.sum() == (wf.state == U).sum()
    assert (employees[:-1] <= firm_employees).all()
    assert ((wf.skill >= 0) & (wf.skill <= 1)).all()
    assert not wf.placed_ytd.any() and not wf.nonfarm_ytd.any() and not wf.coop_job.any()


# ------------------------------------------------------------------------------- move


def test_move_counts_an_a5_entrant_once_per_year():
    wf = make_workforce(home=[0, 0, 1, URBAN, 1], state=[F, S, F, S, L])
    everyone = np.arange(5)
    # Rural farmers and seekers entering non-farm income count; the urban seeker and the
    # rural worker already in local wage work do not.
    assert wf.move(everyone, L, month=0) == 3
    assert wf.move(everyone, F, month=1) == 0
    # Only worker 4 (in local wage work at first, now from farming) enters for the first
    # time; the other three were counted already this year.
    assert wf.move(everyone, M, month=2) == 1
    assert wf.move(everyone, S, month=3) == 0
    assert wf.move(everyone, U, month=4) == 0
    assert wf.nonfarm_ytd.sum() == 4
    assert not wf.nonfarm_ytd[3]  # urban residents are never in the A5 flow
    wf.start_year()
    assert not wf.nonfarm_ytd.any()
    wf.move(everyone, F, month=12)
    assert wf.move(everyone[:2], U, month=12) == 2  # a new year counts again


def test_move_between_nonfarm_states_is_not_an_entry():
    wf = make_workforce(home=[0, 0, 0], state=[L, U, M])
    assert wf.move(np.arange(3), M, month=0) == 0
    assert wf.move(np.arange(3), U, month=1) == 0


def test_move_updates_state_since_employer_and_coop_flag():
    wf = make_workforce(home=[0, 0, URBAN], state=[L, U, U], employer=[-1, 2, 3])
    wf.coop_job[0] = True
    wf.move(np.array([0, 1]), S, month=7)
    assert wf.state[:2].tolist() == [S, S]
    assert wf.since[:2].tolist() == [7, 7] and wf.since[2] == 0
    assert wf.employer.tolist() == [NO_EMPLOYER, NO_EMPLOYER, 3]
    assert not wf.coop_job.any()
    assert wf.move(np.empty(0, dtype=np.int64), U, month=8) == 0


def test_draw_uses_scalar_or_per_worker_probability():
    wf = make_workforce(home=[0] * 6, state=[F] * 6)
    rng = np.random.default_rng(0)
    mask = np.array([True, True, True, False, False, False])
    assert wf.draw(mask, 0.0, rng).size == 0
    assert wf.draw(mask, 1.0, rng).tolist() == [0, 1, 2]
    prob = np.array([1.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    assert wf.draw(mask, prob, rng).tolist() == [0, 2]
    assert wf.draw(np.zeros(6, dtype=bool), 1.0, rng).size == 0


# ------------------------------------------------------------------------- separation


def test_separation_rates_zero_and_one():
    wf = make_workforce(home=[URBAN] * 4 + [0] * 2, state=[U, U, S, U, U, F],
                        employer=[0, 1, -1, 2, 0, -1])
    rng = np.random.default_rng(0)
    assert wf.separate(0.0, rng, month=0) == 0
    assert (wf.state == U).sum() == 4
    assert wf.separate(1.0, rng, month=1) == 4
    assert (wf.state == U).sum() == 0
    assert (wf.state[:5] == S).all() and wf.state[5] == F
    assert (wf.employer == NO_EMPLOYER).all()


def test_separation_rate_is_respected_on_average():
    # 20,000 jobs at rate 0.1: SD of the count is sqrt(20000*0.1*0.9) = 42; allow 5 SD.
    wf = make_workforce(home=[URBAN] * 20_000, state=[U] * 20_000)
    n = wf.separate(0.1, np.random.default_rng(5), month=0)
    assert abs(n - 2_000) < 5 * 42


# --------------------------------------------------------------------------- matching


def _seekers(n_urban: int, n_rural: int, skill=None) -> Workforce:
    """A workforce of urban then rural seekers (rural ones live in village 0)."""
    return make_workforce(home=[URBAN] * n_urban + [0] * n_rural,
                          state=[S] * (n_urban + n_rural), skill=skill)


@pytest.mark.parametrize(("seekers", "vacancies"), [(5, [100, 100]), (300, [2, 3, 0, 1]),
                                                     (50, [10, 40])])
def test_matching_never_exceeds_seekers_or_vacancies(seekers, vacancies):
    wf = _seekers(seekers, 0)
    vac = np.array(vacancies)
    boost = np.ones(vac.size)
    # A huge efficiency asks for far more matches than possible.
    m, placed, entrants = wf.match(vac, boost, 50.0, 0.5, np.random.default_rng(0), month=0)
    assert m == min(seekers, vac.sum())
    assert placed == m and entrants == 0  # urban seekers are not A5 entrants
    hires = np.bincount(wf.employer[wf.state == U], minlength=vac.size)
    assert (hires <= vac).all(), "an employer hired more people than it had vacancies"
    assert (wf.state == U).sum() == m and (wf.state == S).sum() == seekers - m


def test_matching_without_seekers_or_vacancies_does_nothing():
    rng = np.random.default_rng(0)
    wf = _seekers(10, 0)
    assert wf.match(np.zeros(3, dtype=np.int64), np.ones(3), 1.0, 0.5, rng, 0) == (0, 0, 0)
    wf = make_workforce(home=[URBAN] * 3, state=[U, U, F])
    assert wf.match(np.array([5]), np.ones(1), 1.0, 0.5, rng, 0) == (0, 0, 0)


def test_matching_places_each_person_once_per_year_in_the_a4_flow():
    wf = _seekers(200, 100)
    rng = np.random.default_rng(4)
    vac = np.array([60, 60])
    m1, placed1, entrants1 = wf.match(vac, np.ones(2), 50.0, 0.5, rng, month=0)
    assert m1 == placed1 == 120
    # Rural seekers placed enter the A5 flow too, once.
    assert entrants1 == (wf.rural & (wf.state == U)).sum()
    wf.separate(1.0, rng, month=1)  # everyone placed loses the job again ...
    m2, placed2, entrants2 = wf.match(np.array([400, 400]), np.ones(2), 50.0, 0.5, rng, 1)
    assert m2 == 300  # ... and all 300 seekers are placed,
    assert placed2 == 300 - 120  # but the 120 already placed this year are not counted again
    assert wf.placed_ytd.sum() == 300
    assert entrants1 + entrants2 == 100 and wf.nonfarm_ytd.sum() == 100
    wf.start_year()
    wf.separate(1.0, rng, month=12)
    _, placed3, _ = wf.match(np.array([10]), np.ones(1), 50.0, 0.5, rng, month=12)
    assert placed3 == 10  # a new year counts again


def test_matching_boost_favours_visited_employers():
    # Two employers with equal vacancies; the boosted one should fill more of them.
    # Weighted sampling without replacement: with boost 5 vs 1 and 50 of 200 slots
    # filled, the boosted employer gets ~80% of hires; 20 replicates remove chance.
    hires = np.zeros(2)
    for seed in range(20):
        wf = _seekers(50, 0)
        wf.match(np.array([100, 100]), np.array([5.0, 1.0]), 50.0, 0.5,
                 np.random.default_rng(seed), 0)
        hires += np.bincount(wf.employer[wf.state == U], minlength=2)
    assert hires[0] > 2 * hires[1]


def test_matching_prefers_skilled_seekers():
    skill = np.r_[np.zeros(500), np.ones(500)]
    placed_skilled = 0
    for seed in range(10):
        wf = _seekers(1000, 0, skill=skill)
        wf.match(np.array([100]), np.ones(1), 50.0, 0.5, np.random.default_rng(seed), 0)
        placed_skilled += int((wf.state[500:] == U).sum())
    # Weights 0.5 vs 1.5: ~75% of 1,000 placements go to the skilled half.
    assert placed_skilled > 600


def test_matching_rises_with_efficiency():
    def matches(efficiency: float) -> int:
        total = 0
        for seed in range(10):
            wf = _seekers(2000, 0)
            total += wf.match(np.array([500, 500]), np.ones(2), efficiency, 0.5,
                              np.random.default_rng(seed), 0)[0]
        return total

    # Expected matches A * sqrt(2000 * 1000) = 1414 A per replicate: Poisson noise
    # (SD ~ sqrt(1414 * 0.1 * 10) = 38 for A = 0.1 over 10 replicates) is far below the gap.
    assert matches(0.05) < matches(0.1) < matches(0.3)


# ------------------------------------------------------------------------ hire_local


def test_hire_local_fills_jobs_per_village_from_farmers_and_seekers():
    # Village 0: 3 farmers, 1 seeker, 1 migrant; village 1: 2 farmers; village 2: 1 farmer.
    home = [0, 0, 0, 0, 0, 1, 1, 2, URBAN]
    state = [F, F, F, S, M, F, F, F, S]
    wf = make_workforce(home, state)
    entrants = wf.hire_local(np.array([2, 5, 0]), np.random.default_rng(0), month=3)
    held = np.bincount(wf.home[wf.coop_job], minlength=3)
    assert held.tolist() == [2, 2, 0]  # village 1 only has 2 people to hire
    assert entrants == 4
    assert (wf.state[wf.coop_job] == L).all()
    assert wf.state[4] == M and wf.state[8] == S  # migrant and urban seeker untouched
    assert (wf.since[wf.coop_job] == 3).all()


def test_hire_local_sheds_coop_jobs_per_village():
    wf = make_workforce([0, 0, 0, 1, 1], [F] * 5)
    wf.hire_local(np.array([3, 2]), np.random.default_rng(0), month=0)
    assert wf.coop_job.sum() == 5
    entrants = wf.hire_local(np.array([-2, 0]), np.random.default_rng(1), month=1)
    assert entrants == 0
    assert np.bincount(wf.home[wf.coop_job], minlength=2).tolist() == [1, 2]
    assert (wf.state[~wf.coop_job] == F).all()
    wf.hire_local(np.array([-5, -5]), np.random.default_rng(2), month=2)  # more than held
    assert not wf.coop_job.any() and (wf.state == F).all()


def test_hire_local_ignores_non_coop_local_wage_work():
    wf = make_workforce([0, 0, 0], [L, L, F])  # two seasonal workers, one farmer
    wf.hire_local(np.array([-2]), np.random.default_rng(0), month=0)
    assert wf.state.tolist() == [L, L, F]  # shedding touches only cooperative jobs
    wf.hire_local(np.array([2]), np.random.default_rng(0), month=0)
    assert wf.coop_job.tolist() == [False, False, True]  # only the farmer was free


def test_hire_local_rehire_in_the_same_year_is_not_a_new_entrant():
    wf = make_workforce([0, 0], [F, F])
    assert wf.hire_local(np.array([2]), np.random.default_rng(0), 0) == 2
    wf.hire_local(np.array([-2]), np.random.default_rng(0), 1)
    assert wf.hire_local(np.array([2]), np.random.default_rng(0), 2) == 0
