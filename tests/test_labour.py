"""Workers as arrays and the labour-market processes (step 5, A4 and A5 flow counting)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_workforce_consistent, create_test_model
from countysim.core.labour import (
    NO_EMPLOYER,
    RESERVE,
    URBAN,
    Workforce,
    rank_within_groups,
    sample_share,
    weighted_sample,
)
from countysim.core.tables import Labour

F, L, U, M, S = (Labour.FARMING, Labour.LOCAL_WAGE, Labour.URBAN_JOB, Labour.MIGRANT,
                 Labour.SEEKING)
N_EMPLOYERS = 4


def make_workforce(home, state, employer=None, skill=None, active=None) -> Workforce:
    """A workforce from plain lists (``home`` -1 = urban) with :data:`N_EMPLOYERS`.

    Urban-job holders work for employer 0 unless ``employer`` is given; rows from
    ``active`` on are the reserve (their ``state`` is ignored).
    """
    home = np.asarray(home)
    state = np.asarray(state)
    employer = (np.where(state == U, 0, NO_EMPLOYER) if employer is None
                else np.asarray(employer))
    if active is not None:
        employer = np.where(np.arange(home.size) < active, employer, NO_EMPLOYER)
    skill = np.full(home.size, 0.5) if skill is None else np.asarray(skill)
    return Workforce(home, state, skill, employer, N_EMPLOYERS, active=active)


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


# -------------------------------------------------------------------------- sample_share


def test_sample_share_edge_probabilities_and_sizes():
    rng = np.random.default_rng(0)
    idx = np.array([3, 10, 11, 40])
    assert sample_share(idx, 0.0, rng).size == 0
    assert sample_share(idx, -0.5, rng).size == 0
    assert sample_share(idx, 1.0, rng).tolist() == idx.tolist()
    assert sample_share(idx, 2.0, rng).tolist() == idx.tolist()
    empty = np.empty(0, dtype=np.int64)
    assert sample_share(empty, 0.5, rng).size == 0
    assert sample_share(idx, 0.5, rng).dtype == idx.dtype


def test_sample_share_draws_distinct_members_of_idx():
    rng = np.random.default_rng(1)
    idx = np.arange(0, 300, 3)
    for _ in range(50):
        got = sample_share(idx, 0.4, rng)
        assert np.unique(got).size == got.size
        assert np.isin(got, idx).all()


def test_sample_share_includes_each_item_with_the_given_probability():
    # 20,000 replicates: each item's inclusion frequency has SE sqrt(0.3 * 0.7 / 20000)
    # = 0.0032, so atol 0.02 is > 6 SE; the mean count has SE sqrt(10 * 0.21 / 20000).
    rng = np.random.default_rng(2025)
    idx = np.arange(10) * 7 + 3
    hits = np.zeros(idx.size)
    sizes = []
    for _ in range(20_000):
        got = sample_share(idx, 0.3, rng)
        hits[(got - 3) // 7] += 1
        sizes.append(got.size)
    np.testing.assert_allclose(hits / 20_000, 0.3, atol=0.02)
    assert np.mean(sizes) == pytest.approx(3.0, abs=0.05)


# ------------------------------------------------------------------- settled workforce


def test_the_derived_workforce_places_everyone_once():
    model = create_test_model(spinup_months=0)
    wf, district = model.workforce, model.district
    village_lf = district.villages["workforce"].to_numpy()
    active = wf.state != RESERVE
    assert len(wf) == wf.active == village_lf.sum() + district.urban_labour_force
    assert active[: wf.active].all() and not active[wf.active:].any(), "reserve rows first"
    assert np.array_equal(np.bincount(wf.home[active & wf.rural], minlength=village_lf.size),
                          village_lf)
    assert (active & ~wf.rural).sum() == district.urban_labour_force
    assert set(wf.state[active & ~wf.rural].tolist()) <= {U, S}
    # Reserve rows come from every home, for the trend's entrants up to the last month.
    assert np.isin(np.arange(-1, village_lf.size), wf.home[~active]).all()
    assert_workforce_consistent(wf)
    # Modelled firms are filled up to their size first; labour demand adds the vacancy stock
    # and makes up for the drag of the open problems a firm is *expected* to have (L5):
    # the same for every firm, whatever its own starting draw.
    sizes = district.firms["employees"].to_numpy()
    assert (wf.employees[:-1] <= sizes).all()
    expected = model.problems.open_by_firm(len(model.firm_list)).mean()
    assert model.firm_table.expected_open == pytest.approx(expected)
    drag = 1 + model.spec.problem_productivity_penalty * expected
    np.testing.assert_allclose(model.firm_table.base_demand / drag,
                               wf.employees[:-1] * (1 + model.spec.vacancy_share))
    assert ((wf.skill >= 0) & (wf.skill <= 1)).all()
    assert not wf.placed_ytd.any() and not wf.nonfarm_ytd.any() and not wf.coop_job.any()


def expected_seeking_share(p) -> float:
    """Urban unemployment at which the flows balance: (s + r + g) / (s + r + f)."""
    s, r, g = p.separation_rate, p.retirement_rate / 12, p.population_growth / 12
    return (s + r + g) / (s + r + p.job_finding_rate)


def test_the_derived_start_has_the_flow_balance_unemployment():
    # The seeking share is an outcome of the flows, not an input. 5,500 urban workers: the
    # share of seekers (~0.05) has SD sqrt(0.05 * 0.95 / 5500) = 0.003 per seed; the mean
    # of 4 seeds has SD 0.0015, and 0.006 is 4 SD.
    rates = []
    for seed in range(4):
        wf = create_test_model(seed=seed, spinup_months=0).workforce
        urban = (wf.state != RESERVE) & ~wf.rural
        rates.append(((wf.state == S) & urban).sum() / urban.sum())
    assert np.mean(rates) == pytest.approx(expected_seeking_share(create_test_model().spec),
                                           abs=0.006)
    # ... and it moves with the job-finding rate: half the rate, about twice the share.
    slower = create_test_model(seed=0, spinup_months=0, job_finding_rate=0.025).workforce
    urban = (slower.state != RESERVE) & ~slower.rural
    assert ((slower.state == S) & urban).sum() / urban.sum() > 1.6 * np.mean(rates)


def test_matching_efficiency_gives_the_job_finding_rate():
    # A is derived so that A U^a V^(1-a) = f U with V the vacancy stock (a share of jobs),
    # U the seekers plus farmers at their search intensity, and f = job_finding_rate.
    model = create_test_model(spinup_months=0)
    p, wf = model.spec, model.workforce
    f = p.job_finding_rate
    seekers = (wf.state == S).sum() + p.farmer_search * ((wf.state == F) & wf.rural).sum()
    vacancies = p.vacancy_share * (wf.state == U).sum()
    a = p.matching_elasticity
    matches = model.matching_efficiency * seekers ** a * vacancies ** (1 - a)
    assert matches == pytest.approx(f * seekers, rel=1e-9)
    faster = create_test_model(spinup_months=0, job_finding_rate=2 * f)
    assert faster.matching_efficiency > model.matching_efficiency


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
    assert wf.move(everyone, L, month=4) == 0  # from seeking, but counted already
    assert wf.nonfarm_ytd.sum() == wf.nonfarm_count() == 4
    assert not wf.nonfarm_ytd[3]  # urban residents are never in the A5 flow
    wf.start_year()
    assert not wf.nonfarm_ytd.any() and wf.nonfarm_count() == 0
    wf.move(everyone, F, month=12)
    assert wf.move(everyone[:2], M, month=12) == 2  # a new year counts again


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


# ----------------------------------------------------------------------------- renew


def _renewing(n_active: int = 100, n_reserve: int = 10) -> Workforce:
    """Urban job holders (employer 1) and rural farmers, then reserve rows of both."""
    home = np.r_[np.full(n_active // 2, URBAN), np.zeros(n_active - n_active // 2),
                 np.tile([URBAN, 0], n_reserve)[:n_reserve]].astype(np.int64)
    state = np.where(home == URBAN, U, F)
    employer = np.where(state == U, 1, NO_EMPLOYER)
    return make_workforce(home, state, employer=employer, active=n_active)


def test_renew_without_retirement_or_growth_changes_nothing():
    wf = _renewing()
    state = wf.state.copy()
    assert wf.renew(0.0, 0.0, np.random.default_rng(0), month=3) == (0, 0)
    assert np.array_equal(wf.state, state) and wf.active == 100 and wf.next_row == 100


def test_renew_turns_retirees_into_young_seekers_at_home():
    wf = _renewing()
    home = wf.home.copy()
    wf.placed_ytd[:100] = True
    retired, net = wf.renew(1.0, 0.0, np.random.default_rng(0), month=5)
    assert (retired, net) == (100, 0)
    assert (wf.state[:100] == S).all() and (wf.state[100:] == RESERVE).all()
    assert np.array_equal(wf.home, home), "an entrant took another home"
    assert wf.employees.sum() == 0 and (wf.employer == NO_EMPLOYER).all()
    assert (wf.since[:100] == 5).all() and not wf.placed_ytd.any()
    assert not np.allclose(wf.skill[:100], 0.5), "entrants keep the retirees' skill"
    assert_workforce_consistent(wf)


def test_renew_keeps_retirees_in_this_years_flows():
    # A person placed (A4) or newly in non-farm income (A5) this year still counts after
    # retiring, although the row is now a young entrant with the flags cleared.
    wf = make_workforce([URBAN, 0, 0, 1], [S, F, F, F])
    rng = np.random.default_rng(0)
    wf.match(np.array([0, 5, 0, 0]), np.ones(N_EMPLOYERS), 50.0, 0.5, rng, month=0)
    wf.move(np.array([2, 3]), M, month=0)
    assert (wf.placed_count(), wf.nonfarm_count()) == (1, 2)
    wf.renew(1.0, 0.0, rng, month=1)
    assert not wf.placed_ytd.any() and not wf.nonfarm_ytd.any()
    assert (wf.placed_count(), wf.nonfarm_count()) == (1, 2)
    wf.start_year()
    assert (wf.placed_count(), wf.nonfarm_count()) == (0, 0)


def test_renew_adds_trend_entrants_from_the_reserve():
    wf = _renewing(n_active=100, n_reserve=10)
    retired, net = wf.renew(0.0, 0.05, np.random.default_rng(0), month=2)  # 5 exactly
    assert (retired, net) == (0, 5)
    assert wf.active == 105 and wf.next_row == 105
    assert (wf.state[100:105] == S).all() and (wf.state[105:] == RESERVE).all()
    assert_workforce_consistent(wf)
    # Growth beyond the reserve takes what is left.
    assert wf.renew(0.0, 1.0, np.random.default_rng(1), month=3) == (0, 5)
    assert wf.active == 110 and (wf.state != RESERVE).all()


def test_renew_with_a_shrinking_labour_force_leaves_retirees_unreplaced():
    wf = _renewing(n_active=100, n_reserve=0)
    retired, net = wf.renew(1.0, -0.05, np.random.default_rng(0), month=2)
    assert (retired, net) == (100, -5)
    assert wf.active == 95 and (wf.state == RESERVE).sum() == 5
    assert_workforce_consistent(wf)
    # Without retirements nobody can leave: the fall waits for retirees.
    assert wf.renew(0.0, -0.05, np.random.default_rng(0), month=3) == (0, 0)


def test_renew_retires_at_the_rate_on_average():
    # 20,000 workers at 1 %: the count is Binomial with SD sqrt(200 * 0.99) = 14; 5 SD.
    wf = make_workforce([URBAN] * 20_000, [S] * 20_000)
    retired, _ = wf.renew(0.01, 0.0, np.random.default_rng(9), month=0)
    assert abs(retired - 200) < 5 * 14


def test_incremental_counts_match_a_recount_after_random_moves():
    # cells (by home and state) and employees are updated by every move; after a long
    # random sequence of every kind of transition they must equal a recount.
    rng = np.random.default_rng(42)
    n, n_reserve = 600, 60
    home = rng.integers(-1, 5, n + n_reserve)
    state = np.where(home == URBAN, rng.choice([U, S], n + n_reserve),
                     rng.choice([F, L, M, S], n + n_reserve))
    employer = np.where(state == U, rng.integers(0, N_EMPLOYERS, n + n_reserve), NO_EMPLOYER)
    wf = make_workforce(home, state, employer=employer, active=n)
    assert_workforce_consistent(wf)
    for month in range(40):
        active = np.flatnonzero(wf.state != RESERVE)
        rural = active[wf.rural[active] & (wf.state[active] != U)]
        wf.move(rng.choice(rural, 20, replace=False), Labour(rng.choice([F, L, M, S])), month)
        wf.separate(0.05, rng, month)
        wf.match(rng.integers(0, 6, N_EMPLOYERS), np.ones(N_EMPLOYERS), 0.5, 0.5, rng, month)
        wf.hire_local(rng.integers(-3, 4, 5), rng, month)
        wf.renew(0.02, 0.002, rng, month)
        assert_workforce_consistent(wf)
    assert wf.active > n, "the trend added no entrant"


def test_rural_scans_find_what_a_whole_scan_finds():
    # Workforce.rural_where skips the urban block and unused reserve rows, and
    # rows_of_villages reads a village's rows from its first layout: both rely on no row
    # ever becoming rural again. After a year of settling, entrants and moves, each must
    # still give exactly the rows a scan of every row gives.
    model = create_test_model(settle_rate=0.5)
    for _ in range(12):
        model.step()
    wf = model.workforce
    assert wf.settled.any()  # rows have left the villages this year
    for state in (Labour.FARMING, Labour.LOCAL_WAGE, Labour.MIGRANT, Labour.URBAN_JOB):
        found = wf.rural_where(lambda s, k=state: wf.rural[s] & (wf.state[s] == k))
        assert np.array_equal(found, np.flatnonzero(wf.rural & (wf.state == state)))
        assert np.array_equal(wf.indices(state, rural=True), found)
    villages = np.array([0, 2, 5])
    rows = wf.rows_of_villages(villages)
    assert np.all(np.diff(rows) > 0)
    live = rows[wf.rural[rows]]
    assert np.array_equal(live, np.flatnonzero(wf.rural & np.isin(wf.home, villages)))
