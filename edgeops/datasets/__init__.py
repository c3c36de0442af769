"""Dataset sources -> a validated, content-hashed Manifest (backend-independent).

``scan_dataset`` reads a source declared in edgeops.yaml (zip, folder, csv or images), checks
every image and label against AutoML Vision Edge's rules and returns a ``Manifest``; any problem
raises one ``DatasetError`` listing them all. ``iter_image_bytes``/``open_image`` read the
original bytes back for an importer. Pillow is imported only when images are decoded.
"""

from edgeops.datasets.manifest import ImageRecord, Manifest
from edgeops.datasets.scan import iter_image_bytes, open_image, scan_dataset

__all__ = ["ImageRecord", "Manifest", "iter_image_bytes", "open_image", "scan_dataset"]
