"""Enterprises: labour demand, open problems, subsidies and vacancies (step 4).

A firm's labour demand grows with output (B7) at the employment elasticity; each open
problem costs it a share of output and so of demand; a cadre's visit (A3) brings
subsidies that lower its labour cost for a year, raising demand by the labour-demand
elasticity, and puts it on the big-data matching platform for good. Vacancies are a
stock: demand minus employees, so every separation or retirement reopens a post
(replacement demand) and growth adds new ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from .tables import MONTHS_PER_YEAR

if TYPE_CHECKING:
    from .county import CountyModel

SUBSIDY_MONTHS = MONTHS_PER_YEAR  # job-expansion and retention subsidies run for a year (A3)


class Enterprise(mesa.Agent):
    """A firm with hired staff.

    Attributes:
        index: Row in the district's firm table (employer index of its workers).
        name: Firm code.
        sector: Sector (see :data:`~countysim.core.tables.FIRM_SECTORS`).
        location: ``"urban"`` or ``"town"``.
        productivity: Output per worker relative to the district (from the table).
        base_demand: Labour demand at the start (employees plus the vacancy stock).
        demand: Labour demand this month (persons).
        employees: Workers employed (kept by the workforce).
        open_problems: Unresolved problems the firm has raised.
        subsidies: Subsidies received this year (yuan).
        subsidy_months: Months of subsidised labour cost left.
        subsidy_rate: Subsidy as a share of the firm's labour cost while it lasts.
        visited: Visited by cadres this year (A3).
        on_platform: Posts its vacancies on the big-data matching platform (A3).
        vacancies: Open vacancies this month.
    """

    def __init__(self, model: CountyModel, index: int, row: dict, base_demand: float) -> None:
        super().__init__(model)
        self.index = index
        self.name = row["firm"]
        self.sector = row["sector"]
        self.location = row["location"]
        self.productivity = float(row["productivity"])
        self.base_demand = base_demand
        self.demand = base_demand
        self.employees = int(row["employees"])
        self.open_problems = 0
        self.subsidies = 0.0
        self.subsidy_months = 0
        self.subsidy_rate = 0.0
        self.visited = False
        self.on_platform = False
        self.vacancies = 0

    def receive_visit(self, subsidy: float, annual_wage: float) -> None:
        """A front-line visit: subsidies for a year, and the firm joins big-data matching."""
        self.visited = True
        self.on_platform = True
        self.subsidies += subsidy
        wage_bill = max(self.employees, 1) * annual_wage
        self.subsidy_rate = subsidy / wage_bill
        self.subsidy_months = SUBSIDY_MONTHS

    def step(self) -> None:
        """Set this month's labour demand and vacancy stock."""
        p, model = self.model.p, self.model
        output = (1.0 - p.problem_productivity_penalty) ** self.open_problems
        subsidy = p.labour_demand_elasticity * self.subsidy_rate if self.subsidy_months else 0.0
        self.subsidy_months = max(self.subsidy_months - 1, 0)
        self.demand = self.base_demand * model.labour_demand_index * output * (1.0 + subsidy)
        self.vacancies = max(int(round(self.demand)) - self.employees, 0)
