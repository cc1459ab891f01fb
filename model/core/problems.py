"""Problems as rows of numpy arrays: the queue of enterprise, household and legacy problems.

A problem is *open* until a front-line cadre collects it, then *assigned* to that cadre
(the closed loop of A2: collect -> classify -> assign -> supervise -> resolve -> feedback)
until *resolved*. Legacy problems (A29) start assigned to the cadres working on them.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

import numpy as np


class Origin(IntEnum):
    """Who raised a problem (arrays are compared with a member's ``value``, as with
    :class:`~countysim.core.tables.Labour`: a plain int is ~5x quicker)."""

    VILLAGE = 0  # households of a village (群众急难愁盼, A6)
    FIRM = 1  # an enterprise (企业发展难题, A6)
    LEGACY = 2  # a demolition or resettlement case (历史遗留问题, A29)


class Status(IntEnum):
    """Where a problem is in the closed loop (arrays are compared with a member's
    ``value``, as with :class:`Origin`)."""

    OPEN = 0
    ASSIGNED = 1
    RESOLVED = 2


NO_CADRE = -1


class ProblemQueue:
    """Growable struct-of-arrays holding every problem of a run.

    Attributes:
        origin: :class:`Origin` code.
        source: Village or firm index of the raiser (``-1`` for legacy problems).
        difficulty: In [0, 1]; harder problems are less likely to be resolved each month.
        raised: Month index the problem was raised (``-1``: before the run).
        status: :class:`Status` code.
        cadre: ``unique_id`` of the assigned cadre, or ``-1``.
        resolved: Month index of resolution, or ``-1``.
        notice, work: The problem's own clocks, standard exponential draws made when it is
            raised: it is collected once the collection hazard it has met (``noticed``)
            passes ``notice``, and resolved once the resolution hazard (``worked``) passes
            ``work``. A month's hazard ``h`` is ``-log(1 - p)`` of its chance ``p``, so each
            month it is collected or resolved with chance ``p``, as by a fresh draw, but
            a paired run with a little more effort resolves the *same* problems a little
            sooner instead of other ones (common random numbers; see
            :mod:`countysim.core.seeds`).
        pick: A uniform draw of the problem's own, which chooses its owner when it is
            collected (by inverse transform of the owners' shares).
        luck: The generator the clocks are drawn from (set each month by the model).
    """

    _FIELDS: ClassVar[dict[str, type]] = {
        "origin": np.int8, "source": np.int32, "difficulty": np.float32,
        "raised": np.int16, "status": np.int8, "cadre": np.int32, "resolved": np.int16,
        "notice": np.float32, "noticed": np.float32, "work": np.float32,
        "worked": np.float32, "pick": np.float32}

    def __init__(self, luck: np.random.Generator, capacity: int = 4096) -> None:
        self.size = 0
        self.luck = luck
        for name, dtype in self._FIELDS.items():
            setattr(self, "_" + name, np.zeros(max(capacity, 1), dtype=dtype))

    def __len__(self) -> int:
        return self.size

    def __getattr__(self, name: str) -> np.ndarray:
        # Public views of the filled part; the private buffers are larger.
        if name in ProblemQueue._FIELDS:
            return object.__getattribute__(self, "_" + name)[: self.size]
        raise AttributeError(name)

    def add(self, origin: Origin | np.ndarray, source: np.ndarray, difficulty: np.ndarray,
            month: int, status: Status = Status.OPEN, cadre: np.ndarray | int = NO_CADRE) -> None:
        """Append problems (arrays of equal length, or scalars broadcast to it)."""
        k = int(np.size(source))
        if k == 0:
            return
        need = self.size + k
        if need > self._origin.size:
            new_cap = max(need, 2 * self._origin.size)
            for name in self._FIELDS:
                old = getattr(self, "_" + name)
                grown = np.zeros(new_cap, dtype=old.dtype)
                grown[: self.size] = old[: self.size]
                setattr(self, "_" + name, grown)
        sl = slice(self.size, need)
        self._origin[sl] = origin
        self._source[sl] = source
        self._difficulty[sl] = difficulty
        self._raised[sl] = month
        self._status[sl] = status
        self._cadre[sl] = cadre
        self._resolved[sl] = -1
        clocks = self.luck.standard_exponential((2, k))
        self._notice[sl], self._work[sl] = clocks
        self._noticed[sl] = self._worked[sl] = 0.0
        self._pick[sl] = self.luck.random(k)
        self.size = need

    def notices(self, idx: np.ndarray, hazard: float | np.ndarray) -> np.ndarray:
        """Whether each of ``idx`` (open problems) is collected this month, by the month's
        collection hazard ``-log(1 - p)`` of its chance ``p``."""
        return self._meet("noticed", "notice", idx, hazard)

    def works(self, idx: np.ndarray, hazard: float | np.ndarray) -> np.ndarray:
        """Whether each of ``idx`` (assigned problems) is resolved this month, by the
        month's resolution hazard ``-log(1 - p)`` of its chance ``p``."""
        return self._meet("worked", "work", idx, hazard)

    def _meet(self, met: str, clock: str, idx: np.ndarray,
              hazard: float | np.ndarray) -> np.ndarray:
        """Add the month's hazard to what each of ``idx`` has met; True where it passes
        the problem's clock."""
        total = getattr(self, met)[idx] + hazard
        getattr(self, met)[idx] = total
        return total >= getattr(self, clock)[idx]

    def count(self, status: Status, origin: Origin | None = None) -> int:
        """Number of problems with a status (and origin)."""
        mask = self.status == status
        if origin is not None:
            mask &= self.origin == origin
        return int(mask.sum())

    def open_by_firm(self, n_firms: int) -> np.ndarray:
        """Unresolved problems per firm."""
        mask = (self.origin == Origin.FIRM.value) & (self.status != Status.RESOLVED.value)
        # ``compress``: the masked values, ~3x quicker than indexing by the mask.
        return np.bincount(self.source.compress(mask), minlength=n_firms)

    def open_by_village(self, n_villages: int) -> np.ndarray:
        """Unresolved household problems per village."""
        mask = (self.origin == Origin.VILLAGE.value) & (self.status != Status.RESOLVED.value)
        return np.bincount(self.source.compress(mask), minlength=n_villages)

    def hand_over(self, old_ids: np.ndarray, new_ids: np.ndarray) -> None:
        """Pass the unresolved problems of departing cadres to their successors.

        A post's casebook (台账) goes with the post: the newcomer who refills it takes
        over its assigned problems, as it takes over its villages.
        """
        if old_ids.size == 0:
            return
        # The assigned problems first (a few thousand of a run's queue), then the owners.
        held = np.flatnonzero(self.status == Status.ASSIGNED.value)
        # Membership by a table over the ids, shifted by one for NO_CADRE (-1): what
        # ``np.isin`` finds, in a fifth of its time (the ids are small integers).
        owner = self.cadre[held] + 1
        leaving = np.zeros(max(int(owner.max(initial=0)), int(old_ids.max()) + 1) + 1, dtype=bool)
        leaving[old_ids + 1] = True
        held = held[leaving.take(owner)]
        if held.size:
            order = np.argsort(old_ids)
            where = order[np.searchsorted(old_ids, self.cadre[held], sorter=order)]
            self.cadre[held] = new_ids[where]
