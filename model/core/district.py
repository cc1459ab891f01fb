"""The district definition: villages, firms and cadres as tables.

A district is either *generated* from the scenario's aggregates (B1, B4, B13, the
assumptions in ``[district]``) with a fixed seed, or *loaded* from CSV files so that
another county can supply real data::

    villages.csv  village, township, households, workforce, product_line, idle_land_mu,
                  idle_buildings, collective_income, branch_capacity, distance_km[, pilot]
    firms.csv     firm, sector, location, employees, productivity
    cadres.csv    cadre, post, tenure_years, responsibility, capability, service,
                  results, integrity
    promoted.csv  capability  (optional: the capabilities the pre-programme rules
                  promoted to the leading posts; without it the spin-up's promotions)

``countysim district SCENARIO --out DIR`` writes a generated district in this form.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import tables as T
from .cadres import RANK_WAIT_YEARS, RESULTS, effort_of, median_of, merit_weights
from .scenario import Scenario
from .tables import MONTHS_PER_YEAR, RECRUIT_PROBATION_MONTHS

__all__ = ["District", "DistrictDataError", "build_district", "district_snapshot",
           "pilot_order", "read_district_tables", "read_promoted", "select_pilots"]

# District folders read once by a sweep: folder -> file name -> bytes. While installed, a
# run reads these bytes instead of the files, so an edit on disk during a sweep cannot
# reach its later runs (the store's input digests are of these same bytes).
_SNAPSHOTS: dict[Path, Mapping[str, bytes]] = {}


@contextmanager
def district_snapshot(folders: Mapping[Path, Mapping[str, bytes]]) -> Iterator[None]:
    """Read the district CSVs of ``folders`` from the given bytes inside the block."""
    previous = dict(_SNAPSHOTS)
    _SNAPSHOTS.update({Path(k): v for k, v in folders.items()})
    try:
        yield
    finally:
        _SNAPSHOTS.clear()
        _SNAPSHOTS.update(previous)

# Pinyin names of the 12 township-level units (B4), used when the district has 12.
LITONG_TOWNSHIPS = ("Jinji", "Jinyintan", "Gaozha", "Biandangou", "Shangqiao", "Gucheng",
                    "Jinxing", "Shengli", "Dongtasi", "Banqiao", "Malianqu", "Guojiaqiao")

_SCHEMA: dict[str, dict[str, str]] = {
    "villages": {"village": "str", "township": "str", "households": "count", "workforce": "int",
                 "product_line": "str", "idle_land_mu": "float", "idle_buildings": "int",
                 "collective_income": "float", "branch_capacity": "unit",
                 "distance_km": "float"},
    "firms": {"firm": "str", "sector": "str", "location": "str", "employees": "int",
              "productivity": "positive"},
    "cadres": {"cadre": "str", "post": "str", "tenure_years": "float",
               **{q: "unit" for q in T.CADRE_QUALITIES}},
    "promoted": {"capability": "unit"},
}
#: The tables of a district folder, required and optional (see the module docstring).
TABLES = ("villages", "firms", "cadres")
OPTIONAL_TABLES = ("promoted",)
_CHOICES = {("villages", "product_line"): T.PRODUCT_LINE_NAMES,
            ("firms", "sector"): T.FIRM_SECTOR_NAMES,
            ("firms", "location"): ("urban", "town"),
            ("cadres", "post"): ("township", "department")}


class DistrictDataError(ValueError):
    """A district CSV file is missing, malformed or inconsistent with the scenario."""


@dataclass(frozen=True)
class District:
    """Villages, firms and cadres at the start of the simulation.

    Attributes:
        villages: One row per village (columns as in ``villages.csv``, plus ``pilot``: a
            pilot village in the start year).
        firms: One row per firm.
        cadres: One row per evaluated cadre.
        urban_labour_force: Urban residents in the labour force (persons).
        pilot_order: Village indices in the order the pilot rule takes them; a year with
            ``n`` pilot villages has the first ``n``.
        promoted_capability: Capabilities of the cadres the 2024 rules promoted to leading
            posts in the generated pool's last :data:`PROMOTED_YEARS` years (empty for a
            district read from files): whom the leading posts hold, and the reference of
            leader quality (L2).
    """

    villages: pd.DataFrame
    firms: pd.DataFrame
    cadres: pd.DataFrame
    urban_labour_force: int
    pilot_order: np.ndarray
    promoted_capability: np.ndarray = field(default_factory=lambda: np.empty(0))

    def tables(self) -> dict[str, pd.DataFrame]:
        """The district's CSV tables by file stem (``promoted`` only when known)."""
        out = {name: getattr(self, name) for name in TABLES}
        if self.promoted_capability.size:
            out["promoted"] = pd.DataFrame({"capability": self.promoted_capability})
        return out

    def copy(self) -> District:
        """A deep copy: its own tables and arrays."""
        return District(self.villages.copy(), self.firms.copy(), self.cadres.copy(),
                        self.urban_labour_force, self.pilot_order.copy(),
                        self.promoted_capability.copy())

    def to_csv(self, folder: str | Path) -> None:
        """Write ``villages.csv``, ``firms.csv``, ``cadres.csv`` (and ``promoted.csv``)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in self.tables().items():
            frame.to_csv(folder / f"{name}.csv", index=False)


# Generated districts by the canonical text of their scenario, which fixes every number
# they are generated from: the replicates of a sweep's scenario and repeated runs in one
# process copy the district instead of generating it again (~45 ms, most of it the
# settled pool). The few most recent are kept.
_GENERATED: OrderedDict[str, District] = OrderedDict()
GENERATED_KEPT = 8


def build_district(scenario: Scenario) -> District:
    """Generate or load the district of a scenario and choose its pilot villages.

    Deterministic for ``scenario.district_seed``: every replicate of a scenario sees the
    same villages, firms, cadres and pilot set, as a real district would. A generated
    district is generated once per process for a scenario's numbers; every call returns
    a copy of its own. A district read from files is read at every call.
    """
    if scenario.district_data is not None:
        return _build_district(scenario)
    key = scenario.to_toml()
    district = _GENERATED.get(key)
    if district is None:
        district = _GENERATED[key] = _build_district(scenario)
        while len(_GENERATED) > GENERATED_KEPT:
            _GENERATED.popitem(last=False)
    else:
        _GENERATED.move_to_end(key)
    return district.copy()


def _build_district(scenario: Scenario) -> District:
    rng = np.random.default_rng(scenario.district_seed)
    urban_lf = round(scenario.population * (1 - scenario.rural_share)
                     * scenario.labour_force_share)
    if scenario.district_data is None:
        villages = _generate_villages(scenario, rng)
        firms = _generate_firms(scenario, rng)
        caseload = (scenario.problem_rate_household * villages["households"].sum()
                    + scenario.problem_rate_firm * len(firms)) / max(scenario.evaluated_cadres, 1)
        cadres, promoted = _generate_cadres(scenario, rng, caseload)
    else:
        villages, firms, cadres = read_district_tables(scenario.district_data)
        _check_counts(scenario, villages, firms, cadres)
        promoted = read_promoted(scenario.district_data)
    order = pilot_order(villages, scenario.pilot_villages, scenario.pilot_rule, rng,
                        scenario.district_data)
    pilot = np.zeros(len(villages), dtype=bool)
    pilot[order[: scenario.pilot_villages]] = True
    villages["pilot"] = pilot
    return District(villages, firms, cadres, urban_lf, order, promoted)


def select_pilots(villages: pd.DataFrame, n: int, rule: str, rng: np.random.Generator,
                  source: Path | None = None) -> np.ndarray:
    """Boolean mask of the first ``n`` pilot villages by ``rule`` (see :func:`pilot_order`)."""
    mask = np.zeros(len(villages), dtype=bool)
    mask[pilot_order(villages, n, rule, rng, source)[:n]] = True
    return mask


def pilot_order(villages: pd.DataFrame, n: int, rule: str, rng: np.random.Generator,
                source: Path | None = None) -> np.ndarray:
    """Village indices in the order ``rule`` makes them pilots (``levers.pilot_rule``).

    ``listed`` takes the villages of the ``pilot`` column first (``n`` must equal their
    number in the start year), then the others by branch capacity.
    """
    capacity = villages["branch_capacity"].to_numpy()
    if rule == "listed":
        if "pilot" not in villages.columns:
            raise DistrictDataError(f"{source or '<generated>'}/villages.csv: pilot_rule "
                                    "'listed' needs a 'pilot' column (true/false)")
        listed = villages["pilot"].astype(bool).to_numpy()
        if listed.sum() != n:
            raise DistrictDataError(f"{source}/villages.csv: column 'pilot' lists "
                                    f"{listed.sum()} villages but levers.pilot_villages = {n}")
        key = capacity + 2.0 * listed  # capacity is in [0, 1]: listed ones come first
    elif rule == "capacity":
        key = capacity
    elif rule == "idle_assets":
        key = (villages["idle_land_mu"] / villages["households"]).to_numpy()
    else:  # random
        key = rng.random(len(villages))
    # Stable order, ties broken by position, so the choice is reproducible.
    return np.argsort(-key, kind="stable")


# --------------------------------------------------------------------------- generation


def _split(total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Integer parts of ``total`` proportional to ``weights`` (largest remainders)."""
    raw = total * weights / weights.sum()
    out = np.maximum(np.floor(raw).astype(np.int64), minimum)
    short = total - out.sum()
    if short > 0:
        out[np.argsort(-(raw - np.floor(raw)), kind="stable")[:short]] += 1
    return out


