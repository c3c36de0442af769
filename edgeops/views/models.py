"""`edgeops models`: registry entries and model versions with metrics and where each is published.

Read-only; builds a plain dict (the ``--json`` form, versioned) and renders it as rich tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from edgeops.addresses import model_address
from edgeops.backends.base import Backend, ModelRegistry
from edgeops.errors import EdgeopsError
from edgeops.evaluation.intervals import intervals_from_dict
from edgeops.state import LiveCandidate, LiveState, LiveVersion
from edgeops.views.text import (
    INTERVALS_CAPTION,
    cross_validation_lines,
    num,
    num_ci,
    size,
    text_console,
)

FORMAT_VERSION = 1


def collect(backend: Backend) -> dict[str, Any]:
    """The listing of a backend with a model registry on this machine (the local one)."""
    if not isinstance(backend, ModelRegistry):
        raise EdgeopsError(f"edgeops models lists the local backend, not {backend.name}")
    live = backend.read()
    files = {
        (address, v.version): backend.model_file(address, v.version)
        for address, m in live.models.items()
        for v in m.versions
    }
    data = models_to_dict(live, backend.registry_entries(), files)
    data["candidates"] = {
        address: [
            {**_candidate_dict(c), "report": _path(backend.candidate_report(c))}
            for c in backend.candidates_of(address)
        ]
        for address in live.models
    }
    data["candidates"] = {a: cs for a, cs in data["candidates"].items() if cs}
    return data


def _path(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _candidate_dict(c: LiveCandidate) -> dict[str, Any]:
    summary = c.metrics.get("summary") or {}
    return {
        "fingerprint": c.fingerprint,
        "trained_at": c.trained_at,
        "blessed": c.blessed,
        "threshold": c.threshold,
        "precision": summary.get("precision"),
        "recall": summary.get("recall"),
        "au_prc": summary.get("au_prc"),
        "sha256": c.sha256,
        "champion": c.champion,
    }


def models_to_dict(
    live: LiveState,
    registry_entries: dict[str, dict[str, Any]],
    model_files: dict[tuple[str, int], Path],
) -> dict[str, Any]:
    """``model_files``: (model address, version) -> the int8 .tflite of that version."""
    published_at: dict[tuple[str, int], list[str]] = {}
    for p in live.publish.values():
        published_at.setdefault((p.model, p.version), []).append(
            _target_name(p.kind, p.spec, p.state)
        )
    models = {}
    for address, m in live.models.items():
        models[address] = [
            _version_dict(v, published_at.get((v.model, v.version), []), model_files)
            for v in m.versions
        ]
    entries = [
        {
            "display_name": e["display_name"],
            "model": e["model"],
            "version": e["version"],
            "tags": list(e["tags"]),
            "published": bool(e["published"]),
            "threshold": e["threshold"],
            "sha256": e["sha256"],
            "size": e["size"],
            "updated_at": e["updated_at"],
        }
        for e in registry_entries.values()
    ]
    return {
        "format_version": FORMAT_VERSION,
        "backend": live.backend,
        "registry": entries,
        "models": models,
    }


def _target_name(kind: str, spec: dict[str, Any], state: dict[str, Any]) -> str:
    if kind == "registry":
        return f"registry:{spec.get('display_name', '?')}"
    if kind == "online":
        return f"online:{state.get('name', '?')}"
    if kind == "mlflow":
        return f"mlflow:{spec.get('name', '?')}@{spec.get('alias', '?')}"
    if kind == "bundle":
        files = sorted(state.get("files", {}))
        tflite = next((f for f in files if f.endswith(".tflite")), files[0] if files else "?")
        return f"bundle:{tflite}"
    return kind


def _version_dict(
    v: LiveVersion, published: list[str], model_files: dict[tuple[str, int], Path]
) -> dict[str, Any]:
    summary = v.metrics.get("summary", {})
    file = model_files.get((model_address(v.model), v.version))
    exists = file is not None and file.exists()
    return {
        "version": v.version,
        "status": v.status,
        "blessed": v.blessed,
        "threshold": v.threshold,
        "precision": summary.get("precision"),
        "recall": summary.get("recall"),
        "au_prc": summary.get("au_prc"),
        # {metric: {value, lo, hi, n, method}}: 95% intervals, absent for older versions
        "intervals": dict(summary.get("intervals") or {}),
        # k-fold cross-validated metrics beside a small test split (absent otherwise)
        **({"cross_validation": cv} if (cv := v.metrics.get("cross_validation")) else {}),
        "published": sorted(published),
        "file": str(file) if exists else None,
        "sha256": v.files.get(file.name) if file is not None and exists else None,
        "size": file.stat().st_size if file is not None and exists else None,
        "created_at": v.created_at,
    }


def render_models(data: dict[str, Any], *, width: int = 120) -> str:
    console, buf = text_console(width)
    if not data["models"] and not data["registry"]:
        console.print(f"No models yet on the {data['backend']} backend. Run `edgeops apply`.")
        return buf.getvalue()
    if data["registry"]:
        t = Table(title="registry")
        for col in ("display name", "model", "version", "tags", "published", "threshold"):
            t.add_column(col, no_wrap=True)
        t.add_column("sha256", no_wrap=True)
        t.add_column("size", justify="right", no_wrap=True)
        for e in data["registry"]:
            t.add_row(
                e["display_name"],
                e["model"],
                f"v{e['version']}",
                ", ".join(e["tags"]) or "-",
                "yes" if e["published"] else "no",
                num(e["threshold"]),
                e["sha256"][:12],
                size(e["size"]),
            )
        console.print(t)
    for address, versions in data["models"].items():
        t = Table(title=address, caption=INTERVALS_CAPTION)
        for col in ("version", "status", "blessed", "threshold", "precision", "recall", "AuPRC"):
            t.add_column(col, no_wrap=True)
        t.add_column("published")
        t.add_column("sha256 (int8)", no_wrap=True)
        t.add_column("size", justify="right", no_wrap=True)
        for v in versions:
            intervals = intervals_from_dict(v.get("intervals"))
            t.add_row(
                f"v{v['version']}",
                v["status"],
                "yes" if v["blessed"] else "no",
                num(v["threshold"]),
                *(num_ci(v[k], intervals.get(k)) for k in ("precision", "recall", "au_prc")),
                ", ".join(v["published"]) or "-",
                (v["sha256"] or "-")[:12],
                size(v["size"]),
            )
        console.print(t)
        cv = [(v["version"], v.get("cross_validation")) for v in versions]
        for line in cross_validation_lines(cv):
            console.print(line, soft_wrap=True)
    for address, candidates in data.get("candidates", {}).items():
        t = Table(title=f"{address}: candidates trained in plan (not published until applied)")
        for col in ("trained at", "fingerprint", "blessed", "threshold", "precision", "recall"):
            t.add_column(col, no_wrap=True)
        t.add_column("AuPRC", no_wrap=True)
        t.add_column("sha256 (int8)", no_wrap=True)
        for c in candidates:
            t.add_row(
                c["trained_at"],
                c["fingerprint"][:12],
                "yes" if c["blessed"] else "no",
                num(c["threshold"]),
                num(c["precision"]),
                num(c["recall"]),
                num(c["au_prc"]),
                c["sha256"][:12],
            )
        console.print(t)
    return buf.getvalue()
