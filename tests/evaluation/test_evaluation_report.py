"""The HTML report is one self-contained page with all its pieces."""

from __future__ import annotations

import re

import numpy as np

from edgeops.config.model import GateSpec
from edgeops.evaluation import apply_gate, evaluate_scores, render_html

THUMB = "data:image/jpeg;base64,/9j/AAAA"


def test_report_has_all_sections_and_no_external_resources() -> None:
    ev = evaluate_scores(
        np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.8, 0.2]]),
        [("cat",), ("cat",), ("dog",), ("dog",)],
        ("cat", "dog"),
        multi_label=False,
        image_ids=["i0", "i1", "i2", "i3<x>"],
    )
    gate = apply_gate(ev, 0.5, GateSpec(min_precision=0.9))
    html = render_html(
        ev, title="model.pets v3", threshold=0.5, gate=gate, thumbnails={"i3<x>": THUMB}
    )
    assert html.startswith("<!DOCTYPE html>")
    assert "<svg" in html and "<polyline" in html  # PR curve
    assert "type=range" in html and "addEventListener('input'" in html  # live slider
    assert "<h2>Per label</h2>" in html and "<td class=l>cat</td>" in html
    assert "Confusion matrix" in html
    assert f'src="{THUMB}"' in html and "i3&lt;x&gt;" in html  # thumbnail, escaped id
    assert "FAIL" in html and "failed" in html
    # self-contained: no external scripts, styles or images
    assert not re.search(r'(src|href)="https?:', html)
    assert "<link" not in html
    # the curve data the slider reads has one value per threshold
    data = re.search(r'"p":\[([^\]]*)\]', html)
    assert data is not None and len(data.group(1).split(",")) == 101
