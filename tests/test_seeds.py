"""Random streams: one SeedSequence tree per run, one independent stream per subsystem."""

from __future__ import annotations

import numpy as np
import pytest
from countysim.core.seeds import STREAMS, Streams, as_seed_sequence, describe, id_draws


def _first_draws(streams: Streams) -> dict[str, np.ndarray]:
    """The first four uniform draws of every stream."""
    return {name: getattr(streams, name).random(4) for name in STREAMS}


def test_same_seed_same_streams():
    a, b = _first_draws(Streams.from_seed(12)), _first_draws(Streams.from_seed(12))
    for name in STREAMS:
        np.testing.assert_array_equal(a[name], b[name])


def test_a_seed_sequence_can_be_reused():
    # Spawning must not consume the caller's SeedSequence: passing it twice gives the
    # same streams.
    ss = np.random.SeedSequence(12)
    a, b = _first_draws(Streams.from_seed(ss)), _first_draws(Streams.from_seed(ss))
    for name in STREAMS:
        np.testing.assert_array_equal(a[name], b[name])
    c = _first_draws(Streams.from_seed(12))
    np.testing.assert_array_equal(a["labour"], c["labour"])


def test_streams_differ_between_subsystems_and_seeds():
    a, b = _first_draws(Streams.from_seed(1)), _first_draws(Streams.from_seed(2))
    firsts = {float(v[0]) for v in a.values()}
    assert len(firsts) == len(STREAMS)
    assert all(not np.array_equal(a[n], b[n]) for n in STREAMS)


def test_drawing_from_one_stream_does_not_shift_another():
    a, b = Streams.from_seed(3), Streams.from_seed(3)
    a.villages.random(1_000)  # one subsystem draws more ...
    np.testing.assert_array_equal(a.labour.random(5), b.labour.random(5))  # ... others don't move


def test_an_appended_stream_leaves_the_earlier_ones_unchanged():
    # SeedSequence.spawn numbers its children in order: the streams of an older, shorter
    # STREAMS (without "luck", appended for the problems' clocks) draw what they drew then.
    assert STREAMS[-1] == "luck"
    streams = Streams.from_seed(5)
    older = np.random.SeedSequence(5).spawn(len(STREAMS) - 1)
    for name, child in zip(STREAMS[:-1], older, strict=True):
        np.testing.assert_array_equal(getattr(streams, name).random(4),
                                      np.random.default_rng(child).random(4))


def test_spawned_children_are_distinct_runs():
    root = np.random.SeedSequence(9)
    kids = root.spawn(2)
    a, b = _first_draws(Streams.from_seed(kids[0])), _first_draws(Streams.from_seed(kids[1]))
    assert not np.array_equal(a["labour"], b["labour"])
    assert describe(kids[1]) == {"seed_entropy": "9", "seed_spawn_key": "1"}


@pytest.mark.parametrize(("bad", "error"), [(None, TypeError), (-1, ValueError),
                                            (True, TypeError), (1.0, TypeError),
                                            ("7", TypeError)])
def test_invalid_seeds(bad, error):
    with pytest.raises(error):
        as_seed_sequence(bad)


def test_numpy_integers_are_seeds():
    assert as_seed_sequence(np.int64(5)).entropy == 5
    assert describe(5) == {"seed_entropy": "5", "seed_spawn_key": ""}


def test_each_month_draws_from_a_branch_of_its_own():
    rng = np.random.default_rng(0)
    a, b = Streams.for_month(3, 24_300, rng), Streams.for_month(3, 24_300, rng)
    assert a.mesa is rng  # Mesa keeps the generator it was given
    np.testing.assert_array_equal(a.labour.random(4), b.labour.random(4))
    later, root = Streams.for_month(3, 24_301, rng), Streams.from_seed(3)
    first = Streams.for_month(3, 24_300, rng).labour.random(4)
    assert not np.array_equal(first, later.labour.random(4))
    assert not np.array_equal(first, root.labour.random(4))
    assert not np.array_equal(first, Streams.for_month(4, 24_300, rng).labour.random(4))
    with pytest.raises(ValueError, match="calendar number"):
        Streams.for_month(3, -1, rng)


def test_draws_after_a_month_do_not_shift_the_next_months():
    # The paired-run property: one run draws more at the end of a month (as a lever that
    # makes one more decision would); every later month is the same, to the bit.
    from conftest import SCENARIOS
    from countysim.core.county import CountyModel

    a, b = (CountyModel(SCENARIOS / "baseline_2025.toml", rng=5) for _ in range(2))
    a.run_until("2025-03")
    b.run_until("2025-03")
    for name in STREAMS:
        getattr(b.streams, name).random(17)
    a.run_until("2025-06")
    b.run_until("2025-06")
    assert a.dataset().identical(b.dataset())


def test_id_draws_give_an_agent_its_number_whatever_the_others():
    ids = np.array([3, 8, 11, 40])
    full = id_draws(np.random.default_rng(2), ids)
    some = id_draws(np.random.default_rng(2), ids[[0, 2]])  # two agents fewer
    np.testing.assert_array_equal(full[[0, 2]], some)
    rng = np.random.default_rng(2)
    rng.random(1_000)  # draws from the parent before the spawn do not move a child's
    np.testing.assert_array_equal(id_draws(rng, ids), full)
    assert id_draws(np.random.default_rng(2), ids, 3).shape == (4, 3)
    assert id_draws(np.random.default_rng(2), ids[:0]).shape == (0,)
