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
