"""Fixtures of the report tests: the tiny study (tiny_study.py) and its report."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stalwart.cli import main

from .tiny_study import make_study, train


@pytest.fixture(scope="session")
def study_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("report-study") / "study"
    result = make_study(d).run(train, executor="serial")
    assert result.valid
    return d


@pytest.fixture(scope="session")
def report_file(study_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report-out") / "report.html"
    start = time.perf_counter()
    assert main(["report", str(study_dir), "-o", str(out)]) == 0
    print(f"report of the tiny study: {time.perf_counter() - start:.2f} s, "
          f"{out.stat().st_size / 1e6:.2f} MB")
    return out
