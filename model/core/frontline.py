"""The front line (steps 2-3 of the month): problems arise, are collected and resolved.

Households, firms and the legacy backlog raise problems (A6, A29); cadres' front-line
effort decides how soon they hear of them, and their capability, responsibility and
effort how fast they resolve them (L4). The queues start at their mean-field stationary
stocks under the 2024 efforts, and the legacy backlog's inflow after the spin-up is the
expected number of its resolutions, so neither drifts under the 2024 rules.

:class:`FrontLine` is a part of :class:`~countysim.core.county.CountyModel`: its methods
read and write the model's shared state (``self.problems``, ``self.cadres``, the
parameters ``self.p`` and the run's streams).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import stats

from . import tables as T
from .cadres import (
    INTEGRITY,
    RESPONSIBILITY,
    Cadre,
    choose_effort,
    draw_breaches,
    quality_table,
    score_pool,
    skill_of,
)
from .district import pool_turnover
from .problems import NO_CADRE, Origin, ProblemQueue, Status
from .tables import MONTHS_PER_YEAR

__all__ = ["MAX_QUEUE_MONTHS", "FrontLine"]

MAX_QUEUE_MONTHS = 120  # a derived queue longer than ten years of inflow is not settled
STOCK_DRAWS = 8192  # difficulties drawn to derive the stationary stock (~1 % sampling error)
DIFFICULTY_NODES = 256  # quantiles of the difficulty mix for an expected odds
# Difficulty-owner pairs whose odds are held at once. A district's whole pool times 8,192
# difficulties would not fit in memory; chunks of this many pairs (arrays of 512 KiB)
# stay in the CPU's cache, where chunks of 512 difficulties by a 400-cadre pool (1.6 MiB
# each) ran 2.5x slower. Every difficulty's stock is its own row, so the chunking does not
# change a number.
CHUNK_PAIRS = 1 << 16
# Difficulty-owner pairs (64 MiB) up to which a pool's odds computed for its stock per unit
# of inflow are kept for the owners' stocks of the picked difficulties; a larger pool
# computes them again (the same numbers).
KEPT_PAIRS = 1 << 23
# Years of evaluations behind the initial records: the one-year moving averages of
# standing and merit forget their first score to under 5 % in three years.
RECORD_YEARS = 3


def stationary_stock(hold: np.ndarray, share: np.ndarray, turnover: float,
                     successor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean-field stationary queue of cases whose owners turn over (L4), at month's end.

    Each month, in the run's order, a unit of new cases of difficulty ``d`` goes to the
    owners by ``share``; owner ``j`` resolves each case it holds at ``hold[d, j]``; then
    at ``turnover`` an owner leaves and the post's casebook passes to its successor, a
    newcomer, taken as one of the pool's newcomers (weights ``successor``). With
    ``r_j = (1 - hold_j) / (1 - (1 - hold_j)(1 - turnover))`` the cases left after
    resolution are ``Y_j = r_j (share_j + turnover T successor_j)``, summing to
    ``T = sum_j r_j share_j / (1 - turnover sum_j r_j successor_j)``, and owner ``j``
    holds ``(1 - turnover) Y_j + turnover T successor_j`` at the month's end. Without
    turnover that is ``share_j (1 - hold_j) / hold_j``: each owner keeps its cases until
    resolved. With it, a weak owner's hard cases do not linger as long as its odds say,
    as newcomers (who work at the cut-off's effort, A11) take them over; a snapshot of
    the owners' odds alone set the routine queue ~20 % above what the run settles at.

    Args:
        hold: Monthly resolution probability (difficulties x owners).
        share: Each owner's share of new cases (sums to 1).
        turnover: Monthly probability that an owner leaves.
        successor: Weights of the owners who take over a departing owner's cases.

    Returns:
        ``T(d)``, the stock per unit of monthly inflow (months of inflow), and the stock
        held by each owner (difficulties x owners), summing to it.
    """
    r = _kept(hold, turnover)
    total = _stock_total(r, share, turnover, successor)
    return total, _owner_stock(r, total, share, turnover, successor)


def _kept(hold: np.ndarray, turnover: float, out: np.ndarray | None = None) -> np.ndarray:
    """``r_j`` of :func:`stationary_stock`: the cases left after resolution per case
    (into ``out`` if given)."""
    free = 1.0 - hold
    return np.divide(free, np.maximum(1.0 - free * (1.0 - turnover), 1e-12), out=out)


def _stock_total(r: np.ndarray, share: np.ndarray, turnover: float,
                 successor: np.ndarray) -> np.ndarray:
    """``T(d)`` of :func:`stationary_stock` from its ``r_j`` (``r``, difficulties x owners)."""
    return (r * share).sum(axis=1) / np.maximum(1.0 - turnover * (r * successor).sum(axis=1),
                                                1e-12)


