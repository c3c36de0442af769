"""Dataset sources -> a validated, content-hashed Manifest (backend-independent).

``scan_dataset`` reads a source declared in edgeops.yaml (zip, folder, csv or images), checks
every image and label against AutoML Vision Edge's rules and returns a ``Manifest``; any problem
raises one ``DatasetError`` listing them all. ``iter_image_bytes`` reads the original bytes back
for an importer. Pillow is imported only when images are decoded.
"""

from edgeops.datasets.readback import iter_image_bytes
from edgeops.datasets.scan import scan_dataset

__all__ = ["iter_image_bytes", "scan_dataset"]
