"""The district's programmes, one module each: what a reform does and when.

Each programme is a :class:`Programme` in the manner of Starsim's interventions: it names
the article figures it stands for, the registry parameters that size it (its levers and
the strengths of the causal links it acts through, ``docs/pathways.md``) and the hooks
through which it acts on the model. :class:`~countysim.core.county.CountyModel` keeps
the calendar and the shared state (villages, workforce, firms, cadres, the problem
queue) and calls every programme's hook at its place in the month, in the order of
:data:`PROGRAMMES`:

* ``init(model)``: when the district is built (state the programme keeps);
* ``start_year(model)``: each January, after the year's levers are read;
* ``frontline(model, cadres, routine)``: during front-line work (step 3);
* ``mentoring(model, cadres)``: as cadres learn (step 3);
* ``labour_market(model)``: after the rural transitions (step 5);
* ``villages(model)``: before the villages' month (step 6).

A programme's mechanisms that belong to an agent's own behaviour (a cadre learning from
its mentor, a village's cooperative activating assets) stay in the agent's module; the
programme decides who takes part and when.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..cadres import Cadre
    from ..county import CountyModel

__all__ = ["PROGRAMMES", "Programme", "programme_table"]


class Programme:
    """One programme of the district: its figures, parameters and hooks.

    Attributes:
        name: Short name (the key in ``model.programmes``).
        title: What the programme is, in a few words.
        figures: Article figures it stands for (A*).
        levers: Registry levers an analyst changes.
        links: Causal links it acts through, as ``(link, parameters)`` pairs: the link
            (L1-L12) and the registry parameters that set its strength.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    figures: ClassVar[tuple[str, ...]] = ()
    levers: ClassVar[tuple[str, ...]] = ()
    links: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = ()

    def init(self, model: CountyModel) -> None:
        """Create the programme's state when the district is built."""

    def start_year(self, model: CountyModel) -> None:
        """January: act on the year's levers."""

    def frontline(self, model: CountyModel, cadres: list[Cadre], routine) -> None:
        """Step 3, front-line work (``routine``: indices of cadres on routine work)."""

    def mentoring(self, model: CountyModel, cadres: list[Cadre]) -> None:
        """Step 3, as cadres learn."""

    def labour_market(self, model: CountyModel) -> None:
        """Step 5, after the rural transitions and before local hiring."""

    def villages(self, model: CountyModel) -> None:
        """Step 6, before the villages' month."""

    def __repr__(self) -> str:
        return f"<programme {self.name}: {self.title}>"


def _programmes() -> tuple[type[Programme], ...]:
    # Imported here: the modules import this one for the base class.
    from .cooperatives import Alliances, PilotCooperatives
    from .firm_visits import FirmVisits
    from .mentoring import Mentoring
    from .returnees import Returnees
    from .technicians import ExpertTechnicians
    from .training import NonfarmTraining

    # The order is the order of their January hooks and of their draws from the
    # model's streams: changing it changes every run.
    return (PilotCooperatives, Alliances, Mentoring, ExpertTechnicians, NonfarmTraining,
            Returnees, FirmVisits)


PROGRAMMES: tuple[type[Programme], ...] = _programmes()


def programme_table() -> list[tuple[str, str, str, str, str]]:
    """One row per programme: name, title, figures, levers and links (for the docs)."""
    rows = []
    for cls in PROGRAMMES:
        links = "; ".join(f"{link}: {', '.join(params)}" for link, params in cls.links)
        rows.append((cls.name, cls.title, ", ".join(cls.figures), ", ".join(cls.levers),
                     links or "-"))
    return rows
