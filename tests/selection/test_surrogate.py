"""Adaptive racing's surrogate: configs skipped untrained on a main-effects model's word."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from stalwart.selection import Adaptive, make_strategy
from stalwart.selection.surrogate import MainEffectsSurrogate

from ._setup import setup
from .test_adaptive import removed, run

# A 6 x 8 grid (minimised), exactly additive: optimiser "sgd" is 0.5 worse everywhere (10
# noise widths), the others 0.02 apart, width w adds 0.01 w; the best is ("adam", w=0).
# Noise sd 0.05.
GRID = [{"opt": o, "w": w} for o, w in itertools.product(["adam", "sgd", "x", "y", "z", "v"],
                                                         range(8))]
IDS = [f"c{i:02d}" for i in range(len(GRID))]


MEANS = np.array([(0.5 if p["opt"] == "sgd" else 0.0) + 0.01 * p["w"]
                  + 0.02 * ["adam", "sgd", "x", "y", "z", "v"].index(p["opt"]) for p in GRID])


def grid_table(n: int = 10) -> np.ndarray:
    rng = np.random.default_rng(4)
    return MEANS[:, None] + rng.normal(0, 0.05, (len(GRID), n))


def race(surrogate: float | None, **kw) -> tuple[Adaptive, int]:
    s = Adaptive(setup(IDS, n_instances=10, criterion="mean", direction="minimize",
                       params=GRID),
                 surrogate=surrogate, parallel=1, tolerance=0.05, **kw)
    return s, len(run(s, grid_table(), IDS))


def test_the_surrogate_skips_a_clearly_bad_region_without_training_it() -> None:
    with_model, trained = race(0.25)
    without, trained_without = race(None)
    skipped = {c for c, n in removed(with_model).items() if n == 0}
    assert len(skipped) >= 4, "some configs were never trained"
    # never the best: every skipped config is at least one noise width (0.05) behind it
    assert all(MEANS[IDS.index(c)] >= MEANS.min() + 0.05 for c in skipped)
    d = next(d for d in with_model.decisions if d.config_id in skipped)
    assert d.reason.startswith("skipped untrained: the surrogate predicts")
    assert d.value is None and d.p_value is not None and d.p_value < 0.5
    assert trained < trained_without
    assert with_model.selection == without.selection
    assert GRID[IDS.index(with_model.selection)]["opt"] == "adam"
    # no config is skipped before a quarter of them have an instance
    first_skip = min(d.step for d in with_model.decisions if d.config_id in skipped)
    assert first_skip >= 12


def test_same_results_same_skips_whatever_the_order_of_tells() -> None:
    sequential, _ = race(0.25)
    for seed in range(3):
        s = Adaptive(setup(IDS, n_instances=10, criterion="mean", direction="minimize",
                           params=GRID), surrogate=0.25, parallel=4, tolerance=0.05)
        shuffled = Adaptive(setup(IDS, n_instances=10, criterion="mean",
                                  direction="minimize", params=GRID),
                            surrogate=0.25, parallel=4, tolerance=0.05)
        run(s, grid_table(), IDS)
        run(shuffled, grid_table(), IDS, rng=np.random.default_rng(seed))
        assert s.decisions == shuffled.decisions
    assert sequential.selection == s.selection


@pytest.mark.parametrize(("fields", "params", "message"), [
    ({}, {"surrogate": 0.25}, "adaptive.surrogate: needs the configs' hyperparameters"),
    ({"params": GRID}, {"surrogate": 0.0}, "adaptive.surrogate: must be null or a number > 0"),
    ({"params": [{"id": i} for i in range(len(GRID))]}, {"surrogate": 0.25},
     "adaptive.surrogate: no hyperparameter varies across the configs"),
    ({"params": GRID[:16]}, {"surrogate": 0.25},  # 16 configs, 1 + 1 + 7 terms: 7 df
     "adaptive.surrogate: 16 configs leave the model of opt, w 7 residual degrees of "
     "freedom, fewer than the 10 a fit needs"),
    ({"params": GRID, "criterion": "q3"}, {"surrogate": 0.25},
     "adaptive.surrogate: criterion 'q3': the surrogate predicts one instance's value"),
])
def test_refusals(fields: dict, params: dict, message: str) -> None:
    fields = {"n_instances": 5, "criterion": "mean", "direction": "minimize", **fields}
    ids = IDS[:len(fields["params"])] if "params" in fields else IDS
    with pytest.raises(ValueError) as err:
        make_strategy("adaptive", setup(ids, **fields), **params)
    assert message in str(err.value)


def test_the_model_predicts_an_additive_grid_and_claims_nothing_on_unseen_levels() -> None:
    params = [{**p, "const": 1, "name": f"m{i}"} for i, p in enumerate(GRID)]
    model = MainEffectsSurrogate(params)
    assert model.names == ["opt", "w"]  # the constant and the one-per-config column left out
    rng = np.random.default_rng(0)
    effect = {"adam": 0.0, "sgd": 0.5, "x": 0.1, "y": 0.2, "z": 0.3, "v": 0.4}
    truth = np.array([effect[p["opt"]] + 0.03 * p["w"] for p in GRID])
    y = truth + rng.normal(0, 0.01, len(GRID))
    fitted = np.array([i for i, p in enumerate(GRID) if p["w"] != 7])  # w = 7 never seen
    rows = np.arange(len(GRID))
    pred = model.predict(fitted, y[fitted], rows)
    assert pred is not None and pred.df == len(fitted) - (1 + 5 + 6)
    seen = np.array([p["w"] != 7 for p in GRID])
    assert np.all(np.abs(pred.mean[seen] - truth[seen]) < 0.03)
    assert np.all(np.isinf(pred.se[~seen])) and np.all(np.isfinite(pred.se[seen]))
    assert np.all(pred.se[seen] > np.sqrt(pred.scale))  # one new instance: noise included
    # too few configs for MIN_DF residual degrees of freedom: no fit
    assert model.predict(fitted[:15], y[fitted[:15]], rows) is None
