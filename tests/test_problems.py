"""The problem queue: growth, counting, per-firm tallies, the casebook hand-over."""

from __future__ import annotations

import pickle

import numpy as np
from countysim.core.problems import NO_CADRE, Origin, ProblemQueue, Status


def test_queue_grows_and_keeps_its_rows():
    q = ProblemQueue(np.random.default_rng(0), capacity=2)
    q.add(Origin.VILLAGE, np.array([3, 4]), np.array([0.1, 0.2]), month=0)
    q.add(Origin.FIRM, np.arange(7), np.linspace(0, 1, 7), month=1)
    q.add(Origin.LEGACY, np.full(3, -1), np.ones(3), month=-1, status=Status.ASSIGNED,
          cadre=np.array([10, 11, 12]))
    assert len(q) == q.size == 12
    assert q.origin.tolist() == [0, 0] + [1] * 7 + [2] * 3
    assert q.source[:2].tolist() == [3, 4] and q.source[2:9].tolist() == list(range(7))
    np.testing.assert_allclose(q.difficulty[:2], [0.1, 0.2], rtol=1e-6)
    assert q.raised.tolist() == [0, 0] + [1] * 7 + [-1] * 3
    assert q.status.tolist() == [Status.OPEN] * 9 + [Status.ASSIGNED] * 3
    assert q.cadre.tolist() == [NO_CADRE] * 9 + [10, 11, 12]
    assert (q.resolved == -1).all()
    # Public views never show the spare capacity of the buffers.
    assert all(getattr(q, name).size == 12 for name in ProblemQueue._FIELDS)


def test_adding_nothing_changes_nothing():
    q = ProblemQueue(np.random.default_rng(0), capacity=0)
    q.add(Origin.FIRM, np.empty(0, dtype=np.int64), np.empty(0), month=0)
    assert len(q) == 0 and q.count(Status.OPEN) == 0
    assert q.open_by_firm(3).tolist() == [0, 0, 0]


def test_count_by_status_and_origin():
    q = ProblemQueue(np.random.default_rng(0))
    q.add(Origin.VILLAGE, np.zeros(4, dtype=int), np.zeros(4), 0)
    q.add(Origin.FIRM, np.zeros(2, dtype=int), np.zeros(2), 0)
    q.status[[0, 4]] = Status.RESOLVED
    assert q.count(Status.OPEN) == 4
    assert q.count(Status.RESOLVED) == 2
    assert q.count(Status.RESOLVED, Origin.FIRM) == 1
    assert q.count(Status.OPEN, Origin.LEGACY) == 0


def test_open_by_firm_counts_unresolved_firm_problems():
    q = ProblemQueue(np.random.default_rng(0))
    q.add(Origin.FIRM, np.array([0, 0, 2, 2, 2]), np.zeros(5), 0)
    q.add(Origin.VILLAGE, np.array([0, 1]), np.zeros(2), 0)  # villages are not firms
    q.status[0] = Status.RESOLVED
    q.status[2] = Status.ASSIGNED  # assigned but unresolved still weighs on the firm
    assert q.open_by_firm(4).tolist() == [1, 0, 3, 0]


def test_hand_over_passes_a_departing_cadres_unresolved_problems_to_its_successor():
    q = ProblemQueue(np.random.default_rng(0))
    q.add(Origin.FIRM, np.arange(3), np.zeros(3), 0, Status.ASSIGNED, np.array([7, 8, 7]))
    q.add(Origin.LEGACY, np.full(2, -1), np.ones(2), -1, Status.ASSIGNED, np.array([7, 9]))
    q.add(Origin.VILLAGE, np.array([0]), np.zeros(1), 0, Status.RESOLVED, 7)
    q.add(Origin.VILLAGE, np.array([1]), np.zeros(1), 0, Status.OPEN)
    q.hand_over(np.array([9, 7]), np.array([21, 20]))
    # Routine and legacy cases alike go with the post; resolved and open ones stay as they were.
    assert q.cadre.tolist() == [20, 8, 20, 20, 21, 7, NO_CADRE]
    assert q.status.tolist() == [Status.ASSIGNED] * 5 + [Status.RESOLVED, Status.OPEN]
    q.hand_over(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))  # no-op
    assert q.cadre.tolist() == [20, 8, 20, 20, 21, 7, NO_CADRE]


def test_queue_pickles_with_its_contents():
    q = ProblemQueue(np.random.default_rng(0), capacity=1)
    q.add(Origin.FIRM, np.arange(5), np.linspace(0, 1, 5), 2)
    again = pickle.loads(pickle.dumps(q))
    assert len(again) == 5
    for name in ProblemQueue._FIELDS:
        assert np.array_equal(getattr(again, name), getattr(q, name))


def test_clocks_resolve_at_the_monthly_chance():
    # Each month a problem met by hazard -log(1 - p) is resolved with chance p, as by a
    # fresh draw: after t months a share (1 - p)^t is left. 20,000 problems: the share's
    # binomial sd is at most 0.0035, so 5 sd is 0.018 (three months, two chances).
    n, rng = 20_000, np.random.default_rng(11)
    for p in (0.05, 0.3):
        q = ProblemQueue(rng)
        q.add(Origin.VILLAGE, np.zeros(n, dtype=int), np.zeros(n), 0, Status.ASSIGNED, 1)
        left = np.arange(n)
        for t in (1, 2, 3):
            left = left[~q.works(left, -np.log1p(-p))]
            assert abs(left.size / n - (1 - p) ** t) < 0.018, (p, t, left.size / n)
        # Collection runs on a clock of its own (the same law).
        assert abs(q.notices(np.arange(n), -np.log1p(-p)).mean() - p) < 0.018


def test_clocks_pair_runs_a_higher_chance_resolves_a_superset():
    # Common random numbers: the same problems with more effort (a higher hazard) are
    # resolved no later, every one of them; fresh draws would share only a chance overlap.
    n = 5_000
    a, b = (ProblemQueue(np.random.default_rng(4)) for _ in range(2))
    for q in (a, b):
        q.add(Origin.FIRM, np.zeros(n, dtype=int), np.zeros(n), 0, Status.ASSIGNED, 1)
    done_a, done_b = a.works(np.arange(n), 0.10), b.works(np.arange(n), 0.12)
    assert done_a.sum() > 300 and (done_b[done_a]).all() and done_b.sum() > done_a.sum()
