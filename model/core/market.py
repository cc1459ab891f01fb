"""The labour market (steps 4-5 of the month): firms' vacancies, search and matching,
rural transitions, local hiring and settling in town.

Unemployment is an outcome: separations, retirees' entrants and growth flow into search,
and seekers (and, searching on the job, farmers) find jobs by a Cobb-Douglas matching
function; the start is the flow balance (R6 is a check, not an input). Rural workers
farm, take seasonal or cooperative work, migrate when earnings away beat the farm
(Harris-Todaro) and return; those holding an urban job settle in town (B15).

:class:`LabourMarket` is a part of :class:`~countysim.core.county.CountyModel`: its
methods read and write the model's shared state (``self.workforce``, the firm table,
the parameters ``self.p`` and the run's streams).
"""

from __future__ import annotations

import numpy as np

from . import tables as T
from .labour import RESERVE, URBAN, Workforce, draw_skill, sample_share
from .scenario import LAST_MONTH, month_index
from .tables import MONTHS_PER_YEAR, Labour
from .villages import LINE_MULTIPLIER, farm_returns

__all__ = ["LabourMarket"]


class LabourMarket:
    """Vacancies, matching, rural transitions and settling (a model part)."""

    def _job_finding_rate(self) -> float:
        """Monthly job-finding rate of seekers at the start (``job_finding_rate``)."""
        return float(self.spec.job_finding_rate)

    def _urban_seeking_share(self, f: float, settling: float = 0.0) -> float:
        """Urban unemployment at which the flows balance: an outcome, not an input.

        Urban residents move between jobs and search: jobs end at the separation rate,
        retirees' rows become young seekers, and the trend adds seekers; seekers find
        jobs at ``f``. Rural workers who hold an urban job and settle in town add
        ``settling`` (a monthly share of the urban labour force) to its employed. With
        the labour force growing at ``g + settling``, inflows ``(s + r)(1 - u) + g``
        equal outflows ``f u`` plus the growth ``(g + settling) u`` at
        ``u = (s + r + g) / (s + r + f + g + settling)``.
        """
        p = self.spec
        r = p.retirement_rate / MONTHS_PER_YEAR
        g = max(p.population_growth, 0.0) / MONTHS_PER_YEAR
        return (p.separation_rate + r + g) / (p.separation_rate + r + f + g + settling)

    def _rural_stationary(self, f: float) -> np.ndarray:
        """Each village's stationary January distribution over labour states (n_v x 5).

        The monthly transition matrices of the rural processes under the pre-programme
        levers (no cooperatives, no trained technicians), multiplied over a year; its
        fixed point is found by repeated squaring (the chain mixes within decades).
        """
        p = self.spec
        r = p.retirement_rate / MONTHS_PER_YEAR
        n_v = len(self.village_list)
        multiplier = LINE_MULTIPLIER[[v.line for v in self.village_list]]
        gap = self._migration_gap(multiplier)
        # Trained farmers move into transfer work a little faster (L12): spread over all.
        farmers = max(0.8 * float(self.district.villages["workforce"].sum()), 1.0)
        trained = min(p.nonfarm_trainees / farmers, 1.0) * p.training_nonfarm_gain / MONTHS_PER_YEAR
        settle = p.settle_rate / MONTHS_PER_YEAR
        F, L, U, M, S = (int(s) for s in Labour)
        year = np.broadcast_to(np.eye(5), (n_v, 5, 5)).copy()
        for month in range(MONTHS_PER_YEAR):
            P = np.zeros((n_v, 5, 5))
            P[:, F, L] = p.seasonal_take_rate * T.FARM_SEASON[month]
            P[:, F, M] = p.migration_rate * gap + trained
            P[:, F, U] = p.farmer_search * f
            P[:, L, F] = p.local_exit_rate
            P[:, U, S] = p.separation_rate
            P[:, M, S] = p.return_rate
            P[:, S, U] = f
            P[:, S, M] = p.migration_rate
            P[:, S, F] = p.farm_return_rate
            for state in (F, L, U, M):
                P[:, state, S] += r  # retirees' rows become young seekers
            P = np.minimum(P, 1.0)
            total = P.sum(axis=2)
            P /= np.maximum(total, 1.0)[:, :, None]
            P[:, np.arange(5), np.arange(5)] += 1.0 - np.minimum(total, 1.0)
            # Settlers leave the village for town: the chain loses them (sub-stochastic).
            P[:, U, U] -= min(settle, float(P[:, U, U].min()))
            year = year @ P
        # year^(2^12): far past the slowest mode (return ~ 10 years). Each village's
        # matrix is rescaled by one number (settlers leave, so it is sub-stochastic): its
        # rows' shape is the quasi-stationary make-up of those who stay.
        for _ in range(12):
            year = year @ year
            year /= year.sum(axis=2).max(axis=1)[:, None, None]
        return year[:, 0, :] / year[:, 0, :].sum(axis=1, keepdims=True)

    def _migration_gap(self, multiplier: np.ndarray) -> np.ndarray:
        """Harris-Todaro gap per village: expected earnings away over those at home."""
        p = self.p
        away = p.migrant_wage * p.remittance_share
        return np.maximum(away - p.farm_income * multiplier, 0.0) / max(away, 1.0)

    def _create_workforce(self) -> None:
        p, rng = self.spec, self.streams.labour
        n_v = len(self.village_list)
        village_lf = self.district.villages["workforce"].to_numpy()
        urban_lf = self.district.urban_labour_force
        f = self._job_finding_rate()
        shares = self._rural_stationary(f)
        # Reserve rows for the trend's entrants over the spin-up and the horizon.
        last = month_index(LAST_MONTH) - self.start_index  # runs may go past ``until``
        years = (self.spinup + last + 1) / MONTHS_PER_YEAR
        growth = (1.0 + max(p.population_growth, 0.0)) ** years - 1.0
        reserve = np.ceil(np.r_[village_lf, urban_lf] * growth).astype(np.int64) + 1
        home = np.concatenate([np.repeat(np.arange(n_v), village_lf),
                               np.full(urban_lf, URBAN)])
        extra = np.concatenate([np.repeat(np.arange(n_v), reserve[:n_v]),
                                np.full(reserve[-1], URBAN)])
        rng.shuffle(extra)  # entrants arrive from every village in turn
        n_rural = int(village_lf.sum())
        # Each worker's state by inversion of its village's cumulative shares: the count
        # of the states' cumulative shares below its uniform, counted state by state (a
        # pass over the workers per state, not a workers x states array).
        u = rng.random(n_rural)
        rural_state = np.zeros(n_rural, dtype=np.int64)
        for cum in np.cumsum(shares, axis=1).T.copy():
            rural_state += cum[home[:n_rural]] < u
        rural_state = rural_state.clip(0, 4)
        # Settlers in town a month: rural holders of urban jobs at ``settle_rate``.
        urban_jobs_rural = float(shares[:, Labour.URBAN_JOB] @ village_lf)
        settling = p.settle_rate / MONTHS_PER_YEAR * urban_jobs_rural / max(urban_lf, 1)
        self.seeking_share_start = self._urban_seeking_share(f, settling)
        urban_state = np.where(rng.random(urban_lf) < self.seeking_share_start,
                               Labour.SEEKING, Labour.URBAN_JOB)
        state = np.concatenate([rural_state, urban_state,
                                np.full(extra.size, RESERVE)]).astype(np.int8)
        home = np.concatenate([home, extra])
        employer = np.full(home.size, -1, dtype=np.int32)
        employed = np.flatnonzero(state == Labour.URBAN_JOB.value)
        rng.shuffle(employed)
        # Fill modelled firms first (up to their size), the rest work for other employers.
        sizes = self.district.firms["employees"].to_numpy()
        slots = np.repeat(np.arange(sizes.size), sizes)[: employed.size]
        employer[employed] = sizes.size
        employer[employed[: slots.size]] = slots
        self.workforce = Workforce(home, state, draw_skill(home.size, rng), employer,
                                   self.n_employers, active=home.size - extra.size)
        table = self.firm_table
        table.employees = self.workforce.employees[:-1]  # a view: kept by every move
        table.base_demand = table.employees * (1.0 + p.vacancy_share)
        self.other_base_demand = self.workforce.employees[-1] * (1.0 + p.vacancy_share)
        # Matching efficiency that yields the stationary job-finding rate at the start.
        seekers = int((state == Labour.SEEKING.value).sum()) + p.farmer_search * int(
            (state[:n_rural] == Labour.FARMING.value).sum())
        vacancies = p.vacancy_share * employed.size
        a = p.matching_elasticity
        self.matching_efficiency = f * seekers ** (1 - a) / max(vacancies, 1.0) ** (1 - a)
        self.separations = self.matches = self.placements = self.vacancies = 0
        self.settlers = 0
        self.settlers_by_village = np.zeros(n_v, dtype=np.int64)
        # Settlers since the initial state, and the urban demand they are measured against
        # (jobs plus vacancies at the start): settled households buy services in town.
        self.settlers_total = 0
        self.demand_ref = max(employed.size * (1.0 + p.vacancy_share), 1.0)
        self.retirements = self.labour_force_change = self.nonfarm_entrants = 0

    def _settle_labour_demand(self) -> None:
        """Firms' demand at the expected open problems equals employees plus vacancies (L5).

        Open problems drag output to 1 / (1 + ``problem_productivity_penalty`` x open), so
        the initial demand is grossed up by the *expected* number of open problems per
        firm under the 2024 effort (the derived stock over the firms), the same for every
        firm: a firm's own draw is luck, and resolving it raises the firm's demand above
        where it started. The same expectation is the reference of the investment drag.
        """
        table = self.firm_table
        n = max(len(self.firm_list), 1)
        table.expected_open = float(self.problems.open_by_firm(n).sum()) / n
        table.base_demand = table.base_demand * (
            1.0 + self.spec.problem_productivity_penalty * table.expected_open)

    def _firms_post_vacancies(self) -> None:
        employees = self.workforce.employees
        p, table = self.p, self.firm_table
        table.open_problems = self.problems.open_by_firm(len(self.firm_list))
        table.post_vacancies(self.labour_demand_index, p.problem_productivity_penalty,
                             p.labour_demand_elasticity, p.problem_investment_drag)
        other = self.other_base_demand * self.labour_demand_index
        self.other_vacancies = max(round(other) - int(employees[-1]), 0)

    def _labour_market(self) -> None:
        p, rng, wf, m = self.p, self.streams.labour, self.workforce, self.month
        self.separations = wf.separate(p.separation_rate, rng, m)
        vacancies = np.r_[self.firm_table.vacancies, self.other_vacancies]
        boost = np.ones(vacancies.size)
        boost[:-1] += p.matching_boost * self.firm_table.on_platform
        # Searchers are found once: the rural transitions start from the same rows less
        # those matching moved (a subset keeps its order), at a fraction of a full scan.
        # Seekers are anywhere; farmers rural, found by a scan of the rural rows only
        # (quicker than one scan of all rows for both and a split by state).
        state = wf.state
        seekers = np.flatnonzero(state == Labour.SEEKING.value)
        farmers = wf.rural_where(lambda s: (state[s] == Labour.FARMING.value) & wf.rural[s])
        self.matches, self.placements, entrants = wf.match(
            vacancies, boost, self.matching_efficiency, p.matching_elasticity, rng, m,
            p.farmer_search, seekers, farmers)
        self.vacancies = int(vacancies.sum())
        entrants += self._rural_transitions(rng, seekers, farmers)
        self._hook("labour_market")
        local_jobs = np.array([v.local_jobs for v in self.village_list])
        held = np.bincount(wf.home[wf.rural_where(lambda s: wf.coop_job[s])],
                           minlength=len(self.village_list))
        entrants += wf.hire_local(local_jobs - held, rng, m)
        self.nonfarm_entrants = entrants
        # Rural workers with an urban job settle in town with their household (B15); the
        # land they leave partly lies idle and passes to the collective (L8).
        holders = wf.rural_where(lambda s: wf.rural[s] & (wf.state[s] == Labour.URBAN_JOB.value))
        settlers = sample_share(holders, p.settle_rate / MONTHS_PER_YEAR, rng)
        by_village = wf.settle(settlers)
        self.settlers = int(settlers.size)
        self.settlers_total += self.settlers
        self.settlers_by_village[:] = 0
        self.settlers_by_village[: by_village.size] = by_village[: len(self.village_list)]
        per_settler = p.idle_land_per_settler
        places = np.flatnonzero(by_village)
        # Python ints (exact): a quicker loop than over NumPy scalars.
        for i, n in zip(places.tolist(), by_village[places].tolist(), strict=True):
            self.village_list[i].idle_land += per_settler * n

    def _rural_transitions(self, rng: np.random.Generator, seekers: np.ndarray,
                           farmers: np.ndarray) -> int:
        """Seasonal local work, Harris-Todaro migration, returns; returns new A5 entrants.

        Farmers and rural seekers face competing transitions: one uniform draw each
        decides which (if any) happens this month, so nobody moves twice. ``seekers`` and
        ``farmers`` are the rows seeking and farming before this month's matching.
        """
        p, wf, m = self.p, self.workforce, self.month
        rural, state = wf.rural, wf.state
        # Only rural residents farm, do local wage work or migrate; both sides seek.
        # ``compress`` is ``a[mask]``, faster for large index arrays (here and below).
        farming = farmers.compress(state[farmers] == Labour.FARMING.value)
        seeking = seekers.compress(rural[seekers] & (state[seekers] == Labour.SEEKING.value))
        # Local wage work and migration are rural states: one scan of the rural rows for
        # both, then split (each part keeps its order).
        moving = wf.rural_where(lambda s: ((state[s] == Labour.LOCAL_WAGE.value) & ~wf.coop_job[s])
                                | (state[s] == Labour.MIGRANT.value))
        is_migrant = state[moving] == Labour.MIGRANT.value
        seasonal, migrants = moving.compress(~is_migrant), moving.compress(is_migrant)
        # Seasonal local wage work ends (cooperative jobs are not seasonal).
        wf.move(sample_share(seasonal, p.local_exit_rate, rng), Labour.FARMING, m)
        # Migrants return home and look for work.
        wf.move(sample_share(migrants, p.return_rate, rng), Labour.SEEKING, m)
        # Farmers: Harris-Todaro migration when earnings away beat the farm, or seasonal
        # farm wage work (day-lily picking, harvests: B10).
        gap = self._migration_gap(farm_returns(self))
        u = rng.random(farming.size)
        trained = wf.trained_until[farming] >= m  # L12: training helps into transfer work
        # The village's rate taken to the farmers (the same products, 130 of them rather
        # than one per farmer; ``take`` gathers by the int32 homes ~3x quicker than
        # indexing); the trained add the gain. Without trained farmers it would add 0.0,
        # which changes no comparison below (at most the sign of a zero), so it is skipped.
        go = (p.migration_rate * gap).take(wf.home[farming])
        if trained.any():
            go = go + trained * (p.training_nonfarm_gain / MONTHS_PER_YEAR)
        season = p.seasonal_take_rate * T.FARM_SEASON[self.calendar_month - 1]
        entrants = wf.move(farming.compress(u < go), Labour.MIGRANT, m)
        entrants += wf.move(farming.compress((u >= go) & (u < go + season)), Labour.LOCAL_WAGE, m)
        # Rural seekers migrate (nothing to lose at home) or go back to the land.
        u = rng.random(seeking.size)
        entrants += wf.move(seeking[u < p.migration_rate], Labour.MIGRANT, m)
        back = (u >= p.migration_rate) & (u < p.migration_rate + p.farm_return_rate)
        wf.move(seeking[back], Labour.FARMING, m)
        return entrants
