"""Cadres: front-line effort, learning, mentoring and the 五比五看 evaluation (steps 3, 7).

Each cadre chooses front-line effort in response to how strongly results are rewarded
(A1, A2); capability grows with experience, faster with a mentor (A11). At each
evaluation the five qualities are observed with noise, combined with recorded results,
and averaged over evaluations (a "promotion club" tournament, Li & Zhou 2005):

* promotion (A7): leading-post vacancies open at ``promotion_rate``; the best cadres above
  ``promotion_score_min`` fill them;
* removal (A9): detected integrity failures, or a score at or below ``removal_score_max``;
* rank advancement (A8): above-median cadres with enough years in rank, at ``advance_rate``.

A cadre has at most one outcome per calendar year. Promoted and removed cadres leave the
pool and their posts are refilled by new cadres.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from .tables import MONTHS_PER_YEAR, RECRUIT_PROBATION_MONTHS

if TYPE_CHECKING:
    from .county import CountyModel

# Order of model.outcomes_ytd: promoted, advanced, removed, then evaluated (the pool).
OUTCOMES = ("promoted", "advanced", "removed", "unchanged")
NO_OUTCOME = -1


class Cadre(mesa.Agent):
    """A section-level or young cadre (A10), or a new recruit (A11).

    Attributes:
        qualities: Latent 担当, 能力, 服务, 实绩, 廉洁 in [0, 1] (array of 5).
        post: ``"township"`` or ``"department"``.
        tenure: Years in the current rank.
        evaluated: In the evaluated pool (recruits join after probation).
        joined: Month index the cadre joined (recruits and refills), or -1.
        on_legacy: Works on the legacy backlog (A29) rather than routine problems.
        mentor_id: ``unique_id`` of the mentor, or -1 (A11).
        effort: Share of time on the front line this month.
        resolved_month: Problems resolved this month.
        resolved_total: Problems resolved since the start.
        score_sum, score_count: Running total of evaluation scores (tournament average).
        breach: An undetected integrity failure.
        outcome_year: Calendar year of the last outcome, or -1.
        evaluated_year: Calendar year of the last evaluation, or -1.
    """

    def __init__(self, model: CountyModel, qualities: np.ndarray, post: str, tenure: float,
                 evaluated: bool = True, joined: int = -1) -> None:
        super().__init__(model)
        self.qualities = np.asarray(qualities, dtype=float).copy()
        self.post = post
        self.tenure = float(tenure)
        self.evaluated = evaluated
        self.joined = joined
        self.on_legacy = False
        self.mentor_id = -1
        self.effort = 0.0
        self.resolved_month = 0
        self.resolved_total = 0
        self.score_sum = 0.0
        self.score_count = 0
        self.breach = False
        self.outcome_year = NO_OUTCOME
        self.evaluated_year = NO_OUTCOME

    @property
    def capability(self) -> float:
        """能力 (capability)."""
        return float(self.qualities[1])

    @property
    def skill(self) -> float:
        """Capability times responsibility: what drives problem resolution."""
        return float(self.qualities[1] * self.qualities[0])

    def step(self) -> None:
        """Choose effort, learn, age one month, and possibly breach integrity."""
        p, rng = self.model.p, self.model.streams.cadres
        # Stricter, results-based evaluation raises effort, more so for responsible cadres.
        gain = 1.0 + p.effort_response * p.evaluation_strictness * self.qualities[0]
        self.effort = min(1.0, p.frontline_share * gain)
        boost = 1.0 + (p.mentor_boost if self.mentor_id >= 0 else 0.0)
        self.qualities[1] += p.capability_growth * boost * (1.0 - self.qualities[1])
        self.tenure += 1.0 / MONTHS_PER_YEAR
        if not self.evaluated and self.model.month - self.joined >= RECRUIT_PROBATION_MONTHS:
            self.evaluated = True
        # Low integrity raises the hazard of a breach (twice the mean rate at integrity 0).
        hazard = p.integrity_failure_rate / MONTHS_PER_YEAR * 2.0 * (1.0 - self.qualities[4])
        if rng.random() < hazard:
            self.breach = True


def evaluate(model: CountyModel, pool: list[Cadre]) -> tuple[list[Cadre], list[Cadre]]:
    """Score the evaluated pool and decide promotions, removals and advancements.

    Args:
        model: The county model (parameters, streams, calendar, vacancy stock).
        pool: Cadres in the evaluated pool, in a stable order.

    Returns:
        The cadres promoted and the cadres removed (they leave the pool).
    """
    p, rng, year = model.p, model.streams.cadres, model.year
    n = len(pool)
    if n == 0:
        return [], []
    qualities = np.array([c.qualities for c in pool])
    observed = qualities + rng.normal(0.0, p.evaluation_noise, qualities.shape)
    results = np.array([c.resolved_total / max(model.month + 1 - max(c.joined, 0), 1)
                        for c in pool], dtype=float)
    tenure = np.array([c.tenure for c in pool])
    merit = _standardise(_standardise(observed).mean(axis=1) + _standardise(results))
    s = p.evaluation_strictness
    score = s * merit + (1.0 - s) * _standardise(tenure)
    for cadre, value in zip(pool, score, strict=True):
        if cadre.evaluated_year != year:
            model.outcomes_ytd[3] += 1  # first evaluation this year
        cadre.score_sum += float(value)
        cadre.score_count += 1
        cadre.evaluated_year = year
    average = np.array([c.score_sum / c.score_count for c in pool])
    free = np.array([c.outcome_year != year for c in pool])

    removed_mask = np.zeros(n, dtype=bool)
    if p.integrity_checks:
        removed_mask |= np.array([c.breach for c in pool])
    if s > 0:
        removed_mask |= score <= p.removal_score_max
    removed_mask &= free

    promoted_mask = np.zeros(n, dtype=bool)
    candidates = np.flatnonzero(free & ~removed_mask & (average >= p.promotion_score_min))
    posts = min(int(model.leading_posts), candidates.size)
    if posts > 0:
        best = candidates[np.argsort(-average[candidates], kind="stable")[:posts]]
        promoted_mask[best] = True
        model.leading_posts -= posts

    eligible = free & ~removed_mask & ~promoted_mask & (tenure >= p.advance_min_tenure)
    eligible &= score > np.median(score)
    advanced_mask = eligible & (rng.random(n) < p.advance_rate)

    for i in np.flatnonzero(advanced_mask):
        pool[i].outcome_year = year
        pool[i].tenure = 0.0
    for i in np.flatnonzero(promoted_mask | removed_mask):
        pool[i].outcome_year = year
    model.outcomes_ytd[0] += int(promoted_mask.sum())
    model.outcomes_ytd[1] += int(advanced_mask.sum())
    model.outcomes_ytd[2] += int(removed_mask.sum())
    return ([pool[i] for i in np.flatnonzero(promoted_mask)],
            [pool[i] for i in np.flatnonzero(removed_mask)])


def _standardise(x: np.ndarray) -> np.ndarray:
    """Z-scores along the first axis (zeros where there is no spread)."""
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
