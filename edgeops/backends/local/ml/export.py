"""Conversion to ``.tflite`` (litert-torch, no TensorFlow) and static int8 quantization.

- float backbone (features only): converted once per machine (the machine cache's
  ``backbones/``, keyed by a hash of what determines its bytes); it computes the training
  features.
- float32 classifier: backbone + head + softmax/sigmoid, NHWC float input (normalized), with
  metadata declaring the normalization. With the pretrained backbone, the head is grafted on
  the converted features backbone (``tflite_io.graft_linear_head``, no second conversion); a
  fine-tuned backbone is converted with its head.
- int8 classifier: ai-edge-quantizer's static int8 (weights per channel, activations int8)
  calibrated on a representative set of train images, the input range pinned to
  [-127/128, 1] and the output range to [0, 1]; the stem and the first block stay float32
  (:data:`FLOAT_LAYERS`); then uint8 input/output (see ``tflite_io``).

The export phase (:func:`export_models`) writes both classifiers, with their TFLite metadata
(labels, normalization), and ``labels.txt`` into a version folder.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeops.backends.layout import LABELS_TXT, MODEL_FLOAT, MODEL_INT8
from edgeops.backends.local.ml import tflite_io
from edgeops.backends.local.ml.backbone import (
    Backbone,
    load_torch_backbone,
    make_classifier_module,
    make_feature_module,
)
from edgeops.backends.local.ml.hparams import TRAINER_VERSION
from edgeops.files import atomic_write, sha256_file
from edgeops.runtime.images import NORM_MEAN, NORM_STD, load_rgb, normalize, to_input
from edgeops.runtime.quiet import captured

if TYPE_CHECKING:
    from edgeops.progress import Reporter

REPRESENTATIVE_IMAGES = 64  # int8 calibration images from the train split
# ... for a fine-tuned backbone, whose activations moved away from the pretrained ranges.
# Measured (bench/quality.py, held-out digits, balanced = Lite1 + top 2 blocks fine-tuned):
# 64 images: int8 0.930 vs float32 0.942 (-1.1 points, McNemar p = 0.008); 200 images: 0.933
# vs 0.942 (-0.9, p = 0.04). The pretrained backbone (latency) loses 0.3 points with 64.
REPRESENTATIVE_IMAGES_FINE_TUNED = 200

INPUT_RANGE = (-NORM_MEAN / NORM_STD, (255.0 - NORM_MEAN) / NORM_STD)  # [-127/128, 1]


def convert(module: Any, image_size: int) -> bytes:
    import torch

    sample = torch.zeros(1, image_size, image_size, 3)
    with (
        captured("litert-torch conversion"),
        tempfile.TemporaryDirectory() as tmp,
        warnings.catch_warnings(),
    ):
        # torch.export inside litert-torch still uses a pytree API that torch 2.13 deprecates
        warnings.filterwarnings(
            "ignore", message=r"`isinstance\(treespec, LeafSpec\)`", category=FutureWarning
        )
        import litert_torch  # its import logs torchao kernel-loading failures

        litert_torch.config.show_progress = False  # type: ignore[attr-defined]
        edge = litert_torch.convert(module.eval(), (sample,))
        path = Path(tmp) / "model.tflite"
        edge.export(str(path))
        return path.read_bytes()


def feature_backbone(backbone: Backbone) -> Path:
    """Path of the float backbone ``.tflite`` (features), converted now or taken from the
    machine cache."""
    return converted_backbone(
        backbone,
        "features",
        lambda: convert(make_feature_module(load_torch_backbone(backbone)), backbone.image_size),
    )


_CONVERTER_PACKAGES = ("litert-torch", "torch", "efficientnet-lite-pytorch")


@functools.lru_cache(maxsize=16)
def _weights_sha256(path: Path, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def backbone_key(backbone: Backbone, kind: str) -> str:
    """A hash of what determines a converted backbone's bytes: the weights file's content, the
    backbone, the module ``kind`` (``features``, ``lower2``), the converter and torch versions
    and :data:`TRAINER_VERSION`."""
    import importlib.metadata

    from edgeops.backends.local.ml.backbone import weights_path

    weights = weights_path(backbone)
    st = weights.stat()
    parts = {
        "weights_sha256": _weights_sha256(weights, st.st_size, st.st_mtime_ns),
        "backbone": backbone.name,
        "image_size": backbone.image_size,
        "kind": kind,
        "trainer": TRAINER_VERSION,
        **{p: importlib.metadata.version(p) for p in _CONVERTER_PACKAGES},
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def backbone_path(backbone: Backbone, kind: str) -> Path:
    """Where the machine cache keeps ``backbone``'s converted ``kind`` module (content-keyed)."""
    from edgeops.machine import cache_dir

    key = backbone_key(backbone, kind)
    return cache_dir() / "backbones" / f"{backbone.name}-{kind}-{key}.tflite"


