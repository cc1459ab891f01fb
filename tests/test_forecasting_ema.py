"""countysim as an EMA Workbench model (countysim.forecasting.ema): small district, few runs."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import xarray as xr

ema_workbench = pytest.importorskip("ema_workbench")

import countysim  # noqa: E402
from countysim.forecasting import ema  # noqa: E402
from countysim.testing import small_scenario  # noqa: E402

UNTIL = "2026-12"


def fake_ensemble(n: int = 4) -> xr.Dataset:
    """An ensemble laid out as the spec's load_ensemble returns it (member x parameter)."""
    rng = np.random.default_rng(np.random.SeedSequence(3))
    params = ["activation_rate", "coop_collective_share"]
    low, high = np.array([0.02, 0.005]), np.array([0.25, 0.1])
    value = low + rng.uniform(size=(n, 2)) * (high - low)
    return xr.Dataset(
        {"value": (("member", "parameter"), value),
         "district_seed": ("member", np.arange(100, 100 + n, dtype=np.int64))},
        coords={"member": np.arange(n), "parameter": params, "unit": ("parameter", ["1/month",
                "1"]), "low": ("parameter", low), "high": ("parameter", high),
                "role": ("parameter", ["calibrated", "calibrated"])},
        attrs={"name": "fake"})


def test_model_from_ensemble_runs_the_member():
    ens = fake_ensemble()
    model = ema.countysim_model(small_scenario(), until=UNTIL, ensemble=ens,
                                levers={"pilot_villages": (0, 20), "alliances": [True, False]})
    assert [u.name for u in model.uncertainties] == ["seed", "member"]
    assert [lv.name for lv in model.levers] == ["pilot_villages", "alliances"]
    assert model.years == [2025, 2026]
    out = model.function(seed=7, member=2, pilot_villages=12.0, alliances=np.bool_(False))
    # The same run by hand: member 2's parameters and district draw, seed 7.
    ds = countysim.run(small_scenario(), seed=7, until=UNTIL, pilot_villages=12,
                       alliances=False, district_seed=102,
                       activation_rate=float(ens.value[2, 0]),
                       coop_collective_share=float(ens.value[2, 1]))
    income = ds.collective_income.groupby(ds.time.dt.year).sum("time").min("village")
    np.testing.assert_allclose(out["min_collective_income"], income.values, rtol=1e-12)
    np.testing.assert_allclose(out["urban_placements"],
                               ds.urban_placements_ytd.sel(time=["2025-12", "2026-12"]).values)
    # The function pickles (the Workbench's multiprocessing evaluator sends it to workers).
    again = pickle.loads(pickle.dumps(model.function))(
        seed=7, member=2, pilot_villages=12.0, alliances=np.bool_(False))
    np.testing.assert_array_equal(again["min_collective_income"], out["min_collective_income"])


def test_perform_experiments_prim_and_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from ema_workbench import SequentialEvaluator, perform_experiments
    from ema_workbench.analysis import feature_scoring, prim

    model = ema.countysim_model(small_scenario(), until=UNTIL,
                                ranges={"activation_rate": (0.02, 0.25)},
                                levers={"pilot_villages": (0, 20)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        experiments, outcomes = perform_experiments(
            model, scenarios=16, policies=2, evaluator=SequentialEvaluator(model),
            uncertainty_sampling_kwargs={"rng": 1}, lever_sampling_kwargs={"rng": 2})
    assert len(experiments) == 32
    assert outcomes["min_collective_income"].shape == (32, 2)
    assert np.isfinite(outcomes["min_collective_income"]).all()
    x = ema.with_member_parameters(experiments, model)
    assert list(x.columns) == ["activation_rate", "pilot_villages"]
    # A threshold at the median of the runs: half fail, so PRIM has something to find.
    threshold = float(np.median(outcomes["mean_collective_income"][:, 1]))
    y = ema.failure(outcomes, model, "mean_collective_income", 2026, threshold)
    assert 0.3 < y.mean() < 0.7
    box = prim.Prim(x, y, peel_alpha=0.1).find_box()
    fig = ema.plot_prim_box(box)
    fig.savefig(tmp_path / "box.png")
    assert "coverage" in fig.axes[0].get_title()
    scores = feature_scoring.get_feature_scores_all(x, {"income": outcomes[
        "mean_collective_income"][:, 1]})
    assert set(scores.index) == {"activation_rate", "pilot_villages"}


def test_failure_counts_nan_as_failed():
    class M:
        years = (2026, 2027)

    out = {"v": np.array([[1.0, 5.0], [1.0, np.nan], [1.0, 2.0]])}
    assert ema.failure(out, M, "v", 2027, 3.0).tolist() == [False, True, True]
    assert ema.failure(out, M, "v", 2027, 3.0, "<=").tolist() == [True, True, False]


def test_bad_arguments():
    s = small_scenario()
    with pytest.raises(ValueError, match=r"either ensemble= .* or ranges="):
        ema.countysim_model(s, until=UNTIL)
    with pytest.raises(ValueError, match=r"levers\.output_growth: not a lever"):
        ema.countysim_model(s, until=UNTIL, ranges={}, levers={"output_growth": (0, 1)})
    with pytest.raises(ValueError, match=r"ranges.activation_rate: \(0.5, 2\.0\) must satisfy"):
        ema.countysim_model(s, until=UNTIL, ranges={"activation_rate": (0.5, 2.0)})
    with pytest.raises(ValueError, match=r"ranges\.nonsense: unknown parameter"):
        ema.countysim_model(s, until=UNTIL, ranges={"nonsense": (0, 1)})


def _docstring_example() -> str:
    """The module docstring's example (the ``::`` block), dedented."""
    import textwrap

    doc = ema.__doc__
    block = doc[doc.index("tools apply::") + len("tools apply::"):doc.index("``experiments/")]
    return textwrap.dedent(block)


def test_module_docstring_example_runs(tmp_path, monkeypatch):
    """The API reference renders this example: it must run on the installed Workbench
    (``Prim(x, y, threshold=...)`` raised TypeError on ema-workbench 3). Scaled down: the
    small district and 12 x 2 runs instead of Litong and 200 x 4."""
    import matplotlib

    matplotlib.use("Agg")
    code = _docstring_example()
    small = tmp_path / "small.toml"
    small.write_text(small_scenario().to_toml(), encoding="utf-8")
    for old, new in (('"scenarios/baseline_2025.toml"', repr(str(small))),
                     ("scenarios=200, policies=4", "scenarios=12, policies=2"),
                     ("(30, 130)", "(5, 20)"),  # the small district has 20 villages
                     # The small district's villages are poorer: a level half the runs miss.
                     ("< 100_000", "< np.median(outcomes['min_collective_income'][:, -1])")):
        assert old in code, old
        code = code.replace(old, new)
    monkeypatch.chdir(tmp_path)
    namespace = {"np": np}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "ema docstring", "exec"), namespace)
    box = namespace["box"]
    assert box.peeling_trajectory["density"].iloc[box._cur_box] >= 0.8
