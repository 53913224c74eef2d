"""Racing: statistical tests against the best by mean, including a hand-checked race."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from stalwart.selection import Racing, Trial, make_strategy

from ._driver import drive
from ._setup import setup

# ---- the hand-checked race -----------------------------------------------------------
# 5 configs x 6 instances of validation accuracy (maximize). Columns are instance indices
# 0..5; the race uses them in INSTANCE_ORDER, so config A sees 0.90, 0.91, 0.92, 0.91,
# 0.92, 0.90 (instances 3, 0, 5, 1, 4, 2) in that order.
INSTANCE_ORDER = [3, 0, 5, 1, 4, 2]
CONFIGS = ["A", "B", "C", "D", "E"]
ACCURACY = np.array(
    [
        # inst 0     1     2     3     4     5
        [0.91, 0.91, 0.90, 0.90, 0.92, 0.92],  # A
        [0.82, 0.81, 0.80, 0.80, 0.80, 0.79],  # B
        [0.85, 0.86, 0.85, 0.90, 0.86, 0.90],  # C
        [0.88, 0.87, 0.87, 0.91, 0.88, 0.90],  # D
        [0.90, 0.88, 0.90, 0.93, 0.91, 0.92],  # E
    ]
)
# In race order (positions 0..5):
#   A: .90 .91 .92 .91 .92 .90     B: .80 .82 .79 .81 .80 .80
#   C: .90 .85 .90 .86 .86 .85     D: .91 .88 .90 .87 .88 .87
#   E: .93 .90 .92 .88 .91 .90
#
# One-sided Welch t test (H1: the model's mean accuracy is below the best's), alpha 0.05:
# t = (mean_x - mean_b) / sqrt(s_x^2/n + s_b^2/n), Welch-Satterthwaite df,
# p = P(T_df <= t) = t.sf(-t, df).
#
# n = 3: best by mean is E (0.91667 > A 0.91).
#   A vs E: t = -0.6325, p = 0.2833     B vs E: t = -9.0869, p = 0.00041  -> removed
#   C vs E: t = -1.7678, p = 0.0871     D vs E: t = -1.6036, p = 0.0920
# n = 4: best is A (0.91 > E 0.9075).
#   C vs A: t = -2.3604, p = 0.0427 -> removed
#   D vs A: t = -2.0000, p = 0.0568     E vs A: t = -0.2116, p = 0.4216
# n = 5: best is A (0.912 > E 0.908).
#   D vs A: t = -2.9104, p = 0.0136 -> removed
#   E vs A: t = -0.4264, p = 0.3431
# n = 6 = n_instances: E vs A: t = -0.4152, p = 0.3448 -> A and E survive; the selection
# is the best survivor by the strategy's criterion. With "max" (the best case) that is E
# (0.93 > 0.92), although A has the better mean: racing ranks by mean only to pick the
# reference of its tests.
EXPECTED = [
    # (step, instances per survivor, best by mean, removed, {removed: (t, p)})
    (2, 3, "E", {"B": (-9.0869, 0.00041)}),
    (3, 4, "A", {"C": (-2.3604, 0.04271)}),
    (4, 5, "A", {"D": (-2.9104, 0.01363)}),
    (5, 6, "A", {}),
]


def welch_less(x: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Independent one-sided Welch t test: H1 mean(x) < mean(b)."""
    vx, vb = x.var(ddof=1) / len(x), b.var(ddof=1) / len(b)
    t = (x.mean() - b.mean()) / math.sqrt(vx + vb)
    df = (vx + vb) ** 2 / (vx**2 / (len(x) - 1) + vb**2 / (len(b) - 1))
    return t, float(stats.t.sf(-t, df))


def race_order(config: str, n: int) -> np.ndarray:
    return ACCURACY[CONFIGS.index(config), INSTANCE_ORDER[:n]]


def test_hand_checked_numbers() -> None:
    """The numbers in the comments above, from the independent formula."""
    for _, n, best, removed in EXPECTED:
        for config, (t_expected, p_expected) in removed.items():
            t, p = welch_less(race_order(config, n), race_order(best, n))
            assert t == pytest.approx(t_expected, abs=1e-4)
            assert p == pytest.approx(p_expected, abs=1e-5)
    assert welch_less(race_order("D", 4), race_order("A", 4))[1] > 0.05  # D survives n=4
    assert welch_less(race_order("C", 3), race_order("E", 3))[1] > 0.05  # C survives n=3


