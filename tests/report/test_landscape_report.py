"""stalwart report on a landscape result (benchmarks/landscape.py --json): the JSON round
trip, the page (figure, table, what the correlation says) and the one-line refusals."""

from __future__ import annotations

import base64
import copy
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import imread
from sklearn.datasets import load_iris

from stalwart.bilevel.landscape import (
    LANDSCAPE_SCHEMA,
    Catalogue,
    Correlation,
    Minimum,
    catalogue_from_dict,
    catalogue_minima,
    landscape_json,
    loss_sensitivity_correlation,
    mlp,
)
from stalwart.cli import main
from stalwart.errors import UserError
from stalwart.report.build import build_report
from stalwart.report.landscape_page import correlation_sentence
from stalwart.report.load import detect

torch.set_num_threads(1)
META = {"dataset": "iris", "sizes": [4, 6, 3], "n_train": 60, "n_val": 60, "eps": 0.05,
        "steps": 5, "seed": 0, "confidence": 0.95}
LESS = "lower minima are less sensitive."
NOT = "not established"


@pytest.fixture(scope="module")
def run() -> tuple[Catalogue, Correlation]:
    """The smallest settings of tests/bilevel/test_landscape.py (iris 4-6-3, 5 hops)."""
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    idx = np.random.default_rng(0).permutation(len(y))
    tr, va = idx[:60], idx[60:120]
    cat = catalogue_minima(mlp((4, 6, 3), seed=0), X[tr], y[tr], X[va], y[va], niter=5,
                           weight_decay=1e-4, eps=0.05, seed=0)
    return cat, loss_sensitivity_correlation(cat, n_resamples=200)


@pytest.fixture(scope="module")
def result_file(run, tmp_path_factory) -> Path:
    cat, corr = run
    f = tmp_path_factory.mktemp("landscape") / "landscape.json"
    f.write_text(json.dumps(landscape_json(cat, corr, META), allow_nan=False))
    return f


def _fake(points: list[tuple[float, float]], corr: Correlation | None) -> dict:
    minima = tuple(Minimum(np.zeros(3), f, f, 0.5, 0.0, 0.1, s, 1e-9, 1 + i, i)
                   for i, (f, s) in enumerate(points))
    cat = Catalogue(minima, len(minima) + 1, 1, 0.05, 1e-4, 3)
    return landscape_json(cat, corr, dict(META, dataset="<b>fake</b> & co"))


def test_json_round_trip(run) -> None:
    cat, corr = run
    d = landscape_json(cat, corr, META)
    assert d["schema"] == LANDSCAPE_SCHEMA == "stalwart.landscape/1"
    assert d == cat.to_dict(corr, META)
    assert d["task"] == META and d["n_minima"] == len(cat.minima)
    assert all("params" not in row for row in d["minima"])
    back, corr2 = catalogue_from_dict(json.loads(json.dumps(d, allow_nan=False)))
    assert corr2 == corr
    assert back.table() == cat.table()
    for a, b in zip(back.minima, cat.minima, strict=True):
        assert a.params.size == 0
        assert (a.train_loss, a.sensitivity, a.val_loss, a.visits) == (
            b.train_loss, b.sensitivity, b.val_loss, b.visits)
    assert (back.n_minimisations, back.n_not_stationary, back.eps, back.weight_decay,
            back.n_params) == (cat.n_minimisations, cat.n_not_stationary, cat.eps,
                               cat.weight_decay, cat.n_params)


def test_json_has_no_nan() -> None:
    d = _fake([(0.1, 1.0), (0.2, math.nan)], Correlation(math.nan, math.nan, math.nan, 2))
    text = json.dumps(d, allow_nan=False)  # raises on NaN
    assert d["correlation"] == {"rho": None, "low": None, "high": None, "n": 2}
    assert d["minima"][1]["sensitivity"] is None
    back, corr = catalogue_from_dict(json.loads(text))
    assert math.isnan(back.minima[1].sensitivity) and math.isnan(corr.rho)
    assert _fake([(0.1, 1.0)], None)["correlation"] is None


def test_report_has_figure_and_table(result_file, run, tmp_path) -> None:
    cat, corr = run
    assert detect(result_file).kind == "landscape"
    out = tmp_path / "landscape.html"
    assert main(["report", str(result_file), "-o", str(out)]) == 0
    page = out.read_text()
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(uris) == 1
    pixels = imread(io.BytesIO(base64.b64decode(uris[0])), format="png")
    assert pixels.shape[0] > 100 and float(pixels[..., :3].std()) > 0.05  # not blank
    assert "<th>train loss</th>" in page and "<th>sensitivity</th>" in page
    assert page.count("<tr>") == len(cat.minima) + 1  # the minima and the header row
    for m in cat.minima:
        assert f"{m.train_loss:.5f}" in page and f"{m.sensitivity:.3f}" in page
    assert f"{len(cat.minima)}</dd>" in page and "4-6-3" in page
    assert f"Spearman rho(training loss, sensitivity) = {corr.rho:.3f}" in page
    assert "95% bootstrap CI" in page


@pytest.mark.parametrize(("corr", "says"), [
    (Correlation(0.8, 0.3, 0.95, 8), LESS),
    (Correlation(0.4, -0.2, 0.8, 8), NOT),
    (Correlation(-0.8, -0.95, -0.3, 8), NOT),
    (Correlation(0.5, math.nan, math.nan, 8), NOT),
    (Correlation(math.nan, math.nan, math.nan, 2), NOT),
    (None, NOT),
])
def test_what_the_correlation_says(corr, says: str) -> None:
    text = correlation_sentence(corr, 2)
    assert says in text
    assert (LESS in text) == (says == LESS)


def test_report_escapes_text(tmp_path) -> None:
    f = tmp_path / "fake.json"
    f.write_text(json.dumps(_fake([(0.1 * i, float(i)) for i in range(4)],
                                  Correlation(1.0, 1.0, 1.0, 4))))
    page = build_report(f).html
    assert "<b>fake</b>" not in page and "&lt;b&gt;fake&lt;/b&gt; &amp; co" in page
    assert "the interval excludes 0, so " + LESS in page


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.pop("minima"), "missing key 'minima'"),
    (lambda d: [d.pop("task"), d.pop("eps")], "missing keys 'task', 'eps'"),
    (lambda d: d["minima"][0].pop("sensitivity"), r"minima\[0\]: missing key 'sensitivity'"),
    (lambda d: d["minima"][1].update(visits="many"), r"minima\[1\]\.visits: must be"),
    (lambda d: d["correlation"].pop("rho"), "correlation: missing key 'rho'"),
    (lambda d: d.update(schema="stalwart.landscape/9"), "schema: expected"),
])
def test_malformed_is_refused(result_file, tmp_path, capsys, edit, message: str) -> None:
    d = copy.deepcopy(json.loads(result_file.read_text()))
    edit(d)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(UserError, match=message):
        build_report(bad)
    out = tmp_path / "bad.html"
    capsys.readouterr()
    assert main(["report", str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("stalwart: error: ") and str(bad) in err
    assert re.search(message, err)
    assert not out.exists()