def converted_backbone(backbone: Backbone, kind: str, build: Callable[[], bytes]) -> Path:
    """:func:`backbone_path`, built by ``build`` if missing: converted once per machine, not per
    backend folder. Written to a temporary file then renamed, so a reader never sees half a
    file, and two processes converting at once both end with a whole one."""
    path = backbone_path(backbone, kind)
    if not path.exists():
        atomic_write(path, build())
    return path


def classifier_float(
    backbone: Backbone, weight: np.ndarray, bias: np.ndarray, multi_label: bool, net: Any = None
) -> bytes:
    """``net``: a fine-tuned torch backbone, converted with the head; when None, the head is
    grafted on the pretrained features backbone converted once per machine (no conversion)."""
    if net is None:
        return tflite_io.graft_linear_head(
            feature_backbone(backbone).read_bytes(), weight, bias, multi_label=multi_label
        )
    return convert(make_classifier_module(net, weight, bias, multi_label), backbone.image_size)


# Kept float32 inside the int8 model: the stem convolution and the first MBConv block. They are
# tiny (under 2k weights) but every later layer inherits their rounding. Measured on held-out
# handwritten digits (1,000 images, Lite1 + head): all int8 0.900 vs float32 0.938 (97 of 1,000
# predictions differ from float32's), stem + block 0 float 0.942 (18 differ); LiteRT latency
# 4.17 -> 4.23 ms, size +4 kB. (All-int8 Lite0 and Lite2 were already within half a point.)
# The quantizer re.search()es it in every op's (long) name at every calibration step: no
# leading or trailing ".*" (which made the search quadratic: 2.5 s of a 7 s export; same file).
FLOAT_LAYERS = r"conv_stem|MBConvBlock_0/"


def _quantizer(float_model: bytes) -> tuple[Any, str, str, str, str]:
    """(ai-edge-quantizer loaded with our int8 recipe, signature key, its input's name, the
    input tensor's name, the output tensor's name)."""
    with captured("ai-edge-quantizer"):
        from ai_edge_litert.interpreter import Interpreter
        from ai_edge_quantizer import quantizer, recipe

        interp = Interpreter(model_content=float_model)
        sigs = interp.get_signature_list()
        sig = next(iter(sigs))
        in_name = sigs[sig]["inputs"][0]
        in_tensor = interp.get_input_details()[0]["name"]
        out_tensor = interp.get_output_details()[0]["name"]

        q = quantizer.Quantizer(bytearray(float_model))
        int8_recipe = recipe.static_wi8_ai8()
        int8_recipe.append(
            {
                "regex": FLOAT_LAYERS,
                "operation": "*",
                "algorithm_key": "no_quantize",
                "op_config": int8_recipe[0]["op_config"],
            }
        )
        q.load_quantization_recipe(int8_recipe)
    return q, sig, in_name, in_tensor, out_tensor


@contextlib.contextmanager
def _quantizer_quiet() -> Any:
    with captured("ai-edge-quantizer"), warnings.catch_warnings():
        # Not ours, and harmless here: EfficientNet-Lite's pretrained weights have a few "dead"
        # conv channels (weights ~1e-9 after batch-norm folding, bias around -1). The quantizer
        # derives the int32 bias scale as input scale x weight scale (~1e-10), so bias / scale
        # (~1e10) exceeds int32; it clips to +-(2**31 - 1) in float32, which rounds to 2**31,
        # and numpy warns when casting that to int32. TFLite's own converter widens such
        # weight scales (AdjustWeightsForBiasScale); ai-edge-quantizer does not. Those channels
        # are constants that ReLU6 zeroes (negative bias) or that shift by < 0.2, and the int8
        # model agrees with the float one (int8_float_top1_agreement in every evaluation).
        warnings.filterwarnings(
            "ignore",
            message="invalid value encountered in cast",
            category=RuntimeWarning,
            module=r"ai_edge_quantizer\.algorithms\.uniform_quantize\.uniform_quantize_tensor",
        )
        # calibration keeps every tensor to read its range; LiteRT warns that this is for debugging
        warnings.filterwarnings(
            "ignore",
            message="Warning: Enabling `experimental_preserve_all",
            category=UserWarning,
            module=r"ai_edge_litert\.interpreter",
        )
        yield


def _calibrate(float_model: bytes, representative: Sequence[np.ndarray]) -> dict[str, Any]:
    """The quantizer's calibration of ``float_model``: every activation's {min, max}."""
    q, sig, in_name, _, _ = _quantizer(float_model)
    data = {sig: [{in_name: x[None].astype(np.float32)} for x in representative]}
    with _quantizer_quiet():
        return dict(q.calibrate(data, num_threads=2))


