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

    The technicians in force when the district is built (in the spin-up's first year)
    are placed in villages in proportion to their workforce. The lever can be scheduled:
    in a January whose value is higher, the additional technicians are placed the same
    way, drawn from the run's own ``technicians`` stream; in one whose value is lower,
    some retire (:meth:`retire`). Then the experts take as many untrained ones as they
    can, trained after ``training_months``. A trained technician advises
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
        # The number in force in the district's first month, not a later year's: a
        # package that raises the lever from 2026 builds the baseline's district, with
        # the same draws, and differs from its first January of more technicians on.
        techs = model.streams.villages.multinomial(model.p.technicians,
                                                   model.village_weights)
        for v in model.village_list:
            v.technicians = int(techs[v.index])
        model.training_done = np.zeros(len(model.village_list), dtype=np.int64)
        model.training_queue = []  # (month ready, trainees per village)

    def start_year(self, model: CountyModel) -> None:
        placed = sum(v.technicians for v in model.village_list)
        change = model.p.technicians - placed
        if change > 0:
            # From their own stream: the villages stream (which also picks trainees and
            # returnees' villages) keeps the draws of a run whose lever does not rise.
            new = model.streams.technicians.multinomial(change, model.village_weights)
            for v in model.village_list:
                v.technicians += int(new[v.index])
        elif change < 0:
            self.retire(model, -change)
        capacity = model.p.expert_mentors * MENTEES_PER_EXPERT
        waiting = np.array([v.technicians for v in model.village_list]) - model.training_done
        if capacity <= 0 or waiting.sum() <= 0:
            return
        order = model.streams.villages.permutation(np.repeat(np.arange(waiting.size), waiting))
        batch = np.bincount(order[:capacity], minlength=waiting.size)
        model.training_done += batch
        model.training_queue.append((model.month + model.p.training_months, batch))

    @staticmethod
    def retire(model: CountyModel, n: int) -> None:
        """``n`` technicians leave the programme: the least trained first.

        First those the experts have not taken yet, then those in training (the latest
        batch first), then trained ones; within each group the leavers are drawn at
        random, village by village in proportion to the group's members there (from
        the ``technicians`` stream). A programme cut stops paying the technicians who do
        not yet advise anyone before it loses the ones whose training the district has
        paid for and whose advice raises yields.

        Args:
            model: The county model.
            n: Technicians to retire, at most those placed.
        """
        rng = model.streams.technicians
        technicians = np.array([v.technicians for v in model.village_list], dtype=np.int64)
        trained = np.array([v.trained for v in model.village_list], dtype=np.int64)
        done = model.training_done
        leaving = []
        for group in (technicians - done, done - trained, trained):  # waiting, training, trained
            take = min(n, int(group.sum()))
            leaving.append(rng.multivariate_hypergeometric(group, take) if take
                           else np.zeros_like(group))
            n -= take
        waiting_out, training_out, trained_out = leaving
        left = training_out.copy()
        for k in range(len(model.training_queue) - 1, -1, -1):
            ready, batch = model.training_queue[k]
            take = np.minimum(batch, left)
            model.training_queue[k] = (ready, batch - take)
            left -= take
        model.training_done = done - training_out - trained_out
        for v in model.village_list:
            i = v.index
            v.technicians -= int(waiting_out[i] + training_out[i] + trained_out[i])
            v.trained -= int(trained_out[i])

    def villages(self, model: CountyModel) -> None:
        while model.training_queue and model.training_queue[0][0] <= model.month:
            _, batch = model.training_queue.pop(0)
            for v in model.village_list:
                v.trained += int(batch[v.index])
