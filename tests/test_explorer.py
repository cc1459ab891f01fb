"""The explorer without a browser: the app builds, its components render with Solara's
renderer, and a lever changed in the sidebar rebuilds the model with the new value."""

from __future__ import annotations

import re
import subprocess
import sys

import countysim
import numpy as np
import pytest
from countysim.cli import VIZ_MISSING, explore_command, main

solara = pytest.importorskip(
    "solara", reason="the viz extra is not installed (pip install -e '.[viz]')")
explorer = pytest.importorskip("countysim.explorer")

import ipyvuetify as v  # noqa: E402
from mesa.visualization.solara_viz import (  # noqa: E402
    ModelController,
    ModelCreator,
    _check_model_params,
)

# The baseline band behind the charts: two seeds over three months keep these tests fast
# (the app's own band is five seeds to 2026-12, made once per process).
FAST_BAND_SEEDS = (0, 1)
FAST_BAND_UNTIL = "2025-03"


@pytest.fixture(autouse=True)
def fast_band(monkeypatch):
    monkeypatch.setattr(explorer, "BAND_SEEDS", FAST_BAND_SEEDS)
    monkeypatch.setattr(explorer, "BAND_UNTIL", FAST_BAND_UNTIL)


@pytest.fixture(scope="module")
def model():
    return explorer.ExplorerModel(warmup=3)


def test_model_params_cover_the_levers_with_scenario_values(model) -> None:
    params = explorer.model_params()
    assert set(explorer.LEVERS) | {"rng", "small_district"} == set(params)
    assert params["pilot_villages"]["value"] == 50
    assert params["alliances"] == {"type": "Checkbox", "value": True, "label": "alliances"}
    for name, spec in params.items():
        if spec["type"].startswith("Slider"):
            assert spec["min"] <= spec["value"] <= spec["max"], name
    _check_model_params(model, params)  # Mesa's own check of the names


def test_explorer_model_takes_levers_and_runs_to_2030(model) -> None:
    assert model.spec.until == "2030-12"
    assert model.month == 2 and model.running
    frame = model.datacollector.get_model_vars_dataframe()
    assert len(frame) == 3
    for measure in ("urban_placements_ytd", "rural_nonfarm_entrants_ytd",
                    "urban_unemployment_rate", "rural_income_per_capita",
                    "urban_income_per_capita", "collective_income_growth_pilot"):
        assert measure in frame.columns
    other = explorer.ExplorerModel(warmup=0, pilot_villages=0, alliances=False, rng=4)
    assert other.spec["pilot_villages"] == 0 and other.spec["alliances"] is False
    assert other.seed.entropy == 4


def test_bad_lever_value_is_refused() -> None:
    from countysim import ScenarioError

    with pytest.raises(ScenarioError):
        explorer.ExplorerModel(warmup=0, frontline_share=2.0)


def _inner_html(widget) -> str | None:
    """The HTML of the first HTML element in a rendered widget tree."""
    if hasattr(widget, "unsafe_innerHTML"):
        return widget.unsafe_innerHTML
    for child in getattr(widget, "children", ()):
        if not isinstance(child, str) and (html := _inner_html(child)) is not None:
            return html
    return None


def test_components_render(model) -> None:
    components = explorer.components()
    assert len(components) == 7  # headline, five charts, the village grid
    for make, page in components:
        assert page == 0
        box, rc = solara.render(make(model), handle_error=False)
        try:
            assert box.children
        finally:
            rc.close()
    box, rc = solara.render(explorer.Headline(model), handle_error=False)
    try:
        html = _inner_html(box)
    finally:
        rc.close()
    assert html is not None, "the headline renders no HTML"
    assert "<b>2025-03</b>" in html
    assert f"Urban placements YTD (A4): <b>{model.urban_placements_ytd:,}</b>" in html
    for label in ("(A5)", "Urban unemployment", "income per capita", "(A14)"):
        assert label in html
    assert "Levers in force" in html
    for name, value in explorer.lever_values(model):
        assert f"{name}: <b>{value}</b>" in html


