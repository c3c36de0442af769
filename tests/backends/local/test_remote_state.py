"""The local backend with its state in a bucket: S3 (moto in server mode, through boto3) and Cloud
Storage (fake-gcs-server, through google-cloud-storage), on 127.0.0.1. Two "machines" are two
checkouts with two cache folders sharing one bucket."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from buckets import S3_REQUESTS

from edgeops import cli
from edgeops.errors import EdgeopsError
from edgeops.objectstore import lease as leases
from edgeops.objectstore import open_store
from edgeops.progress import NullReporter
from edgeops.workflow import open_session

Run = Callable[..., tuple[int, str, str]]
PREFIX = "team/objects"


@pytest.fixture(params=["s3", "gcs"])
def bucket(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """(state URL, endpoint_url) of a fresh bucket prefix."""
    if request.param == "s3":
        name = request.getfixturevalue("s3_bucket")
        return f"s3://{name}/{PREFIX}", request.getfixturevalue("s3_endpoint")
    return f"gs://{request.getfixturevalue('gcs_bucket')}/{PREFIX}", None


def checkout(repo: Path, where: Path, url: str, endpoint: str | None, **local: object) -> Path:
    """A copy of ``repo`` (another machine's checkout) whose state is in the bucket."""
    shutil.copytree(repo, where, ignore=shutil.ignore_patterns(".edgeops"))
    config = yaml.safe_load((where / "edgeops.yaml").read_text())
    config["backend"] = {"local": {"path": url, **local}}
    if endpoint:
        config["backend"]["local"]["endpoint_url"] = endpoint
    (where / "edgeops.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return where


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """``run(machine, "plan")`` -> (exit code, stdout, stderr): the CLI in ``machine`` with that
    machine's own cache folder."""
    monkeypatch.chdir(tmp_path)

    def _run(machine: Path, *args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("EDGEOPS_CACHE_DIR", str(tmp_path / f"cache-{machine.name}"))
        capsys.readouterr()
        code = cli.main(["-C", str(machine), *args])
        monkeypatch.chdir(tmp_path)
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    return _run


def _last_line(out: str) -> str:
    return out.rstrip("\n").splitlines()[-1]


def test_two_machines_share_one_state(
    repo: Path,
    tmp_path: Path,
    bucket: tuple[str, str | None],
    run: Run,
    make_images: Callable[[Path, dict[str, int]], list[Path]],
) -> None:
    url, endpoint = bucket
    a = checkout(repo, tmp_path / "a", url, endpoint)
    b = checkout(repo, tmp_path / "b", url, endpoint)
    code, out, _ = run(a, "apply", "--auto-approve")
    assert code == 0, out
    code, out, _ = run(b, "plan")
    assert code == 0 and _last_line(out) == "No changes."
    store = open_store(url, endpoint_url=endpoint)
    keys = store.list()
    assert "registry.sqlite" in keys and "lock.json" not in keys
    assert sum(k.startswith("store/") for k in keys) == 24  # every image, once
    # nothing of the state is in either checkout: it is in the bucket and the caches
    assert not (a / ".edgeops").exists() and not (b / ".edgeops").exists()

    # what b applies, a sees
    make_images(b / "data", {"bird": 10})
    code, out, _ = run(b, "apply", "--auto-approve")
    assert code == 0 and "Apply complete" in out
    code, out, _ = run(a, "show", "--json")
    assert code == 0 and '"bird"' in out


def test_a_second_apply_uploads_nothing_and_a_no_change_plan_costs_a_few_requests(
    repo: Path,
    tmp_path: Path,
    s3_bucket: str,
    s3_endpoint: str,
    run: Run,
    make_images: Callable[[Path, dict[str, int]], list[Path]],
) -> None:
    url = f"s3://{s3_bucket}/{PREFIX}"
    a = checkout(repo, tmp_path / "a", url, s3_endpoint)
    b = checkout(repo, tmp_path / "b", url, s3_endpoint)
    assert run(a, "apply", "--auto-approve")[0] == 0

    before = S3_REQUESTS.copy()
    code, out, _ = run(b, "apply", "--auto-approve")  # another machine, nothing to do
    assert code == 0 and _last_line(out) == "No changes."
    used = S3_REQUESTS - before
    # the lock (created, then deleted) and nothing else: not one image uploaded again, no
    # registry write
    assert used["PUT"] == 1 and used["DELETE"] == 1, used

    before = S3_REQUESTS.copy()
    assert _last_line(run(b, "plan")[1]) == "No changes."
    warm = S3_REQUESTS - before
    # 24 images, and then 10 times as many: the same small number of requests
    make_images(a / "data", {"cat": 108, "dog": 108})
    assert run(a, "apply", "--auto-approve")[0] == 0
    shutil.rmtree(b / "data")
    shutil.copytree(a / "data", b / "data")
    before = S3_REQUESTS.copy()
    assert _last_line(run(b, "plan")[1]) == "No changes."
    first = S3_REQUESTS - before  # b's copy of the registry is behind a's apply: one GET more
    before = S3_REQUESTS.copy()
    assert _last_line(run(b, "plan")[1]) == "No changes."
    big = S3_REQUESTS - before
    assert first == {"HEAD": 1, "GET": 1}
    assert big == warm == {"HEAD": 1}, (warm, big)


def test_a_lost_race_is_an_error_naming_what_changed_never_a_lost_update(
    repo: Path,
    tmp_path: Path,
    s3_bucket: str,
    s3_endpoint: str,
    make_images: Callable[[Path, dict[str, int]], list[Path]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"s3://{s3_bucket}/{PREFIX}"
    a = checkout(repo, tmp_path / "a", url, s3_endpoint)
    b = checkout(repo, tmp_path / "b", url, s3_endpoint)
    make_images(b / "data", {"bird": 10})
    monkeypatch.setenv("EDGEOPS_CACHE_DIR", str(tmp_path / "cache-a"))
    first = open_session(a / "edgeops.yaml", NullReporter())
    monkeypatch.setenv("EDGEOPS_CACHE_DIR", str(tmp_path / "cache-b"))
    second = open_session(b / "edgeops.yaml", NullReporter())
    plan_a, plan_b = first.plan(), second.plan()  # both read the empty state
    first.apply(plan_a)
    with pytest.raises(EdgeopsError, match="changed by another edgeops since this command read"):
        second.apply(plan_b)  # without the lock, as a buggy or lock-less client would
    third = open_session(a / "edgeops.yaml", NullReporter())
    live = third.backend.read().datasets["dataset.pets"]
    assert {label for r in live.images for label in r.labels} == {"cat", "dog"}  # a's, intact


def test_a_held_lock_refuses_an_apply_naming_its_holder_and_unlock_removes_it(
    repo: Path, tmp_path: Path, bucket: tuple[str, str | None], run: Run
) -> None:
    url, endpoint = bucket
    b = checkout(repo, tmp_path / "b", url, endpoint)
    store = open_store(url, endpoint_url=endpoint)
    with leases.Lease(store, "edgeops apply", heartbeat_every=0.2):
        code, _, err = run(b, "apply", "--auto-approve")
        assert code == 1
        assert "another apply holds the lock" in err and f"pid {os.getpid()}" in err
    assert store.head("lock.json") is None  # released

    store.put("lock.json", b'{"host": "ci-runner-7", "pid": 4242, "started_at": "x"}')
    code, out, _ = run(b, "unlock")
    assert code == 0 and "Removed the lock held by" in out and "ci-runner-7" in out
    assert store.head("lock.json") is None


def test_a_lock_whose_heartbeat_stopped_is_taken_over(
    repo: Path, tmp_path: Path, s3_bucket: str, s3_endpoint: str, run: Run
) -> None:
    url = f"s3://{s3_bucket}/{PREFIX}"
    lock = {"heartbeat_seconds": 1, "stale_after_seconds": 3}
    b = checkout(repo, tmp_path / "b", url, s3_endpoint, lock=lock)
    store = open_store(url, endpoint_url=s3_endpoint)
    fresh = leases.holder("edgeops apply") | {"host": "another-machine", "pid": 1}
    store.put("lock.json", leases._encode(fresh))
    code, _, err = run(b, "apply", "--auto-approve")
    assert code == 1 and "another-machine" in err  # its heartbeat is recent
    old = datetime.now(UTC) - timedelta(seconds=5)
    stale = fresh | {"heartbeat_at": old.isoformat(), "started_at": old.isoformat()}
    store.put("lock.json", leases._encode(stale))
    code, out, _ = run(b, "apply", "--auto-approve")
    assert code == 0 and "Apply complete" in out
    assert store.head("lock.json") is None


def test_migrate_state_from_a_folder_to_a_bucket_and_back(
    repo: Path, tmp_path: Path, bucket: tuple[str, str | None], run: Run
) -> None:
    url, endpoint = bucket
    assert run(repo, "apply", "--auto-approve")[0] == 0
    folder_config = (repo / "edgeops.yaml").read_text()
    moved = checkout(repo, tmp_path / "moved", url, endpoint)
    shutil.copytree(repo / ".edgeops", moved / ".edgeops")
    code, out, _ = run(moved, "migrate-state", "--from", ".edgeops")
    assert code == 0 and "24 images" in out, out
    assert _last_line(run(moved, "plan")[1]) == "No changes."
    code, _, err = run(moved, "migrate-state", "--from", ".edgeops")
    assert code == 1 and "already holds edgeops state" in err and "--force" in err
    assert run(moved, "migrate-state", "--from", ".edgeops", "--force")[0] == 0

    # and back into another folder
    (moved / "edgeops.yaml").write_text(folder_config.replace("path: .edgeops", "path: back"))
    args = ["migrate-state", "--from", url] + (["--endpoint-url", endpoint] if endpoint else [])
    code, out, _ = run(moved, *args)
    assert code == 0, out
    assert (moved / "back" / "registry.sqlite").exists()
    assert _last_line(run(moved, "plan")[1]) == "No changes."


def test_missing_credentials_are_one_screen_error_naming_the_bucket(
    repo: Path, tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, run: Run
) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    b = checkout(repo, tmp_path / "b", f"s3://team-state-x/{PREFIX}", s3_endpoint)
    code, _, err = run(b, "plan")
    assert code == 1
    assert "team-state-x" in err and "AWS_" in err
    assert len(err.splitlines()) <= 8


# --- kill -9 mid-training; the other machine converges (real training) ----------------------

TRAINED = """
version: 1
backend:
  local:
    path: URL
    endpoint_url: ENDPOINT
    lock: {heartbeat_seconds: 1, stale_after_seconds: 4}
datasets:
  pets:
    source: {folder: data}
models:
  pets:
    dataset: pets
    budget: {node_hours: 0.05}
    training: {augment: false}
publish:
  pets:
    registry: {display_name: pets}
"""


def _bucket_registry_status(url: str, endpoint: str, scratch: Path) -> str | None:
    """The status of the newest model version in the bucket's registry document."""
    blob = open_store(url, endpoint_url=endpoint).get("registry.sqlite")
    if blob is None:
        return None
    scratch.write_bytes(blob.data)  # a WAL-mode database: read it from a file
    db = sqlite3.connect(scratch)
    try:
        row = db.execute("SELECT status FROM model_versions ORDER BY version DESC").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()
    return row[0] if row else None


@pytest.mark.slow
def test_kill_9_mid_training_then_another_machine_converges(
    tmp_path: Path,
    s3_bucket: str,
    s3_endpoint: str,
    make_images: Callable[[Path, dict[str, int]], list[Path]],
    run: Run,
) -> None:
    url = f"s3://{s3_bucket}/{PREFIX}"
    a, b = tmp_path / "a", tmp_path / "b"
    for machine in (a, b):
        machine.mkdir()
        (machine / "edgeops.yaml").write_text(
            TRAINED.replace("URL", url).replace("ENDPOINT", s3_endpoint)
        )
    make_images(a / "data", {"cat": 12, "dog": 12})
    shutil.copytree(a / "data", b / "data")

    env = {**os.environ, "EDGEOPS_CACHE_DIR": str(tmp_path / "cache-a"), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeops", "apply", "--auto-approve"],
        cwd=a,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while _bucket_registry_status(url, s3_endpoint, tmp_path / "peek.sqlite") != "training":
            assert proc.poll() is None, "the apply ended before training started"
            assert time.monotonic() < deadline, "training never started"
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    code, out, err = run(b, "apply", "--auto-approve")  # takes the dead holder's lock over
    assert code == 0, out + err
    assert "Apply complete" in out and "publish.pets.registry: now serves v1" in out + err
    assert _bucket_registry_status(url, s3_endpoint, tmp_path / "peek.sqlite") == "ready"
    assert _last_line(run(a, "plan")[1]) == "No changes."
    code, out, _ = run(a, "eval", "model.pets")
    assert code == 0 and "model.pets v1" in out
    # a's machine serves what b published: the files come from the bucket
    session = open_session(a / "edgeops.yaml", NullReporter())
    registry = session.backend.prepare_serving()  # type: ignore[attr-defined]
    assert registry.exists()
    assert session.backend.model_file("model.pets", 1).exists()  # type: ignore[attr-defined]
