"""Flatbuffer surgery on ``.tflite`` files: a linear head grafted on a converted backbone, uint8
interface and TFLite metadata.

Why here and not a library:
- The float32 classifier is the feature backbone (already converted, in the machine cache) with
  the head appended: FULLY_CONNECTED (weights, bias) then SOFTMAX, or LOGISTIC for multi-label,
  after the pooled features, the ops and versions litert-torch itself emits for backbone + head.
  A second litert-torch conversion of backbone + head would give the same graph in ~15 s.
- ai-edge-quantizer's static int8 model has int8 input/output; MediaPipe and ML Kit accept only
  uint8 or float32 inputs. We put a QUANTIZE (uint8 -> int8) in front and a QUANTIZE
  (int8 -> uint8) behind, as TensorFlow's converter does for ``inference_input_type=uint8``.
  With the input range pinned to [-127/128, 1], the uint8 input is scale 1/128, zero point 127:
  raw RGB pixels, exactly the normalization (mean 127, std 128) the metadata declares.
- The quantizer stores buffers after the flatbuffer (offset/size); ``flatbuffer_utils``
  re-inlines them when it reads the model, so the file we write is self-contained.
- mediapipe 1.2.3's metadata writer cannot be imported (a native module it needs is not in the
  wheel), so we write the metadata flatbuffer (schema ``metadata_schema.fbs``, identifier
  ``M001``) with the flatbuffers builder, and append the associated ``labels.txt`` as a zip,
  which is how TFLite metadata packs associated files.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from typing import Any

METADATA_NAME = "TFLITE_METADATA"
MIN_PARSER_VERSION = "1.0.0"

# metadata_schema.fbs enums
_CONTENT_FEATURE = 1  # ContentProperties.FeatureProperties
_CONTENT_IMAGE = 2  # ContentProperties.ImageProperties
_COLOR_RGB = 1
_PROCESS_NORMALIZATION = 1  # ProcessUnitOptions.NormalizationOptions
_FILE_TENSOR_AXIS_LABELS = 2


def _read(model_bytes: bytes) -> Any:
    import numpy as np
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(model_bytes))
    # Buffers stored after the flatbuffer (ai-edge-quantizer's output) come back as bytearray
    # slices, which the generated Pack writes one byte per Python call (~8 s for a 4 MB model,
    # most of the export); as numpy arrays they are written in one copy.
    for buf in model.buffers:
        if buf.data is not None and not isinstance(buf.data, np.ndarray):
            buf.data = np.frombuffer(bytes(buf.data), np.uint8)
    return model


def _write(model: Any) -> bytes:
    from ai_edge_litert.tools import flatbuffer_utils

    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _opcode_index(model: Any, builtin: int) -> int:
    from ai_edge_litert import schema_py_generated as fb
    from ai_edge_litert.tools import flatbuffer_utils

    for i, code in enumerate(model.operatorCodes):
        if flatbuffer_utils.get_builtin_code_from_operator_code(code) == builtin:
            return i
    code = fb.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _opcode_version(model: Any, index: int, version: int) -> None:
    model.operatorCodes[index].version = max(model.operatorCodes[index].version, version)


def _float_tensor(sg: Any, name: bytes, shape: list[int], buffer: int = 0) -> int:
    """A new float32 tensor in subgraph ``sg`` (``buffer`` 0: an activation); its index."""
    from ai_edge_litert import schema_py_generated as fb

    t = fb.TensorT()
    t.name = name
    t.shape = shape
    t.type = fb.TensorType.FLOAT32
    t.buffer = buffer
    t.quantization = fb.QuantizationParametersT()  # empty, as the converter writes it
    sg.tensors.append(t)
    return len(sg.tensors) - 1


def _constant(model: Any, sg: Any, name: bytes, array: Any) -> int:
    """A new float32 constant tensor (and its buffer) holding ``array``; its index."""
    import numpy as np
    from ai_edge_litert import schema_py_generated as fb

    buf = fb.BufferT()
    buf.data = np.frombuffer(np.ascontiguousarray(array, np.float32).tobytes(), np.uint8)
    model.buffers.append(buf)
    return _float_tensor(sg, name, list(array.shape), len(model.buffers) - 1)


GRAFT_FEATURES = "features"  # the grafted model's name for the backbone's output
GRAFT_LOGITS = "head/logits"  # ... and for the head's logits (before softmax/sigmoid)


def graft_linear_head(features_model: bytes, weight: Any, bias: Any, *, multi_label: bool) -> bytes:
    """The float features backbone (NHWC image -> pooled features (1, d)) with a linear head:
    ``softmax(x @ weight.T + bias)`` (``sigmoid`` for multi-label) becomes its single output,
    under the output's name and signature, as litert-torch converts backbone + head."""
    import numpy as np
    from ai_edge_litert import schema_py_generated as fb

    weight = np.asarray(weight, np.float32)
    bias = np.asarray(bias, np.float32)
    model = _read(features_model)
    if len(model.subgraphs) != 1 or len(model.subgraphs[0].outputs) != 1:
        raise ValueError("expected a single-subgraph, single-output features model")
    sg = model.subgraphs[0]
    feat_idx = sg.outputs[0]
    feat = sg.tensors[feat_idx]
    n, d = weight.shape
    if list(feat.shape) != [1, d] or feat.type != fb.TensorType.FLOAT32 or bias.shape != (n,):
        raise ValueError(f"cannot graft a ({n}, {d}) head on features of shape {list(feat.shape)}")
    out_name = feat.name
    feat.name = GRAFT_FEATURES.encode()

    w_idx = _constant(model, sg, b"head/weight", weight)
    b_idx = _constant(model, sg, b"head/bias", bias)
    logits = _float_tensor(sg, GRAFT_LOGITS.encode(), [1, n])
    probs = _float_tensor(sg, out_name, [1, n])

    fc = fb.OperatorT()
    fc.opcodeIndex = _opcode_index(model, fb.BuiltinOperator.FULLY_CONNECTED)
    _opcode_version(model, fc.opcodeIndex, 5)  # keep_num_dims, as litert-torch writes it
    fc.inputs = [feat_idx, w_idx, b_idx]
    fc.outputs = [logits]
    fc.builtinOptionsType = fb.BuiltinOptions.FullyConnectedOptions
    fc.builtinOptions = fb.FullyConnectedOptionsT()
    fc.builtinOptions.fusedActivationFunction = fb.ActivationFunctionType.NONE
    fc.builtinOptions.keepNumDims = True
    act = fb.OperatorT()
    act.inputs = [logits]
    act.outputs = [probs]
    if multi_label:
        act.opcodeIndex = _opcode_index(model, fb.BuiltinOperator.LOGISTIC)
    else:
        act.opcodeIndex = _opcode_index(model, fb.BuiltinOperator.SOFTMAX)
        act.builtinOptionsType = fb.BuiltinOptions.SoftmaxOptions
        act.builtinOptions = fb.SoftmaxOptionsT()
        act.builtinOptions.beta = 1.0
    sg.operators += [fc, act]
    sg.outputs = [probs]
    for sig in model.signatureDefs or []:
        for tm in sig.outputs or []:
            if tm.tensorIndex == feat_idx:
                tm.tensorIndex = probs
    _min_runtime_version(model, "2.0.0")  # FULLY_CONNECTED version 5
    return _write(model)


