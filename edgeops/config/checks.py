"""Cross-field checks the JSON Schema cannot express, in one place.

They run on the plain document after it passed schema validation (so shapes and types are known
to be right) and return every problem found; the loader adds file and line and raises.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from edgeops.config.model import StateLockSpec

ConfigPath = tuple[str | int, ...]
LineOf = Callable[[ConfigPath], int]

GOOGLE_ONLY_TARGETS = ("firebase", "gcs")
# target kind -> why the google backend refuses it, and what to use instead
LOCAL_ONLY_TARGETS = {
    "online": "`online` targets need the local backend: Vertex AI AutoML Edge models "
    "cannot be deployed for online prediction; publish with `gcs`, `firebase`, "
    "`registry` or `bundle` instead",
    "mlflow": "`mlflow` targets need the local backend (a run logs the version's files from "
    "this machine's model store); on the google backend publish with `gcs`, `firebase`, "
    "`registry` or `bundle`",
}
MLFLOW_CHALLENGER = "challenger"  # the alias an mlflow target's rollout candidate gets
SPLIT_DEFAULTS = {"train": 80, "validation": 10, "test": 10}
NODE_HOURS_DEFAULT = 0.1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the config: where (a path into the document) and what/how to fix."""

    path: ConfigPath
    message: str


def dotted(path: ConfigPath) -> str:
    """``("models", "a", "tags", 0)`` -> ``models.a.tags[0]``; the empty path is ``(top level)``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def check_config(
    doc: Mapping[str, Any],
    root: Path,
    line_of: LineOf,
    env: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Every cross-field problem in a schema-valid document; ``root`` is the config's folder,
    ``env`` the environment defaults come from (an mlflow target's tracking URI)."""
    problems: list[Problem] = []
    problems += _check_backend(doc)
    problems += _check_datasets(doc)
    problems += _check_model_refs(doc)
    problems += _check_publish(doc, root, line_of, {} if env is None else env)
    problems += _check_state_lock(doc)
    return problems


def backend_kind(doc: Mapping[str, Any]) -> str:
    return "google" if "google" in doc.get("backend", {}) else "local"


def _check_backend(doc: Mapping[str, Any]) -> Iterator[Problem]:
    local = doc.get("backend", {}).get("local") or {}
    path = str(local.get("path", ".edgeops"))
    if "endpoint_url" in local and not path.startswith("s3://"):
        yield Problem(
            ("backend", "local", "endpoint_url"),
            f"an endpoint_url is for state in an S3-compatible store, but path is '{path}'; "
            "set path: s3://BUCKET/PREFIX or remove endpoint_url",
        )


def _check_datasets(doc: Mapping[str, Any]) -> Iterator[Problem]:
    for name, dataset in doc.get("datasets", {}).items():
        split = {**SPLIT_DEFAULTS, **dataset.get("split", {})}
        total = split["train"] + split["validation"] + split["test"]
        if total != 100:
            fix = "make them sum to 100"
            train = 100 - split["validation"] - split["test"]
            if 1 <= train <= 98:
                fix += f", e.g. train: {train}"
            yield Problem(
                ("datasets", name, "split"),
                f"train {split['train']} + validation {split['validation']} + test "
                f"{split['test']} = {total}, not 100; {fix}",
            )
        source = dataset["source"]
        if "labels_file" in source and "images" not in source:
            kind = next(k for k in ("zip", "folder", "csv") if k in source)
            yield Problem(
                ("datasets", name, "source", "labels_file"),
                f"labels_file only works with an `images` source, not `{kind}` (which carries "
                f"its own labels); remove labels_file, or use `images: <folder>` with it",
            )
        if "labels_override" in source and "images" in source:
            yield Problem(
                ("datasets", name, "source", "labels_override"),
                "labels_override is for sources that carry their own labels (zip, folder, "
                "csv); an `images` source is relabelled in its labels_file: remove "
                "labels_override",
            )


