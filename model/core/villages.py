"""Villages: cooperatives, idle assets, collective income, product lines (step 6).

A pilot village's party-branch-led cooperative (A13) activates idle land and buildings at
a pace set by its branch's capacity and the district's support, with diminishing returns
(each month it activates a share of what is still idle). Revenue pays local wages and a
share into collective income; alliances (A15) widen market access; trained technicians
(A18) and returnee businesses (A21) raise productivity, income and local jobs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from .tables import MONTHS_PER_YEAR, PRODUCT_LINES

if TYPE_CHECKING:
    from .county import CountyModel

NO_COOPERATIVE, PARTY_BRANCH = 0, 1
COOPERATIVE_KINDS = ("none", "party_branch")
MENTEES_PER_EXPERT = 10  # A18: 25 experts for 250 technicians


class Village(mesa.Agent):
    """An administrative village.

    Attributes:
        index: Row in the district's village table (and position on the ``village`` dim).
        name: Village name (``Township-NN`` when generated).
        township: Township name; villages of one township are neighbours.
        households: Households (B13 household size).
        product_line: Main product line (a key of :data:`~countysim.core.tables.PRODUCT_LINES`).
        idle_land: Idle land at the start (mu).
        idle_buildings: Idle collective buildings at the start.
        active_land: Land the cooperative has activated (mu).
        active_buildings: Buildings the cooperative has activated.
        base_income: Collective income of 2024 (yuan/yr).
        branch_capacity: Capacity of the party branch in [0, 1].
        pilot: Pilot village of A13.
        cooperative: 0 none, 1 party-branch-led.
        alliance: Alliance id (A15), or -1.
        technicians: Agri-technicians living in the village (A18).
        trained_from: Month from which they count as trained (-1: never).
        returnee_starts: Months at which returnee businesses start (A21).
        productivity: Productivity index (1 = start).
        collective_income: Collective income this month (yuan).
        coop_revenue: Cooperative revenue this month (yuan).
        coop_jobs: Cooperative jobs on offer (its wage bill / local wage).
        local_jobs: Cooperative and returnee-business jobs on offer.
    """

    def __init__(self, model: CountyModel, index: int, row: dict) -> None:
        super().__init__(model)
        self.index = index
        self.name = row["village"]
        self.township = row["township"]
        self.households = int(row["households"])
        self.product_line = row["product_line"]
        self.idle_land = float(row["idle_land_mu"])
        self.idle_buildings = int(row["idle_buildings"])
        self.active_land = 0.0
        self.active_buildings = 0
        self.base_income = float(row["collective_income"])
        self.branch_capacity = float(row["branch_capacity"])
        self.pilot = bool(row["pilot"])
        self.cooperative = PARTY_BRANCH if self.pilot else NO_COOPERATIVE
        self.alliance = -1
        self.technicians = 0
        self.trained_from = -1
        self.returnee_starts = np.empty(0, dtype=np.int64)
        self.productivity = 1.0
        self.collective_income = 0.0
        self.coop_revenue = 0.0
        self.coop_jobs = 0
        self.local_jobs = 0

    @property
    def income_multiplier(self) -> float:
        """Farm income multiplier of the product line times productivity."""
        return float(PRODUCT_LINES[self.product_line]["income_multiplier"]) * self.productivity

    def active_returnees(self, month: int) -> int:
        """Returnee businesses running in ``month``."""
        return int((self.returnee_starts <= month).sum())

    def step(self) -> None:
        """One month: productivity, asset activation, revenue, income and local jobs."""
        p, month, rng = self.model.p, self.model.month, self.model.streams.villages
        trained = self.technicians if 0 <= self.trained_from <= month else 0
        self.productivity = 1.0 + p.technician_effect * trained
        if self.cooperative == PARTY_BRANCH:
            self._activate(p.activation_rate * p.cooperative_support * self.branch_capacity, rng)
        access = 1.0 + (p.alliance_market_boost if self.alliance >= 0 else 0.0)
        annual = (self.active_land * p.coop_revenue_per_mu
                  + self.active_buildings * p.building_revenue) * self.productivity * access
        self.coop_revenue = annual / MONTHS_PER_YEAR
        returnees = self.active_returnees(month)
        trend = (1.0 + p.collective_trend_growth) ** ((month + 1) / MONTHS_PER_YEAR)
        noise = rng.lognormal(-0.5 * p.collective_income_noise ** 2, p.collective_income_noise)
        self.collective_income = (self.base_income * trend * noise / MONTHS_PER_YEAR
                                  + p.coop_collective_share * self.coop_revenue
                                  + returnees * p.returnee_income / MONTHS_PER_YEAR)
        wage_bill = p.coop_wage_share * self.coop_revenue
        self.coop_jobs = int(wage_bill // p.local_wage) if p.local_wage > 0 else 0
        self.local_jobs = self.coop_jobs + returnees * p.returnee_jobs

    def _activate(self, rate: float, rng: np.random.Generator) -> None:
        share = min(rate, 1.0)
        self.active_land += (self.idle_land - self.active_land) * share
        idle = self.idle_buildings - self.active_buildings
        if idle > 0:
            self.active_buildings += int(rng.binomial(idle, share))

    def imitate(self) -> None:
        """Copy the best-paying line of the township's villages (A22) now and then."""
        best_line, best_multiplier = self.model.township_best_line[self.township]
        own = float(PRODUCT_LINES[self.product_line]["income_multiplier"])
        rng = self.model.streams.villages
        if best_multiplier > own and rng.random() < self.model.p.imitation_rate:
            self.product_line = best_line
