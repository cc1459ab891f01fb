"""Workers as numpy arrays, and the labour-market processes that move them (steps 1, 5).

There are ~2x10^5 workers, too many for Python objects: each is a row across the arrays
of :class:`Workforce`. Every process here is vectorised; randomness comes from the
caller's generator (the run's ``labour`` stream).

The labour force renews itself: workers retire at ``retirement_rate`` and each retiree's
row becomes a young entrant from the same home, who starts by seeking work; the
population trend (B2) adds entrants from a reserve of rows allocated up front, so the
arrays never grow during a run.

Flow counting (A4, A5) is by person and calendar year: ``placed_ytd`` and
``nonfarm_ytd`` flag a worker the first time the flow happens to them in a year, so a
person is never counted twice in one flow.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .tables import NONFARM, Labour

URBAN = -1  # home of urban residents
NO_EMPLOYER = -1
RESERVE = len(Labour)  # state of rows not yet in the labour force (future entrants)
NEVER = np.iinfo(np.int16).min  # ``trained_until`` of a worker never trained
N_STATES = len(Labour) + 1


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
    # ``standard_exponential`` draws what ``exponential(scale=1)`` does (its values times
    # 1.0), in a quicker loop; the keys are divided in place (the same numbers).
    keys = rng.standard_exponential(size=n)
    keys /= np.maximum(weights, 1e-12)
    return np.argpartition(keys, k - 1)[:k]


def sample_share(idx: np.ndarray, prob: float, rng: np.random.Generator) -> np.ndarray:
    """Each of ``idx`` independently with probability ``prob`` (a scalar).

    Draws the number from a binomial and then that many distinct items, which costs
    O(drawn) instead of one uniform per item: most monthly transitions touch a few
    hundred of ~10^5 workers.
    """
    if idx.size == 0 or prob <= 0.0:
        return idx[:0]
    if prob >= 1.0:
        return idx
    k = int(rng.binomial(idx.size, prob))
    return idx[rng.choice(idx.size, size=k, replace=False)] if k else idx[:0]


def rank_within_groups(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random rank (0, 1, ...) of each item within its group: a random order per group."""
    order = np.lexsort((rng.random(groups.size), groups))
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, groups.size]))
    ranks = np.empty(groups.size, dtype=np.int64)
    ranks[order] = np.arange(groups.size) - run_start
    return ranks


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """Start and end of the longest run of ``True`` in ``mask`` (``(0, 0)`` if none)."""
    edges = np.flatnonzero(np.diff(np.r_[False, mask, False].view(np.int8)))
    if edges.size == 0:
        return 0, 0
    starts, ends = edges[::2], edges[1::2]
    i = int(np.argmax(ends - starts))
    return int(starts[i]), int(ends[i])


def draw_skill(n: int, rng: np.random.Generator) -> np.ndarray:
    """Employability of ``n`` new workers: Beta(2, 2), a symmetric spread (assumption)."""
    return rng.beta(2.0, 2.0, n)


