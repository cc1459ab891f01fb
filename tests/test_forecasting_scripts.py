"""The worked examples of issue 10's statistics run end to end (small district, few runs)."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def load(name: str) -> dict:
    return runpy.run_path(str(EXPERIMENTS / name), run_name="not_main")


def test_sensitivity_script_small(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    script = load("sensitivity_2030.py")
    assert script["main"](["--small", "--trajectories", "2", "--out", str(tmp_path)]) == 0
    ds = xr.open_dataset(tmp_path / "indices.nc")
    assert ds.attrs["method"] == "morris" and ds.sizes["factor"] == 12
    assert ds.year.values.tolist() == list(range(2025, 2031))
    assert set(ds.outcome.values) == set(script["OUTCOMES"])
    assert (ds.n_groups.values == 2).all()
    assert np.isfinite(ds.mu_star.values).all() and (ds.mu_star.values >= 0).all()
    assert (tmp_path / "indices.png").stat().st_size > 10_000


def test_ema_example_small(tmp_path):
    pytest.importorskip("ema_workbench")
    import matplotlib

    matplotlib.use("Agg")
    script = load("ema_collective_2027.py")
    assert script["main"](["--small", "--scenarios", "8", "--policies", "2",
                           "--out", str(tmp_path)]) == 0
    text = (tmp_path / "summary.md").read_text()
    assert "every village's 2027 collective income >= 100,000 yuan" in text
    table = (tmp_path / "experiments.csv").read_text().splitlines()
    assert len(table) == 1 + 16 and "target_failed" in table[0]
