"""Villages: cooperatives, idle assets, collective income, dividends, product lines (step 6).

A pilot village's party-branch-led cooperative (A13) activates idle land and buildings at
a pace set by the district's support, its branch's capacity and the leadership of the
cadre responsible for the village (L7), with diminishing returns (each month it activates
a share of what is still idle); fewer unresolved household problems unlock stalled assets
and speed it up (L6). Under weak leadership a cooperative stays a shell and earns nothing
(L7); a working one reinvests part of its profit (L8), and households settling in town
leave idle land behind (L8). Its revenue pays local wages,
a share into collective income and the rest to member households (A26); the village
pays a share of collective income to all households as dividends (R13, B12). Alliances
(A15) widen market access. Trained technicians (A18, A22) raise the yields of the
households they advise and give the village the know-how to switch product line; a
village with know-how copies a neighbour whose farm income per worker beats its own by
more than the switching cost, while prices fall as a line's supply rises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from .tables import MONTHS_PER_YEAR, PRODUCT_LINE_NAMES, PRODUCT_LINES

if TYPE_CHECKING:
    from .county import CountyModel

NO_COOPERATIVE, PARTY_BRANCH = 0, 1
COOPERATIVE_KINDS = ("none", "party_branch")
MENTEES_PER_EXPERT = 10  # A18: 25 experts for 250 technicians
LINE_MULTIPLIER = np.array([float(PRODUCT_LINES[k]["income_multiplier"])
                            for k in PRODUCT_LINE_NAMES])


class Village(mesa.Agent):
    """An administrative village.

    Attributes:
        index: Row in the district's village table (and position on the ``village`` dim).
        name: Village name (``Township-NN`` when generated).
        township: Township name; villages of one township are neighbours.
        households: Households (B13 household size).
        workforce: Workers living in the village at the start.
        line: Main product line, an index into :data:`~countysim.core.tables.PRODUCT_LINES`.
        idle_land: Idle land at the start (mu).
        idle_buildings: Idle collective buildings at the start.
        active_land: Land the cooperative has activated (mu).
        active_buildings: Buildings the cooperative has activated.
        base_income: Collective income of 2024 (yuan/yr, at 2025 prices).
        branch_capacity: Capacity of the party branch in [0, 1].
        pilot: Pilot village of A13 (in the current year).
        cooperative: 0 none, 1 party-branch-led.
        alliance: Alliance id (A15), or -1.
        technicians: Agri-technicians living in the village (A18).
        trained: Of them, trained by an expert (from the month their training ends).
        returnees: Returnee businesses running (A21).
        productivity: Farm productivity index (1 without trained technicians).
        collective_income: Collective income this month (yuan).
        dividends: Collective income paid to households this month (yuan).
        coop_revenue: Cooperative revenue this month (yuan).
        member_profit: Cooperative profit paid to member households this month (yuan).
        coop_jobs: Cooperative jobs on offer (its wage bill / local wage).
        local_jobs: Cooperative and returnee-business jobs on offer.
        hurdle: The leadership a cooperative here needs before it earns, in [0, 1]: it
            is a shell while ``hurdle < shell_share x (2 - leadership)`` (L7).
        functioning: The village's cooperative earns (not a shell) this month.
    """

    def __init__(self, model: CountyModel, index: int, row: dict) -> None:
        super().__init__(model)
        self.index = index
        self.name = row["village"]
        self.township = row["township"]
        self.households = int(row["households"])
        self.workforce = int(row["workforce"])
        self.line = PRODUCT_LINE_NAMES.index(row["product_line"])
        self.idle_land = float(row["idle_land_mu"])
        self.idle_buildings = int(row["idle_buildings"])
        self.active_land = 0.0
        self.active_buildings = 0
        self.base_income = float(row["collective_income"])
        self.branch_capacity = float(row["branch_capacity"])
        self.pilot = False
        self.cooperative = NO_COOPERATIVE
        self.alliance = -1
        self.technicians = 0
        self.trained = 0
        self.returnees = 0
        self.productivity = 1.0
        self.collective_income = 0.0
        self.dividends = 0.0
        self.coop_revenue = 0.0
        self.member_profit = 0.0
        self.coop_jobs = 0
        self.local_jobs = 0
        self.hurdle = 1.0
        self.functioning = False

    @property
    def product_line(self) -> str:
        """Name of the main product line."""
        return PRODUCT_LINE_NAMES[self.line]

    def farm_return(self) -> float:
        """Farm income per farming worker relative to grain at 2025 prices (realised)."""
        model = self.model
        price = model.line_price[self.line]
        if self.alliance >= 0:  # shared sales channels: a wider market saturates less
            price **= 1.0 / (1.0 + model.p.alliance_market_boost)
        return (LINE_MULTIPLIER[self.line] * price * self.productivity
                * model.land_factor[self.index] * model.village_growth[self.index])

    def step(self) -> None:
        """One month: productivity, asset activation, revenue, income, dividends, jobs."""
        model = self.model
        p, nominal = model.p, model.nominal_index
        advised = self.trained * p.households_per_technician / max(self.households, 1)
        self.productivity = 1.0 + p.technician_yield_gain * min(advised, 1.0)
        # Python floats (the same values): arithmetic on them is quicker than on NumPy
        # scalars, for a step called for every village every month.
        lead = float(model.leadership[self.index])
        self.functioning = (self.cooperative == PARTY_BRANCH
                            and self.hurdle >= p.shell_share * (2.0 - lead))
        if self.functioning:
            self._activate(p.activation_rate * self.branch_capacity * lead
                           * model.unlock[self.index], model.building_draws)
            # Reinvested profit adds assets at reinvest_share x asset_return a year (L8).
            added = self.active_land * p.reinvest_share * p.asset_return / MONTHS_PER_YEAR
            self.idle_land += added
            self.active_land += added
        access = 1.0 + (p.alliance_market_boost if self.alliance >= 0 else 0.0)
        annual = (self.active_land * p.coop_revenue_per_mu
                  + self.active_buildings * p.building_revenue) * self.productivity * access
        annual *= lead if self.functioning else 0.0  # a shell earns nothing
        self.coop_revenue = annual * nominal / MONTHS_PER_YEAR
        noise = float(model.income_noise[self.index])
        growth = float(model.village_growth[self.index])
        self.collective_income = ((self.base_income * noise * growth
                                   + self.returnees * p.returnee_income) * nominal
                                  / MONTHS_PER_YEAR
                                  + p.coop_collective_share * self.coop_revenue)
        self.dividends = p.dividend_share * self.collective_income
        wage_bill = p.coop_wage_share * self.coop_revenue
        self.member_profit = max(1.0 - p.coop_wage_share - p.coop_collective_share, 0.0) * (
            self.coop_revenue)
        wage = p.local_wage * nominal
        # No more jobs than the village has workers, however low the wage.
        self.coop_jobs = int(min(wage_bill / wage, self.workforce)) if wage > 0 else 0
        self.local_jobs = self.coop_jobs + self.returnees * p.returnee_jobs

    def _activate(self, rate: float, rng: np.random.Generator) -> None:
        share = min(rate, 1.0)
        self.active_land += (self.idle_land - self.active_land) * share
        idle = self.idle_buildings - self.active_buildings
        if idle > 0:
            self.active_buildings += int(rng.binomial(idle, share))

    def imitate(self) -> None:
        """Now and then compare with a neighbour; switch line if it pays (A20, A22).

        Only a village with a trained technician has the know-how to switch; it copies a
        random village of its township whose realised farm income per worker beats its
        own by more than ``switch_cost``.
        """
        model = self.model
        look, whom = model.imitation_draws[self.index]
        if self.trained == 0 or look >= model.p.imitation_rate:
            return
        peers = model.township_members[self.township]
        other = peers[int(whom * len(peers))]
        if other.line != self.line and (
                other.farm_return() > self.farm_return() * (1.0 + model.p.switch_cost)):
            self.line = other.line


def farm_returns(model: CountyModel) -> np.ndarray:
    """:meth:`Village.farm_return` of every village of ``model.village_list``, at once.

    The same operations in the same order for each village, so the same numbers to the
    bit: the alliance discount is the same scalar power, and the product is taken from
    left to right (vectorised, it saves a Python call per village, twice a month).
    """
    villages = model.village_list
    lines = np.array([v.line for v in villages])
    price = model.line_price[lines]
    exponent = 1.0 / (1.0 + model.p.alliance_market_boost)
    for k, v in enumerate(villages):
        if v.alliance >= 0:  # shared sales channels: a wider market saturates less
            price[k] = price[k] ** exponent
    productivity = np.array([v.productivity for v in villages])
    return (LINE_MULTIPLIER[lines] * price * productivity
            * model.land_factor[: len(villages)] * model.village_growth[: len(villages)])
