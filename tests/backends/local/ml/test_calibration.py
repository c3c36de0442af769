"""Slow: the grafted classifier's int8 calibration, from the backbone's cached calibration and
the head's logits alone, is the one the quantizer computes on the whole grafted model."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("multi_label", [False, True], ids=["softmax", "sigmoid"])
def test_grafted_calibration_equals_calibrating_the_whole_model(
    objects, multi_label: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgeops.backends.local.ml import export, tflite_io
    from edgeops.backends.local.ml.backbone import backbone_for
    from edgeops.runtime.images import load_rgb, to_input
    from edgeops.runtime.litert import LiteRTRunner

    bb = backbone_for("latency")
    rng = np.random.default_rng(5)
    n = len(objects.labels)
    weight = rng.normal(0.0, 0.05, (n, bb.feature_dim)).astype(np.float32)
    bias = rng.normal(0.0, 0.2, n).astype(np.float32)
    grafted = export.classifier_float(bb, weight, bias, multi_label)
    train = [e.image_path for e in objects.examples if e.split == "train"]
    representative = export.representative_set(train[:40], 0, bb.image_size)[:12]

    whole = export._calibrate(grafted, representative)
    calibration = export.backbone_calibration(bb, representative)
    parts = calibration.grafted_qsv(weight, bias)
    assert set(parts) == set(whole)
    for name, got in parts.items():
        if name == calibration.output:
            continue  # the probabilities: pinned to [0, 1] either way
        for key in ("min", "max"):
            want = np.asarray(whole[name][key])
            assert np.asarray(got[key]).shape == want.shape, name
            # the backbone's own ranges are the quantizer's exactly; the logits' differ only
            # by float rounding (numpy's matmul against LiteRT's fully connected kernel)
            tol = 0.0 if name != tflite_io.GRAFT_LOGITS else 1e-5
            np.testing.assert_allclose(got[key], want, rtol=tol, atol=tol, err_msg=name)

    # the same int8 predictions as quantizing from the whole calibration
    a = LiteRTRunner(export._quantize(grafted, whole))
    b = LiteRTRunner(export.quantize_grafted(grafted, calibration, weight, bias))
    for path in train[::10]:
        pixels = to_input(load_rgb(path), bb.image_size)
        assert np.abs(a(pixels).astype(int) - b(pixels).astype(int)).max() <= 1

    # kept in the machine cache: the next export does not calibrate again
    def no_calibration(*args: object) -> None:
        raise AssertionError("calibrated again although the calibration is cached")

    monkeypatch.setattr(export, "calibrate_backbone", no_calibration)
    again = export.backbone_calibration(bb, representative)
    assert again.output == calibration.output
    np.testing.assert_array_equal(again.features, calibration.features)
    assert set(again.qsv) == set(calibration.qsv)
    # another representative set is another calibration
    with pytest.raises(AssertionError, match="calibrated again"):
        export.backbone_calibration(bb, representative[:-1])


def test_an_unreadable_cached_calibration_is_computed_again(tmp_path) -> None:
    from edgeops.backends.local.ml.export import BackboneCalibration

    broken = tmp_path / "c.npz"
    broken.write_bytes(b"not a numpy archive")
    assert BackboneCalibration.load(broken) is None
    assert BackboneCalibration.load(tmp_path / "missing.npz") is None
    made = BackboneCalibration(
        {"t": {"min": np.zeros((1, 1)), "max": np.ones((1, 1))}}, np.eye(2, dtype=np.float32), "o"
    )
    made.save(tmp_path / "ok.npz")
    back = BackboneCalibration.load(tmp_path / "ok.npz")
    assert back is not None and back.output == "o" and list(back.qsv) == ["t"]
    np.testing.assert_array_equal(back.features, made.features)
