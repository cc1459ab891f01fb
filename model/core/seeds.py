"""Random streams: one ``SeedSequence`` tree per run, one stream per subsystem.

Each subsystem draws from its own child stream so that changing how one subsystem uses
randomness (say, one more draw in the labour market) does not shift the draws of the
others. The child order below is part of the reproducibility contract: append, never
reorder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# "technicians" (appended): technicians placed when the lever rises after the start
# (:class:`~countysim.core.programmes.technicians.ExpertTechnicians`). ``spawn`` numbers
# its children in order, so an appended stream leaves the earlier ones' draws unchanged.
STREAMS = ("mesa", "problems", "frontline", "firms", "labour", "villages", "cadres",
           "technicians")

SeedLike = int | np.random.SeedSequence


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


def describe(seed: SeedLike) -> dict[str, str]:
    """Attributes that identify a seed in a Dataset (entropy and spawn key as text)."""
    ss = as_seed_sequence(seed)
    return {"seed_entropy": str(ss.entropy),
            "seed_spawn_key": ",".join(str(k) for k in ss.spawn_key)}
