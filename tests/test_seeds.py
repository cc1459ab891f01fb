"""Random streams: one SeedSequence tree per run, one independent stream per subsystem."""

from __future__ import annotations

import numpy as np
import pytest
from countysim.core.seeds import STREAMS, Streams, as_seed_sequence, describe


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
    # STREAMS (without "technicians", appended for issue 16) draw what they drew then.
    assert STREAMS[-1] == "technicians"
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
