"""A robustness metric (PGD robust accuracy) as the quality a study selects on."""

import textwrap

from processes import run_and_show

from stalwart.cli import main

SPEC = textwrap.dedent("""
    name: digits-robust
    dataset: {name: digits, options: {as_image: true}}
    model: small_cnn
    search_space:
      fixed: {epochs: 2, pool_sizes: [2], pool_strides: [2], fc_sizes: [16], padding: 1}
      product: {conv_channels: [[4], [8]], lr: [0.003, 0.03]}
    instances: {n: 2}
    metric:
      name: pgd_linf_acc
      direction: maximize
      evaluators: [{name: pgd_linf_acc, eps: 0.05, steps: 3, n_samples: 100}]
    criterion: pd
    strategy: exhaustive
""")


def test_study_selects_on_robust_accuracy(tmp_path, capsys):
    doc = run_and_show(tmp_path, SPEC, capsys)
    assert doc["metric"] == "pgd_linf_acc" and doc["trainings"] == 8
    values = [v for c in doc["configs"] for v in c["values"]]
    assert all(0.0 <= v <= 1.0 for v in values) and len(set(values)) > 1
    assert doc["selection"]["criterion"] is not None


def test_unknown_evaluator_is_a_spec_error(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(SPEC.replace("{name: pgd_linf_acc, eps", "{name: pgd_acc, eps"))
    assert main(["run", str(tmp_path / "s.yaml"), "--study-dir", str(tmp_path / "st")]) == 2
    assert capsys.readouterr().err.startswith("stalwart: error: metric.evaluators[0]: ")


ROBUST_LOSSES_SPEC = textwrap.dedent("""
    name: digits-robust-losses
    dataset: {name: digits, options: {as_image: true}}
    model: small_cnn
    search_space:
      fixed: {epochs: 4, pool_sizes: [2], pool_strides: [2], fc_sizes: [16], padding: 1,
              conv_channels: [8], lr: 0.01, robust_eps: 0.15, adv_steps: 3}
      configs:
        - {training_loss: task}
        - {training_loss: trades, trades_beta: 1.0}
        - {training_loss: trades, trades_beta: 6.0}
        - {training_loss: sensitivity, sens_lambda: 0.01}
    instances: {n: 2}
    metric:
      name: pgd_linf_acc
      direction: maximize
      evaluators: [{name: pgd_linf_acc, eps: 0.15, steps: 5, n_samples: 200}]
    criterion: q1
    strategy: exhaustive
""")


def test_a_study_chooses_the_training_loss_and_its_strength_by_robust_accuracy(tmp_path, capsys):
    """The training recipe is a hyperparameter: the selection ranks losses and strengths on
    the robust metric's q1 over instances, and the robust configs beat plain training."""
    doc = run_and_show(tmp_path, ROBUST_LOSSES_SPEC, capsys)
    assert doc["trainings"] == 8
    by_loss = {(c["params"].get("training_loss"), c["params"].get("trades_beta"),
                c["params"].get("sens_lambda")): c["values"] for c in doc["configs"]}
    assert len(by_loss) == 4, by_loss
    assert doc["selection"]["params"]["training_loss"] == "trades", by_loss
    assert min(by_loss[("trades", 6.0, None)]) > max(by_loss[("task", None, None)]), by_loss
