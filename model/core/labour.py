"""Workers as numpy arrays, and the labour-market processes that move them (step 5).

There are ~2x10^5 workers, too many for Python objects: each is a row across the arrays
of :class:`Workforce`. Every process here is vectorised; randomness comes from the
caller's generator (the run's ``labour`` stream).

Flow counting (A4, A5) is by person and calendar year: ``placed_ytd`` and
``nonfarm_ytd`` flag a worker the first time the flow happens to them in a year, so a
person is never counted twice in one flow.
"""

from __future__ import annotations

import numpy as np

from .tables import NONFARM, Labour

URBAN = -1  # home of urban residents
NO_EMPLOYER = -1


def weighted_sample(weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``k`` items drawn without replacement with probability ~ ``weights``.

    Uses exponential keys (Efraimidis & Spirakis 2006): O(n), exact, and one draw per item,
    so it costs the same whatever ``k`` is.
    """
    n = weights.size
    if k <= 0 or n == 0:
        return np.empty(0, dtype=np.int64)
    if k >= n:
        return np.arange(n)
    keys = rng.exponential(size=n) / np.maximum(weights, 1e-12)
    return np.argpartition(keys, k - 1)[:k]


def rank_within_groups(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random rank (0, 1, ...) of each item within its group: a random order per group."""
    order = np.lexsort((rng.random(groups.size), groups))
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, groups.size]))
    ranks = np.empty(groups.size, dtype=np.int64)
    ranks[order] = np.arange(groups.size) - run_start
    return ranks


