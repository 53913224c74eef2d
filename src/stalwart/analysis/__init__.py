"""The offline side of stalwart: result tables, replays of strategies, baselines.

Nothing here trains: a :class:`~stalwart.analysis.table.ResultTable` holds finished
instances (from a study or a CSV), :mod:`~stalwart.analysis.replay` runs the very same
strategy objects over it, :mod:`~stalwart.analysis.baselines` replays random search and
Optuna's TPE on it for comparison, and :mod:`~stalwart.analysis.outcome` records what
each replay picked and judges it against the exhaustive search.

Imports go one way: ``table`` <- ``outcome`` <- ``baselines`` <- ``replay``.
"""
