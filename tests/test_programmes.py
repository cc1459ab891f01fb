"""The programmes (countysim.core.programmes): one module per reform, called in order."""

from __future__ import annotations

import pytest
from conftest import create_test_model
from countysim.core.parameters import PARAMETERS
from countysim.core.programmes import PROGRAMMES, Programme

HOOKS = ("init", "start_year", "mentoring", "frontline", "labour_market", "villages")


@pytest.mark.parametrize("cls", PROGRAMMES, ids=lambda c: c.name)
def test_a_programme_names_its_figures_levers_and_links(cls):
    assert cls.name and cls.title and cls.figures
    assert all(f[0] == "A" and f[1:].isdigit() for f in cls.figures)
    for lever in cls.levers:
        assert PARAMETERS[lever].section == "levers", lever
    for link, params in cls.links:
        for name in params:
            registered = PARAMETERS[name].link
            assert registered in (None, link), f"{name} is on {registered}, not {link}"
    assert any(getattr(cls, h) is not getattr(Programme, h) for h in HOOKS), "no hook"


def test_every_lever_belongs_to_at_most_one_programme():
    claimed = [lever for cls in PROGRAMMES for lever in cls.levers]
    assert len(claimed) == len(set(claimed))


def test_hooks_run_in_programme_order_at_their_place_in_the_month(monkeypatch):
    calls = []
    for cls in PROGRAMMES:
        for hook in HOOKS:
            if getattr(cls, hook) is getattr(Programme, hook):
                continue
            original = getattr(cls, hook)

            def wrapper(self, *args, _original=original, _name=f"{cls.name}.{hook}"):
                calls.append(_name)
                return _original(self, *args)

            monkeypatch.setattr(cls, hook, wrapper)
    model = create_test_model(spinup_months=0)
    assert list(model.programmes) == [cls.name for cls in PROGRAMMES]
    inits = [c for c in calls if c.endswith(".init")]
    assert inits == [f"{cls.name}.init" for cls in PROGRAMMES if "init" in vars(cls)]
    calls.clear()
    model.step()  # a January: every start_year hook, then the monthly ones
    starts = [c for c in calls if c.endswith(".start_year")]
    assert starts == [f"{cls.name}.start_year" for cls in PROGRAMMES if "start_year" in vars(cls)]
    assert calls.index("firm_visits.frontline") > calls.index("mentoring.mentoring")
    assert calls.index("returnees.labour_market") < calls.index("technicians.villages")
    calls.clear()
    model.step()  # February: no start_year
    assert not [c for c in calls if c.endswith(".start_year")]


def test_the_model_keeps_one_instance_of_each_programme():
    model = create_test_model()
    assert [type(p) for p in model.programmes.values()] == list(PROGRAMMES)