def _owner_stock(r: np.ndarray, total: np.ndarray, share: np.ndarray, turnover: float,
                 successor: np.ndarray) -> np.ndarray:
    """The stock held by each owner of :func:`stationary_stock` from ``r_j`` and ``T(d)``."""
    handed = turnover * total[:, None] * successor[None, :]
    return (1.0 - turnover) * r * (share[None, :] + handed) + handed


@functools.cache
def _routine_nodes() -> np.ndarray:
    """Quantiles of the routine difficulty mix at :data:`DIFFICULTY_NODES` nodes."""
    d = stats.beta(*T.PROBLEM_DIFFICULTY_BETA).ppf((np.arange(DIFFICULTY_NODES) + 0.5)
                                                   / DIFFICULTY_NODES)
    d.flags.writeable = False
    return d


@functools.cache
def _legacy_nodes() -> np.ndarray:
    """Quantiles of the legacy difficulty mix at :data:`DIFFICULTY_NODES` nodes (a
    constant: SciPy's frozen distribution costs ~1 ms, twice in every model's creation)."""
    d = stats.beta(*T.LEGACY_DIFFICULTY_BETA).ppf((np.arange(DIFFICULTY_NODES) + 0.5)
                                                  / DIFFICULTY_NODES)
    d.flags.writeable = False
    return d


def _draw_rows(weights: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column index for each of ``rows`` (indices of rows of ``weights``, repeats
    allowed), drawn in proportion to that row's weights (non-negative).

    Each pick is the count of the row's cumulative weights below its uniform, found by a
    bisection of all rows at once: a row's cumulative sums never fall (non-negative
    weights), so the comparison is true up to a point and false after it (all false for
    a NaN sum). That is ~log2(columns) steps over the picks instead of a comparison of
    every pick with every column.
    """
    cum = np.cumsum(weights, axis=1)
    n_cols = weights.shape[1]
    u = rng.random(rows.size) * cum[rows, -1]
    flat, start = cum.ravel(), rows * n_cols
    lo = np.zeros(rows.size, dtype=np.int64)
    hi = np.full(rows.size, n_cols, dtype=np.int64)
    for _ in range(max(n_cols, 1).bit_length()):
        mid = (lo + hi) // 2
        below = flat[start + np.minimum(mid, n_cols - 1)] < u
        below &= mid < hi
        lo = np.where(below, mid + 1, lo)
        hi = np.where(below, hi, mid)
    return np.minimum(lo, n_cols - 1)


def _inverse_cdf(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The index each uniform ``u`` picks in proportion to ``weights`` (inverse transform).

    A paired run whose weights differ a little picks the same index for most ``u``.
    """
    cum = np.cumsum(weights)
    # ``u`` is float32, which can round to 1.0: clipped to the last index.
    return np.minimum(np.searchsorted(cum, u * cum[-1], side="right"), weights.size - 1)


