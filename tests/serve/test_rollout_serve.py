"""A staged rollout served by a real `edgeops serve` on 127.0.0.1: the trained example's registry
entry `objects` rolls out `objects-candidate` (a second model trained once, on a small budget,
from the same dataset); clients are split by id, stay on their side, and follow promotion and
rollback without a restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_helpers import Server, start_server, stop_server
from test_serve_api import PHOTOS, instances
from trained_example import CANDIDATE_MODEL, copy_example, edgeops, ok

pytestmark = pytest.mark.slow

IDS = [f"user-{i}" for i in range(2000)]
REGISTRY = "      tags: [example]\n"


def set_rollout(root: Path, percent: float | None) -> None:
    """The `objects` entry rolls out objects-candidate at ``percent`` (None: no rollout)."""
    config = root / "edgeops.yaml"
    lines = [x for x in config.read_text().splitlines(keepends=True) if "rollout:" not in x]
    text = "".join(lines)
    if percent is not None:
        rollout = f"      rollout: {{candidate: objects-candidate, percent: {percent:g}}}\n"
        text = text.replace(REGISTRY, REGISTRY + rollout)
    config.write_text(text)


@pytest.fixture(scope="module")
def rollout_example(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_example(trained, tmp_path_factory.mktemp("rollout") / "ex")
    config = root / "edgeops.yaml"
    config.write_text(config.read_text().replace("\npublish:", "\n" + CANDIDATE_MODEL, 1))
    set_rollout(root, 10)
    plan = ok(edgeops(root, "plan"))
    assert "rollout added: 10% of clients -> model.objects-candidate" in plan, plan
    ok(edgeops(root, "apply", "--auto-approve"))  # trains the candidate (~25 s), then publishes
    return root


@pytest.fixture(scope="module")
def rollout_server(rollout_example: Path) -> Iterator[Server]:
    s = start_server(rollout_example)
    yield s
    assert stop_server(s), s.log.read_text()


def served(server: Server) -> tuple[str, str]:
    """(stable sha256, candidate sha256) of the `objects` entry as the server lists it."""
    (entry,) = [m for m in server.call("GET", "/v1/models").json()["models"]
                if m["name"] == "objects"]  # fmt: skip
    return entry["sha256"], entry["rollout"]["candidate"]["sha256"]


def arms(server: Server, ids: list[str], shas: tuple[str, str]) -> dict[str, str]:
    """client id -> arm, from /download revalidations (304: headers only, no 4 MB bodies)."""
    etags = ", ".join(f'"{s}"' for s in shas)
    out = {}
    for cid in ids:
        r = server.call(
            "GET", "/v1/models/objects/download",
            headers={"X-Client-Id": cid, "If-None-Match": etags},
        )  # fmt: skip
        assert r.status == 304, r.body
        arm = r.headers["x-edgeops-rollout-arm"]
        assert r.headers["etag"] == f'"{shas[0] if arm == "stable" else shas[1]}"'
        out[cid] = arm
    return out


def test_ten_percent_splits_2000_client_ids(rollout_server: Server) -> None:
    shas = served(rollout_server)
    assert shas[0] != shas[1]
    got = arms(rollout_server, IDS, shas)
    candidates = sum(arm == "candidate" for arm in got.values())
    assert 0.07 <= candidates / len(IDS) <= 0.13, candidates
    assert candidates == 181  # deterministic: sha256("objects:user-N")
    metrics = rollout_server.call("GET", "/metrics").body.decode()
    assert 'edgeops_rollout_requests_total{model="objects",arm="candidate"} ' in metrics


def test_a_client_stays_on_its_side_and_is_told_which_version(rollout_server: Server) -> None:
    stable_sha, candidate_sha = served(rollout_server)
    got = arms(rollout_server, IDS[:200], (stable_sha, candidate_sha))
    for cid in (next(c for c, a in got.items() if a == "candidate"),
                next(c for c, a in got.items() if a == "stable")):  # fmt: skip
        want = got[cid]
        body = instances(PHOTOS["fish"])
        replies = [
            rollout_server.post_json(
                "/v1/models/objects:predict",
                body,
            ),
            rollout_server.post_json(f"/v1/models/objects:predict?client_id={cid}", body),
            rollout_server.post_json("/v1/models/objects:predict", {**body, "client_id": cid}),
            rollout_server.post_json(
                "/v1/models/objects:predict", {**body, "parameters": {"client_id": cid}}
            ),
            rollout_server.call(
                "POST",
                "/v1/models/objects:predict",
                json.dumps(body).encode(),
                {"Content-Type": "application/json", "X-Client-Id": cid},
            ),  # fmt: skip
        ]
        no_id, with_id = replies[0], replies[1:]
        assert no_id.json()["rolloutArm"] == "stable" and no_id.json()["model"] == "objects"
        for r in with_id:
            assert r.status == 200, r.body
            d = r.json()
            assert d["rolloutArm"] == want
            assert d["model"] == ("objects-candidate" if want == "candidate" else "objects")
            assert d["sha256"] == (candidate_sha if want == "candidate" else stable_sha)
            assert r.headers["x-edgeops-model-version"] == str(d["modelVersion"]) == "1"
            assert r.headers["x-edgeops-rollout-arm"] == want
            assert d["predictions"][0]["displayNames"]


def test_bad_client_ids_are_400(rollout_server: Server) -> None:
    r = rollout_server.post_json(
        "/v1/models/objects:predict", {**instances(PHOTOS["fish"]), "client_id": 7}
    )
    assert r.status == 400 and "client_id must be text" in r.json()["error"]["message"]
    r = rollout_server.call(
        "GET", "/v1/models/objects/download", headers={"X-Client-Id": "x" * 300}
    )
    assert r.status == 400 and "at most 256" in r.json()["error"]["message"]


def test_promotion_then_rollback_without_restart(rollout_example: Path) -> None:
    server = start_server(rollout_example)
    try:
        shas = served(server)
        sample = IDS[:300]
        before = arms(server, sample, shas)
        assert 0 < sum(a == "candidate" for a in before.values()) < len(sample)

        set_rollout(rollout_example, 100)
        plan = ok(edgeops(rollout_example, "plan"))
        assert "rollout.percent 10 -> 100 (fully promoted" in plan, plan
        ok(edgeops(rollout_example, "apply", "--auto-approve"))
        assert set(arms(server, sample, shas).values()) == {"candidate"}

        set_rollout(rollout_example, None)
        plan = ok(edgeops(rollout_example, "plan"))
        assert "rollout removed (objects-candidate at 100%): rollback, every client back to v1" in (
            plan
        ), plan
        ok(edgeops(rollout_example, "apply", "--auto-approve"))
        listed = server.call("GET", "/v1/models").json()["models"]
        assert "rollout" not in next(m for m in listed if m["name"] == "objects")
        after = arms(server, sample, (shas[0], shas[0]))
        assert set(after.values()) == {"stable"}
        assert "No changes." in ok(edgeops(rollout_example, "plan"))
    finally:
        set_rollout(rollout_example, 10)  # the module's other tests expect the 10% rollout
        ok(edgeops(rollout_example, "apply", "--auto-approve"))
        assert stop_server(server), server.log.read_text()
