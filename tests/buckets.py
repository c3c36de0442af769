"""Names shared by the tests that use object-store emulators (see tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections import Counter

# Requests the S3 emulator answered, by HTTP method (tests read differences of it).
S3_REQUESTS: Counter[str] = Counter()


def new_bucket() -> str:
    return f"edgeops-test-{uuid.uuid4().hex[:12]}"
