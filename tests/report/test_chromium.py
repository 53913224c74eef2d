"""The study report in headless Chromium: no console error, every plot drawn, nothing run.

Skipped only where no Chromium is installed (CI installs Debian's ``chromium``).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from stalwart.report.browser import find_chromium, render

from .tiny_study import NAME

pytestmark = pytest.mark.skipif(find_chromium() is None,
                                reason="no chromium on PATH (CI installs Debian's chromium)")


@pytest.fixture(scope="module")
def rendered(report_file):
    return render(report_file)


def test_the_page_loads_without_a_console_error(rendered):
    assert rendered.errors == []
    assert rendered.load_seconds < 30  # measured by benchmarks/report_demo.py; here: it loads


def test_the_study_name_is_text_and_no_script_ran(rendered):
    # The name's script would have set the title to 'pwned' (and the config value's
    # onerror to 'pwned-img', the error message's script to 'pwned-error').
    assert rendered.title == f"stalwart study {NAME}"
    assert NAME in rendered.text and "exploded" in rendered.text


def test_every_plot_is_decoded_and_drawn(rendered):
    assert len(rendered.images) == 5
    for image in rendered.images:
        assert image["complete"] and image["width"] > 300 and image["height"] > 150, image
        assert image["src_head"].startswith("data:image/png;base64,")
    shot = np.asarray(Image.open(io.BytesIO(rendered.screenshot)).convert("L"), dtype=float)
    assert shot.shape[0] > 2000  # the whole page, not the first screen
    assert shot.std() > 10
    # Every band of the page holds something: no figure area left white.
    bands = np.array_split(shot[: shot.shape[0] // 600 * 600], shot.shape[0] // 600)
    assert all((band < 200).mean() > 0.002 for band in bands)
