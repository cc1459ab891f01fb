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
# # countysim: a researcher's walkthrough
#
# From the 2025 baseline of Litong District to a small sweep and an emulator, in about
# half a minute on a laptop:
#
# 1. load the baseline scenario and change parameters;
# 2. run it over a few seeds and plot the indicators against the article's figures;
# 3. look at the villages on a schematic map;
# 4. run a small sweep (2 x 2 grid, 2 replicates, a small district, six months), open and
#    slice its results;
# 5. fit a statsmodels emulator to the sweep;
# 6. read the calibration result, if you have made it.
#
# The `.py` file beside this notebook is its source (jupytext percent format); see
# `docs/notebooks/README.md`.

# %%
import tempfile
from pathlib import Path

import countysim
import matplotlib.pyplot as plt
import numpy as np
import statsmodels.formula.api as smf
import xarray as xr
from countysim import plot
from countysim.core.report import format_table

# Jupyter runs a notebook in its own folder, docs/notebooks of the repository.
ROOT = Path.cwd().resolve().parents[1]
assert (ROOT / "scenarios").is_dir(), f"open this notebook in docs/notebooks, not {Path.cwd()}"
print("countysim", countysim.__version__, "in", ROOT)

# %% [markdown]
# ## 1. The baseline, and changing parameters
#
# A scenario is a validated, immutable set of parameters; every value carries its source
# (an article figure such as A13, or an assumption).

# %%
baseline = countysim.load_scenario(ROOT / "scenarios" / "baseline_2025.toml")
for name in ("population", "villages", "pilot_villages", "firm_visits_per_year"):
    p = countysim.PARAMETERS[name]
    print(f"{name:<22} {getattr(baseline, name)!s:>8} {p.unit:<10} {p.doc}")

# %% [markdown]
# `replace` returns a new, re-validated scenario; bad values raise `ScenarioError` at
# once, naming the parameter. Keyword arguments of `countysim.run` do the same for a
# single run.

# %%
more_visits = baseline.replace(source="notebook: twice the firm visits",
                               firm_visits_per_year=2 * baseline.firm_visits_per_year)
try:
    baseline.replace(pilot_villages=500)
except countysim.ScenarioError as exc:
    print("refused:", exc)

# %% [markdown]
# ## 2. Runs against the article's figures
#
# The full district runs a year in a fraction of a second. Five seeds of the baseline and
# of the changed scenario, with the same seeds (common random numbers):

# %%
SEEDS = range(5)
runs = [countysim.run(baseline, seed=s, until="2025-12") for s in SEEDS]
changed = [countysim.run(more_visits, seed=s, until="2025-12") for s in SEEDS]
print(format_table(runs[0]))

# %% [markdown]
# `plot.indicator_paths` draws the median over runs with a 5-95% band and marks the
# article's figure at its report month (A4: 3,906 placements by October 2025).

# %%
fig, axes = plt.subplots(2, 2, figsize=(12, 8), layout="constrained")
plot.indicator_paths(runs, "urban_placements_ytd", ax=axes[0, 0])
plot.indicator_paths(runs, "rural_nonfarm_entrants_ytd", ax=axes[0, 1])
plot.indicator_paths(runs, ["problems_resolved_cum", "legacy_resolved_cum"], ax=axes[1, 0])
plot.indicator_paths(runs, ["cadres_promoted_ytd", "cadres_advanced_ytd",
                            "cadres_removed_ytd"], ax=axes[1, 1])
plt.show()

# %%
ax = plot.compare(runs, changed, "firms_visited_ytd", labels=("baseline", "twice the visits"))
plt.show()

# %% [markdown]
# ## 3. The villages
#
# Village variables have a `village` dim with `township` and `pilot` coordinates. The map
# is schematic: townships are blocks, villages cells, pilot villages outlined.

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 5), layout="constrained")
plot.village_map(runs[0], "village_income_per_capita", time="2025-10", ax=axes[0])
plot.village_map(runs[0], runs[0]["village_workers"].sel(labour_state="migrant"),
                 time="2025-10", ax=axes[1], cmap="magma")
plt.show()

# %%
by_township = (runs[0]["village_income_per_capita"].sel(time="2025-10-01")
               .groupby("township").mean())
by_township.to_series().round(0)

# %% [markdown]
# ## 4. A small sweep
#
# An experiment file names a base scenario, fixed overrides, the parameters to vary and a
# design (see `docs/sweeps.md`). Here the base is the baseline shrunk to a 20-village
# district (the test suite's small district), written out with `Scenario.to_toml`; the
# grid is pilot villages x the pace of support, 2 replicates, January to June 2025. The
# files go to a temporary folder; put them under `runs/` to keep them.

