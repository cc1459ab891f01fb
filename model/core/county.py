"""The county model: a Mesa model of villages, enterprises and cadres, stepping monthly.

Each step is one month, in the order of the design page:

1. drivers (output growth B7, seasonality);
2. problems arise (villages, firms);
3. front-line work (A2, A3): cadres' effort, collection, resolution, legacy cases, firm visits;
4. firms post vacancies;
5. labour market: separations, matching (A4), rural transitions (A5), cooperative hiring;
6. villages and cooperatives (A13-A15, A18, A21, A22);
7. cadre evaluation (A1, A7-A9), leading-post vacancies, refills;
8. observation.

Example:
    >>> import countysim
    >>> model = countysim.CountyModel("scenarios/baseline_2025.toml", rng=1)
    >>> model.run_until("2025-06")
    >>> ds = model.dataset()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mesa
import numpy as np

from . import tables as T
from .cadres import Cadre, evaluate
from .district import District, build_district, draw_cadre_qualities
from .firms import Enterprise
from .labour import Workforce, weighted_sample
from .observe import MODEL_REPORTERS, Recorder
from .problems import NO_CADRE, Origin, ProblemQueue, Status
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
from .villages import MENTEES_PER_EXPERT, PARTY_BRANCH, Village

__all__ = ["CountyModel", "run"]


class CountyModel(mesa.Model):
    """Agent-based model of a county-level district's development targets.

    Args:
        scenario: A :class:`~countysim.core.scenario.Scenario`, a path to a scenario TOML file,
            or ``None`` for the registry defaults.
        rng: Seed of the run: an ``int`` or a ``numpy.random.SeedSequence`` (a
            ``Generator`` is accepted for Mesa tooling and turned into a seed). Every
            subsystem draws from its own stream spawned from it.
        **overrides: Parameter values replacing the scenario's, e.g. ``pilot_villages=0``.

    Attributes:
        p: The scenario in force (after overrides).
        district: The initial district tables.
        workforce: Workers as arrays (:class:`~countysim.core.labour.Workforce`).
        problems: The problem queue (:class:`~countysim.core.problems.ProblemQueue`).
        month: Index of the last simulated month (0 = start month); -1 before the first step.
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
        self.p = scenario.replace(**overrides) if overrides else scenario
        self.start_index = month_index(self.p.start)
        self.month = -1
        self.horizon = month_index(self.p.until) - self.start_index
        self.district: District = build_district(self.p)
        self._create_villages()
        self._create_firms()
        self._create_cadres()
        self._create_workforce()
        self._create_problems()
        self.leading_posts = 0
        self.outcomes_ytd = np.zeros(4, dtype=np.int64)  # promoted, advanced, removed, evaluated
        self.demand = 1.0
        self.township_best_line: dict[str, tuple[str, float]] = {}
        self.recorder = Recorder(self)
        # For Mesa tooling (batch_run, visualisation); the Dataset is the primary output.
        self.datacollector = mesa.DataCollector(model_reporters=MODEL_REPORTERS)

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
        """All cadres in post (evaluated pool and recruits on probation)."""
        return self.agents_by_type[Cadre]

    def _create_villages(self) -> None:
        rows = self.district.villages.to_dict("records")
        for i, row in enumerate(rows):
            Village(self, i, row)
        self.village_list: list[Village] = list(self.villages)
        rng = self.streams.villages
        workforce = self.district.villages["workforce"].to_numpy()
        weights = workforce / workforce.sum()
        # Technicians (A18) and returnees (A21) live where the people are.
        techs = rng.multinomial(self.p.technicians, weights)
        trained = min(self.p.technicians, self.p.expert_mentors * MENTEES_PER_EXPERT)
        # Experts take the technicians in turn: a technician is mentored if among the first
        # `trained` in a random order; a village is trained when all its mentored ones are.
        order = rng.permutation(np.repeat(np.arange(len(rows)), techs))
        mentored = np.bincount(order[:trained], minlength=len(rows))
        returnee_home = rng.choice(len(rows), size=self.p.returnees, p=weights)
        # Returnee businesses start in a random month of the first year.
        returnee_start = rng.integers(0, MONTHS_PER_YEAR, size=self.p.returnees)
        for v in self.village_list:
            v.technicians = int(mentored[v.index])
            v.trained_from = self.p.training_months if mentored[v.index] > 0 else -1
            v.returnee_starts = np.sort(returnee_start[returnee_home == v.index])
        self._form_alliances()

    def _form_alliances(self) -> None:
        """Group pilot villages of a township into alliances of ``alliance_size`` (A15)."""
        if not self.p.alliances:
            return
        next_id = 0
        by_township: dict[str, list[Village]] = {}
        for v in self.village_list:
            if v.cooperative == PARTY_BRANCH:
                by_township.setdefault(v.township, []).append(v)
        for members in by_township.values():
            for k in range(0, len(members), self.p.alliance_size):
                group = members[k:k + self.p.alliance_size]
                if len(group) > 1:  # an alliance needs partners
                    for v in group:
                        v.alliance = next_id
                    next_id += 1

    def _create_firms(self) -> None:
        for i, row in enumerate(self.district.firms.to_dict("records")):
            Enterprise(self, i, row)
        self.firm_list: list[Enterprise] = list(self.firms)

    def _create_cadres(self) -> None:
        frame = self.district.cadres
        quality_cols = list(T.CADRE_QUALITIES)
        for row, q in zip(frame.to_dict("records"), frame[quality_cols].to_numpy(), strict=True):
            Cadre(self, q, row["post"], row["tenure_years"])
        pool = list(self.cadres)
        rng = self.streams.cadres
        n_legacy = round(self.p.legacy_cadre_share * len(pool))
        for i in rng.choice(len(pool), size=n_legacy, replace=False):
            pool[int(i)].on_legacy = True
        # Mentoring (A11): the least experienced cadres are mentees of the most capable
        # senior ones; each recruit gets a mentor of its own.
        tenure = np.array([c.tenure for c in pool])
        capability = np.array([c.capability for c in pool])
        mentees = np.argsort(tenure, kind="stable")[: self.p.mentor_pairs]
        others = np.setdiff1d(np.arange(len(pool)), mentees)
        mentors = others[np.argsort(-capability[others], kind="stable")]
        mentors = mentors[: self.p.mentor_pairs + self.p.recruits]
        for mentee, mentor in zip(mentees, mentors, strict=False):
            pool[mentee].mentor_id = pool[mentor].unique_id
        q = draw_cadre_qualities(self.p.recruits, rng, shift=T.RECRUIT_CAPABILITY_SHIFT)
        for k in range(self.p.recruits):
            recruit = Cadre(self, q[k], "township", 0.0, evaluated=False, joined=0)
            recruit.mentor_id = pool[mentors[self.p.mentor_pairs + k]].unique_id

    def _create_workforce(self) -> None:
        p = self.p
        shares = np.array([p.rural_share_farming, p.rural_share_local_wage,
                           p.rural_share_urban_job, p.rural_share_migrant], dtype=float)
        shares = np.append(shares, max(0.0, 1.0 - shares.sum()))
        self.workforce = Workforce.create(
            self.district.villages["workforce"].to_numpy(), shares / shares.sum(),
            self.district.urban_labour_force, p.urban_seeking_share,
            self.district.firms["employees"].to_numpy(), self.streams.labour)
        self.n_employers = len(self.firm_list) + 1  # modelled firms + other employers
        self._refresh_employees()

    def _create_problems(self) -> None:
        self.problems = ProblemQueue()
        legacy = [c.unique_id for c in self.cadres if c.on_legacy]
        n = self.p.legacy_backlog
        if n and legacy:
            rng = self.streams.problems
            owners = np.array(legacy)[np.arange(n) % len(legacy)]
            self.problems.add(Origin.LEGACY, np.full(n, -1), rng.beta(*T.LEGACY_DIFFICULTY_BETA, n),
                              -1, Status.ASSIGNED, owners)
        elif n:
            self.problems.add(Origin.LEGACY, np.full(n, -1), np.ones(n), -1)
        self.problems_raised = 0
        self.problems_resolved = 0
        self.legacy_resolved = 0
        self.visits_month = 0
        self.firms_visited_ytd = 0

    def _refresh_employees(self) -> None:
        employees = self.workforce.employees(self.n_employers)
        for firm in self.firm_list:
            firm.employees = int(employees[firm.index])
        self.other_employees = int(employees[-1])

    # ------------------------------------------------------------------- calendar

    @property
    def calendar_month(self) -> int:
        """Month of the year of the current step, 1-12."""
        return (self.start_index + self.month) % MONTHS_PER_YEAR + 1

    @property
    def year(self) -> int:
        """Calendar year of the current step."""
        return 2025 + (self.start_index + self.month) // MONTHS_PER_YEAR

    def run_until(self, until: str) -> None:
        """Step until the month ``until`` (``YYYY-MM``) has been simulated."""
        if not FIRST_MONTH <= until <= LAST_MONTH:
            raise ValueError(f"until={until!r} must be a month in {FIRST_MONTH}..{LAST_MONTH}")
        target = month_index(until) - self.start_index
        if target < 0:
            raise ValueError(f"until={until} is before the start month {self.p.start}")
        while self.month < target:
            self.step()

    # ----------------------------------------------------------------------- step

    def step(self) -> None:
        """Advance the district by one month."""
        self.month = self.steps - 1
        if self.calendar_month == 1:
            self._start_year()
        self._drivers()
        self._raise_problems()
        self._frontline()
        self._firms_post_vacancies()
        self._labour_market()
        self._villages()
        self._evaluation()
        self.recorder.record()
        self.datacollector.collect(self)
        # Mesa tooling (batch_run, the visualisation) stops at the scenario's horizon.
        self.running = self.month < self.horizon

    def _start_year(self) -> None:
        self.workforce.start_year()
        self.outcomes_ytd[:] = 0
        self.firms_visited_ytd = 0
        self.firms.set("visited", False)
        self.firms.set("subsidies", 0.0)
        self.recorder.start_year()

    def _drivers(self) -> None:
        growth = (1.0 + self.p.output_growth) ** (self.month / MONTHS_PER_YEAR)
        self.demand = growth * T.VACANCY_SEASON[self.calendar_month - 1]

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

    def _frontline(self) -> None:
        """Cadres choose effort and learn; collect, assign and resolve problems; visit firms."""
        self.cadres.shuffle_do("step")
        cadres = list(self.cadres)
        ids = np.array([c.unique_id for c in cadres])
        effort = np.array([c.effort for c in cadres])
        skill = np.array([c.skill for c in cadres])
        legacy = np.array([c.on_legacy for c in cadres])
        rng, q = self.streams.frontline, self.problems
        routine = np.flatnonzero(~legacy & (effort > 0))
        self._visit_firms(cadres, routine)
        # Collection: the more time cadres spend on the front line, the sooner they hear.
        open_idx = np.flatnonzero(q.status == Status.OPEN)
        open_idx = open_idx[q.origin[open_idx] != Origin.LEGACY]
        if routine.size and open_idx.size:
            p_collect = 1.0 - np.exp(-self.p.collect_rate * effort[routine].mean())
            got = open_idx[rng.random(open_idx.size) < p_collect]
            owners = routine[rng.choice(routine.size, size=got.size,
                                        p=effort[routine] / effort[routine].sum())]
            q.status[got] = Status.ASSIGNED
            q.cadre[got] = ids[owners]
        # Legacy cases whose cadre left go to another legacy cadre.
        orphans = np.flatnonzero((q.origin == Origin.LEGACY) & (q.status != Status.RESOLVED)
                                 & (q.cadre == NO_CADRE))
        on_legacy = np.flatnonzero(legacy)
        if orphans.size and on_legacy.size:
            q.status[orphans] = Status.ASSIGNED
            q.cadre[orphans] = ids[on_legacy[rng.integers(0, on_legacy.size, orphans.size)]]
        self._resolve(ids, effort, skill, rng)

    def _visit_firms(self, cadres: list[Cadre], routine: np.ndarray) -> None:
        """Visit this month's share of ``firm_visits_per_year`` firms (A3)."""
        per_year = self.p.firm_visits_per_year
        m = self.calendar_month
        due = per_year * m // MONTHS_PER_YEAR - per_year * (m - 1) // MONTHS_PER_YEAR
        self.visits_month = 0
        if due == 0 or routine.size == 0:
            return
        rng = self.streams.frontline
        visited = np.array([f.visited for f in self.firm_list])
        size = np.array([f.employees for f in self.firm_list], dtype=float) + 1.0
        # Unvisited firms first, larger ones more likely; revisits only once all are seen.
        weights = np.where(visited, 1e-9, size)
        chosen = weighted_sample(weights, min(due, len(self.firm_list)), rng)
        q = self.problems
        firm_open = np.flatnonzero((q.origin == Origin.FIRM) & (q.status == Status.OPEN))
        for i in chosen:
            firm = self.firm_list[int(i)]
            self.firms_visited_ytd += not firm.visited
            firm.receive_visit(self.p.subsidy_per_visit)
        hit = firm_open[np.isin(q.source[firm_open], chosen)]
        visitor = cadres[int(routine[rng.integers(routine.size)])].unique_id
        q.status[hit] = Status.ASSIGNED
        q.cadre[hit] = visitor
        self.visits_month = int(chosen.size)

    def _resolve(self, ids: np.ndarray, effort: np.ndarray, skill: np.ndarray,
                 rng: np.random.Generator) -> None:
        q, p = self.problems, self.p
        assigned = np.flatnonzero(q.status == Status.ASSIGNED)
        if assigned.size == 0:
            self._credit(ids, np.zeros(0, dtype=np.int64))
            self.problems_resolved = self.legacy_resolved = 0
            return
        position = np.full(int(ids.max()) + 1, -1)
        position[ids] = np.arange(ids.size)
        who = position[q.cadre[assigned]]
        is_legacy = q.origin[assigned] == Origin.LEGACY
        # Odds of resolution are proportional to the cadre's front-line time.
        logit = (p.resolve_base + p.resolve_skill * (skill[who] - 0.5)
                 - p.resolve_difficulty * (q.difficulty[assigned] - 0.5)
                 + p.closed_loop_boost + np.log(np.maximum(effort[who], 1e-9))
                 + np.where(is_legacy, p.legacy_logit, 0.0))
        done = rng.random(assigned.size) < 1.0 / (1.0 + np.exp(-logit))
        q.status[assigned[done]] = Status.RESOLVED
        q.resolved[assigned[done]] = self.month
        self._credit(ids, who[done])
        self.legacy_resolved = int((done & is_legacy).sum())
        self.problems_resolved = int(done.sum()) - self.legacy_resolved

    def _credit(self, ids: np.ndarray, who: np.ndarray) -> None:
        counts = np.bincount(who, minlength=ids.size)
        for cadre, k in zip(self.cadres, counts, strict=True):
            cadre.resolved_month = int(k)
            cadre.resolved_total += int(k)

    def _firms_post_vacancies(self) -> None:
        self._refresh_employees()
        open_problems = self.problems.open_by_firm(len(self.firm_list))
        for firm in self.firm_list:
            firm.open_problems = int(open_problems[firm.index])
        self.firms.shuffle_do("step")
        expected = self.p.vacancy_rate * self.other_employees * self.demand
        self.other_vacancies = int(self.streams.firms.poisson(expected))

    def _labour_market(self) -> None:
        p, rng, wf, m = self.p, self.streams.labour, self.workforce, self.month
        self.separations = wf.separate(p.separation_rate, rng, m)
        vacancies = np.array([f.vacancies for f in self.firm_list] + [self.other_vacancies])
        boost = np.ones(vacancies.size)
        boost[:-1] += p.matching_boost * np.array([f.visited for f in self.firm_list])
        self.matches, self.placements, entrants = wf.match(
            vacancies, boost, p.matching_efficiency, p.matching_elasticity, rng, m)
        self.vacancies = int(vacancies.sum())
        entrants += self._rural_transitions(rng)
        shortfall = np.array([v.local_jobs for v in self.village_list]) - np.bincount(
            wf.home[wf.coop_job], minlength=len(self.village_list))
        entrants += wf.hire_local(shortfall, rng, m)
        self.nonfarm_entrants = entrants

    def _rural_transitions(self, rng: np.random.Generator) -> int:
        """Seasonal local work, Harris-Todaro migration, returns; returns new A5 entrants."""
        p, wf, m = self.p, self.workforce, self.month
        rural, state = wf.rural, wf.state
        entrants = 0
        # Seasonal local wage work ends (cooperative jobs are not seasonal).
        ending = wf.draw(rural & (state == Labour.LOCAL_WAGE) & ~wf.coop_job,
                         p.local_exit_rate, rng)
        wf.move(ending, Labour.FARMING, m)
        # Migrants return home and look for work.
        wf.move(wf.draw(rural & (state == Labour.MIGRANT), p.return_rate, rng),
                Labour.SEEKING, m)
        # Harris-Todaro: migrate when expected earnings away exceed income at home.
        multiplier = np.array([v.income_multiplier for v in self.village_list])
        home_income = np.where(state == Labour.FARMING,
                               p.farm_income * multiplier[np.maximum(wf.home, 0)], 0.0)
        away = p.migrant_wage * p.remittance_share
        gap = np.maximum(away - home_income, 0.0) / max(away, 1.0)
        leaving = wf.draw(rural & ((state == Labour.FARMING) | (state == Labour.SEEKING)),
                          p.migration_rate * gap, rng)
        entrants += wf.move(leaving, Labour.MIGRANT, m)
        # Seasonal farm wage work (day-lily picking, harvests: B10).
        season = p.seasonal_take_rate * T.FARM_SEASON[self.calendar_month - 1]
        entrants += wf.move(wf.draw(rural & (wf.state == Labour.FARMING), season, rng),
                            Labour.LOCAL_WAGE, m)
        # Rural seekers who find nothing go back to the land.
        wf.move(wf.draw(rural & (wf.state == Labour.SEEKING), p.local_exit_rate, rng),
                Labour.FARMING, m)
        return entrants

    def _villages(self) -> None:
        self.villages.shuffle_do("step")
        best: dict[str, tuple[str, float]] = {}
        for v in self.village_list:
            mult = float(T.PRODUCT_LINES[v.product_line]["income_multiplier"])
            if v.township not in best or mult > best[v.township][1]:
                best[v.township] = (v.product_line, mult)
        self.township_best_line = best
        self.villages.shuffle_do("imitate")

    def _evaluation(self) -> None:
        pool = [c for c in self.cadres if c.evaluated]
        self.leading_posts += int(self.streams.cadres.poisson(self.p.promotion_rate * len(pool)))
        if self.calendar_month % self.p.evaluation_interval != 0:
            return
        promoted, removed = evaluate(self, pool)
        leaving = promoted + removed
        if not leaving:
            return
        self.problems.release(np.array([c.unique_id for c in leaving]))
        q = draw_cadre_qualities(len(leaving), self.streams.cadres)
        for k, old in enumerate(leaving):
            # The post is refilled at once by a cadre new to the pool.
            new = Cadre(self, q[k], old.post, 0.0, evaluated=True, joined=self.month)
            new.on_legacy = old.on_legacy
            old.remove()

    # ---------------------------------------------------------------- indicators

    def unchanged_ytd(self) -> int:
        """Cadres evaluated this year with no outcome yet (still in the pool)."""
        year = self.year
        return sum(1 for c in self.cadres
                   if c.evaluated_year == year and c.outcome_year != year)

    def dataset(self):
        """The run so far as an :class:`xarray.Dataset` (see :mod:`countysim.core.observe`)."""
        return self.recorder.to_dataset()