def _min_runtime_version(model: Any, version: str) -> None:
    """Raises the ``min_runtime_version`` metadata (a zero-padded string) to ``version``."""
    import numpy as np

    for entry in model.metadata or []:
        if entry.name == b"min_runtime_version":
            buf = model.buffers[entry.buffer]
            old = bytes(bytearray(buf.data))
            current = old.rstrip(b"\0").decode()
            if tuple(map(int, current.split("."))) < tuple(map(int, version.split("."))):
                new = version.encode().ljust(max(len(old), len(version)), b"\0")
                buf.data = np.frombuffer(new, np.uint8)


def _quant(scale: float, zero_point: int) -> Any:
    from ai_edge_litert import schema_py_generated as fb

    q = fb.QuantizationParametersT()
    q.scale = [float(scale)]
    q.zeroPoint = [int(zero_point)]
    q.quantizedDimension = 0
    return q


def to_uint8_interface(model_bytes: bytes) -> bytes:
    """int8 input/output -> uint8 input/output (same scales, zero points shifted by 128)."""
    from ai_edge_litert import schema_py_generated as fb

    model = _read(model_bytes)
    if len(model.subgraphs) != 1:
        raise ValueError("expected a single-subgraph model")
    sg = model.subgraphs[0]
    q_op = _opcode_index(model, fb.BuiltinOperator.QUANTIZE)

    def uint8_twin(tensor: Any, name: bytes) -> int:
        if tensor.type != fb.TensorType.INT8:
            raise ValueError(f"expected an int8 tensor, got type {tensor.type}")
        qp = tensor.quantization
        t = fb.TensorT()
        t.name = name
        t.shape = list(tensor.shape)
        if tensor.shapeSignature is not None:
            t.shapeSignature = list(tensor.shapeSignature)
        t.type = fb.TensorType.UINT8
        t.buffer = 0
        t.quantization = _quant(qp.scale[0], int(qp.zeroPoint[0]) + 128)
        sg.tensors.append(t)
        return len(sg.tensors) - 1

    def op(inp: int, out: int) -> Any:
        o = fb.OperatorT()
        o.opcodeIndex = q_op
        o.inputs = [inp]
        o.outputs = [out]
        o.builtinOptionsType = fb.BuiltinOptions.QuantizeOptions
        o.builtinOptions = fb.QuantizeOptionsT()
        return o

    remap: dict[int, int] = {}
    new_inputs = []
    for idx in sg.inputs:
        old = sg.tensors[idx]
        name = old.name
        old.name = name + b"_int8"
        new = uint8_twin(old, name)
        sg.operators.insert(0, op(new, idx))
        new_inputs.append(new)
        remap[idx] = new
    new_outputs = []
    for idx in sg.outputs:
        old = sg.tensors[idx]
        name = old.name
        old.name = name + b"_int8"
        new = uint8_twin(old, name)
        sg.operators.append(op(idx, new))
        new_outputs.append(new)
        remap[idx] = new
    sg.inputs = new_inputs
    sg.outputs = new_outputs
    for sig in model.signatureDefs or []:
        for tm in list(sig.inputs or []) + list(sig.outputs or []):
            tm.tensorIndex = remap.get(tm.tensorIndex, tm.tensorIndex)
    return _write(model)


