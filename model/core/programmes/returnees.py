"""Supported returnee businesses (A21): ventures that hire locally and close (L10)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..tables import MONTHS_PER_YEAR
from . import Programme

if TYPE_CHECKING:
    from ..county import CountyModel


class Returnees(Programme):
    """Each January ``returnees`` ventures, each opening in a random month of the year in
    a village drawn by its workforce; each runs ``returnee_jobs`` local jobs and adds
    ``returnee_income`` to collective income until it closes at
    ``returnee_closure_rate`` a year."""

    name = "returnees"
    title = "returnee businesses"
    figures = ("A19", "A21")
    levers = ("returnees",)
    links = (("L10", ("returnee_jobs", "returnee_closure_rate")),)

    def init(self, model: CountyModel) -> None:
        model.returnee_village = np.empty(0, dtype=np.int64)
        model.returnee_start = np.empty(0, dtype=np.int64)
        model.returnee_open = np.empty(0, dtype=bool)

    def start_year(self, model: CountyModel) -> None:
        n = model.p.returnees
        if n == 0:
            return
        rng = model.streams.villages
        model.returnee_village = np.r_[model.returnee_village,
                                       rng.choice(len(model.village_list), n,
                                                  p=model.village_weights)]
        model.returnee_start = np.r_[model.returnee_start,
                                     model.month + rng.integers(0, MONTHS_PER_YEAR, n)]
        model.returnee_open = np.r_[model.returnee_open, np.ones(n, dtype=bool)]

    def labour_market(self, model: CountyModel) -> None:
        rng = model.streams.villages
        running = model.returnee_open & (model.returnee_start <= model.month)
        closing = np.flatnonzero(running)[
            rng.random(int(running.sum())) < model.p.returnee_closure_rate / MONTHS_PER_YEAR]
        model.returnee_open[closing] = False
        running[closing] = False
        counts = np.bincount(model.returnee_village[running], minlength=len(model.village_list))
        for v in model.village_list:
            v.returnees = int(counts[v.index])