# %%
SMALL = {"population": 20_000, "townships": 4, "villages": 20, "pilot_villages": 8,
         "firms": 40, "evaluated_cadres": 60, "leading_posts": 36, "mentor_pairs": 4,
         "recruits": 4, "legacy_backlog": 100, "firm_visits_per_year": 9,
         "expert_mentors": 1, "technicians": 10, "returnees": 3}
# Removed by the last cell (and when the kernel exits, if a cell fails before it).
scratch = tempfile.TemporaryDirectory(prefix="countysim-notebook-")
workdir = Path(scratch.name)
small = baseline.replace(source="notebook: a 20-village district", **SMALL)
(workdir / "small_2025.toml").write_text(small.to_toml(), encoding="utf-8")
experiment_file = workdir / "grid.toml"
experiment_file.write_text("""\
name = "notebook_grid"
scenario = "small_2025.toml"
until = "2025-06"
replicates = 2
seed = 11

[design]
kind = "grid"

[design.parameters]
pilot_villages = [4, 12]
activation_rate = [0.04, 0.16]
""", encoding="utf-8")
experiment = countysim.load_experiment(experiment_file)
print(experiment.n_samples, "samples x", experiment.replicates, "replicates")

# %% [markdown]
# `workers=1` runs in this process. A Jupyter kernel runs an asyncio event loop in its
# main thread; the sweep writes its store through a loop of its own, which it runs in a
# private thread when a loop is already running, so the call is the same as in a script.

# %%
store = workdir / "grid.zarr"
summary = countysim.sweep(experiment, store, workers=1, progress=False)
print(summary)
results = countysim.open_results(store)
results

# %% [markdown]
# Varied parameters are coordinates along `sample`, so results select and group by value.
# The jobs in cooperatives in June, mean over replicates, as a pilot x support table:

# %%
jobs = results["cooperative_workers"].sel(time="2025-06-01").mean("replicate")
jobs.set_index(sample=["pilot_villages", "activation_rate"]).unstack("sample")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
plot.response_surface(results, "activation_rate", "pilot_villages", "cooperative_workers",
                      ax=axes[0])
plot.indicator_paths(results.sel(sample=results["pilot_villages"] == 12),
                     "cooperative_workers", ax=axes[1], style="lines")
axes[1].set_title("12 pilot villages: every support level and replicate", fontsize=10)
plt.show()

# %% [markdown]
# ## 5. An emulator
#
# A regression of an outcome on the varied parameters is a cheap stand-in for the model
# (an emulator). With four design points a main-effects-plus-interaction OLS is what the
# data carry; replicates give the pure error. For larger designs (Latin hypercubes of many
# parameters), `countysim.calibration.emulate.Emulator` selects the active parameters,
# fits a quadratic mean and models the ensemble variance.

# %%
frame = (results["cooperative_workers"].sel(time="2025-06-01")
         .to_dataframe().reset_index()[["pilot_villages", "activation_rate",
                                        "replicate", "cooperative_workers"]])
fit = smf.ols("cooperative_workers ~ pilot_villages * activation_rate", data=frame).fit()
print(fit.summary().tables[1])
print(f"R^2 = {fit.rsquared:.3f} over {int(fit.nobs)} runs")

# %%
grid = xr.Dataset(coords={"pilot_villages": np.linspace(4, 12, 5),
                          "activation_rate": np.linspace(0.04, 0.16, 5)})
inputs = grid.to_dataframe().reset_index()
predicted = fit.get_prediction(inputs).summary_frame(alpha=0.1)
inputs.assign(mean=predicted["mean"].round(1),
              lower=predicted["mean_ci_lower"].round(1),
              upper=predicted["mean_ci_upper"].round(1)).head(10)

# %% [markdown]
# ## 6. The calibration result
#
# The history matching of `experiments/calibrate_2025.toml` writes one NetCDF file with
# the ranges searched, the accepted (non-implausible) sample and the calibrated values. It
# is not in git (about 7.5 minutes on 2 cores to make); this cell reads it when present.

# %%
calibration_file = ROOT / "runs" / "calibration" / "calibrate_2025.nc"
if calibration_file.is_file():
    with xr.open_dataset(calibration_file) as cal:
        table = cal[["prior_lower", "prior_upper", "accepted_q05", "accepted_q95",
                     "calibrated"]].to_dataframe()
    print(table)
else:
    print(f"{calibration_file.relative_to(ROOT)} is absent. Make it with\n"
          "    countysim calibrate experiments/calibrate_2025.toml --workers 2\n"
          "(docs/calibration.md has the report of the last calibration).")

# %% [markdown]
# The temporary folder of the sweep goes; nothing is left behind.

# %%
plt.close("all")
results.close()
scratch.cleanup()
