"""The energy landscape of a small network: a catalogue of its minima and their sensitivity.

Pessimistic tuning (arXiv 2412.03666) asks how bad the worst of the near-optimal trainings
is; for a network, the near-optimal trainings are its many local minima. Following the
energy-landscape view of training (basin-hopping over the weights, as molecular
landscapes are explored), :func:`catalogue_minima` runs
``scipy.optimize.basinhopping`` over the flattened weights of a small ``nn.Sequential``
(a few hundred parameters), each local minimisation by L-BFGS-B with the gradient from
torch autograd (``jac=True``), and keeps the distinct minima it visits. Each minimum gets
its training loss, validation loss and *interval-bound sensitivity*: the mean log-volume of
the interval bound propagation (IBP) output box over the l_inf ball of radius ``eps``
around each validation input (arXiv 1810.11726; the same quantity as
:func:`stalwart.robustness.bounds.log_sensitivity`, computed here with
:func:`stalwart.models.interval.interval_bounds` directly so that this package needs
only the models layer below it).

:func:`loss_sensitivity_correlation` gives the Spearman rank correlation between the
minima's training loss and sensitivity with a bootstrap confidence interval;
:func:`minima_figure` plots one against the other (a ``matplotlib.figure.Figure``, no
pyplot state). :meth:`Catalogue.to_dict` (or :func:`landscape_json`) writes the catalogue
without its weights, the correlation and the task as a JSON-safe object
(``"schema": "stalwart.landscape/1"``), which ``stalwart report`` draws;
:func:`catalogue_from_dict` reads it back for the same figure.

The training objective is the mean cross-entropy plus ``weight_decay / 2 ||theta||^2``; the
decay keeps minima at finite weights (without it, separable data drive the loss to 0 at
infinity). Everything runs in float64 on the CPU, seeded: the same arguments give the same
catalogue. Two minima are the same when their objectives agree within ``loss_tol``
(relative) and either their weights agree within ``dist_tol`` (root-mean-square distance)
or their outputs on the training inputs agree within ``output_tol`` (max abs logit
difference). Nothing fancy: no matching of weights up to symmetries; the output test is
what catches the copies of a minimum that differ by a permutation of hidden units (or, for
tanh, a sign flip), which have the same outputs but distant weights. A local minimisation
that stops with a gradient norm above ``grad_tol`` (iteration cap, a ReLU kink) is
counted, not catalogued.

ReLU networks are supported (IBP and autograd handle them), but their objective has kinks
where L-BFGS-B stops before the gradient vanishes (measured on iris 4-16-3: gradient norms
3e-4 to 1e-3 at the end, against 1e-8 with tanh), so they need a looser ``grad_tol`` and
are not certified stationary; tanh (smooth) is the default of :func:`mlp`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from matplotlib.figure import Figure
from scipy.optimize import basinhopping
from scipy.stats import bootstrap, spearmanr
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from stalwart.checks import integer
from stalwart.errors import UserError
from stalwart.models.interval import interval_bounds

from ._checks import check, matrix, non_negative, positive

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
#: The ``schema`` of :meth:`Catalogue.to_dict` (the JSON that ``stalwart report`` draws).
LANDSCAPE_SCHEMA = "stalwart.landscape/1"
#: A minimum's fields in a row of the JSON table (all of :class:`Minimum` but ``params``).
ROW_FIELDS = ("train_loss", "train_ce", "val_loss", "train_error", "val_error",
              "sensitivity", "grad_norm", "visits", "first_seen")
_FLOAT_FIELDS = frozenset(ROW_FIELDS[:7])
_TOP_FIELDS = ("task", "n_params", "n_minimisations", "n_not_stationary", "eps",
               "weight_decay", "correlation", "minima")


def mlp(sizes: Sequence[int], activation: str = "tanh", seed: int = 0) -> nn.Sequential:
    """A float64 ``nn.Sequential`` of Linear layers with ``activation`` between them.

    ``sizes`` = ``(inputs, hidden..., outputs)``, e.g. ``(4, 8, 3)`` for iris.
    """
    if activation not in ACTIVATIONS:
        raise UserError(f"activation: unknown activation {activation!r} (choose from "
                        f"{', '.join(ACTIVATIONS)})")
    if len(sizes) < 2 or any(not isinstance(s, int) or s < 1 for s in sizes):
        raise UserError(f"sizes: must be at least two positive integers, got {list(sizes)}")
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers).double()


@dataclass(frozen=True)
class Minimum:
    """One distinct local minimum.

    Attributes
    ----------
    params:
        the flattened weights (``parameters_to_vector`` order).
    train_loss:
        the objective: mean training cross-entropy + ``weight_decay / 2 ||theta||^2``.
    train_ce, val_loss:
        mean cross-entropy on the training and on the validation set.
    train_error, val_error:
        0-1 errors.
    sensitivity:
        mean log-volume of the IBP output box over the validation inputs.
    grad_norm:
        the objective's gradient norm at ``params`` (small: a stationary point).
    visits:
        how many local minimisations ended here.
    first_seen:
        the index of the first local minimisation that found it (0: the start).
    """

    params: np.ndarray
    train_loss: float
    train_ce: float
    val_loss: float
    train_error: float
    val_error: float
    sensitivity: float
    grad_norm: float
    visits: int
    first_seen: int


@dataclass(frozen=True)
class Catalogue:
    """The distinct minima found, sorted by training loss, and the search's counts."""

    minima: tuple[Minimum, ...]
    n_minimisations: int
    n_not_stationary: int
    eps: float
    weight_decay: float
    n_params: int

    def table(self) -> str:
        """A markdown table of the minima."""
        rows = ["| # | train loss | train CE | val loss | train err | val err | "
                "sensitivity | grad norm | visits |",
                "|---|---|---|---|---|---|---|---|---|"]
        for i, m in enumerate(self.minima):
            rows.append(f"| {i} | {m.train_loss:.5f} | {m.train_ce:.5f} | {m.val_loss:.4f} | "
                        f"{m.train_error:.3f} | {m.val_error:.3f} | {m.sensitivity:.3f} | "
                        f"{m.grad_norm:.1e} | {m.visits} |")
        return "\n".join(rows)

    def to_dict(self, correlation: Correlation | None = None,
                meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """The catalogue as a JSON-safe object (``"schema": "stalwart.landscape/1"``).

        The minima's rows without their weight vectors (NaN and infinities become None),
        ``correlation`` (rho, low, high, n; None when not given) and ``meta``, the task's
        description (dataset, sizes, eps, basin-hopping steps, seed: whatever the caller
        ran), under ``"task"``. :func:`catalogue_from_dict` reads it back.
        """
        return {
            "schema": LANDSCAPE_SCHEMA,
            "task": _json_safe(dict(meta or {})),
            "n_params": self.n_params,
            "n_minimisations": self.n_minimisations,
            "n_not_stationary": self.n_not_stationary,
            "n_minima": len(self.minima),
            "eps": _finite(self.eps),
            "weight_decay": _finite(self.weight_decay),
            "correlation": None if correlation is None else {
                "rho": _finite(correlation.rho), "low": _finite(correlation.low),
                "high": _finite(correlation.high), "n": int(correlation.n)},
            "minima": [{"index": i, **{k: _finite(getattr(m, k)) if k in _FLOAT_FIELDS
                                       else int(getattr(m, k)) for k in ROW_FIELDS}}
                       for i, m in enumerate(self.minima)],
        }


@dataclass
class _Found:
    """A distinct minimum while the search runs (``outputs``: the logits on the training set)."""

    x: np.ndarray
    f: float
    grad_norm: float
    first: int
    outputs: np.ndarray
    visits: int = 1


class _Objective:
    """Flat weights -> (objective, gradient) through torch autograd, float64."""

    def __init__(self, model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                 weight_decay: float) -> None:
        self.model, self.X, self.y, self.decay = model, X, y, weight_decay
        self.params = list(model.parameters())

    def set(self, theta: np.ndarray) -> None:
        with torch.no_grad():
            vector_to_parameters(torch.as_tensor(theta, dtype=torch.float64), self.params)

    def outputs(self, theta: np.ndarray) -> np.ndarray:
        """The model's outputs on the training inputs at ``theta``."""
        self.set(theta)
        with torch.no_grad():
            return self.model(self.X).numpy().copy()

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        self.set(theta)
        for p in self.params:
            p.grad = None
        flat = parameters_to_vector(self.params)
        loss = nn.functional.cross_entropy(self.model(self.X), self.y)
        loss = loss + self.decay / 2 * (flat @ flat)
        loss.backward()
        grad = torch.cat([p.grad.reshape(-1) for p in self.params])
        return float(loss.item()), grad.detach().numpy().astype(np.float64)


def sensitivity(model: nn.Module, X: torch.Tensor, eps: float, floor: float = 1e-12) -> float:
    """Mean over the rows of ``X`` of the log-volume of the IBP output box at radius ``eps``.

    Per sample, ``sum_k log(max(upper_k - lower_k, floor))`` over the outputs ``k``, as in
    :func:`stalwart.robustness.bounds.log_sensitivity`.
    """
    eps = non_negative("eps", eps)
    lo, hi = interval_bounds(model, X - eps, X + eps)
    width = (hi - lo).reshape(lo.shape[0], -1).clamp_min(floor)
    return float(width.log().sum(dim=1).mean().item())


def _tensors(X: object, y: object, key: str, n_in: int) -> tuple[torch.Tensor, torch.Tensor]:
    XX = matrix(f"X_{key}", X, cols=n_in)
    yy = np.asarray(y)
    if yy.ndim != 1 or yy.shape[0] != XX.shape[0] or not np.issubdtype(yy.dtype, np.integer):
        raise UserError(f"y_{key}: must be a 1-D integer array with {XX.shape[0]} labels")
    return torch.as_tensor(XX), torch.as_tensor(yy, dtype=torch.long)


def catalogue_minima(model: nn.Sequential, X_train: object, y_train: object, X_val: object,
                     y_val: object, *, niter: int = 20, stepsize: float = 3.0,
                     temperature: float = 1.0, weight_decay: float = 1e-4, eps: float = 0.05,
                     seed: int = 0, loss_tol: float = 1e-7, dist_tol: float = 1e-3,
                     output_tol: float = 1e-3, grad_tol: float = 1e-4,
                     maxiter: int = 3000) -> Catalogue:
    """Basin-hopping over ``model``'s weights; the distinct minima it finds.

    Parameters
    ----------
    model:
        an ``nn.Sequential`` of Linear and activation layers (copied, left untouched; its
        weights are the starting point).
    X_train, y_train, X_val, y_val:
        ``(n, d)`` inputs and integer class labels.
    niter:
        basin-hopping steps after the first local minimisation.
    stepsize, temperature:
        basin-hopping's random displacement (per weight, uniform in ``+-stepsize``) and its
        Metropolis temperature (in objective units). Steps must be large: with scipy's
        default 0.5 (and ``weight_decay=1e-3``) every minimisation of an iris 4-8-3 or a
        digits 64-4-10 tanh network returned to the same minimum.
    weight_decay:
        the L2 term of the objective (larger values smooth the landscape towards one
        minimum; 1e-4 keeps minima finite and distinct).
    eps:
        the l_inf radius of the sensitivity.
    seed:
        seeds basin-hopping's steps and acceptance.
    loss_tol, dist_tol, output_tol, grad_tol:
        de-duplication and stationarity thresholds (module docstring).
    maxiter:
        L-BFGS-B iterations per local minimisation.
    """
    check(integer("niter", niter, low=0))
    check(integer("maxiter", maxiter, low=1))
    positive("stepsize", stepsize)
    positive("temperature", temperature)
    non_negative("weight_decay", weight_decay)
    non_negative("eps", eps)
    work = copy.deepcopy(model).double().eval()
    first_linear = next((m for m in work.modules() if isinstance(m, nn.Linear)), None)
    if first_linear is None:
        raise UserError("model: must contain an nn.Linear layer")
    Xt, yt = _tensors(X_train, y_train, "train", first_linear.in_features)
    Xv, yv = _tensors(X_val, y_val, "val", first_linear.in_features)
    objective = _Objective(work, Xt, yt, float(weight_decay))
    found: list[_Found] = []
    counts = {"minimisations": 0, "not_stationary": 0}

    def record(x: np.ndarray, f: float, accept: bool) -> None:
        index = counts["minimisations"]
        counts["minimisations"] += 1
        x = np.array(x, dtype=np.float64, copy=True)
        g = float(np.linalg.norm(objective(x)[1]))
        if g > grad_tol:
            counts["not_stationary"] += 1
            return
        out = objective.outputs(x)
        for entry in found:
            if abs(f - entry.f) > loss_tol * (1.0 + abs(entry.f)):
                continue
            if (np.linalg.norm(x - entry.x) / math.sqrt(x.size) <= dist_tol
                    or np.abs(out - entry.outputs).max() <= output_tol):
                entry.visits += 1
                return
        found.append(_Found(x, float(f), g, index, out))

    x0 = parameters_to_vector(work.parameters()).detach().numpy().astype(np.float64)
    basinhopping(objective, x0, niter=niter, T=temperature, stepsize=stepsize,
                 minimizer_kwargs={"method": "L-BFGS-B", "jac": True,
                                   "options": {"maxiter": maxiter, "gtol": 1e-9,
                                               "ftol": 1e-15}},
                 callback=record, rng=np.random.default_rng(seed))
    minima = [_describe(objective, Xv, yv, eps, e) for e in found]
    minima.sort(key=lambda m: (m.train_loss, m.first_seen))
    return Catalogue(tuple(minima), counts["minimisations"], counts["not_stationary"],
                     float(eps), float(weight_decay), int(x0.size))


def _describe(objective: _Objective, Xv: torch.Tensor, yv: torch.Tensor, eps: float,
              e: _Found) -> Minimum:
    objective.set(e.x)
    model = objective.model
    with torch.no_grad():
        out_t, out_v = model(objective.X), model(Xv)
        ce_t = float(nn.functional.cross_entropy(out_t, objective.y).item())
        ce_v = float(nn.functional.cross_entropy(out_v, yv).item())
        err_t = float((out_t.argmax(1) != objective.y).double().mean().item())
        err_v = float((out_v.argmax(1) != yv).double().mean().item())
    sens = sensitivity(model, Xv, eps)
    return Minimum(params=e.x, train_loss=e.f, train_ce=ce_t, val_loss=ce_v,
                   train_error=err_t, val_error=err_v, sensitivity=sens, grad_norm=e.grad_norm,
                   visits=e.visits, first_seen=e.first)


class Correlation(NamedTuple):
    """Spearman's rho between training loss and sensitivity, its bootstrap CI, and n."""

    rho: float
    low: float
    high: float
    n: int


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    # a resample where either variable is constant has no rank association: count it as 0
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def loss_sensitivity_correlation(catalogue: Catalogue, *, n_resamples: int = 2000,
                                 confidence: float = 0.95, seed: int = 0) -> Correlation:
    """Spearman rank correlation of the minima's training loss and sensitivity.

    The interval is a percentile bootstrap over minima (``scipy.stats.bootstrap``, paired,
    seeded). Fewer than three minima give NaNs (no correlation to speak of).
    """
    check(integer("n_resamples", n_resamples, low=1))
    positive("confidence", confidence)
    if confidence >= 1:
        raise UserError(f"confidence: must be < 1, got {confidence}")
    loss = np.array([m.train_loss for m in catalogue.minima])
    sens = np.array([m.sensitivity for m in catalogue.minima])
    n = len(loss)
    if n < 3:
        return Correlation(math.nan, math.nan, math.nan, n)
    res = bootstrap((loss, sens), _rho, paired=True, vectorized=False,
                    n_resamples=n_resamples, confidence_level=confidence,
                    method="percentile", rng=np.random.default_rng(seed))
    ci = res.confidence_interval
    return Correlation(_rho(loss, sens), float(ci.low), float(ci.high), n)


def minima_figure(catalogue: Catalogue, correlation: Correlation | None = None) -> Figure:
    """Training loss (x) against sensitivity (y) of each minimum, coloured by validation loss.

    Marker area grows with the number of visits; the title gives Spearman's rho with its
    interval when ``correlation`` is given.
    """
    fig = Figure(figsize=(6.0, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ms = catalogue.minima
    if ms:
        sc = ax.scatter([m.train_loss for m in ms], [m.sensitivity for m in ms],
                        c=[m.val_loss for m in ms], s=[20 + 10 * m.visits for m in ms],
                        cmap="viridis", edgecolors="black", linewidths=0.5)
        fig.colorbar(sc, ax=ax, label="validation loss")
    ax.set_xlabel("training objective at the minimum")
    ax.set_ylabel(f"IBP sensitivity (mean log-volume, eps={catalogue.eps:g})")
    title = f"{len(ms)} distinct minima, {catalogue.n_params} weights"
    if correlation is not None and not math.isnan(correlation.rho):
        title += (f"\nSpearman rho = {correlation.rho:.2f} "
                  f"[{correlation.low:.2f}, {correlation.high:.2f}]")
    ax.set_title(title)
    return fig


def landscape_json(catalogue: Catalogue, correlation: Correlation | None,
                   meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """:meth:`Catalogue.to_dict`: what ``benchmarks/landscape.py --json`` writes."""
    return catalogue.to_dict(correlation, meta)


def catalogue_from_dict(d: Any) -> tuple[Catalogue, Correlation | None]:
    """The catalogue (weights left empty) and correlation of :meth:`Catalogue.to_dict`'s
    object, enough for :func:`minima_figure` and :meth:`Catalogue.table`.

    None in a number's place reads as NaN. A one-line :class:`UserError` for anything
    else than that object: another schema, a missing key, a value of the wrong type.
    """
    if not isinstance(d, dict):
        raise UserError("a landscape result must be a JSON object")
    schema = d.get("schema")
    if schema != LANDSCAPE_SCHEMA:
        raise UserError(f"schema: expected {LANDSCAPE_SCHEMA!r}, got {schema!r}")
    missing = [k for k in _TOP_FIELDS if k not in d]
    if missing:
        raise UserError(f"missing key{'s' if len(missing) > 1 else ''} "
                        f"{', '.join(map(repr, missing))} (a {LANDSCAPE_SCHEMA} object)")
    if not isinstance(d["task"], dict):
        raise UserError("task: must be an object")
    rows = d["minima"]
    if not isinstance(rows, list):
        raise UserError("minima: must be a list of rows")
    minima = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise UserError(f"minima[{i}]: must be an object")
        lost = [k for k in ROW_FIELDS if k not in row]
        if lost:
            raise UserError(f"minima[{i}]: missing key{'s' if len(lost) > 1 else ''} "
                            f"{', '.join(map(repr, lost))}")
        values = {k: _read_float(f"minima[{i}].{k}", row[k]) if k in _FLOAT_FIELDS
                  else _read_int(f"minima[{i}].{k}", row[k]) for k in ROW_FIELDS}
        minima.append(Minimum(params=np.zeros(0), **values))
    cat = Catalogue(tuple(minima), _read_int("n_minimisations", d["n_minimisations"]),
                    _read_int("n_not_stationary", d["n_not_stationary"]),
                    _read_float("eps", d["eps"]), _read_float("weight_decay", d["weight_decay"]),
                    _read_int("n_params", d["n_params"]))
    c = d["correlation"]
    if c is None:
        return cat, None
    if not isinstance(c, dict):
        raise UserError("correlation: must be an object or null")
    lost = [k for k in ("rho", "low", "high", "n") if k not in c]
    if lost:
        raise UserError(f"correlation: missing key{'s' if len(lost) > 1 else ''} "
                        f"{', '.join(map(repr, lost))}")
    corr = Correlation(*(_read_float(f"correlation.{k}", c[k]) for k in ("rho", "low", "high")),
                       _read_int("correlation.n", c["n"]))
    return cat, corr


def _finite(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _json_safe(value: Any) -> Any:
    """``value`` with numpy scalars, tuples and non-finite floats made JSON-safe."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return _finite(value)
    return value


def _read_float(key: str, v: Any) -> float:
    if v is None:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise UserError(f"{key}: must be a number or null, got {v!r:.40}")
    return float(v)


def _read_int(key: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise UserError(f"{key}: must be a non-negative integer, got {v!r:.40}")
    return v
