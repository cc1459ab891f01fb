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
one module each with its levers, links and hooks. The front line (problems, collection,
resolution) is :mod:`countysim.core.frontline` and the labour market
:mod:`countysim.core.market`, parts of the model class; this module keeps the calendar,
the creation of the district's agents and the shared state, and calls the programmes'
hooks at their places in the month.

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
import pandas as pd

from . import tables as T
from .cadres import CAPABILITY, Cadre, evaluate, quality_table, skill_of
from .district import District, build_district, draw_cadre_qualities, pool_turnover
from .firms import Enterprise, FirmTable
from .frontline import FrontLine
from .market import LabourMarket
from .observe import MODEL_REPORTERS, Recorder
from .problems import Origin
from .programmes import PROGRAMMES, Programme
from .scenario import (
    FIRST_MONTH,
    LAST_MONTH,
    Scenario,
    default_scenario,
    load_scenario,
    month_index,
)
from .seeds import SeedLike, Streams, as_seed_sequence, id_draws
from .tables import MONTHS_PER_YEAR, Labour
from .villages import Village

__all__ = ["CountyModel", "run"]

N_LINES = len(T.PRODUCT_LINE_NAMES)


class CountyModel(FrontLine, LabourMarket, mesa.Model):
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
        for i, row in enumerate(_records(frame)):
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
        for i, row in enumerate(_records(frame)):
            Enterprise(self, i, row)
        self.firm_list: list[Enterprise] = list(self.firms)
        self.n_employers = len(self.firm_list) + 1  # modelled firms + other employers

    def _create_cadres(self) -> None:
        frame = self.district.cadres
        quality_cols = list(T.CADRE_QUALITIES)
        for row, q in zip(_records(frame), frame[quality_cols].to_numpy(), strict=True):
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
        """Each village gets its responsible cadres (包村干部): township cadres on routine work.

        Every such cadre is dealt to the villages round-robin in a random order, so a
        village has one or more (with more cadres than villages, each cadre covers one;
        with fewer, each village has one and a cadre covers several). The first cadre
        dealt to a village is its lead (``village_lead``), whose leadership is the
        village's (L7, L2). ``duty_village`` and ``duty_cadre`` list the pairs, sorted
        by village; the village's problems are collected by its own cadres
        (:meth:`~countysim.core.frontline.FrontLine._frontline`). A newcomer who refills
        a post takes over its villages (:meth:`_refill`).
        """
        cadres = [c for c in self.cadres if c.post == "township" and not c.on_legacy]
        if not cadres:  # a district without township cadres: any routine cadre
            cadres = [c for c in self.cadres if not c.on_legacy] or list(self.cadres)
        order = self.streams.cadres.permutation(len(cadres))
        n_v = len(self.village_list)
        deal = np.arange(max(len(cadres), n_v))
        ids = np.array([c.unique_id for c in cadres], dtype=np.int64)[order]
        # Deal k goes to village k mod n_v: the first n_v deals give each village its lead.
        village, cadre = deal % n_v, ids[deal % len(cadres)]
        by_village = np.argsort(village, kind="stable")
        self.duty_village, self.duty_cadre = village[by_village], cadre[by_village]
        # Stable by deal, so each village's first duty is its first deal, its lead.
        self._lead_duty = np.searchsorted(self.duty_village, np.arange(n_v))
        self.lead_ref: tuple[float, float] | None = None  # 2024 mean, sd of log leadership

    @property
    def village_lead(self) -> np.ndarray:
        """Each village's lead cadre (its first dealt duty): the one whose leadership is
        the village's (L7, L2); a newcomer who refills the post takes it over."""
        return self.duty_cadre[self._lead_duty]

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
        # Each month draws from its own branch of the seed's tree (common random numbers
        # over time: see countysim.core.seeds).
        self.streams = Streams.for_month(
            self.seed, MONTHS_PER_YEAR * self.year + self.calendar_month - 1, self.streams.mesa)
        self.problems.luck = self.streams.luck
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
        backlog under the spin-up's last efforts (the mean-field rate), with those of the
        new cases themselves, resolved in the month they arrive (``inflow = backlog's
        resolutions / (1 - a new case's odds)``; without them the backlog fell 2-5 % in
        two years), not the realised
        count of the spin-up's months, whose Poisson noise (~3 % over 24 months) would set
        the backlog on a trend.
        """
        if self.legacy_resolved_spinup:
            n = self.legacy_resolved
            self.problems.add(Origin.LEGACY, np.full(n, -1),
                              self.streams.problems.beta(*T.LEGACY_DIFFICULTY_BETA, n),
                              self.month)
            self.legacy_inflow = self._expected_legacy_resolutions() / max(
                1.0 - self._new_legacy_odds(), 1e-12)
        self.legacy_resolved_spinup = []
        self._fix_references()

    def _fix_references(self) -> None:
        """The 2024 levels the reforms' effects are measured from (L2, L6, L7).

        Leadership of the villages: mean and sd of the responsible cadres' log
        leadership now. Leading posts: their holders are drawn from the capabilities the
        2024 rules promoted (in the generated pool's history, else in the spin-up;
        vacancies stay vacant), whose mean is the reference, in sd of the pool's
        capability. Unresolved household problems per village: the stock now, shared
        out by each village's expected stock (:meth:`_expected_village_stock`).
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
        # The stock now, spread over the villages as each village's own expectation
        # (its inflow, its cadres' collection and resolution): a village whose cadres
        # give it little time expects more open problems, and is not held back for them.
        total = self.problems.open_by_village(len(self.village_list)).sum()
        expected = self._expected_village_stock()
        self.village_open_ref = total * expected / max(expected.sum(), 1e-12)
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
        # Households settled in town buy its services (jobs per settler, against the start's
        # demand): without it the settlers' job losers, who seek in town rather than return
        # to the farm, would outgrow demand set by output alone.
        settled = 1.0 + p.settler_service_jobs * self.settlers_total / self.demand_ref
        self.labour_demand_index = ((1.0 + g_e) ** (age / MONTHS_PER_YEAR)
                                    * self.leader_factor ** e * settled)
        self.output_index = (1.0 + p.output_growth) ** (self.month / MONTHS_PER_YEAR) * (
            self.leader_factor)
        self.retirements, self.labour_force_change = self.workforce.renew(
            p.retirement_rate / MONTHS_PER_YEAR,
            (1.0 + p.population_growth) ** (1 / MONTHS_PER_YEAR) - 1.0,
            self.streams.labour, self.month)

    def _villages(self) -> None:
        self._hook("villages")
        self._village_leadership()
        self._village_draws()
        # Independent updates (their order does not matter), called directly rather than
        # by AgentSet.do, which checks each agent's membership first.
        for village in self.village_list:
            village.step()
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

    def _village_draws(self) -> None:
        """The month's draws of every village at once, from a child stream spawned for
        them: each village's are its own, whatever the others (or the returnees before
        them) draw (common random numbers, :mod:`countysim.core.seeds`)."""
        rng = self.streams.villages.spawn(1)[0]
        n, sigma = len(self.village_list), self.p.collective_income_noise
        self.income_noise = rng.lognormal(-0.5 * sigma ** 2, sigma, n)  # mean 1
        self.imitation_draws = rng.random((n, 2))  # whether to look, and at whom
        # Binomials take a varying count of numbers: a child of their own.
        self.building_draws = rng.spawn(1)[0]

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
        lead = [by_id.get(i) for i in self.village_lead.tolist()]
        # Skill times effort of each village's cadre, as arrays (skill_of: the property's
        # numbers to the bit); NaN for a village without one.
        x = np.full(len(lead), np.nan)
        held = [k for k, c in enumerate(lead) if c is not None]
        if held:
            cadres = [lead[k] for k in held]
            effort = np.fromiter((c.effort for c in cadres), float, len(cadres))
            x[held] = skill_of(self, cadres, quality_table(cadres)) * effort
        x = np.log(np.maximum(x, 1e-6))
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
        vacant = np.isnan(self.leader_capability)
        # The pool's mean (a pass over all cadres) only when a post is vacant.
        # (The capabilities read from the agents' qualities: the property's values.)
        acting = float(np.mean(np.fromiter((c.qualities[CAPABILITY] for c in self.cadres), float))
                       ) if vacant.any() else 0.0
        held = np.where(vacant, acting, self.leader_capability)
        mean, sd = self.leader_ref
        return float((held.mean() - mean) / sd)

    def _cadre_turnover(self) -> None:
        """Departures (retirement, transfer) refilled by newcomers; leading posts fall vacant."""
        p, rng = self.p, self.streams.cadres
        pool = list(self.cadres)
        ids = np.fromiter((c.unique_id for c in pool), np.int64, len(pool))
        gone = id_draws(rng, ids) < p.cadre_exit_rate / MONTHS_PER_YEAR
        leaving = [pool[i] for i in np.flatnonzero(gone)]
        # Evaluated this year with no outcome: they stay counted as unchanged (A10).
        year = self.year
        self.departed_unchanged_ytd += sum(
            1 for c in leaving if c.evaluated_year == year and c.outcome_year != year)
        self._refill(leaving)
        # The posts falling vacant: a count, then the holders with the lowest keys of
        # their own (a child stream: the newcomers' draws above do not shift them).
        posts = rng.spawn(1)[0]
        new = int(posts.poisson(self.spec.leading_posts * p.leading_post_turnover
                                / MONTHS_PER_YEAR))
        keys = posts.random(self.leader_capability.size)
        self.leading_vacancies += new
        held = np.flatnonzero(~np.isnan(self.leader_capability))
        if new and held.size:  # posts fall vacant as their holders leave
            self.leader_capability[held[np.argsort(keys[held], kind="stable")[:new]]] = np.nan

    def _refill(self, leaving: list[Cadre]) -> None:
        """Newcomers take the posts of cadres who leave; the year's first ``recruits``
        newcomers each get a mentor (A11)."""
        if not leaving:
            return
        # A child stream for the newcomers: how many arrive does not shift later draws.
        rng = self.streams.cadres.spawn(1)[0]
        q = draw_cadre_qualities(len(leaving), rng, shift=T.RECRUIT_CAPABILITY_SHIFT)
        wait = rng.random(len(leaving))
        mentors = self.recruit_mentors  # kept by the mentoring programme (A11)
        successors = []
        for k, old in enumerate(leaving):
            new = Cadre(self, q[k], old.post, 0.0, evaluated=False, joined=self.month,
                        wait=float(wait[k]))
            new.on_legacy = old.on_legacy
            if mentors:
                new.mentor_id = mentors.pop()
            self.duty_cadre[self.duty_cadre == old.unique_id] = new.unique_id
            successors.append(new.unique_id)
            old.remove()
        # The post's caseload passes to the newcomer with its villages.
        self.problems.hand_over(np.array([c.unique_id for c in leaving]), np.array(successors))

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


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as ``frame.to_dict("records")`` gives them (Python values),
    from its columns' ``tolist`` (a quarter of the time, for every agent's creation)."""
    columns = list(frame.columns)
    return [dict(zip(columns, values, strict=True))
            for values in zip(*(frame[c].tolist() for c in columns), strict=True)]


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
