"""The statistics of a benchmark table (stalwart.analysis.benchmark), checked by hand.

The fixture ``tests/data/robust_benchmark_small.csv`` is the Heuillet et al. layout in
small: 3 backbones (resnet50 and convnext_t are CNNs, vit_s a ViT) x 2 losses (CE,
TRADES) x 2 fine-tuning strategies (full, linear) x 2 datasets (cifar10, flowers), three
metrics, with ties, and two seeds of vit_s under TRADES/full on cifar10.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import f_oneway
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm

from stalwart.analysis.benchmark import (
    FisherRequest,
    Requests,
    Roles,
    analyze,
    resolve_roles,
)
from stalwart.analysis.benchmark.anova import anova
from stalwart.analysis.benchmark.borda import points_on
from stalwart.analysis.benchmark.cells import build_cells
from stalwart.analysis.benchmark.fisher import fisher
from stalwart.analysis.benchmark.letters import compact_letters
from stalwart.analysis.benchmark.result import KEYS
from stalwart.analysis.benchmark.spearman import metric_agreement, protocol_agreement
from stalwart.analysis.benchmark.tukey import tukey
from stalwart.errors import UserError
from stalwart.report.analysis_figures import analysis_figures, analysis_tables

SMALL = Path(__file__).resolve().parents[1] / "data" / "robust_benchmark_small.csv"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return pd.read_csv(SMALL)


@pytest.fixture(scope="module")
def roles(table: pd.DataFrame) -> Roles:
    return resolve_roles(table)


def _points(result, protocol: str) -> dict[str, float]:  # noqa: ANN001
    ranking = next(r for r in result.borda if r.protocol == protocol)
    return {e.config: e.points for e in ranking.entries}


# ---- roles ---------------------------------------------------------------------------


def test_the_authors_layout_reads_as_it_is(roles: Roles) -> None:
    assert roles.layout == "heuillet2025"
    assert roles.config == ("backbone_name",)
    assert roles.protocol == ("loss_function", "ft_strategy")
    assert roles.block == "dataset"
    # the layout's metrics that the table has (L2_acc and L1_acc are absent)
    assert roles.metrics == ("clean_acc", "Linf_acc", "common_acc")


def test_stalwart_layout_reads_as_it_is() -> None:
    rng = np.random.default_rng(0)
    rows = [
        {"backbone": b, "training_loss": loss, "protocol": p, "target": t,
         **{m: float(rng.uniform()) for m in
            ("clean_acc", "linf_acc", "l2_acc", "l1_acc", "corruption_acc")}}
        for b in ("r18", "r50", "vit") for loss in ("ce", "trades")
        for p in ("fft_short", "fft_long") for t in ("cifar10", "svhn")
    ]
    table = pd.DataFrame(rows)
    roles = resolve_roles(table)
    assert roles.layout == "stalwart"
    assert roles.config == ("backbone",) and roles.block == "target"
    assert roles.protocol == ("training_loss", "protocol") and len(roles.metrics) == 5
    result = analyze(table, roles, Requests(agreement=[("ce/fft_short", "ce/fft_long")]))
    assert [r.protocol for r in result.borda] == [
        "ce/fft_short", "ce/fft_long", "trades/fft_short", "trades/fft_long"]
    assert result.agreement[0].pooled().n == 3


def test_a_table_of_no_known_layout_needs_the_flags() -> None:
    table = pd.DataFrame({"arch": ["a", "b"], "task": ["x", "x"], "acc": [0.1, 0.2]})
    with pytest.raises(UserError, match="--config is required"):
        resolve_roles(table)
    roles = resolve_roles(table, config=["arch"], block="task", metrics=["acc"])
    assert roles.protocol == () and roles.layout is None
    result = analyze(table, roles)
    assert [r.protocol for r in result.borda] == ["all"]
    assert _points(result, "all") == {"b": 1.0, "a": 0.0}


# ---- Borda -----------------------------------------------------------------------------


def test_borda_points_by_hand(table: pd.DataFrame, roles: Roles) -> None:
    """Three configs per ranking: 2 points for the best, 1, 0; ties share the average.

    Each protocol has 2 datasets x 3 metrics = 6 rankings, 6 x (2+1+0) = 18 points.
    r = resnet50, c = convnext_t, v = vit_s; (clean, Linf, common) per dataset.

    CE/full     cifar10 r .90 .40 .70  c .90 .35 .72  v .85 .40 .65
                flowers r .80 .30 .60  c .82 .30 .60  v .78 .30 .62
      clean c10: r=c tie first (2+1)/2=1.5 each, v 0 | Linf c10: r=v tie 1.5, c 0
      common c10: c 2, r 1, v 0 | clean fl: c 2, r 1, v 0
      Linf fl: three-way tie (2+1+0)/3 = 1 each | common fl: v 2, r=c tie (1+0)/2 = 0.5
      r = 1.5+1.5+1+1+1+0.5 = 6.5, c = 1.5+0+2+2+1+0.5 = 7, v = 0+1.5+0+0+1+2 = 4.5
    TRADES/full: vit_s has two seeds on cifar10, averaged first:
                clean (.80+.82)/2 = .81, Linf (.54+.50)/2 = .52, common (.60+.64)/2 = .62
                cifar10 r .85 .50 .68  c .84 .52 .66  v .81 .52 .62
                flowers r .75 .40 .55  c .76 .38 .55  v .70 .42 .50
      clean c10: r 2 c 1 v 0 | Linf c10: c=v tie 1.5 (the average .52 ties c), r 0
      common c10: r 2 c 1 v 0 | clean fl: c 2 r 1 v 0 | Linf fl: v 2 r 1 c 0
      common fl: r=c 1.5, v 0
      r = 2+0+2+1+1+1.5 = 7.5, c = 1+1.5+1+2+0+1.5 = 7, v = 0+1.5+0+0+2+0 = 3.5
    CE/linear   cifar10 r .88 .20 .66  c .86 .22 .66  v .86 .18 .64
                flowers r .79 .25 .58  c .77 .25 .59  v .80 .21 .58
      clean c10: r 2, c=v tie last (1+0)/2 = 0.5 | Linf c10: c 2 r 1 v 0
      common c10: r=c 1.5, v 0 | clean fl: v 2 r 1 c 0 | Linf fl: r=c 1.5, v 0
      common fl: c 2, r=v 0.5
      r = 2+1+1.5+1+1.5+0.5 = 7.5, c = 0.5+2+1.5+0+1.5+2 = 7.5, v = 0.5+0+0+2+0+0.5 = 3
    TRADES/linear cifar10 r .83 .30 .63  c .83 .30 .63  v .75 .33 .55
                  flowers r .72 .25 .52  c .74 .24 .54  v .70 .27 .50
      clean c10: r=c 1.5, v 0 | Linf c10: v 2, r=c 0.5 | common c10: r=c 1.5, v 0
      clean fl: c 2 r 1 v 0 | Linf fl: v 2 r 1 c 0 | common fl: c 2 r 1 v 0
      r = 1.5+0.5+1.5+1+1+1 = 6.5, c = 1.5+0.5+1.5+2+0+2 = 7.5, v = 0+2+0+0+2+0 = 4
    """
    result = analyze(table, roles)
    expected = {
        "CE/full": {"convnext_t": 7.0, "resnet50": 6.5, "vit_s": 4.5},
        "TRADES/full": {"resnet50": 7.5, "convnext_t": 7.0, "vit_s": 3.5},
        "CE/linear": {"resnet50": 7.5, "convnext_t": 7.5, "vit_s": 3.0},
        "TRADES/linear": {"convnext_t": 7.5, "resnet50": 6.5, "vit_s": 4.0},
    }
    assert [r.protocol for r in result.borda] == list(expected)
    for protocol, points in expected.items():
        assert _points(result, protocol) == points
        ranking = next(r for r in result.borda if r.protocol == protocol)
        assert sum(points.values()) == 18 and ranking.max_points == 12
        # listed best first
        assert [e.points for e in ranking.entries] == sorted(points.values(), reverse=True)
    full = next(r for r in result.borda if r.protocol == "CE/full")
    # per metric, summed over the two datasets: clean c = 1.5 + 2
    assert full.entries[0].points_by_metric == {"clean_acc": 3.5, "Linf_acc": 1.0,
                                                "common_acc": 2.5}
    assert full.entries[0].points_by_block == {"cifar10": 3.5, "flowers": 3.5}
    assert next(r for r in result.borda if r.protocol == "TRADES/full").averaged_cells == 1


def test_equal_points_share_a_place(table: pd.DataFrame, roles: Roles) -> None:
    result = analyze(table, roles)
    linear = next(r for r in result.borda if r.protocol == "CE/linear")
    assert [(e.config, e.rank) for e in linear.entries] == [
        ("resnet50", 1), ("convnext_t", 1), ("vit_s", 3)]


def test_points_of_one_ranking_with_ties() -> None:
    # 4 values: .9 first (3), the two .5 share places 2 and 3 ((2+1)/2), .1 last (0)
    assert list(points_on([0.5, 0.9, 0.1, 0.5])) == [1.5, 3.0, 0.0, 1.5]
    assert list(points_on([0.5, 0.9, 0.1, 0.5], higher_is_better=False)) == [1.5, 0, 3, 1.5]
    # averages equal on paper tie despite floating point (0.1 + 0.2 != 0.3)
    assert list(points_on([0.1 + 0.2, 0.3])) == [0.5, 0.5]


def test_lower_is_better_reverses_every_ranking(table: pd.DataFrame, roles: Roles) -> None:
    """All metrics lower-is-better: each ranking reversed, points become 12 - points."""
    flipped = replace(roles, lower_is_better=roles.metrics)
    up, down = analyze(table, roles), analyze(table, flipped)
    for protocol in ("CE/full", "TRADES/full", "CE/linear", "TRADES/linear"):
        assert _points(down, protocol) == {
            c: 12 - p for c, p in _points(up, protocol).items()}


def test_missing_cells_rank_complete_configs_with_a_note(
    table: pd.DataFrame, roles: Roles
) -> None:
    """vit_s never ran CE/full on flowers: CE/full ranks resnet50 and convnext_t only.

    Two configs: 1 point to the better, 0.5 each on a tie.
    cifar10 clean r=c .90 tie .5/.5, Linf r .40 > c .35 r 1, common c .72 > .70 c 1;
    flowers clean c 1, Linf tie .5/.5, common tie .5/.5.
    r = .5+1+0+0+.5+.5 = 2.5, c = .5+0+1+1+.5+.5 = 3.5
    """
    gap = (table.backbone_name == "vit_s") & (table.loss_function == "CE") & (
        table.ft_strategy == "full") & (table.dataset == "flowers")
    result = analyze(table[~gap], roles)
    full = next(r for r in result.borda if r.protocol == "CE/full")
    assert _points(result, "CE/full") == {"convnext_t": 3.5, "resnet50": 2.5}
    assert full.excluded == {"vit_s": ["flowers:clean_acc", "flowers:Linf_acc",
                                       "flowers:common_acc"]}
    assert full.max_points == 6
    assert any("CE/full" in n and "vit_s lacks flowers" in n for n in result.notes)
    # the other protocols are complete
    assert _points(result, "TRADES/full")["vit_s"] == 3.5


def test_an_empty_metric_cell_is_a_missing_cell(table: pd.DataFrame, roles: Roles) -> None:
    holey = table.copy()
    holey.loc[(holey.backbone_name == "resnet50") & (holey.loss_function == "CE")
              & (holey.ft_strategy == "linear") & (holey.dataset == "cifar10"), "Linf_acc"] = None
    result = analyze(holey, roles, Requests(
        anova_metrics=["Linf_acc"], anova_factors=["loss_function"],
        tukey_factor="loss_function", test_metrics=["Linf_acc"]))
    linear = next(r for r in result.borda if r.protocol == "CE/linear")
    assert linear.excluded == {"resnet50": ["cifar10:Linf_acc"]}
    assert result.spearman is not None and result.spearman.n == 23
    assert result.anova[0].n == 24 and result.anova[0].dropped == 1
    assert result.tukey[0].dropped == 1
    assert len(result.notes) == 4  # Borda, Spearman, ANOVA and Tukey each say so


def test_borda_refuses_a_protocol_with_one_complete_config(
    table: pd.DataFrame, roles: Roles
) -> None:
    gap = (table.backbone_name != "resnet50") & (table.loss_function == "CE") & (
        table.ft_strategy == "full") & (table.dataset == "flowers")
    with pytest.raises(UserError, match=r"protocol CE/full: 1 configuration\(s\).*vit_s"):
        analyze(table[~gap], roles)


# ---- ANOVA -----------------------------------------------------------------------------


def test_one_way_anova_matches_scipy_and_a_hand_eta_squared(table: pd.DataFrame) -> None:
    res = anova(table, "Linf_acc", ["loss_function"])
    groups = [g["Linf_acc"].to_numpy() for _, g in table.groupby("loss_function")]
    f, p = f_oneway(*groups)
    term = res.rows[0]
    assert term.term == "loss_function" and term.df == 1
    assert term.F == pytest.approx(f) and term.p_value == pytest.approx(p)
    y = table["Linf_acc"].to_numpy()
    ss_between = sum(len(g) * (g.mean() - y.mean()) ** 2 for g in groups)
    ss_total = ((y - y.mean()) ** 2).sum()
    assert term.eta_sq == pytest.approx(ss_between / ss_total)
    # one factor: partial eta squared is eta squared
    assert term.partial_eta_sq == pytest.approx(term.eta_sq)
    ms_res = (ss_total - ss_between) / (len(y) - 2)
    assert term.omega_sq == pytest.approx((ss_between - ms_res) / (ss_total + ms_res))
    assert res.rows[-1].term == "Residual" and res.rows[-1].F is None
    assert res.n == 25 and res.dropped == 0


def test_two_way_anova_is_statsmodels_type_two(table: pd.DataFrame) -> None:
    res = anova(table, "clean_acc", ["loss_function", "ft_strategy"], interactions=True)
    model = ols("clean_acc ~ C(loss_function) * C(ft_strategy)", data=table).fit()
    ref = anova_lm(model, typ=2)
    got = {r.term: r for r in res.rows}
    assert set(got) == {"loss_function", "ft_strategy", "loss_function:ft_strategy",
                        "Residual"}
    for term, row in ref.iterrows():
        name = str(term).replace("C(", "").replace(")", "")
        assert got[name].sum_sq == pytest.approx(row["sum_sq"])
        if name != "Residual":
            assert got[name].F == pytest.approx(row["F"])
            assert got[name].p_value == pytest.approx(row["PR(>F)"])
            ss_res = ref.loc["Residual", "sum_sq"]
            assert got[name].partial_eta_sq == pytest.approx(
                row["sum_sq"] / (row["sum_sq"] + ss_res))
    assert res.formula == "clean_acc ~ C(loss_function) * C(ft_strategy)"


def test_anova_refusals(table: pd.DataFrame) -> None:
    with pytest.raises(UserError, match="--factors: column 'k' has one level"):
        anova(table.assign(k="x"), "Linf_acc", ["k"])
    with pytest.raises(UserError, match="confounded"):
        anova(table, "Linf_acc", ["backbone_name", "model_type"])
    with pytest.raises(UserError, match="--factors: no column 'nope'"):
        anova(table, "Linf_acc", ["nope"])
    with pytest.raises(UserError, match="--anova: column 'model_type' is not numeric"):
        anova(table, "model_type", ["dataset"])
    with pytest.raises(UserError, match="'k' is constant"):
        anova(table.assign(k=1.0), "k", ["dataset"])


# ---- Tukey and letters -----------------------------------------------------------------


def _three_groups() -> pd.DataFrame:
    """A and B alike near 10, C far at 20."""
    noise = [0.0, 0.1, -0.1, 0.05, -0.05]
    return pd.DataFrame({
        "group": ["A"] * 5 + ["B"] * 5 + ["C"] * 5,
        "score": [10 + e for e in noise] + [10.02 - e for e in noise] + [20 + e for e in noise],
    })


def test_tukey_letters_two_equal_groups_and_one_far() -> None:
    res = tukey(_three_groups(), "group", "score")
    letters = {g.level: g.letters for g in res.groups}
    assert letters == {"C": "a", "A": "b", "B": "b"}  # 'a': the highest mean
    assert [g.level for g in res.groups][0] == "C"
    reject = {(p.group1, p.group2): p.reject for p in res.pairs}
    assert reject == {("A", "B"): False, ("A", "C"): True, ("B", "C"): True}
    for g in res.groups:
        assert g.ci_low < g.mean < g.ci_high and g.n == 5
    # lower is better: C is now the worst
    low = tukey(_three_groups(), "group", "score", higher_is_better=False)
    assert {g.level: g.letters for g in low.groups} == {"A": "a", "B": "a", "C": "b"}


def test_compact_letters_insert_and_absorb() -> None:
    """Piepho's example shape: g1 > g2 > g3 > g4; g1 differs from g3 and g4, g2 from g4.

    Start {1234}. (1,3) splits it into {124} {234}. (1,4) splits {124} into {24} {12};
    {24} is inside {234}: absorbed. (2,4) splits {234} into {34} {23}. Letters by the
    highest mean each holds: {12} a, {23} b, {34} c.
    """
    groups, means = ["g1", "g2", "g3", "g4"], [4.0, 3.0, 2.0, 1.0]
    letters = compact_letters(groups, means, [("g1", "g3"), ("g1", "g4"), ("g2", "g4")])
    assert letters == {"g1": "a", "g2": "ab", "g3": "bc", "g4": "c"}
    assert compact_letters(groups, means, []) == dict.fromkeys(groups, "a")
    every = [(a, b) for i, a in enumerate(groups) for b in groups[i + 1:]]
    assert compact_letters(groups, means, every) == {"g1": "a", "g2": "b", "g3": "c",
                                                     "g4": "d"}


def test_tukey_refusals(table: pd.DataFrame) -> None:
    with pytest.raises(UserError, match="--tukey: column 'k' has one level"):
        tukey(table.assign(k="x"), "k", "Linf_acc")
    with pytest.raises(UserError, match="--tukey: no column 'nope'"):
        tukey(table, "nope", "Linf_acc")
    cells = table.drop_duplicates(["backbone_name", "loss_function", "ft_strategy", "dataset"])
    one_run_each = cells.assign(cell=range(len(cells)))
    with pytest.raises(UserError, match="no replicate runs"):
        tukey(one_run_each, "cell", "Linf_acc")


# ---- Fisher ----------------------------------------------------------------------------


def test_fisher_by_hand(table: pd.DataFrame, roles: Roles) -> None:
    """TRADES>CE on Linf_acc, matched on backbone, strategy and dataset: 12 pairs.

    TRADES wins 10; convnext_t linear flowers .24 < .25 is CE's one win; resnet50 linear
    flowers .25 = .25 is the tie (vit_s full cifar10 TRADES is the mean of its two
    seeds, .52 > .40). Table [[10, 1], [1, 10]]; with margins 11, 11 of 22 the one-sided
    p is P(X >= 10) = (C(11,10) C(11,1) + C(11,11) C(11,0)) / C(22,11) = 122 / 705432.
    Sign test: P(Bin(11, 1/2) >= 10) = (11 + 1) / 2^11.
    """
    req = FisherRequest.parse("loss_function:TRADES>CE")
    results = {r.metric: r for r in fisher(table, roles, req)}
    linf = results["Linf_acc"]
    assert linf.matched_on == ["backbone_name", "ft_strategy", "dataset"]
    assert (linf.n_pairs, linf.wins_a, linf.wins_b, linf.ties) == (12, 10, 1, 1)
    assert linf.table == [[10, 1], [1, 10]]
    assert linf.odds_ratio == pytest.approx(100.0)
    assert linf.p_value == pytest.approx(122 / math.comb(22, 11))
    assert linf.sign_test_p_value == pytest.approx(12 / 2**11)
    # CE is better on clean accuracy in every pair: A never wins
    clean = results["clean_acc"]
    assert (clean.wins_a, clean.wins_b, clean.ties) == (0, 12, 0)
    assert clean.p_value == pytest.approx(1.0)


def test_fisher_with_match_averages_what_it_leaves_free(
    table: pd.DataFrame, roles: Roles
) -> None:
    """cnn>vit matched on loss, strategy, dataset: 8 pairs, the two CNNs averaged.

    Linf: CE full c10 .375 < .40, fl .30 = .30 (tie), TRADES full c10 .51 < .52,
    fl .39 < .42, CE linear c10 .21 > .18, fl .25 > .21, TRADES linear c10 .30 < .33,
    fl .245 < .27: cnn wins 2, vit wins 5, 1 tie.
    """
    with pytest.raises(UserError, match="--match loss_function,ft_strategy,dataset"):
        fisher(table, roles, FisherRequest.parse("model_type:cnn>vit"))
    req = FisherRequest.parse("model_type:cnn,vit", ["loss_function", "ft_strategy", "dataset"])
    assert req.alternative == "two-sided"
    (linf,) = fisher(table, roles, req, ["Linf_acc"])
    assert (linf.n_pairs, linf.wins_a, linf.wins_b, linf.ties) == (8, 2, 5, 1)


def test_fisher_all_ties_and_lower_is_better(table: pd.DataFrame, roles: Roles) -> None:
    same = table.assign(Linf_acc=0.5 + 0.1 * (table.dataset == "flowers"))
    (res,) = fisher(same, roles, FisherRequest.parse("loss_function:TRADES>CE"), ["Linf_acc"])
    assert (res.wins_a, res.wins_b, res.ties) == (0, 0, 12)
    assert res.odds_ratio is None and res.p_value is None
    assert res.to_dict()["p_value"] is None
    lower = replace(roles, lower_is_better=("Linf_acc",))
    (flip,) = fisher(table, lower, FisherRequest.parse("loss_function:TRADES>CE"), ["Linf_acc"])
    assert (flip.wins_a, flip.wins_b, flip.ties) == (1, 10, 1)


def test_fisher_refusals(table: pd.DataFrame, roles: Roles) -> None:
    with pytest.raises(UserError, match="expected FACTOR:A>B"):
        FisherRequest.parse("loss_function")
    with pytest.raises(UserError, match="no level 'MART'.*levels: CE, TRADES"):
        fisher(table, roles, FisherRequest.parse("loss_function:MART>CE"))
    with pytest.raises(UserError, match="no column 'loss'"):
        fisher(table, roles, FisherRequest.parse("loss:TRADES>CE"))
    with pytest.raises(UserError, match="--match: no column 'nope'"):
        fisher(table, roles, FisherRequest.parse("loss_function:TRADES>CE", ["nope"]))


# ---- Spearman --------------------------------------------------------------------------


def test_spearman_between_metrics_on_a_constructed_case() -> None:
    """m2 = 2 m1 (rho 1), m3 reversed (rho -1), m4 two swaps: d = (0,1,-1,1,-1,0),
    rho = 1 - 6 * 4 / (6 * 35) = 31/35. P-values exact on 6 points: rho = 1 is reached
    by 1 of 6! = 720 pairings, and -1 by one more: p = 2/720."""
    m1 = np.arange(1.0, 7.0)
    table = pd.DataFrame({"c": [f"c{i}" for i in range(6)], "b": "x", "m1": m1,
                          "m2": 2 * m1, "m3": m1[::-1].copy(),
                          "m4": [1.0, 3.0, 2.0, 5.0, 4.0, 6.0]})
    roles = Roles(config=("c",), protocol=(), block="b", metrics=("m1", "m2", "m3", "m4"))
    s = metric_agreement(build_cells(table, roles))
    assert s is not None and s.n == 6
    assert s.rho[0] == pytest.approx([1.0, 1.0, -1.0, 31 / 35])
    assert s.p_value[0][1] == pytest.approx(2 / 720)
    assert s.p_value[0][0] is None


def test_agreement_of_two_protocols(table: pd.DataFrame, roles: Roles) -> None:
    """CE/full vs CE/linear, pooled: Borda points (r 6.5, c 7, v 4.5) vs (7.5, 7.5, 3).

    Ranks (2, 3, 1) vs (2.5, 2.5, 1); centred (0, 1, -1) and (.5, .5, -1): covariance
    1.5, variances 2 and 1.5, rho = 1.5 / sqrt(3) = sqrt(3)/2. On flowers' Linf every
    CE/full config ties (.30): rho undefined.
    """
    cells = build_cells(table, roles)
    a = protocol_agreement(cells, "CE/full", "CE/linear")
    assert a.configs == ["resnet50", "convnext_t", "vit_s"]
    assert a.pooled().rho == pytest.approx(math.sqrt(3) / 2)
    scopes = {(s.block, s.metric): s for s in a.scopes}
    assert len(scopes) == 3 * 4  # (2 blocks + all) x (3 metrics + all)
    assert scopes[("flowers", "Linf_acc")].rho is None
    # cifar10 clean: points (1.5, 1.5, 0) vs (2, .5, .5): rho = .75 / 1.5 = .5
    assert scopes[("cifar10", "clean_acc")].rho == pytest.approx(0.5)
    # same protocol ranking, reordered values: rho = 1, exact p = 2/3! = 1/3
    short = table[table.loss_function == "CE"].assign(ft_strategy="short")
    long = short.assign(ft_strategy="long", clean_acc=short.clean_acc * 0.9,
                        Linf_acc=short.Linf_acc + 0.05, common_acc=short.common_acc - 0.01)
    same = build_cells(pd.concat([short, long]), roles)
    pooled = protocol_agreement(same, "CE/short", "CE/long").pooled()
    assert pooled.rho == pytest.approx(1.0) and pooled.p_value == pytest.approx(1 / 3)


def test_agreement_refusals(table: pd.DataFrame, roles: Roles) -> None:
    cells = build_cells(table, roles)
    with pytest.raises(UserError, match="--agreement: no protocol 'CE/long'"):
        protocol_agreement(cells, "CE/full", "CE/long")
    small = table[table.backbone_name != "vit_s"]
    with pytest.raises(UserError, match="2 configuration.*at least 3"):
        protocol_agreement(build_cells(small, roles), "CE/full", "CE/linear")


# ---- the clear refusals of a table -----------------------------------------------------


ALL = slice(None)


@pytest.mark.parametrize(("column", "value", "rows", "flags", "message"), [
    (None, None, ALL, {"config": ["nope"]}, "--config: no column 'nope'"),
    ("clean_acc", "high", 0, {}, "--metrics: column 'clean_acc' is not numeric (row 1"),
    ("common_acc", 0.5, ALL, {}, "--metrics: column 'common_acc' is constant"),
    ("Linf_acc", float("inf"), 3, {}, "column 'Linf_acc' has an infinite value (row 4)"),
    ("Linf_acc", None, ALL, {}, "--metrics: column 'Linf_acc' is empty"),
    ("backbone_name", None, 2, {}, "--config: column 'backbone_name' has empty cells"),
    ("backbone_name", "one", ALL, {}, "--config: backbone_name has one value"),
    (None, None, ALL, {"lower_is_better": ["seed"]},
     "--lower-is-better seed: not one of the metrics"),
    (None, None, ALL, {"block": "backbone_name"},
     "--block backbone_name: already used by --config"),
    (None, None, ALL, {"metrics": ["clean_acc", "clean_acc"]}, "--metrics clean_acc: given twice"),
])
def test_refusals_name_the_column(
    table: pd.DataFrame, column: str | None, value: object, rows: object, flags: dict,
    message: str,
) -> None:
    bad = table.astype({column: object}) if column else table.copy()
    if column:
        bad.loc[rows, column] = value
    with pytest.raises(UserError) as info:
        analyze(bad, resolve_roles(bad, **flags))
    assert message in str(info.value) and "\n" not in str(info.value)


# ---- the result and its views ----------------------------------------------------------


def _full(table: pd.DataFrame, roles: Roles):  # noqa: ANN202
    return analyze(table, roles, Requests(
        agreement=[("CE/full", "CE/linear")],
        anova_metrics=["Linf_acc"], anova_factors=["loss_function", "ft_strategy"],
        tukey_factor="loss_function",
        fisher=[FisherRequest.parse("loss_function:TRADES>CE")],
        test_metrics=["Linf_acc"],
    ), source="small.csv")


def test_the_result_is_strict_json(table: pd.DataFrame, roles: Roles) -> None:
    doc = _full(table, roles).to_dict()
    assert tuple(doc) == KEYS
    text = json.dumps(doc, allow_nan=False)  # no NaN anywhere
    back = json.loads(text)
    assert back["roles"]["config"] == ["backbone_name"] and back["n_runs"] == 25
    assert back["agreement"][0]["scopes"][5]["rho"] is None  # flowers Linf: undefined
    assert back["tukey"][0]["groups"][0]["letters"] == "a"
    assert back["fisher"][0]["table"] == [[10, 1], [1, 10]]


def test_figures_and_tables_are_drawn(table: pd.DataFrame, roles: Roles) -> None:
    doc = json.loads(json.dumps(_full(table, roles).to_dict()))
    figures = analysis_figures(doc)
    names = [n for n, _ in figures]
    assert sum(n.startswith("Borda points") for n in names) == 4
    assert "Tukey HSD, Linf_acc by loss_function" in names
    assert "Spearman rho between metrics" in names
    for _, fig in figures:
        ax = fig.axes[0]
        assert ax.patches or ax.lines or ax.images or ax.collections
        fig.canvas.draw()  # renders with Agg, no pyplot
    tukey_ax = dict(figures)["Tukey HSD, Linf_acc by loss_function"].axes[0]
    assert sorted(t.get_text() for t in tukey_ax.texts) == ["a", "b"]
    tables = dict(analysis_tables(doc))
    assert list(tables["Borda ranking"].columns[:4]) == ["protocol", "rank", "config", "points"]
    assert len(tables["Borda ranking"]) == 12
    assert "eta_sq" in tables[
        "ANOVA (type II): Linf_acc ~ C(loss_function) + C(ft_strategy)"].columns
    assert tables["Tukey letters, Linf_acc by loss_function"]["letters"].to_dict() == {
        "TRADES": "a", "CE": "b"}
    assert tables["Fisher's exact tests"]["A wins"].tolist() == [10]
