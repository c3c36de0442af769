"""The HTML report is one self-contained page with all its pieces."""

from __future__ import annotations

import json
import re

import numpy as np

from edgeops.config.model import GateSpec
from edgeops.evaluation import Evaluation, apply_gate, evaluate_scores, render_html
from edgeops.evaluation.compare import compare

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


def _evaluation() -> Evaluation:
    return evaluate_scores(
        np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.8, 0.2]]),
        [("cat",), ("cat",), ("dog",), ("dog",)],
        ("cat", "dog"),
        multi_label=False,
        image_ids=["i0", "i1", "i2", "i3"],
    )


def test_report_shows_intervals_and_the_slider_computes_them() -> None:
    ev = _evaluation()
    html = render_html(ev, threshold=0.5, gate=apply_gate(ev, 0.5, GateSpec(min_precision=0.4)))
    p = ev.intervals_at(0.5)["precision"]
    assert f"0.5000 <span class=ci>{p.describe()}</span>" in html
    assert "test split too small to support min_precision 0.4" in html  # the bar's warning
    assert '"tp":[' in html and '"pos":4' in html and "function wilson(k,n)" in html
    assert '"f1lo":[' in html


def test_report_of_an_old_evaluation_says_n_a() -> None:
    d = json.loads(json.dumps(_evaluation().to_dict()))
    d.pop("au_prc_ci")
    d["overall"].pop("counts")
    html = render_html(Evaluation.from_dict(d), threshold=0.5)
    assert "AuPRC (micro)</th><td>" in html and "95% CI n/a" in html
    assert '"tp":[' not in html  # the slider shows values only


def test_report_lists_fixed_and_broken_images_against_the_published_version() -> None:
    champion = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.8, 0.2]])  # right wrong right wrong
    candidate = np.array(
        [[0.2, 0.8], [0.7, 0.3], [0.3, 0.7], [0.4, 0.6]]
    )  # wrong right right right
    c = compare(
        champion,
        candidate,
        [("cat",), ("cat",), ("dog",), ("dog",)],
        ("cat", "dog"),
        multi_label=False,
        champion_threshold=0.5,
        candidate_threshold=0.5,
        image_ids=["i0", "i1", "i2", "i3"],
        resamples=200,
    )
    assert c.fixed == ("i1", "i3") and c.broken == ("i0",)
    thumbs = {"i1": THUMB, "i0": THUMB + "0"}
    html = render_html(_evaluation(), comparison=c, thumbnails=thumbs)
    assert "<h2>Against the published version</h2>" in html
    fixed = html.split("<h3>Fixed", 1)[1].split("<h3>Broken", 1)[0]
    broken = html.split("<h3>Broken", 1)[1].split("<h2>", 1)[0]
    assert f'src="{THUMB}"' in fixed and "i3" in fixed and "i0" not in fixed
    assert f'src="{THUMB}0"' in broken and "i0" in broken
    assert "2 image(s) fixed, 1 broken; exact McNemar p = 1" in html
    top1 = c.metric("top1_accuracy").difference
    assert f"{top1.value:+.4f} <span class=ci>{top1.describe(signed=True)}</span>" in html