def _quantize(float_model: bytes, qsv: dict[str, Any]) -> bytes:
    """Static int8 of ``float_model`` from its calibration ``qsv``; the input range pinned to
    the normalization's, the output's to the probabilities' (the calibrated ranges are moving
    averages over the representative images); uint8 input and output."""
    q, _, _, in_tensor, out_tensor = _quantizer(float_model)
    qsv = dict(qsv)
    qsv[in_tensor] = {
        "min": np.full_like(qsv[in_tensor]["min"], INPUT_RANGE[0]),
        "max": np.full_like(qsv[in_tensor]["max"], INPUT_RANGE[1]),
    }
    qsv[out_tensor] = {
        "min": np.zeros_like(qsv[out_tensor]["min"]),
        "max": np.ones_like(qsv[out_tensor]["max"]),
    }
    with _quantizer_quiet():
        result = q.quantize(qsv, enable_progress_report=False)
    return tflite_io.to_uint8_interface(bytes(result.quantized_model))


def quantize_int8(float_model: bytes, representative: Sequence[np.ndarray]) -> bytes:
    """Static int8 with uint8 input (scale 1/128, zero point 127) and uint8 output; the
    layers :data:`FLOAT_LAYERS` names stay float32 (dequantized input, quantized output).
    Calibrates the whole model (a fine-tuned backbone with its head).

    ``representative``: normalized float NHWC images (no batch axis) from the train split.
    """
    return _quantize(float_model, _calibrate(float_model, representative))


# --- the grafted classifier: the backbone's calibration once per machine, the head's per model


CALIBRATION_VERSION = 1  # bump when what BackboneCalibration holds, or how, changes