def test_lever_values_show_the_values_in_force_with_units(model) -> None:
    """Issue 17: slider values are shown, with units (a slider shows its own only while
    dragged)."""
    shown = dict(explorer.lever_values(model))
    assert list(shown) == list(explorer.LEVERS)
    for name, text in shown.items():
        unit = explorer.PARAMETERS[name].unit
        value = model.p[name]
        if unit != "1":
            assert text.endswith(f" {unit}"), (name, text)
        if isinstance(value, bool):
            assert text == ("on" if value else "off")
        else:
            assert float(text.split()[0].replace(",", "")) == pytest.approx(value, abs=0.005)
    rebuilt = explorer.ExplorerModel(warmup=0, pilot_villages=model.p["pilot_villages"] + 5)
    assert dict(explorer.lever_values(rebuilt))["pilot_villages"] != shown["pilot_villages"]


def test_baseline_band_spans_the_seeds_runs() -> None:
    """The band behind a chart lies within the baseline's runs over the band's seeds."""
    name = "urban_unemployment_rate"
    lo, hi = explorer.baseline_band(name)
    runs = np.array([countysim.run(explorer.BASELINE, seed=s, until=FAST_BAND_UNTIL,
                                   variables=[name])[name].values for s in FAST_BAND_SEEDS])
    assert len(lo) == len(hi) == runs.shape[1]
    assert (runs.min(axis=0) <= lo).all() and (lo <= hi).all()
    assert (hi <= runs.max(axis=0)).all()


def test_charts_draw_the_baseline_band() -> None:
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import to_hex
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    ax.plot(range(3), [0.05, 0.051, 0.052], label="urban_unemployment_rate")
    explorer._titled("Urban unemployment rate", "2025-01", ("urban_unemployment_rate",))(ax)
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1
    assert any("baseline" in t.get_text() for t in ax.get_legend().get_texts())
    _, hi = explorer.baseline_band("urban_unemployment_rate")
    assert ax.get_ylim()[1] >= hi.max()  # the band is never cut off
    # Mesa plots a single measure without a label: the band still takes the line's colour.
    single = Figure().subplots()
    (line,) = single.plot(range(3), [0.05, 0.051, 0.052])
    explorer._titled("Urban unemployment rate", "2025-01", ("urban_unemployment_rate",))(single)
    band = next(c for c in single.collections if isinstance(c, PolyCollection))
    assert to_hex(band.get_facecolor()[0], keep_alpha=False) == to_hex(line.get_color())


def test_village_figure_has_a_row_per_township(model) -> None:
    fig = explorer.village_figure(model)
    ax = fig.axes[0]
    assert len(ax.get_yticks()) == len(model.township_members) == 12
    image = ax.get_images()[0].get_array()
    assert image.count() == len(model.village_list)  # one coloured cell per village
    assert "Villages by township" in ax.get_title()


def test_page_builds() -> None:
    """``page`` is SolaraViz over an ExplorerModel with the components and the levers; it
    renders without error (the sidebar and grid are checked in the browser test)."""
    page = explorer.page
    assert page.component.name == "SolaraViz"
    assert isinstance(page.args[0], explorer.ExplorerModel)
    assert len(page.kwargs["components"]) == 7
    assert set(page.kwargs["model_params"]) == set(explorer.LEVERS) | {"rng", "small_district"}
    box, rc = solara.render(page, handle_error=False)
    try:
        assert box.children
    finally:
        rc.close()


def test_slider_change_rebuilds_the_model_with_the_new_lever(model) -> None:
    """Change a slider in Mesa's ModelCreator, press Reset: the new model has the value."""
    reactive_model = solara.reactive(model)
    parameters = solara.reactive({})

    @solara.component
    def Sidebar():
        ModelController(reactive_model, model_parameters=parameters,
                        play_interval=solara.use_reactive(100),
                        render_interval=solara.use_reactive(1),
                        use_threads=solara.use_reactive(False))
        ModelCreator(reactive_model, explorer.model_params(), model_parameters=parameters)

    _, rc = solara.render(Sidebar(), handle_error=False)
    try:
        rc.find(v.Slider, label="pilot_villages (villages)").widget.v_model = 90
        rc.find(v.Slider, label="evaluation_strictness").widget.v_model = 0.25
        assert parameters.value["pilot_villages"] == 90
        rc.find(v.Btn, children=["Reset"]).widget.click()
        rebuilt = reactive_model.value
        assert rebuilt is not model
        assert rebuilt.spec["pilot_villages"] == 90
        assert rebuilt.spec["evaluation_strictness"] == 0.25
        assert rebuilt.spec["frontline_share"] == model.spec["frontline_share"]
        assert rebuilt.month == explorer.WARMUP_MONTHS - 1
        rc.find(v.Btn, children=["Step"]).widget.click()
        assert reactive_model.value.month == explorer.WARMUP_MONTHS
    finally:
        rc.close()


