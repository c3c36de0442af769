"""Resource addresses: ``dataset.NAME``, ``model.NAME``, ``publish.MODEL.KIND``.

The one place that builds and splits them. Addresses travel as plain strings (in the plan's JSON,
in state rows, in messages); this module is how code makes one or reads one back. Names never
contain a dot (the schema's name rule), so the form is unambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["dataset", "model", "publish"]
KINDS: tuple[Kind, ...] = ("dataset", "model", "publish")


@dataclass(frozen=True, order=True)
class Address:
    kind: Kind
    name: str  # the dataset or model name (for publish: the model's name)
    target: str = ""  # publish only: the target kind (registry, bundle, ...)

    @classmethod
    def parse(cls, text: str) -> Address:
        """``Address.parse("publish.objects.bundle")``; ValueError for anything else."""
        kind, _, rest = text.partition(".")
        if kind == "publish":
            name, _, target = rest.partition(".")
            if name and target and "." not in target:
                return cls("publish", name, target)
        elif kind in ("dataset", "model") and rest and "." not in rest:
            return cls(kind, rest)  # type: ignore[arg-type]
        raise ValueError(
            f"'{text}' is not an address (dataset.NAME, model.NAME or publish.MODEL.KIND)"
        )

    def __str__(self) -> str:
        if self.kind == "publish":
            return f"publish.{self.name}.{self.target}"
        return f"{self.kind}.{self.name}"

    @property
    def model(self) -> str:
        """The model address a model or publish address belongs to."""
        if self.kind == "dataset":
            raise ValueError(f"{self} belongs to no model")
        return model_address(self.name)


def dataset_address(name: str) -> str:
    return f"dataset.{name}"


def model_address(name: str) -> str:
    return f"model.{name}"


def publish_address(model: str, target: str) -> str:
    return f"publish.{model}.{target}"


def kind_of(address: str) -> str:
    """``"model"`` for ``"model.objects"``."""
    return address.partition(".")[0]


def name_of(address: str) -> str:
    """The dataset or model name of an address (for publish: its model's name)."""
    return Address.parse(address).name


def as_model_address(text: str) -> str:
    """A model address from what a user typed: ``objects`` or ``model.objects``."""
    return text if text.startswith("model.") else model_address(text)
