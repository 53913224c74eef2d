"""Where instances train: the executor contract and the executors by name.

:class:`~stalwart.execution.base.Executor` is the contract; :data:`EXECUTORS` names the
executors (``local``, ``serial``, ``ray``) and :func:`make_executor` builds one. The
executors themselves are imported only when built.
"""

from stalwart.execution.base import Executor
from stalwart.execution.registry import EXECUTORS, ExecutorFactory, make_executor

__all__ = ["EXECUTORS", "Executor", "ExecutorFactory", "make_executor"]
