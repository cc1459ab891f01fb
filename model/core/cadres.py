"""Cadres: front-line effort, learning, mentoring and the 五比五看 evaluation (steps 3, 7).

Each month a cadre chooses front-line effort above the mandated minimum (A2) by trading
its cost against the evaluation's reward: effort raises the results (实绩) dimension, which
carries ``results_weight`` of the five dimensions (A1), and the reward is largest for a
cadre near the promotion cut-off or near the removal line. Capability grows with
experience; a mentee also closes part of the gap to its mentor's capability (A11, L3).

At each evaluation the five qualities are observed with noise, results are scored
against a fixed norm (the district's mean caseload per cadre before the programme), and
each cadre's standing is a one-year moving average (a "promotion club" tournament,
Li & Zhou 2005):

* promotion (A7): leading posts fall vacant at ``leading_post_turnover`` (retirement,
  transfer, term ends); the best cadres above ``promotion_score_min`` fill them;
* removal (A9): detected integrity failures, or merit at or below the absolute standard
  ``removal_score_max``; newcomers are exempt during their probation year;
* rank advancement (A8): above-median cadres with enough years in rank, at ``advance_rate``.

A cadre has at most one outcome per calendar year. Promoted, removed and departing
cadres (``cadre_exit_rate``) leave the pool; their posts are refilled by newcomers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from .seeds import id_draws
from .tables import CADRE_QUALITIES, MONTHS_PER_YEAR, RECRUIT_PROBATION_MONTHS

if TYPE_CHECKING:
    from .county import CountyModel

# Order of model.outcomes_ytd: promoted, advanced, removed, then evaluated (the pool).
OUTCOMES = ("promoted", "advanced", "removed", "unchanged")
NO_OUTCOME = -1
RESULTS = CADRE_QUALITIES.index("results")
INTEGRITY = CADRE_QUALITIES.index("integrity")
RESPONSIBILITY = CADRE_QUALITIES.index("responsibility")
CAPABILITY = CADRE_QUALITIES.index("capability")
EQUAL_WEIGHT = 1.0 / len(CADRE_QUALITIES)
# Assumption: the years in rank a cadre needs beyond ``advance_min_tenure`` vary with the
# post and the year's quota, uniformly over this many years. Without it, advancements at
# exactly the minimum keep cohorts in step and the yearly count echoes on a 2-year cycle.
RANK_WAIT_YEARS = 1.0
_FLOAT_MAX = np.finfo(np.float64).max


def merit_weights(results_weight: float) -> np.ndarray:
    """Weights of the five dimensions (A1): ``results_weight`` for 实绩, the rest equal."""
    weights = np.full(len(CADRE_QUALITIES), (1.0 - results_weight) / (len(CADRE_QUALITIES) - 1))
    weights[RESULTS] = results_weight
    return weights


def _density(z: np.ndarray) -> np.ndarray:
    """Standard normal density relative to its peak: 1 at the cut-off, falling away."""
    return np.exp(-0.5 * z * z)


class Cadre(mesa.Agent):
    """A section-level or young cadre (A10), or a newcomer on probation (A11).

    Attributes:
        qualities: Latent 担当, 能力, 服务, 实绩, 廉洁 in [0, 1] (array of 5).
        post: ``"township"`` or ``"department"``.
        tenure: Years in the current rank.
        evaluated: In the evaluated pool (newcomers join after probation).
        joined: Month index the cadre joined (newcomers), or -1 (the initial pool).
        on_legacy: Works on the legacy backlog (A29) rather than routine problems.
        mentor_id: ``unique_id`` of this year's mentor, or -1 (A11).
        effort: Share of time on the front line this month.
        resolved_month: Problems resolved this month.
        resolved_avg: Problems resolved per month, a one-year moving average (the mean
            over the months in post for a newcomer, so its first score is not biased low).
        months_in_post: Months of resolutions in ``resolved_avg``, up to a year.
        standing: Promotion score, a one-year moving average (NaN before the first).
        merit: Absolute merit in [0, 1], a one-year moving average (NaN before the first).
        breach: An undetected integrity failure.
        outcome_year: Calendar year of the last outcome, or -1.
        evaluated_year: Calendar year of the last evaluation, or -1.
        rank_wait: Years in rank needed beyond ``advance_min_tenure`` before the next
            advancement (drawn anew at each, :data:`RANK_WAIT_YEARS`).
    """

    def __init__(self, model: CountyModel, qualities: np.ndarray, post: str, tenure: float,
                 evaluated: bool = True, joined: int = -1, wait: float | None = None) -> None:
        super().__init__(model)
        self.qualities = np.asarray(qualities, dtype=float).copy()
        self.post = post
        self.tenure = float(tenure)
        self.evaluated = evaluated
        self.joined = joined
        self.on_legacy = False
        self.mentor_id = -1
        self.effort = model.p.frontline_share
        self.resolved_month = 0
        self.resolved_avg = 0.0
        self.months_in_post = 0 if joined >= 0 else MONTHS_PER_YEAR
        self.standing = np.nan
        self.merit = np.nan
        self.breach = False
        self.outcome_year = NO_OUTCOME
        self.evaluated_year = NO_OUTCOME
        # ``wait``: a uniform the caller drew for this cadre (newcomers), else one here.
        u = float(model.streams.cadres.random()) if wait is None else wait
        self.rank_wait = RANK_WAIT_YEARS * u

    @property
    def capability(self) -> float:
        """能力 (capability)."""
        return float(self.qualities[CAPABILITY])

    @property
    def skill(self) -> float:
        """Capability times responsibility: what drives problem resolution.

        An undetected integrity failure costs ``breach_penalty`` of it (L2).
        """
        loss = self.model.p.breach_penalty if self.breach else 0.0
        return float(self.qualities[CAPABILITY] * self.qualities[RESPONSIBILITY] * (1 - loss))

    def step(self) -> None:
        """Learn, age one month and finish probation (breaches: :func:`draw_breaches`)."""
        model = self.model
        qualities = self.qualities
        # One read of the element (a Python float: the same double arithmetic, quicker
        # than on NumPy scalars, for a step called for every cadre every month).
        capability = qualities.item(CAPABILITY)
        qualities[CAPABILITY] = capability + model.p.capability_growth * (1.0 - capability)
        self.tenure += 1.0 / MONTHS_PER_YEAR
        if not self.evaluated and model.month - self.joined >= RECRUIT_PROBATION_MONTHS:
            self.evaluated = True


def mentor_cadres(model: CountyModel, cadres: list[Cadre]) -> None:
    """A mentee closes ``mentor_boost`` of the gap to its mentor's capability a year (L3).

    Mentoring (A11) passes on what the mentor knows: a mentee less capable than its
    mentor gains a twelfth of ``mentor_boost`` of the gap each month of the mentoring
    year; one already as capable gains nothing more than on-the-job learning.
    """
    share = model.p.mentor_boost / MONTHS_PER_YEAR
    mentees = [c for c in cadres if c.mentor_id >= 0]
    if not mentees or share <= 0:
        return
    capability = {c.unique_id: c.qualities[CAPABILITY] for c in cadres}
    for c in mentees:
        mentor = capability.get(c.mentor_id)
        if mentor is not None and mentor > c.qualities[CAPABILITY]:
            c.qualities[CAPABILITY] += share * (mentor - c.qualities[CAPABILITY])


def quality_table(cadres: list[Cadre]) -> np.ndarray:
    """The qualities of ``cadres``, one row each (``n x 5``, columns as
    :data:`~countysim.core.tables.CADRE_QUALITIES`).

    One pass over the agents serves every quality a month's front-line work reads
    (integrity, responsibility, capability), instead of one pass per quality. The rows
    are joined end to end and reshaped (the same values as ``np.array`` of the list, in
    two thirds of the time).
    """
    if not cadres:
        return np.empty((0, len(CADRE_QUALITIES)))
    return np.concatenate([c.qualities for c in cadres]).reshape(len(cadres),
                                                                 len(CADRE_QUALITIES))


def skill_of(model: CountyModel, cadres: list[Cadre], qualities: np.ndarray) -> np.ndarray:
    """:attr:`Cadre.skill` of each of ``cadres`` at once (``qualities``:
    :func:`quality_table` of them, current).

    The same operations in the same order as the property, so the same numbers to the
    bit: capability times responsibility, times one less the breach penalty.
    """
    breach = np.fromiter((c.breach for c in cadres), bool, len(cadres))
    loss = np.where(breach, model.p.breach_penalty, 0.0)
    return qualities[:, CAPABILITY] * qualities[:, RESPONSIBILITY] * (1 - loss)


def draw_breaches(model: CountyModel, cadres: list[Cadre],
                  integrity: np.ndarray | None = None) -> int:
    """This month's integrity failures (A1 廉洁), drawn for all cadres at once.

    Low integrity raises the hazard: twice the mean rate at integrity 0, none at 1.
    ``integrity`` is the cadres' integrity, if the caller has it (read from them if not).
    Returns the number of new breaches.
    """
    if integrity is None:
        integrity = np.fromiter((c.qualities[INTEGRITY] for c in cadres), float, len(cadres))
    hazard = model.p.integrity_failure_rate / MONTHS_PER_YEAR * 2.0 * (1.0 - integrity)
    ids = np.fromiter((c.unique_id for c in cadres), np.int64, len(cadres))
    new = np.flatnonzero(id_draws(model.streams.cadres, ids) < hazard)
    for i in new:
        cadres[i].breach = True
    return int(new.size)


def effort_of(p, standing: np.ndarray, merit: np.ndarray, responsible: np.ndarray,
              tenure: np.ndarray) -> np.ndarray:
    """Front-line effort of cadres with these records under the parameters ``p`` (L1).

    Effort above the mandated ``frontline_share`` costs the cadre; its return is the
    results dimension's weight times the marginal value of a better score, which is
    largest near the promotion cut-off, near the removal line and, for cadres with
    (nearly) enough years in rank, near the median that rank advancement needs (a normal
    density of the distance, in sd). A cadre with no standing yet works as one at the
    cut-off.
    """
    spread = _nanstd(merit) if np.isfinite(merit).sum() > 1 else 0.0
    z_promo = _nan_to_num(standing - p.promotion_score_min)
    z_remove = _nan_to_num((merit - p.removal_score_max) / (spread if spread > 0 else 1.0))
    # ``np.nanmedian`` of a 1-D array is the median of its non-NaN values (the order of
    # the values does not matter), without nanmedian's extra passes and copies.
    median = (median_of(standing[~np.isnan(standing)]) if np.isfinite(standing).any()
              else 0.0)
    near_rank = tenure >= p.advance_min_tenure - 1.0  # advancement within sight
    z_rank = _nan_to_num(standing - median)
    reward = p.evaluation_strictness * (_density(z_promo) + _density(z_remove)
                                        + p.advance_rate * near_rank * _density(z_rank))
    incentive = p.effort_response * responsible * reward * p.results_weight / EQUAL_WEIGHT
    floor = p.frontline_share
    return floor + (1.0 - floor) * np.minimum(incentive, 1.0)


def choose_effort(model: CountyModel, cadres: list[Cadre],
                  responsibility: np.ndarray | None = None) -> np.ndarray:
    """Each cadre's front-line effort this month (A1, A2), set on the agents and returned
    (:func:`effort_of`). ``responsibility`` is the cadres' 担当, if the caller has it."""
    if responsibility is None:
        responsibility = np.array([c.qualities[RESPONSIBILITY] for c in cadres])
    # A pass over the agents per record (np.fromiter): quicker than one pass building
    # a list of tuples for np.array.
    n = len(cadres)
    standing = np.fromiter((c.standing for c in cadres), float, n)
    merit = np.fromiter((c.merit for c in cadres), float, n)
    tenure = np.fromiter((c.tenure for c in cadres), float, n)
    effort = effort_of(model.p, standing, merit, responsibility, tenure)
    # ``tolist`` gives the Python floats ``float(e)`` would, in one call.
    for cadre, e in zip(cadres, effort.tolist(), strict=True):
        cadre.effort = e
    return effort