def test_explore_command_serves_the_module_on_localhost() -> None:
    command = explore_command("127.0.0.1", 8123)
    assert command[:5] == [sys.executable, "-m", "solara", "run", "countysim.explorer"]
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "8123"


def test_explore_without_the_viz_extra_is_one_line(monkeypatch, capsys) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "solara" else real(name, *a))
    assert main(["explore", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and VIZ_MISSING in err


def test_explore_rejects_a_bad_port() -> None:
    result = subprocess.run([sys.executable, "-m", "countysim.cli", "explore", "--port", "x"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "expected a non-negative integer" in result.stderr


@pytest.mark.parametrize("end", ["min", "max"])
def test_every_slider_end_builds_a_valid_model(end) -> None:
    """The sliders cannot reach a value the scenario refuses (Reset would fail in the UI)."""
    levers = {name: w.get(end, end == "max") for name, w in explorer.LEVERS.items()}
    built = explorer.ExplorerModel(warmup=1, **levers)
    for name, value in levers.items():
        assert built.spec[name] == value
    assert built.urban_placements_ytd >= 0


def test_the_small_district_switch_runs_the_baseline_behaviour_on_20_villages() -> None:
    small = explorer.ExplorerModel(warmup=1, small_district=True, pilot_villages=130)
    base = countysim.load_scenario(explorer.BASELINE)
    assert small.spec.villages == 20 and len(small.village_list) == 20
    # The slider's full-district range is capped at the small district's size.
    assert small.spec.pilot_villages == 20
    # Behaviour stays the calibrated baseline's: only the district's size changes.
    assert small.spec.job_finding_rate == base.job_finding_rate
    assert small.spec.settle_rate == base.settle_rate
    # The band behind the charts is the small district's own (its labour force is ~1/20).
    lo_small, _ = explorer.baseline_band("urban_placements_ytd")
    lo_full, _ = explorer.baseline_band("urban_placements_ytd", small_district=False)
    assert lo_small[-1] < 0.25 * lo_full[-1]
    explorer.ExplorerModel(warmup=1)  # the full district again: its band is the full one
    assert explorer.baseline_band("urban_placements_ytd")[0][-1] == lo_full[-1]


def test_village_rows_are_named_after_their_townships(model) -> None:
    """Issue 17: the grid's rows carry the townships' names, as the data do (not T1-T12)."""
    ax = explorer.village_figure(model).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(model.township_members)


def test_charts_show_months_and_start_from_zero() -> None:
    """Issue 17: the time axis reads months, and a non-negative series is drawn from 0,
    so noise of a few hundredths of a percent does not fill the panel."""
    from matplotlib.figure import Figure

    assert explorer.month_label("2025-01", 0) == "2025-01"
    assert explorer.month_label("2025-01", 13) == "2026-02"
    assert explorer.month_label("2025-01", 0.5) == ""
    ax = Figure().subplots()
    ax.plot(range(7), [0.0487, 0.0489, 0.0488, 0.0490, 0.0487, 0.0489, 0.0488])
    explorer._titled("Urban unemployment rate", "2025-01")(ax)
    assert ax.get_ylim()[0] == 0 and ax.get_xlabel() == "month"
    ax.set_xlabel("Step")  # what Mesa's plot component does after the hook
    assert ax.get_xlabel() == "month"
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(re.fullmatch(r"2025-(0[1-9]|1[0-2])", t) for t in labels), labels
    assert labels[0] == "2025-01"
    negative = Figure().subplots()
    negative.plot(range(3), [-0.02, 0.01, 0.03])
    explorer._titled("growth", "2025-01")(negative)
    assert negative.get_ylim()[0] < -0.02  # a series below zero keeps its own scale
