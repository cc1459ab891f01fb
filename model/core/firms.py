"""Enterprises: productivity, open problems, subsidies and vacancies (step 4).

Unresolved problems lower a firm's productivity and hence its hiring; a cadre's visit
(A3) brings subsidies that open extra vacancies and puts the firm on the big-data
matching platform, and collects its open problems into the closed loop (A2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from .county import CountyModel

SUBSIDY_UNIT = 10_000.0  # yuan: the unit of subsidy_vacancy_effect


class Enterprise(mesa.Agent):
    """A firm with hired staff.

    Attributes:
        index: Row in the district's firm table (employer index of its workers).
        name: Firm code.
        sector: Sector (see :data:`~countysim.core.tables.FIRM_SECTORS`).
        location: ``"urban"`` or ``"town"``.
        base_productivity: Productivity without problems.
        productivity: Current productivity.
        employees: Workers employed (refreshed from the workforce each month).
        open_problems: Unresolved problems the firm has raised.
        subsidies: Subsidies received this year (yuan).
        pending_subsidy: Subsidy received but not yet turned into vacancies (yuan).
        visited: Visited by cadres this year (A3).
        vacancies: Vacancies posted this month.
    """

    def __init__(self, model: CountyModel, index: int, row: dict) -> None:
        super().__init__(model)
        self.index = index
        self.name = row["firm"]
        self.sector = row["sector"]
        self.location = row["location"]
        self.base_productivity = float(row["productivity"])
        self.productivity = self.base_productivity
        self.employees = int(row["employees"])
        self.open_problems = 0
        self.subsidies = 0.0
        self.pending_subsidy = 0.0
        self.visited = False
        self.vacancies = 0

    def receive_visit(self, subsidy: float) -> None:
        """A front-line visit: subsidies delivered, firm joins big-data matching."""
        self.visited = True
        self.subsidies += subsidy
        self.pending_subsidy += subsidy

    def step(self) -> None:
        """Post this month's vacancies from demand, productivity and subsidies."""
        p, rng = self.model.p, self.model.streams.firms
        self.productivity = self.base_productivity * (
            1.0 - p.problem_productivity_penalty) ** self.open_problems
        expected = p.vacancy_rate * self.employees * self.model.demand * (
            self.productivity / self.base_productivity)
        # Subsidies (A3) fund extra posts: all of a subsidy is spent in the month after the visit.
        expected += p.subsidy_vacancy_effect * self.pending_subsidy / SUBSIDY_UNIT
        self.pending_subsidy = 0.0
        self.vacancies = int(rng.poisson(expected))