class FrontLine:
    """Problems and front-line work: the queues, collection and resolution (a model part)."""

    def _create_problems(self) -> None:
        """Queues at their stationary size under the pre-programme effort.

        Routine problems: a stock that is collected at ``c`` a month and resolved at
        ``p(d)`` holds ``inflow (1 - c) / c`` open and ``inflow f(d) / p(d)`` assigned
        ones by difficulty. Each village's open stock is at its own ``c_v`` (its cadres'
        front-line time), the firms' at the routine pool's mean effort; the assigned
        stock is shared over the owners by the inflow routed to each (its villages' and
        its share of the firms'), and each case's raiser is drawn from its owner's
        routed mix. Legacy cases: the district's backlog, with the make-up a
        steady inflow would leave (hard cases linger), replenished during the spin-up
        by as many as are resolved, so it is the given size at the start month.
        """
        p, rng = self.spec, self.streams.problems
        self.problems = ProblemQueue(self.streams.luck)
        cadres = list(self.cadres)
        village_inflow, firm_inflow = self._inflows(p)
        self.routine_inflow = village_inflow.sum() + firm_inflow
        effort = self._initial_records(cadres)
        skill = np.array([c.skill for c in cadres])
        legacy = np.array([c.on_legacy for c in cadres])
        ids = np.array([c.unique_id for c in cadres])
        newcomer = np.array([not c.evaluated for c in cadres])
        routine = np.flatnonzero(~legacy)
        duties = _Duties(self, ids, effort, legacy)
        routing = self._routing(duties, effort, routine, village_inflow, firm_inflow)
        # A queue that would take longer than MAX_QUEUE_MONTHS to clear is not a settled
        # state (no effort, no collection): it starts at that many months of inflow.
        collect = self._collect_chance(duties, effort, routine)
        inflow = np.r_[village_inflow, firm_inflow]
        waiting = np.divide(1.0 - collect, collect, out=np.zeros_like(collect),
                            where=collect > 0)
        n_open = rng.poisson(np.minimum(inflow * waiting, inflow * MAX_QUEUE_MONTHS)
                             * (collect > 0))
        self._add_routine(rng, Status.OPEN, np.repeat(np.arange(inflow.size), n_open))
        # Owners turn over at the pool's rate; their casebooks pass to newcomers in the
        # same posts, so the routine cases of village cadres and of the others (firms'
        # only) are separate stocks, each handed to its newcomers by their posts' inflow
        # (_stationary). Pooled, a departing village cadre's cases passed to newcomers of
        # any post and the village stock started ~20 % below its expectation; handed to
        # a group's newcomers evenly, ~3 % below, and rose ~2 % by 2030.
        turnover = pool_turnover(p) / MONTHS_PER_YEAR
        pools = [(routine[sub], Origin.VILLAGE, T.PROBLEM_DIFFICULTY_BETA, routing[sub])
                 for sub in _post_groups(duties, routine) if routing[sub].sum() > 0]
        if legacy.any():
            pools.append((np.flatnonzero(legacy), Origin.LEGACY, T.LEGACY_DIFFICULTY_BETA,
                          None))
        for pool, origin, beta, routed in pools:
            d = rng.beta(*beta, STOCK_DRAWS)
            share = None if routed is None else routed.sum(axis=1) / routed.sum()
            stock = self._stationary(d, skill[pool], effort[pool], newcomer[pool], origin,
                                     turnover, share)
            per_inflow = stock.totals()
            if routed is None:
                n = p.legacy_backlog
            else:
                n = rng.poisson(routed.sum() * min(per_inflow.mean(), MAX_QUEUE_MONTHS))
            pick = np.sort(rng.choice(d.size, size=n, p=per_inflow / per_inflow.sum()))
            # Owners' stocks of each difficulty picked once, however often it is picked;
            # the owners are drawn case by case, in order (one uniform each).
            rows, repeat = np.unique(pick, return_inverse=True)
            owner = np.concatenate([_draw_rows(w, repeat[lo:hi] - first, rng)
                                    for w, first, lo, hi in stock.owners(rows, repeat)]
                                   or [[]]).astype(np.int64)
            difficulty, owners = d[pick], ids[pool[owner]]
            if routed is None:
                self.problems.add(Origin.LEGACY, np.full(n, -1), difficulty, -1,
                                  Status.ASSIGNED, owners)
                # Stationary: the stock's resolutions and those of the month's new cases
                # (resolved in the month they arrive at their odds) make the inflow.
                logit = self._logit(skill[pool[owner]], difficulty, effort[pool[owner]], origin)
                self.legacy_inflow = float((1.0 / (1.0 + np.exp(-logit))).sum()) / max(
                    1.0 - self._new_legacy_odds(), 1e-12)
            else:
                # A case's raiser is one its owner collects for: the owner's own villages
                # or a firm (an owner's stock is linear in its routed inflow, so each
                # case's source follows its owner's mix). An owner with no routed
                # inflow (none but handed-over cases) holds its group's mix.
                mix = np.where(routed.sum(axis=1, keepdims=True) > 0, routed,
                               routed.sum(axis=0))
                self._add_routine(rng, Status.ASSIGNED, _draw_rows(mix, owner, rng),
                                  difficulty, owners)
        if not legacy.any():
            self.problems.add(Origin.LEGACY, np.full(p.legacy_backlog, -1),
                              np.ones(p.legacy_backlog), -1)
            self.legacy_inflow = 0.0
        # Results are judged against the pre-programme caseload per cadre (a fixed norm).
        self.results_norm = (self.routine_inflow + self.legacy_inflow) / max(len(cadres), 1)
        self._set_caseloads(cadres, self._loads(effort, routine, routing))
        self.legacy_resolved_spinup: list[int] = []
        self.problems_raised = self.problems_resolved = self.legacy_resolved = 0
        self.legacy_raised = 0

    def _initial_records(self, cadres: list[Cadre]) -> np.ndarray:
        """The pool's evaluation records (一人一册) before the first simulated month.

        Each cadre's caseload is the norm in proportion to its effort, shared out within
        the routine pool by the inflow routed to each (:meth:`_loads`). Merit and standing
        are the moving averages of three years of noisy evaluations under the 2024 rules, as
        the run keeps them (scored with the run's ``cadres`` stream); newcomers on
        probation have none yet and work as cadres at the cut-off do. Effort is then
        chosen against those records, so the queues are derived at the effort the run
        itself settles at (records scored once without noise set it ~8 % lower, and the
        queues then shrank for years). The results score depends on caseloads relative
        to the norm only, so a provisional norm serves until the legacy inflow is known.
        Returns the effort.
        """
        p = self.p
        self.results_norm = self.routine_inflow / max(len(cadres), 1)
        effort = choose_effort(self, cadres)
        legacy = np.array([c.on_legacy for c in cadres], dtype=bool)
        ids = np.array([c.unique_id for c in cadres])
        routine = np.flatnonzero(~legacy)
        routing = self._routing(_Duties(self, ids, effort, legacy), effort, routine,
                                *self._inflows(p))
        self._set_caseloads(cadres, self._loads(effort, routine, routing))
        scored = [c for c in cadres if c.evaluated]
        for _ in range(RECORD_YEARS * max(1, round(MONTHS_PER_YEAR / p.evaluation_interval))):
            score_pool(self, scored, noise=p.evaluation_noise)
        return choose_effort(self, cadres)

    def _inflows(self, p) -> tuple[np.ndarray, float]:
        """Routine problems raised a month: by each village's households, and by all the
        firms together (any firm, each as likely)."""
        households = self.district.villages["households"].to_numpy(dtype=float)
        return p.problem_rate_household * households, p.problem_rate_firm * len(self.firm_list)

    @staticmethod
    def _loads(effort: np.ndarray, routine: np.ndarray, routing: np.ndarray) -> np.ndarray:
        """Each cadre's weight in the initial caseloads: its effort, except that the
        routine pool's total is shared out by the inflow routed to each (a village's
        cadres hear its problems; they resolve as many as they hear when settled)."""
        load = np.asarray(effort, dtype=float).copy()
        if routine.size and routing.sum() > 0:
            load[routine] = load[routine].sum() * routing.sum(axis=1) / routing.sum()
        return load

    def _set_caseloads(self, cadres: list[Cadre], effort: np.ndarray) -> None:
        mean = max(float(effort.mean()), 1e-9)  # once, not once per cadre
        for cadre, e in zip(cadres, effort, strict=True):
            cadre.resolved_avg = self.results_norm * e / mean

    def _add_routine(self, rng: np.random.Generator, status: Status, column: np.ndarray,
                     difficulty: np.ndarray | None = None,
                     owners: np.ndarray | int = NO_CADRE) -> None:
        """Add routine problems raised by ``column``: a village's index, or the number of
        villages for a firm (any firm, each as likely)."""
        n_v = len(self.village_list)
        from_firm = column == n_v
        source = np.where(from_firm, rng.integers(0, max(len(self.firm_list), 1), column.size),
                          column)
        origin = np.where(from_firm, Origin.FIRM, Origin.VILLAGE).astype(np.int8)
        if difficulty is None:
            difficulty = rng.beta(*T.PROBLEM_DIFFICULTY_BETA, column.size)
        self.problems.add(origin, source, difficulty, -1, status, owners)

    def _collect_chance(self, duties: _Duties, effort: np.ndarray,
                        routine: np.ndarray) -> np.ndarray:
        """Monthly chance that an open problem is collected: of each village's (by its
        own cadres' front-line time, else by the routine pool's mean effort) and, last,
        a firm's (by the pool's mean effort), as :meth:`_frontline` collects them."""
        if not routine.size:
            return np.zeros(len(self.village_list) + 1)
        pool = effort[routine].mean()
        time = np.r_[np.where(duties.staffed, duties.village_time, pool), pool]
        return 1.0 - np.exp(-self.p.collect_rate * time)

    def _routing(self, duties: _Duties, effort: np.ndarray, routine: np.ndarray,
                 village_inflow: np.ndarray, firm_inflow: float) -> np.ndarray:
        """Where each source's inflow goes once collected (routine cadres x sources, the
        villages then the firms): a village's among its cadres by their time in it, a
        firm's (and an unstaffed village's) among the routine pool by effort."""
        n_v = village_inflow.size
        routing = np.zeros((routine.size, n_v + 1))
        if not routine.size:
            return routing
        total = effort[routine].sum()
        by_effort = effort[routine] / total if total > 0 else np.full(routine.size,
                                                                      1.0 / routine.size)
        local = duties.staffed & (duties.village_time > 0)
        routing[:, :n_v] = np.where(local, 0.0, village_inflow)[None, :] * by_effort[:, None]
        routing[:, n_v] = firm_inflow * by_effort
        # Duties' cadres are routine: their positions among the routine pool.
        rank = np.full(effort.size, -1)
        rank[routine] = np.arange(routine.size)
        v = duties.village
        keep = local[v]
        np.add.at(routing, (rank[duties.who[keep]], v[keep]),
                  (village_inflow[v] * duties.time / duties.village_time[v])[keep])
        return routing

    def _stationary(self, d: np.ndarray, skill: np.ndarray, effort: np.ndarray,
                    newcomer: np.ndarray, origin: Origin, turnover: float,
                    share: np.ndarray | None = None) -> _PoolStock:
        """The stationary stock of :func:`stationary_stock` for the owners of a pool at the
        difficulties ``d``, by chunks of about :data:`CHUNK_PAIRS` difficulty-owner pairs.

        ``share`` is each owner's share of new cases; by default routine cases go to
        owners by effort and new legacy cases to any legacy cadre. A departing owner's
        casebook stays with its post: a newcomer takes over one in proportion to its
        post's share of the inflow (the newcomer's own, as a post's share is its villages').
        """
        uniform = np.full(effort.size, 1.0 / effort.size)
        if share is None or not np.isfinite(share).all():
            share = (effort / effort.sum() if origin != Origin.LEGACY and effort.sum() > 0
                     else uniform)
        inherited = newcomer * share if origin != Origin.LEGACY else newcomer
        successor = (inherited / inherited.sum() if inherited.sum() > 0
                     else newcomer / newcomer.sum() if newcomer.any() else uniform)
        return _PoolStock(self, d, skill[None, :], effort[None, :], origin, share, turnover,
                          successor)

    def _logit(self, skill: np.ndarray | float, difficulty: np.ndarray, effort: np.ndarray | float,
               origin: Origin | np.ndarray) -> np.ndarray:
        """Monthly resolution log-odds of assigned problems (odds ~ front-line time)."""
        base, log_effort, shift = self._logit_terms(skill, effort, origin)
        return base - self.p.resolve_difficulty * (difficulty - 0.5) + log_effort + shift

    def _logit_terms(self, skill: np.ndarray | float, effort: np.ndarray | float,
                     origin: Origin | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The terms of :meth:`_logit` other than the difficulty's, in its order: the base
        with the skill term, the log effort and the legacy shift."""
        p = self.p
        legacy = np.asarray(origin) == Origin.LEGACY.value
        return (p.resolve_base + p.resolve_skill * (np.asarray(skill) - 0.5),
                np.log(np.maximum(effort, 1e-9)), np.where(legacy, p.legacy_logit, 0.0))

    # ------------------------------------------------------------------- calendar

    def _expected_legacy_resolutions(self) -> float:
        """Expected legacy resolutions a month: the sum of the open cases' monthly odds."""
        q = self.problems
        cases = np.flatnonzero((q.origin == Origin.LEGACY.value)
                               & (q.status != Status.RESOLVED.value))
        cadres = list(self.cadres)
        if not cases.size or not cadres:
            return 0.0
        ids = np.array([c.unique_id for c in cadres])
        position = np.full(int(ids.max()) + 1, -1)
        position[ids] = np.arange(ids.size)
        who = position[np.maximum(q.cadre[cases], 0)]
        held = (q.cadre[cases] != NO_CADRE) & (who >= 0)
        skill = np.array([c.skill for c in cadres])
        effort = np.array([c.effort for c in cadres])
        # A case without a cadre (a new one) goes to a legacy cadre in the
        # month's front-line work: at the legacy cadres' mean skill and effort.
        legacy = np.array([c.on_legacy for c in cadres])
        if not legacy.any():  # nobody works on the backlog: nothing is resolved
            return 0.0
        case_skill = np.where(held, skill[who], skill[legacy].mean())
        case_effort = np.where(held, effort[who], effort[legacy].mean())
        logit = self._logit(case_skill, q.difficulty[cases], case_effort, Origin.LEGACY)
        return float((1.0 / (1.0 + np.exp(-logit))).sum())

    def _expected_village_stock(self) -> np.ndarray:
        """Each village's expected unresolved household problems under this month's
        efforts: open ones, ``inflow_v (1 - c_v) / c_v`` at its own collection chance,
        and assigned ones, its inflow routed to its cadres times each owner's stationary
        stock per unit of inflow (:func:`stationary_stock` is linear in the share, so a
        village's stock is the pool's with the village's routing as the share).
        """
        p = self.p
        cadres = list(self.cadres)
        village_inflow, firm_inflow = self._inflows(p)
        n_v = village_inflow.size
        if not cadres:
            return np.zeros(n_v)
        effort = np.array([c.effort for c in cadres])
        legacy = np.array([c.on_legacy for c in cadres])
        ids = np.array([c.unique_id for c in cadres])
        routine = np.flatnonzero(~legacy)
        duties = _Duties(self, ids, effort, legacy)
        collect = self._collect_chance(duties, effort, routine)[:n_v]
        waiting = np.divide(1.0 - collect, collect, out=np.full(n_v, float(MAX_QUEUE_MONTHS)),
                            where=collect > 0)
        open_stock = village_inflow * np.minimum(waiting, MAX_QUEUE_MONTHS)
        if not routine.size:
            return open_stock
        routing = self._routing(duties, effort, routine, village_inflow, firm_inflow)
        skill = np.array([c.skill for c in cadres])
        newcomer = np.array([not c.evaluated for c in cadres])
        turnover = pool_turnover(p) / MONTHS_PER_YEAR
        per_owner = np.zeros(routine.size)
        for sub in _post_groups(duties, routine):
            pool = routine[sub]
            share = routing[sub].sum(axis=1) / max(routing[sub].sum(), 1e-300)
            stock = self._stationary(_routine_nodes(), skill[pool], effort[pool],
                                     newcomer[pool], Origin.VILLAGE, turnover, share)
            # A case first routed to owner j stays r_j(d) with it, then with the
            # newcomers it passes to: r_j(d) / (1 - turnover S(d)), S = sum_k r_k succ_k.
            r = stock._kept(slice(None))
            handed = 1.0 - turnover * (r * stock.successor).sum(axis=1, keepdims=True)
            per_owner[sub] = (r / np.maximum(handed, 1e-12)).mean(axis=0)
        return open_stock + per_owner @ routing[:, :n_v]

    def _new_legacy_odds(self) -> float:
        """The chance that a new legacy case is resolved in the month it arrives: it goes
        to any legacy cadre (:meth:`_frontline`), its difficulty from the legacy mix."""
        cadres = [c for c in self.cadres if c.on_legacy]
        if not cadres:
            return 0.0
        d = _legacy_nodes()
        skill = np.array([c.skill for c in cadres])
        effort = np.array([c.effort for c in cadres])
        logit = self._logit(skill[None, :], d[:, None], effort[None, :], Origin.LEGACY)
        return float((1.0 / (1.0 + np.exp(-logit))).mean())

    def _raise_problems(self) -> None:
        rng, p = self.streams.problems, self.p
        households = self.district.villages["households"].to_numpy()
        per_village = rng.poisson(p.problem_rate_household * households)
        per_firm = rng.poisson(p.problem_rate_firm, len(self.firm_list))
        village_src = np.repeat(np.arange(households.size), per_village)
        firm_src = np.repeat(np.arange(len(self.firm_list)), per_firm)
        for origin, src in ((Origin.VILLAGE, village_src), (Origin.FIRM, firm_src)):
            self.problems.add(origin, src, rng.beta(*T.PROBLEM_DIFFICULTY_BETA, src.size),
                              self.month)
        self.problems_raised = int(village_src.size + firm_src.size)
        # Urban renewal keeps producing legacy cases (A30): in the spin-up as many as are
        # resolved, so the backlog stays the district's given size; then the 2024 rate.
        if self.month >= 0:
            n = int(rng.poisson(self.legacy_inflow))
        else:
            n = self.legacy_resolved
        self.legacy_raised = n
        if n:
            self.problems.add(Origin.LEGACY, np.full(n, -1),
                              rng.beta(*T.LEGACY_DIFFICULTY_BETA, n), self.month)

    def _frontline(self) -> None:
        """Cadres choose effort and learn; collect, assign and resolve problems; visit firms."""
        cadres = list(self.cadres)
        # Independent updates (their order does not matter), called directly: AgentSet.do
        # checks each agent's membership first, ~45 % of the loop's time.
        for cadre in cadres:
            cadre.step()
        self._hook("mentoring", cadres)
        # The qualities read once (after mentoring, the last change to them this month)
        # for the breaches, effort and skill, instead of a pass over the agents for each.
        qualities = quality_table(cadres)
        draw_breaches(self, cadres, qualities[:, INTEGRITY])
        effort = choose_effort(self, cadres, qualities[:, RESPONSIBILITY])
        ids = np.fromiter((c.unique_id for c in cadres), np.int64, len(cadres))
        skill = skill_of(self, cadres, qualities)
        legacy = np.fromiter((c.on_legacy for c in cadres), bool, len(cadres))
        q = self.problems
        routine = np.flatnonzero(~legacy)
        self._hook("frontline", cadres, routine)
        # Collection: the more time cadres spend on the front line, the sooner they hear
        # (chance 1 - exp(-rate x time) a month, met on each problem's own clock). A
        # village's problems are heard by its own cadres (包村), in the time each gives
        # it; a firm's, and those of a village whose cadres are all gone, by the routine
        # pool at its mean effort.
        open_idx = np.flatnonzero(q.status == Status.OPEN.value)
        open_idx = open_idx[q.origin[open_idx] != Origin.LEGACY.value]
        if routine.size and open_idx.size:
            duties = _Duties(self, ids, effort, legacy)
            source = q.source[open_idx]
            local = (q.origin[open_idx] == Origin.VILLAGE.value) & duties.staffed.take(
                np.where(q.origin[open_idx] == Origin.VILLAGE.value, source, 0))
            time = np.where(local, duties.village_time.take(np.where(local, source, 0)),
                            effort[routine].mean())
            heard = q.notices(open_idx, self.p.collect_rate * time)
            got, mine = open_idx[heard], local[heard]
            if got.size:
                # A village's cadres by their time in it; the pool's by effort (by the
                # problem's own uniform, so paired runs pick alike).
                owners = np.empty(got.size, dtype=np.int64)
                owners[mine] = duties.owner(q.source[got[mine]], q.pick[got[mine]])
                owners[~mine] = routine[_inverse_cdf(effort[routine], q.pick[got[~mine]])]
                q.status[got] = Status.ASSIGNED
                q.cadre[got] = ids[owners]
        # New legacy cases go to a legacy cadre (a departing one's pass to its successor).
        orphans = np.flatnonzero((q.origin == Origin.LEGACY.value)
                                 & (q.status != Status.RESOLVED.value) & (q.cadre == NO_CADRE))
        on_legacy = np.flatnonzero(legacy)
        if orphans.size and on_legacy.size:
            q.status[orphans] = Status.ASSIGNED
            q.cadre[orphans] = ids[on_legacy[_inverse_cdf(np.ones(on_legacy.size),
                                                          q.pick[orphans])]]
        self._resolve(cadres, ids, effort, skill)

    def _resolve(self, cadres: list[Cadre], ids: np.ndarray, effort: np.ndarray,
                 skill: np.ndarray) -> None:
        q = self.problems
        assigned = np.flatnonzero(q.status == Status.ASSIGNED.value)
        position = np.full(int(ids.max()) + 1 if ids.size else 1, -1)
        position[ids] = np.arange(ids.size)
        who = position.take(q.cadre[assigned])  # a gather by int32 ids: quicker than indexing
        origin = q.origin[assigned]
        logit = self._logit(skill[who], q.difficulty[assigned], effort[who], origin)
        # The month's hazard -log(1 - p) of resolution chance p = 1 / (1 + exp(-logit)) is
        # log(1 + exp(logit)), met on each problem's own clock.
        done = q.works(assigned, np.logaddexp(0.0, logit))
        resolved = assigned.compress(done)  # ``compress``: quicker than indexing by a mask
        q.status[resolved] = Status.RESOLVED
        q.resolved[resolved] = self.month
        counts = np.bincount(who.compress(done), minlength=ids.size)
        # Resolutions per month, a one-year moving average; over a newcomer's first year
        # the plain mean of its months in post (an average started at zero would score
        # every newcomer low on results for a year, whatever its effort).
        # Python ints (``tolist``) and a plain comparison for ``min``: the same numbers,
        # a quicker loop over every cadre every month.
        for cadre, k in zip(cadres, counts.tolist(), strict=True):
            cadre.resolved_month = k
            months = cadre.months_in_post + 1
            if months > MONTHS_PER_YEAR:
                months = MONTHS_PER_YEAR
            cadre.months_in_post = months
            cadre.resolved_avg += (k - cadre.resolved_avg) / months
        is_legacy = origin.compress(done) == Origin.LEGACY.value
        self.legacy_resolved = int(is_legacy.sum())
        self.problems_resolved = int(done.sum()) - self.legacy_resolved
        if self.month < 0:
            self.legacy_resolved_spinup.append(self.legacy_resolved)


def _post_groups(duties: _Duties, routine: np.ndarray) -> list[np.ndarray]:
    """The routine pool split by post: the cadres with villages and the others (indices
    into ``routine``, each group non-empty). A post's casebook stays with the post when
    it is refilled, so each group's cases pass to its own newcomers."""
    on_duty = np.zeros(int(routine.max(initial=-1)) + 1, dtype=bool)
    on_duty[duties.who] = True
    with_villages = on_duty[routine]
    return [sub for sub in (np.flatnonzero(with_villages), np.flatnonzero(~with_villages))
            if sub.size]


class _Duties:
    """The month's village duties (包村) of the cadres in post: who covers each village and
    how much front-line time it gets.

    A cadre's effort is split evenly over the villages it covers; a village's time is the
    sum over its cadres in post who work on routine problems (a departed cadre's duty,
    until its post is refilled, gives none).

    Args:
        model: The model (its ``duty_village``, ``duty_cadre`` and villages).
        ids: The cadres' ids.
        effort: Their front-line effort.
        legacy: Whether each works on the legacy backlog.

    Attributes:
        who: Position in ``ids`` of each duty's cadre (the duties held, by village).
        village: Each duty's village.
        time: Each duty's front-line time (the cadre's effort over its villages).
        village_time: Each village's front-line time (0 without cadres).
        staffed: Whether a village has a cadre in post.
        start: Where each village's duties start in ``who`` (villages + 1 offsets).
    """

    def __init__(self, model: FrontLine, ids: np.ndarray, effort: np.ndarray,
                 legacy: np.ndarray) -> None:
        n_v = len(model.village_list)
        cadre = model.duty_cadre
        position = np.full(max(int(ids.max(initial=0)), int(cadre.max(initial=0))) + 1, -1)
        position[ids] = np.arange(ids.size)
        who = position.take(cadre)
        held = who >= 0
        held[held] = ~legacy[who[held]]
        self.who, self.village = who[held], model.duty_village[held]
        covers = np.bincount(self.who, minlength=ids.size)
        self.time = effort[self.who] / covers[self.who]
        self.village_time = np.bincount(self.village, weights=self.time, minlength=n_v)
        self.start = np.searchsorted(self.village, np.arange(n_v + 1))
        self.staffed = np.diff(self.start) > 0

    def owner(self, village: np.ndarray, u: np.ndarray) -> np.ndarray:
        """The cadre (position in ``ids``) each uniform ``u`` picks among the cadres of its
        (staffed) ``village``, in proportion to their time in it (inverse transform)."""
        cum = np.cumsum(self.time)
        lo, hi = self.start[village], self.start[village + 1]
        before = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
        k = np.searchsorted(cum, before + u * (cum[hi - 1] - before), side="right")
        # ``u`` is float32 and can round to 1.0: kept inside the village's duties.
        return self.who[np.clip(k, lo, hi - 1)]


class _PoolStock:
    """A pool's stationary stock (:meth:`FrontLine._stationary`), chunk by chunk.

    Args:
        model: The model (its resolution odds, :meth:`FrontLine._logit`).
        d: The difficulties.
        skill: The owners' skill (a row: 1 x owners).
        effort: The owners' effort (a row).
        origin: The cases' origin.
        share: Each owner's share of new cases.
        turnover: Monthly probability that an owner leaves.
        successor: Weights of the owners who take over a departing owner's cases.
    """

    def __init__(self, model: FrontLine, d: np.ndarray, skill: np.ndarray,
                 effort: np.ndarray, origin: Origin, share: np.ndarray, turnover: float,
                 successor: np.ndarray) -> None:
        self.model, self.d, self.skill, self.effort = model, d, skill, effort
        self.origin, self.share, self.turnover, self.successor = (origin, share, turnover,
                                                                   successor)
        self.chunk = max(1, CHUNK_PAIRS // max(share.size, 1))
        self._terms = model._logit_terms(skill, effort, origin)  # the same for every chunk
        self._r: np.ndarray | None = None  # r_j at every difficulty, kept by totals()
        self._total = np.empty(0)  # S(d) at every difficulty, set by totals()

    def _kept(self, rows: np.ndarray | slice, out: np.ndarray | None = None) -> np.ndarray:
        """``r_j`` at the difficulties ``d[rows]`` (rows x owners, into ``out`` if given).

        The odds are :meth:`FrontLine._logit`'s, its terms taken once for all chunks and
        its negation built directly: ``difficulty - base - log_effort - shift`` is
        ``-(base - difficulty + log_effort + shift)`` to the bit (rounding is symmetric
        in sign), one pass over the chunk fewer, all in one array.
        """
        base, log_effort, shift = self._terms
        odds = np.subtract(self.model.p.resolve_difficulty * (self.d[rows, None] - 0.5), base)
        odds -= log_effort
        if shift.any():  # routine cases: subtracting 0.0 changes no number
            odds -= shift
        np.exp(odds, out=odds)
        odds += 1.0
        return _kept(np.divide(1.0, odds, out=odds), self.turnover, out)

    def totals(self) -> np.ndarray:
        """``S(d)``, the stock per unit of inflow, at every difficulty (without the
        owners' stocks, which only the picked difficulties need). For a pool of up to
        :data:`KEPT_PAIRS` difficulty-owner pairs, ``r_j`` and ``S(d)`` are kept for
        :meth:`owners`."""
        keep = self.d.size * self.share.size <= KEPT_PAIRS
        self._r = np.empty((self.d.size, self.share.size)) if keep else None
        parts = []
        for start in range(0, self.d.size, self.chunk):
            rows = slice(start, start + self.chunk)
            r = self._kept(rows, self._r[rows] if keep else None)
            parts.append(_stock_total(r, self.share, self.turnover, self.successor))
        self._total = np.concatenate(parts)
        return self._total

    def owners(self, rows: np.ndarray, repeat: np.ndarray):
        """Yield the owners' stocks ``S_j(d)`` at the difficulties ``d[rows]`` (distinct,
        ascending) by chunks, for the cases ``repeat`` (ascending indices into ``rows``):
        ``(S_j, first, lo, hi)``, the chunk's stocks, its first index into ``rows`` and
        the slice of ``repeat`` whose cases fall in it. Call after :meth:`totals`."""
        lo = 0
        for start in range(0, rows.size, self.chunk):
            picked = rows[start:start + self.chunk]
            r = self._kept(picked) if self._r is None else self._r[picked]
            hi = int(np.searchsorted(repeat, start + picked.size))
            yield (_owner_stock(r, self._total[picked], self.share, self.turnover,
                                self.successor), start, lo, hi)
            lo = hi
