"""A generated electromagnetic-calorimeter dataset: photon showers in a 15x15 cell window.

It stands in for the ECAL data of Boldyrev, Shevelev and Ratnikov, "robust model selection"
(IEEE Access, 2025): reconstruct a photon's energy (or impact position) from the energy
deposited in the cells around it. Everything is generated from ``seed``; nothing is read from
disk.

Geometry and units
------------------
Square cells of side 1 (lengths are in **cell units**), a 15x15 window centred on cell
(7, 7) whose centre is the origin. ``x`` runs along columns (the last axis), ``y`` along rows.
Energies are in **GeV**.

Event model (every parameter is a loader option; defaults in brackets)
-------------------------------------------------------------------------
1. True energy ``E ~ U(e_min, e_max)`` [1, 100 GeV]; impact point ``(x0, y0)`` uniform in
   ``[-impact_halfwidth, impact_halfwidth]^2`` [0.5: anywhere in the central cell].
2. Lateral profile, integrated over depth: a two-component (core + halo) profile in the
   style of Grindhammer and Peters. The radial density per unit area of one component of
   radius ``R`` is ``R^2 / (pi (r^2 + R^2)^2)``; its containment within ``r`` is
   ``r^2 / (r^2 + R^2)``. The shower is ``p`` x core + ``(1 - p)`` x halo with
   ``p = core_fraction`` [0.85], ``R_core = core_radius * R_M`` [0.2 R_M] and
   ``R_halo = halo_radius * R_M`` [0.8 R_M], Moliere radius ``R_M = moliere_radius``
   [1.0 cell]. With the defaults 91% of the energy lies within 1 R_M, matching the
   definition of the Moliere radius. Shower-to-shower fluctuations of the width: both radii
   of an event are scaled by ``exp(radius_spread * N(0, 1))`` [0.1].
3. The profile is integrated **analytically** over each cell: the corner function
   ``G(x, y) = [x/u_x atan(y/u_x) + y/u_y atan(x/u_y)] / (2 pi)``, with
   ``u_x = sqrt(x^2 + R^2)`` and ``u_y = sqrt(y^2 + R^2)``, is the profile's integral over
   the rectangle ``[0, x] x [0, y]``, so a cell gets four evaluations of ``G``.
4. Constant term: the event's mean deposits are scaled by ``1 + constant_term * N(0, 1)``
   [0.01], standing for longitudinal leakage and inter-calibration.
5. Sampling (stochastic) term: each cell's deposit is drawn from a Gamma distribution with
   its mean deposit ``mu`` as mean and variance ``a^2 mu x 1 GeV``, ``a = stochastic_term``
   [0.10]. Gamma variables with a common scale add up, so the window's total fluctuates as
   ``sigma(E)/E = a/sqrt(E/GeV)`` exactly, while every deposit stays non-negative.
6. Electronic noise: Gaussian, ``noise`` [0.02 GeV] per cell, independent across cells.
7. Readout: deposits clipped to ``[0, e_max]`` (no negative energies after pedestal
   subtraction; the digitiser saturates at ``e_max``).

Inputs, targets and features
----------------------------
``x``: readout / ``e_max``, float32 ``(N, 1, 15, 15)`` in ``[0, 1]`` (``input_range``); the
scale is linear so a sum of inputs stays proportional to energy.
Task ``energy`` (default): ``y = E`` in GeV, ``(N, 1)``, metric ``rmse_rel``, i.e.
``sqrt(mean(((E_pred - E) / E)^2))``. Task ``position``: ``y = x0`` in cell units,
``(N, 1)``, metric ``rmse``.
``features_*``: ``(N, 3)`` = (``energy_sum`` in GeV, ``barycentre_x``, ``barycentre_y`` in
cell units) of the 3x3 cluster around the hottest cell, the classic reconstruction that the
paper's "inductive bias" models feed to their head (raw units: scale them in the model).
``extras``: ``energy_{train,val,test}`` (N,) and ``impact_{train,val,test}`` (N, 2) true
values for every split, and ``params``, the physics parameters used.

Each split draws from its own seed stream (``derive_seed("calorimeter", seed, split)``), so
the validation and test sets do not change when ``n_pool`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stalwart.core import derive_seed
from stalwart.data.base import Dataset
from stalwart.data.catalog import CATALOG
from stalwart.data.options import resolve_task
from stalwart.data.shower import ShowerParams
from stalwart.errors import DataError

GRID = 15
"""Cells per side of the window."""
_CENTRE = GRID // 2
_CHUNK = 8192
"""Events generated at once: bounds each (chunk, 16, 16) float64 temporary to ~17 MB."""

METRICS = dict(CATALOG["calorimeter"].metrics)
"""Each task's quality metric (``Dataset.metric``); the first task is the default."""
TASKS = tuple(METRICS)
FEATURE_NAMES = ("energy_sum", "barycentre_x", "barycentre_y")


