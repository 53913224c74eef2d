"""Exhaustive search: train every config ``n_instances`` times, then pick the best.

The baseline the early-stopping strategies are measured against: it costs
``len(config_ids) * n_instances`` trainings and eliminates nothing on the way.
"""

from __future__ import annotations

from stalwart.core import Trial
from stalwart.selection.scored import ScoredStrategy


class Exhaustive(ScoredStrategy):
    """Ask for every (config, instance) at once; select the best config by criterion.

    Ties go to the config earlier in ``config_ids``. Trials are handed out instance by
    instance (every config's first instance, then every config's second, ...) so that a
    budget that cuts the list still covers as many configs as it can. When the budget
    cuts it, the selection is the best config among those with at least one value.
    """

    name = "exhaustive"

    def ask(self) -> list[Trial]:
        if self._done or self.n_asked:
            return []
        trials = [
            Trial(cid, self.instance_at(pos))
            for pos in range(self.n_instances)
            for cid in self.config_ids
        ]
        return self._hand_out(trials)

    def planned_trainings(self) -> int:
        """Every config on every instance: ``n_configs * n_instances``, capped by the budget."""
        total = len(self.config_ids) * self.n_instances
        return total if self.budget is None else min(total, self.budget)

    def tell(self, trial: Trial, value: float) -> None:
        self._record(trial, value)
        if not self._done and not self._pending:
            full = self.n_asked == len(self.config_ids) * self.n_instances
            self._select("best by criterion" if full else "budget exhausted")
