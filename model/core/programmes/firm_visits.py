"""Front-line visits to firms (A3): problems found, subsidies, big-data job matching.

A visit hands the firm's open problems to the visiting cadre (their resolution releases
the labour demand they held back, L5), gives it a year of job-retention and hiring
subsidies (labour cost, at ``labour_demand_elasticity``) and puts its vacancies on the
matching platform, where they fill ``matching_boost`` faster (L11).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..labour import weighted_sample
from ..problems import Origin, Status
from ..tables import MONTHS_PER_YEAR
from . import Programme

if TYPE_CHECKING:
    from ..cadres import Cadre
    from ..county import CountyModel


class FirmVisits(Programme):
    """``firm_visits_per_year`` visits, spread evenly over the months; unvisited firms
    first, larger ones more likely, revisits only once every firm has been seen."""

    name = "firm_visits"
    title = "front-line visits to firms"
    figures = ("A3",)
    levers = ("firm_visits_per_year", "subsidy_per_visit", "matching_boost")
    links = (("L5", ("problem_productivity_penalty", "problem_investment_drag")),
             ("L11", ("matching_boost",)))

    def init(self, model: CountyModel) -> None:
        model.visits_month = 0
        model.firms_visited_ytd = 0

    def start_year(self, model: CountyModel) -> None:
        model.firms_visited_ytd = 0
        model.firm_table.visited[:] = False
        model.firm_table.subsidies[:] = 0.0

    def frontline(self, model: CountyModel, cadres: list[Cadre], routine: np.ndarray) -> None:
        per_year = model.p.firm_visits_per_year
        m = model.calendar_month
        due = per_year * m // MONTHS_PER_YEAR - per_year * (m - 1) // MONTHS_PER_YEAR
        model.visits_month = 0
        if due == 0 or routine.size == 0:
            return
        rng = model.streams.frontline
        table = model.firm_table
        weights = np.where(table.visited, 1e-9, table.employees + 1.0)
        chosen = weighted_sample(weights, min(due, len(model.firm_list)), rng)
        q = model.problems
        firm_open = np.flatnonzero((q.origin == Origin.FIRM.value)
                                   & (q.status == Status.OPEN.value))
        annual_wage = model.p.urban_wage * model.nominal_index * MONTHS_PER_YEAR
        for i in chosen:
            firm = model.firm_list[int(i)]
            model.firms_visited_ytd += not table.visited[firm.index]
            firm.receive_visit(model.p.subsidy_per_visit, annual_wage)
        hit = firm_open[np.isin(q.source[firm_open], chosen)]
        visitor = cadres[int(routine[rng.integers(routine.size)])].unique_id
        q.status[hit] = Status.ASSIGNED
        q.cadre[hit] = visitor
        model.visits_month = int(chosen.size)