def hand_checked_race(criterion: str) -> Racing:
    """The race checked by hand above (welch, alpha 0.05, start 3), scored by ``criterion``."""
    return Racing(
        setup(
            CONFIGS,
            n_instances=6,
            criterion=criterion,
            direction="maximize",
            instance_order=INSTANCE_ORDER,
        ),
        test="welch",
        alpha=0.05,
        start=3,
    )


def test_hand_checked_race() -> None:
    s = hand_checked_race("max")
    survivors = set(CONFIGS)
    for step in range(6):
        batch = s.ask()
        # Every survivor gets its step-th instance in INSTANCE_ORDER.
        assert batch == [Trial(c, INSTANCE_ORDER[step]) for c in CONFIGS if c in survivors]
        for trial in reversed(batch):
            s.tell(trial, ACCURACY[CONFIGS.index(trial.config_id), trial.instance])
        removed = {d.config_id: d for d in s.decisions if d.step == step and d.action == "removed"}
        expected = next((e for e in EXPECTED if e[0] == step), (step, step + 1, None, {}))
        _, n, best, expected_removed = expected
        assert set(removed) == set(expected_removed), f"step {step}"
        for config, (t, p) in expected_removed.items():
            d = removed[config]
            assert d.statistic == pytest.approx(t, abs=1e-4)
            assert d.p_value == pytest.approx(p, abs=1e-5)
            assert d.reason == f"worse than {best} (welch, p < 0.05)"
            assert d.n_instances == n
            assert d.value == pytest.approx(race_order(config, n).max())
        survivors -= set(removed)
        assert set(s.survivors) == survivors
    assert s.done and s.survivors == ["A", "E"]
    assert s.selection == "E"
    last = s.decisions[-1]
    assert (last.action, last.reason, last.value, last.n_instances) == (
        "selected",
        "n_instances reached",
        0.93,
        6,
    )
    assert s.n_asked == 5 * 3 + 4 + 3 + 2 == 24


def test_hand_checked_race_selects_by_criterion() -> None:
    """The same race with the mean criterion selects A."""
    s = hand_checked_race("mean")
    drive(s, ACCURACY, CONFIGS)
    assert s.selection == "A"
    assert [d.config_id for d in s.decisions if d.action == "removed"] == ["B", "C", "D"]


