"""A surrogate over the hyperparameters: predict a config's instance value untrained.

Adaptive racing's ``surrogate`` option skips configs that this model confidently predicts
to be far behind the leader, without training them: the only way to spend less than one
instance per config. The model is deliberately plain: an ordinary least-squares fit
(statsmodels) of one instance's value on the hyperparameters as *categorical main
effects* (an intercept and one indicator per level but the first of each), so a grid's
numbers (``lr: 0.001``) are levels like its names, and lists or mappings (``hidden_sizes:
[64, 64]``) are compared by their JSON text.

Which hyperparameters enter: those with at least two distinct values among the configs
and not one value per config (a constant says nothing; an id-like column, such as a
table's model hash, would give every config its own coefficient).

What a prediction claims: for an untrained config, the fit's mean and the standard error
of *one new instance* (the mean's standard error and the residual variance), the
residuals' degrees of freedom for a t quantile. Interactions that the main effects miss
end up in the residual variance of the configs it was fitted on; the prediction for an
untrained config is only as good as the assumption that its misfit is like theirs. Hence
the guard rails: no fit below :data:`MIN_DF` residual degrees of freedom, and no
prediction for a config with a level seen fewer than :data:`MIN_LEVEL_COUNT` times in the
fit (its coefficient would be an extrapolation without a standard error).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: the fewest residual degrees of freedom a fit may have
MIN_DF = 10
#: the fewest fitted configs each level of a predicted config must appear in
MIN_LEVEL_COUNT = 2


def _level(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True)
class Prediction:
    """Per config predicted: ``mean`` and ``se`` of one new instance; the fit's residual
    variance ``scale`` and its degrees of freedom ``df``."""

    mean: np.ndarray
    se: np.ndarray
    scale: float
    df: float


class MainEffectsSurrogate:
    """The categorical main-effects model over ``params`` (one mapping per config).

    Parameters
    ----------
    params:
        each config's hyperparameters, in the race's config order.
    """

    def __init__(self, params: Sequence[Mapping[str, Any]]) -> None:
        keys = sorted({k for p in params for k in p})
        columns: list[np.ndarray] = []
        blocks: list[np.ndarray] = []  # per hyperparameter: the level index of each config
        self.names: list[str] = []
        n = len(params)
        for key in keys:
            values = [_level(p.get(key)) for p in params]
            levels = sorted(set(values))
            if len(levels) < 2 or len(levels) == n:
                continue
            index = {v: i for i, v in enumerate(levels)}
            codes = np.array([index[v] for v in values])
            blocks.append(codes)
            self.names.append(key)
            for j in range(1, len(levels)):
                columns.append((codes == j).astype(float))
        self._design = np.column_stack([np.ones(n), *columns])
        self._codes = np.column_stack(blocks) if blocks else np.zeros((n, 0), dtype=int)

    @property
    def usable(self) -> bool:
        """Whether any hyperparameter can enter the model."""
        return bool(self.names)

    @property
    def most_df(self) -> int:
        """The residual degrees of freedom of a fit on every config: the most any fit has."""
        return len(self._design) - int(np.linalg.matrix_rank(self._design))

    def predict(self, fitted: np.ndarray, y: np.ndarray, rows: np.ndarray) -> Prediction | None:
        """Fit on configs ``fitted`` (values ``y``) and predict configs ``rows``.

        Returns ``None`` when the fit has fewer than :data:`MIN_DF` residual degrees of
        freedom. A predicted config with a level seen fewer than :data:`MIN_LEVEL_COUNT`
        times among ``fitted`` gets an infinite ``se`` (no claim about it).
        """
        import statsmodels.api as sm  # slow to import; only a surrogate needs it
        from statsmodels.tools.sm_exceptions import SingularMatrixWarning

        x = self._design[fitted]
        if not self.usable or len(fitted) - int(np.linalg.matrix_rank(x)) < MIN_DF:
            return None
        with warnings.catch_warnings():
            # A level not yet among the fitted configs leaves its column empty: the fit
            # is rank-deficient there, and that level's configs get no prediction below.
            warnings.simplefilter("ignore", SingularMatrixWarning)
            fit = sm.OLS(y, x).fit()
            pred = fit.get_prediction(self._design[rows])
        se = np.sqrt(np.asarray(pred.se_mean) ** 2 + float(fit.scale))
        seen = self._codes[fitted]
        for j in range(self._codes.shape[1]):
            counts = np.bincount(seen[:, j], minlength=int(self._codes[:, j].max()) + 1)
            se = np.where(counts[self._codes[rows, j]] >= MIN_LEVEL_COUNT, se, np.inf)
        return Prediction(mean=np.asarray(pred.predicted_mean, dtype=float), se=se,
                          scale=float(fit.scale), df=float(fit.df_resid))