def score_pool(model: CountyModel, pool: list[Cadre], noise: float) -> np.ndarray:
    """Score ``pool`` on the five dimensions and update each cadre's moving averages.

    The qualities are observed with ``noise`` (sd); results are scored against the fixed
    norm. Sets :attr:`Cadre.merit` and :attr:`Cadre.standing` (one-year moving averages;
    the first score starts them) and returns this evaluation's score.
    """
    p = model.p
    n = len(pool)
    observed = np.array([c.qualities for c in pool])
    if noise > 0:
        ids = np.fromiter((c.unique_id for c in pool), np.int64, n)
        observed = np.clip(observed + noise * id_draws(model.streams.cadres, ids,
                                                       observed.shape[1]), 0.0, 1.0)
    # Results against a fixed norm: 0.5 at the pre-programme mean caseload per cadre.
    resolved = np.array([c.resolved_avg for c in pool])
    total = resolved + model.results_norm
    observed[:, RESULTS] = np.divide(resolved, total, out=np.full(n, 0.5), where=total > 0)
    merit_now = observed @ merit_weights(p.results_weight)
    tenure = np.array([c.tenure for c in pool])
    s = p.evaluation_strictness
    score_now = s * _standardise(merit_now) + (1.0 - s) * _standardise(tenure)
    memory = min(1.0, p.evaluation_interval / MONTHS_PER_YEAR)  # a one-year moving average
    standing = np.array([c.standing for c in pool]) if n else np.empty(0)
    merit = np.array([c.merit for c in pool]) if n else np.empty(0)
    standing = np.where(np.isnan(standing), score_now, standing + memory * (score_now - standing))
    merit = np.where(np.isnan(merit), merit_now, merit + memory * (merit_now - merit))
    # ``tolist`` gives the Python floats ``float()`` of each element would, in one call.
    for cadre, st, me in zip(pool, standing.tolist(), merit.tolist(), strict=True):
        cadre.standing, cadre.merit = st, me
    return score_now