def _metadata_flatbuffer(
    *,
    name: str,
    description: str,
    version: str,
    labels_file: str,
    labels_description: str,
    image_size: int,
    mean: float,
    std: float,
    min_score: float,
    max_score: float,
    author: str,
) -> bytes:
    import flatbuffers

    b = flatbuffers.Builder(1024)

    def string(s: str) -> int:
        return b.CreateString(s)

    def vector_of_offsets(offsets: Sequence[int]) -> int:
        b.StartVector(4, len(offsets), 4)
        for o in reversed(offsets):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    def vector_of_floats(values: Sequence[float]) -> int:
        b.StartVector(4, len(values), 4)
        for v in reversed(values):
            b.PrependFloat32(v)
        return b.EndVector()

    def stats(lo: float, hi: float) -> int:
        vmax, vmin = vector_of_floats([hi]), vector_of_floats([lo])
        b.StartObject(2)  # Stats {max, min}
        b.PrependUOffsetTRelativeSlot(0, vmax, 0)
        b.PrependUOffsetTRelativeSlot(1, vmin, 0)
        return b.EndObject()

    # --- input tensor: image, RGB, normalization ---
    b.StartObject(2)  # ImageSize {width, height}
    b.PrependUint32Slot(0, image_size, 0)
    b.PrependUint32Slot(1, image_size, 0)
    img_size = b.EndObject()
    b.StartObject(2)  # ImageProperties {color_space, default_size}
    b.PrependInt8Slot(0, _COLOR_RGB, 0)
    b.PrependUOffsetTRelativeSlot(1, img_size, 0)
    img_props = b.EndObject()
    b.StartObject(3)  # Content {content_properties_type, content_properties, range}
    b.PrependUint8Slot(0, _CONTENT_IMAGE, 0)
    b.PrependUOffsetTRelativeSlot(1, img_props, 0)
    in_content = b.EndObject()
    vmean, vstd = vector_of_floats([mean]), vector_of_floats([std])
    b.StartObject(2)  # NormalizationOptions {mean, std}
    b.PrependUOffsetTRelativeSlot(0, vmean, 0)
    b.PrependUOffsetTRelativeSlot(1, vstd, 0)
    norm = b.EndObject()
    b.StartObject(2)  # ProcessUnit {options_type, options}
    b.PrependUint8Slot(0, _PROCESS_NORMALIZATION, 0)
    b.PrependUOffsetTRelativeSlot(1, norm, 0)
    pu = b.EndObject()
    pus = vector_of_offsets([pu])
    in_stats = stats(0.0, 255.0)
    in_name, in_desc = string("image"), string("Input image to be classified (RGB).")
    b.StartObject(7)  # TensorMetadata
    b.PrependUOffsetTRelativeSlot(0, in_name, 0)
    b.PrependUOffsetTRelativeSlot(1, in_desc, 0)
    b.PrependUOffsetTRelativeSlot(3, in_content, 0)
    b.PrependUOffsetTRelativeSlot(4, pus, 0)
    b.PrependUOffsetTRelativeSlot(5, in_stats, 0)
    in_tm = b.EndObject()

    # --- output tensor: scores with labels ---
    b.StartObject(0)  # FeatureProperties {}
    feat = b.EndObject()
    b.StartObject(3)
    b.PrependUint8Slot(0, _CONTENT_FEATURE, 0)
    b.PrependUOffsetTRelativeSlot(1, feat, 0)
    out_content = b.EndObject()
    f_name, f_desc = string(labels_file), string(labels_description)
    b.StartObject(5)  # AssociatedFile {name, description, type, locale, version}
    b.PrependUOffsetTRelativeSlot(0, f_name, 0)
    b.PrependUOffsetTRelativeSlot(1, f_desc, 0)
    b.PrependInt8Slot(2, _FILE_TENSOR_AXIS_LABELS, 0)
    assoc = b.EndObject()
    assocs = vector_of_offsets([assoc])
    out_stats = stats(min_score, max_score)
    out_name, out_desc = string("probability"), string("Probabilities of the labels.")
    b.StartObject(7)
    b.PrependUOffsetTRelativeSlot(0, out_name, 0)
    b.PrependUOffsetTRelativeSlot(1, out_desc, 0)
    b.PrependUOffsetTRelativeSlot(3, out_content, 0)
    b.PrependUOffsetTRelativeSlot(5, out_stats, 0)
    b.PrependUOffsetTRelativeSlot(6, assocs, 0)
    out_tm = b.EndObject()

    ins, outs = vector_of_offsets([in_tm]), vector_of_offsets([out_tm])
    b.StartObject(10)  # SubGraphMetadata
    b.PrependUOffsetTRelativeSlot(2, ins, 0)
    b.PrependUOffsetTRelativeSlot(3, outs, 0)
    sub = b.EndObject()
    subs = vector_of_offsets([sub])
    m_name, m_desc, m_ver = string(name), string(description), string(version)
    m_author, m_parser = string(author), string(MIN_PARSER_VERSION)
    b.StartObject(8)  # ModelMetadata
    b.PrependUOffsetTRelativeSlot(0, m_name, 0)
    b.PrependUOffsetTRelativeSlot(1, m_desc, 0)
    b.PrependUOffsetTRelativeSlot(2, m_ver, 0)
    b.PrependUOffsetTRelativeSlot(3, subs, 0)
    b.PrependUOffsetTRelativeSlot(4, m_author, 0)
    b.PrependUOffsetTRelativeSlot(7, m_parser, 0)
    root = b.EndObject()
    b.Finish(root, file_identifier=b"M001")
    return bytes(b.Output())


