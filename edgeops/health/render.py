"""The health document as text for people (``edgeops inspect`` without ``--json``)."""

from __future__ import annotations

from typing import Any

SHOWN = 10  # rows listed per section; the JSON has them all


def render_health(doc: dict[str, Any]) -> str:
    lines = [f"dataset.{doc['dataset']} ({doc['source']}): {doc['images']} images"]
    extra = []
    if doc["unlabelled"]:
        extra.append(f"{doc['unlabelled']} unlabelled")
    if doc["removed"]:
        extra.append(f"{doc['removed']} removed by the overrides file")
    if extra:
        lines[0] += f" ({', '.join(extra)})"
    lines.append("")
    lines.append("Labels (train / validation / test):")
    for label, c in doc["labels"].items():
        lines.append(
            f"  {label:<20} {c['total']:>6}   {c['train']} / {c['validation']} / {c['test']}"
        )
    imb = doc["imbalance"]
    if imb:
        lines.append(f"  largest/smallest: {imb['ratio']:g} ({imb['largest']} / {imb['smallest']})")
    if doc["exact_duplicates"]:
        lines += ["", f"Exact duplicates ({len(doc['exact_duplicates'])} groups, stored once):"]
        lines += [f"  {' = '.join(g)}" for g in doc["exact_duplicates"][:SHOWN]]
    features = doc["features"] or {}
    if features.get("available"):
        near = doc["near_duplicates"]
        lines += [
            "",
            f"Near duplicates ({len(near)} groups; {features['backbone']} features, cosine >= "
            f"{features['near_duplicate_similarity']:g}):",
        ]
        for g in near[:SHOWN]:
            where = ", ".join(f"{im['path']} [{im['split'] or 'unlabelled'}]" for im in g["images"])
            flag = "  STRADDLES SPLITS" if g["straddles_splits"] else ""
            lines.append(f"  {g['similarity']:.3f}  {where}{flag}")
        errors = doc["suspected_label_errors"]
        lines += ["", f"Suspected label errors ({len(errors)}; out-of-fold probe, worst first):"]
        for e in errors[:SHOWN]:
            lines.append(
                f"  {e['score']:.2f}  {e['path']}: labelled {e['given']}, looks like "
                f"{e['suggested']} ({e['p_suggested']:.0%})"
            )
        for label in ("near_duplicates", "suspected_label_errors"):
            if len(doc[label]) > SHOWN:
                lines.append(f"  ... {len(doc[label]) - SHOWN} more {label} in --json")
    if doc["warnings"]:
        lines += ["", "Warnings:"] + [f"  {w}" for w in doc["warnings"]]
    if doc["errors"]:
        lines += ["", "Errors (the import refuses this dataset until they are fixed):"]
        lines += [f"  {e}" for e in doc["errors"]]
    return "\n".join(lines) + "\n"
