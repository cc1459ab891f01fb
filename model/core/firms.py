"""Enterprises: labour demand, open problems, subsidies and vacancies (step 4).

A firm's labour demand grows with output (B7) at the employment elasticity; open problems
drag its output, and so its demand, to 1 / (1 + penalty x open problems), and hold back its
investment: its capacity grows more slowly the more problems it has open than the 2024
expectation (L5: hiring and investment; survival is not modelled); a cadre's visit
(A3) brings subsidies that lower its labour cost for a year, raising demand by the
labour-demand elasticity, and puts it on the big-data matching platform for good. Vacancies are a
stock: demand minus employees, so every separation or retirement reopens a post
(replacement demand) and growth adds new ones.

The firms' state lives in a :class:`FirmTable` of arrays (one row per firm) so that the
monthly update is vectorised; each :class:`Enterprise` agent is the firm's identity and
reads and writes its row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numpy as np

from .tables import MONTHS_PER_YEAR

if TYPE_CHECKING:
    from .county import CountyModel

SUBSIDY_MONTHS = MONTHS_PER_YEAR  # job-expansion and retention subsidies run for a year (A3)


@dataclass
class FirmTable:
    """State of every firm, one row each (see :class:`Enterprise` for the meanings)."""

    base_demand: np.ndarray
    demand: np.ndarray
    employees: np.ndarray
    open_problems: np.ndarray
    subsidies: np.ndarray
    subsidy_months: np.ndarray
    subsidy_rate: np.ndarray
    visited: np.ndarray
    on_platform: np.ndarray
    vacancies: np.ndarray
    capacity: np.ndarray
    expected_open: float = 0.0

    @classmethod
    def create(cls, base_demand: np.ndarray) -> FirmTable:
        """A table for firms with the given initial labour demand (persons)."""
        n = base_demand.size
        return cls(base_demand.astype(float), base_demand.astype(float),
                   np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n),
                   np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n, dtype=bool),
                   np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64), np.ones(n))

    def post_vacancies(self, demand_index: float, penalty: float, elasticity: float,
                       drag: float = 0.0) -> None:
        """Set this month's labour demand and vacancy stock of every firm.

        Args:
            demand_index: Trend labour demand relative to the initial state.
            penalty: Drag of each open problem: output falls to 1 / (1 + penalty x open).
            elasticity: Labour-demand elasticity with respect to labour cost.
            drag: Yearly capacity growth lost per open problem above the expected number
                (``problem_investment_drag``); fewer than expected adds growth.
        """
        if drag:
            surplus = self.expected_open - self.open_problems
            # Additive, in units of the firm's initial capacity: compounded, a firm's
            # lasting luck (few problems for years) made its capacity a lognormal whose
            # mean across firms rose ~1 % a year with no mean surplus at all.
            self.capacity = np.maximum(self.capacity + drag * surplus / MONTHS_PER_YEAR, 0.0)
        output = self.capacity / (1.0 + penalty * self.open_problems)
        subsidy = np.where(self.subsidy_months > 0, elasticity * self.subsidy_rate, 0.0)
        self.subsidy_months = np.maximum(self.subsidy_months - 1, 0)
        self.demand = self.base_demand * demand_index * output * (1.0 + subsidy)
        self.vacancies = np.maximum(np.rint(self.demand).astype(np.int64) - self.employees, 0)


class Enterprise(mesa.Agent):
    """A firm with hired staff.

    Attributes:
        index: Row in the district's firm table (employer index of its workers).
        name: Firm code.
        sector: Sector (see :data:`~countysim.core.tables.FIRM_SECTORS`).
        location: ``"urban"`` or ``"town"``.
        productivity: Output per worker relative to the district (from the table).

    Its row of the model's :class:`FirmTable` holds ``base_demand`` (labour demand at the
    start: employees plus the vacancy stock), ``demand`` (this month), ``employees``,
    ``open_problems``, ``subsidies`` (yuan this year), ``subsidy_months`` left,
    ``subsidy_rate`` (share of its labour cost), ``visited`` (this year, A3),
    ``on_platform`` (big-data matching, A3) and ``vacancies``; they read as attributes.
    """

    def __init__(self, model: CountyModel, index: int, row: dict) -> None:
        super().__init__(model)
        self.index = index
        self.name = row["firm"]
        self.sector = row["sector"]
        self.location = row["location"]
        self.productivity = float(row["productivity"])

    def __getattr__(self, name: str):
        # Only called when normal lookup fails: the firm's row of the model's table.
        if name in FirmTable.__dataclass_fields__:
            return getattr(self.model.firm_table, name)[self.index]
        raise AttributeError(name)

    def receive_visit(self, subsidy: float, annual_wage: float) -> None:
        """A front-line visit: subsidies for a year, and the firm joins big-data matching."""
        t, i = self.model.firm_table, self.index
        t.visited[i] = True
        t.on_platform[i] = True
        t.subsidies[i] += subsidy
        # A subsidy covers at most the firm's whole labour cost for the year.
        cost = max(int(t.employees[i]), 1) * annual_wage
        t.subsidy_rate[i] = min(subsidy / cost, 1.0) if cost > 0 else float(subsidy > 0)
        t.subsidy_months[i] = SUBSIDY_MONTHS
