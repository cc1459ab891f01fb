"""Party-branch cooperatives in pilot villages (A13-A15) and their sales alliances.

The village's own side of a cooperative (activating idle land and buildings, shells
under weak leadership, revenue, reinvestment) is :class:`~countysim.core.villages.Village`
behaviour; this module decides which villages run one, and which sell together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..villages import NO_COOPERATIVE, PARTY_BRANCH
from . import Programme

if TYPE_CHECKING:
    from ..county import CountyModel


class PilotCooperatives(Programme):
    """Village party branches lead cooperatives in the year's pilot villages (A13).

    Each January the first ``pilot_villages`` villages in the order of ``pilot_rule``
    run a party-branch cooperative; a village leaves the programme only if the lever
    shrinks.
    """

    name = "cooperatives"
    title = "party-branch cooperatives in pilot villages"
    figures = ("A13", "A14", "A19", "A26")
    levers = ("pilot_villages", "pilot_rule")
    links = (("L6", ("unlock_elasticity",)),
             ("L7", ("coop_leader_effect", "shell_share")),
             ("L8", ("reinvest_share", "asset_return", "idle_land_per_settler")))

    def start_year(self, model: CountyModel) -> None:
        pilots = set(model.pilot_order[: model.p.pilot_villages].tolist())
        for v in model.village_list:
            v.pilot = v.index in pilots
            v.cooperative = PARTY_BRANCH if v.pilot else NO_COOPERATIVE


class Alliances(Programme):
    """Pilot villages of a township sell together in alliances of ``alliance_size`` (A15)."""

    name = "alliances"
    title = "sales alliances of neighbouring cooperatives"
    figures = ("A15",)
    levers = ("alliances", "alliance_size")

    def start_year(self, model: CountyModel) -> None:
        for v in model.village_list:
            v.alliance = -1
        if not model.p.alliances:
            return
        next_id = 0
        for members in model.township_members.values():
            coops = [v for v in members if v.cooperative == PARTY_BRANCH]
            for k in range(0, len(coops), model.p.alliance_size):
                group = coops[k:k + model.p.alliance_size]
                if len(group) > 1:  # an alliance needs partners
                    for v in group:
                        v.alliance = next_id
                    next_id += 1
