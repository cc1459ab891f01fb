"""Enterprises (step 4) and firm visits (A3): problems, subsidies, vacancies."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import create_test_model, running_sum_within_year
from countysim.core.firms import SUBSIDY_UNIT

N_DRAWS = 4_000


@pytest.fixture
def firm_model():
    """A small model with known vacancy parameters and one firm of 1,000 employees."""
    model = create_test_model(vacancy_rate=0.005, problem_productivity_penalty=0.1,
                              subsidy_vacancy_effect=0.5)
    model.demand = 1.0
    firm = model.firm_list[0]
    firm.employees = 1_000
    return model, firm


def mean_vacancies(firm, open_problems: int = 0, subsidy: float = 0.0) -> float:
    """Mean vacancies over many monthly postings with the given state."""
    total = 0
    for _ in range(N_DRAWS):
        firm.open_problems = open_problems
        if subsidy:
            firm.receive_visit(subsidy)
        firm.step()
        total += firm.vacancies
    return total / N_DRAWS


# Expected vacancies are 0.005 * 1000 = 5 a month (Poisson): the SE of a mean of 4,000
# draws is sqrt(5 / 4000) = 0.035, so the differences asserted below (>= 1.5) are > 40 SE.


def test_vacancies_fall_with_open_problems(firm_model):
    _, firm = firm_model
    clean = mean_vacancies(firm, open_problems=0)
    troubled = mean_vacancies(firm, open_problems=5)  # productivity x 0.9^5 = 0.59
    assert clean == pytest.approx(5.0, abs=0.2)
    assert troubled < clean - 1.5
    assert firm.productivity == pytest.approx(firm.base_productivity * 0.9 ** 5)


def test_vacancies_rise_with_subsidies(firm_model):
    _, firm = firm_model
    plain = mean_vacancies(firm)
    subsidised = mean_vacancies(firm, subsidy=6 * SUBSIDY_UNIT)  # 0.5 x 6 = 3 extra posts
    assert subsidised > plain + 1.5
    assert firm.pending_subsidy == 0.0, "a subsidy must be spent once, not every month"


def test_vacancies_follow_demand(firm_model):
    model, firm = firm_model
    model.demand = 0.5
    low = mean_vacancies(firm)
    model.demand = 1.5
    high = mean_vacancies(firm)
    assert high > low + 3.0


def test_visit_marks_firm_and_books_subsidy(firm_model):
    _, firm = firm_model
    firm.receive_visit(50_000.0)
    firm.receive_visit(10_000.0)
    assert firm.visited and firm.subsidies == 60_000.0 and firm.pending_subsidy == 60_000.0
    firm.open_problems = 0
    firm.step()
    assert firm.pending_subsidy == 0.0 and firm.subsidies == 60_000.0


def _visits(model, months: int) -> tuple[np.ndarray, np.ndarray]:
    """Step ``months`` times; return visits per month and distinct firms visited (ytd)."""
    visits, distinct = [], []
    for _ in range(months):
        model.step()
        visits.append(model.visits_month)
        distinct.append(model.firms_visited_ytd)
    return np.array(visits), np.array(distinct)


def test_firm_visits_per_year_are_made_and_unvisited_firms_come_first():
    model = create_test_model(firm_visits_per_year=60, firms=40)
    visits, distinct = _visits(model, 12)
    assert visits.sum() == 60  # the lever is honoured over a calendar year
    assert np.abs(visits - 5).max() == 0  # spread evenly: 5 a month
    # Every firm is visited once before any is visited twice.
    np.testing.assert_array_equal(distinct, np.minimum(np.cumsum(visits), 40))
    total_subsidy = sum(f.subsidies for f in model.firm_list)
    assert total_subsidy == pytest.approx(60 * model.p.subsidy_per_visit)


def test_uneven_visit_numbers_are_spread_over_the_year():
    model = create_test_model(firm_visits_per_year=7)
    visits, _ = _visits(model, 12)
    assert visits.sum() == 7 and visits.max() == 1


def test_visits_and_subsidies_restart_in_january():
    model = create_test_model(firm_visits_per_year=24, start="2025-11", until="2026-03")
    for _ in range(4):
        model.step()
    ds = model.dataset()
    np.testing.assert_array_equal(ds["firms_visited_ytd"].values,
                                  running_sum_within_year(ds, "firm_visits"))
    assert ds["firms_visited_ytd"].values[2] == ds["firm_visits"].values[2]  # January
    assert sum(f.subsidies for f in model.firm_list) == pytest.approx(
        ds["firm_visits"].values[2:].sum() * model.p.subsidy_per_visit)


def test_no_visits_without_front_line_time():
    model = create_test_model(frontline_share=0.0)
    visits, distinct = _visits(model, 4)
    assert visits.sum() == 0 and distinct.sum() == 0