class Workforce:
    """All workers of the district, one row per person (plus reserve rows).

    Attributes:
        home: Village index of rural workers; ``-1`` for urban residents.
        state: Labour state (:class:`~countysim.core.tables.Labour`), or :data:`RESERVE`.
        skill: Employability in [0, 1]; seekers with more skill are matched first.
        employer: Employer index of urban jobs (``n_firms`` = other employers), else ``-1``.
        coop_job: The local wage job is with a cooperative or returnee firm of the village.
        since: Month index the current state began.
        placed_ytd: Placed into an urban job this calendar year (A4 flow).
        nonfarm_ytd: Rural worker newly in a non-farm income state this year (A5 flow).
        settled: Settled in town this year (B15): an urban resident now, whose A5 entry of
            this year, made as a rural worker, still counts.
        employees: Urban-job holders per employer (kept up to date by every move).
        active: Workers in the labour force.
        next_row: First reserve row never used (rows from it on are future entrants).
        retired_placed_ytd: Of this year's A4 placements, people who have since retired
            (their rows are young entrants now, with the flag cleared).
        retired_nonfarm_ytd: The same for this year's A5 entrants.
        retired_jobs_ytd: Urban-job holders who retired this year (natural attrition,
            netted out of the official count of new urban jobs, A4).
        trained_until: Month index until which a worker's non-farm training (L12) helps
            them into transfer work; :data:`NEVER` if never trained.
    """

    def __init__(self, home: np.ndarray, state: np.ndarray, skill: np.ndarray,
                 employer: np.ndarray, n_employers: int, active: int | None = None) -> None:
        n = home.size
        self.home = home.astype(np.int32)
        self.state = state.astype(np.int8)
        self.skill = skill.astype(np.float32)
        self.employer = employer.astype(np.int32)
        self.coop_job = np.zeros(n, dtype=bool)
        self.since = np.zeros(n, dtype=np.int16)
        self.placed_ytd = np.zeros(n, dtype=bool)
        self.nonfarm_ytd = np.zeros(n, dtype=bool)
        self.retired_placed_ytd = 0
        self.retired_nonfarm_ytd = 0
        self.retired_jobs_ytd = 0
        self.trained_until = np.full(n, NEVER, dtype=np.int16)
        self.rural = self.home >= 0
        self.settled = np.zeros(n, dtype=bool)  # moved to town this year (their flows stay)
        self._urban_block = _longest_run(~self.rural)
        # Rural rows grouped by village (reserve rows included), each group ascending: a
        # home changes only to urban (settling), so a village's rural rows stay among them.
        rural_rows = np.flatnonzero(self.rural)
        homes = self.home[rural_rows]
        self._village_rows = rural_rows[np.argsort(homes, kind="stable")]
        self._village_start = np.r_[0, np.cumsum(np.bincount(homes))]
        self.active = n if active is None else active
        self.next_row = self.active
        self.state[self.active:] = RESERVE
        # Key of each row's (home, state) cell: home (-1 urban) shifted to 0.. and scaled.
        self._cell = ((self.home + 1) * N_STATES).astype(np.int32)
        self._n_cells = (int(self.home.max(initial=-1)) + 2) * N_STATES
        # Workers by (home, state), kept up to date by every change of state.
        self.cells = np.bincount(self._cell + self.state, minlength=self._n_cells)
        held = self.employer[self.state == Labour.URBAN_JOB.value]
        self.employees = np.bincount(held, minlength=n_employers).astype(np.int64)

    def __len__(self) -> int:
        return self.active

    # --------------------------------------------------------------------- counting

    def cell_counts(self, n_villages: int) -> np.ndarray:
        """Workers by home and state, shape ``(n_villages + 1, 5)``; row 0 is urban."""
        cells = self.cells.reshape(-1, N_STATES)[:, :RESERVE]
        if cells.shape[0] < n_villages + 1:  # villages with no worker at all
            cells = np.vstack([cells, np.zeros((n_villages + 1 - cells.shape[0], RESERVE),
                                               dtype=cells.dtype)])
        return cells.copy()

    def _set_state(self, idx: np.ndarray, new_state: int, old: np.ndarray | None = None) -> None:
        """Change the state of rows ``idx``, keeping :attr:`cells` in step.

        Args:
            idx: The rows.
            new_state: Their new state.
            old: Their current states (``self.state[idx]``), if the caller has them.
        """
        if idx.size == 0:
            return
        cell = self._cell[idx]
        self.cells -= np.bincount(cell + (self.state[idx] if old is None else old),
                                  minlength=self._n_cells)
        self.cells += np.bincount(cell + int(new_state), minlength=self._n_cells)
        self.state[idx] = new_state

    def counts(self) -> np.ndarray:
        """Workers by labour state (length 5)."""
        return np.bincount(self.state, minlength=N_STATES)[:RESERVE]

    def start_year(self) -> None:
        """Reset the year-to-date flow flags (January)."""
        self.placed_ytd[:] = False
        self.nonfarm_ytd[:] = False
        self.settled[:] = False
        self.retired_placed_ytd = 0
        self.retired_nonfarm_ytd = 0
        self.retired_jobs_ytd = 0

    def placed_count(self) -> int:
        """People placed into urban jobs this year (A4), retired ones included."""
        return int(np.count_nonzero(self.placed_ytd)) + self.retired_placed_ytd

    def nonfarm_count(self) -> int:
        """Rural people newly in non-farm income this year (A5), retired ones included."""
        return int(np.count_nonzero(self.nonfarm_ytd)) + self.retired_nonfarm_ytd

    def indices(self, state: Labour, rural: bool | None = None) -> np.ndarray:
        """Rows in ``state`` (optionally only rural or only urban residents)."""
        state = int(state)  # a plain int compares with arrays ~10x quicker (tables.Labour)
        if rural:
            return self.rural_where(lambda s: self.rural[s] & (self.state[s] == state))
        mask = self.state == state
        if rural is not None:
            mask &= ~self.rural
        return np.flatnonzero(mask)

    def rural_where(self, condition: Callable[[slice], np.ndarray]) -> np.ndarray:
        """Rows, in order, where ``condition`` holds, given that it holds only for rural
        rows in the labour force (farming, local wage work, migrating, a rural home).

        ``condition(s)`` is the condition's mask over the rows of slice ``s``. A row
        never becomes rural (settlers only leave), so the initial layout's block of
        urban residents never holds a rural row, and reserve rows not yet used hold no
        one: the scan skips both, about half of the arrays (the result is the same as
        ``np.flatnonzero`` of the whole mask).
        """
        lo, hi = self._urban_block
        head = np.flatnonzero(condition(slice(0, lo)))
        if hi >= self.next_row:
            return head
        tail = np.flatnonzero(condition(slice(hi, self.next_row)))
        return np.concatenate([head, tail + hi])

    def rows_of_villages(self, villages: np.ndarray) -> np.ndarray:
        """Rows, ascending, whose first home is one of ``villages``: all of their rural
        rows, plus their settlers and unused reserve rows (filter by state and ``rural``)."""
        start = self._village_start
        parts = [self._village_rows[start[v]:start[v + 1]]
                 for v in villages.tolist() if v + 1 < start.size]
        # A merge of ascending runs: the stable sort (timsort) finds the runs, ~2x quicker.
        return (np.sort(np.concatenate(parts), kind="stable") if parts
                else np.empty(0, dtype=np.int64))

    # ------------------------------------------------------------------ transitions

    def move(self, idx: np.ndarray, new_state: Labour, month: int) -> int:
        """Move workers ``idx`` to ``new_state``; return how many newly enter the A5 flow.

        A rural worker enters the A5 flow when moving from farming or seeking into a
        non-farm income state, at most once a year.
        """
        if idx.size == 0:
            return 0
        old = self.state[idx]
        new_entrants = 0
        if new_state in NONFARM:
            joins = self.rural[idx] & ((old == Labour.FARMING.value)
                                       | (old == Labour.SEEKING.value))
            fresh = idx[joins & ~self.nonfarm_ytd[idx]]
            self.nonfarm_ytd[fresh] = True
            new_entrants = int(fresh.size)
        leaving_job = idx.compress(old == Labour.URBAN_JOB.value)
        if leaving_job.size and new_state != Labour.URBAN_JOB:
            self.employees -= np.bincount(self.employer[leaving_job],
                                          minlength=self.employees.size)
            self.employer[leaving_job] = NO_EMPLOYER
        self._set_state(idx, new_state, old)
        self.since[idx] = month
        if new_state != Labour.LOCAL_WAGE:
            self.coop_job[idx] = False
        return new_entrants

    def settle(self, idx: np.ndarray) -> np.ndarray:
        """Rural workers ``idx`` move to town with their household: their home becomes urban.

        Returns the number of settlers per home village (length: villages with rows).
        """
        if idx.size == 0:
            return np.zeros(0, dtype=np.int64)
        from_home = np.bincount(self.home[idx], minlength=int(self.home.max(initial=0)) + 1)
        self.cells -= np.bincount(self._cell[idx] + self.state[idx], minlength=self._n_cells)
        self.home[idx] = URBAN
        self.rural[idx] = False
        self.settled[idx] = True
        self._cell[idx] = 0
        self.cells += np.bincount(self._cell[idx] + self.state[idx], minlength=self._n_cells)
        self.coop_job[idx] = False
        return from_home

    def separate(self, rate: float, rng: np.random.Generator, month: int) -> int:
        """Urban jobs end at ``rate``; the workers start seeking. Returns separations."""
        idx = sample_share(self.indices(Labour.URBAN_JOB), rate, rng)
        self.move(idx, Labour.SEEKING, month)
        return int(idx.size)

    def renew(self, retire_rate: float, growth_rate: float, rng: np.random.Generator,
              month: int) -> tuple[int, int]:
        """Retirements replaced by young entrants, and trend entrants from the reserve.

        Args:
            retire_rate: Monthly probability a worker leaves the labour force.
            growth_rate: Monthly growth of the labour force (may be negative: then
                retirees are not all replaced).
            rng: Generator.
            month: Current month index.

        Returns:
            Retirements and the net change of the labour force.
        """
        k = int(rng.binomial(self.next_row, min(max(retire_rate, 0.0), 1.0)))
        retiring = rng.choice(self.next_row, size=k, replace=False)
        retiring = retiring[self.state[retiring] != RESERVE]  # rows that left for good
        expected = growth_rate * self.active
        net = int(np.floor(expected) + (rng.random() < expected - np.floor(expected)))
        net = max(min(net, self.state.size - self.next_row), -retiring.size)
        self.retired_jobs_ytd += int((self.state[retiring] == Labour.URBAN_JOB.value).sum())
        self.move(retiring, Labour.SEEKING, month)  # a retiree's job becomes a vacancy
        # Retirees stay counted in this year's flows; their rows start afresh.
        self.retired_placed_ytd += int(self.placed_ytd[retiring].sum())
        self.retired_nonfarm_ytd += int(self.nonfarm_ytd[retiring].sum())
        self.placed_ytd[retiring] = False
        self.nonfarm_ytd[retiring] = False
        # A shrinking labour force leaves some retirees unreplaced; growth takes new rows.
        renewed = retiring[: retiring.size + min(net, 0)]
        self._set_state(retiring[renewed.size:], RESERVE)
        entrants = np.concatenate([renewed,
                                   np.arange(self.next_row, self.next_row + max(net, 0))])
        self.next_row += max(net, 0)
        self.active += net
        self.skill[entrants] = draw_skill(entrants.size, rng)
        self._set_state(entrants, Labour.SEEKING)
        self.since[entrants] = month
        self.placed_ytd[entrants] = False
        self.nonfarm_ytd[entrants] = False
        self.trained_until[entrants] = NEVER
        self.settled[entrants] = False
        return int(retiring.size), net

    def match(self, vacancies: np.ndarray, boost: np.ndarray, efficiency: float,
              elasticity: float, rng: np.random.Generator, month: int,
              farmer_search: float = 0.0, seekers: np.ndarray | None = None,
              farmers: np.ndarray | None = None) -> tuple[int, int, int]:
        """Match job searchers to vacancies with M = A U^a V_eff^(1-a).

        Searchers are the seekers and, searching on the job at ``farmer_search`` of a
        seeker's intensity, rural farmers: ``U = seekers + farmer_search x farmers``.

        Args:
            vacancies: Open vacancies per employer (modelled firms, then other employers).
            boost: Per-employer weight ``1 + matching_boost`` for firms on the big-data
                matching platform (A3), else 1: their vacancies are easier to fill.
            efficiency: Matching efficiency A.
            elasticity: Elasticity a with respect to seekers.
            rng: Generator.
            month: Current month index.
            farmer_search: Search intensity of rural farmers relative to seekers.
            seekers: The rows seeking work, if the caller has them (``indices(SEEKING)``).
            farmers: The rural rows farming, if the caller has them.

        Returns:
            Matches, of which new A4 placements (first this year), and new A5 entrants.
        """
        if seekers is None:
            seekers = self.indices(Labour.SEEKING)
        if farmer_search <= 0:
            farmers = seekers[:0]
        elif farmers is None:
            farmers = self.indices(Labour.FARMING, rural=True)
        searchers = np.concatenate([seekers, farmers])
        intensity = np.full(searchers.size, farmer_search)
        intensity[:seekers.size] = 1.0
        total_v = int(vacancies.sum())
        if searchers.size == 0 or total_v == 0:
            return 0, 0, 0
        v_eff = float((vacancies * boost).sum())
        u_eff = float(intensity.sum())
        expected = efficiency * u_eff ** elasticity * v_eff ** (1.0 - elasticity)
        m = min(int(rng.poisson(expected)), searchers.size, total_v)
        if m == 0:
            return 0, 0, 0
        # Weights (0.5 + skill) x intensity: the float32 sum widened, the farmers' part
        # scaled (a seeker's intensity is 1.0, a product that changes nothing), without a
        # mixed float32-float64 product over all searchers.
        weights = (0.5 + self.skill.take(searchers)).astype(np.float64)
        weights[seekers.size:] *= farmer_search
        chosen = searchers[weighted_sample(weights, m, rng)]
        slots = np.repeat(np.arange(vacancies.size), vacancies)
        filled = slots[weighted_sample(boost[slots], m, rng)]
        rng.shuffle(filled)
        placed = chosen[~self.placed_ytd[chosen]]
        self.placed_ytd[chosen] = True
        entrants = self.move(chosen, Labour.URBAN_JOB, month)
        self.employer[chosen] = filled
        self.employees += np.bincount(filled, minlength=self.employees.size)
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
            # The farmers and seekers of the hiring villages (a few of them a month): the
            # rows of those villages only, not a scan of the whole workforce.
            rows = self.rows_of_villages(np.flatnonzero(want > 0))
            state = self.state[rows]
            pool = rows.compress(self.rural[rows] & ((state == Labour.FARMING.value)
                                                     | (state == Labour.SEEKING.value)))
            home = self.home[pool]
            # Shortlist about twice the jobs at random, then take a random order of the
            # shortlist: the same as a random order of the whole pool, at a fraction of
            # the cost (the pool is ~10^4, the jobs ~10).
            available = np.bincount(home, minlength=want.size)
            keep = np.minimum(1.0, 2.0 * want / np.maximum(available, 1))
            # ``take``: a gather by the int32 homes, ~3x quicker than indexing by them.
            shortlist = rng.random(pool.size) < keep.take(home)
            pool, home = pool[shortlist], home[shortlist]
            rank = rank_within_groups(home, rng)
            hired = pool[rank < want.take(home)]
            entrants = self.move(hired, Labour.LOCAL_WAGE, month)
            self.coop_job[hired] = True
        shed = np.maximum(-shortfall, 0)
        if shed.any():
            held = self.rural_where(lambda s: self.coop_job[s])
            held = held[shed.take(self.home[held]) > 0]
            home = self.home[held]
            rank = rank_within_groups(home, rng)
            self.move(held[rank < shed.take(home)], Labour.FARMING, month)
        return entrants
