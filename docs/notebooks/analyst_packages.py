# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Which package gets the district to its targets? Two policy packages compared
#
# An analyst's question: if the pilot cooperative programme is **widened every year**
# instead of kept at its 2025 size, how much more likely is Litong to meet its 2026-2030
# targets?
#
# A forecast runs each policy package over the calibrated **ensemble** (parameter values
# that fit the 2025 figures, each with its own draw of the district) and several seeds,
# to December 2030, and counts in how many runs each target is met. Run *i* of one package
# has the same ensemble member and seed as run *i* of the other (common random numbers),
# so the two packages can be compared run by run.
#
# The targets are the illustrative 2026-2030 set (`scenarios/targets/`): they show the
# machinery, not the district's plan.

# %%
import json
import os
import tempfile
from pathlib import Path

import countysim
import matplotlib.pyplot as plt
import pandas as pd
from countysim.forecasting import figures
from countysim.forecasting.report import paired_difference, write_report
from countysim.testing import SMALL_DISTRICT

# Jupyter runs a notebook in its own folder, docs/notebooks of the repository.
ROOT = Path.cwd().resolve().parents[1]
assert (ROOT / "scenarios").is_dir(), f"open this notebook in docs/notebooks, not {Path.cwd()}"
SCENARIOS = ROOT / "scenarios"

# %% [markdown]
# ## Settings
#
# The real district (130 villages) takes about 1.5 s per run to 2030 (80 runs here:
# 2 packages x 20 members x 2 seeds, about three minutes on 2 busy cores). The test suite runs this
# notebook on a 20-village district (`COUNTYSIM_NOTEBOOK_SMALL=1`), where each package is
# scaled to the smaller district: its numbers are **not** Litong's, and targets written
# as district totals (4,000 urban placements a year) are out of its reach.

# %%
SMALL = os.environ.get("COUNTYSIM_NOTEBOOK_SMALL") == "1"
MEMBERS = 4 if SMALL else 20          # ensemble members (the first N of the ensemble)
REPLICATES = 2                        # seeds per member
TARGETS = SCENARIOS / "targets" / "litong_2030_illustrative.toml"
# Removed by the last cell (and when the kernel exits, if a cell fails before it).
scratch = tempfile.TemporaryDirectory(prefix="countysim-packages-")
workdir = Path(scratch.name)

if SMALL:
    # The two packages on the small district: the baseline, and pilots widened from 8 to
    # all 20 villages by 2029 (programme_expanded's 50 -> 130, scaled).
    base = countysim.load_scenario(SCENARIOS / "baseline_2025.toml").replace(
        source="notebook: a 20-village district", **SMALL_DISTRICT)
    expanded = base.replace(pilot_villages={2025: 8, 2026: 11, 2027: 14, 2028: 17,
                                            2029: 20})
    packages = {"baseline_continued": base, "programme_expanded": expanded}
    files = []
    for name, scenario in packages.items():
        text = scenario.to_toml().replace(f'name = "{scenario.name}"', f'name = "{name}"')
        (workdir / f"{name}.toml").write_text(text, encoding="utf-8")
        files.append(f"{name}.toml")
else:
    files = [str(SCENARIOS / "baseline_2025.toml"),
             str(SCENARIOS / "programme_expanded.toml")]
files

# %% [markdown]
# ## The forecast
#
# An experiment names the packages (`files`), the ensemble and the targets; the forecast
# runs packages x members x replicates through the sweep machinery.

# %%
experiment = workdir / "packages.toml"
experiment.write_text(f"""\
name = "analyst_packages"
until = "2030-12"
replicates = {REPLICATES}
seed = 2026

[design]
kind = "ensemble"
ensemble = "litong_2025"
members = {MEMBERS}
files = {json.dumps(files)}

[forecast]
targets = {json.dumps(str(TARGETS))}
""", encoding="utf-8")
# The runs go to a Zarr store in the temporary folder (resumable: resume=True).
forecast = countysim.forecast(experiment, store=workdir / "runs.zarr",
                              workers=1 if SMALL else None, progress=False)
forecast

# %% [markdown]
# ## Probabilities of attainment
#
# For each target, in its year (the deadline, or 2030 for a target that holds every
# year): the share of runs that meet it, and the 95 % interval for the finite number of
# runs.

# %%
rows = []
for target in forecast["target"].values:
    year = figures.target_year(forecast, str(target))
    if year is None:
        continue
    for package in forecast["package"].values:
        x = forecast.sel(package=package, target=target, year=year)
        rows.append({"target": str(target), "year": year, "package": str(package),
                     "probability": float(x.probability),
                     "interval": f"[{float(x.probability_low):.2f}, "
                                 f"{float(x.probability_high):.2f}]",
                     "runs": int(x.n)})
table = pd.DataFrame(rows).pivot(index=["target", "year"], columns="package",
                                 values=["probability", "interval"])
table.round(2)

# %%
ax = figures.attainment_heatmap(forecast)
plt.show()

# %% [markdown]
# ## Is the difference real?
#
# The intervals above are for each package alone. Because the runs are paired, the
# difference is sharper: for each run, did the expanded programme meet the target where
# the baseline did not (+1), or the reverse (-1)? Averaged within each ensemble member
# and over members, with a 95 % t interval over members. `runs_differing` counts the
# runs in which the two packages disagree at all: where it is 0 the packages are tied in
# every run and the interval says nothing more.
#
# A package can also move a target's indicator without carrying it across the
# threshold, so the same paired difference of the indicator itself (`variable="value"`,
# in the target's units) follows.

# %%
a, b = (str(p) for p in forecast["package"].values[:2])


def paired_table(variable: str) -> pd.DataFrame:
    """B - A at each target's year: mean paired difference and its 95 % interval."""
    diff = paired_difference(forecast, b, a, variable=variable)
    rows = []
    for t in forecast["target"].values:
        year = figures.target_year(forecast, str(t))
        if year is None:
            continue
        x = diff.sel(target=t, year=year)
        rows.append({"target": str(t), "year": year,
                     "units": str(forecast["units"].sel(target=t).values),
                     "difference": float(x.difference), "low": float(x.difference_low),
                     "high": float(x.difference_high),
                     "runs_differing": int(x.runs_differing)})
    return pd.DataFrame(rows).set_index("target")


print(f"{b} - {a}: probability of attainment")
paired_table("attained").drop(columns="units").round(2)

# %%
print(f"{b} - {a}: the targets' indicators")
paired_table("value").round(4)

# %% [markdown]
# ## The paths behind the probabilities
#
# The fan of each package's urban placements over the years: median, 25-75 % and 5-95 %
# of the runs, with the threshold.

# %%
fig = figures.fan_charts(forecast, "urban_placements", ncols=2)
plt.show()

# %% [markdown]
# ## A report to share
#
# The same numbers and figures as a Markdown report (what `countysim report` writes):

# %%
report = write_report(forecast, workdir / "report")
print(report.read_text(encoding="utf-8")[:1500])

# %% [markdown]
# The temporary folder (packages, runs, report) goes; nothing is left behind. Keep the
# report by writing it under `runs/` instead.

# %%
scratch.cleanup()
