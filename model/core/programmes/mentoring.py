"""Mentoring of cadres (A11): pairs for the least experienced, mentors for newcomers (L3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..cadres import mentor_cadres
from . import Programme

if TYPE_CHECKING:
    from ..cadres import Cadre
    from ..county import CountyModel


class Mentoring(Programme):
    """Each January ``mentor_pairs`` pairs and mentors for the year's first ``recruits``.

    The least experienced evaluated cadres get the most capable others as mentors; the
    next most capable are kept for the year's first newcomers (``model.recruit_mentors``,
    taken as posts are refilled). Each month a mentee closes ``mentor_boost`` a year of
    the gap to its mentor's capability (:func:`~countysim.core.cadres.mentor_cadres`).
    """

    name = "mentoring"
    title = "mentoring of young cadres and newcomers"
    figures = ("A11",)
    levers = ("mentor_pairs", "recruits")
    links = (("L3", ("mentor_boost",)),)

    def init(self, model: CountyModel) -> None:
        model.recruit_mentors = []

    def start_year(self, model: CountyModel) -> None:
        cadres = list(model.cadres)
        for c in cadres:
            c.mentor_id = -1
        model.recruit_mentors = []
        p = model.p
        pool = [c for c in cadres if c.evaluated]
        if not pool or (p.mentor_pairs == 0 and p.recruits == 0):
            return
        tenure = np.array([c.tenure for c in pool])
        capability = np.array([c.capability for c in pool])
        mentees = np.argsort(tenure, kind="stable")[: p.mentor_pairs]
        others = np.setdiff1d(np.arange(len(pool)), mentees)
        mentors = others[np.argsort(-capability[others], kind="stable")]
        chosen = [pool[i].unique_id for i in mentors[: p.mentor_pairs + p.recruits]]
        for mentee, mentor in zip(mentees, mentors, strict=False):
            pool[mentee].mentor_id = pool[mentor].unique_id
        model.recruit_mentors = chosen[p.mentor_pairs:]

    def mentoring(self, model: CountyModel, cadres: list[Cadre]) -> None:
        mentor_cadres(model, cadres)
