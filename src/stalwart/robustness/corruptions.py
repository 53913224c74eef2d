"""Common corruptions as batched torch ops, in the spirit of CIFAR-10-C.

Every corruption maps a batch ``(N, C, H, W)`` (``C`` = 1 or 3) in ``[0, 1]`` to a batch of
the same shape in ``[0, 1]``, at severity 1-5, deterministically for a given ``seed`` (a
private CPU ``torch.Generator``, so results do not depend on the device or on the global
RNG). Inputs in another range are mapped to ``[0, 1]`` and back by :func:`corrupt`.

Parameter tables follow Hendrycks & Dietterich (2019)'s CIFAR-10-C where an op is the same
(noise levels, contrast, brightness, pixelate factors, JPEG qualities). Spatial parameters
are given in pixels for a 32-pixel image and multiplied by ``max(1, size / 32)``: larger
images get proportionally larger blurs; smaller ones keep CIFAR's pixel scale, because
sub-pixel blurs would vanish on an 8x8 or 15x15 grid. Geometric ops (rotation,
translation, scaling, zoom) are relative to the image size. Where CIFAR-10-C's table is
not monotone in strength (defocus, motion blur) the tables here are made monotone.

``jpeg`` is an approximation in torch (no Pillow): 8x8 block DCT of the luma (and, for
RGB, chroma without subsampling) quantised with the standard JPEG tables scaled to the
quality, then inverted; no entropy coding, which is lossless anyway.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from stalwart.checks import choice, first
from stalwart.models.modes import eval_mode

from ._utils import batches, fast_memory_format, logits_fn, model_device, weights_laid_out

Corruption = Callable[[torch.Tensor, int, torch.Generator], torch.Tensor]

SEVERITIES = (1, 2, 3, 4, 5)


def _rand(shape: Sequence[int], gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(tuple(shape), generator=gen).to(like.device, like.dtype)


def _randn(shape: Sequence[int], gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.randn(tuple(shape), generator=gen).to(like.device, like.dtype)


def _pixel_scale(x: torch.Tensor) -> float:
    return max(1.0, max(x.shape[-2:]) / 32.0)


def _depthwise(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Convolve every channel of ``x`` with ``kernel`` ``(k, k)`` or per-sample ``(N, k, k)``.

    Reflect padding (replicate when the image is too small) avoids darkening the borders.
    """
    n, c, h, w = x.shape
    if kernel.dim() == 2:
        kernel = kernel.expand(n, *kernel.shape)
    k = kernel.shape[-1]
    pad = k // 2
    mode = "reflect" if pad < min(h, w) else "replicate"
    padded = F.pad(x, (pad, pad, pad, pad), mode=mode)
    weight = kernel.to(x.dtype).repeat_interleave(c, dim=0).unsqueeze(1)  # (N*C, 1, k, k)
    out = F.conv2d(padded.reshape(1, n * c, h + 2 * pad, w + 2 * pad), weight, groups=n * c)
    return out.reshape(n, c, h, w)


