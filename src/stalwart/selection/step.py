"""Step-synchronous strategies: hand out a step's trials, wait for all, then decide.

Halving and racing both proceed in steps. A step hands out the trials its survivors still
need (at most once: ``ask`` returns nothing while the step is in flight), waits until
every one of them is told, and only then ends the step: eliminations, then stop or open
the next step. Deciding only on complete steps is what makes the outcome independent of
the order of ``tell`` calls. A budget that cuts a step short ends the race there: the
step's decisions would rest on a partial sample.

:class:`StepStrategy` holds this skeleton; a subclass says which trials a step wants
(:meth:`~StepStrategy._step_trials`) and what happens when it is complete
(:meth:`~StepStrategy._end_step`).
"""

from __future__ import annotations

from abc import abstractmethod

from stalwart.core import Trial
from stalwart.selection.base import StrategySetup
from stalwart.selection.scored import ScoredStrategy


class StepStrategy(ScoredStrategy):
    """A scored strategy that runs in complete steps (see the module docstring).

    Parameters
    ----------
    setup:
        see :class:`~stalwart.selection.base.StrategySetup`.
    """

    def __init__(self, setup: StrategySetup) -> None:
        super().__init__(setup)
        self._batch_open = False  # this step's trials are handed out, not all told yet
        self._batch_short = False  # the budget cut this step's trials

    # ---- what a subclass provides ------------------------------------------------------
    @abstractmethod
    def _step_trials(self) -> list[Trial]:
        """The trials this step wants, asked while no trial is in flight."""

    @abstractmethod
    def _end_step(self) -> None:
        """Every trial of the step is told (and the budget did not cut it): decide."""

    # ---- the skeleton ------------------------------------------------------------------
    def ask(self) -> list[Trial]:
        if self._done or self._batch_open:
            return []
        wanted = self._step_trials()
        out = self._hand_out(wanted)
        if not out:
            # A step always wants trials, so only an exhausted budget leaves it empty.
            self._select("budget exhausted")
            return []
        self._batch_open = True
        self._batch_short = len(out) < len(wanted)
        return out

    def tell(self, trial: Trial, value: float) -> None:
        self._record(trial, value)
        if self._done or self._pending:
            return
        self._batch_open = False
        if self._batch_short:
            self._select("budget exhausted")
            return
        self._end_step()

    def _next_step(self) -> bool:
        """Open the next step, or select when the budget is spent; True when opened."""
        if self.budget_left <= 0:
            self._select("budget exhausted")
            return False
        self.step += 1
        return True
