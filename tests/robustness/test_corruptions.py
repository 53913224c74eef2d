"""Corruptions: shape/range, determinism, severity ordering, both channel counts."""

from __future__ import annotations

import pytest
import torch

from stalwart.robustness.corruptions import CORRUPTIONS, corrupt, corruption_accuracy

torch.set_num_threads(1)


def _images(c: int, size: int = 16, n: int = 6) -> torch.Tensor:
    """Structured images in (0.05, 0.95): rings off the pixel grid plus a little noise."""
    gen = torch.Generator().manual_seed(c)
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32),
                            torch.arange(size, dtype=torch.float32), indexing="ij")
    shift = torch.rand(n, c, 1, 1, generator=gen) * size / 3
    r = ((xx - size / 2.7 - shift) ** 2 + (yy - size / 2.3) ** 2).sqrt()
    imgs = 0.5 + 0.35 * torch.sin(r * 0.4 + shift)
    return (imgs + 0.05 * torch.rand(imgs.shape, generator=gen)).clamp(0, 1)


@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_shape_range_determinism(name, c):
    x = _images(c, size=15)  # odd, not a multiple of 8
    for severity in (1, 5):
        a = corrupt(x, name, severity, seed=1)
        assert a.shape == x.shape and a.dtype == x.dtype
        assert a.min() >= 0.0 and a.max() <= 1.0
        assert torch.equal(a, corrupt(x, name, severity, seed=1))
        assert not torch.equal(a, x)


@pytest.mark.parametrize(
    "name",
    ["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "motion_blur",
     "zoom_blur", "brightness", "contrast", "pixelate", "elastic_transform", "rotation",
     "translation", "jpeg"],
)
def test_severity_moves_images_further(name):
    x = _images(3, size=32, n=8)
    dist = [float((corrupt(x, name, s, seed=0) - x).pow(2).mean()) for s in range(1, 6)]
    assert dist[-1] > dist[0]
    # Non-decreasing, up to a small slack for random ops and JPEG's rounding.
    assert all(b >= 0.9 * a for a, b in zip(dist, dist[1:], strict=False)), dist


def test_random_corruptions_depend_on_seed():
    x = _images(1)
    for name in ("gaussian_noise", "rotation", "elastic_transform", "motion_blur"):
        assert not torch.equal(corrupt(x, name, 3, seed=0), corrupt(x, name, 3, seed=1))


def test_input_range_roundtrip():
    x = _images(1) * 2 - 1
    out = corrupt(x, "contrast", 3, input_range=(-1.0, 1.0))
    assert out.min() >= -1.0 and out.max() <= 1.0
    assert torch.allclose(out.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), atol=1e-5)


def test_errors():
    x = _images(1)
    with pytest.raises(ValueError, match="unknown corruption 'fog'"):
        corrupt(x, "fog", 1)
    with pytest.raises(ValueError, match="severity"):
        corrupt(x, "contrast", 6)
    with pytest.raises(ValueError, match="C in"):
        corrupt(torch.rand(2, 2, 8, 8), "contrast", 1)


def test_corruption_accuracy_on_digits(digits_model):
    model, x, y = digits_model
    accs = corruption_accuracy(model, x[:200], y[:200], ["gaussian_noise", "contrast"],
                               severity=5, batch_size=64)
    mild = corruption_accuracy(model, x[:200], y[:200], ["gaussian_noise"], severity=1)
    assert set(accs) == {"gaussian_noise", "contrast"}
    assert all(0.0 <= v <= 1.0 for v in accs.values())
    assert mild["gaussian_noise"] >= accs["gaussian_noise"] - 0.02
    assert model.training
