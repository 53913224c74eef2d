"""The paper's selected models, rebuilt from configs of the ``small_cnn`` family."""

from __future__ import annotations

import torch

from stalwart.models import PAPER_CONFIGS, build_model, count_macs, count_parameters

torch.set_num_threads(1)


def test_paper_energy_model_has_23923_parameters() -> None:
    """The paper's selected energy model ("Model 1 (Energy)") has 23,923 parameters.

    Source: the layer summary of the selected energy models in the authors' talk slides
    (repository ``afonsky/Lambda_talk_Robust_DL``, ``slides/3_results.md``, "Selected
    Models: Energy Reconstruction"), accompanying Boldyrev, Shevelev, Ratnikov,
    arXiv:2505.17254 / IEEE Access 2025. It lists, for a 1x15x15 cluster::

        Conv2d    [-1, 32, 13, 13]     288   (1->32, 3x3, no bias)
        ReLU, MaxPool2d [-1, 32, 6, 6]       (kernel 2, stride 2)
        Conv2d    [-1, 64, 4, 4]    18,432   (32->64, 3x3, no bias)
        ReLU, MaxPool2d [-1, 64, 3, 3]       (kernel 2, stride 1: 4x4 -> 3x3)
        Linear    [-1, 9]            5,193   (576*9 + 9)
        ReLU
        Linear    [-1, 1]               10
        Trainable params: 23,923

    so this is the paper's architecture read off its summary, not a fit to the count.
    The pooling kernel/stride are inferred from the output shapes (13 -> 6 and 4 -> 3).
    """
    model = build_model(PAPER_CONFIGS["energy_model_1"], (1, 15, 15), n_outputs=1)
    assert count_parameters(model) == 23_923
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(32, 1, 3, 3), (64, 32, 3, 3), (9, 576), (9,), (1, 9), (1,)]
    assert model(torch.randn(5, 1, 15, 15)).shape == (5, 1)


def test_paper_energy_model_with_energy_sum_has_23932_parameters() -> None:
    """"Model 2 (Energy)": the same network with the cluster energy sum appended before
    the head (its first Linear has 5,202 = 577*9 + 9 parameters)."""
    model = build_model(PAPER_CONFIGS["energy_model_2"], (1, 15, 15), n_outputs=1)
    assert model.n_features == 1
    assert count_parameters(model) == 23_932
    out = model(torch.randn(4, 1, 15, 15), torch.randn(4, 1))
    assert out.shape == (4, 1)


def test_paper_position_model_has_23644_parameters() -> None:
    """"Model 3 (Position)": per-channel PReLU, 4x4 global max-pool, FC 64 -> 9 -> 1."""
    model = build_model(PAPER_CONFIGS["position_model_3"], (1, 15, 15), n_outputs=1)
    assert count_parameters(model) == 23_644


def test_small_cnn_defaults_are_the_paper_energy_model() -> None:
    model = build_model({"model": "small_cnn"}, (1, 15, 15), n_outputs=1)
    assert count_parameters(model) == 23_923


def test_count_macs_by_hand() -> None:
    model = build_model(PAPER_CONFIGS["energy_model_1"], (1, 15, 15), n_outputs=1)
    by_hand = 13 * 13 * 32 * 9 + 4 * 4 * 64 * 32 * 9 + 576 * 9 + 9
    assert count_macs(model, (1, 15, 15)) == by_hand