def _generate_villages(s: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    n, t = s.villages, s.townships
    # Each township has at least one village; the rest spread evenly at random.
    per_township = 1 + rng.multinomial(n - t, np.full(t, 1 / t))
    township_names = LITONG_TOWNSHIPS if t == len(LITONG_TOWNSHIPS) else tuple(
        f"T{i + 1:02d}" for i in range(t))
    township = np.repeat(np.arange(t), per_township)
    number = np.concatenate([np.arange(1, k + 1) for k in per_township])
    households_total = round(s.population * s.rural_share / s.household_size)
    weights = rng.lognormal(0.0, T.VILLAGE_SIZE_SIGMA, n)
    households = np.maximum(_split(households_total, weights), T.MIN_HOUSEHOLDS)
    workforce = np.round(households * s.household_size * s.labour_force_share).astype(np.int64)
    lines = np.array(T.PRODUCT_LINE_NAMES)
    shares = np.array([T.PRODUCT_LINES[k]["share"] for k in lines], dtype=float)
    return pd.DataFrame({
        "village": [f"{township_names[i]}-{k:02d}" for i, k in zip(township, number, strict=True)],
        "township": [township_names[i] for i in township],
        "households": households,
        "workforce": workforce,
        "product_line": lines[rng.choice(len(lines), n, p=shares / shares.sum())],
        "idle_land_mu": np.round(households * s.idle_land_per_household
                                 * rng.lognormal(0.0, T.IDLE_LAND_SIGMA, n), 1),
        "idle_buildings": rng.poisson(s.idle_buildings_mean, n),
        "collective_income": np.round(rng.lognormal(np.log(max(s.collective_income_median, 1.0)),
                                                    s.collective_income_sigma, n), -2),
        "branch_capacity": np.round(rng.beta(*T.BRANCH_CAPACITY_BETA, n), 3),
        "distance_km": np.round(rng.uniform(*T.DISTANCE_KM, n), 1),
    })


def _generate_firms(s: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    n = s.firms
    sectors = np.array(T.FIRM_SECTOR_NAMES)
    shares = np.array([T.FIRM_SECTORS[k]["share"] for k in sectors], dtype=float)
    return pd.DataFrame({
        "firm": [f"F{i + 1:04d}" for i in range(n)],
        "sector": sectors[rng.choice(len(sectors), n, p=shares / shares.sum())],
        "location": np.where(rng.random(n) < T.FIRM_URBAN_SHARE, "urban", "town"),
        "employees": np.maximum(1, np.round(rng.lognormal(np.log(s.firm_size_median),
                                                          s.firm_size_sigma, n))).astype(np.int64),
        "productivity": np.round(rng.lognormal(0.0, T.FIRM_PRODUCTIVITY_SIGMA, n), 3),
    })


def draw_cadre_qualities(n: int, rng: np.random.Generator, shift: float = 0.0) -> np.ndarray:
    """Qualities (n x 5, in [0, 1]) with a common factor; ``shift`` moves all on the logit."""
    g = rng.standard_normal((n, 1))
    e = rng.standard_normal((n, len(T.CADRE_QUALITIES)))
    z = T.CADRE_QUALITY_MEAN + shift + T.CADRE_QUALITY_LOAD * g + T.CADRE_QUALITY_UNIQUE * e
    return 1.0 / (1.0 + np.exp(-z))


def pool_turnover(s: Scenario) -> float:
    """Share of the evaluated pool leaving a year: departures plus promotions to the
    leading posts that fall vacant (the rate at which newcomers refill posts)."""
    return s.cadre_exit_rate + s.leading_posts * s.leading_post_turnover / max(
        s.evaluated_cadres, 1)


PROMOTED_YEARS = 15  # ~1,000 promotions: the reference's own noise is ~0.03 sd
SETTLE_YEARS = 30  # the pool turns over ~20 % a year and rank cycles lose their phase
# A one-year moving average of monthly counts (weight 1/12) has the variance of a count
# over 2 * 12 - 1 months.
COUNT_MONTHS = 2 * MONTHS_PER_YEAR - 1


def settled_pool(s: Scenario, n: int, rng: np.random.Generator, caseload: float = 1.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A pool that has lived under the 2024 rules: qualities (n x 5), years in rank, and
    the capabilities of those promoted in the last :data:`PROMOTED_YEARS` years.
    ``caseload`` is the problems a month per cadre (their count's noise enters results).

    The pool is simulated evaluation by evaluation for :data:`SETTLE_YEARS` years under
    the levers in force before the start year: newcomers (less capable, A11) learn on the
    job, the best scorers leave for leading posts as these fall vacant, the worst are
    removed, cadres retire or transfer out, and those above the median advance in rank
    once they have the years. Results are scored from each cadre's expected caseload
    (front-line effort times its resolution odds against the pool's). So the pool's make-up,
    who has been selected out of it and how long each has been in rank, is the one the
    rules themselves produce, and a run under the 2024 rules does not drift or echo.
    """
    p = s.in_year(int(s.start[:4]) - 1)
    q = draw_cadre_qualities(n, rng, shift=T.RECRUIT_CAPABILITY_SHIFT)
    tenure = rng.uniform(0.0, 2.0 * max(p.advance_min_tenure, 1.0), n)
    wait = RANK_WAIT_YEARS * rng.random(n)
    served = np.full(n, 10 * MONTHS_PER_YEAR)  # months since joining: probation is a year
    standing, merit = np.full(n, np.nan), np.full(n, np.nan)
    cap, resp = T.CADRE_QUALITIES.index("capability"), T.CADRE_QUALITIES.index("responsibility")
    integrity = T.CADRE_QUALITIES.index("integrity")
    interval = int(p.evaluation_interval)
    share = interval / MONTHS_PER_YEAR
    weights = merit_weights(p.results_weight)
    steps = SETTLE_YEARS * MONTHS_PER_YEAR // interval
    promoted: list[np.ndarray] = []
    for step in range(steps):
        q[:, cap] = 1.0 - (1.0 - q[:, cap]) * (1.0 - p.capability_growth) ** interval
        tenure += share
        served += interval
        scored = served >= RECRUIT_PROBATION_MONTHS  # newcomers are not judged in probation
        effort = effort_of(p, standing, merit, q[:, resp], tenure)
        # Results as the run scores them: resolutions follow the caseload, assigned by
        # effort (a cadre's odds set how long its queue is, not how many it resolves once
        # settled), counted as a moving average of a few cases a month. (Scoring the
        # odds themselves selected capable cadres out faster than the run does, and the
        # pool's capability then rose 5 % by 2030 under the 2024 rules.)
        expected = caseload * effort / max(float(effort.mean()), 1e-12)
        resolved = rng.poisson(expected * COUNT_MONTHS) / COUNT_MONTHS
        total = resolved + caseload
        results = np.divide(resolved, total, out=np.full(n, 0.5), where=total > 0)
        seen = np.clip(q + rng.normal(0.0, p.evaluation_noise, q.shape), 0.0, 1.0)
        seen[:, RESULTS] = results
        merit_now = seen @ weights
        z_tenure = (tenure - tenure.mean()) / max(tenure.std(), 1e-9)
        z_merit = (merit_now - merit_now.mean()) / max(merit_now.std(), 1e-9)
        score = p.evaluation_strictness * z_merit + (1.0 - p.evaluation_strictness) * z_tenure
        memory = min(1.0, share)
        standing = np.where(~scored, np.nan, np.where(
            np.isnan(standing), score, standing + memory * (score - standing)))
        merit = np.where(~scored, np.nan, np.where(
            np.isnan(merit), merit_now, merit + memory * (merit_now - merit)))
        gone = scored & (merit <= p.removal_score_max) if p.evaluation_strictness > 0 else (
            np.zeros(n, bool))
        if p.integrity_checks:  # integrity failures (twice the rate at integrity 0)
            hazard = p.integrity_failure_rate * share * 2.0 * (1.0 - q[:, integrity])
            gone |= scored & (rng.random(n) < hazard)
        vacancies = rng.poisson(p.leading_posts * p.leading_post_turnover * share)
        candidates = np.flatnonzero(scored & ~gone & (standing >= p.promotion_score_min))
        best = candidates[np.argsort(-standing[candidates], kind="stable")[:vacancies]]
        gone[best] = True
        if step >= steps - PROMOTED_YEARS * MONTHS_PER_YEAR // interval:
            promoted.append(q[best, cap].copy())
        gone |= rng.random(n) < p.cadre_exit_rate * share
        advance = (scored & ~gone & (tenure >= p.advance_min_tenure + wait)
                   & (score > median_of(score)) & (rng.random(n) < p.advance_rate))
        tenure[advance] = 0.0
        wait[advance] = RANK_WAIT_YEARS * rng.random(int(advance.sum()))
        k = int(gone.sum())
        q[gone] = draw_cadre_qualities(k, rng, shift=T.RECRUIT_CAPABILITY_SHIFT)
        tenure[gone] = 0.0
        served[gone] = 0
        standing[gone], merit[gone] = np.nan, np.nan
    return q, tenure, np.concatenate(promoted) if promoted else np.empty(0)


def _generate_cadres(s: Scenario, rng: np.random.Generator, caseload: float
                     ) -> pd.DataFrame:
    n = s.evaluated_cadres
    q, tenure, promoted = settled_pool(s, n, rng, caseload)
    frame = pd.DataFrame({
        "cadre": [f"C{i + 1:04d}" for i in range(n)],
        "post": np.where(rng.random(n) < T.CADRE_TOWNSHIP_SHARE, "township", "department"),
        "tenure_years": np.round(tenure, 2),
    })
    for j, name in enumerate(T.CADRE_QUALITIES):
        frame[name] = np.round(q[:, j], 4)
    return frame, promoted


# ------------------------------------------------------------------------------ loading


# Numeric columns: the allowed range and the words for it. Upper ends keep a district
# within what the model can hold in memory (the whole population is at most 5 million,
# see district.population) and turn 1e19 or inf into an error, not an overflow.
_RANGES: dict[str, tuple[float, float, bool, str]] = {
    # kind: (low, high, whole numbers only, what is allowed)
    "count": (1, 1_000_000, True, "a whole number in [1, 1000000]"),
    "int": (0, 1_000_000, True, "a whole number in [0, 1000000]"),
    "float": (0.0, 1e12, False, "a finite number in [0, 1e12]"),
    "positive": (0.0, 1e6, False, "a finite number in (0, 1e6]"),
    "unit": (0.0, 1.0, False, "a number in [0, 1]"),
}
# Totals over the rows: workers live in arrays, one entry per person.
_TOTALS = {("villages", "workforce"): (1, 5_000_000), ("firms", "employees"): (0, 5_000_000)}
_FLAGS = {"1": True, "0": False, "true": True, "false": False}


def read_district_tables(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame,
                                                      pd.DataFrame]:
    """Read and validate ``villages.csv``, ``firms.csv`` and ``cadres.csv`` of a folder.

    Raises:
        DistrictDataError: A file is missing or a value is invalid (the message names the
            file, the row and the column, and what is allowed).
    """
    folder = Path(folder)
    villages, firms, cadres = (_read_csv(folder, n) for n in TABLES)
    return villages, firms, cadres


def read_promoted(folder: str | Path) -> np.ndarray:
    """Capabilities in a folder's optional ``promoted.csv`` (empty when there is none)."""
    folder = Path(folder)
    snapshot = _SNAPSHOTS.get(folder)
    known = ("promoted.csv" in snapshot if snapshot is not None
             else (folder / "promoted.csv").is_file())
    if not known:
        return np.empty(0)
    return _read_csv(folder, "promoted")["capability"].to_numpy(dtype=float)


def _read_csv(folder: Path, name: str) -> pd.DataFrame:
    path = folder / f"{name}.csv"
    snapshot = _SNAPSHOTS.get(folder, {}).get(path.name)
    if snapshot is None and not path.is_file():
        raise DistrictDataError(f"{path}: file missing (a district folder needs "
                                "villages.csv, firms.csv and cadres.csv)")
    try:
        # Every cell as text: IDs keep leading zeros ("001"), a blank cell stays blank
        # (not NaN, not the name "nan"), and numbers are checked below.
        frame = pd.read_csv(path if snapshot is None else io.BytesIO(snapshot), dtype=str,
                            keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            OSError) as exc:
        problem = " ".join(str(exc).split())
        raise DistrictDataError(f"{path}: cannot be read as CSV: {problem}") from None
    schema = _SCHEMA[name]
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise DistrictDataError(f"{path}: missing column(s) {', '.join(missing)}; "
                                f"required: {', '.join(schema)}")
    if frame.empty:
        raise DistrictDataError(f"{path}: no rows")

    def bad(col: str, mask: pd.Series | np.ndarray, want: str) -> DistrictDataError:
        row = int(np.flatnonzero(np.asarray(mask))[0])
        return DistrictDataError(f"{path}: row {row + 2}, column {col!r}: "
                                 f"{frame[col].iloc[row]!r} is not {want}")

    for col, kind in schema.items():
        values = frame[col]
        if kind == "str":
            blank = values.str.strip() == ""
            if blank.any():
                raise bad(col, blank, "a name (the cell is blank)")
            allowed = _CHOICES.get((name, col))
            if allowed is not None and not values.isin(allowed).all():
                raise bad(col, ~values.isin(allowed), f"one of {', '.join(allowed)}")
            continue
        numeric = pd.to_numeric(values.str.strip(), errors="coerce").astype(float)
        lo, hi, whole, want = _RANGES[kind]
        wrong = ~np.isfinite(numeric) | (numeric < lo) | (numeric > hi)
        if kind == "positive":
            wrong |= numeric <= 0
        if whole:
            wrong |= np.isfinite(numeric) & (numeric != np.round(numeric))
        if wrong.any():
            raise bad(col, wrong, want)
        frame[col] = numeric.astype(np.int64 if whole else float)
        if (name, col) in _TOTALS:
            low, high = _TOTALS[(name, col)]
            total = int(frame[col].sum())
            if not low <= total <= high:
                raise DistrictDataError(f"{path}: column {col!r}: the rows sum to {total}; "
                                        f"the district needs a total in [{low}, {high}]")
    if name == "villages" and "pilot" in frame.columns:
        flags = frame["pilot"].str.strip().str.lower()
        if not flags.isin(list(_FLAGS)).all():
            raise bad("pilot", ~flags.isin(list(_FLAGS)), "a pilot flag: 1/0 or true/false")
        frame["pilot"] = flags.map(_FLAGS).astype(bool)
    key = next(iter(schema))
    if frame[key].duplicated().any():
        dup = frame[key][frame[key].duplicated()].iloc[0]
        raise DistrictDataError(f"{path}: column {key!r}: {dup!r} appears more than once")
    return frame


def _check_counts(s: Scenario, villages: pd.DataFrame, firms: pd.DataFrame,
                  cadres: pd.DataFrame) -> None:
    folder = s.district_data
    for label, frame, key in (("villages", villages, "villages"), ("firms", firms, "firms"),
                              ("cadres", cadres, "evaluated_cadres")):
        if len(frame) != s[key]:
            raise DistrictDataError(f"{folder}/{label}.csv has {len(frame)} rows but the "
                                    f"scenario sets {key} = {s[key]}; make them agree")
    n_townships = villages["township"].nunique()
    if n_townships != s.townships:
        raise DistrictDataError(f"{folder}/villages.csv names {n_townships} townships but "
                                f"the scenario sets townships = {s.townships}")
