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
# # What did the pilot cooperatives do? Two scenarios, paired over seeds
#
# An analyst's question: how different would Litong's 2025 be without the 50
# party-branch-led cooperative pilots (A13)? `scenarios/no_pilot_cooperatives.toml` is the
# baseline with `pilot_villages = 0` and no alliances; everything else is equal.
#
# Each seed is run under both scenarios. With the same seed the two runs share their
# random numbers wherever the scenarios do not differ (common random numbers), so the
# difference *within* a seed is mostly the pilots' effect and little noise. We summarise
# the paired differences over seeds with a t interval.

# %%
from pathlib import Path

import countysim
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from countysim import plot
from countysim.core.report import REPORT_MONTH
from scipy import stats

# Jupyter runs a notebook in its own folder, docs/notebooks of the repository.
ROOT = Path.cwd().resolve().parents[1]
assert (ROOT / "scenarios").is_dir(), f"open this notebook in docs/notebooks, not {Path.cwd()}"
SCENARIOS = ROOT / "scenarios"

# %% [markdown]
# ## Runs
#
# The full district (130 villages, 460,790 residents), January 2025 to December 2026, ten
# seeds per scenario: about ten seconds.

# %%
SEEDS = list(range(10))
UNTIL = "2026-12"
baseline = countysim.load_scenario(SCENARIOS / "baseline_2025.toml")
no_pilots = countysim.load_scenario(SCENARIOS / "no_pilot_cooperatives.toml")
runs = {
    scenario.name: xr.concat([countysim.run(scenario, seed=s, until=UNTIL) for s in SEEDS],
                             dim=pd.Index(SEEDS, name="seed"))
    for scenario in (baseline, no_pilots)
}
a, b = runs["baseline_2025"], runs["no_pilot_cooperatives"]
print({name: dict(ds.sizes) for name, ds in runs.items()})

# %% [markdown]
# ## Paths
#
# `plot.compare` draws both scenarios (median and 5-95% band over seeds), with the
# article's figure where the indicator has one.

# %%
names = ["cooperative_workers", "rural_income_per_capita", "collective_income_growth_pilot",
         "rural_nonfarm_entrants_ytd"]
fig, axes = plt.subplots(2, 2, figsize=(12, 8), layout="constrained")
for ax, name in zip(axes.flat, names, strict=True):
    plot.compare(a, b, name, ax=ax, labels=("baseline", "no pilots"))
plt.show()


# %% [markdown]
# ## Paired differences
#
# For each indicator, the difference baseline minus no-pilots, seed by seed, at the
# article's report month (October 2025) and at the end of 2026; then the mean over seeds
# with a 95% t interval (n - 1 degrees of freedom). `collective_income_growth_pilot` is
# left out: without pilots it is undefined (NaN), not zero.

# %%
def paired(a: xr.Dataset, b: xr.Dataset, names: list[str], month: str,
           level: float = 0.95) -> pd.DataFrame:
    """Mean of the paired differences ``a - b`` over seeds, with a t interval."""
    when = pd.Timestamp(month + "-01")
    records = []
    for name in names:
        diff = (a[name].sel(time=when) - b[name].sel(time=when)).values.astype(float)
        n = diff.size
        mean, se = diff.mean(), diff.std(ddof=1) / np.sqrt(n)
        half = stats.t.ppf(0.5 + level / 2, n - 1) * se
        records.append({"indicator": name, "units": a[name].attrs["units"], "month": month,
                        "baseline": float(a[name].sel(time=when).mean()),
                        "difference": mean, "lower": mean - half, "upper": mean + half,
                        "seeds": n})
    return pd.DataFrame.from_records(records).set_index(["indicator", "month"])


indicators = ["cooperative_workers", "returnee_business_workers", "rural_income_per_capita",
              "dividends_per_household", "rural_nonfarm_entrants_ytd", "urban_placements_ytd"]
table = pd.concat([paired(a, b, indicators, REPORT_MONTH), paired(a, b, indicators, UNTIL)])
table.round(1)

# %% [markdown]
# The intervals are for the *mean* effect over the model's randomness, given the
# scenario's parameters; they do not carry the parameters' own uncertainty (see the
# accepted ranges in `docs/calibration.md`). Relative to the baseline (cooperative jobs
# are left out of the plot: without pilots there are none, so they differ by 100%):

# %%
shown = [name for name in indicators if name != "cooperative_workers"]
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
for k, month in enumerate([REPORT_MONTH, UNTIL]):
    rows = table.xs(month, level="month").loc[shown]
    scale = rows["baseline"].abs().replace(0, np.nan) / 100
    ax.errorbar(rows["difference"] / scale, np.arange(len(shown)) + 0.2 * (k - 0.5),
                xerr=(rows["upper"] - rows["difference"]) / scale,
                fmt="o", capsize=3, label=month)
ax.axvline(0, color="0.5", lw=0.8)
ax.set_yticks(np.arange(len(shown)), shown)
ax.set_xlabel("baseline - no pilots (% of the baseline; mean over seeds, 95% t interval)")
ax.legend(title="month")
plt.show()

# %% [markdown]
# ## Seed by seed
#
# The paired design at work: the spread of the differences over seeds is far smaller than
# the spread of either scenario, so ten seeds are enough for tight intervals.

# %%
name = "rural_income_per_capita"
when = pd.Timestamp(UNTIL + "-01")
spread = pd.DataFrame({
    "baseline": a[name].sel(time=when).values,
    "no pilots": b[name].sel(time=when).values,
    "difference": (a[name] - b[name]).sel(time=when).values,
}, index=pd.Index(SEEDS, name="seed"))
spread.describe().loc[["mean", "std", "min", "max"]].round(1)

# %%
plt.close("all")
