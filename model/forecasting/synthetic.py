"""A synthetic forecast Dataset with the layout of :func:`countysim.forecast`'s, for tests.

It lets the report, the figures and the notebooks be built and tested without running
the model: every variable, dimension, coordinate and attribute of the forecast Dataset
(``docs/forecast.md``) is there, filled from a simple, known generative model instead of
simulations. **Nothing in it is a model result**; its attributes say so
(``synthetic = "yes"``), and the report prints that in its first line.

The generative model, per target, package ``p``, run ``r`` (ensemble member ``m``,
replicate ``k``) and year ``y`` (``t = y - start year``)::

    value = start + (trend + effect[p] + member_slope[m]) * t + seed_sd * sqrt(t) * e[r, y]

``member_slope[m]`` is linear in the member's parameter values (uniform on [0, 1]), so
parameter uncertainty, not only seed noise, spreads the paths; ``e`` is standard normal.
``attained`` compares ``value`` with the threshold in the target's own years (NaN in the
others), and the probabilities and their 95 % Jeffreys intervals are computed from it
exactly as for a real forecast. A target whose threshold no run can reach gives
probability 0, one that every run passes gives 1: the known answers the tests check.

    from countysim.forecasting.synthetic import synthetic_forecast
    ds = synthetic_forecast(runs=40, seed=1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from ..core.version import __version__
from .attainment import FAN_QUANTILES, jeffreys_interval

__all__ = ["DEFAULT_PACKAGES", "DEFAULT_TARGETS", "QUANTILES", "SyntheticTarget",
           "synthetic_forecast"]

# The fan-chart quantiles of the forecast Dataset (spec: 5/25/50/75/95 %).
QUANTILES = FAN_QUANTILES
# Aggregations computed over villages: their targets get a township breakdown.
PER_VILLAGE = ("mean_over_villages", "share_of_villages")

DEFAULT_PACKAGES = ("baseline_continued", "programme_expanded", "programme_withdrawn")


@dataclass(frozen=True)
class SyntheticTarget:
    """One synthetic target and the generative model of its indicator.

    Attributes:
        id: Target id (the ``target`` coordinate).
        label: Human-readable label.
        indicator: The model variable it is computed from (a name, not checked).
        threshold: The level to reach, in ``units``.
        direction: ``">="`` (reach at least) or ``"<="`` (stay at most).
        aggregation: How the indicator is aggregated (spec's list, e.g. ``"total"``).
        units: Units of the value and the threshold.
        years: The years in which the target is evaluated.
        start: The indicator's value in the start year, in ``units``.
        trend: Change per year under the first package, in ``units``/yr.
        effects: Extra change per year by package name (missing: 0), in ``units``/yr.
        member_sd: Spread of the per-member slope (parameter uncertainty), ``units``/yr.
        seed_sd: Seed noise after one year, in ``units``; grows as sqrt(years).
        bounds: The indicator's range (a share in [0, 1], a count >= 0); values are
            clipped to it.
        headline: The year summaries read it in (default the last of ``years``).
    """

    id: str
    label: str
    indicator: str
    threshold: float
    direction: str
    aggregation: str
    units: str
    years: tuple[int, ...]
    start: float
    trend: float
    effects: dict[str, float] = field(default_factory=dict)
    member_sd: float = 0.0
    seed_sd: float = 0.0
    bounds: tuple[float, float] = (-np.inf, np.inf)
    headline: int | None = None


# Illustrative numbers in the spirit of issue 10's target set; chosen so that the
# probabilities spread over (0, 1) and differ by package. They are not model output.
DEFAULT_TARGETS = (
    SyntheticTarget("collective_income_100k", "every village's collective income >= "
                    "100,000 yuan a year", "collective_income", 1.0, ">=",
                    "share_of_villages", "1", (2027,), 0.70, 0.14,
                    {"programme_expanded": 0.06, "programme_withdrawn": -0.08},
                    member_sd=0.05, seed_sd=0.03, bounds=(0.0, 1.0)),
    SyntheticTarget("urban_placements_4000", ">= 4,000 urban placements a year",
                    "urban_placements", 4000.0, ">=", "flow_per_year", "persons/yr",
                    (2026, 2027, 2028, 2029, 2030), 3900.0, 20.0,
                    {"programme_expanded": 15.0, "programme_withdrawn": -30.0},
                    member_sd=60.0, seed_sd=110.0),
    SyntheticTarget("rural_income_growth_7", "rural income per capita +7 % a year",
                    "rural_income_per_capita", 0.07, ">=", "growth_rate", "1/yr",
                    (2026, 2027, 2028, 2029, 2030), 0.068, 0.0,
                    {"programme_expanded": 0.001, "programme_withdrawn": -0.002},
                    member_sd=0.002, seed_sd=0.003),
    SyntheticTarget("legacy_backlog_cleared", "legacy backlog cleared by 2027",
                    "legacy_backlog", 0.0, "<=", "december", "cases", (2027,),
                    300.0, -150.0, {"programme_expanded": -20.0,
                                    "programme_withdrawn": 60.0},
                    member_sd=40.0, seed_sd=25.0, bounds=(0.0, np.inf)),
    SyntheticTarget("urban_unemployment_5_5", "urban unemployment <= 5.5 %",
                    "urban_unemployment_rate", 0.055, "<=", "december", "1",
                    (2026, 2027, 2028, 2029, 2030), 0.049, 0.0,
                    {"programme_withdrawn": 0.0008}, member_sd=0.0005, seed_sd=0.001),
)

# Township names of the synthetic breakdown (Litong's 12, B4).
TOWNSHIPS = ("Jinji", "Jinyintan", "Gaozha", "Biandangou", "Shangqiao", "Gucheng",
             "Jinxing", "Shengli", "Dongtasi", "Banqiao", "Malianqu", "Guojiaqiao")


def _attained(value: np.ndarray, threshold: float, direction: str) -> np.ndarray:
    hit = value >= threshold if direction == ">=" else value <= threshold
    return np.where(np.isnan(value), np.nan, hit.astype(float))


def synthetic_forecast(packages: Sequence[str] = DEFAULT_PACKAGES,
                       targets: Sequence[SyntheticTarget] = DEFAULT_TARGETS, *,
                       members: int = 20, replicates: int = 2,
                       years: Sequence[int] = (2025, 2026, 2027, 2028, 2029, 2030),
                       parameters: Sequence[str] = ("matching_elasticity",
                                                    "cooperative_wage_share",
                                                    "legacy_logit"),
                       townships: Sequence[str] = TOWNSHIPS,
                       failed_share: float = 0.0, seed: int = 0) -> xr.Dataset:
    """A synthetic forecast Dataset laid out as :func:`countysim.forecast`'s.

    Args:
        packages: Package names (the ``package`` dim).
        targets: The targets and their generative models.
        members: Ensemble members; runs = members x replicates, member slowest.
        replicates: Replicates (seeds) per member.
        years: The years of the ``year`` dim.
        parameters: Names of the ensemble's parameters (``parameter_value``).
        townships: Township names of the breakdown of per-village targets.
        failed_share: Share of runs that fail (NaN value) in every package, for tests of
            robustness to failed runs.
        seed: Root seed of the generator (one SeedSequence tree).

    Returns:
        The Dataset (see the module docstring); attrs mark it ``synthetic = "yes"``.
    """
    n_runs = members * replicates
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    years = np.asarray(years, dtype=np.int64)
    t = (years - years[0]).astype(float)
    params = rng.uniform(0.0, 1.0, (members, len(parameters)))
    # Member slopes: a fixed linear response to the parameters, unit-variance overall.
    weights = rng.normal(size=len(parameters))
    weights /= np.linalg.norm(weights) * np.sqrt(1 / 12)  # Var(U(0,1)) = 1/12
    z_member = (params - 0.5) @ weights
    member = np.repeat(np.arange(members), replicates)
    replicate = np.tile(np.arange(replicates), members)
    failed = rng.random(n_runs) < failed_share
    shape = (len(packages), n_runs, len(targets), len(years))
    value = np.empty(shape)
    attained = np.full(shape, np.nan)
    town_probability = np.full((len(packages), len(targets), len(years), len(townships)),
                               np.nan)
    # Common random numbers: the same seed noise for every package (paired runs).
    noise = rng.standard_normal((n_runs, len(targets), len(years)))
    town_offset = rng.normal(size=(len(targets), len(townships)))
    town_noise = rng.standard_normal((n_runs, len(targets), len(years), len(townships)))
    for j, tg in enumerate(targets):
        if tg.direction not in (">=", "<="):
            raise ValueError(f"{tg.id}: direction must be '>=' or '<=', got {tg.direction!r}")
        evaluated = np.isin(years, tg.years)
        for i, p in enumerate(packages):
            slope = tg.trend + tg.effects.get(p, 0.0) + tg.member_sd * z_member[member]
            v = (tg.start + slope[:, None] * t[None, :]
                 + tg.seed_sd * np.sqrt(t)[None, :] * noise[:, j, :])
            v = np.clip(v, *tg.bounds)
            v[failed] = np.nan
            value[i, :, j, :] = v
            runs = attained[i, :, j, :]  # a view: (run, year)
            runs[:, evaluated] = _attained(v[:, evaluated], tg.threshold, tg.direction)
            if tg.aggregation in PER_VILLAGE:
                # Townships differ by a fixed offset and their own noise, both of the
                # size of the district's seed noise.
                tv = np.clip(v[:, :, None] + tg.seed_sd * town_offset[j][None, None, :]
                             + tg.seed_sd * town_noise[:, j, :, :], *tg.bounds)
                hit = _attained(tv, tg.threshold, tg.direction)
                with np.errstate(invalid="ignore"):
                    town_probability[i, j, :, :] = np.nanmean(hit, axis=0)
                town_probability[i, j, ~evaluated, :] = np.nan
    count = np.sum(np.isfinite(attained), axis=1)
    hits = np.nansum(attained, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        probability = np.where(count > 0, hits / np.maximum(count, 1), np.nan)
    low, high = jeffreys_interval(hits, count)
    with np.errstate(invalid="ignore"):
        fan = np.moveaxis(np.nanquantile(value, QUANTILES, axis=1), 0, -1)
    ds = xr.Dataset(
        {
            "value": (("package", "run", "target", "year"), value,
                      {"long_name": "the target's indicator, aggregated as the target says",
                       "units": "see the target's units"}),
            "attained": (("package", "run", "target", "year"), attained,
                         {"long_name": "1 if the run meets the target in that year, 0 if "
                          "not, NaN if not evaluated or failed"}),
            "probability": (("package", "target", "year"), probability,
                            {"long_name": "probability of attainment", "units": "1"}),
            "probability_low": (("package", "target", "year"), low,
                                {"long_name": "lower end of the 95 % Jeffreys interval",
                                 "units": "1"}),
            "probability_high": (("package", "target", "year"), high,
                                 {"long_name": "upper end of the 95 % Jeffreys interval",
                                  "units": "1"}),
            "n": (("package", "target", "year"), count.astype(np.int64),
                  {"long_name": "runs that count (finished, target evaluated)"}),
            "fan": (("package", "target", "year", "quantile"), fan,
                    {"long_name": "quantiles of value over runs"}),
            "parameter_value": (("run", "parameter"), params[member],
                                {"long_name": "the ensemble member's parameter values"}),
            "township_probability": (("package", "target", "year", "township"),
                                     town_probability,
                                     {"long_name": "probability of attainment within the "
                                      "township (per-village targets)", "units": "1"}),
        },
        coords={
            "package": np.array(packages, dtype=str),
            "run": np.arange(n_runs),
            "target": np.array([tg.id for tg in targets], dtype=str),
            "year": years,
            "quantile": np.array(QUANTILES),
            "parameter": np.array(parameters, dtype=str),
            "township": np.array(townships, dtype=str),
            "member": ("run", member),
            "replicate": ("run", replicate),
            "indicator": ("target", np.array([tg.indicator for tg in targets], dtype=str)),
            "threshold": ("target", np.array([tg.threshold for tg in targets])),
            "direction": ("target", np.array([tg.direction for tg in targets], dtype=str)),
            "aggregation": ("target", np.array([tg.aggregation for tg in targets],
                                               dtype=str)),
            "units": ("target", np.array([tg.units for tg in targets], dtype=str)),
            "label": ("target", np.array([tg.label for tg in targets], dtype=str)),
            "headline_year": ("target", np.array([tg.years[-1] if tg.headline is None
                                                  else tg.headline for tg in targets],
                                                 dtype=np.int64)),
            "per_village": ("target", np.array([tg.aggregation in PER_VILLAGE
                                                for tg in targets])),
        },
        attrs={
            "title": "synthetic forecast (for tests and examples; not model output)",
            "synthetic": "yes",
            "experiment": "synthetic_forecast",
            "ensemble": "synthetic",
            "members": members,
            "replicates": replicates,
            "seed": seed,
            "interval": "Jeffreys 95%",
            "targets_illustrative": 1,
            "countysim_version": __version__,
            "git_commit": "none (synthetic)",
            "created": "synthetic",
        },
    )
    return ds
