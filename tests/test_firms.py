"""Enterprises (step 4) and firm visits (A3): labour demand, subsidies, the vacancy stock."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import create_test_model, running_sum_within_year
from countysim.core.firms import SUBSIDY_MONTHS, FirmTable
from countysim.core.problems import Origin, Status

ANNUAL_WAGE = 60_000.0


def make_table(base=(100.0, 40.0, 7.0), employees=(95, 40, 7)) -> FirmTable:
    """A firm table with the given labour demand at the start and employees."""
    table = FirmTable.create(np.array(base, dtype=float))
    table.employees = np.array(employees, dtype=np.int64)
    return table


# ---------------------------------------------------------------------- post_vacancies


def test_vacancies_are_demand_minus_employees():
    table = make_table()
    table.post_vacancies(1.0, 0.05, 0.3)
    np.testing.assert_allclose(table.demand, [100.0, 40.0, 7.0])
    assert table.vacancies.tolist() == [5, 0, 0]
    table.post_vacancies(1.1, 0.05, 0.3)  # demand grows 10 %: new posts open
    np.testing.assert_allclose(table.demand, [110.0, 44.0, 7.7])
    assert table.vacancies.tolist() == [15, 4, 1]


def test_vacancies_are_never_negative():
    table = make_table()
    table.post_vacancies(0.5, 0.0, 0.3)  # demand halves: firms are overstaffed
    assert table.vacancies.tolist() == [0, 0, 0]


def test_open_problems_drag_demand_by_the_penalty_each():
    table = make_table(base=(100.0, 100.0), employees=(80, 80))
    table.open_problems = np.array([0, 3])
    table.post_vacancies(1.0, 0.1, 0.3)
    np.testing.assert_allclose(table.demand, [100.0, 100.0 / (1 + 0.1 * 3)])
    assert table.vacancies.tolist() == [20, 0]  # 76.9 posts wanted, 80 held


def test_a_visit_raises_demand_for_a_year():
    table = make_table(base=(100.0, 100.0), employees=(100, 100))
    t = table
    t.subsidy_rate[0], t.subsidy_months[0] = 0.2, SUBSIDY_MONTHS
    demand = []
    for _ in range(SUBSIDY_MONTHS + 2):
        table.post_vacancies(1.0, 0.0, 0.5)
        demand.append(table.demand.copy())
    demand = np.array(demand)
    # Labour cost falls by the subsidy rate: demand rises by elasticity x rate (0.5 x 0.2).
    np.testing.assert_allclose(demand[:SUBSIDY_MONTHS, 0], 110.0)
    np.testing.assert_allclose(demand[SUBSIDY_MONTHS:, 0], 100.0)
    np.testing.assert_allclose(demand[:, 1], 100.0)
    assert table.subsidy_months.tolist() == [0, 0]


# ----------------------------------------------------------------------- the agents


def test_receive_visit_books_subsidies_and_joins_the_platform():
    model = create_test_model()
    firm = model.firm_list[3]
    employees = int(firm.employees)
    firm.receive_visit(50_000.0, ANNUAL_WAGE)
    firm.receive_visit(10_000.0, ANNUAL_WAGE)
    assert firm.visited and firm.on_platform
    assert firm.subsidies == 60_000.0
    assert firm.subsidy_months == SUBSIDY_MONTHS
    # The rate is the latest subsidy over the firm's yearly wage bill.
    assert firm.subsidy_rate == pytest.approx(10_000.0 / (max(employees, 1) * ANNUAL_WAGE))
    others = np.delete(np.arange(len(model.firm_list)), 3)
    assert not model.firm_table.visited[others].any()


def test_enterprise_reads_its_row_of_the_firm_table():
    model = create_test_model()
    table = model.firm_table
    for firm in model.firm_list[:5]:
        assert firm.employees == table.employees[firm.index]
        assert firm.base_demand == table.base_demand[firm.index]
    # The table's employees are a view of the workforce's: every move updates them.
    assert np.shares_memory(table.employees, model.workforce.employees)
    with pytest.raises(AttributeError):
        _ = model.firm_list[0].no_such_field


def test_every_separation_reopens_a_post():
    # Vacancies are a stock: demand minus employees, so jobs that end (separations,
    # retirements) reopen as vacancies at the next posting (replacement demand).
    table = make_table(base=(100.0,), employees=(100,))
    table.post_vacancies(1.0, 0.0, 0.3)
    assert table.vacancies.tolist() == [0]
    table.employees -= 3
    table.post_vacancies(1.0, 0.0, 0.3)
    assert table.vacancies.tolist() == [3]


def test_firms_post_their_vacancy_stock_each_month():
    model = create_test_model(separation_rate=0.05)
    for _ in range(3):
        model.step()
        t = model.firm_table
        # The stock matched this month: modelled firms' vacancies and other employers'.
        assert (t.vacancies >= 0).all() and model.other_vacancies >= 0
        assert model.vacancies == t.vacancies.sum() + model.other_vacancies > 0


# -------------------------------------------------------------------------- visits


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


def test_no_visits_before_the_programme():
    # The spin-up runs under the 2024 levers: no visits, nobody on the platform.
    model = create_test_model(firm_visits_per_year=60)
    assert not model.firm_table.on_platform.any() and model.firms_visited_ytd == 0


def test_visits_and_subsidies_restart_in_january_but_the_platform_stays():
    # A start in November spins up through January-October under the 2025 levers: their
    # visits are in November's year-to-date count.
    model = create_test_model(firm_visits_per_year=24, start="2025-11", until="2026-03")
    for _ in range(2):
        model.step()
    on_platform_2025 = model.firm_table.on_platform.copy()
    for _ in range(2):
        model.step()
    ds = model.dataset()
    assert ds["firms_visited_ytd"].values[0] == 22  # 2 a month, Jan-Nov
    jan = 2
    np.testing.assert_array_equal(ds["firms_visited_ytd"].values[jan:],
                                  running_sum_within_year(ds, "firm_visits")[jan:])
    assert sum(f.subsidies for f in model.firm_list) == pytest.approx(
        ds["firm_visits"].values[2:].sum() * model.p.subsidy_per_visit)
    platform = ds["firms_on_platform"].values
    # Firms stay on the platform while ytd restarts; it grows by the year's visits to
    # firms never visited before (which firms those are is the draw's: by size).
    assert (np.diff(platform) >= 0).all() and platform[0] == 22
    first_visits = model.firm_table.visited & ~on_platform_2025
    assert (platform >= ds["firms_visited_ytd"].values).all()
    assert platform[-1] == 24 + first_visits.sum()


def test_a_visit_collects_the_firms_open_problems():
    model = create_test_model(firm_visits_per_year=120, problem_rate_firm=0.5)
    q = model.problems
    for _ in range(3):
        before = np.flatnonzero((q.origin == Origin.FIRM) & (q.status == Status.OPEN))
        visited_before = model.firm_table.visited.copy()
        model.step()
        newly = np.flatnonzero(model.firm_table.visited & ~visited_before)
        hit = before[np.isin(q.source[before], newly)]
        assert hit.size > 0
        assert (q.status[hit] != Status.OPEN).all(), "a visited firm's problem stayed open"


def test_investment_drag_does_not_raise_mean_capacity_from_lasting_luck():
    # Half the firms have two open problems fewer than expected for ten years, half two
    # more: no mean surplus, so no aggregate growth may come of it (L5). Compounded, the
    # capacities would be 1.005^120 = 1.82 and 0.995^120 = 0.55, a mean of 1.18.
    table = make_table(base=(100.0, 100.0, 100.0, 100.0), employees=(90, 90, 90, 90))
    table.expected_open = 3.0
    table.open_problems = np.array([1, 5, 1, 5])
    for _ in range(120):
        table.post_vacancies(1.0, penalty=0.0, elasticity=0.0, drag=0.03)
    # 0.03 x 2 problems a year for ten years: +-0.6 of the initial capacity.
    np.testing.assert_allclose(table.capacity, [1.6, 0.4, 1.6, 0.4])
    np.testing.assert_allclose(table.capacity.mean(), 1.0)
