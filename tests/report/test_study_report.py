"""stalwart report STUDY_DIR: every view, escaped text, size, and studies without results."""

from __future__ import annotations

import base64
import html
import io
import re

import numpy as np
from PIL import Image

from stalwart.cli import main
from stalwart.report.build import build_report
from stalwart.report.load import detect
from stalwart.report.study_data import read_study
from stalwart.report.watch import watch

from .tiny_study import ERROR, NAME, make_study

SECTIONS = ("steps", "funnel", "finalists", "cost", "robustness", "decisions", "failures")
REFRESH = 'http-equiv="refresh"'
DATA_URI = re.compile(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


def non_blank(png: bytes) -> bool:
    """A PNG with real content: not one colour, and at least 1% of non-white pixels."""
    im = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    return im.std() > 5 and (im < 240).mean() > 0.01


def test_every_view_is_in_the_report(report_file):
    text = report_file.read_text()
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in text, anchor
    images = DATA_URI.findall(text)
    assert len(images) == 5 == text.count("<img ")  # steps, funnel, finalists, cost, robustness
    for data in images:
        assert non_blank(base64.b64decode(data))
    assert report_file.stat().st_size < 5e6
    assert "<table>" in text and "worse than median" in text and "selected" in text
    assert "finished" in text and "halving" in text and "q1" in text


def test_study_text_is_escaped_everywhere(report_file):
    text = report_file.read_text()
    assert "<script" not in text.lower()  # no script at all: not ours, not the study's
    assert "<img src=x" not in text  # the config value's markup is not markup
    assert html.escape(NAME) in text  # the name is shown, as text
    assert html.escape(ERROR) in text  # the trainer's error too
    assert html.escape("<img src=x onerror=") in text  # and the config value
    assert "Content-Security-Policy" in text and REFRESH not in text


def test_steps_and_finalists_follow_the_decisions(study_dir):
    from stalwart.report.steps import steps

    data = read_study(study_dir)
    assert data.state == "finished" and data.over
    s = data.summary
    got = steps([c.config.id for c in s.configs], s.decisions, data.by_config(), over=True)
    assert [st.n_instances for st in got] == [2, 3, 4, 5]
    assert len(got[0].alive) == 10 and got[-1].selected == s.selection.config.id
    assert [len(st.alive) for st in got] == sorted((len(st.alive) for st in got), reverse=True)
    assert got[-1].trainings == s.n_trainings  # the last step counts every training


def test_a_study_without_results_is_an_error_or_a_waiting_page(tmp_path, capsys):
    d = tmp_path / "empty"
    with make_study(d, name="empty").ask_tell():
        pass  # the store and its configs exist; nothing was trained
    out = tmp_path / "r.html"
    assert main(["report", str(d), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no results yet" in err[0] and not out.exists()
    report = build_report(d, refresh=5, allow_empty=True)
    assert "no results yet" in report.html and not report.over
    assert '<meta http-equiv="refresh" content="5">' in report.html


def test_watch_refreshes_until_over_and_ends_static(tmp_path, study_dir):
    d = tmp_path / "w"
    with make_study(d, name="w").ask_tell():
        pass
    out = tmp_path / "w.html"
    seen: list[str] = []
    interrupts = iter([None, KeyboardInterrupt])

    def sleep(_: float) -> None:
        if next(interrupts) is KeyboardInterrupt:
            raise KeyboardInterrupt

    last = watch(detect(d), out, 2.0, sleep=sleep, on_write=lambda r, _: seen.append(r.html))
    assert len(seen) == 3  # two rounds, then Ctrl-C and the static page
    assert all('http-equiv="refresh" content="2"' in page for page in seen[:2])
    assert REFRESH not in seen[-1] and out.read_text() == seen[-1] == last.html
    # A finished study: one write, no refresh, the watch ends by itself.
    done = tmp_path / "done.html"
    assert main(["report", str(study_dir), "-o", str(done), "--watch", "--interval", "0.1"]) == 0
    assert REFRESH not in done.read_text() and "<img " in done.read_text()