def _check_model_refs(doc: Mapping[str, Any]) -> Iterator[Problem]:
    datasets = list(doc.get("datasets", {}))
    google = backend_kind(doc) == "google"
    for name, model in doc.get("models", {}).items():
        ref = model["dataset"]
        if ref not in datasets:
            yield Problem(("models", name, "dataset"), _unknown("dataset", ref, datasets))
        node_hours = model.get("budget", {}).get("node_hours")
        # AutoML Edge image models train for 1,000..100,000 milli node hours.
        if google and (node_hours if node_hours is not None else NODE_HOURS_DEFAULT) < 1:
            if node_hours is None:
                yield Problem(
                    ("models", name),
                    f"budget.node_hours defaults to {NODE_HOURS_DEFAULT}, below the AutoML "
                    f"Edge minimum of 1 node hour on the google backend; add "
                    f"`budget: {{node_hours: 1}}` (or more, at most 100)",
                )
            else:
                yield Problem(
                    ("models", name, "budget", "node_hours"),
                    f"{node_hours:g} is below the AutoML Edge minimum of 1 node hour on the "
                    f"google backend; use a number from 1 to 100",
                )


def _check_state_lock(doc: Mapping[str, Any]) -> Iterator[Problem]:
    """``backend.<kind>.lock``: a lock must look alive between two heartbeats, with one missed."""
    for kind, backend in doc.get("backend", {}).items():
        lock = backend.get("lock") if isinstance(backend, Mapping) else None
        if not lock:
            continue
        heartbeat = lock.get("heartbeat_seconds", StateLockSpec.heartbeat_seconds)
        stale = lock.get("stale_after_seconds", StateLockSpec.stale_after_seconds)
        if stale <= 2 * heartbeat:
            yield Problem(
                ("backend", kind, "lock", "stale_after_seconds"),
                f"{stale:g} is not more than twice heartbeat_seconds ({heartbeat:g}): an apply "
                "that misses one heartbeat would lose its lock to another while it still runs; "
                f"use more than {2 * heartbeat:g} (minutes, e.g. 600) or a shorter heartbeat",
            )


def _unknown(kind: str, ref: str, defined: list[str]) -> str:
    if not defined:
        return f"unknown {kind} '{ref}': no {kind}s are defined; add it under `{kind}s:`"
    hint = did_you_mean(ref, defined)
    listed = ", ".join(defined)
    return f"unknown {kind} '{ref}'; " + (
        f"{hint} (defined {kind}s: {listed})" if hint else f"defined {kind}s: {listed}"
    )


def _check_publish(
    doc: Mapping[str, Any], root: Path, line_of: LineOf, env: Mapping[str, str]
) -> Iterator[Problem]:
    models = list(doc.get("models", {}))
    kind = backend_kind(doc)
    seen: dict[tuple[str, str], ConfigPath] = {}  # (unique-name space, value) -> first path
    for model, targets in doc.get("publish", {}).items():
        if model not in models:
            yield Problem(("publish", model), _unknown("model", model, models))
        for target, spec in targets.items():
            path: ConfigPath = ("publish", model, target)
            if kind == "local" and target in GOOGLE_ONLY_TARGETS:
                yield Problem(
                    path,
                    f"`{target}` targets need the google backend, but this config uses the "
                    f"local backend; use `registry` or `bundle`, or set `backend: {{google: ...}}`",
                )
            if kind == "google" and target in LOCAL_ONLY_TARGETS:
                yield Problem(path, LOCAL_ONLY_TARGETS[target])
            if target == "bundle":
                escape = _escapes(spec["path"], root)
                if escape:
                    yield Problem(path + ("path",), escape)
            if target == "mlflow":
                yield from _check_mlflow(spec, path, env)
            if "rollout" in spec:
                yield from _check_rollout(model, spec["rollout"], path + ("rollout",), models)
                candidate = spec["rollout"]["candidate"]
                publish = doc.get("publish", {})
                if (
                    target in _ROLLED_OUT
                    and candidate in models
                    and candidate != model
                    and (target not in publish.get(candidate, {}))
                ):
                    what, download = _ROLLED_OUT[target]
                    yield Problem(
                        path + ("rollout", "candidate"),
                        f"'{candidate}' has no {target} target: Remote Config rolls out the "
                        f"candidate's {what}, so add `publish.{candidate}.{target}` ({download} "
                        "what apps in the rollout download)",
                    )
            for field, space, label in _UNIQUE.get(target, ()):
                value = spec[field]
                key = (space, _normal(value, root) if target == "bundle" else value)
                first = seen.setdefault(key, path + (field,))
                if first != path + (field,):
                    yield Problem(
                        path + (field,),
                        f"{label} '{value}' is already used by {dotted(first[:3])} (line "
                        f"{line_of(first)}); each model needs its own {label}",
                    )


