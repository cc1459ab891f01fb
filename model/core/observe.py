"""Observation (step 8): monthly indicators recorded into arrays, returned as a Dataset.

:data:`VARIABLES` is the Dataset's contract: name, dims, units, long name and, where the
variable corresponds to an article figure, the figure ID. Flows named ``*_ytd`` are
year-to-date (reset each January); ``*_cum`` are cumulative since the start of the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from .problems import Origin, Status
from .seeds import describe
from .tables import LABOUR_STATES, MONTHS_PER_YEAR, PRODUCT_LINE_NAMES, Labour
from .version import __version__
from .villages import COOPERATIVE_KINDS, farm_returns

if TYPE_CHECKING:
    from .county import CountyModel


@dataclass(frozen=True)
class Var:
    """Metadata of one Dataset variable."""

    dims: tuple[str, ...]
    units: str
    long_name: str
    figure: str | None = None


T, V, S = ("time",), ("time", "village"), ("time", "labour_state")
VARIABLES: dict[str, Var] = {
    "workers": Var(S, "persons", "workers by labour state"),
    "village_workers": Var(("time", "village", "labour_state"), "persons",
                           "rural workers by home village and labour state"),
    "labour_force": Var(T, "persons", "workers in the labour force (rural and urban)"),
    "population": Var(T, "persons", "resident population (labour force / its share)", "B2"),
    "retirements": Var(T, "persons", "workers leaving the labour force this month "
                       "(replaced by young entrants)"),
    "urban_resident_share": Var(T, "1", "urban share of resident workers (migrants working "
                                "outside the district are not resident)", "B15"),
    "rural_workers_away": Var(T, "persons", "rural workers away from the farm all year: "
                              "migrants and rural holders of urban jobs", "R2"),
    "settlers": Var(T, "persons", "rural workers settling in town this month"),
    "village_settlers": Var(V, "persons", "workers of the village settling in town this "
                            "month (their home becomes urban)", "B15"),
    "urban_unemployment_rate": Var(T, "1", "urban residents seeking work over the urban "
                                   "residents' labour force (surveyed rate)", "R6"),
    "output_index": Var(T, "1", "real output relative to the start month", "B7"),
    "labour_demand_index": Var(T, "1", "urban labour demand relative to the initial state: "
                               "output to the employment elasticity, leaders and the "
                               "services settled households buy"),
    "wage_index": Var(T, "1", "nominal wage and price level relative to the start month"),
    "urban_placements": Var(T, "persons", "people newly placed into urban jobs this month"),
    "urban_placements_ytd": Var(T, "persons", "people placed into urban jobs (from search or "
                                "the farm), year to date"),
    "urban_new_jobs_ytd": Var(T, "persons", "new urban employment (城镇新增就业): people placed "
                              "into urban jobs less job holders who retired, year to date", "A4"),
    "matches": Var(T, "1", "seeker-vacancy matches this month (incl. repeat placements)"),
    "separations": Var(T, "1", "urban jobs ended this month"),
    "vacancies": Var(T, "1", "open vacancies (the stock) this month"),
    "rural_nonfarm_entrants": Var(T, "persons",
                                  "rural workers newly in non-farm income this month"),
    "rural_nonfarm_entrants_ytd": Var(T, "persons", "rural workers who found an income path "
                                      "(newly in non-farm income), year to date", "A5"),
    "problems_raised": Var(T, "problems", "enterprise and household problems raised"),
    "problems_resolved": Var(T, "problems", "enterprise and household problems resolved"),
    "problems_resolved_cum": Var(T, "problems", "enterprise and household problems resolved "
                                 "by front-line cadres, cumulative", "A6"),
    "problems_open": Var(T, "problems", "enterprise and household problems unresolved"),
    "legacy_raised": Var(T, "problems", "legacy (urban renewal) cases arising this month"),
    "legacy_resolved": Var(T, "problems", "legacy problems resolved this month"),
    "legacy_resolved_cum": Var(T, "problems", "legacy problems resolved, cumulative", "A29"),
    "legacy_open": Var(T, "problems", "legacy problems unresolved"),
    "firm_visits": Var(T, "visits", "firm visits by cadres this month"),
    "firms_visited_ytd": Var(T, "firms", "distinct firms visited, year to date", "A3"),
    "firms_on_platform": Var(T, "firms", "firms on the big-data matching platform", "A3"),
    "cadres_promoted_ytd": Var(T, "cadres", "cadres promoted to leading posts, year to date",
                               "A7"),
    "cadres_advanced_ytd": Var(T, "cadres", "cadres advanced in rank, year to date", "A8"),
    "cadres_removed_ytd": Var(T, "cadres", "cadres removed from post, year to date", "A9"),
    "cadres_unchanged_ytd": Var(T, "cadres", "evaluated cadres with no outcome, year to date"),
    "cadres_evaluated_ytd": Var(T, "cadres", "distinct cadres evaluated, year to date", "A10"),
    "cadre_effort": Var(T, "1", "mean share of cadre time on the front line", "A2"),
    "leading_vacancies": Var(T, "posts", "leading posts vacant, awaiting promotion"),
    "leader_quality": Var(T, "sd", "mean capability of leading-post holders above its 2024 "
                          "level, in sd of the pool (L2)"),
    "village_leadership": Var(T, "1", "mean leadership multiplier of the villages' "
                              "cooperatives (L7; 1 = the 2024 level)"),
    "cooperatives_working": Var(T, "villages", "party-branch cooperatives that earn (not "
                                "shells, L7)", "A13"),
    "collective_income": Var(V, "yuan/month", "village collective income"),
    "collective_income_growth": Var(V, "1", "collective income growth over the previous "
                                    "year, year to date (annualised)"),
    "collective_income_growth_pilot": Var(T, "1", "mean collective income growth of pilot "
                                          "villages, year to date", "A14"),
    "cooperative": Var(V, "1", "cooperative kind of the village"),
    "product_line": Var(V, "1", "main product line of the village"),
    "productivity": Var(V, "1", "village farm productivity index (1 without trained "
                        "technicians)", "A22"),
    "active_land": Var(V, "mu", "idle land activated by the cooperative"),
    "technicians_trained": Var(T, "persons", "agri-technicians trained by experts", "A18"),
    "returnee_businesses": Var(T, "firms", "returnee businesses running", "A21"),
    "cooperative_workers": Var(T, "persons", "rural workers employed by party-branch-led "
                               "cooperatives", "A13"),
    "returnee_business_workers": Var(T, "persons", "rural workers employed by returnee "
                                     "businesses", "A21"),
    "cooperative_income_uplift": Var(T, "yuan/worker/yr", "mean income gain of cooperative "
                                     "workers over farming in their village (signed)"),
    "cooperative_member_income": Var(T, "yuan/household/yr", "mean gain of a cooperative's "
                                     "member household: wages and profit share", "A26"),
    "dividends_per_household": Var(T, "yuan/household/yr", "collective-income dividends per "
                                   "village household (annualised from the month)", "R12"),
    "rural_income_per_capita": Var(T, "yuan/yr", "rural per-capita disposable income "
                                   "(annualised from the month)", "R4"),
    "urban_income_per_capita": Var(T, "yuan/yr", "urban per-capita disposable income "
                                   "(annualised from the month)", "R4"),
    "village_income_per_capita": Var(V, "yuan/yr", "per-capita disposable income by village "
                                     "(annualised from the month)"),
}


# Every month is stamped with its first day, but holds the month's end-of-month values:
# stocks as the month ends, flows summed over the month (docs/odd.md, "Observation").
TIME_ATTRS = {
    "standard_name": "time",
    "axis": "T",
    "long_name": "month (stamped with its first day; values are as at the month's end)",
    "comment": "Each time stamp is the first day of a month; the values recorded at it are "
               "end-of-month values: stocks as the month ends, flows (and year-to-date or "
               "cumulative totals) up to and including that month.",
}


def cf_units(unit: str) -> dict[str, str]:
    """A variable's unit attributes for CF-1.10 (UDUNITS-parsable ``units``).

    UDUNITS knows neither persons, problems or firms (counts) nor yuan (money): those
    variables get ``units = "1"`` and keep the unit of :data:`VARIABLES` in
    ``unit_of_measure`` (``"persons"``, ``"yuan/yr"``), which says what is counted or which
    currency and period a money value has (docs/outputs.md).

    Args:
        unit: The unit in :data:`VARIABLES` (``"1"`` for a ratio or index).

    Returns:
        ``{"units": "1"}``, plus ``unit_of_measure`` unless ``unit`` is ``"1"``.
    """
    return {"units": "1"} if unit == "1" else {"units": "1", "unit_of_measure": unit}


# Dimensions labelled by strings: a NetCDF file cannot keep them as CF coordinate variables
# (those must be strictly monotonic numbers), so :func:`to_netcdf_layout` moves the labels
# to an auxiliary coordinate ``<dim>_name`` and :func:`from_netcdf_layout` moves them back.
LABELLED_DIMS = ("village", "labour_state")
LABEL_SUFFIX = "_name"


def to_netcdf_layout(ds: xr.Dataset) -> xr.Dataset:
    """A run's Dataset as a CF-1.10 file holds it: string-labelled dims without index.

    ``village`` and ``labour_state`` lose their string coordinate variables, which CF
    forbids; the labels become the auxiliary coordinates ``village_name`` and
    ``labour_state_name``. :func:`from_netcdf_layout` (used by
    :func:`countysim.open_run`) restores the Dataset, so ``ds.sel(village=...)`` works
    again.
    """
    labelled = [d for d in LABELLED_DIMS if d in ds.indexes and ds[d].dtype.kind in "UOT"]
    out = ds.reset_index(labelled).rename_vars({d: d + LABEL_SUFFIX for d in labelled})
    for d in labelled:
        out[d + LABEL_SUFFIX].attrs["comment"] = (
            f"labels of dimension {d}; countysim.open_run makes them its index again")
    return out


def from_netcdf_layout(ds: xr.Dataset) -> xr.Dataset:
    """Undo :func:`to_netcdf_layout`: the labels index their dims again."""
    labelled = [d for d in LABELLED_DIMS if d + LABEL_SUFFIX in ds.coords and d not in ds.coords]
    out = ds.rename_vars({d + LABEL_SUFFIX: d for d in labelled})
    for d in labelled:
        attrs = {k: v for k, v in out[d].attrs.items() if k != "comment"}
        out = out.assign_coords({d: (d, out[d].values.astype(str), attrs)})
    return out


# Dims that come first in a tidy frame, in this order (a sweep's, then a run's); any
# other dim follows in the Dataset's order.
TIDY_DIM_ORDER = ("sample", "replicate", "time", "village", "labour_state")
# Non-dimension coordinates carried along their dim into a tidy frame: the township
# groups villages, which an analyst groups by (``pilot`` is a 0/1 flag, also carried).
TIDY_COORDS = ("township", "pilot")


def to_tidy(ds: xr.Dataset, variables: str | list[str] | tuple[str, ...] | None = None
            ) -> pd.DataFrame:
    """A Dataset as one long (tidy) DataFrame: one row per variable and coordinate.

    Columns: ``variable``, ``unit``, every dim any selected variable has (``time``, and
    ``village`` with its ``township`` and ``pilot``, ``labour_state``, a sweep's
    ``sample`` and ``replicate``), and ``value`` (float). A variable without a dim has
    that column empty (``NaN``/``None``), so district-wide and per-village variables
    stack in one frame, ready for ``groupby`` or a plotting library::

        df = countysim.to_tidy(ds, ["urban_new_jobs_ytd", "collective_income"])
        df[df.variable == "collective_income"].groupby(["time", "township"]).value.sum()

    ``unit`` is the variable's unit of measure (``"persons"``, ``"yuan/yr"``; ``"1"`` for
    a ratio). Coded variables (``product_line``, ``cooperative_kind``) keep their codes;
    their ``flag_meanings`` attribute names them.

    Args:
        ds: A run's Dataset (:func:`countysim.run`, :func:`countysim.open_run`) or a
            sweep's (:func:`countysim.open_results`).
        variables: A variable's name or a list of them; default every data variable.

    Returns:
        The long DataFrame, rows in the order of ``variables`` and then of the dims.

    Raises:
        KeyError: A name in ``variables`` is not a data variable of ``ds``.
    """
    names = [variables] if isinstance(variables, str) else list(
        ds.data_vars if variables is None else variables)
    missing = [n for n in names if n not in ds.data_vars]
    if missing:
        raise KeyError(f"not data variables of the Dataset: {', '.join(missing)}")
    dims = {d for n in names for d in ds[n].dims}
    ordered = [d for d in TIDY_DIM_ORDER if d in dims] + sorted(
        dims - set(TIDY_DIM_ORDER), key=list(ds.dims).index)
    extra = [c for c in TIDY_COORDS if c in ds.coords
             and len(ds[c].dims) == 1 and ds[c].dims[0] in dims]
    # The carried coordinates go right after their dim (township beside village).
    columns = ["variable", "unit"]
    for d in ordered:
        columns += [d, *(c for c in extra if ds[c].dims[0] == d)]
    columns.append("value")
    frames = []
    for name in names:
        da = ds[name]
        frame = da.reset_coords(drop=True).to_dataframe(name="value").reset_index()
        for c in extra:
            if ds[c].dims[0] in da.dims:
                frame[c] = ds[c].values[pd.Index(ds.indexes[ds[c].dims[0]]).get_indexer(
                    frame[ds[c].dims[0]])]
        frame["value"] = frame["value"].astype(float)
        frame.insert(0, "variable", name)
        frame.insert(1, "unit", str(da.attrs.get("unit_of_measure", da.attrs.get("units",
                                                                                  ""))))
        frames.append(frame)
    out = (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()).reindex(
        columns=columns)
    for c in extra:  # integer flags stay integers where a row has no village
        if ds[c].dtype.kind in "iu":
            out[c] = out[c].astype("Int64")
    return out


def open_run(path: str | Path) -> xr.Dataset:
    """Open a run's NetCDF file (``countysim run --out``) as :func:`countysim.run` returns it.

    The file keeps the village and labour-state labels in ``village_name`` and
    ``labour_state_name`` (CF-1.10 has no string coordinate variables); this puts them
    back as the dims' indexes, so ``ds.sel(village="Jinji-01")`` works. A plain
    ``xarray.open_dataset`` also reads the file: select with
    ``ds.set_xindex("village_name").sel(village_name=...)`` there.

    Args:
        path: The NetCDF file.

    Returns:
        The run's Dataset, loaded into memory (the file is closed).

    Raises:
        DigestError: The file is damaged (its content digest differs) or not NetCDF.
        FileNotFoundError: No such file.
    """
    import io

    from .digest import verified_bytes

    data = verified_bytes(Path(path).read_bytes(), str(path))
    with xr.open_dataset(io.BytesIO(data), engine="h5netcdf") as ds:
        return from_netcdf_layout(ds.load())


# District-wide indicators mirrored as model attributes after each step (e.g.
# ``model.urban_placements_ytd``), so Mesa's DataCollector and batch_run can read them by
# name: string reporters, no lambdas (they break pickling).
FLAGS = {"cooperative": COOPERATIVE_KINDS, "product_line": PRODUCT_LINE_NAMES}

MODEL_REPORTERS = {name: name for name, var in VARIABLES.items() if var.dims == T}


class Recorder:
    """Collects one record per month from a :class:`~countysim.core.county.CountyModel`."""

    def __init__(self, model: CountyModel) -> None:
        self.model = model
        self.rows: dict[str, list[np.ndarray | float]] = {name: [] for name in VARIABLES}
        villages = model.district.villages
        self.base_income = villages["collective_income"].to_numpy(dtype=float)
        self.year_income = np.zeros(len(villages))
        self.months_in_year = 0
        self.pilot = villages["pilot"].to_numpy(dtype=bool)
        self.households = villages["households"].to_numpy(dtype=float)
        self.village_people = self.households * model.spec.household_size
        self.cum = {"problems": 0, "legacy": 0}
        self.initial_cells: np.ndarray | None = None

    def add_base_month(self, income: np.ndarray) -> None:
        """Count a month of the simulated 2024 (the spin-up's last year) into A14's base."""
        self.year_income += income
        self.months_in_year += 1

    def start_year(self) -> None:
        """Make last year's collective income the base of this year's growth (A14).

        The 2025 base is the simulated 2024 (the spin-up's last twelve months), so that
        2025's growth compares like with like; without a full simulated year it is the
        district table's 2024 income.
        """
        if self.months_in_year == MONTHS_PER_YEAR:
            self.base_income = self.year_income.copy()
        self.year_income[:] = 0.0
        self.months_in_year = 0

    def record(self) -> None:
        """Append this month's indicators."""
        m, wf, q = self.model, self.model.workforce, self.model.problems
        r = self.rows
        cells = m.cells  # workers by home (row 0: urban residents) and state
        if self.initial_cells is None:
            self.initial_cells = cells.sum(axis=1)
        r["workers"].append(cells.sum(axis=0))
        r["village_workers"].append(cells[1:])
        r["labour_force"].append(int(wf.active))
        r["population"].append(float(wf.active / m.spec.labour_force_share))
        r["retirements"].append(m.retirements)
        resident = cells.sum(axis=0)
        resident = resident.sum() - resident[Labour.MIGRANT]
        urban_home = cells[0].sum() - cells[0, Labour.MIGRANT]
        r["urban_resident_share"].append(float(urban_home / max(resident, 1)))
        r["rural_workers_away"].append(int(cells[1:, Labour.MIGRANT].sum()
                                           + cells[1:, Labour.URBAN_JOB].sum()))
        r["settlers"].append(m.settlers)
        r["village_settlers"].append(m.settlers_by_village.copy())
        urban = cells[0]
        in_lf = urban[Labour.URBAN_JOB] + urban[Labour.SEEKING]
        r["urban_unemployment_rate"].append(float(urban[Labour.SEEKING] / max(in_lf, 1)))
        r["output_index"].append(float(m.output_index))
        r["labour_demand_index"].append(float(m.labour_demand_index))
        r["wage_index"].append(float(m.nominal_index))
        r["urban_placements"].append(m.placements)
        placed = wf.placed_count()
        r["urban_placements_ytd"].append(placed)
        r["urban_new_jobs_ytd"].append(placed - wf.retired_jobs_ytd)
        r["matches"].append(m.matches)
        r["separations"].append(m.separations)
        r["vacancies"].append(m.vacancies)
        r["rural_nonfarm_entrants"].append(m.nonfarm_entrants)
        r["rural_nonfarm_entrants_ytd"].append(wf.nonfarm_count())
        self.cum["problems"] += m.problems_resolved
        self.cum["legacy"] += m.legacy_resolved
        r["problems_raised"].append(m.problems_raised)
        r["problems_resolved"].append(m.problems_resolved)
        r["problems_resolved_cum"].append(self.cum["problems"])
        unresolved = q.status != Status.RESOLVED.value
        legacy = q.origin == Origin.LEGACY.value
        r["problems_open"].append(int(np.count_nonzero(unresolved & ~legacy)))
        r["legacy_raised"].append(m.legacy_raised)
        r["legacy_resolved"].append(m.legacy_resolved)
        r["legacy_resolved_cum"].append(self.cum["legacy"])
        r["legacy_open"].append(int(np.count_nonzero(unresolved & legacy)))
        r["firm_visits"].append(m.visits_month)
        r["firms_visited_ytd"].append(m.firms_visited_ytd)
        r["firms_on_platform"].append(int(m.firm_table.on_platform.sum()))
        promoted, advanced, removed, evaluated = (int(x) for x in m.outcomes_ytd)
        r["cadres_promoted_ytd"].append(promoted)
        r["cadres_advanced_ytd"].append(advanced)
        r["cadres_removed_ytd"].append(removed)
        r["cadres_unchanged_ytd"].append(m.unchanged_ytd())
        r["cadres_evaluated_ytd"].append(evaluated)
        r["cadre_effort"].append(float(np.mean([c.effort for c in m.cadres])))
        r["leading_vacancies"].append(int(m.leading_vacancies))
        r["leader_quality"].append(float(m.leader_z))
        r["village_leadership"].append(float(np.mean(m.leadership)))
        r["cooperatives_working"].append(int(sum(v.functioning for v in m.village_list)))
        self._record_villages(cells)

    def _record_villages(self, cells: np.ndarray) -> None:
        m, p, r = self.model, self.model.p, self.rows
        villages = m.village_list
        n_v = len(villages)
        income = np.array([v.collective_income for v in villages])
        self.year_income += income
        self.months_in_year += 1
        expected = self.base_income * self.months_in_year / MONTHS_PER_YEAR
        growth = np.divide(self.year_income, expected, out=np.ones(n_v), where=expected > 0) - 1
        coop = np.array([v.cooperative for v in villages], dtype=np.int8)
        r["collective_income"].append(income)
        r["collective_income_growth"].append(growth)
        pilots = coop == 1
        r["collective_income_growth_pilot"].append(
            float(growth[pilots].mean()) if pilots.any() else np.nan)
        r["cooperative"].append(coop)
        r["product_line"].append(np.array([v.line for v in villages], dtype=np.int8))
        r["productivity"].append(np.array([v.productivity for v in villages]))
        r["active_land"].append(np.array([v.active_land for v in villages]))
        r["technicians_trained"].append(int(sum(v.trained for v in villages)))
        r["returnee_businesses"].append(int(sum(v.returnees for v in villages)))
        # Local jobs of a village go to its cooperative first, the rest to returnee firms.
        wf = m.workforce
        filled = np.bincount(wf.home[wf.rural_where(lambda s: wf.coop_job[s])], minlength=n_v)
        coop_jobs = np.array([v.coop_jobs for v in villages])
        coop_workers = np.minimum(filled, coop_jobs)
        r["cooperative_workers"].append(int(coop_workers.sum()))
        r["returnee_business_workers"].append(int((filled - coop_workers).sum()))
        farm_return = farm_returns(m)
        nominal = m.nominal_index
        uplift = MONTHS_PER_YEAR * nominal * (p.local_wage - p.farm_income * farm_return)
        r["cooperative_income_uplift"].append(
            float((uplift * coop_workers).sum() / coop_workers.sum()) if coop_workers.any()
            else 0.0)
        profit = np.array([v.member_profit for v in villages])
        revenue = np.array([v.coop_revenue for v in villages])
        member_gain = MONTHS_PER_YEAR * (profit + p.coop_wage_share * revenue) / (
            p.coop_member_households)
        r["cooperative_member_income"].append(
            float(member_gain[pilots].mean()) if pilots.any() else 0.0)
        dividends = np.array([v.dividends for v in villages])
        r["dividends_per_household"].append(
            float(MONTHS_PER_YEAR * dividends.sum() / self.households.sum()))
        self._record_income(cells, farm_return, dividends + profit)

    def _record_income(self, cells: np.ndarray, farm_return: np.ndarray,
                       village_payouts: np.ndarray) -> None:
        """Per-capita disposable income from the workers by home and state (no per-person
        pass): earnings by state, plus dividends and profit shares, plus transfers."""
        m, p = self.model, self.model.p
        nominal = m.nominal_index
        wage = nominal * np.array([0.0, p.local_wage, p.urban_wage,
                                   p.migrant_wage * p.remittance_share, 0.0])
        earnings = cells @ wage
        earnings[1:] += cells[1:, Labour.FARMING] * p.farm_income * nominal * farm_return
        # People grow with the labour force (B2), village by village.
        growth = cells.sum(axis=1) / np.maximum(self.initial_cells, 1)
        people = self.village_people * growth[1:]
        by_village = earnings[1:] + village_payouts
        # Transfers grow at their own rates (pensions are not indexed to wages).
        years = m.month / MONTHS_PER_YEAR
        transfers = p.transfer_income * (1.0 + p.rural_transfer_growth) ** years
        urban_transfers = p.transfer_income * (1.0 + p.urban_transfer_growth) ** years
        per_capita = MONTHS_PER_YEAR * (by_village / people + transfers)
        urban_people = m.spec.population * (1 - m.spec.rural_share) * growth[0]
        self.rows["village_income_per_capita"].append(per_capita)
        self.rows["rural_income_per_capita"].append(
            float(MONTHS_PER_YEAR * (by_village.sum() / people.sum() + transfers)))
        self.rows["urban_income_per_capita"].append(
            float(MONTHS_PER_YEAR * (earnings[0] / max(urban_people, 1.0) + urban_transfers))
            if urban_people > 0 else 0.0)
        for name in MODEL_REPORTERS:
            setattr(m, name, self.rows[name][-1])

    def to_dataset(self, variables: tuple[str, ...] | list[str] | None = None) -> xr.Dataset:
        """The recorded months as an :class:`xarray.Dataset`.

        Args:
            variables: Names of :data:`VARIABLES` to include (default: all). A sweep that
                keeps a few variables skips building the others; coordinates stay.
        """
        m = self.model
        n_months = len(self.rows["workers"])
        time = pd.date_range(m.spec.start + "-01", periods=n_months, freq="MS")
        villages = m.district.villages
        coords = {
            "time": ("time", time, TIME_ATTRS),
            "village": ("village", villages["village"].to_numpy(dtype=str),
                        {"long_name": "administrative village"}),
            "township": ("village", villages["township"].to_numpy(dtype=str),
                         {"long_name": "township of the village", "source": "B4"}),
            "pilot": ("village", self.pilot.astype(np.int8),
                      {"long_name": "pilot village of A13 (1 = pilot)", "figure": "A13"}),
            "labour_state": ("labour_state", np.array(LABOUR_STATES),
                             {"long_name": "labour state"}),
        }
        data_vars = {}
        for name in VARIABLES if variables is None else variables:
            meta = VARIABLES[name]
            values = np.array(self.rows[name])
            if values.size == 0:
                values = np.zeros((0, *[len(villages) if d == "village" else len(Labour)
                                        for d in meta.dims[1:]]))
            attrs = cf_units(meta.units) | {"long_name": meta.long_name}
            if meta.figure:
                attrs["figure"] = meta.figure
            if name in FLAGS:
                attrs["flag_values"] = np.arange(len(FLAGS[name]), dtype=np.int8)
                attrs["flag_meanings"] = " ".join(FLAGS[name])
            data_vars[name] = (meta.dims, values, attrs)
        attrs = {
            "title": f"countysim run of scenario {m.spec.name}",
            "countysim_version": __version__,
            "scenario_name": m.spec.name,
            "scenario_toml": m.spec.to_toml(),
            "scenario_hash": m.spec.digest,
            "parameter_set": m.spec.parameter_set,
            **describe(m.seed),
            "start": m.spec.start,
            "spinup_months": m.spinup,
            "Conventions": "CF-1.10",
            # No date: the same scenario and seed give the same file, byte for byte.
            "history": f"countysim {__version__}: run of scenario {m.spec.name} from "
                       f"{m.spec.start}, seed {m.seed.entropy}",
        }
        return xr.Dataset(data_vars, coords=coords, attrs=attrs)