# ---- behaviour -----------------------------------------------------------------------
def losses(n_configs: int, n_instances: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shift = np.linspace(0.0, 1.0, n_configs)[:, None]  # config 0 best, the rest worse
    return 1.0 + shift + 0.2 * rng.standard_normal((n_configs, n_instances))


@pytest.mark.parametrize("test", ["welch", "ks", "mannwhitney"])
def test_location_races_keep_the_best(test: str) -> None:
    cfg = [f"m{i}" for i in range(10)]
    s = Racing(
        setup(cfg, n_instances=20, criterion="mean", direction="minimize"),
        test=test,
        start=4,
    )
    drive(s, losses(10, 20), cfg)
    assert s.selection == "m0"
    assert s.n_asked < 10 * 20
    for d in s.decisions[:-1]:
        assert d.action == "removed" and d.p_value < 0.05 and d.statistic is not None


@pytest.mark.parametrize("test", ["bartlett", "levene", "fligner"])
def test_spread_races_drop_noisy_models(test: str) -> None:
    rng = np.random.default_rng(5)
    scale = np.array([0.01, 0.01, 0.2, 0.3])[:, None]
    values = 1.0 + scale * rng.standard_normal((4, 30))
    # The reference is the best by mean; make it a steady model (a noisy one would
    # otherwise often win the mean by luck, and nothing is noisier than the reference).
    values[0] -= 0.5
    values[1] -= 0.4
    cfg = ["steady", "steady2", "noisy", "noisier"]
    s = Racing(
        setup(cfg, n_instances=30, criterion="std", direction="minimize"),
        test=test,
        start=5,
    )
    drive(s, values, cfg)
    removed = {d.config_id for d in s.decisions if d.action == "removed"}
    assert {"noisy", "noisier"} <= removed and "steady" not in removed


def test_patience_needs_consecutive_significance() -> None:
    cfg = [f"m{i}" for i in range(6)]
    values = losses(6, 20, seed=2)
    impatient = Racing(setup(cfg, n_instances=20, criterion="mean", direction="minimize"))
    patient = Racing(setup(cfg, n_instances=20, criterion="mean", direction="minimize"), patience=3)
    drive(impatient, values, cfg)
    drive(patient, values, cfg)
    first = {d.config_id: d.step for d in impatient.decisions if d.action == "removed"}
    later = {d.config_id: d.step for d in patient.decisions if d.action == "removed"}
    assert later and all(later[c] >= first[c] + 2 for c in later if c in first)


def test_failed_instances_are_removed_under_worst() -> None:
    values = losses(4, 8)
    values[1, 0] = np.nan
    cfg = list("abcd")
    s = Racing(setup(cfg, n_instances=8, criterion="mean", direction="minimize"), start=3)
    drive(s, values, cfg)
    (d,) = [d for d in s.decisions if d.config_id == "b"]
    assert (d.step, d.reason, d.p_value) == (2, "failed instance", None)
    s = Racing(setup(cfg, n_instances=8, criterion="mean", direction="minimize", failures="ignore"))
    drive(s, values, cfg)
    assert all(d.reason != "failed instance" for d in s.decisions)


def test_identical_samples_do_not_crash() -> None:
    cfg = list("abc")
    s = Racing(setup(cfg, n_instances=5, criterion="std", direction="maximize"), test="levene")
    drive(s, np.full((3, 5), 0.5), cfg)
    assert s.survivors == cfg and s.selection == "a"


def test_deterministic_and_tell_order_independent() -> None:
    cfg = [f"m{i}" for i in range(12)]
    values = losses(12, 15, seed=4)
    order = list(np.random.default_rng(9).permutation(15))
    runs = []
    for seed in (None, 0, 1):
        s = Racing(
            setup(cfg, n_instances=15, criterion="pd", direction="minimize", instance_order=order),
        )
        drive(s, values, cfg, rng=None if seed is None else np.random.default_rng(seed))
        runs.append(([d.to_dict() for d in s.decisions], s.selection, s.n_asked))
    assert all(r == runs[0] for r in runs)


def test_budget() -> None:
    cfg = [f"m{i}" for i in range(5)]
    s = Racing(setup(cfg, n_instances=10, criterion="mean", direction="minimize", budget=12))
    batches = drive(s, losses(5, 10), cfg)
    assert [len(b) for b in batches] == [5, 5, 2]
    assert s.n_asked == 12 and s.decisions[-1].reason == "budget exhausted"
    assert s.selection == "m0"


def test_parameters_are_validated() -> None:
    kw = {"n_instances": 5, "criterion": "mean", "direction": "minimize"}
    for bad in ({"test": "t"}, {"alpha": 1.5}, {"start": 1}, {"patience": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            make_strategy("racing", setup(["a", "b"], **kw), **bad)


def test_sided_is_validated() -> None:
    kw = {"n_instances": 5, "criterion": "mean", "direction": "minimize"}
    with pytest.raises(ValueError, match="racing.sided"):
        make_strategy("racing", setup(["a", "b"], **kw), sided="both")


# ---- the authors' racing: two-sided, computed by hand -------------------------------
# The same fixture (A..E, INSTANCE_ORDER, maximize), Welch at alpha 0.05 from start 3,
# but two-sided as in the robust-selection paper: H1 "the means differ",
# p = 2 * P(T_df >= |t|) = 2 * t.sf(|t|, df), and a model is dropped when p < 0.05 AND
# its mean is below the best's (every non-best survivor's is: the best is the best mean).
# t and df are the Welch numbers of the one-sided race above; only p doubles.
#
# n = 3: best E (means A .91, B .80333, C .88333, D .89667, E .91667).
#   A: t = -0.6325, df = 3.448, p = 0.56657       B: t = -9.0869, df = 4.000, p = 0.00081 -> out
#   C: t = -1.7678, df = 3.039, p = 0.17409       D: t = -1.6036, df = 4.000, p = 0.18407
#   kept 4: A C D E
# n = 4: best A (.91; E .9075, D .89, C .8775).
#   C: t = -2.3604, df = 3.573, p = 0.08541 (one-sided 0.0427 dropped C here; two-sided keeps it)
#   D: t = -2.0000, df = 4.154, p = 0.11350       E: t = -0.2116, df = 3.799, p = 0.84328
#   kept 4: A C D E
# n = 5: best A (.912; E .908, D .888, C .874).
#   C: t = -3.3328, df = 4.952, p = 0.02102 -> out
#   D: t = -2.9104, df = 5.943, p = 0.02726 -> out
#   E: t = -0.4264, df = 5.461, p = 0.68611
#   kept 2: A E
# n = 6 = n_instances: E vs A t = -0.4152, df = 7.442, p = 0.68969; A and E survive and
# the mean criterion selects A (.91 > .90667). Trainings: 5 * 3 + 4 + 4 + 2 = 25.
TWO_SIDED = [
    # (step, instances, best, kept after the step, {removed: (t, df, p)})
    (2, 3, "E", 4, {"B": (-9.0869, 4.000, 0.00081)}),
    (3, 4, "A", 4, {}),
    (4, 5, "A", 2, {"C": (-3.3328, 4.952, 0.02102), "D": (-2.9104, 5.943, 0.02726)}),
    (5, 6, "A", 2, {}),
]


def welch_two_sided(x: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Welch's t, its Welch-Satterthwaite df and the two-sided p, from the formula."""
    vx, vb = x.var(ddof=1) / len(x), b.var(ddof=1) / len(b)
    t = (x.mean() - b.mean()) / math.sqrt(vx + vb)
    df = (vx + vb) ** 2 / (vx**2 / (len(x) - 1) + vb**2 / (len(b) - 1))
    return t, df, float(2 * stats.t.sf(abs(t), df))


def test_two_sided_hand_numbers() -> None:
    """The comment's numbers: the formula, and scipy's two-sided Welch for two pairs."""
    for _, n, best, _, removed in TWO_SIDED:
        for config, (t_hand, df_hand, p_hand) in removed.items():
            t, df, p = welch_two_sided(race_order(config, n), race_order(best, n))
            assert t == pytest.approx(t_hand, abs=1e-4)
            assert df == pytest.approx(df_hand, abs=1e-3)
            assert p == pytest.approx(p_hand, abs=1e-5)
    # n = 4: C is no longer dropped; scipy agrees with the hand p-value.
    res = stats.ttest_ind(race_order("C", 4), race_order("A", 4), equal_var=False)
    assert res.pvalue == pytest.approx(0.08541, abs=1e-5) and res.pvalue > 0.05
    res = stats.ttest_ind(race_order("D", 5), race_order("A", 5), equal_var=False)
    assert res.pvalue == pytest.approx(0.02726, abs=1e-5)


def test_two_sided_race_reproduces_the_hand_trace() -> None:
    s = Racing(
        setup(CONFIGS, n_instances=6, criterion="mean", direction="maximize",
              instance_order=INSTANCE_ORDER),
        test="welch", alpha=0.05, start=3, sided="two",
    )
    kept = []
    for step in range(6):
        batch = s.ask()
        for trial in batch:
            s.tell(trial, ACCURACY[CONFIGS.index(trial.config_id), trial.instance])
        kept.append(len(s.survivors))
        removed = {d.config_id: d for d in s.decisions if d.step == step and d.action == "removed"}
        row = next((e for e in TWO_SIDED if e[0] == step), None)
        if row is None:  # before start: no test
            assert not removed and len(s.survivors) == 5
            continue
        _, n, best, n_kept, expected = row
        assert set(removed) == set(expected), f"step {step}"
        for config, (t, _, p) in expected.items():
            assert removed[config].statistic == pytest.approx(t, abs=1e-4)
            assert removed[config].p_value == pytest.approx(p, abs=1e-5)
            assert removed[config].reason == f"worse than {best} (welch, two-sided, p < 0.05)"
    assert kept == [5, 5, 4, 4, 2, 2]
    assert s.done and s.selection == "A" and s.n_asked == 25
    # The one-sided default drops C a step earlier on the same data.
    one = hand_checked_race("mean")
    drive(one, ACCURACY, CONFIGS)
    assert next(d.step for d in one.decisions if d.config_id == "C") == 3


# ---- vectorised tests = one test per pair --------------------------------------------
class PairwiseRacing(Racing):
    """The per-pair racing step this module replaced: one scipy call per survivor."""

    def _race(self) -> None:  # the former implementation, kept as the reference
        from stalwart.selection.racing import _MEAN
        from stalwart.selection.significance import compare

        def finite(c: str) -> np.ndarray:
            x = self.sample(c)
            return x[np.isfinite(x)]

        def failed(c: str) -> bool:
            return self.failures == "worst" and len(finite(c)) < self.n_observed(c)

        best = min(self._alive, key=lambda c: (
            _MEAN.key(self.sample(c), self.direction, self.failures), self._index[c]))
        best_x, best_failed, best_value = finite(best), failed(best), self.value_of(best)
        self._streak[best] = 0
        removals = []
        sided = "" if self.sided == "one" else ", two-sided"
        for cid in self._alive:
            if cid == best:
                continue
            if not best_failed and failed(cid):
                removals.append(
                    self._removal(cid, "failed instance", best_value, self.value_of(cid)))
                continue
            r = compare(self.test, finite(cid), best_x, self.direction, self.alpha, self.sided)
            self._streak[cid] = self._streak[cid] + 1 if r.worse else 0
            if self._streak[cid] >= self.patience:
                reason = f"worse than {best} ({self.test}{sided}, p < {self.alpha:g})"
                removals.append(self._removal(cid, reason, best_value, self.value_of(cid),
                                              r.statistic, r.p_value))
        self._remove(removals)


def synthetic_table(n_configs: int, n_instances: int, seed: int = 0) -> np.ndarray:
    """Accuracies like a real grid: most models clearly bad, a few near-ties, some ties."""
    rng = np.random.default_rng(seed)
    means = 0.80 + 0.08 * rng.beta(5, 1.5, n_configs)
    sds = 0.002 + 0.004 * rng.random(n_configs)
    values = means[:, None] + sds[:, None] * rng.standard_normal((n_configs, n_instances))
    return np.round(values, 3)  # rounded like test accuracies: ties for the rank tests


@pytest.mark.parametrize(
    ("test", "sided", "failures"),
    [("welch", "one", "worst"), ("welch", "two", "worst"), ("mannwhitney", "one", "worst"),
     ("mannwhitney", "two", "ignore"), ("ks", "one", "worst"), ("ks", "two", "worst"),
     ("levene", "one", "ignore"), ("bartlett", "one", "worst")],
)
def test_vectorised_race_equals_per_pair_race(test: str, sided: str, failures: str) -> None:
    # 604 x 20, the size of the authors' table; the spread tests drop few models, so their
    # per-pair reference is slow: a smaller table for them.
    n_configs, n_instances = (604 if test in ("welch", "mannwhitney", "ks") else 120), 20
    values = synthetic_table(n_configs, n_instances)
    values[[5, 77, 110], [2, 0, 11]] = np.nan  # failed instances
    cfg = [f"m{i:03d}" for i in range(n_configs)]
    for order_seed in range(2):
        order = list(np.random.default_rng(order_seed).permutation(n_instances))
        runs = []
        for cls in (Racing, PairwiseRacing):
            s = cls(
                setup(cfg, n_instances=n_instances, criterion="mean", direction="maximize",
                      instance_order=order, failures=failures),
                test=test, sided=sided, start=3,
            )
            drive(s, values, cfg)
            runs.append(s)
        fast, slow = runs
        assert fast.selection == slow.selection and fast.n_asked == slow.n_asked
        assert len(fast.decisions) == len(slow.decisions)
        for a, b in zip(fast.decisions, slow.decisions, strict=True):
            assert (a.step, a.config_id, a.action, a.reason, a.n_instances) == (
                b.step, b.config_id, b.action, b.reason, b.n_instances)
            # The same numbers, to the bit (nan for a failed config under "worst").
            assert repr((a.value, a.threshold)) == repr((b.value, b.threshold))
            if a.p_value is not None:
                assert a.p_value == pytest.approx(b.p_value, rel=1e-9, abs=1e-15)
                assert a.statistic == pytest.approx(b.statistic, rel=1e-9, abs=1e-12)