def run(scenario: Scenario | str | Path | None = None, *, seed: SeedLike = 0,
        until: str | None = None, **overrides: Any):
    """Run one scenario and return its :class:`xarray.Dataset`.

    Args:
        scenario: Scenario, path to a scenario file, or ``None`` for the defaults.
        seed: Seed of the run (``int`` or ``numpy.random.SeedSequence``).
        until: Last month to simulate, ``YYYY-MM``; default (``None``) the scenario's
            ``until``.
        **overrides: Parameter values replacing the scenario's; NumPy scalars
            (``np.int64(3)``, ``np.bool_(True)``) count as the Python values they hold.

    Returns:
        The run's Dataset with dims ``time`` and ``village`` (and ``labour_state``).

    Raises:
        TypeError: ``seed`` is ``None`` or not an int or ``SeedSequence`` (a run must be
            reproducible).
        ScenarioError: A bad scenario, override or ``until`` (not a month string, or
            outside the scenario's start .. 2030-12).
    """
    # Imported here so that this function's changes stay inside it.
    from .scenario import ScenarioError, _check_month

    seed = as_seed_sequence(seed)
    overrides = {k: v.item() if isinstance(v, np.generic) else v for k, v in overrides.items()}
    if until is not None:
        _check_month("<arguments>", "until", until)
    model = CountyModel(scenario, rng=seed, **overrides)
    if until is not None and until < model.p.start:
        raise ScenarioError("<arguments>", "until", f"{until} is before the scenario's "
                            f"start {model.p.start}")
    model.run_until(until or model.p.until)
    return model.dataset()
