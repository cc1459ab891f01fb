"""Vocational training of farmers for non-farm work (L12)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..tables import MONTHS_PER_YEAR, Labour
from . import Programme

if TYPE_CHECKING:
    from ..county import CountyModel


class NonfarmTraining(Programme):
    """Each January ``nonfarm_trainees`` farmers are trained; for a year they move into
    transfer (migrant) work ``training_nonfarm_gain`` a year faster (the rural
    transitions of :class:`~countysim.core.county.CountyModel`)."""

    name = "nonfarm_training"
    title = "training farmers for non-farm work"
    figures = ("A5",)
    levers = ("nonfarm_trainees",)
    links = (("L12", ("training_nonfarm_gain",)),)

    def start_year(self, model: CountyModel) -> None:
        n = int(model.p.nonfarm_trainees)
        farming = model.workforce.indices(Labour.FARMING)
        if n <= 0 or farming.size == 0:
            return
        chosen = model.streams.labour.choice(farming, size=min(n, farming.size), replace=False)
        model.workforce.trained_until[chosen] = model.month + MONTHS_PER_YEAR