def evaluate(model: CountyModel, pool: list[Cadre]) -> tuple[list[Cadre], list[Cadre]]:
    """Score the evaluated pool and decide promotions, removals and advancements.

    Args:
        model: The county model (parameters, streams, calendar, posts, results norm).
        pool: Cadres in the evaluated pool, in a stable order.

    Returns:
        The cadres promoted and the cadres removed (they leave the pool).
    """
    p, rng, year = model.p, model.streams.cadres, model.year
    n = len(pool)
    if n == 0:
        return [], []
    score_now = score_pool(model, pool, p.evaluation_noise)
    s = p.evaluation_strictness
    tenure = np.array([c.tenure for c in pool])
    standing = np.array([c.standing for c in pool])
    merit = np.array([c.merit for c in pool])
    first = 0  # first evaluation this year (counted once, not a NumPy update per cadre)
    for cadre in pool:
        if cadre.evaluated_year != year:
            first += 1
        cadre.evaluated_year = year
    model.outcomes_ytd[3] += first
    free = np.array([c.outcome_year != year for c in pool])

    removed_mask = np.zeros(n, dtype=bool)
    if p.integrity_checks:
        removed_mask |= np.array([c.breach for c in pool])
    if s > 0:
        removed_mask |= merit <= p.removal_score_max
    removed_mask &= free

    promoted_mask = np.zeros(n, dtype=bool)
    candidates = np.flatnonzero(free & ~removed_mask & (standing >= p.promotion_score_min))
    posts = min(int(model.leading_vacancies), candidates.size)
    if posts > 0:
        best = candidates[np.argsort(-standing[candidates], kind="stable")[:posts]]
        promoted_mask[best] = True
        model.leading_vacancies -= posts

    wait = np.array([c.rank_wait for c in pool])
    eligible = free & ~removed_mask & ~promoted_mask & (tenure >= p.advance_min_tenure + wait)
    eligible &= score_now > median_of(score_now)
    ids = np.fromiter((c.unique_id for c in pool), np.int64, n)
    advanced_mask = eligible & (id_draws(rng, ids) < p.advance_rate)
    new_wait = id_draws(rng, ids)

    for i in np.flatnonzero(advanced_mask):
        pool[i].outcome_year = year
        pool[i].tenure = 0.0
        pool[i].rank_wait = RANK_WAIT_YEARS * float(new_wait[i])
    for i in np.flatnonzero(promoted_mask | removed_mask):
        pool[i].outcome_year = year
    model.outcomes_ytd[0] += int(promoted_mask.sum())
    model.outcomes_ytd[1] += int(advanced_mask.sum())
    model.outcomes_ytd[2] += int(removed_mask.sum())
    return ([pool[i] for i in np.flatnonzero(promoted_mask)],
            [pool[i] for i in np.flatnonzero(removed_mask)])