def corner_integral(x: np.ndarray, y: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Integral of one profile component over the rectangle ``[0, x] x [0, y]``.

    The component's density per unit area is ``R^2 / (pi (x^2 + y^2 + R^2)^2)`` (unit total).
    The result is odd in ``x`` and in ``y``, so signed corners work for any rectangle.

    Parameters
    ----------
    x, y, radius:
        Broadcastable arrays, in cell units (``radius`` > 0).

    Returns
    -------
    numpy.ndarray
        The enclosed fraction of the energy, shape of the broadcast inputs, in [-1/4, 1/4].
    """
    r2 = radius * radius
    ux = np.sqrt(x * x + r2)
    uy = np.sqrt(y * y + r2)
    return (x / ux * np.arctan(y / ux) + y / uy * np.arctan(x / uy)) / (2.0 * np.pi)


def cell_fractions(x0: np.ndarray, y0: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Fraction of one profile component in each cell of the window.

    Parameters
    ----------
    x0, y0:
        Impact coordinates, shape ``(N,)``, cell units.
    radius:
        Component radius per event, shape ``(N,)``, cell units.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, 15, 15)`` (rows = y, columns = x); sums to slightly below 1 (leakage).
    """
    edges = np.arange(GRID + 1, dtype=np.float64) - GRID / 2  # -7.5 ... 7.5
    dx = (edges[None, :] - x0[:, None])[:, None, :]  # (N, 1, 16)
    dy = (edges[None, :] - y0[:, None])[:, :, None]  # (N, 16, 1)
    g = corner_integral(dx, dy, radius[:, None, None])  # (N, 16, 16)
    return g[:, 1:, 1:] - g[:, :-1, 1:] - g[:, 1:, :-1] + g[:, :-1, :-1]


def simulate(
    n: int, rng: np.random.Generator, params: ShowerParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate ``n`` photon showers.

    Returns
    -------
    readout : numpy.ndarray
        float32 ``(n, 15, 15)``, cell energies in GeV after noise and clipping.
    energy : numpy.ndarray
        float64 ``(n,)``, true photon energy in GeV.
    impact : numpy.ndarray
        float64 ``(n, 2)``, true impact ``(x0, y0)`` in cell units.
    """
    p = params
    readout = np.empty((n, GRID, GRID), dtype=np.float32)
    energy = np.empty(n)
    impact = np.empty((n, 2))
    for start in range(0, n, _CHUNK):
        m = min(_CHUNK, n - start)
        e = rng.uniform(p.e_min, p.e_max, m)
        xy = rng.uniform(-p.impact_halfwidth, p.impact_halfwidth, (m, 2))
        width = p.moliere_radius * np.exp(p.radius_spread * rng.standard_normal(m))
        frac = p.core_fraction * cell_fractions(xy[:, 0], xy[:, 1], p.core_radius * width)
        frac += (1 - p.core_fraction) * cell_fractions(xy[:, 0], xy[:, 1], p.halo_radius * width)
        scale = np.clip(1 + p.constant_term * rng.standard_normal(m), 0.0, None)
        # Rounding can leave ~1e-17 negatives in far cells; a Gamma shape must be >= 0.
        mean = np.clip(frac * (e * scale)[:, None, None], 0.0, None)
        if p.stochastic_term > 0:
            theta = p.stochastic_term**2  # GeV: variance a^2 * mu
            deposit = rng.gamma(mean / theta, theta)
        else:
            deposit = mean
        deposit += p.noise * rng.standard_normal(deposit.shape)
        readout[start : start + m] = np.clip(deposit, 0.0, p.e_max)
        energy[start : start + m] = e
        impact[start : start + m] = xy
    return readout, energy, impact


def cluster_features(readout: np.ndarray) -> np.ndarray:
    """Energy sum and barycentre of the 3x3 cluster around each event's hottest cell.

    Parameters
    ----------
    readout:
        Cell energies in GeV, shape ``(N, 15, 15)``.

    Returns
    -------
    numpy.ndarray
        float32 ``(N, 3)``: energy sum (GeV), barycentre x and y (cell units, origin at the
        window's centre). An all-zero cluster gets the hottest cell's centre.
    """
    n = readout.shape[0]
    hottest = readout.reshape(n, -1).argmax(axis=1)
    # Clamp so the 3x3 cluster stays inside the window.
    row = np.clip(hottest // GRID, 1, GRID - 2)
    col = np.clip(hottest % GRID, 1, GRID - 2)
    off = np.arange(-1, 2)
    rows = (row[:, None] + off)[:, :, None]  # (N, 3, 1)
    cols = (col[:, None] + off)[:, None, :]  # (N, 1, 3)
    cluster = readout[np.arange(n)[:, None, None], rows, cols].astype(np.float64)  # (N, 3, 3)
    total = cluster.sum(axis=(1, 2))
    safe = np.where(total > 0, total, 1.0)
    bx = np.where(total > 0, (cluster * (cols - _CENTRE)).sum(axis=(1, 2)) / safe, col - _CENTRE)
    by = np.where(total > 0, (cluster * (rows - _CENTRE)).sum(axis=(1, 2)) / safe, row - _CENTRE)
    return np.stack([total, bx, by], axis=1).astype(np.float32)


_SPLITS = ("train", "val", "test")


def load_calorimeter(
    *, task: str | None = None, root: str | Path | None = None, seed: int = 0, **options: Any
) -> Dataset:
    """Generate the calorimeter dataset (``root`` is ignored: nothing is read from disk).

    Options: ``n_pool`` (30000), ``n_val`` (5000), ``n_test`` (5000) events, and the fields
    of :class:`ShowerParams`. Generating the default 40,000 events takes 1-3 s on one core.
    """
    del root
    task = resolve_task("calorimeter", task, TASKS)
    opts = CATALOG["calorimeter"].resolve(options)
    sizes = {"train": opts.pop("n_pool"), "val": opts.pop("n_val"), "test": opts.pop("n_test")}
    params = ShowerParams(**opts)

    parts: dict[str, dict[str, torch.Tensor]] = {}
    for split in _SPLITS:
        rng = np.random.default_rng(derive_seed("calorimeter", int(seed), split))
        readout, energy, impact = simulate(sizes[split], rng, params)
        target = energy if task == "energy" else impact[:, 0]
        parts[split] = {
            "x": torch.from_numpy(readout / np.float32(params.e_max)).unsqueeze(1),
            "y": torch.from_numpy(target.astype(np.float32)).unsqueeze(1),
            "features": torch.from_numpy(cluster_features(readout)),
            "energy": torch.from_numpy(energy.astype(np.float32)),
            "impact": torch.from_numpy(impact.astype(np.float32)),
        }

    extras: dict[str, object] = {"params": asdict(params)}
    for split in _SPLITS:
        extras[f"energy_{split}"] = parts[split]["energy"]
        extras[f"impact_{split}"] = parts[split]["impact"]
    return Dataset(
        name="calorimeter",
        task=task,
        kind="regression",
        x_train=parts["train"]["x"],
        y_train=parts["train"]["y"],
        x_val=parts["val"]["x"],
        y_val=parts["val"]["y"],
        x_test=parts["test"]["x"],
        y_test=parts["test"]["y"],
        n_outputs=1,
        features_train=parts["train"]["features"],
        features_val=parts["val"]["features"],
        features_test=parts["test"]["features"],
        feature_names=FEATURE_NAMES,
        input_range=(0.0, 1.0),
        metric=METRICS[task],
        normalisation=f"cell energy / {params.e_max:g} GeV, clipped to [0, 1]",
        extras=extras,
    )


def rmse_rel(pred: np.ndarray, energy: np.ndarray) -> float:
    """``sqrt(mean(((pred - energy) / energy)^2))``: the relative energy resolution."""
    pred = np.asarray(pred, dtype=np.float64).reshape(-1)
    energy = np.asarray(energy, dtype=np.float64).reshape(-1)
    return float(np.sqrt(np.mean(((pred - energy) / energy) ** 2)))


def baseline_energy_sum_fit(ds: Dataset) -> float:
    """RMSE(E)/E on test of the linear calibration ``E ~ a * energy_sum + b``.

    ``a`` and ``b`` are least-squares fitted on the pool; the 3x3 cluster energy sum is the
    classic reconstruction that a learned model should beat.

    Parameters
    ----------
    ds:
        A calorimeter dataset (either task: the true energies come from ``extras``).

    Returns
    -------
    float
        The relative resolution ``sqrt(mean(((E_pred - E)/E)^2))`` on the test split.
    """
    if ds.features_train is None or ds.features_test is None or "energy_train" not in ds.extras:
        raise DataError(f"baseline_energy_sum_fit needs a calorimeter dataset, got {ds.name!r}")
    extras: Mapping[str, Any] = ds.extras
    sum_pool = ds.features_train[:, 0].double().numpy()
    a, b = np.polyfit(sum_pool, np.asarray(extras["energy_train"], dtype=np.float64), 1)
    pred = a * ds.features_test[:, 0].double().numpy() + b
    return rmse_rel(pred, np.asarray(extras["energy_test"]))
