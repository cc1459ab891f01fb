"""Interactive explorer: a Mesa SolaraViz app over the baseline scenario.

Start it with ``countysim explore`` (or ``solara run countysim.explorer``); it needs the
``viz`` extra (``pip install -e ".[viz]"``). The sidebar has sliders for the main
levers; *Reset* rebuilds the district with the values set, *Step* and the play button
advance it a month at a time. The main panel shows the key indicators of the article
(A4, A5, A14), the urban unemployment rate, per-capita incomes, and the villages by
township, coloured by collective income, with the cooperative villages outlined.

The explorer runs from the scenario's start month to 2030-12; the lever values set in
the sidebar hold in every year (a lever set there replaces the scenario's schedule). The
headline lists the levers in force with their units, and each chart draws the run over
the baseline's band across :data:`BAND_SEEDS` seeds (to :data:`BAND_UNTIL`), so what the
levers change stands out from run-to-run noise.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .core.county import CountyModel, run
from .core.parameters import PARAMETERS
from .core.scenario import LAST_MONTH, Scenario, load_scenario
from .testing import SMALL_DISTRICT

try:
    import solara
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure
    from mesa.visualization import SolaraViz, make_plot_component
    from mesa.visualization.utils import update_counter
except ImportError as exc:  # pragma: no cover - exercised by the CLI's check
    raise ImportError("the explorer needs the viz extra: pip install -e '.[viz]' "
                      f"({exc.name} is missing)") from exc

__all__ = ["LEVERS", "ExplorerModel", "Headline", "VillageGrid", "baseline_band",
           "components", "explorer_scenario", "lever_values", "model_params", "page"]

# Served over http on 127.0.0.1, Solara warns on every page load that it cannot set a
# samesite=none cookie (needed only to embed the app in another site's iframe) and falls
# back to samesite=lax, which is what a local app wants: the warning says nothing to a user.
warnings.filterwarnings("ignore", message="Cookies with samesite=none require https",
                        category=UserWarning)

BASELINE = Path(__file__).resolve().parent.parent / "scenarios" / "baseline_2025.toml"
WARMUP_MONTHS = 6  # months run when the model is built, so the charts open with lines

# The reference drawn behind each chart: the baseline's spread over a few seeds, so a user
# sees whether the levers moved a series beyond run-to-run noise. Five seeds to 2026-12
# take a few seconds once per process (cached); the band ends there, the run goes on.
BAND_SEEDS: tuple[int, ...] = tuple(range(5))
BAND_UNTIL = "2026-12"
BAND_QUANTILES = (0.05, 0.95)  # the seeds' range for five seeds: what noise alone spans
BAND_ALPHA = 0.25
HIDE_PAGE_TABS = ".v-tabs { display: none !important; }"

# Slider ranges: the registry's bounds narrowed to what the district can use.
LEVERS: dict[str, dict[str, Any]] = {
    "pilot_villages": {"type": "SliderInt", "min": 0, "max": 130, "step": 5},
    "frontline_share": {"type": "SliderFloat", "min": 0.0, "max": 1.0, "step": 0.05},
    "firm_visits_per_year": {"type": "SliderInt", "min": 0, "max": 600, "step": 12},
    "expert_mentors": {"type": "SliderInt", "min": 0, "max": 100, "step": 1},
    "returnees": {"type": "SliderInt", "min": 0, "max": 400, "step": 1},
    "evaluation_strictness": {"type": "SliderFloat", "min": 0.0, "max": 1.0, "step": 0.05},
    "alliances": {"type": "Checkbox"},
}


# Which district the charts' band is drawn for: the last model built (SolaraViz builds
# one model per page; the chart hooks see only the axes, not the model).
_SHOWN = {"small": False}


def explorer_scenario(small_district: bool = False) -> Scenario:
    """The baseline, or its calibrated behaviour on the small district (20 villages,
    :data:`countysim.testing.SMALL_DISTRICT`: ~4x faster to build and step)."""
    base = load_scenario(BASELINE)
    return base.replace(source="explorer: small district", **SMALL_DISTRICT) if (
        small_district) else base


class ExplorerModel(CountyModel):
    """A :class:`~countysim.core.county.CountyModel` built from keyword levers, for SolaraViz.

    SolaraViz rebuilds the model on *Reset* by calling the class with the sidebar's
    values as keyword arguments (and Mesa's own ``scenario`` object, which is ignored
    here). The lever values hold from the start month to 2030-12; the model is stepped
    through its first ``warmup`` months so that the charts open with lines.

    Args:
        scenario: A countysim scenario or a path; anything else (Mesa's scenario object,
            ``None``) means the baseline ``scenarios/baseline_2025.toml``.
        rng: Seed of the run.
        warmup: Months to run at once (the dynamics are the model's, unchanged).
        small_district: Without a scenario, run the baseline's behaviour on the small
            district (:func:`explorer_scenario`); pilot villages are capped at its size.
        **levers: Lever values, e.g. ``pilot_villages=80``.
    """

    def __init__(self, scenario: Any = None, *, rng: Any = 0, warmup: int = WARMUP_MONTHS,
                 small_district: bool = False, **levers: Any) -> None:
        chosen = isinstance(scenario, str | Path | Scenario)
        if isinstance(scenario, str | Path):
            scenario = load_scenario(scenario)
        elif not chosen:
            scenario = explorer_scenario(small_district)
        if "pilot_villages" in levers:  # the sidebar's range is the full district's
            levers["pilot_villages"] = min(int(levers["pilot_villages"]), scenario.villages)
        spec = scenario.replace(source="explorer", until=LAST_MONTH, **levers)
        _SHOWN["small"] = small_district and not chosen
        super().__init__(spec, rng=rng)
        for _ in range(warmup):
            self.step()


def model_params(scenario: Scenario | None = None) -> dict[str, Any]:
    """SolaraViz's ``model_params``: one input per lever at the scenario's value, a seed."""
    scenario = scenario if scenario is not None else load_scenario(BASELINE)
    params: dict[str, Any] = {
        "rng": {"type": "SliderInt", "value": 0, "min": 0, "max": 99, "step": 1,
                "label": "seed"},
        "small_district": {"type": "Checkbox", "value": False,
                           "label": "small district (20 villages, fast)"},
    }
    for name, widget in LEVERS.items():
        p = PARAMETERS[name]
        value = scenario[name]
        params[name] = {**widget, "value": bool(value) if widget["type"] == "Checkbox"
                        else value, "label": name if p.unit == "1" else f"{name} ({p.unit})"}
    return params


def lever_values(model: CountyModel) -> list[tuple[str, str]]:
    """The sidebar's levers as the model runs them: ``(name, "value unit")`` pairs.

    Solara's sliders show their value only while dragged; the headline lists these, so
    the values in force (after *Reset*) are always on screen, with their units.
    """
    out = []
    for name, widget in LEVERS.items():
        value = model.p[name]
        unit = PARAMETERS[name].unit
        if widget["type"] == "Checkbox":
            text = "on" if value else "off"
        elif widget["type"] == "SliderFloat":
            text = f"{value:.2f}"
        else:
            text = f"{value:,}"
        out.append((name, text if unit == "1" else f"{text} {unit}"))
    return out


def _fmt(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:,.0f}"


def _month(model: CountyModel) -> str:
    return f"{model.year}-{model.calendar_month:02d}"


@solara.component
def Headline(model: CountyModel) -> None:
    """The month shown and the latest value of each key indicator, as text."""
    update_counter.get()
    growth = float(model.collective_income_growth_pilot)
    growth_text = "n/a" if not np.isfinite(growth) else f"{100 * growth:+.1f} %"
    items = [
        ("Urban placements YTD (A4)", _fmt(model.urban_placements_ytd)),
        ("Rural workers into income YTD (A5)", _fmt(model.rural_nonfarm_entrants_ytd)),
        ("Urban unemployment", f"{100 * model.urban_unemployment_rate:.1f} %"),
        ("Rural income per capita", f"{_fmt(model.rural_income_per_capita)} yuan/yr"),
        ("Urban income per capita", f"{_fmt(model.urban_income_per_capita)} yuan/yr"),
        ("Pilot collective income growth (A14)", growth_text),
    ]
    rows = "".join(f"<li>{label}: <b>{value}</b></li>" for label, value in items)
    levers = "".join(f"<li>{name}: <b>{value}</b></li>" for name, value in lever_values(model))
    # Plain HTML (solara.Markdown would fetch its maths and diagram scripts from a CDN).
    solara.HTML(tag="div", unsafe_innerHTML=(
        f"<p><b>{_month(model)}</b>, scenario {model.spec.name}, seed "
        f"{model.seed.entropy}</p><ul>{rows}</ul><p>Levers in force:</p><ul>{levers}</ul>"
        "<p><i>Set the levers, then press Reset to rebuild the district with them.</i></p>"))
    # Mesa's SolaraViz labels its one page "Page 0" in a tab bar; with one page the bar
    # says nothing, so it is hidden.
    solara.Style(HIDE_PAGE_TABS)


def village_figure(model: CountyModel) -> Figure:
    """Schematic grid of the villages: one row per township, colour = collective income.

    Villages with a party-branch-led cooperative (A13) are outlined in black; alliance
    members (A15) carry a dot.
    """
    townships = list(model.township_members)
    width = max(len(v) for v in model.township_members.values())
    income = np.full((len(townships), width), np.nan)
    fig = Figure(figsize=(7.5, 0.32 * len(townships) + 1.4), layout="constrained")
    ax = fig.subplots()
    for row, name in enumerate(townships):
        for col, v in enumerate(model.township_members[name]):
            income[row, col] = max(12 * v.collective_income, 1.0)
            if v.cooperative:
                ax.add_patch(_outline(col, row))
            if v.alliance >= 0:
                ax.plot(col, row, "o", color="black", markersize=2.5)
    finite = income[np.isfinite(income)]
    norm = LogNorm(vmin=max(finite.min(), 1e4), vmax=max(finite.max(), 1e5))
    image = ax.imshow(np.ma.masked_invalid(income), cmap="viridis", norm=norm,
                      aspect="auto", interpolation="nearest")
    fig.colorbar(image, ax=ax, label="collective income (yuan/yr, this month x 12)")
    ax.set_yticks(range(len(townships)), townships)  # the names the data use
    ax.set_xticks([])
    ax.set_xlabel("villages of the township (outlined: cooperative A13; dot: alliance A15)")
    ax.set_title(f"Villages by township, {_month(model)}")
    return fig


def _outline(col: int, row: int):
    from matplotlib.patches import Rectangle

    return Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="black",
                     linewidth=1.5, zorder=3)


@solara.component
def VillageGrid(model: CountyModel) -> None:
    """The village grid of :func:`village_figure`, redrawn after each step."""
    update_counter.get()
    solara.FigureMatplotlib(village_figure(model), format="png")


CHARTS = {
    "urban_placements_ytd": "Urban placements, year to date (A4)",
    "rural_nonfarm_entrants_ytd": "Rural workers into income, year to date (A5)",
    "urban_unemployment_rate": "Urban unemployment rate",
    ("rural_income_per_capita", "urban_income_per_capita"): "Income per capita (yuan/yr)",
    "collective_income_growth_pilot": "Collective income growth of pilot villages (A14)",
}


def month_label(start: str, step: float) -> str:
    """``YYYY-MM`` of the chart's x value ``step`` (months since ``start``)."""
    index = round(float(step))
    if index < 0 or abs(step - index) > 1e-6:
        return ""  # a tick between months
    year, month = divmod(int(start[:4]) * 12 + int(start[5:7]) - 1 + index, 12)
    return f"{year}-{month + 1:02d}"


@lru_cache(maxsize=2)
def _baseline_runs(seeds: tuple[int, ...], until: str, small_district: bool = False) -> Any:
    import xarray as xr

    names = [n for m in CHARTS for n in (m if isinstance(m, tuple) else (m,))]
    scenario = explorer_scenario(small_district)
    return xr.concat([run(scenario, seed=s, until=until, variables=names)
                      for s in seeds], dim="seed")


def baseline_band(name: str, seeds: tuple[int, ...] | None = None,
                  until: str | None = None, small_district: bool | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The baseline's band of a chart's variable over seeds, month by month.

    Args:
        name: A variable of :data:`CHARTS`.
        seeds: Run seeds; default :data:`BAND_SEEDS`.
        until: Last month; default :data:`BAND_UNTIL`.
        small_district: The small district's baseline; default: the district of the
            model last built.

    Returns:
        The :data:`BAND_QUANTILES` over seeds (low, high), one value per month from the
        baseline's start (the charts' x = 0). The runs are made once per process.
    """
    small = _SHOWN["small"] if small_district is None else small_district
    runs = _baseline_runs(BAND_SEEDS if seeds is None else tuple(seeds),
                          BAND_UNTIL if until is None else until, small)
    lo, hi = (runs[name].quantile(q, dim="seed").values for q in BAND_QUANTILES)
    return np.asarray(lo, float), np.asarray(hi, float)


def _titled(title: str, start: str, measures: tuple[str, ...] = ()):
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    def post_process(ax) -> None:
        ax.set_title(title)
        for line in ax.get_lines():
            line.set_marker("o")
            line.set_markersize(3)
        lines = ax.get_lines()
        colours = {line.get_label(): line.get_color() for line in lines}
        if len(lines) == len(measures) == 1:  # Mesa draws a single measure without a label
            colours[measures[0]] = lines[0].get_color()
        for name in measures:
            lo, hi = baseline_band(name)
            # In the run's line colour, so each line is read against its own band.
            ax.fill_between(np.arange(len(lo)), lo, hi, alpha=BAND_ALPHA, linewidth=0,
                            color=colours.get(name),
                            label=f"baseline {name}, {len(BAND_SEEDS)} seeds "
                                  f"({100 * BAND_QUANTILES[0]:.0f}-"
                                  f"{100 * BAND_QUANTILES[1]:.0f} %)" if len(measures) > 1
                            else f"baseline, {len(BAND_SEEDS)} seeds")
        if measures:
            ax.legend(fontsize="small")
        if ax.get_legend() is not None:
            ax.legend(fontsize="small")
        # The data collector's rows are months from the start: label them as months.
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: month_label(start, x)))
        ax.set_xlabel("month")
        # Mesa sets its own tick locator after this hook: tilted, the months do not collide.
        ax.tick_params(axis="x", labelrotation=45, labelsize="small")

        def keep_month_label(*args: Any, **kwargs: Any) -> Any:
            return ax.xaxis.label

        # Mesa labels the axis "Step" after this hook; the ticks are months, so is the label.
        ax.set_xlabel = keep_month_label
        values = [y for line in ax.get_lines() for y in np.asarray(line.get_ydata(), float)
                  if np.isfinite(y)]
        values += [y for name in measures for y in baseline_band(name)[1] if np.isfinite(y)]
        if values and min(values) >= 0:
            # From zero: a rate moving from 4.87 % to 4.90 % should not look like a crash.
            ax.set_ylim(bottom=0, top=max(max(values) * 1.1, ax.get_ylim()[1]))

    return post_process


def components() -> list:
    """SolaraViz components: the headline, the indicator charts and the village grid."""
    start = load_scenario(BASELINE).start  # ExplorerModel runs the baseline's months
    charts = [make_plot_component(list(m) if isinstance(m, tuple) else m,
                                  post_process=_titled(title, start,
                                                       m if isinstance(m, tuple) else (m,)))
              for m, title in CHARTS.items()]
    return [(Headline, 0), *charts, (VillageGrid, 0)]


def app(model: CountyModel | None = None):
    """The SolaraViz page for ``model`` (default: a new baseline :class:`ExplorerModel`)."""
    return SolaraViz(model if model is not None else ExplorerModel(),
                     components=components(), model_params=model_params(),
                     name="countysim explorer: Litong district")


page = app()