def _check_rollout(
    model: str, rollout: Mapping[str, Any], path: ConfigPath, models: list[str]
) -> Iterator[Problem]:
    candidate = rollout["candidate"]
    if candidate == model:
        others = [m for m in models if m != model]
        yield Problem(
            path + ("candidate",),
            f"'{candidate}' is this entry's own model: the candidate is another model whose "
            f"version rolls out under this name"
            + (f"; name one of: {', '.join(others)}" if others else "; declare it under `models:`"),
        )
    elif candidate not in models:
        yield Problem(path + ("candidate",), _unknown("model", candidate, models))
    percent = rollout["percent"]
    if abs(percent * 10 - round(percent * 10)) > 1e-9:
        yield Problem(
            path + ("percent",),
            f"{percent:g} has more than one decimal; use a whole number or one decimal, "
            f"e.g. {round(percent, 1):g}",
        )


# What a Remote Config rollout on a google target hands apps: the candidate's own target of the
# same kind (what it is, and what of it apps download)
_ROLLED_OUT = {
    "firebase": ("Firebase model", "its display_name is"),
    "gcs": ("Cloud Storage file", "its path and sha256 are"),
}


def _check_mlflow(
    spec: Mapping[str, Any], path: ConfigPath, env: Mapping[str, str]
) -> Iterator[Problem]:
    uri = mlflow_tracking_uri(spec, env)
    if not uri:
        yield Problem(
            path,
            "no tracking_uri, and MLFLOW_TRACKING_URI is not set; add `tracking_uri: "
            "http://HOST:5000` (your MLflow tracking server) or export MLFLOW_TRACKING_URI",
        )
    elif urlsplit(uri).password is not None:
        where = path + ("tracking_uri",) if "tracking_uri" in spec else path
        yield Problem(
            where,
            "the tracking URI carries a password, and plans show it; remove it from the URI and "
            "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)",
        )
    if "rollout" in spec and spec.get("alias", "champion") == MLFLOW_CHALLENGER:
        yield Problem(
            path + ("alias",),
            f"'{MLFLOW_CHALLENGER}' is the alias a rollout candidate gets, so it cannot also be "
            f"this target's alias; use another alias (the default is champion)",
        )


def mlflow_tracking_uri(target: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """An mlflow target's tracking URI: as written, else the environment's MLFLOW_TRACKING_URI
    (what MLflow's own clients use); "" when neither is set. Trailing slashes of an http(s) URI
    are dropped, so ``http://host:5000/`` and ``http://host:5000`` are the same server."""
    uri = str(target.get("tracking_uri") or env.get("MLFLOW_TRACKING_URI", "")).strip()
    return uri.rstrip("/") if uri.startswith(("http://", "https://")) else uri


_UNIQUE: dict[str, tuple[tuple[str, str, str], ...]] = {
    "registry": (("display_name", "registry", "registry display_name"),),
    "firebase": (("display_name", "firebase", "Firebase display_name"),),
    "online": (("name", "online", "online name"),),
    "bundle": (("path", "file", "bundle path"),),
    "gcs": (("path", "gcs", "gcs path"),),
    "mlflow": (("name", "mlflow", "MLflow registered model name"),),
}


def _normal(value: str, root: Path) -> str:
    return os.path.normpath(root / value)


def _escapes(value: str, root: Path) -> str:
    """Why a bundle path leaves the config's folder, or ``""`` when it stays inside."""
    if Path(value).is_absolute() or PurePosixPath(value).is_absolute():
        return (
            f"'{value}' is an absolute path; bundle paths are relative to the folder of "
            f"edgeops.yaml and stay inside it, e.g. app/src/main/assets/model.tflite"
        )
    resolved = Path(os.path.normpath(root / value))
    if resolved != root and root not in resolved.parents:
        return (
            f"'{value}' leaves the folder of edgeops.yaml; bundle paths must stay inside the "
            f"repository, e.g. app/src/main/assets/model.tflite"
        )
    return ""