class Workforce:
    """All workers of the district, one row per person.

    Attributes:
        home: Village index of rural workers; ``-1`` for urban residents.
        state: Labour state (:class:`~countysim.core.tables.Labour`).
        skill: Employability in [0, 1]; seekers with more skill are matched first.
        employer: Firm index of urban jobs (``n_firms`` = other employers), else ``-1``.
        coop_job: The local wage job is with a cooperative or returnee firm of the village.
        since: Month index the current state began.
        placed_ytd: Placed into an urban job this calendar year (A4 flow).
        nonfarm_ytd: Rural worker newly in a non-farm income state this year (A5 flow).
    """

    def __init__(self, home: np.ndarray, state: np.ndarray, skill: np.ndarray,
                 employer: np.ndarray) -> None:
        n = home.size
        self.home = home.astype(np.int32)
        self.state = state.astype(np.int8)
        self.skill = skill.astype(np.float32)
        self.employer = employer.astype(np.int32)
        self.coop_job = np.zeros(n, dtype=bool)
        self.since = np.zeros(n, dtype=np.int16)
        self.placed_ytd = np.zeros(n, dtype=bool)
        self.nonfarm_ytd = np.zeros(n, dtype=bool)
        self.rural = self.home >= 0

    def __len__(self) -> int:
        return self.home.size

    @classmethod
    def create(cls, village_workforce: np.ndarray, rural_shares: np.ndarray,
               urban_labour_force: int, urban_seeking_share: float,
               firm_employees: np.ndarray, rng: np.random.Generator) -> Workforce:
        """Create the initial workforce.

        Args:
            village_workforce: Rural workers per village.
            rural_shares: Initial shares of rural workers by labour state (sum to 1).
            urban_labour_force: Urban residents in the labour force.
            urban_seeking_share: Share of the urban labour force seeking work.
            firm_employees: Target employees per modelled firm; urban jobs beyond them
                are with "other employers" (index ``len(firm_employees)``).
            rng: Generator for the draws.
        """
        n_rural = int(village_workforce.sum())
        home = np.concatenate([np.repeat(np.arange(village_workforce.size), village_workforce),
                               np.full(urban_labour_force, URBAN)])
        rural_state = rng.choice(len(Labour), size=n_rural, p=rural_shares)
        urban_state = np.where(rng.random(urban_labour_force) < urban_seeking_share,
                               Labour.SEEKING, Labour.URBAN_JOB)
        state = np.concatenate([rural_state, urban_state]).astype(np.int8)
        employer = np.full(home.size, NO_EMPLOYER, dtype=np.int32)
        employed = np.flatnonzero(state == Labour.URBAN_JOB)
        rng.shuffle(employed)
        # Fill modelled firms first (up to their size), the rest work for other employers.
        n_firms = firm_employees.size
        slots = np.repeat(np.arange(n_firms), firm_employees)[: employed.size]
        employer[employed] = n_firms
        employer[employed[: slots.size]] = slots
        skill = rng.beta(2.0, 2.0, home.size)  # assumption: symmetric spread of employability
        return cls(home, state, skill, employer)

    # --------------------------------------------------------------------- counting

    def counts(self) -> np.ndarray:
        """Workers by labour state (length 5)."""
        return np.bincount(self.state, minlength=len(Labour))

    def village_counts(self, n_villages: int) -> np.ndarray:
        """Rural workers by village and labour state, shape ``(n_villages, 5)``."""
        r = self.rural
        flat = self.home[r].astype(np.int64) * len(Labour) + self.state[r]
        return np.bincount(flat, minlength=n_villages * len(Labour)).reshape(n_villages, -1)

    def employees(self, n_employers: int) -> np.ndarray:
        """Urban-job holders by employer (modelled firms, then other employers)."""
        held = self.employer[self.state == Labour.URBAN_JOB]
        return np.bincount(held, minlength=n_employers)

    def start_year(self) -> None:
        """Reset the year-to-date flow flags (January)."""
        self.placed_ytd[:] = False
        self.nonfarm_ytd[:] = False

    # ------------------------------------------------------------------ transitions

    def move(self, idx: np.ndarray, new_state: Labour, month: int) -> int:
        """Move workers ``idx`` to ``new_state``; return how many newly enter the A5 flow.

        A rural worker enters the A5 flow when moving from farming or seeking into a
        non-farm income state, at most once a year.
        """
        if idx.size == 0:
            return 0
        new_entrants = 0
        if new_state in NONFARM:
            old = self.state[idx]
            joins = self.rural[idx] & ((old == Labour.FARMING) | (old == Labour.SEEKING))
            fresh = idx[joins & ~self.nonfarm_ytd[idx]]
            self.nonfarm_ytd[fresh] = True
            new_entrants = int(fresh.size)
        self.state[idx] = new_state
        self.since[idx] = month
        if new_state != Labour.URBAN_JOB:
            self.employer[idx] = NO_EMPLOYER
        if new_state != Labour.LOCAL_WAGE:
            self.coop_job[idx] = False
        return new_entrants

    def draw(self, mask: np.ndarray, prob: float | np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
        """Indices of workers in ``mask`` who make a transition with probability ``prob``.

        ``prob`` is a scalar or an array over all workers (only the masked part is used).
        """
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return idx
        p = prob if np.isscalar(prob) else prob[idx]
        return idx[rng.random(idx.size) < p]

    def separate(self, rate: float, rng: np.random.Generator, month: int) -> int:
        """Urban jobs end at ``rate``; the workers start seeking. Returns separations."""
        idx = self.draw(self.state == Labour.URBAN_JOB, rate, rng)
        self.move(idx, Labour.SEEKING, month)
        return int(idx.size)

    def match(self, vacancies: np.ndarray, boost: np.ndarray, efficiency: float,
              elasticity: float, rng: np.random.Generator, month: int) -> tuple[int, int, int]:
        """Match seekers to vacancies with M = A U^a V_eff^(1-a).

        Args:
            vacancies: Open vacancies per employer (modelled firms, then other employers).
            boost: Per-employer weight ``1 + matching_boost`` for visited firms, else 1:
                big-data matching (A3) makes their vacancies easier to fill.
            efficiency: Matching efficiency A.
            elasticity: Elasticity a with respect to seekers.
            rng: Generator.
            month: Current month index.

        Returns:
            Matches, of which new A4 placements (first this year), and new A5 entrants.
        """
        seekers = np.flatnonzero(self.state == Labour.SEEKING)
        total_v = int(vacancies.sum())
        if seekers.size == 0 or total_v == 0:
            return 0, 0, 0
        v_eff = float((vacancies * boost).sum())
        expected = efficiency * seekers.size ** elasticity * v_eff ** (1.0 - elasticity)
        m = min(int(rng.poisson(expected)), seekers.size, total_v)
        if m == 0:
            return 0, 0, 0
        chosen = seekers[weighted_sample(0.5 + self.skill[seekers], m, rng)]
        slots = np.repeat(np.arange(vacancies.size), vacancies)
        slot_boost = boost[slots]
        filled = slots[weighted_sample(slot_boost, m, rng)]
        rng.shuffle(filled)
        placed = chosen[~self.placed_ytd[chosen]]
        self.placed_ytd[chosen] = True
        entrants = self.move(chosen, Labour.URBAN_JOB, month)
        self.employer[chosen] = filled
        return m, int(placed.size), entrants

    def hire_local(self, shortfall: np.ndarray, rng: np.random.Generator, month: int) -> int:
        """Fill cooperative and returnee jobs from the village's farmers and seekers.

        Args:
            shortfall: Jobs to fill per village (negative: jobs to shed).

        Returns:
            New A5 entrants among those hired.
        """
        entrants = 0
        want = np.maximum(shortfall, 0)
        if want.any():
            pool = np.flatnonzero(self.rural & ((self.state == Labour.FARMING)
                                                | (self.state == Labour.SEEKING)))
            pool = pool[want[self.home[pool]] > 0]
            rank = rank_within_groups(self.home[pool], rng)
            hired = pool[rank < want[self.home[pool]]]
            entrants = self.move(hired, Labour.LOCAL_WAGE, month)
            self.coop_job[hired] = True
        shed = np.maximum(-shortfall, 0)
        if shed.any():
            held = np.flatnonzero(self.coop_job)
            held = held[shed[self.home[held]] > 0]
            rank = rank_within_groups(self.home[held], rng)
            self.move(held[rank < shed[self.home[held]]], Labour.FARMING, month)
        return entrants
