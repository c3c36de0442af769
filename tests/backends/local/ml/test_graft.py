"""Slow: the float classifier grafted on the converted features backbone is the converted one."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("multi_label", [False, True], ids=["softmax", "sigmoid"])
def test_grafted_head_equals_converted_classifier(objects, multi_label: bool) -> None:
    from edgeops.backends.local.ml import tflite_io
    from edgeops.backends.local.ml.backbone import (
        backbone_for,
        load_torch_backbone,
        make_classifier_module,
    )
    from edgeops.backends.local.ml.export import classifier_float, convert, feature_backbone
    from edgeops.runtime.images import load_rgb, normalize, to_input
    from edgeops.runtime.litert import LiteRTRunner

    bb = backbone_for("latency")
    rng = np.random.default_rng(3)
    n = len(objects.labels)
    weight = rng.normal(0.0, 0.05, (n, bb.feature_dim)).astype(np.float32)
    bias = rng.normal(0.0, 0.2, n).astype(np.float32)
    converted = convert(
        make_classifier_module(load_torch_backbone(bb), weight, bias, multi_label), bb.image_size
    )
    grafted = classifier_float(bb, weight, bias, multi_label)
    assert grafted == tflite_io.graft_linear_head(
        feature_backbone(bb).read_bytes(), weight, bias, multi_label=multi_label
    )
    a, b = LiteRTRunner(converted), LiteRTRunner(grafted)
    assert b.output["shape"].tolist() == [1, n] and b.output["name"] == a.output["name"]
    images = [e.image_path for e in objects.examples[::15]]
    diffs, outs = [], []
    for path in images:
        x = normalize(to_input(load_rgb(path), bb.image_size))
        pa, pb = a(x), b(x)
        diffs.append(float(np.abs(pa - pb).max()))
        outs.append(pb)
    assert max(diffs) < 1e-5
    sums = np.sum(outs, axis=1)
    if multi_label:
        assert not np.allclose(sums, 1.0)  # sigmoid per label, not a distribution
    else:
        assert np.allclose(sums, 1.0, atol=1e-5)


def test_graft_refuses_a_head_of_the_wrong_width() -> None:
    from edgeops.backends.local.ml import tflite_io
    from edgeops.backends.local.ml.backbone import backbone_for
    from edgeops.backends.local.ml.export import feature_backbone

    features = feature_backbone(backbone_for("latency")).read_bytes()
    with pytest.raises(ValueError, match="cannot graft"):
        tflite_io.graft_linear_head(
            features, np.zeros((3, 1000), np.float32), np.zeros(3), multi_label=False
        )
