"""A tiny real study for the report tests: 10 configs, halving, an instant trainer (serial
executor) with robustness metrics, two failing configs, and text that would run as a
script if a report did not escape it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import stalwart as sw

#: Would set the page's title if a report let it run.
NAME = "<script>document.title='pwned'</script> tiny"
TAG = "<img src=x onerror=\"document.title='pwned-img'\">"
ERROR = "<script>document.title='pwned-error'</script> exploded"


def train(config, instance):
    """Quality peaks at lr 0.1; lr 0.9 raises an error with markup in it."""
    rng = np.random.default_rng(instance.seed)
    if config["lr"] == 0.9:
        raise RuntimeError(ERROR)
    q = 0.9 - abs(config["lr"] - 0.1) + 0.01 * config["width"] * rng.standard_normal()
    return {"val_accuracy": q, "test_accuracy": q - 0.01, "pgd_linf_acc": 0.5 * q,
            "pgd_l2_acc": 0.6 * q, "corruption_acc": 0.8 * q,
            "corruption_acc/gaussian_noise": 0.7 * q, "epoch1.clean_acc": q}


def make_study(directory: Path, name: str = NAME) -> sw.Study:
    return sw.Study(name, space={"lr": [0.01, 0.05, 0.1, 0.2, 0.9], "width": [1, 2],
                                 "tag": [TAG]},
                    seed=1, directory=directory, instances={"n": 5}, metric="val_accuracy",
                    direction="maximize", criterion="q1",
                    strategy={"name": "halving", "warmup": 2})
