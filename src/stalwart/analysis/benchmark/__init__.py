"""The statistics of a robustness benchmark table (``stalwart analyze``).

A benchmark table has one row per run: *factor* columns (the backbone, the loss, the
fine-tuning protocol, the dataset, ...) and *metric* columns (clean accuracy, accuracy
under L_inf / L2 / L1 attacks, under common corruptions). The analysis follows the robust
fine-tuning benchmark of Heuillet et al. (arXiv 2508.14079): which configuration ranks
best across datasets and perturbations, which design factors explain the metrics, which
levels of a factor differ, and whether a cheap protocol ranks configurations as the full
one does.

Roles (:mod:`.roles`) say what each column is: the *config* columns identify what is
ranked, the *protocol* columns group runs into separately ranked protocols, the *block*
column (the dataset) is what a ranking is repeated over, the *metrics* are what is
measured. Each statistic is one module:

* :mod:`.cells` -- runs averaged into (protocol, config, block) cells;
* :mod:`.borda` -- the Borda count of the configurations within each protocol;
* :mod:`.anova` -- type II ANOVA of a metric on factors, with effect sizes (statsmodels);
* :mod:`.tukey` and :mod:`.letters` -- Tukey HSD between a factor's levels (statsmodels)
  and its compact letter display;
* :mod:`.fisher` -- Fisher's exact test on the wins of one level over another (scipy);
* :mod:`.spearman` -- rank agreement between metrics and between protocols (scipy);
* :mod:`.result` -- the :func:`analyze` entry point and its :class:`AnalysisResult`.

Every result is a dataclass with a JSON-safe ``to_dict()`` (``None`` for an undefined
number, never NaN). Bad input raises :class:`~stalwart.errors.UserError` naming the column.
"""

from __future__ import annotations

from stalwart.analysis.benchmark.fisher import FisherRequest
from stalwart.analysis.benchmark.result import AnalysisResult, Requests, analyze
from stalwart.analysis.benchmark.roles import LAYOUTS, Roles, resolve_roles

__all__ = [
    "LAYOUTS",
    "AnalysisResult",
    "FisherRequest",
    "Requests",
    "Roles",
    "analyze",
    "resolve_roles",
]