def add_metadata(
    model_bytes: bytes,
    *,
    labels: Sequence[str],
    name: str,
    description: str,
    version: str,
    image_size: int,
    mean: float,
    std: float,
    quantized_output: bool,
) -> bytes:
    """Returns the model with TFLite metadata (labels as associated file, normalization).

    MediaPipe's ImageClassifier and ML Kit custom models read both.
    """
    import numpy as np
    from ai_edge_litert import schema_py_generated as fb

    labels_txt = "".join(f"{lab}\n" for lab in labels)
    meta = _metadata_flatbuffer(
        name=name,
        description=description,
        version=version,
        labels_file="labels.txt",
        labels_description="Labels, one per line, in output order.",
        image_size=image_size,
        mean=mean,
        std=std,
        min_score=0.0,
        max_score=1.0,
        author="edgeops",
    )
    model = _read(model_bytes)
    model.metadata = [m for m in (model.metadata or []) if m.name != METADATA_NAME.encode()]
    buf = fb.BufferT()
    buf.data = np.frombuffer(meta, np.uint8)
    model.buffers.append(buf)
    entry = fb.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)
    body = _write(model)
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_STORED) as z:
        info = zipfile.ZipInfo("labels.txt", date_time=(1980, 1, 1, 0, 0, 0))
        z.writestr(info, labels_txt)
    return _append_zip(body, zbuf.getvalue())


def _append_zip(body: bytes, zip_bytes: bytes) -> bytes:
    """Concatenates a zip after the model, fixing the zip's offsets so readers find entries."""
    src = zipfile.ZipFile(io.BytesIO(zip_bytes))
    out = io.BytesIO()
    out.write(body)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_STORED) as z:
        for info in src.infolist():
            z.writestr(info, src.read(info.filename))
    return out.getvalue()


def read_metadata(model_bytes: bytes) -> dict[str, Any]:
    """What :func:`add_metadata` wrote, read back (for tests and ``edgeops`` inspection)."""
    model = _read(model_bytes)
    entry = next((m for m in model.metadata or [] if m.name == METADATA_NAME.encode()), None)
    if entry is None:
        return {}
    raw = bytes(bytearray(model.buffers[entry.buffer].data))
    files: dict[str, str] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(model_bytes)) as z:
            files = {n: z.read(n).decode() for n in z.namelist()}
    except zipfile.BadZipFile:
        pass
    return {"identifier": raw[4:8].decode("latin1"), "size": len(raw), "files": files}
