"""Class subsets (a source and a target task from one image set) and the rotation pretext."""

from __future__ import annotations

import pytest
import torch

from stalwart.data.base import image_classification, rotation_pretext
from stalwart.data.catalog import CATALOG
from stalwart.errors import DataError

NAMES = tuple(f"c{i}" for i in range(10))


def _images(n: int = 100, size: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(0))
    return x, torch.arange(n) % 10


def test_kept_classes_are_relabelled_in_the_order_given() -> None:
    x, y = _images()
    d = image_classification("set", "classification", x, y, x[:20], y[:20], n_val=5,
                             classes=NAMES, source="-", keep=[7, 5])
    assert d.n_classes == 2 and d.extras["classes"] == ("c7", "c5")
    assert d.x_train.shape[0] + d.x_val.shape[0] == 20  # ten images each of classes 7 and 5
    for xs, ys in ((d.x_train, d.y_train), (d.x_val, d.y_val), (d.x_test, d.y_test)):
        for img, label in zip(xs, ys, strict=True):
            row = int(((x - img).abs().flatten(1).sum(1) == 0).nonzero()[0])
            assert int(label) == {7: 0, 5: 1}[int(y[row])]


def test_rotation_pretext_labels_each_quarter_turn() -> None:
    x, y = _images(40)
    d = rotation_pretext(image_classification("set", "classification", x, y, x[:8], y[:8],
                                              n_val=8, classes=NAMES, source="-"))
    n = 32
    assert d.n_classes == 4 and d.x_train.shape[0] == 4 * n
    assert torch.equal(d.y_train.bincount(), torch.full((4,), n))
    for k in range(4):
        assert torch.equal(d.x_train[k * n:(k + 1) * n], torch.rot90(x[:n], k, dims=(-2, -1)))
        assert torch.all(d.y_train[k * n:(k + 1) * n] == k)


def test_rotation_needs_square_images() -> None:
    x = torch.rand(20, 1, 4, 6)
    d = image_classification("set", "classification", x, torch.arange(20) % 10, x, torch.arange(20) % 10,
                             n_val=5, classes=NAMES, source="-")
    with pytest.raises(DataError, match="square images, got 4x6"):
        rotation_pretext(d)


def test_the_catalog_knows_the_pool_of_a_subset_without_loading() -> None:
    fm = CATALOG["fashion_mnist"]
    assert fm.pool_size({"classes": [5, 6, 7, 8, 9], "n_val": 2000}) == 28000
    assert fm.pool_size({"classes": [0, 1], "n_val": 2000, "pretext": "rotation"}) == 40000
    assert CATALOG["mnist"].pool_size({"classes": [1]  , "pretext": "rotation", "n_val": 742}) == 24000


@pytest.mark.parametrize("options, message", [
    ({"classes": [3]}, "dataset.options.classes: a classification task needs at least 2"),
    ({"classes": [3, 3]}, "dataset.options.classes: lists a class twice"),
    ({"classes": [10, 1]}, "dataset.options.classes: must be a list of class indices 0-9"),
    ({"classes": []}, "dataset.options.classes: must be a list of class indices 0-9"),
    ({"pretext": "jigsaw"}, "dataset.options.pretext: unknown pretext task 'jigsaw'"),
    ({"classes": [0, 1], "n_val": 12000}, "dataset.options.n_val: leaves no training pool"),
])
def test_bad_subset_options_name_the_key(options, message) -> None:
    problems = CATALOG["fashion_mnist"].problems(options)
    assert problems and problems[0].startswith(message), problems