def _grid(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates ``(H, W)`` relative to the image centre."""
    h, w = x.shape[-2:]
    yy = torch.arange(h, dtype=x.dtype, device=x.device) - (h - 1) / 2
    xx = torch.arange(w, dtype=x.dtype, device=x.device) - (w - 1) / 2
    return torch.meshgrid(yy, xx, indexing="ij")


def _affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample ``x`` with per-sample affine maps ``theta`` ``(N, 2, 3)`` (output -> input)."""
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


# --------------------------------------------------------------------------- noise


def gaussian_noise(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    sigma = (0.04, 0.06, 0.08, 0.09, 0.10)[severity - 1]
    return x + sigma * _randn(x.shape, gen, x)


def shot_noise(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    photons = (500.0, 250.0, 100.0, 75.0, 50.0)[severity - 1]
    rates = (x.clamp(0, 1) * photons).cpu().double()
    return (torch.poisson(rates, generator=gen) / photons).to(x.device, x.dtype)


def impulse_noise(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    amount = (0.01, 0.02, 0.03, 0.05, 0.07)[severity - 1]
    u = _rand(x.shape, gen, x)
    salt = _rand(x.shape, gen, x) < 0.5
    hit = u < amount
    return torch.where(hit, salt.to(x.dtype), x)


# --------------------------------------------------------------------------- blur


def _soft_disk(radius: float, dtype: torch.dtype) -> torch.Tensor:
    """Anti-aliased disk kernel: pixel weight = coverage ``clip(r + 0.5 - d, 0, 1)``.

    Continuous in ``r``, so even sub-pixel radii blur a little and larger radii always
    blur more (a hard disk would be the identity below r = 1; this one is above r = 0.5).
    """
    half = int(math.ceil(radius + 0.5))
    ax = torch.arange(-half, half + 1, dtype=torch.float64)
    d = torch.sqrt(ax[:, None] ** 2 + ax[None, :] ** 2)
    k = (radius + 0.5 - d).clamp(0.0, 1.0)
    return (k / k.sum()).to(dtype)


def defocus_blur(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    radius = (0.75, 1.0, 1.25, 1.5, 2.0)[severity - 1] * _pixel_scale(x)
    return _depthwise(x, _soft_disk(radius, x.dtype).to(x.device))


def motion_blur(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    """Blur along a line of the given length at a random angle per image."""
    length = (1.0, 1.5, 2.0, 2.5, 3.0)[severity - 1] * _pixel_scale(x)
    n = x.shape[0]
    angle = (torch.rand(n, generator=gen) * math.pi).to(torch.float64)
    half = int(math.ceil(length / 2 + 1))
    ax = torch.arange(-half, half + 1, dtype=torch.float64)
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    cos, sin = angle.cos()[:, None, None], angle.sin()[:, None, None]
    along = xx * cos + yy * sin
    across = -xx * sin + yy * cos
    # Soft line segment: Gaussian across (sigma 0.5 px), anti-aliased ends along.
    weight = torch.exp(-0.5 * (across / 0.5) ** 2) * (length / 2 + 0.5 - along.abs()).clamp(0, 1)
    weight = weight / weight.sum(dim=(1, 2), keepdim=True)
    return _depthwise(x, weight.to(x.device, x.dtype))


def _zoom(x: torch.Tensor, factor: float) -> torch.Tensor:
    theta = torch.tensor([[1.0 / factor, 0.0, 0.0], [0.0, 1.0 / factor, 0.0]])
    theta = theta.to(x.device).expand(x.shape[0], 2, 3)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def zoom_blur(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    top, step = ((1.06, 0.01), (1.11, 0.01), (1.16, 0.02), (1.21, 0.02), (1.26, 0.03))[
        severity - 1
    ]
    factors = torch.arange(1.0 + step, top, step).tolist()
    out = x.clone()
    for f in factors:
        out = out + _zoom(x, f)
    return out / (len(factors) + 1)


# --------------------------------------------------------------------------- colour / digital


def brightness(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    """Add to the HSV value channel (grayscale: add to the intensity), keeping hue/saturation."""
    c = (0.1, 0.2, 0.3, 0.4, 0.5)[severity - 1]
    if x.shape[1] == 1:
        return x + c
    value = x.amax(dim=1, keepdim=True)
    new_value = (value + c).clamp(0, 1)
    # Scaling RGB by new_v / v changes V and keeps H and S; black pixels become grey.
    scaled = x * new_value / value.clamp_min(1e-8)
    return torch.where(value > 1e-8, scaled, new_value.expand_as(x))


def contrast(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    c = (0.75, 0.5, 0.4, 0.3, 0.15)[severity - 1]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * c + mean


def pixelate(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    """Average over ``b x b`` blocks and repeat (CIFAR-10-C resamples by a factor instead;
    integer blocks avoid the aliasing that makes that non-monotone on small images)."""
    b = max(2, round((1 + severity) * _pixel_scale(x)))
    h, w = x.shape[-2:]
    small = F.avg_pool2d(x, b, ceil_mode=True)  # edge blocks average their valid pixels
    return small.repeat_interleave(b, dim=2).repeat_interleave(b, dim=3)[..., :h, :w]


_JPEG_LUMA = torch.tensor([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99],
], dtype=torch.float64)
_JPEG_CHROMA = torch.full((8, 8), 99.0, dtype=torch.float64)
_JPEG_CHROMA[:4, :4] = torch.tensor([
    [17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99],
], dtype=torch.float64)


def _dct_matrix() -> torch.Tensor:
    k = torch.arange(8, dtype=torch.float64)
    m = torch.cos((2 * k[None, :] + 1) * k[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    m[0] /= math.sqrt(2)
    return m  # orthonormal: m @ m.T = I


def _quality_table(table: torch.Tensor, quality: int) -> torch.Tensor:
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality  # libjpeg's rule
    return ((table * scale + 50) // 100).clamp(1, 255)


def _jpeg_channel(ch: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Quantise ``ch`` ``(N, H, W)`` (values 0..255, H and W multiples of 8) blockwise."""
    n, h, w = ch.shape
    d = _dct_matrix().to(ch.device, ch.dtype)
    blocks = ch.reshape(n, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4) - 128.0
    coef = d @ blocks @ d.T
    q = table.to(ch.device, ch.dtype)
    coef = torch.round(coef / q) * q
    blocks = d.T @ coef @ d + 128.0
    return blocks.permute(0, 1, 3, 2, 4).reshape(n, h, w)


def jpeg(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    quality = (80, 65, 58, 50, 40)[severity - 1]
    n, c, h, w = x.shape
    ph, pw = (-h) % 8, (-w) % 8
    img = F.pad(x.double() * 255.0, (0, pw, 0, ph), mode="replicate")
    luma_q, chroma_q = _quality_table(_JPEG_LUMA, quality), _quality_table(_JPEG_CHROMA, quality)
    if c == 1:
        out = _jpeg_channel(img[:, 0], luma_q).unsqueeze(1)
    else:
        r, g, b = img[:, 0], img[:, 1], img[:, 2]
        yy = 0.299 * r + 0.587 * g + 0.114 * b
        cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
        cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
        yy = _jpeg_channel(yy, luma_q)
        cb = _jpeg_channel(cb, chroma_q) - 128
        cr = _jpeg_channel(cr, chroma_q) - 128
        out = torch.stack([yy + 1.402 * cr, yy - 0.344136 * cb - 0.714136 * cr,
                           yy + 1.772 * cb], dim=1)
    return (out[..., :h, :w] / 255.0).to(x.dtype)


def elastic_transform(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    """Smooth random displacement field with a maximal shift of ``alpha`` pixels."""
    alpha = (0.5, 0.75, 1.0, 1.25, 1.5)[severity - 1] * _pixel_scale(x)
    n, _, h, w = x.shape
    field = _randn((n, 2, h, w), gen, x)
    sigma = max(h, w) / 8.0  # smooth over ~1/8 of the image
    radius = max(1, int(math.ceil(2 * sigma)))
    ax = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    g = torch.exp(-0.5 * (ax / sigma) ** 2)
    kernel = g[:, None] * g[None, :]
    kernel = kernel / kernel.sum()
    field = _depthwise(field, kernel)
    field = field / field.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-8)
    # Pixels -> normalised [-1, 1] grid units (align_corners=False: 2 / size per pixel).
    shift = torch.stack([field[:, 0] * alpha * 2 / w, field[:, 1] * alpha * 2 / h], dim=-1)
    base = F.affine_grid(torch.eye(2, 3, dtype=x.dtype, device=x.device).expand(n, 2, 3),
                         list(x.shape), align_corners=False)
    return F.grid_sample(x, base + shift, mode="bilinear", padding_mode="border",
                         align_corners=False)


# --------------------------------------------------------------------------- geometric


def rotation(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    degrees = (5.0, 10.0, 15.0, 20.0, 30.0)[severity - 1]
    sign = torch.where(torch.rand(x.shape[0], generator=gen) < 0.5, -1.0, 1.0)
    a = sign * math.radians(degrees)
    cos, sin, zero = a.cos(), a.sin(), torch.zeros_like(a)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    return _affine(x, theta.to(x.device))


def translation(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    """Shift by a fraction of the image size in a random direction."""
    frac = (0.04, 0.08, 0.12, 0.16, 0.2)[severity - 1]
    angle = torch.rand(x.shape[0], generator=gen) * 2 * math.pi
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    tx, ty = 2 * frac * angle.cos(), 2 * frac * angle.sin()  # grid spans 2 units
    theta = torch.stack([torch.stack([one, zero, tx], 1), torch.stack([zero, one, ty], 1)], 1)
    return _affine(x, theta.to(x.device))


def scaling(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    """Zoom in or out (random per image) about the centre."""
    delta = (0.05, 0.1, 0.15, 0.2, 0.3)[severity - 1]
    sign = torch.where(torch.rand(x.shape[0], generator=gen) < 0.5, -1.0, 1.0)
    inv = 1.0 / (1.0 + sign * delta)
    zero = torch.zeros_like(inv)
    theta = torch.stack([torch.stack([inv, zero, zero], 1), torch.stack([zero, inv, zero], 1)], 1)
    return _affine(x, theta.to(x.device))


CORRUPTIONS: dict[str, Corruption] = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "defocus_blur": defocus_blur,
    "motion_blur": motion_blur,
    "zoom_blur": zoom_blur,
    "brightness": brightness,
    "contrast": contrast,
    "pixelate": pixelate,
    "elastic_transform": elastic_transform,
    "jpeg": jpeg,
    "rotation": rotation,
    "translation": translation,
    "scaling": scaling,
}


def corrupt(
    x: torch.Tensor,
    name: str,
    severity: int,
    seed: int = 0,
    input_range: tuple[float, float] = (0.0, 1.0),
) -> torch.Tensor:
    """Apply corruption ``name`` at ``severity`` to a batch of images.

    Parameters
    ----------
    x:
        ``(N, C, H, W)`` images, ``C`` in {1, 3}, values in ``input_range``.
    name:
        a key of :data:`CORRUPTIONS`.
    severity:
        1 (mild) to 5 (strong).
    seed:
        the same seed gives the same corruption.
    input_range:
        ``(low, high)``; images are mapped to [0, 1], corrupted, mapped back and clipped.

    Returns
    -------
    Tensor
        ``(N, C, H, W)`` corrupted images in ``input_range``, same dtype and device.
    """
    first(choice("name", name, sorted(CORRUPTIONS), what="corruption")
          + choice("severity", severity, SEVERITIES, what="severity"))
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected images (N, C, H, W) with C in (1, 3), got {tuple(x.shape)}")
    low, high = input_range
    gen = torch.Generator().manual_seed(int(seed))
    unit = (x.detach() - low) / (high - low)
    out = CORRUPTIONS[name](unit, int(severity), gen).clamp(0.0, 1.0)
    return out * (high - low) + low


def corruption_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    names: Sequence[str],
    severity: int,
    seed: int = 0,
    batch_size: int = 256,
    input_range: tuple[float, float] = (0.0, 1.0),
    features: torch.Tensor | None = None,
) -> dict[str, float]:
    """Accuracy of ``model`` on corrupted copies of ``(x, y)``, one entry per corruption.

    Parameters
    ----------
    model:
        classifier returning logits ``(N, K)``; run in eval mode, modes restored after.
    x, y:
        ``(N, C, H, W)`` images in ``input_range`` and ``(N,)`` labels.
    names:
        corruption names; ``"all"`` is not special, pass ``list(CORRUPTIONS)``.
    severity:
        1-5.
    seed:
        corruption seed; batch ``b`` uses ``seed + b`` so results do not depend on the
        device but do depend on ``batch_size``.
    batch_size, input_range, features:
        batching, valid input range, optional fixed extra inputs ``(N, F)``.

    Returns
    -------
    dict
        ``{name: accuracy in [0, 1]}``.
    """
    device = model_device(model)
    n = int(x.shape[0])
    result: dict[str, float] = {}
    fmt = fast_memory_format(model, x)
    with eval_mode(model), torch.no_grad(), weights_laid_out(model, fmt):
        for name in names:
            correct = 0
            for b, sl in enumerate(batches(n, batch_size)):
                xb = corrupt(x[sl].to(device), name, severity, seed=seed + b,
                             input_range=input_range)
                fb = None if features is None else features[sl].to(device)
                pred = logits_fn(model, fb, fmt)(xb).argmax(dim=1)
                correct += int((pred == y[sl].to(device)).sum())
            result[name] = correct / n
    return result
