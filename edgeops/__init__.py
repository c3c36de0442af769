"""edgeops: on-device image classification models as code."""

__version__ = "0.1.0"
