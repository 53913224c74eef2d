"""Adaptive racing: pooled-noise comparisons, an indifference zone, cheap information.

Racing (:mod:`~stalwart.selection.racing`) tests two configs on their own instances only,
so nothing can be dropped before 2-3 instances each. The instance-to-instance noise of a
training recipe is largely shared by its configs, so this strategy compares every config
with the leader using a noise figure *pooled over all configs in the race* (each config's
own spread acting as a floor once it has two instances): a config whose first instance
lies many noise widths behind the leader is dropped at once. It hands out instances one at a
time to the config whose next instance tightens the race most per second of training,
and it stops as soon as the leader is, with the stated confidence, within ``tolerance``
of every other survivor.

Notation
--------
``K`` configs, at most ``N`` (``n_instances``) instances each, ``alpha = 1 - confidence``.
All criterion values are *oriented* so that lower is better: a level criterion's value
``v`` becomes ``theta = v`` when minimizing and ``theta = -v`` when maximizing; a spread
criterion (``std``) is lower-is-better in both directions. For a config ``c`` with
``n_c >= 1`` finite instances (failed ones are dropped under ``failures="ignore"``):
``theta_c`` is the criterion of its instances (as :mod:`~stalwart.selection.criteria`
computes it) and ``s_c`` its sample standard deviation (``ddof=1``, for ``n_c >= 2``).

Pooled noise
------------
Over the survivors with ``n_c >= 2``, the residuals ``r = (x - mean_c) sqrt(n_c / (n_c - 1))``
(scaled so that each has the instance variance) are pooled and the noise is their
normal-consistent median absolute value, ``sigma_pool = 1.4826 median |r|``, with
``df_pool = sum (n_c - 1)`` degrees of freedom. The median makes the pool robust: a
minority of configs whose instances vary much more than the rest do not inflate it. The
noise of config ``c`` is ``sigma_c = sigma_pool`` for ``n_c = 1`` and
``sigma_c = max(sigma_pool, s_c)`` for ``n_c >= 2``: a config whose own instances vary
more than the pool is bounded by its own spread and so never dropped on the pooled
figure alone once it has two instances. Only survivors enter the pool, so it follows the
configs still in contention.

Comparisons with the leader, and the confidence
-----------------------------------------------
The *leader* ``l`` is the survivor with the best point value (ties: more instances, then
``config_ids`` order). Every other survivor ``c`` is compared with it at the level

    a(m) = alpha / (2 (K - 1)) * 1 / ((m - 1) H),   m = n_c + n_l,   H = sum_{j=1}^{2N-1} 1/j,

a Bonferroni share over the ``K - 1`` opponents and the two sides, times a spending
sequence over the looks ``m = 2..2N`` that sums to 1 and spends most on the first
instances, where most configs are decided.

* ``mean`` and the quantiles ``median``, ``q1``, ``q3``: with ``D = theta_c - theta_l`` and
  ``se_D = f sqrt(sigma_c^2 / n_c + sigma_l^2 / n_l)``, where ``f = 1`` for the mean and
  ``f = sqrt(p (1 - p)) / phi(z_p)`` for the ``p``-quantile (the asymptotic standard
  error of a sample quantile at a normal density of scale ``sigma``, ``phi`` the standard
  normal density and ``z_p`` its ``p``-quantile: 1.2533 for the median, 1.3626 for q1 and
  q3), the margin is ``M = t_{1-a(m), df_pool} se_D`` (Student's t quantile; no margin,
  so no decision, while ``df_pool < 1``). ``c`` is *worse* when ``D > M`` (a one-sided
  pooled t test of "c is worse than the leader" rejects at level ``a(m)``; its decision
  records ``t = D / se_D`` and ``p = P(T_df > t)``) and *near* when ``-D + M <= tolerance``
  (the leader is at most ``tolerance`` worse than ``c`` at level ``a(m)``).
  Order-statistic (distribution-free) or bootstrap bounds do not exist at these levels
  for ``n <= 20``: ``0.75**20 = 0.003`` is far above ``a(m) ~ 1e-5``, so any
  distribution-free upper bound on a q3 would be infinite; hence the normal-theory
  standard error with the pooled noise.
* ``std``: the config's *own* spread, with the exact chi-square bounds for a normal
  standard deviation, ``L_c = s_c sqrt((n_c - 1) / chi2_{1-a(m), n_c-1})`` and
  ``U_l = s_l sqrt((n_l - 1) / chi2_{a(m), n_l-1})`` (none below two instances; the pool
  does not enter: a config's spread is its own). ``c`` is *worse* when ``L_c > U_l``
  and *near* when ``U_l - L_c <= tolerance``.

The statement. Let ``b`` be the survivor with the best true criterion. ``b`` is removed
only if one of its comparisons wrongly finds it worse (``theta_b <= theta_l``), and a
tolerance stop picks a leader more than ``tolerance`` worse than ``b`` only if the
comparison of ``b`` with that leader wrongly finds it near. A pair's statistic changes
only when ``m`` grows, so a pair has at most one look per ``m``; summing ``2 a(m)`` over
the ``K - 1`` possible leaders and all ``m`` gives ``alpha``. Hence, with probability at
least ``confidence``, **the best config is never removed, and a tolerance stop selects a
config within ``tolerance`` of the best**. This holds under the model: instances of a
config are independent normal draws with standard deviation at most ``sigma_c``, with
``sigma_pool`` and ``s_c`` plugged in as if known (the t quantile with ``df_pool``
allows for the pool's own uncertainty only). The union bound counts every opponent and
every look, though only the few configs near the best can be confused with it, so it is
loose: on the benchmark tables the nominal ``confidence=0.5`` (the default) picked a
near-best config in every replayed order (see ``benchmarks/README.md``). When the
race ends otherwise (``n_instances``, budget) the pick is the best survivor by point
value, with no guarantee beyond the best's survival.

Corrections
-----------
``correction`` chooses how much of that multiplicity the levels pay for:

* ``bonferroni`` (default): ``a(m)`` as above, over the ``K - 1`` opponents, both sides
  and every look; the statement above holds.
* ``looks``: ``a(m) = alpha / 2 * 1 / ((m - 1) H)``, spent over the looks of a pair but
  not over the opponents. The statement then holds *per opponent*: for each other config
  ``c``, the comparisons between the best config and ``c`` (as leader) err with
  probability at most ``alpha`` over the whole race; over all opponents the error can
  reach ``(K - 1) alpha``. In practice only the few configs near the best can be
  confused with it, which is why this is much cheaper and rarely worse.
* ``none``: every comparison at level ``alpha``, at every look, as
  :class:`~stalwart.selection.racing.Racing` takes its ``alpha`` per test. No statement
  over the race: use it as a fast screen, with ``confidence`` 0.95-0.99.

On the benchmark tables (``benchmarks/README.md``, 200 orders), each told the table's
tolerance, ``bonferroni`` costs 20-38% of the exhaustive training time, ``looks`` at
``confidence=0.95`` 15-36% and ``none`` at 0.95 7-23%; the first two picked a config
within the tolerance of the best in every replayed order, ``none`` in 93-100%. With the
default tolerance (the near-best band), ``none`` at 0.99 with the surrogate used less
time than racing and halving with final survivors on every table.

The pooled noise needs instances of several configs: no comparison is made until at
least ``MIN_POOL_CONFIGS`` (5) survivors, or all of them if fewer survive, have two
instances each. Two instances of one config that happen to agree (on the calorimeter
table, 0.034960 and 0.034961) would otherwise make every other config look many noise
widths away; the leader is served first, so the pool fills within a few trainings.

Surrogate (below one instance per config)
------------------------------------------
With ``surrogate=f`` (a fraction in (0, 1]; criterion ``mean``; the configs'
hyperparameters known, as a study and a replay give them), first instances go to the
configs in an order that spreads over the grid (a permutation seeded by the config ids,
so the same configs give the same order), and once a fraction ``f`` of the configs have
a first instance, a :class:`~stalwart.selection.surrogate.MainEffectsSurrogate` (OLS of
the first instance's oriented value on the hyperparameters as categorical main effects)
is fitted on them, and refitted after every ``ceil(K / 50)`` more. A config not yet
planned is *skipped untrained* (removed with ``n_instances = 0``) when

    mu_c - theta_l > t_{1-a, df_fit} sqrt(se_c^2 + s_fit^2 / n_l),

``mu_c`` and ``se_c`` the model's prediction of one new instance of ``c`` and its standard
error, ``s_fit^2`` and ``df_fit`` the fit's residual variance and degrees of freedom (the
leader's noise taken as the fit's, which includes the model's misfit: conservative),
``a = a(1 + n_l)`` the level the comparison of a one-instance ``c`` with the leader would
have under the chosen correction. No fit below 10 residual degrees of freedom (configs
too few for any fit to reach them are refused), and no skip of a config with a
hyperparameter level seen fewer than twice in the fit. The
decision records the prediction, ``t`` and ``p``.

A skip is a claim of the model, **outside the statement above**: interactions the main
effects miss show in the residual variance of the configs fitted, and the skip assumes
an untrained config's misfit is like theirs. It is the only way below one instance per
config; on the benchmark's CCT and digits tables it saved more than a quarter of
``correction=none``'s time and changed the probability of a near-best pick by at most 4
points (``benchmarks/README.md``).

Decisions (after every processed result; see *Determinism*)
-----------------------------------------------------------
1. **Removal**: every survivor *worse* than the leader is removed. Under
   ``failures="worst"`` a config with a failed (non-finite) instance is removed at once,
   without a test (unless it is the last survivor).
2. **Tolerance stop**: when every other survivor is *near*, the leader is selected. A
   survivor with no instance yet is never near, so the race never stops before every
   survivor has one.
3. The race also stops at one survivor, when every survivor has ``N`` instances or
   nothing more is worth asking, or when the budget is spent (then the best survivor by
   the criterion's point value is selected, as in every strategy).

Each removal's :class:`~stalwart.core.Decision` carries the config's criterion value,
``threshold`` = the leader's criterion value, and for the level criteria ``statistic`` =
the pooled t and ``p_value`` its one-sided p-value (below ``a(m)``, which the reason
names). ``step`` is the number of results the decision rests on.

Which instance next (cost awareness)
------------------------------------
Every survivor first gets one instance (in ``config_ids`` order; with a surrogate, see
*Surrogate*). Then a survivor ``c != l`` is *undecided* while it is not *near* (it was
not removed, so not *worse*). The leader is served first while it has no more instances
(asked, counting those in flight) than some undecided survivor: it is compared with every
one of them (as in LUCB).
Otherwise the undecided survivor with the largest information per second,

    (sigma_c / sqrt(m_c) - sigma_c / sqrt(m_c + 1)) / t_c,

gets the next instance: the narrowing of its standard error by one more instance (``m_c`` its
instances asked so far) divided by ``t_c``, its mean training time so far (from
:meth:`observe_cost`; the median over all configs for a config with no time yet; 1 when
no time is known). Among equally informative configs the cheaper one goes first; ties go
to the better point value, then ``config_ids`` order.

Times are used only with ``cost_aware=True``. Measured training times differ from run to
run, so a live study whose plan depends on them could train other instances, and select
otherwise, when run again from the same spec; replays read fixed times from the table and
stay reproducible. The default (False) takes every training as equally costly, which keeps
"the same spec gives the same selection" for live studies.

Near-optimal criteria
---------------------
A criterion with ``near_optimal`` / ``near_optimal_relative`` is refused. The statement
above rests on each config's sample growing by one independent draw per look (``m`` grows
by one, so a pair has one look per ``m``) and on the pooled noise of those draws. A
near-optimal sample is chosen by the training losses: a new instance with a lower
training loss can drop earlier ones, so a config's sample can shrink, the same ``m`` can
be looked at twice, and the kept values are no longer independent draws of one
distribution. The option is meant for the pessimistic criteria (``worst``, ``cvar``),
which have no bound here anyway; exhaustive, halving and racing take it.

Determinism (asynchronous hand-out)
-----------------------------------
The strategy does not wait for whole steps. Its trials are numbered in the order it
plans them; results are *processed* strictly in that order (a result told early waits
until every earlier trial is told), and the decisions above are taken after each
processed result, on exactly the results processed so far. Trial ``k + parallel`` is
planned from the state after processing trial ``k`` (and the trials already planned), so
``ask`` always has up to ``parallel`` trials in flight and the state after ``k``
processed results is a function of those ``k`` results only: the same results in any
order of ``tell``, and any timing of ``ask``, give the same plans and decisions, and a
study resumed from its store replays to the same state. A planned trial whose config is
removed before it is handed out is never handed out (its config's values no longer
enter any decision, so this does not change the state); it still counts against the
budget. ``parallel`` should be the number of workers: 1 is fully sequential, the most
economical.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Sequence

import numpy as np

from stalwart.checks import boolean, choice, first, integer, number
from stalwart.core import Decision, Trial
from stalwart.selection.base import StrategySetup
from stalwart.selection.scored import ScoredStrategy
from stalwart.selection.surrogate import MIN_DF, MainEffectsSurrogate

#: criteria with a bound (see the module docstring), with the quantile for quantiles.
QUANTILES: dict[str, float] = {"median": 0.5, "q1": 0.25, "q3": 0.75}
SUPPORTED: tuple[str, ...] = ("mean", *QUANTILES, "std")
#: how the comparisons' levels account for their multiplicity (module docstring)
CORRECTIONS: tuple[str, ...] = ("bonferroni", "looks", "none")
#: configs with two or more instances the pooled noise must rest on (fewer if fewer survive)
MIN_POOL_CONFIGS = 5
_MAD_TO_SIGMA = 1.482602218505602  # 1 / Phi^-1(3/4): median |N(0, s^2)| = s / 1.4826


class Adaptive(ScoredStrategy):
    """Adaptive racing with pooled noise, a tolerance and cost awareness.

    See the module docstring for the statistics, the decisions and the determinism.

    Parameters
    ----------
    setup:
        see :class:`~stalwart.selection.base.StrategySetup`; the criterion must be one of
        ``mean``, ``median``, ``q1``, ``q3``, ``std``, without ``near_optimal`` (see
        *Near-optimal criteria* in the module docstring).
    confidence:
        in (0, 1): with at least this probability (under the model of the module
        docstring, and with ``correction="bonferroni"``) the best config is never removed
        and a tolerance stop picks a config within ``tolerance`` of it. The default 0.5 is nominal: the Bonferroni bound over
        all configs and looks is loose: 0.5 picked a near-best config in every one of the
        benchmark's replays.
    tolerance:
        the indifference zone in the metric's units, >= 0: the race stops once the
        leader is within it of every survivor. ``None`` (default): one standard error of
        the criterion on ``N`` instances at the pooled noise, ``sigma_pool / sqrt(N)``
        (times the quantile or std factor of the module docstring), recomputed as the
        pool changes; this is the "within the table's noise" of ``stalwart replay``'s
        P(near-best).
    parallel:
        trials planned ahead of the last processed result, >= 1: the most trials in
        flight. Set it to the number of workers.
    cost_aware:
        prefer cheap information using the training times of :meth:`observe_cost` (see
        "Which instance next"): right for replays on a table, where times are fixed; a
        live study's selection then depends on measured times. Default False.
    correction:
        ``bonferroni`` (default): the levels account for every opponent and every look,
        and the statement of the module docstring holds; ``looks``: for every look of a
        pair, not for the number of opponents (cheaper; the statement holds per
        opponent); ``none``: every comparison at level ``1 - confidence``, as racing's
        ``alpha`` (the cheapest; no statement over the race). See *Corrections* in the
        module docstring and the benchmark in ``benchmarks/README.md``.
    surrogate:
        ``None`` (default) or a fraction in (0, 1]: once that fraction of the configs have
        an instance, skip untrained configs that a main-effects model of the
        hyperparameters confidently predicts to be behind the leader (module docstring,
        *Surrogate*; criterion ``mean`` only; needs ``setup.params``).
    """

    name = "adaptive"
    params = ("confidence", "tolerance", "parallel", "cost_aware", "correction", "surrogate")

    def __init__(
        self,
        setup: StrategySetup,
        *,
        confidence: float = 0.5,
        tolerance: float | None = None,
        parallel: int = 4,
        cost_aware: bool = False,
        correction: str = "bonferroni",
        surrogate: float | None = None,
    ) -> None:
        super().__init__(setup)
        problems = [
            *number("adaptive.confidence", confidence, low=0, high=1, low_open=True,
                    high_open=True),
            *number("adaptive.tolerance", tolerance, low=0, optional=True),
            *integer("adaptive.parallel", parallel, low=1),
            *boolean("adaptive.cost_aware", cost_aware),
            *choice("adaptive.correction", correction, CORRECTIONS),
            *number("adaptive.surrogate", surrogate, low=0, high=1, low_open=True,
                    optional=True),
        ]
        if self.criterion.name not in SUPPORTED:
            problems.append(
                f"adaptive: criterion {self.criterion.name!r} has no confidence bound "
                f"(choose from {', '.join(SUPPORTED)})"
            )
        if self.criterion.near_optimal is not None:
            problems.append(
                f"adaptive: criterion option {self.criterion.near_optimal.key} is not "
                "supported: its bounds assume a config's sample only grows by independent "
                "draws, while a near-optimal sample can drop instances when a new one "
                "trains better; use exhaustive, halving or racing"
            )
        model = None
        if surrogate is not None and not problems:
            if self.criterion.name != "mean":
                problems.append(f"adaptive.surrogate: criterion {self.criterion.name!r}: the "
                                "surrogate predicts one instance's value, so only 'mean'")
            elif setup.params is None:
                problems.append("adaptive.surrogate: needs the configs' hyperparameters "
                                "(a study and a replay give them)")
            else:
                model = MainEffectsSurrogate(setup.params)
                if not model.usable:
                    problems.append("adaptive.surrogate: no hyperparameter varies across "
                                    "the configs (one value per config, like an id, "
                                    "does not count)")
                elif model.most_df < MIN_DF:
                    problems.append(
                        f"adaptive.surrogate: {len(setup.params)} configs leave the model of "
                        f"{', '.join(model.names)} {model.most_df} residual degrees of "
                        f"freedom, fewer than the {MIN_DF} a fit needs: it could never skip "
                        "a config")
        first(problems)
        from scipy import stats  # slow to import; only the statistics need it

        self._stats = stats
        self.confidence = float(confidence)
        self.tolerance = None if tolerance is None else float(tolerance)
        self.parallel = parallel
        self.cost_aware = cost_aware
        self.correction = correction
        self.surrogate = None if surrogate is None else float(surrogate)
        self._model = model
        k, n = len(self.config_ids), self.n_instances
        # First instances in config order, or, for the surrogate, in an order that
        # spreads over the grid (a permutation seeded by the config ids).
        self._first_rank = np.arange(k)
        if model is not None:
            seed = int.from_bytes(hashlib.sha256("\n".join(self.config_ids).encode())
                                  .digest()[:8], "little")
            self._first_rank = np.argsort(np.random.default_rng(seed).permutation(k))
        self._fit_at = 0  # configs with a first instance when the surrogate last looked
        #: ``1 - confidence``, shared as ``a(m)`` (module docstring) by the comparisons.
        self.alpha = 1.0 - self.confidence
        self._k_others = max(k - 1, 1)
        self._harmonic = float(np.sum(1.0 / np.arange(1, 2 * n)))  # H over m - 1 = 1..2N-1
        self._spread = self.criterion.kind == "spread"
        self._orient = 1.0 if self._spread or self.direction == "minimize" else -1.0
        p = QUANTILES.get(self.criterion.name)
        self._se_factor = (
            1.0 if p is None
            else math.sqrt(p * (1 - p)) / float(stats.norm.pdf(stats.norm.ppf(p)))
        )
        # values by position (the j-th instance a config got), NaN where missing/failed
        self._x = np.full((k, n), np.nan)
        self._n = np.zeros(k, dtype=int)  # positions processed (failed ones included)
        self._planned = np.zeros(k, dtype=int)  # positions planned
        self._cost_sum = np.zeros(k)
        self._cost_n = np.zeros(k, dtype=int)
        self._alive_mask = np.ones(k, dtype=bool)
        self._plans: list[Trial] = []
        self._plan_of: dict[Trial, int] = {}
        self._handed = 0
        self._void: set[int] = set()
        self._told: dict[int, float] = {}
        self._seconds: dict[Trial, float] = {}
        self._processed = 0
        self._bounds = self._evaluate()
        self._top_up()

    # ---- the contract --------------------------------------------------------------
    def planned_trainings(self) -> None:
        """Unknown: ``None``; the cost depends on the results."""
        return None

    def observe_cost(self, trial: Trial, seconds: float) -> None:
        """Record ``trial``'s training time; used when its result is processed."""
        if math.isfinite(seconds) and seconds >= 0:
            self._seconds[trial] = float(seconds)

    def ask(self) -> list[Trial]:
        if self._done:
            return []
        out: list[Trial] = []
        while self._handed < len(self._plans):
            i = self._handed
            self._handed += 1
            if i not in self._void:
                out.append(self._plans[i])
        self._pending.update(out)
        self.n_asked += len(out)
        return out

    def tell(self, trial: Trial, value: float) -> None:
        if trial.config_id not in self.values:
            raise KeyError(f"unknown config {trial.config_id!r}")
        if trial not in self._pending:
            raise ValueError(f"{trial} was not asked for or was already told")
        self._pending.discard(trial)
        self._told[self._plan_of[trial]] = float(value)
        self._advance()

    # ---- processing in plan order -----------------------------------------------------
    def _advance(self) -> None:
        while not self._done and self._processed < len(self._plans):
            i = self._processed
            if i not in self._void:
                if i not in self._told:
                    return
                self._process(self._plans[i], self._told.pop(i))
            self._processed += 1
            self.step = self._processed
            self._decide()
            if not self._done:
                self._top_up()
                if self._processed == len(self._plans):
                    # nothing in flight and nothing worth asking: the race is over
                    self._select("budget exhausted" if self._budget_spent()
                                 else "n_instances reached")

    def _process(self, trial: Trial, value: float) -> None:
        c = self._index[trial.config_id]
        seconds = self._seconds.pop(trial, None)
        if seconds is not None:
            self._cost_sum[c] += seconds
            self._cost_n[c] += 1
        if not self._alive_mask[c]:
            return  # handed out before its config was removed: no longer in any decision
        self.values[trial.config_id][trial.instance] = float(value)
        pos = self._n[c]
        self._n[c] += 1
        if math.isfinite(value):
            self._x[c, pos] = value
        elif self.failures == "worst" and len(self._alive) > 1:
            self._drop([Decision(
                step=self._processed + 1, config_id=trial.config_id, action="removed",
                reason="failed instance", value=math.nan, n_instances=int(self._n[c]),
            )])

    def _budget_spent(self) -> bool:
        return self.budget is not None and len(self._plans) >= self.budget

    def _drop(self, decisions: Sequence[Decision]) -> None:
        self._remove(decisions)
        for d in decisions:
            c = self._index[d.config_id]
            self._alive_mask[c] = False
            for i in range(self._handed, len(self._plans)):
                if self._plans[i].config_id == d.config_id:
                    self._void.add(i)

    # ---- statistics ---------------------------------------------------------------------
    def _evaluate(self) -> dict[str, np.ndarray]:
        """Survivors' point values (oriented), noise and every comparison with the leader.

        ``margin[r]`` is the half-width of the comparison of row ``r`` with the leader:
        the leader is confidently better when ``point[r] - point[lead] > margin[r]``
        (``lower > lead_upper`` for ``std``), and at most ``tolerance`` worse when
        ``point[lead] - point[r] + margin[r] <= tolerance``.
        """
        stats = self._stats
        alive = np.flatnonzero(self._alive_mask)
        x = self._x[alive]
        finite = np.isfinite(x)
        nf = finite.sum(axis=1)
        two = nf >= 2
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(x, axis=1)
            sd = np.nanstd(x, axis=1, ddof=1)
            # A pool resting on one or two configs is no pool: two instances that happen
            # to agree (a calorimeter config gave 0.034960 and 0.034961) would make every
            # other config "many noise widths" away.
            enough = int(two.sum()) >= min(MIN_POOL_CONFIGS, len(alive))
            df = int(np.sum(nf[two] - 1)) if enough else 0
            if df >= 1:
                scale = np.sqrt(nf[two] / (nf[two] - 1.0))[:, None]
                resid = np.abs(x[two] - mean[two, None]) * scale
                pool = _MAD_TO_SIGMA * float(np.median(resid[finite[two]]))
            else:
                pool = math.nan
            sigma = np.where(two, np.fmax(pool, sd), pool)
            if self._spread:
                point = np.where(two, sd, np.inf)
            elif self.criterion.name == "mean":
                point = np.where(nf >= 1, self._orient * mean, np.inf)
            else:
                q = np.nanpercentile(x, 100 * QUANTILES[self.criterion.name], axis=1)
                point = np.where(nf >= 1, self._orient * q, np.inf)
            order = np.lexsort((alive, -nf, point))
            lead = int(order[0])
            n_pair = np.maximum(nf + nf[lead], 2)
            level = self._level(n_pair)
            margin = np.full(len(alive), np.inf)
            crit = np.full(len(alive), np.nan)
            lower = np.zeros(len(alive))
            lead_upper = np.full(len(alive), np.inf)
            if self._spread:
                ok = two & two[lead]
                if ok.any():
                    d_c = nf[ok] - 1
                    d_l = nf[lead] - 1
                    lower[ok] = sd[ok] * np.sqrt(d_c / stats.chi2.ppf(1 - level[ok], d_c))
                    lead_upper[ok] = sd[lead] * np.sqrt(d_l / stats.chi2.ppf(level[ok], d_l))
            elif df >= 1 and nf[lead] >= 1:
                se = self._se_factor * sigma / np.sqrt(np.maximum(nf, 1))
                se_diff = np.sqrt(se**2 + se[lead] ** 2)
                ok = nf >= 1
                crit[ok] = stats.t.ppf(1 - level[ok], df)
                margin[ok] = np.where(se_diff[ok] == 0, 0.0, crit[ok] * se_diff[ok])
        return {"alive": alive, "n": nf, "point": point, "sigma": sigma,
                "pool": np.float64(pool), "df": np.float64(df), "lead": np.int64(lead),
                "margin": margin, "crit": crit, "level": level, "lower": lower,
                "lead_upper": lead_upper}

    def _level(self, n_pair: np.ndarray) -> np.ndarray:
        """``a(m)`` of each comparison, ``m = n_pair`` (module docstring, *Corrections*)."""
        if self.correction == "none":
            return np.full(len(n_pair), self.alpha)
        spent = self.alpha / ((n_pair - 1) * self._harmonic)
        return spent / 2 if self.correction == "looks" else spent / (2 * self._k_others)

    def _tolerance(self, b: dict[str, np.ndarray]) -> float:
        if self.tolerance is not None:
            return self.tolerance
        pool = float(b["pool"])
        if not math.isfinite(pool):
            return 0.0
        n = self.n_instances
        factor = 1 / math.sqrt(2 * (n - 1)) if self._spread and n > 1 else self._se_factor
        return factor * pool / math.sqrt(n)

    def _worse(self, b: dict[str, np.ndarray]) -> np.ndarray:
        """Rows confidently worse than the leader."""
        if self._spread:
            return b["lower"] > b["lead_upper"]
        return b["point"] - b["point"][b["lead"]] > b["margin"]

    def _near(self, b: dict[str, np.ndarray]) -> np.ndarray:
        """Rows the leader is confidently at most ``tolerance`` worse than (leader: True)."""
        tol = self._tolerance(b)
        with np.errstate(invalid="ignore"):  # inf - inf for a survivor with no instance
            near = self._near_raw(b, tol)
        near[int(b["lead"])] = True
        return near

    def _near_raw(self, b: dict[str, np.ndarray], tol: float) -> np.ndarray:
        if self._spread:
            near = b["lead_upper"] - b["lower"] <= tol
        else:
            near = b["point"][b["lead"]] - b["point"] + b["margin"] <= tol
        return near

    def _metric(self, oriented: float) -> float:
        return oriented * self._orient

    def _decide(self) -> None:
        """Remove the confidently worse survivors, then stop if the leader is near-best."""
        b = self._bounds = self._evaluate()
        worse = self._worse(b) if len(self._alive) > 1 else np.zeros(0, dtype=bool)
        if worse.any():
            lead = int(b["lead"])
            best_id = self.config_ids[int(b["alive"][lead])]
            best_value = self.value_of(best_id)
            decisions = []
            for r in np.flatnonzero(worse):
                cid = self.config_ids[int(b["alive"][r])]
                level = float(b["level"][r])
                statistic = p_value = None
                if self._spread:
                    reason = (f"worse than {best_id}: std lower bound "
                              f"{float(b['lower'][r]):.6g} above its upper bound "
                              f"{float(b['lead_upper'][r]):.6g} (level {level:.2g} each)")
                else:
                    diff = float(b["point"][r] - b["point"][lead])
                    statistic = diff * float(b["crit"][r]) / float(b["margin"][r]) if (
                        b["margin"][r] > 0) else math.inf
                    p_value = float(self._stats.t.sf(statistic, float(b["df"])))
                    reason = (f"worse than {best_id} (pooled t = {statistic:.3g}, "
                              f"p = {p_value:.2g} < {level:.2g})")
                decisions.append(Decision(
                    step=self._processed, config_id=cid, action="removed", reason=reason,
                    value=self.value_of(cid), threshold=best_value, statistic=statistic,
                    p_value=p_value, n_instances=int(self._n[self._index[cid]]),
                ))
            self._drop(decisions)
            b = self._bounds = self._evaluate()
        if self._model is not None and len(self._alive) > 1:
            skipped = self._skip(b)
            if skipped:
                self._drop(skipped)
                b = self._bounds = self._evaluate()
        if len(self._alive) == 1:
            self._select("last survivor")
        elif self._near(b).all():
            self._select_leader(int(b["alive"][int(b["lead"])]))

    def _skip(self, b: dict[str, np.ndarray]) -> list[Decision]:
        """Untrained survivors the surrogate confidently predicts worse than the leader
        (module docstring, *Surrogate*)."""
        assert self._model is not None and self.surrogate is not None
        k = len(self.config_ids)
        have = int(np.sum(self._n >= 1))
        due = have >= math.ceil(self.surrogate * k) and (
            self._fit_at == 0 or have - self._fit_at >= max(1, math.ceil(k / 50)))
        row = int(b["lead"])
        lead_point = float(b["point"][row])
        untrained = np.flatnonzero(self._alive_mask & (self._planned == 0))
        if not due or untrained.size == 0 or not math.isfinite(lead_point):
            return []
        self._fit_at = have
        first = self._x[:, 0]
        fitted = np.flatnonzero((self._n >= 1) & np.isfinite(first))
        pred = self._model.predict(fitted, self._orient * first[fitted], untrained)
        if pred is None:
            return []
        n_lead = int(b["n"][row])
        level = float(self._level(np.array([1 + n_lead]))[0])
        crit = float(self._stats.t.ppf(1 - level, pred.df))
        se = np.sqrt(pred.se**2 + pred.scale / n_lead)
        gap = pred.mean - lead_point
        out = []
        best_id = self.config_ids[int(b["alive"][row])]
        for i in np.flatnonzero(gap > crit * se):
            t = float(gap[i] / se[i])
            p_value = float(self._stats.t.sf(t, pred.df))
            out.append(Decision(
                step=self._processed, config_id=self.config_ids[int(untrained[i])],
                action="removed",
                reason=(f"skipped untrained: the surrogate predicts "
                        f"{self._metric(float(pred.mean[i])):.4g} +- {float(pred.se[i]):.2g}, "
                        f"worse than {best_id} (t = {t:.3g}, p = {p_value:.2g} < {level:.2g})"),
                threshold=self.value_of(best_id), statistic=t, p_value=p_value,
                n_instances=0,
            ))
        return out

    def _select_leader(self, c: int) -> None:
        cid = self.config_ids[c]
        self.decisions.append(Decision(
            step=self._processed, config_id=cid, action="selected",
            reason="within tolerance of every survivor", value=self.value_of(cid),
            n_instances=int(self._n[c]),
        ))
        self._selection = cid
        self._done = True

    # ---- what to ask next ---------------------------------------------------------------
    def _top_up(self) -> None:
        while (len(self._plans) < self._processed + self.parallel
               and not self._budget_spent()):
            c = self._choose()
            if c is None:
                return
            trial = Trial(self.config_ids[c], self.instance_at(int(self._planned[c])))
            self._planned[c] += 1
            self._plan_of[trial] = len(self._plans)
            self._plans.append(trial)

    def _choose(self) -> int | None:
        """The config that gets the next planned trial (see the module docstring)."""
        b = self._bounds
        alive = b["alive"]
        planned = self._planned[alive]
        open_ = planned < self.n_instances
        unseen = np.flatnonzero(open_ & (planned == 0))
        if unseen.size:
            return int(alive[unseen[np.argmin(self._first_rank[alive[unseen]])]])
        lead = int(b["lead"])
        undecided = ~self._near(b)
        if not undecided.any():
            return None
        if open_[lead] and planned[lead] <= planned[undecided].max():
            return int(alive[lead])
        rows = np.flatnonzero(undecided & open_)
        if rows.size == 0:
            return int(alive[lead]) if open_[lead] else None
        sigma = b["sigma"][rows]
        sigma = np.where(np.isfinite(sigma) & (sigma > 0), sigma, 1.0)
        m = planned[rows].astype(float)
        gain = sigma * (1 / np.sqrt(m) - 1 / np.sqrt(m + 1))
        score = gain / self._costs(alive[rows])
        pick = np.lexsort((alive[rows], b["point"][rows], -score))[0]
        return int(alive[rows[pick]])

    def _costs(self, configs: np.ndarray) -> np.ndarray:
        known = self._cost_n > 0
        if not self.cost_aware or not known.any():
            return np.ones(len(configs))
        means = np.where(known, self._cost_sum / np.maximum(self._cost_n, 1), np.nan)
        fill = float(np.median(means[known]))
        out = means[configs]
        out = np.where(np.isnan(out) | (out <= 0), fill, out)
        return np.where(out > 0, out, 1.0)
