"""Rollout assignment without a server: deterministic buckets, the share per percent, stickiness."""

from __future__ import annotations

import hashlib

from edgeops.serve.models import client_bucket, in_candidate_arm

IDS = [f"user-{i}" for i in range(2000)]


def test_bucket_is_the_documented_hash() -> None:
    want = int(hashlib.sha256(b"objects:user-7").hexdigest()[:8], 16) % 10000
    assert client_bucket("objects", "user-7") == want
    assert 0 <= want < 10000


def test_ten_percent_of_2000_ids_is_within_three_points() -> None:
    chosen = [i for i in IDS if in_candidate_arm("objects", i, 10)]
    assert 0.07 <= len(chosen) / len(IDS) <= 0.13
    assert len(chosen) == 181  # deterministic: the hash of "objects:user-N"
    assert sum(in_candidate_arm("pets", i, 10) for i in IDS) == 213  # another entry, other split


def test_raising_the_percent_keeps_every_candidate_client_on_the_candidate() -> None:
    previous: set[str] = set()
    for percent in (0, 0.5, 10, 12.5, 50, 99.9, 100):
        now = {i for i in IDS if in_candidate_arm("objects", i, percent)}
        assert previous <= now
        previous = now
    assert len(previous) == len(IDS)


def test_no_client_id_is_the_stable_side_even_at_100_percent() -> None:
    assert not in_candidate_arm("objects", None, 100)
    assert not in_candidate_arm("objects", "", 100)
