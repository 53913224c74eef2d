"""The generated calorimeter: layout, determinism and physics sanity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import integrate

from stalwart.data import baseline_energy_sum_fit, load_dataset
from stalwart.data.calorimeter import (
    FEATURE_NAMES,
    GRID,
    ShowerParams,
    cell_fractions,
    corner_integral,
    load_calorimeter,
    simulate,
)
from stalwart.errors import DataError

torch.set_num_threads(1)
SMALL = {"n_pool": 4000, "n_val": 500, "n_test": 3000}


@pytest.fixture(scope="module")
def energy_ds():
    return load_calorimeter(seed=3, **SMALL)


def test_layout_of_energy_task(energy_ds) -> None:
    ds = energy_ds
    assert (ds.name, ds.task, ds.kind, ds.metric) == (
        "calorimeter",
        "energy",
        "regression",
        "rmse_rel",
    )
    for split, n in (("train", 4000), ("val", 500), ("test", 3000)):
        x, y = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
        feats = getattr(ds, f"features_{split}")
        assert x.shape == (n, 1, GRID, GRID) and x.dtype == torch.float32
        assert y.shape == (n, 1) and y.dtype == torch.float32
        assert feats.shape == (n, 3) and feats.dtype == torch.float32
        assert torch.equal(y[:, 0], ds.extras[f"energy_{split}"])
        assert ds.extras[f"impact_{split}"].shape == (n, 2)
        assert x.min() >= ds.input_range[0] and x.max() <= ds.input_range[1]
    assert ds.input_range == (0.0, 1.0)
    assert ds.feature_names == FEATURE_NAMES
    assert ds.input_shape == (1, GRID, GRID) and ds.n_pool == 4000
    energy = ds.y_train[:, 0]
    assert 1.0 <= energy.min() and energy.max() <= 100.0
    assert ds.extras["params"]["stochastic_term"] == pytest.approx(0.10)


def test_position_task_targets_impact_x() -> None:
    ds = load_dataset("calorimeter", task="position", n_pool=300, n_val=50, n_test=50)
    assert ds.task == "position" and ds.metric == "rmse" and ds.y_test.shape == (50, 1)
    assert torch.equal(ds.y_test[:, 0], ds.extras["impact_test"][:, 0])
    assert ds.y_test.abs().max() <= 0.5


def test_deterministic_per_seed_and_different_across_seeds() -> None:
    a = load_calorimeter(seed=1, n_pool=200, n_val=50, n_test=50)
    b = load_calorimeter(seed=1, n_pool=200, n_val=50, n_test=50)
    c = load_calorimeter(seed=2, n_pool=200, n_val=50, n_test=50)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)
    assert not torch.equal(a.y_test, c.y_test)


def test_val_and_test_do_not_depend_on_pool_size() -> None:
    a = load_calorimeter(seed=1, n_pool=100, n_val=40, n_test=40)
    b = load_calorimeter(seed=1, n_pool=300, n_val=40, n_test=40)
    assert torch.equal(a.x_val, b.x_val) and torch.equal(a.x_test, b.x_test)


def test_energy_sum_tracks_energy_and_resolution_improves(energy_ds) -> None:
    energy = energy_ds.extras["energy_test"].numpy()
    esum = energy_ds.features_test[:, 0].numpy()
    assert np.corrcoef(energy, esum)[0, 1] > 0.99
    # The 3x3 cluster holds most but not all of the shower.
    assert 0.85 < np.median(esum / energy) < 1.0
    low, high = energy < 10, energy > 50
    assert np.std(esum[low] / energy[low]) > 1.5 * np.std(esum[high] / energy[high])


def test_barycentre_tracks_impact(energy_ds) -> None:
    impact = energy_ds.extras["impact_test"].numpy()
    feats = energy_ds.features_test.numpy()
    for axis in (0, 1):
        assert np.corrcoef(impact[:, axis], feats[:, 1 + axis])[0, 1] > 0.9
    # Cells are coarse: the barycentre is pulled to the cell centre (the classic S-curve).
    assert np.abs(feats[:, 1:]).mean() < np.abs(impact).mean()


def test_baseline_is_sensible(energy_ds) -> None:
    assert 0.01 < baseline_energy_sum_fit(energy_ds) < 0.5
    position = load_calorimeter(task="position", seed=3, **SMALL)
    assert baseline_energy_sum_fit(position) == pytest.approx(baseline_energy_sum_fit(energy_ds))


def test_sampling_term_gives_a_over_sqrt_e() -> None:
    params = ShowerParams(
        e_min=49.9, e_max=50.1, noise=0.0, constant_term=0.0, radius_spread=0.0, stochastic_term=0.1
    )
    readout, energy, _ = simulate(4000, np.random.default_rng(0), params)
    spread = np.std(readout.sum(axis=(1, 2)) / energy)
    assert spread == pytest.approx(0.1 / np.sqrt(50.0), rel=0.1)


def test_corner_integral_matches_quadrature() -> None:
    radius = 0.37

    def density(y: float, x: float) -> float:
        return radius**2 / (np.pi * (x * x + y * y + radius**2) ** 2)

    expected = integrate.dblquad(density, -0.3, 1.2, 0.4, 2.0)[0]

    def g(x: float, y: float) -> float:
        return float(corner_integral(np.array(x), np.array(y), np.array(radius)))

    got = g(1.2, 2.0) - g(-0.3, 2.0) - g(1.2, 0.4) + g(-0.3, 0.4)
    assert got == pytest.approx(expected, rel=1e-6)
    assert g(1e6, 1e6) == pytest.approx(0.25)


def test_cell_fractions_are_a_leaky_unit_split() -> None:
    frac = cell_fractions(np.array([0.0, 0.3]), np.array([0.0, -0.2]), np.array([0.5, 0.5]))
    assert frac.shape == (2, GRID, GRID) and (frac >= -1e-12).all()
    assert 0.99 < frac[0].sum() < 1.0
    assert frac[0, 7, 7] == frac[0].max()
    # An impact right of centre puts more energy in the right neighbour than the left one.
    assert frac[1, 7, 8] > frac[1, 7, 6]


@pytest.mark.parametrize(
    "options",
    [
        {"n_pool": 0},
        {"n_val": 2.5},
        {"core_fraction": 2.0},
        {"e_min": 10.0, "e_max": 5.0},
        {"noise": -0.1},
        {"moliere_radius": "wide"},
        {"impact_halfwidth": 3.0},
    ],
)
def test_bad_options_raise_data_error(options: dict) -> None:
    with pytest.raises(DataError) as err:
        load_calorimeter(**options)
    assert "\n" not in str(err.value)
