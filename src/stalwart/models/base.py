"""The module every model family returns: a core network between two fixed affine maps.

Why the affine maps live in the model: evaluators (robustness attacks, corruptions) call
``model(x, features=dataset.features_test)`` and expect predictions in the dataset's
units, and a saved state dict must reproduce those predictions on its own. So the choice
of feature columns, the normalisation of the extra scalar inputs and the scale of the
regression output are *buffers* of the model (saved with the weights, never trained), set
by the trainer from the dataset and its training pool.
"""

from __future__ import annotations

import torch
from torch import nn

from stalwart.models.interval import AffineSplit, Box, propagate_box


def image_shape(family: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """``(C, H, W)`` of a convolutional family's input; ValueError naming the family else."""
    if len(input_shape) != 3:
        raise ValueError(f"{family} needs (C, H, W) inputs, got shape {input_shape}")
    c, h, w = input_shape
    return c, h, w


class StalwartModel(nn.Module):
    """Base class: ``forward(x, features=None) = core(x, norm(features)) * scale + shift``.

    Parameters
    ----------
    n_outputs:
        Width of the output: classes (logits) or regression targets.
    n_features:
        Number of extra scalar inputs ``features`` of shape ``(N, n_features)`` the model
        appends before its head; 0 when it takes none.

    Notes
    -----
    Buffers (saved in the state dict):

    ``feature_columns`` : int64, shape ``(n_features,)``
        which columns of the ``features`` table passed to ``forward`` are the model's extra
        inputs (default ``0..n_features-1``). The trainer points them at the columns named
        by ``extra_inputs`` in ``dataset.feature_names``, so callers pass the dataset's
        whole feature table, as the trainer and the robustness evaluators do.
    ``feature_mean``, ``feature_std`` : float32, shape ``(n_features,)``
        the selected inputs are fed as ``(features - feature_mean) / feature_std``.
    ``output_shift``, ``output_scale`` : shape ``(n_outputs,)``
        the prediction is ``core(...) * output_scale + output_shift``; identity (0, 1)
        unless the trainer sets them (it does for regression, see
        :mod:`stalwart.training.objectives`).
    """

    def __init__(self, n_outputs: int, n_features: int = 0) -> None:
        super().__init__()
        if n_outputs < 1:
            raise ValueError(f"n_outputs must be >= 1, got {n_outputs}")
        if n_features < 0:
            raise ValueError(f"n_features must be >= 0, got {n_features}")
        self.n_outputs = int(n_outputs)
        self.n_features = int(n_features)
        self.register_buffer("feature_columns", torch.arange(n_features))
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_std", torch.ones(n_features))
        self.register_buffer("output_shift", torch.zeros(n_outputs))
        self.register_buffer("output_scale", torch.ones(n_outputs))

    def core(self, x: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor:
        """The family's network: ``(N, *input_shape)``, ``(N, F)`` or None -> ``(N, n_outputs)``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        """Predict.

        Parameters
        ----------
        x:
            Inputs, shape ``(N, *input_shape)``.
        features:
            The feature table, shape ``(N, F)`` with ``F > max(feature_columns)``: the
            dataset's whole table (e.g. ``dataset.features_test``) or just the model's
            ``n_features`` columns with the default column map. Required iff
            ``n_features > 0``; ignored otherwise.

        Returns
        -------
        torch.Tensor
            Shape ``(N, n_outputs)``: logits, or regression predictions in target units.
        """
        if self.n_features:
            if features is None:
                raise ValueError(f"this model needs features of shape (N, {self.n_features})")
            if features.ndim != 2:
                raise ValueError(f"features must have shape (N, F), got {tuple(features.shape)}")
            # (an index past F raises in index_select; no .max() here, which would sync a GPU)
            features = features.index_select(1, self.feature_columns)
            features = (features - self.feature_mean) / self.feature_std
        else:
            features = None
        return self.core(x, features) * self.output_scale + self.output_shift

    @staticmethod
    def with_features(h: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor:
        """``h`` ``(N, D)`` with the (normalised) extra inputs appended: ``(N, D + F)``; the
        input of a family's head."""
        if features is None:
            return h
        return torch.cat([h, features.to(h.dtype)], dim=1)

    def _model_features(self, features: torch.Tensor | None) -> torch.Tensor | None:
        """The model's own columns of the feature table, normalised (None without any)."""
        if not self.n_features:
            return None
        if features is None:
            raise ValueError(f"this model needs features of shape (N, {self.n_features})")
        features = features.index_select(1, self.feature_columns)
        return (features - self.feature_mean) / self.feature_std

    def interval_body(self, lower: torch.Tensor, upper: torch.Tensor,
                      features: torch.Tensor | None) -> tuple[Box, nn.Linear]:
        """Interval bounds of ``core`` up to its final linear layer, and that layer.

        Families built from layers :mod:`stalwart.models.interval` can bound override this:
        return the :class:`~stalwart.models.interval.Box` of the final layer's input
        ``(N, D)`` over ``[lower, upper]`` (``features`` fixed, already normalised) and the
        final ``nn.Linear`` (``D -> n_outputs``). The output bounds and the margin bounds
        with last-layer elision (:meth:`interval_split`) both follow from it.
        """
        raise TypeError(f"{type(self).__name__} has no interval bounds")

    def interval_core(self, lower: torch.Tensor, upper: torch.Tensor,
                      features: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Interval bounds of ``core`` over ``[lower, upper]`` (features fixed, normalised)."""
        box, last = self.interval_body(lower, upper, features)
        return propagate_box(last, box).bounds()

    def interval_forward(self, lower: torch.Tensor, upper: torch.Tensor,
                         features: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Output bounds over the input box ``[lower, upper]`` (``(N, *input_shape)`` each)
        with ``features`` held fixed: the hook :func:`stalwart.models.interval.interval_bounds`
        calls, for the interval metrics of :mod:`stalwart.robustness.bounds`. Returns ``(lower_out, upper_out)``, each ``(N, n_outputs)``."""
        lo, hi = self.interval_core(lower, upper, self._model_features(features))
        # output_scale > 0 (a mean |y| or a std), so the affine map keeps the order.
        return lo * self.output_scale + self.output_shift, hi * self.output_scale + self.output_shift

    def interval_split(self, lower: torch.Tensor, upper: torch.Tensor,
                       features: torch.Tensor | None = None) -> AffineSplit:
        """The box before the final linear layer and the model's output as an affine map of
        it: ``(box, weight, bias)`` with ``forward(x) = weight @ h + bias``, ``h`` in ``box``
        (the output's scale and shift folded in). The hook
        :func:`stalwart.models.interval.final_affine_split` calls, so that margin bounds
        elide the last layer (:func:`stalwart.robustness.bounds.margin_lower_bounds`)."""
        box, last = self.interval_body(lower, upper, self._model_features(features))
        scale, shift = self.output_scale, self.output_shift
        weight = last.weight * scale.unsqueeze(1)
        bias = shift if last.bias is None else last.bias * scale + shift
        return box, weight, bias

    def head_layer(self) -> nn.Linear:
        """The final linear layer (the ``n_outputs`` logits or targets): what a linear probe
        trains and what a pretrained backbone does not bring (its task had other outputs).

        The last ``nn.Linear`` with ``n_outputs`` outputs in module order; every family
        ends in one.
        """
        last = [m for m in self.modules()
                if isinstance(m, nn.Linear) and m.out_features == self.n_outputs]
        if not last:
            raise TypeError(f"{type(self).__name__} has no final linear layer")
        return last[-1]

    @property
    def uses_features(self) -> bool:
        """Whether ``forward`` needs ``features`` (read by the robustness evaluators)."""
        return self.n_features > 0

    @property
    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    @torch.no_grad()
    def set_feature_columns(self, columns: list[int] | torch.Tensor) -> None:
        """Point the extra inputs at these columns of the feature table (length n_features)."""
        cols = torch.as_tensor(columns, dtype=torch.long).reshape(-1)
        if cols.numel() != self.n_features or (cols.numel() and int(cols.min()) < 0):
            raise ValueError(f"need {self.n_features} non-negative columns, got {cols.tolist()}")
        self.feature_columns.copy_(cols)

    @torch.no_grad()
    def set_feature_normalisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Set ``feature_mean``/``feature_std`` (shape ``(n_features,)``); tiny std -> 1."""
        std = torch.where(std.abs() > 1e-12, std, torch.ones_like(std))
        self.feature_mean.copy_(mean.reshape(-1))
        self.feature_std.copy_(std.reshape(-1))

    @torch.no_grad()
    def set_output_affine(self, shift: torch.Tensor, scale: torch.Tensor) -> None:
        """Set ``output_shift``/``output_scale`` (shape ``(n_outputs,)``); tiny scale -> 1."""
        scale = torch.where(scale.abs() > 1e-12, scale, torch.ones_like(scale))
        self.output_shift.copy_(shift.reshape(-1))
        self.output_scale.copy_(scale.reshape(-1))
