"""Village duties (包村): every routine township cadre covers villages, and a village's
problems are collected by its own cadres, as fast as the time they give it."""

import numpy as np
import pytest
from conftest import create_test_model
from countysim.core.problems import Origin, Status


def routine_township(model) -> set[int]:
    return {c.unique_id for c in model.cadres if c.post == "township" and not c.on_legacy}


def duty_sets(model) -> list[set[int]]:
    """Each village's responsible cadres."""
    return [set(model.duty_cadre[model.duty_village == v].tolist())
            for v in range(len(model.village_list))]


def open_village_problems(model, village: int | None = None) -> int:
    q = model.problems
    mask = (q.origin == Origin.VILLAGE.value) & (q.status == Status.OPEN.value)
    if village is not None:
        mask &= q.source == village
    return int(mask.sum())


@pytest.mark.parametrize("seed", [0, 1])
def test_every_village_has_cadres_and_every_routine_township_cadre_covers_one(seed):
    model = create_test_model(seed=seed)
    cadres = routine_township(model)
    assert len(cadres) > len(model.village_list), "the small district has more cadres"
    duties = duty_sets(model)
    assert all(duties), "every village has a responsible cadre"
    assert set().union(*duties) == cadres
    # More cadres than villages: each covers exactly one; villages have 1-2 (round-robin).
    assert model.duty_cadre.size == len(cadres)
    sizes = [len(d) for d in duties]
    assert max(sizes) - min(sizes) <= 1
    # The lead is one of the village's cadres (the first dealt).
    assert all(lead in d for lead, d in zip(model.village_lead.tolist(), duties, strict=True))


def test_with_fewer_cadres_than_villages_one_cadre_covers_several():
    model = create_test_model(evaluated_cadres=20)
    cadres = routine_township(model)
    assert 0 < len(cadres) < len(model.village_list)
    duties = duty_sets(model)
    assert all(len(d) == 1 for d in duties)
    covered = np.unique(model.duty_cadre, return_counts=True)[1]
    assert set(model.duty_cadre.tolist()) == cadres
    assert covered.max() - covered.min() <= 1 and covered.max() > 1


def test_village_problems_are_owned_by_their_villages_cadres_through_refills():
    # 18 months: dozens of posts refilled (departures, promotions, removals), each
    # newcomer taking over its predecessor's villages and casebook.
    model = create_test_model(seed=3)
    first = set(model.duty_cadre.tolist())
    for _ in range(18):
        model.step()
    assert set(model.duty_cadre.tolist()) != first, "some posts were refilled"
    assert set(model.duty_cadre.tolist()) <= {c.unique_id for c in model.cadres}
    q = model.problems
    held = np.flatnonzero((q.origin == Origin.VILLAGE.value) & (q.status == Status.ASSIGNED.value))
    assert (q.raised[held] >= 0).sum() > 50, "problems collected in the run"
    duties = duty_sets(model)
    owned = [q.cadre[i] in duties[q.source[i]] for i in held]
    assert all(owned), f"{owned.count(False)} of {held.size} held by other villages' cadres"


def test_a_village_without_cadres_in_post_falls_back_to_the_routine_pool():
    # Its duties name a cadre no longer in post: its problems are still collected, at
    # the pool's mean effort, by routine cadres of any post.
    model = create_test_model(seed=2, problem_rate_household=0.02)
    target = int(np.argmax(model.district.villages["households"].to_numpy()))
    gone = max(c.unique_id for c in model.cadres) + 1000
    model.duty_cadre[model.duty_village == target] = gone
    q = model.problems
    waiting = np.flatnonzero((q.origin == Origin.VILLAGE.value) & (q.source == target)
                             & (q.status == Status.OPEN.value))
    # Those in post before the month (an owner may leave after collecting) and after.
    routine = {c.unique_id for c in model.cadres if not c.on_legacy}
    model.step()
    got = waiting[q.status[waiting] != Status.OPEN.value]
    assert got.size, "some of the village's problems were collected"
    routine |= {c.unique_id for c in model.cadres if not c.on_legacy}
    assert set(q.cadre[got].tolist()) <= routine | {-1}


def test_a_village_given_more_front_line_time_has_its_problems_collected_sooner():
    # Paired runs: in the second, ten department cadres also cover the largest village.
    # The same problems are raised, on the same clocks, so that village's open problems
    # can only be fewer, month by month (unless collection ignores who covers it).
    def run(extra: bool) -> tuple[np.ndarray, np.ndarray]:
        model = create_test_model(seed=5, problem_rate_household=0.02)
        target = int(np.argmax(model.district.villages["households"].to_numpy()))
        if extra:
            helpers = [c.unique_id for c in model.cadres
                       if c.post == "department" and not c.on_legacy][:10]
            village = np.r_[model.duty_village, np.full(len(helpers), target)]
            cadre = np.r_[model.duty_cadre, helpers]
            order = np.argsort(village, kind="stable")
            model.duty_village, model.duty_cadre = village[order], cadre[order]
        here, others = [], []
        for _ in range(6):
            model.step()
            here.append(open_village_problems(model, target))
            others.append(open_village_problems(model) - here[-1])
        return np.array(here), np.array(others)

    base, base_others = run(False)
    helped, helped_others = run(True)
    assert base.sum() > 10, "the village has open problems to collect"
    assert (helped <= base).all() and helped.sum() < 0.7 * base.sum()
    # The other villages keep their own cadres' time (within the months' noise).
    assert abs(helped_others.sum() - base_others.sum()) <= 0.25 * base_others.sum()


def test_more_cadres_in_the_pool_leave_fewer_village_problems_open():
    # evaluated_cadres doubled (A10): ~2.8 instead of ~1.7 routine township cadres per
    # village (the legacy and department shares are drawn), so each village gets ~1.7x
    # the front-line time. At ~0.22 effort x collect_rate 2 a month the chance to be
    # collected rises from ~0.5 to ~0.7 and the open stock, (1 - c) / c months of
    # inflow, falls by about half (the runs give ~8 and ~2 open problems). A month's
    # count is ~Poisson(8) (sd ~35 % of it); over 12 months and 4 seeds the paired fall
    # is many times its noise, so a fall of a third overall and in every seed leaves
    # room for the noise and for the pools' different efforts, and fails if collection
    # does not depend on how many cadres cover a village.
    def mean_open(seed: int, cadres: int) -> float:
        model = create_test_model(seed=seed, evaluated_cadres=cadres, problem_rate_household=0.01)
        counts = []
        for _ in range(12):
            model.step()
            counts.append(open_village_problems(model))
        return float(np.mean(counts))

    base = np.array([mean_open(s, 60) for s in range(4)])
    doubled = np.array([mean_open(s, 120) for s in range(4)])
    assert (doubled < base).all()
    assert doubled.sum() < (2 / 3) * base.sum()
