"""Random streams: one ``SeedSequence`` tree per run, one stream per subsystem and month.

Each subsystem draws from its own child stream so that changing how one subsystem uses
randomness (say, one more draw in the labour market) does not shift the draws of the
others. The child order below is part of the reproducibility contract: append, never
reorder.

The district is built from the subsystems' children of the root (:meth:`Streams.from_seed`);
each simulated month then draws from a branch of its own (:meth:`Streams.for_month`), so
that a month which draws more or fewer numbers than its paired baseline (one more
promotion, a few hundred more seekers) leaves the next month's draws as they were. These
are common random numbers over time (Law 2015, *Simulation Modeling and Analysis*, 5th
ed., sec. 11.2): without them, one extra draw in any stream de-correlated a paired run
from its baseline as fully as a new seed does (docs/design_notes.md, "Paired runs").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# "technicians" (appended): technicians placed when the lever rises after the start
# (:class:`~countysim.core.programmes.technicians.ExpertTechnicians`). ``spawn`` numbers
# its children in order, so an appended stream leaves the earlier ones' draws unchanged.
# "luck" (appended): each problem's own clocks and owner draw
# (:class:`~countysim.core.problems.ProblemQueue`).
STREAMS = ("mesa", "problems", "frontline", "firms", "labour", "villages", "cadres",
           "technicians", "luck")

SeedLike = int | np.random.SeedSequence

# The branch of a run's tree holding its months' streams: spawn key (*root, MONTHS, month,
# stream). MONTHS lies far beyond the subsystems' children of the root (0, 1, ..., one per
# entry of STREAMS, appended over time), so the two branches never meet.
MONTHS = 1 << 20


def as_seed_sequence(seed: SeedLike | None) -> np.random.SeedSequence:
    """Normalise a seed (an int or a ``SeedSequence``) to a ``SeedSequence``.

    Raises:
        TypeError: ``seed`` is ``None`` or of another type; runs must be reproducible.
        ValueError: ``seed`` is a negative integer.
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, int | np.integer) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        return np.random.SeedSequence(int(seed))
    raise TypeError(f"seed must be an int or numpy.random.SeedSequence, got {seed!r}")


@dataclass(frozen=True)
class Streams:
    """The per-subsystem generators of one run (fields named as in :data:`STREAMS`)."""

    mesa: np.random.Generator
    problems: np.random.Generator
    frontline: np.random.Generator
    firms: np.random.Generator
    labour: np.random.Generator
    villages: np.random.Generator
    cadres: np.random.Generator
    technicians: np.random.Generator
    luck: np.random.Generator

    @classmethod
    def from_seed(cls, seed: SeedLike) -> Streams:
        """Spawn one generator per subsystem from ``seed``'s tree (deterministically)."""
        ss = as_seed_sequence(seed)
        # Spawn from a copy: SeedSequence.spawn mutates its counter, and the same seed
        # passed twice must give the same streams.
        fresh = np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key, pool_size=ss.pool_size)
        children = fresh.spawn(len(STREAMS))
        streams = zip(STREAMS, children, strict=True)
        return cls(**{name: np.random.default_rng(child) for name, child in streams})

    @classmethod
    def for_month(cls, seed: SeedLike, month: int, mesa: np.random.Generator) -> Streams:
        """The generators one simulated month draws from: its own branch of ``seed``'s tree.

        Args:
            seed: The run's seed.
            month: The month as a calendar number, ``12 * year + month - 1`` (not relative
                to the run's start: the same calendar month draws the same numbers whatever
                the spin-up's length).
            mesa: The Mesa model's generator, kept whole (Mesa holds the one it was given).

        Raises:
            ValueError: ``month`` is negative.
        """
        if month < 0:
            raise ValueError(f"month must be a calendar number >= 0, got {month}")
        ss = as_seed_sequence(seed)
        key = (*ss.spawn_key, MONTHS, int(month))
        return cls(mesa=mesa, **{
            name: np.random.default_rng(np.random.SeedSequence(
                ss.entropy, spawn_key=(*key, i), pool_size=ss.pool_size))
            for i, name in enumerate(STREAMS) if name != "mesa"})


def id_draws(rng: np.random.Generator, ids: np.ndarray, k: int | None = None) -> np.ndarray:
    """Draws for agents by their ids: the same for an id whatever else is drawn.

    The draws come from a child spawned from ``rng`` (spawning does not depend on how
    many numbers ``rng`` has given), one for each id up to the largest, so a paired run
    with an agent more or less, or a draw more elsewhere, gives every agent the two runs
    share the same number (common random numbers across agents).

    Args:
        rng: The month's stream of the subsystem.
        ids: Agents' ``unique_id`` (non-negative integers).
        k: ``None`` for one uniform on [0, 1) per id; else ``k`` standard normals per id.

    Returns:
        Shape ``ids.shape`` (uniforms) or ``ids.shape + (k,)`` (normals).
    """
    child = rng.spawn(1)[0]
    n = int(ids.max()) + 1 if ids.size else 0
    table = child.random(n) if k is None else child.standard_normal((n, k))
    return table[ids]


def describe(seed: SeedLike) -> dict[str, str]:
    """Attributes that identify a seed in a Dataset (entropy and spawn key as text)."""
    ss = as_seed_sequence(seed)
    return {"seed_entropy": str(ss.entropy),
            "seed_spawn_key": ",".join(str(k) for k in ss.spawn_key)}