class BackboneCalibration:
    """The quantizer's calibration of the pretrained features backbone on a representative set
    (its tensors' {min, max}), and the backbone's output for each of those images.

    A head grafted on the backbone (:func:`tflite_io.graft_linear_head`) changes none of the
    backbone's tensors, so a head-only retrain reuses this and only the head's logits range is
    computed (:meth:`grafted_qsv`), as the quantizer would: per image, then the quantizer's own
    moving average in the same order. Checked against calibrating the grafted model in full
    (tests/backends/local/ml/test_calibration.py)."""

    def __init__(
        self, qsv: dict[str, dict[str, np.ndarray]], features: np.ndarray, output: str
    ) -> None:
        self.qsv = qsv  # tensor name -> {"min", "max"}; the output under GRAFT_FEATURES
        self.features = features  # (n_images, d) float32, in the representative set's order
        self.output = output  # the backbone output's name: the graft's output takes it

    def grafted_qsv(self, weight: np.ndarray, bias: np.ndarray) -> dict[str, Any]:
        """The calibration of the backbone with this head grafted on (logits, then the
        softmax/sigmoid output, whose range :func:`_quantize` pins)."""
        from ai_edge_quantizer.algorithms.uniform_quantize.common_quantize import (
            get_activation_min_max,
        )
        from ai_edge_quantizer.utils.qsv_utils import moving_average_update

        logits = self.features @ np.asarray(weight, np.float32).T + np.asarray(bias, np.float32)
        range_: dict[str, np.ndarray] | None = None
        for row in logits.astype(np.float32):
            seen = get_activation_min_max(row[None])
            range_ = seen if range_ is None else moving_average_update(range_, seen)
        assert range_ is not None  # a representative set is never empty
        qsv = dict(self.qsv)
        qsv[tflite_io.GRAFT_LOGITS] = {"min": range_["min"], "max": range_["max"]}
        # the probabilities: a placeholder of the right shape, pinned to [0, 1] by _quantize
        qsv[self.output] = {"min": np.zeros_like(range_["min"]), "max": np.ones_like(range_["max"])}
        return qsv

    def save(self, path: Path) -> None:
        names = sorted(self.qsv)
        arrays = {
            "names": np.array(names),
            "features": self.features,
            "output": np.array(self.output),
        }
        for i, name in enumerate(names):
            arrays[f"min{i}"] = np.asarray(self.qsv[name]["min"])
            arrays[f"max{i}"] = np.asarray(self.qsv[name]["max"])
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]  # (mypy: a key could be allow_pickle)
        atomic_write(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> BackboneCalibration | None:
        """None when missing or unreadable (then it is computed again)."""
        try:
            with np.load(path, allow_pickle=False) as z:
                names = [str(n) for n in z["names"]]
                qsv = {n: {"min": z[f"min{i}"], "max": z[f"max{i}"]} for i, n in enumerate(names)}
                return cls(qsv, np.asarray(z["features"], np.float32), str(z["output"]))
        except (OSError, KeyError, ValueError):
            return None


def calibrate_backbone(
    features_model: bytes, representative: Sequence[np.ndarray]
) -> BackboneCalibration:
    """:class:`BackboneCalibration` of the features backbone, computed now."""
    from edgeops.runtime.litert import LiteRTRunner

    qsv = _calibrate(features_model, representative)
    runner = LiteRTRunner(features_model)
    output = runner.output["name"]
    qsv[tflite_io.GRAFT_FEATURES] = qsv.pop(output)  # the graft's name for it
    rows = [runner(x).reshape(-1) for x in representative]
    return BackboneCalibration(qsv, np.stack(rows).astype(np.float32), output)


def backbone_calibration(
    backbone: Backbone, representative: Sequence[np.ndarray]
) -> BackboneCalibration:
    """:func:`calibrate_backbone` of ``backbone``'s features model, kept in the machine cache
    (``calibration/``) under a hash of the converted backbone, the representative images'
    pixels, the quantizer's version, :data:`FLOAT_LAYERS` and :data:`CALIBRATION_VERSION`."""
    import importlib.metadata

    from edgeops.machine import cache_dir

    features = feature_backbone(backbone)
    h = hashlib.sha256()
    parts = [
        f"v{CALIBRATION_VERSION}",
        importlib.metadata.version("ai-edge-quantizer"),
        FLOAT_LAYERS,
        features.name,  # content-keyed (backbone_key)
        str(len(representative)),
    ]
    h.update("\n".join(parts).encode())
    for x in representative:
        h.update(np.ascontiguousarray(x, np.float32).tobytes())
    path = cache_dir() / "calibration" / f"{backbone.name}-{h.hexdigest()[:24]}.npz"
    found = BackboneCalibration.load(path)
    if found is not None:
        return found
    made = calibrate_backbone(features.read_bytes(), representative)
    made.save(path)
    return made


def quantize_grafted(
    float_model: bytes,
    calibration: BackboneCalibration,
    weight: np.ndarray,
    bias: np.ndarray,
) -> bytes:
    """:func:`quantize_int8` of a head grafted on the pretrained backbone, from the backbone's
    calibration and the head's logits range (no calibration run)."""
    return _quantize(float_model, calibration.grafted_qsv(weight, bias))


def with_metadata(
    model: bytes,
    *,
    labels: Sequence[str],
    backbone: Backbone,
    name: str,
    version: str,
    description: str,
    quantized: bool,
) -> bytes:
    return tflite_io.add_metadata(
        model,
        labels=labels,
        name=name,
        description=description,
        version=version,
        image_size=backbone.image_size,
        mean=NORM_MEAN,
        std=NORM_STD,
        quantized_output=quantized,
    )


def representative_set(
    train_images: Sequence[Path], seed: int, image_size: int, n: int = REPRESENTATIVE_IMAGES
) -> list[np.ndarray]:
    """Up to ``n`` train images, drawn by ``seed``, normalized."""
    rng = np.random.default_rng(seed)
    chosen = sorted(
        rng.choice(
            len(train_images),
            size=min(n, len(train_images)),
            replace=False,
        ).tolist()
    )
    return [normalize(to_input(load_rgb(train_images[i]), image_size)) for i in chosen]


def export_models(
    out_dir: Path,
    backbone: Backbone,
    weight: np.ndarray,
    bias: np.ndarray,
    *,
    net: Any,
    multi_label: bool,
    labels: Sequence[str],
    train_images: Sequence[Path],
    seed: int,
    name: str,
    version: int,
    description: str,
    reporter: Reporter,
) -> None:
    """The export phase: :data:`MODEL_FLOAT`, :data:`MODEL_INT8` and :data:`LABELS_TXT`.

    ``net``: the fine-tuned torch backbone, or None for the pretrained one; ``weight``, ``bias``:
    the calibrated head; the int8 model is calibrated on :func:`representative_set`.
    """

    def write_model(file: str, model: bytes, kind: str, quantized: bool) -> None:
        (out_dir / file).write_bytes(
            with_metadata(
                model,
                labels=labels,
                backbone=backbone,
                name=name,
                version=str(version),
                description=f"{description}, {kind}",
                quantized=quantized,
            )
        )

    with reporter.task("exporting TFLite models", 2) as task:
        float_model = classifier_float(backbone, weight, bias, multi_label, net=net)
        write_model(MODEL_FLOAT, float_model, "float32", quantized=False)
        task.advance()
        n = REPRESENTATIVE_IMAGES if net is None else REPRESENTATIVE_IMAGES_FINE_TUNED
        representative = representative_set(train_images, seed, backbone.image_size, n)
        if net is None:
            calibration = backbone_calibration(backbone, representative)
            int8_model = quantize_grafted(float_model, calibration, weight, bias)
        else:
            int8_model = quantize_int8(float_model, representative)
        write_model(MODEL_INT8, int8_model, "int8 (uint8 input/output)", quantized=True)
        task.advance()
    (out_dir / LABELS_TXT).write_text("".join(f"{lab}\n" for lab in labels))
