"""Experts train village technicians (A18), whose advice raises yields (A22, L9)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..villages import MENTEES_PER_EXPERT
from . import Programme

if TYPE_CHECKING:
    from ..county import CountyModel


class ExpertTechnicians(Programme):
    """``technicians`` village technicians, trained by ``expert_mentors`` experts 1 : 10.

    The technicians are placed in villages in proportion to their workforce when the
    district is built; each January the experts take as many untrained ones as they can,
    trained after ``training_months``. A trained technician advises
    ``households_per_technician`` households, whose yields rise by
    ``technician_yield_gain`` (:class:`~countysim.core.villages.Village`), and gives the
    village the know-how to switch product line.
    """

    name = "technicians"
    title = "expert-trained village technicians"
    figures = ("A18", "A20", "A22")
    levers = ("expert_mentors", "technicians")
    links = (("L9", ("technician_yield_gain", "households_per_technician")),)

    def init(self, model: CountyModel) -> None:
        techs = model.streams.villages.multinomial(model.spec.technicians,
                                                   model.village_weights)
        for v in model.village_list:
            v.technicians = int(techs[v.index])
        model.training_done = np.zeros(len(model.village_list), dtype=np.int64)
        model.training_queue = []  # (month ready, trainees per village)

    def start_year(self, model: CountyModel) -> None:
        capacity = model.p.expert_mentors * MENTEES_PER_EXPERT
        waiting = np.array([v.technicians for v in model.village_list]) - model.training_done
        if capacity <= 0 or waiting.sum() <= 0:
            return
        order = model.streams.villages.permutation(np.repeat(np.arange(waiting.size), waiting))
        batch = np.bincount(order[:capacity], minlength=waiting.size)
        model.training_done += batch
        model.training_queue.append((model.month + model.p.training_months, batch))

    def villages(self, model: CountyModel) -> None:
        while model.training_queue and model.training_queue[0][0] <= model.month:
            _, batch = model.training_queue.pop(0)
            for v in model.village_list:
                v.trained += int(batch[v.index])
