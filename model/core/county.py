"""The county model: a Mesa model of villages, enterprises and cadres, stepping monthly.

A run starts from a settled district: slow stocks (labour states, the problem queues,
the legacy backlog's make-up, labour demand and vacancies) are derived so that they are
stationary under the pre-programme (2024) levers, and ``spinup_months`` months are then
simulated under those levers before the start month, drawing from the run's own seed
tree, to settle the rest (evaluation records, caseloads, seasonal work). Programmes of
2025 switch on at their dates; a lever may change every January (scenario schedules).

Each step is one month, in the order of the design page:

1. drivers: output (B7), labour demand, nominal wages; the labour force renews (B2);
2. problems arise (villages, firms, urban renewal);
3. front-line work (A2, A3): cadres choose effort; firm visits, collection, resolution;
4. firms set labour demand and their vacancy stock;
5. labour market: separations, matching (A4), rural transitions (A5), local hiring;
6. villages and cooperatives (A13-A15, A18, A21, A22), prices, product-line imitation;
7. cadres: departures and refills, leading-post vacancies, evaluation (A1, A7-A9);
8. observation (from the start month on).

The programmes (A3, A11, A13, A15, A18, A21, L12) live in :mod:`countysim.core.programmes`,
one module each with its levers, links and hooks; this module keeps the calendar and the
shared state, and calls their hooks at their places in the month.

Example:
    >>> import countysim
    >>> model = countysim.CountyModel("scenarios/baseline_2025.toml", rng=1)
    >>> model.run_until("2025-06")
    >>> ds = model.dataset()
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from . import tables as T
from .cadres import Cadre, choose_effort, draw_breaches, evaluate, score_pool
from .district import District, build_district, draw_cadre_qualities, pool_turnover
from .firms import Enterprise, FirmTable
from .labour import RESERVE, URBAN, Workforce, draw_skill, sample_share
from .observe import MODEL_REPORTERS, Recorder
from .problems import NO_CADRE, Origin, ProblemQueue, Status
from .programmes import PROGRAMMES, Programme
from .scenario import (
    FIRST_MONTH,
    LAST_MONTH,
    Scenario,
    default_scenario,
    load_scenario,
    month_index,
)
from .seeds import SeedLike, Streams, as_seed_sequence
from .tables import MONTHS_PER_YEAR, Labour
from .villages import LINE_MULTIPLIER, Village

__all__ = ["CountyModel", "run"]

MAX_QUEUE_MONTHS = 120  # a derived queue longer than ten years of inflow is not settled

N_LINES = len(T.PRODUCT_LINE_NAMES)


class CountyModel(mesa.Model):
    """Agent-based model of a county-level district's development targets.

    Args:
        scenario: A :class:`~countysim.core.scenario.Scenario`, a path to a scenario TOML
            file, or ``None`` for the registry defaults.
        rng: Seed of the run: an ``int`` or a ``numpy.random.SeedSequence`` (a
            ``Generator`` is accepted for Mesa tooling and turned into a seed). Every
            subsystem draws from its own stream spawned from it; the spin-up too.
        **overrides: Parameter values replacing the scenario's, e.g. ``pilot_villages=0``.

    Attributes:
        spec: The scenario (after overrides), with its lever schedules (``scenario`` is
            Mesa's own attribute).
        p: The parameters in force this year (levers as scheduled).
        district: The initial district tables.
        workforce: Workers as arrays (:class:`~countysim.core.labour.Workforce`).
        problems: The problem queue (:class:`~countysim.core.problems.ProblemQueue`).
        month: Index of the last simulated month (0 = start month; negative in the
            spin-up); ``-spinup_months - 1`` before the first step.
    """

    def __init__(self, scenario: Scenario | str | Path | None = None, *,
                 rng: SeedLike | np.random.Generator | None = None, **overrides: Any) -> None:
        if isinstance(rng, np.random.Generator):
            rng = np.random.SeedSequence(int(rng.integers(2**63)))
        seed = as_seed_sequence(rng) if rng is not None else np.random.SeedSequence()
        self.seed = seed
        self.streams = Streams.from_seed(seed)
        super().__init__(rng=self.streams.mesa)
        if scenario is None:
            scenario = default_scenario()
        elif not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        self.spec = scenario.replace(**overrides) if overrides else scenario
        self.start_index = month_index(self.spec.start)
        self.spinup = int(self.spec.spinup_months)
        self.month = -self.spinup - 1
        self.horizon = month_index(self.spec.until) - self.start_index
        self.p = self.spec.in_year(self._year_of(-self.spinup))
        self.policy_year = None
        self.district: District = build_district(self.spec)
        self.nominal_index = self._nominal(-self.spinup)
        self.labour_demand_index = 1.0
        self.line_price = np.ones(N_LINES)
        self._create_villages()
        self._create_firms()
        self._create_cadres()
        self._assign_villages()
        self._create_workforce()
        self._create_problems()
        self._settle_labour_demand()
        self._create_leading_posts()
        self.leading_vacancies = 0
        self.outcomes_ytd = np.zeros(4, dtype=np.int64)  # promoted, advanced, removed, evaluated
        self.departed_unchanged_ytd = 0  # evaluated this year, no outcome, then departed
        self.recorder = Recorder(self)
        # For Mesa tooling (batch_run, visualisation); the Dataset is the primary output.
        self.datacollector = mesa.DataCollector(model_reporters=MODEL_REPORTERS)
        for _ in range(self.spinup):
            self._advance()
        self._end_spinup()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        # Pickling copies the firm table's view of the workforce's employees: re-link it
        # so that moves keep updating it.
        self.firm_table.employees = self.workforce.employees[:-1]

    # ------------------------------------------------------------------ creation

    @property
    def villages(self) -> mesa.agent.AgentSet:
        """The villages, in district order."""
        return self.agents_by_type[Village]

    @property
    def firms(self) -> mesa.agent.AgentSet:
        """The enterprises, in district order."""
        return self.agents_by_type[Enterprise]

    @property
    def cadres(self) -> mesa.agent.AgentSet:
        """All cadres in post (evaluated pool and newcomers on probation)."""
        return self.agents_by_type[Cadre]

    def _create_villages(self) -> None:
        frame = self.district.villages
        for i, row in enumerate(frame.to_dict("records")):
            Village(self, i, row)
        self.village_list: list[Village] = list(self.villages)
        self.township_members: dict[str, list[Village]] = {}
        for v in self.village_list:
            self.township_members.setdefault(v.township, []).append(v)
        # Pilot villages are taken in the order of the pilot rule, as many as the year's
        # lever says; a village leaves the programme only if the lever shrinks.
        self.pilot_order = self.district.pilot_order
        rng = self.streams.villages
        workforce = frame["workforce"].to_numpy()
        self.village_weights = workforce / workforce.sum()
        # The programmes' own state (technicians are placed in villages here).
        self.programmes: dict[str, Programme] = {cls.name: cls() for cls in PROGRAMMES}
        self._hook("init")
        farmers = np.zeros(N_LINES)
        lines = np.array([v.line for v in self.village_list])
        np.add.at(farmers, lines, workforce)
        self.base_supply = np.maximum(farmers, 1.0)
        # How strong a leadership each village's cooperative needs before it earns (L7):
        # a fixed trait of the village, so a cooperative is a shell or not for a reason.
        for v, hurdle in zip(self.village_list, rng.random(len(self.village_list)), strict=True):
            v.hurdle = float(hurdle)
        n_v = len(self.village_list)
        self.leadership = np.ones(n_v)  # L7 multiplier of each village's cooperative
        self.unlock = np.ones(n_v)  # L6 multiplier of its activation pace
        self.land_factor = np.ones(n_v)  # farm income per farmer from land per farmer
        self.village_growth = np.ones(n_v)  # cumulative gain from village leadership (L2)
        self.farmers_ref: np.ndarray | None = None

    def _create_firms(self) -> None:
        frame = self.district.firms
        self.firm_table = FirmTable.create(frame["employees"].to_numpy(dtype=float))
        for i, row in enumerate(frame.to_dict("records")):
            Enterprise(self, i, row)
        self.firm_list: list[Enterprise] = list(self.firms)
        self.n_employers = len(self.firm_list) + 1  # modelled firms + other employers

    def _create_cadres(self) -> None:
        frame = self.district.cadres
        quality_cols = list(T.CADRE_QUALITIES)
        for row, q in zip(frame.to_dict("records"), frame[quality_cols].to_numpy(), strict=True):
            Cadre(self, q, row["post"], row["tenure_years"])
        pool = list(self.cadres)
        rng, s = self.streams.cadres, self.spec
        legacy = rng.choice(len(pool), size=round(s.legacy_cadre_share * len(pool)),
                            replace=False)
        for i in legacy:
            pool[int(i)].on_legacy = True
        # In a steady state the newcomers of the past year are on probation: posts turn
        # over at h a year (pool_turnover), so a share 1 - exp(-h) joined within the year.
        # They are among those with under a year in rank (the table's pool already holds
        # newcomers, learned as long as they have served): they keep their qualities and
        # joined as many months ago as their years in rank say.
        tenure = np.array([c.tenure for c in pool])
        recent = np.flatnonzero(tenure < 1.0)
        share = min(1.0, (1.0 - np.exp(-pool_turnover(s))) * len(pool) / max(recent.size, 1))
        for i in recent[rng.random(recent.size) < share]:
            cadre = pool[int(i)]
            cadre.evaluated = False
            cadre.joined = self.month - round(cadre.tenure * MONTHS_PER_YEAR)

    def _assign_villages(self) -> None:
        """Each village gets a responsible cadre (包村干部): a township cadre on routine work.

        Cadres are dealt to the villages in a random order; with fewer such cadres than
        villages, one cadre is responsible for several. A newcomer who refills a post takes
        over its villages (:meth:`_refill`).
        """
        cadres = [c for c in self.cadres if c.post == "township" and not c.on_legacy]
        if not cadres:  # a district without township cadres: any routine cadre
            cadres = [c for c in self.cadres if not c.on_legacy] or list(self.cadres)
        order = self.streams.cadres.permutation(len(cadres))
        n_v = len(self.village_list)
        self.village_lead = np.array([cadres[order[i % len(cadres)]].unique_id
                                      for i in range(n_v)], dtype=np.int64)
        self.lead_ref: tuple[float, float] | None = None  # 2024 mean, sd of log leadership

    def _create_leading_posts(self) -> None:
        """Leading posts (township and department heads) held by promoted cadres (L2).

        ``leader_capability`` holds the capability of each post's holder (NaN: vacant,
        run by an acting deputy of the pool's average capability). Posts are filled as
        the 2024 rules filled them at the end of the spin-up (:meth:`_end_spinup`).
        """
        # Held from the start (values set at the end of the spin-up); NaN marks a vacancy.
        self.leader_capability = np.zeros(int(self.spec.leading_posts))
        self.promoted_capability: list[float] = []  # promotions of the spin-up
        self.leader_ref: tuple[float, float] | None = None  # 2024 mean, pool sd
        self.leader_z = 0.0
        self.leader_factor = 1.0  # cumulative output gain from leader quality (L2)

    # ---------------------------------------------------------- settled stocks

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
        cum = np.cumsum(shares, axis=1)[home[:n_rural]]
        rural_state = (cum < rng.random(n_rural)[:, None]).sum(axis=1).clip(0, 4)
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
        employed = np.flatnonzero(state == Labour.URBAN_JOB)
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
        seekers = int((state == Labour.SEEKING).sum()) + p.farmer_search * int(
            (state[:n_rural] == Labour.FARMING).sum())
        vacancies = p.vacancy_share * employed.size
        a = p.matching_elasticity
        self.matching_efficiency = f * seekers ** (1 - a) / max(vacancies, 1.0) ** (1 - a)
        self.separations = self.matches = self.placements = self.vacancies = 0
        self.settlers = 0
        self.settlers_by_village = np.zeros(n_v, dtype=np.int64)
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

    def _create_problems(self) -> None:
        """Queues at their stationary size under the pre-programme effort.

        Routine problems: a stock that is collected at ``c`` a month and resolved at
        ``p(d)`` holds ``inflow (1 - c) / c`` open and ``inflow f(d) / p(d)`` assigned
        ones by difficulty. Legacy cases: the district's backlog, with the make-up a
        steady inflow would leave (hard cases linger), replenished during the spin-up
        by as many as are resolved, so it is the given size at the start month.
        """
        p, rng = self.spec, self.streams.problems
        self.problems = ProblemQueue()
        cadres = list(self.cadres)
        self.routine_inflow = (p.problem_rate_household * self.district.villages["households"]
                               .to_numpy().sum() + p.problem_rate_firm * len(self.firm_list))
        effort = self._initial_records(cadres)
        skill = np.array([c.skill for c in cadres])
        legacy = np.array([c.on_legacy for c in cadres])
        ids = np.array([c.unique_id for c in cadres])
        routine = np.flatnonzero(~legacy)
        # A queue that would take longer than MAX_QUEUE_MONTHS to clear is not a settled
        # state (no effort, no collection): it starts at that many months of inflow.
        longest = self.routine_inflow * MAX_QUEUE_MONTHS
        collect = 1.0 - np.exp(-p.collect_rate * effort[routine].mean()) if routine.size else 0
        if collect > 0:
            n_open = rng.poisson(min(self.routine_inflow * (1.0 - collect) / collect, longest))
            self._add_routine(n_open, rng, Status.OPEN)
        for pool, origin, beta, n_fixed in (
                (routine, Origin.VILLAGE, T.PROBLEM_DIFFICULTY_BETA, None),
                (np.flatnonzero(legacy), Origin.LEGACY, T.LEGACY_DIFFICULTY_BETA,
                 p.legacy_backlog)):
            if pool.size == 0:
                continue
            # Mean-field stationary stock: (difficulty, owner) pairs as they arrive, each
            # lingering 1/p months; drawn in proportion to that.
            d = rng.beta(*beta, 8192)
            share = effort[pool] / effort[pool].sum() if effort[pool].sum() > 0 else None
            owner = pool[rng.choice(pool.size, size=d.size, p=share)]
            resolve = 1.0 / (1.0 + np.exp(-self._logit(skill[owner], d, effort[owner], origin)))
            weights = (1.0 / resolve) / (1.0 / resolve).sum()
            n = n_fixed if n_fixed is not None else rng.poisson(
                min(self.routine_inflow * (1.0 / resolve).mean(), longest))
            pick = rng.choice(d.size, size=n, p=weights)
            difficulty, owners = d[pick], ids[owner[pick]]
            if origin == Origin.LEGACY:
                self.problems.add(Origin.LEGACY, np.full(n, -1), difficulty, -1,
                                  Status.ASSIGNED, owners)
                self.legacy_inflow = float((resolve * weights).sum() * n)
            else:
                self._add_routine(n, rng, Status.ASSIGNED, difficulty, owners)
        if not legacy.any():
            self.problems.add(Origin.LEGACY, np.full(p.legacy_backlog, -1),
                              np.ones(p.legacy_backlog), -1)
            self.legacy_inflow = 0.0
        # Results are judged against the pre-programme caseload per cadre (a fixed norm).
        self.results_norm = (self.routine_inflow + self.legacy_inflow) / max(len(cadres), 1)
        self._set_caseloads(cadres, effort)
        self.legacy_resolved_spinup: list[int] = []
        self.problems_raised = self.problems_resolved = self.legacy_resolved = 0
        self.legacy_raised = 0

    def _initial_records(self, cadres: list[Cadre]) -> np.ndarray:
        """The pool's evaluation records (一人一册) before the first simulated month.

        Each cadre's caseload is the norm in proportion to its effort; merit and standing
        are scored without noise; effort is then chosen against that standing. (The
        results score depends on caseloads relative to the norm only, so a provisional
        norm serves until the legacy inflow is known.) Returns the effort.
        """
        self.results_norm = self.routine_inflow / max(len(cadres), 1)
        self._set_caseloads(cadres, choose_effort(self, cadres))
        score_pool(self, cadres, noise=0.0)
        return choose_effort(self, cadres)

    def _set_caseloads(self, cadres: list[Cadre], effort: np.ndarray) -> None:
        for cadre, e in zip(cadres, effort, strict=True):
            cadre.resolved_avg = self.results_norm * e / max(float(effort.mean()), 1e-9)

    def _add_routine(self, n: int, rng: np.random.Generator, status: Status,
                     difficulty: np.ndarray | None = None,
                     owners: np.ndarray | int = NO_CADRE) -> None:
        """Add ``n`` routine problems from households and firms in proportion to inflow."""
        p = self.spec
        households = self.district.villages["households"].to_numpy()
        firm_rate = p.problem_rate_firm * len(self.firm_list)
        from_firm = rng.random(n) < firm_rate / max(self.routine_inflow, 1e-12)
        source = np.where(from_firm, rng.integers(0, len(self.firm_list), n),
                          rng.choice(households.size, size=n, p=households / households.sum()))
        origin = np.where(from_firm, Origin.FIRM, Origin.VILLAGE).astype(np.int8)
        if difficulty is None:
            difficulty = rng.beta(*T.PROBLEM_DIFFICULTY_BETA, n)
        self.problems.add(origin, source, difficulty, -1, status, owners)

    def _logit(self, skill: np.ndarray | float, difficulty: np.ndarray, effort: np.ndarray | float,
               origin: Origin | np.ndarray) -> np.ndarray:
        """Monthly resolution log-odds of assigned problems (odds ~ front-line time)."""
        p = self.p
        legacy = np.asarray(origin) == Origin.LEGACY
        return (p.resolve_base + p.resolve_skill * (np.asarray(skill) - 0.5)
                - p.resolve_difficulty * (difficulty - 0.5)
                + np.log(np.maximum(effort, 1e-9)) + np.where(legacy, p.legacy_logit, 0.0))

    # ------------------------------------------------------------------- calendar

    def _hook(self, phase: str, *args: Any) -> None:
        """Call every programme's ``phase`` hook, in the order of :data:`PROGRAMMES`."""
        for programme in self.programmes.values():
            getattr(programme, phase)(self, *args)

    def _year_of(self, month: int) -> int:
        return 2025 + (self.start_index + month) // MONTHS_PER_YEAR

    def _nominal(self, month: int) -> float:
        """Nominal wage and price level relative to the start month.

        Wages grow with labour productivity (output over employment growth, B7) plus
        inflation; transfers, farm incomes and collective incomes are indexed to it.
        """
        p = self.p
        g_e = p.employment_elasticity * p.output_growth
        growth = (1.0 + p.output_growth) / (1.0 + g_e) * (1.0 + p.inflation)
        return growth ** (month / MONTHS_PER_YEAR)

    @property
    def calendar_month(self) -> int:
        """Month of the year of the current step, 1-12."""
        return (self.start_index + self.month) % MONTHS_PER_YEAR + 1

    @property
    def year(self) -> int:
        """Calendar year of the current step."""
        return self._year_of(self.month)

    def run_until(self, until: str) -> None:
        """Step until the month ``until`` (``YYYY-MM``) has been simulated."""
        if not FIRST_MONTH <= until <= LAST_MONTH:
            raise ValueError(f"until={until!r} must be a month in {FIRST_MONTH}..{LAST_MONTH}")
        target = month_index(until) - self.start_index
        if target < 0:
            raise ValueError(f"until={until} is before the start month {self.spec.start}")
        while self.month < target:
            self.step()

    # ----------------------------------------------------------------------- step

    def step(self) -> None:
        """Advance the district by one month and record it."""
        self._advance()
        self.recorder.record()
        self.datacollector.collect(self)
        # Mesa tooling (batch_run, the visualisation) stops at the scenario's horizon.
        self.running = self.month < self.horizon

    def _advance(self) -> None:
        self.month += 1
        if self.calendar_month == 1 or self.policy_year is None:
            self._start_year()
        self._drivers()
        self._raise_problems()
        self._frontline()
        self._firms_post_vacancies()
        self._labour_market()
        self._villages()
        self._cadre_turnover()
        self._evaluation()

    def _end_spinup(self) -> None:
        """Fix the legacy inflow at the 2024 regime's resolution rate of the backlog.

        The spin-up replaces each month's resolved legacy cases the month after; the last
        month's are replaced here, so the backlog is the district's given size at the start.
        The inflow from then on is the *expected* number of resolutions a month of that
        backlog under the spin-up's last efforts (the mean-field rate), not the realised
        count of the spin-up's months, whose Poisson noise (~3 % over 24 months) would set
        the backlog on a trend.
        """
        if self.legacy_resolved_spinup:
            n = self.legacy_resolved
            self.problems.add(Origin.LEGACY, np.full(n, -1),
                              self.streams.problems.beta(*T.LEGACY_DIFFICULTY_BETA, n),
                              self.month)
            self.legacy_inflow = self._expected_legacy_resolutions()
        self.legacy_resolved_spinup = []
        self._fix_references()

    def _expected_legacy_resolutions(self) -> float:
        """Expected legacy resolutions a month: the sum of the open cases' monthly odds."""
        q = self.problems
        cases = np.flatnonzero((q.origin == Origin.LEGACY) & (q.status != Status.RESOLVED))
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
        # A case without a cadre (new, or its cadre left) goes to a legacy cadre in the
        # month's front-line work: at the legacy cadres' mean skill and effort.
        legacy = np.array([c.on_legacy for c in cadres])
        if not legacy.any():  # nobody works on the backlog: nothing is resolved
            return 0.0
        case_skill = np.where(held, skill[who], skill[legacy].mean())
        case_effort = np.where(held, effort[who], effort[legacy].mean())
        logit = self._logit(case_skill, q.difficulty[cases], case_effort, Origin.LEGACY)
        return float((1.0 / (1.0 + np.exp(-logit))).sum())

    def _fix_references(self) -> None:
        """The 2024 levels the reforms' effects are measured from (L2, L6, L7).

        Leadership of the villages: mean and sd of the responsible cadres' log
        leadership now. Leading posts: their holders are drawn from the capabilities the
        2024 rules promoted (in the generated pool's history, else in the spin-up;
        vacancies stay vacant), whose mean is the reference, in sd of the pool's
        capability. Open household problems per village:
        the stock now.
        """
        self._village_leadership()
        x = self.lead_log[np.isfinite(self.lead_log)]
        self.lead_ref = (float(x.mean()), float(max(x.std(), 1e-6))) if x.size else (0.0, 1.0)
        pool = np.array([c.capability for c in self.cadres])
        promoted = self.district.promoted_capability
        if promoted.size == 0:  # a district read from files: the spin-up's promotions
            promoted = np.array(self.promoted_capability or np.sort(pool)[pool.size // 2:])
        held = np.flatnonzero(~np.isnan(self.leader_capability))
        self.leader_capability[held] = self.streams.cadres.choice(promoted, size=held.size)
        self.leader_ref = (float(promoted.mean()), float(max(pool.std(), 1e-6)))
        households = self.district.villages["households"].to_numpy(dtype=float)
        total = self.problems.open_by_village(households.size).sum()
        self.village_open_ref = total * households / max(households.sum(), 1.0)
        self._village_leadership()

    def _start_year(self) -> None:
        year = self.year
        self.p = self.spec.in_year(year)
        self.policy_year = year
        self.workforce.start_year()
        self.outcomes_ytd[:] = 0
        self.departed_unchanged_ytd = 0
        self._hook("start_year")
        if self.month >= 0:
            self.recorder.start_year()

    def _drivers(self) -> None:
        p = self.p
        # Leaders better than 2024's add growth (L2): output, and with it labour demand
        # (at the employment elasticity) and wages (productivity), cumulatively.
        if self.month >= 0:
            self.leader_z = self._leader_quality_z()
            self.leader_factor *= (1.0 + p.leader_growth_effect * self.leader_z) ** (
                1.0 / MONTHS_PER_YEAR)
        e = p.employment_elasticity
        self.nominal_index = self._nominal(self.month) * self.leader_factor ** (1.0 - e)
        age = self.month + self.spinup  # months since the district's initial state
        g_e = e * p.output_growth
        self.labour_demand_index = (1.0 + g_e) ** (age / MONTHS_PER_YEAR) * self.leader_factor ** e
        self.output_index = (1.0 + p.output_growth) ** (self.month / MONTHS_PER_YEAR) * (
            self.leader_factor)
        self.retirements, self.labour_force_change = self.workforce.renew(
            p.retirement_rate / MONTHS_PER_YEAR,
            (1.0 + p.population_growth) ** (1 / MONTHS_PER_YEAR) - 1.0,
            self.streams.labour, self.month)

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
        self.cadres.do("step")  # independent updates: their order does not matter
        cadres = list(self.cadres)
        self._hook("mentoring", cadres)
        draw_breaches(self, cadres)
        effort = choose_effort(self, cadres)
        ids = np.array([c.unique_id for c in cadres])
        skill = np.array([c.skill for c in cadres])
        legacy = np.array([c.on_legacy for c in cadres])
        rng, q = self.streams.frontline, self.problems
        routine = np.flatnonzero(~legacy)
        self._hook("frontline", cadres, routine)
        # Collection: the more time cadres spend on the front line, the sooner they hear.
        open_idx = np.flatnonzero(q.status == Status.OPEN)
        open_idx = open_idx[q.origin[open_idx] != Origin.LEGACY]
        if routine.size and open_idx.size:
            p_collect = 1.0 - np.exp(-self.p.collect_rate * effort[routine].mean())
            got = sample_share(open_idx, p_collect, rng)
            if got.size:  # none without front-line time (and no shares to draw owners by)
                owners = routine[rng.choice(routine.size, size=got.size,
                                            p=effort[routine] / effort[routine].sum())]
                q.status[got] = Status.ASSIGNED
                q.cadre[got] = ids[owners]
        # Legacy cases, new or whose cadre left, go to a legacy cadre.
        orphans = np.flatnonzero((q.origin == Origin.LEGACY) & (q.status != Status.RESOLVED)
                                 & (q.cadre == NO_CADRE))
        on_legacy = np.flatnonzero(legacy)
        if orphans.size and on_legacy.size:
            q.status[orphans] = Status.ASSIGNED
            q.cadre[orphans] = ids[on_legacy[rng.integers(0, on_legacy.size, orphans.size)]]
        self._resolve(cadres, ids, effort, skill, rng)

    def _resolve(self, cadres: list[Cadre], ids: np.ndarray, effort: np.ndarray,
                 skill: np.ndarray, rng: np.random.Generator) -> None:
        q = self.problems
        assigned = np.flatnonzero(q.status == Status.ASSIGNED)
        position = np.full(int(ids.max()) + 1 if ids.size else 1, -1)
        position[ids] = np.arange(ids.size)
        who = position[q.cadre[assigned]]
        origin = q.origin[assigned]
        logit = self._logit(skill[who], q.difficulty[assigned], effort[who], origin)
        done = rng.random(assigned.size) < 1.0 / (1.0 + np.exp(-logit))
        q.status[assigned[done]] = Status.RESOLVED
        q.resolved[assigned[done]] = self.month
        counts = np.bincount(who[done], minlength=ids.size)
        memory = 1.0 / MONTHS_PER_YEAR  # resolutions per month, a one-year moving average
        for cadre, k in zip(cadres, counts, strict=True):
            cadre.resolved_month = int(k)
            cadre.resolved_avg += memory * (k - cadre.resolved_avg)
        is_legacy = origin[done] == Origin.LEGACY
        self.legacy_resolved = int(is_legacy.sum())
        self.problems_resolved = int(done.sum()) - self.legacy_resolved
        if self.month < 0:
            self.legacy_resolved_spinup.append(self.legacy_resolved)

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
        seekers, farmers = wf.indices(Labour.SEEKING), wf.indices(Labour.FARMING, rural=True)
        self.matches, self.placements, entrants = wf.match(
            vacancies, boost, self.matching_efficiency, p.matching_elasticity, rng, m,
            p.farmer_search, seekers, farmers)
        self.vacancies = int(vacancies.sum())
        entrants += self._rural_transitions(rng, seekers, farmers)
        self._hook("labour_market")
        local_jobs = np.array([v.local_jobs for v in self.village_list])
        held = np.bincount(wf.home[wf.coop_job], minlength=len(self.village_list))
        entrants += wf.hire_local(local_jobs - held, rng, m)
        self.nonfarm_entrants = entrants
        # Rural workers with an urban job settle in town with their household (B15); the
        # land they leave partly lies idle and passes to the collective (L8).
        settlers = sample_share(np.flatnonzero(wf.rural & (wf.state == Labour.URBAN_JOB)),
                                p.settle_rate / MONTHS_PER_YEAR, rng)
        by_village = wf.settle(settlers)
        self.settlers = int(settlers.size)
        self.settlers_by_village[:] = 0
        self.settlers_by_village[: by_village.size] = by_village[: len(self.village_list)]
        for i in np.flatnonzero(by_village):
            self.village_list[int(i)].idle_land += p.idle_land_per_settler * by_village[i]

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
        farming = farmers[state[farmers] == Labour.FARMING]
        seeking = seekers[rural[seekers] & (state[seekers] == Labour.SEEKING)]
        seasonal = np.flatnonzero((state == Labour.LOCAL_WAGE) & ~wf.coop_job)
        migrants = np.flatnonzero(state == Labour.MIGRANT)
        # Seasonal local wage work ends (cooperative jobs are not seasonal).
        wf.move(sample_share(seasonal, p.local_exit_rate, rng), Labour.FARMING, m)
        # Migrants return home and look for work.
        wf.move(sample_share(migrants, p.return_rate, rng), Labour.SEEKING, m)
        # Farmers: Harris-Todaro migration when earnings away beat the farm, or seasonal
        # farm wage work (day-lily picking, harvests: B10).
        gap = self._migration_gap(np.array([v.farm_return() for v in self.village_list]))
        u = rng.random(farming.size)
        trained = wf.trained_until[farming] >= m  # L12: training helps into transfer work
        go = p.migration_rate * gap[wf.home[farming]] + trained * (
            p.training_nonfarm_gain / MONTHS_PER_YEAR)
        season = p.seasonal_take_rate * T.FARM_SEASON[self.calendar_month - 1]
        entrants = wf.move(farming[u < go], Labour.MIGRANT, m)
        entrants += wf.move(farming[(u >= go) & (u < go + season)], Labour.LOCAL_WAGE, m)
        # Rural seekers migrate (nothing to lose at home) or go back to the land.
        u = rng.random(seeking.size)
        entrants += wf.move(seeking[u < p.migration_rate], Labour.MIGRANT, m)
        back = (u >= p.migration_rate) & (u < p.migration_rate + p.farm_return_rate)
        wf.move(seeking[back], Labour.FARMING, m)
        return entrants

    def _villages(self) -> None:
        self._hook("villages")
        self._village_leadership()
        self.villages.do("step")  # independent updates: their order does not matter
        if -MONTHS_PER_YEAR <= self.month < 0:  # the simulated 2024: A14's base
            self.recorder.add_base_month(np.array([v.collective_income for v in self.village_list]))
        self.cells = self.workforce.cell_counts(len(self.village_list))
        farming = self.cells[1:, Labour.FARMING]
        # Fewer farmers farm more land each (land per farmer, against the start).
        if self.farmers_ref is None:
            self.farmers_ref = np.maximum(farming, 1).astype(float)
        self.land_factor = (np.maximum(farming, 1) / self.farmers_ref) ** (-self.p.land_elasticity)
        # Prices fall as a line's supply (farm output) rises (saturation).
        lines = np.array([v.line for v in self.village_list])
        output = farming * self.land_factor * np.array([v.productivity for v in self.village_list])
        supply = np.bincount(lines, weights=output, minlength=N_LINES)
        if farming.sum() > 0:  # prices are relative to the start's mix of the same supply
            base = self.base_supply * (farming.sum() / max(self.base_supply.sum(), 1.0))
            self.line_price = (np.maximum(supply, 1.0) / np.maximum(base, 1.0)) ** (
                -1.0 / self.p.price_elasticity)
        self.villages.shuffle_do("imitate")

    def _village_leadership(self) -> None:
        """Each village's leadership (L7) and unlocked assets (L6) this month.

        Leadership is the log of the responsible cadre's capability x responsibility x
        front-line effort (:attr:`Cadre.skill` counts integrity failures), in sd of the
        2024 pool from its 2024 mean (``lead_ref``, fixed at the end of the spin-up); the
        cooperative's multiplier is ``1 + coop_leader_effect`` per sd, kept in 0.5-1.5.
        The unlocking multiplier compares the village's open household problems with the
        2024 expectation: ``((1 + expected) / (1 + open)) ^ unlock_elasticity``.
        """
        p = self.p
        by_id = {c.unique_id: c for c in self.cadres}
        lead = [by_id.get(int(i)) for i in self.village_lead]
        x = np.log(np.maximum([c.skill * c.effort if c is not None else np.nan
                               for c in lead], 1e-6))
        self.lead_log = x
        if self.lead_ref is None:
            return
        mean, sd = self.lead_ref
        z = np.clip(np.nan_to_num((x - mean) / sd), -3.0, 3.0)
        self.leadership = np.clip(1.0 + p.coop_leader_effect * z, 0.5, 1.5)
        # The responsible cadre leads the village's economy as a leader leads a place (L2):
        # farm and collective income grow faster per sd of leadership above 2024's.
        if self.month >= 0:
            self.village_growth *= (1.0 + p.leader_growth_effect * z) ** (1.0 / MONTHS_PER_YEAR)
        open_now = self.problems.open_by_village(len(self.village_list))
        self.unlock = ((1.0 + self.village_open_ref) / (1.0 + open_now)) ** p.unlock_elasticity

    def _leader_quality_z(self) -> float:
        """Mean capability of leading-post holders, in pool sd above its 2024 mean (L2).

        A vacant post is run by an acting deputy of the pool's current mean capability.
        """
        if self.leader_ref is None or self.leader_capability.size == 0:
            return 0.0
        acting = float(np.mean([c.capability for c in self.cadres]))
        held = np.where(np.isnan(self.leader_capability), acting, self.leader_capability)
        mean, sd = self.leader_ref
        return float((held.mean() - mean) / sd)

    def _cadre_turnover(self) -> None:
        """Departures (retirement, transfer) refilled by newcomers; leading posts fall vacant."""
        p, rng = self.p, self.streams.cadres
        pool = list(self.cadres)
        leaving = [pool[i] for i in sample_share(np.arange(len(pool)),
                                                 p.cadre_exit_rate / MONTHS_PER_YEAR, rng)]
        # Evaluated this year with no outcome: they stay counted as unchanged (A10).
        year = self.year
        self.departed_unchanged_ytd += sum(
            1 for c in leaving if c.evaluated_year == year and c.outcome_year != year)
        self._refill(leaving)
        new = int(rng.poisson(self.spec.leading_posts * p.leading_post_turnover / MONTHS_PER_YEAR))
        self.leading_vacancies += new
        held = np.flatnonzero(~np.isnan(self.leader_capability))
        if new and held.size:  # posts fall vacant as their holders leave
            self.leader_capability[rng.choice(held, size=min(new, held.size), replace=False)] = (
                np.nan)

    def _refill(self, leaving: list[Cadre]) -> None:
        """Newcomers take the posts of cadres who leave; the year's first ``recruits``
        newcomers each get a mentor (A11)."""
        if not leaving:
            return
        self.problems.release(np.array([c.unique_id for c in leaving]))
        q = draw_cadre_qualities(len(leaving), self.streams.cadres,
                                 shift=T.RECRUIT_CAPABILITY_SHIFT)
        mentors = self.recruit_mentors  # kept by the mentoring programme (A11)
        for k, old in enumerate(leaving):
            new = Cadre(self, q[k], old.post, 0.0, evaluated=False, joined=self.month)
            new.on_legacy = old.on_legacy
            if mentors:
                new.mentor_id = mentors.pop()
            self.village_lead[self.village_lead == old.unique_id] = new.unique_id
            old.remove()

    def _evaluation(self) -> None:
        if self.calendar_month % self.p.evaluation_interval != 0:
            return
        pool = [c for c in self.cadres if c.evaluated]
        promoted, removed = evaluate(self, pool)
        capability = [c.capability for c in promoted]
        if self.month < 0:
            self.promoted_capability.extend(capability)
        vacant = np.flatnonzero(np.isnan(self.leader_capability))[: len(capability)]
        self.leader_capability[vacant] = capability[: vacant.size]
        self._refill(promoted + removed)

    # ---------------------------------------------------------------- indicators

    def unchanged_ytd(self) -> int:
        """Cadres evaluated this year with no outcome (in post, or departed since)."""
        year = self.year
        return self.departed_unchanged_ytd + sum(
            1 for c in self.cadres if c.evaluated_year == year and c.outcome_year != year)

    def dataset(self, variables: tuple[str, ...] | list[str] | None = None):
        """The run so far as an :class:`xarray.Dataset` (see :mod:`countysim.core.observe`).

        Args:
            variables: The variables to include (default: all of ``VARIABLES``).
        """
        return self.recorder.to_dataset(variables)


def run(scenario: Scenario | str | Path | None = None, *, seed: SeedLike = 0,
        until: str | None = None, variables: tuple[str, ...] | list[str] | None = None,
        **overrides: Any):
    """Run one scenario and return its :class:`xarray.Dataset`.

    Args:
        scenario: Scenario, path to a scenario file, or ``None`` for the defaults.
        seed: Seed of the run (``int`` or ``numpy.random.SeedSequence``).
        until: Last month to simulate, ``YYYY-MM``; default (``None``) the scenario's
            ``until``.
        variables: Names of the Dataset's variables to build (default: all of
            :data:`countysim.core.observe.VARIABLES`); every one is still simulated.
        **overrides: Parameter values replacing the scenario's; NumPy scalars
            (``np.int64(3)``, ``np.bool_(True)``) count as the Python values they hold.

    Returns:
        The run's Dataset with dims ``time`` and ``village`` (and ``labour_state``).

    Raises:
        TypeError: ``seed`` is ``None`` or not an int or ``SeedSequence`` (a run must be
            reproducible).
        ScenarioError: A bad scenario, override or ``until`` (not a month string, or
            outside the scenario's start .. 2030-12), or an unknown name in
            ``variables``.
    """
    # Imported here so that this function's changes stay inside it.
    from .scenario import ScenarioError, _check_month

    seed = as_seed_sequence(seed)
    overrides = {k: v.item() if isinstance(v, np.generic) else v for k, v in overrides.items()}
    if until is not None:
        _check_month("<arguments>", "until", until)
    # Checked before the simulation, so a typo costs no run and is not a bare KeyError.
    _check_variables(variables)
    model = CountyModel(scenario, rng=seed, **overrides)
    if until is not None and until < model.spec.start:
        raise ScenarioError("<arguments>", "until", f"{until} is before the scenario's "
                            f"start {model.spec.start}")
    model.run_until(until or model.spec.until)
    return model.dataset(variables)


def _check_variables(variables: Sequence[str] | str | None) -> None:
    """Refuse ``variables`` naming anything but the run Dataset's variables, in one line.

    Args:
        variables: The names passed to :func:`run` (``None`` for all).

    Raises:
        ScenarioError: ``variables`` is a bare string or names an unknown variable.
    """
    import difflib

    from .observe import VARIABLES
    from .scenario import ScenarioError

    if variables is None:
        return
    where = "the run Dataset's variables: countysim.core.observe.VARIABLES, docs/outputs.md"
    if isinstance(variables, str):  # a bare string would be read letter by letter
        raise ScenarioError("<arguments>", "variables", f"{variables!r} is a string; pass a "
                            f"list of names, e.g. [{variables!r}] ({where})")
    for name in variables:
        if name not in VARIABLES:
            close = difflib.get_close_matches(str(name), list(VARIABLES), n=2)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ScenarioError("<arguments>", "variables",
                                f"unknown variable {name!r}{hint} ({where})")
