"""Features of a pretrained backbone on a target task, for the linear experiments.

Example (after ``stalwart pretrain examples/pretrain_fmnist.yaml --out studies/backbones``)::

    .venv/bin/python benchmarks/backbone_features.py studies/backbones/cnn_sup.safetensors \\
        --classes 5,6,7,8,9 --n 3000 --out studies/fmnist59_cnn_features.npz

Builds the backbone's model from its description (``<weights>.json``), loads every tensor
but the head, and records what the head would see (the input of the final linear layer)
for ``--n`` Fashion-MNIST training images of ``--classes``: ``X`` (n, d) float32 and ``y``
(the original class labels). This is the transfer-learning setting of the pessimistic
tuning experiments (``benchmarks/pessimistic.py --features``): a CNN pretrained on classes
0-4 describes images of classes it never saw.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from stalwart.data import load_dataset
from stalwart.models import build_model
from stalwart.training.finetune import load_backbone, read_sidecar


def features(weights: str, classes: list[int], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    described = read_sidecar(weights)
    if described is None:
        raise SystemExit(f"{weights}: no description beside it (write it with stalwart pretrain)")
    ds = load_dataset("fashion_mnist", root="/usr/share/datasets/fashion-mnist", download=False,
                      n_val=1000, classes=classes)
    model = build_model(described["model"], ds.input_shape, len(classes),
                        generator=torch.Generator().manual_seed(0))
    load_backbone(model, weights)
    model.eval()
    rows = torch.randperm(ds.n_pool, generator=torch.Generator().manual_seed(seed))[:n]
    seen: list[torch.Tensor] = []
    hook = model.head_layer().register_forward_hook(lambda m, i, o: seen.append(i[0].detach()))
    with torch.no_grad():
        for start in range(0, len(rows), 512):
            model(ds.x_train[rows[start:start + 512]])
    hook.remove()
    labels = torch.tensor(classes)[ds.y_train[rows]]
    return torch.cat(seen).numpy().astype(np.float32), labels.numpy()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights")
    p.add_argument("--classes", default="5,6,7,8,9")
    p.add_argument("--n", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    x, y = features(args.weights, [int(c) for c in args.classes.split(",")], args.n, args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, X=x, y=y)
    print(f"{args.out}: X {x.shape}, classes {sorted(set(y.tolist()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