def _nanstd(x: np.ndarray) -> np.float64:
    """``np.nanstd(x)`` of a 1-D float array with at least one non-NaN value, to the bit.

    NumPy's own steps without its layers of Python (effort is chosen every month and
    ~10^2 times in the district's creation): NaNs set to zero, the mean over the whole
    array by the non-NaN count, deviations zeroed at the NaNs, and the root of the sum
    of their squares, again over the whole array, by the count. Summing the same array
    the same way keeps NumPy's pairwise rounding (tests/test_cadres.py checks it).
    """
    nan = np.isnan(x)
    count = x.size - np.count_nonzero(nan)
    deviation = np.where(nan, 0.0, x)
    deviation -= deviation.sum() / count
    deviation[nan] = 0.0
    return np.sqrt((deviation * deviation).sum() / count)


def median_of(x: np.ndarray) -> np.float64:
    """``np.median(x)`` of a non-empty 1-D float array, to the bit, in a third of its time.

    NumPy's own steps without its layers of Python (a median is taken at every choice of
    effort, every evaluation and ~250 times in the district's creation): a partition at
    the middle (and the end, as NumPy's, so equal values of either sign fall as they
    do there) and the mean of the middle one or two values. NumPy itself answers for an
    array with a NaN (the median is NaN, with its warning).
    """
    h = x.size // 2
    middle = (h, -1) if x.size % 2 else (h - 1, h, -1)
    part = np.partition(x, middle)
    if np.isnan(part[-1]):
        return np.median(x)
    return part[middle[0]:h + 1].mean(axis=0)


def _nan_to_num(x: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(x)`` of a float array, in place (``x`` is a temporary): NaN to
    zero, infinities to the largest finite numbers, without ``nan_to_num``'s layers of
    Python (three calls at every choice of effort)."""
    np.copyto(x, 0.0, where=np.isnan(x))
    np.minimum(x, _FLOAT_MAX, out=x)
    return np.maximum(x, -_FLOAT_MAX, out=x)


def _standardise(x: np.ndarray) -> np.ndarray:
    """Z-scores along the first axis (zeros where there is no spread)."""
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
