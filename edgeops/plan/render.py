"""Renderers of a Plan: rich text for terminals, markdown for pull requests, versioned JSON.

Rendering is separate from diff computation: these functions only read the Plan. What they
show is decided by each change's action, ``after``, ``reason_codes`` and typed ``gates``; its
``reason`` and ``details`` are shown as they are, never interpreted.
"""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console
from rich.markup import escape

from edgeops.addresses import Address, model_address
from edgeops.evaluation.crossval import CROSS_VALIDATION
from edgeops.evaluation.crossval import summary_line as crossval_line
from edgeops.evaluation.intervals import Interval, bar_warnings, intervals_from_dict
from edgeops.plan import candidates, preview, protection
from edgeops.plan.definition import (
    AT_APPLY,
    CANDIDATE,
    LEGEND,
    NEW_VERSION,
    PREVIEWED,
    Action,
    Change,
    DatasetHealth,
    GateOutlook,
    Plan,
)

GITHUB_COMMENT_LIMIT = 65_536
MAX_LIST = 30  # rows of each list in the markdown head (train table, drift, warnings)
MAX_CELL = 300  # characters of one reason/warning in the markdown head
MARKDOWN_MARKER = "<!-- edgeops-plan -->"

_STYLE = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.TRAIN: "cyan",
    Action.EVALUATE: "blue",
    Action.UNPUBLISH: "red",
    Action.FORGET: "magenta",
    Action.DELETE: "red",
}


def summary_line(plan: Plan) -> str:
    if plan.empty:
        return "No changes." + (" Drift detected: see above." if plan.drift else "")
    c = plan.counts()
    removing = c[Action.UNPUBLISH] + c[Action.FORGET] + c[Action.DELETE]
    parts = [
        f"{c[Action.CREATE]} to create",
        f"{c[Action.UPDATE]} to update",
        f"{c[Action.TRAIN]} to train",
    ]
    if c[Action.EVALUATE]:
        parts.append(f"{c[Action.EVALUATE]} to re-evaluate")
    parts.append(f"{removing} to remove")
    return "Plan: " + ", ".join(parts) + "."


def fmt_seconds(s: float) -> str:
    s = int(round(s))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _change_lines(c: Change) -> list[str]:
    """Plain-text detail lines of one change (no markup)."""
    lines = [c.reason]
    if c.action == Action.TRAIN:
        d = c.after or {}
        cap = float(d.get("node_hours", 0)) * 3600
        lines.append(
            f"optimize_for {d.get('optimize_for')} · budget {d.get('node_hours'):g} node hours "
            f"(cap {fmt_seconds(cap)}) · early stopping "
            + ("on" if d.get("early_stopping") else "off")
        )
        if d.get("images"):
            lines.append(
                f"estimated wall time ~{fmt_seconds(min(cap, d.get('estimate_seconds', 0)))} "
                f"for {d['images']} images"
                + (f" ({d['estimate_basis']})" if d.get("estimate_basis") else "")
            )
        if d.get("cost_ceiling") is not None:
            lines.append(f"cost ceiling {d['cost_ceiling']}")
    lines += preview.describe(c)
    lines += candidates.describe(c)
    per_label = c.details.get("per_label")
    if per_label:
        cols = ["added", "removed", "relabelled_in", "relabelled_out", "moved_split"]
        used = [col for col in cols if any(v.get(col) for v in per_label.values())]
        width = max(8, *(len(k) for k in per_label))
        lines.append(
            "  " + "label".ljust(width) + "".join(col.replace("_", " ").rjust(16) for col in used)
        )
        for label, counts in per_label.items():
            cells = "".join(_count_cell(col, counts.get(col, 0)).rjust(16) for col in used)
            lines.append(("  " + label.ljust(width) + cells).rstrip())
    if c.action == Action.DELETE and c.after and "delete_versions" in c.after:
        lines.append(
            "versions to delete: " + ", ".join(f"v{v}" for v in c.after["delete_versions"])
        )
    lines.extend(f"deletes {name}" for name in c.details.get("deletes", ()))
    if c.details.get("note"):
        lines.append(c.details["note"])
    if c.after and c.kind == "publish":
        shown = {k: v for k, v in c.after.items() if k != "version"}
        lines.append(", ".join(f"{k}: {_short_value(v)}" for k, v in shown.items()))
    for gate in c.gates:
        lines += _gate_lines(gate)
    for w in c.warnings:
        lines.append(f"! {w}")
    return lines


def _gate_lines(gate: GateOutlook) -> list[str]:
    """A recorded gate whose metrics carry 95% intervals: each metric against its bar with its
    interval and n, the verdict, and a warning for each bar inside its interval. (Versions
    recorded before intervals existed show their gate in the markdown summary only.)"""
    intervals = intervals_from_dict(gate.intervals)
    if gate.decided == AT_APPLY or gate.version is None or not intervals:
        return []
    values = {"precision": gate.precision, "recall": gate.recall, "au_prc": gate.au_prc}
    cells = [
        f"{_METRIC_NAMES[m]} {_metric_cell(values[m], gate.bars.get(bar), intervals.get(m), True)}"
        for m, bar in _METRICS
        if isinstance(values[m], int | float)
    ]
    t = f" at threshold {gate.threshold:.2f}" if gate.threshold is not None else ""
    if gate.evaluated_on == CROSS_VALIDATION:
        t += " on k-fold cross-validation (train+validation, the head on float features)"
    verdict = "passed" if gate.passed else "missed"
    if gate.vs_published:
        verdict += f" ({candidates.vs_published_text(gate.vs_published)})"
    lines = [f"gate of {gate.model} v{gate.version}{t}: " + ", ".join(cells) + f": {verdict}"]
    return lines + [f"! {w}" for w in bar_warnings(intervals, gate.bars, gate.evaluated_on)]


def _count_cell(col: str, n: int) -> str:
    if not n:
        return ""
    return {"added": f"+{n}", "removed": f"-{n}"}.get(col, str(n))


def _short_value(v: Any) -> str:
    if isinstance(v, dict) and "candidate" in v:  # a rollout
        version = v.get("version")
        shown = "new version" if version == NEW_VERSION else f"v{version}"
        return f"{v['candidate']} {shown} to {v['percent']:g}% of clients"
    if isinstance(v, list):
        return "[" + ", ".join(map(str, v)) + "]"
    if isinstance(v, dict):  # e.g. an mlflow target's tags
        return "{" + ", ".join(f"{k}: {_short_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def render_text(plan: Plan, *, color: bool = False, width: int = 100) -> str:
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
        soft_wrap=True,
    )
    used = [a for a in Action if any(c.action == a for c in plan.changes)]
    if plan.drift:
        console.print("[bold]Drift[/] (changed outside edgeops since the last apply):")
        for address, what in plan.drift:
            console.print(f"  [yellow]{escape(address)}[/]: {escape(what)}")
        console.print()
    if used:
        console.print("edgeops will perform the following actions:")
        legend = "  ".join(f"[{_STYLE[a]}]{a.symbol}[/] {LEGEND[a]}" for a in used)
        console.print(f"Legend: {legend}")
        console.print()
        for c in plan.changes:
            style = _STYLE[c.action]
            mark = ""
            if c.blocked_by_protection:
                mark = (
                    "; [yellow]protected, allowed by --allow-destroy[/]"
                    if plan.allow_destroy
                    else "; [bold red]blocked by protection[/]"
                )
            console.print(
                f"[{style}]{c.action.symbol} {escape(c.address)}[/] "
                f"[dim]({c.action.value}[/]{mark}[dim])[/]"
            )
            for line in _change_lines(c):
                console.print("    " + escape(line))
            console.print()
    if plan.health:
        console.print(f"[bold]Dataset health[/] ({HEALTH_HINT}):")
        for h in plan.health:
            mark = "[yellow]![/]" if h.warnings else " "
            console.print(f"  {mark} {escape(health_line(h))}")
        console.print()
    if plan.warnings:
        console.print("[bold]Warnings:[/]")
        for w in plan.warnings:
            console.print(f"  [yellow]![/] {escape(w)}")
        console.print()
    console.print(f"[bold]{summary_line(plan)}[/]")
    return buf.getvalue()


def render_drift(drift: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> str:
    """`edgeops drift`: what changed outside edgeops, one line each, then what to do."""
    if not drift:
        return "No drift: everything edgeops published is as it left it.\n"
    lines = ["Drift (changed outside edgeops since the last apply):"]
    lines += [f"  {address}: {what}" for address, what in drift]
    resources = len({a for a, _ in drift})
    lines += [
        "",
        f"{len(drift)} change(s) outside edgeops in {resources} resource(s). "
        "`edgeops plan` shows how apply restores them.",
    ]
    return "\n".join(lines) + "\n"


def render_json(plan: Plan) -> str:
    return json.dumps(plan.to_dict(), indent=2, sort_keys=False) + "\n"


def render_markdown(plan: Plan, *, limit: int = GITHUB_COMMENT_LIMIT, note: str = "") -> str:
    """A pull-request comment: summary first, details collapsed, always under ``limit`` chars.

    The summary (counts, protection, training, gates, drift, warnings) is bounded by MAX_LIST
    rows of MAX_CELL characters each; only the per-change details are truncated to fit.
    ``note`` is one line under the title (the commit the plan is for, say).
    """
    head: list[str] = [MARKDOWN_MARKER, "### edgeops plan", ""]
    if note:
        head += [_md_cell(note), ""]
    if plan.empty:
        head.append("**No changes.** Live state matches edgeops.yaml.")
        if plan.drift or plan.warnings:
            head.append("")
    else:
        head += [f"**{summary_line(plan)}**", ""]
        head += _md_protection(plan)
        counts = plan.counts()
        head.append("| action | count |")
        head.append("|---|---:|")
        for a in Action:
            if counts[a]:
                head.append(f"| `{a.symbol}` {LEGEND[a]} | {counts[a]} |")
        head.append("")
        head += _md_models(plan)
        head += _md_candidates(plan)
        head += _md_gates(plan)
    if plan.drift:
        head.append("**Drift** (changed outside edgeops since the last apply):")
        head += _md_list([f"`{a}`: {_md_cell(w)}" for a, w in plan.drift])
    warnings = [*plan.warnings, *(f"{c.address}: {w}" for c in plan.changes for w in c.warnings)]
    if warnings:
        head.append("**Warnings**")
        head += _md_list([_md_cell(w) for w in warnings])
    head += _md_health(plan)
    tail = ["", "", f"**{summary_line(plan)}**", ""]  # a blank line ends the <details> block
    text = "\n".join(head)
    budget = limit - len(text) - len("\n".join(tail)) - 400  # room for the truncation note
    blocks: list[str] = []
    shown = 0
    for c in plan.changes:
        body = "\n".join(_change_lines(c))
        block = (
            f"<details><summary><code>{c.action.symbol} {c.address}</code> "
            f"({c.action.value}): {_html(c.reason[:200])}</summary>\n\n```\n{body}\n```\n</details>"
        )
        if len(block) > budget:
            break
        budget -= len(block) + 1
        blocks.append(block)
        shown += 1
    out = text + "\n" + "\n".join(blocks)
    if shown < len(plan.changes):
        out += (
            f"\n\n_Details of {len(plan.changes) - shown} more change(s) were truncated to stay "
            "under GitHub's comment limit; run `edgeops plan` for the full plan._"
        )
    out += "\n".join(tail)
    return out


def _md_list(items: list[str]) -> list[str]:
    out = [f"- {item}" for item in items[:MAX_LIST]]
    if len(items) > MAX_LIST:
        out.append(f"- … and {len(items) - MAX_LIST} more")
    return [*out, ""]


def _md_protection(plan: Plan) -> list[str]:
    found = protection.problems(plan)
    if not found:
        return []
    if plan.allow_destroy:
        lines = ["> [!WARNING]", "> **Destroys published models** (allowed by --allow-destroy):"]
    else:
        lines = ["> [!CAUTION]", "> **Blocked by protection**: apply refuses this plan."]
    lines += [f"> {line}" for line in _md_list([_md_cell(p) for p in found])[:-1]]
    if not plan.allow_destroy:
        lines += [">", f"> {protection.HOW_TO_PROCEED}"]
    return [*lines, ""]


def _md_models(plan: Plan) -> list[str]:
    """Which models train or are re-evaluated, why, and the training budget."""
    rows = [c for c in plan.changes if c.action in (Action.TRAIN, Action.EVALUATE)]
    if not rows:
        return []
    trains = [c for c in rows if c.action == Action.TRAIN]
    out = []
    if trains:
        budgets = [c.after or {} for c in trains]
        hours = sum(float(b.get("node_hours", 0)) for b in budgets)
        estimate = sum(
            min(float(b.get("node_hours", 0)) * 3600, b.get("estimate_seconds", 0)) for b in budgets
        )
        line = (
            f"**Training budget:** {hours:g} node hours for {len(trains)} model(s), "
            f"estimated ~{fmt_seconds(estimate)}"
        )
        ceilings = [_dollars(b.get("cost_ceiling")) for b in budgets]
        if any(b.get("cost_ceiling") is not None for b in budgets):
            total = sum(x for x in ceilings if x is not None)
            line += f"; cost ceiling ≤ ${total:,.2f}"
            if None in ceilings:
                line += " (some models have none)"
        out += [line, ""]
    out += ["| model | action | why | budget | estimate |", "|---|---|---|---|---|"]
    for c in rows[:MAX_LIST]:
        if c.action == Action.TRAIN:
            d = c.after or {}
            cap = float(d.get("node_hours", 0)) * 3600
            budget = f"{d.get('node_hours', 0):g} node h"
            if d.get("cost_ceiling") is not None:
                budget += f" (≤ {d['cost_ceiling']})"
            est = "~" + fmt_seconds(min(cap, d.get("estimate_seconds", 0)))
            if d.get("candidate"):
                est = "trained in plan: apply adopts it"
            what = "retrain" if (c.before or {}).get("version") else "train"
        else:
            budget, est, what = "—", "no training", "re-evaluate"
        out.append(f"| `{c.address}` | {what} | {_md_cell(c.reason)} | {budget} | {est} |")
    if len(rows) > MAX_LIST:
        out.append(f"| … and {len(rows) - MAX_LIST} more | | | | |")
    return [*out, ""]


_METRICS = (("precision", "min_precision"), ("recall", "min_recall"), ("au_prc", "min_au_prc"))
_METRIC_NAMES = {"precision": "precision", "recall": "recall", "au_prc": "AuPRC"}


def _md_gates(plan: Plan) -> list[str]:
    """The gate of every version a publish target would serve, one row per model version."""
    groups: dict[tuple[str, str], tuple[GateOutlook, list[str]]] = {}
    for c in plan.changes:
        if c.kind != "publish" or c.action not in (Action.CREATE, Action.UPDATE):
            continue
        kind = Address.parse(c.address).target
        for gate in c.gates:
            key = (gate.model, str(gate.version))
            where = kind if gate.role == "stable" else f"{kind} rollout {gate.percent or 0:g}%"
            groups.setdefault(key, (gate, []))[1].append(where)
    if not groups:
        return []
    out = [
        "**Gates of the versions to publish**",
        "",
        "| model version | publishes to | threshold | precision | recall | AuPRC | gate |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    warnings: list[str] = []
    for (model, version), (gate, kinds) in list(groups.items())[:MAX_LIST]:
        name = f"`{model_address(model)}` " + ("new version" if gate.new_version else f"v{version}")
        targets = ", ".join(sorted(kinds))
        bars = gate.bars
        if gate.decided == AT_APPLY:
            cells = [_bar_cell(bars.get(bar)) for _, bar in _METRICS]
            why = "trained by this apply" if gate.new_version else "re-evaluated by this apply"
            verdict = f"decided at apply ({why})"
            if all(bars.get(bar) is None for _, bar in _METRICS):
                verdict += "; ⚠️ no gate set: any score publishes"
            rule = _md_cell(gate.threshold_rule)
            out.append(f"| {name} | {targets} | {rule} | {' | '.join(cells)} | {verdict} |")
            continue
        values = {"precision": gate.precision, "recall": gate.recall, "au_prc": gate.au_prc}
        intervals = intervals_from_dict(gate.intervals)
        cells = [_metric_cell(values[m], bars.get(bar), intervals.get(m)) for m, bar in _METRICS]
        t = f"{gate.threshold:.2f}" if gate.threshold is not None else "—"
        verdict = "✅ passed" if gate.passed else "❌ missed"
        if gate.decided == PREVIEWED:
            verdict = ("✅ passes" if gate.passed else "❌ misses") + " (previewed)"
        elif gate.decided == CANDIDATE:
            verdict += " (candidate trained in plan)"
        if gate.evaluated_on == CROSS_VALIDATION:
            verdict += " (on k-fold cross-validation)"
        if all(v is None for v in values.values()):
            verdict += " (no metrics recorded)"
        if gate.vs_published:
            verdict += f"; {_md_cell(candidates.vs_published_text(gate.vs_published))}"
        out.append(f"| {name} | {targets} | {t} | {' | '.join(cells)} | {verdict} |")
        warnings += [
            f"{name}: {_md_cell(w)}" for w in bar_warnings(intervals, bars, gate.evaluated_on)
        ]
    if len(groups) > MAX_LIST:
        out.append(f"| … and {len(groups) - MAX_LIST} more | | | | | | |")
    out.append("")
    if any(g.intervals for g, _ in groups.values()):
        out += [
            "_Each metric: value, then its 95% interval and n (Wilson for precision and recall, "
            "bootstrap over test images for AuPRC)._",
            "",
        ]
    if warnings:
        out += _md_list([f"⚠️ {w}" for w in warnings])
    return out


def _dollars(value: Any) -> float | None:
    """A cost ceiling as a number of dollars: 36.0 or "$36.00" (the google backend's form)."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().lstrip("$").replace(",", ""))
        except ValueError:
            return None
    return None


def _bar_cell(bar: Any) -> str:
    return f"bar ≥ {bar:g}" if isinstance(bar, int | float) else "—"


def _metric_cell(value: Any, bar: Any, interval: Interval | None, long: bool = False) -> str:
    """``0.912 ≥ 0.9 (0.80–0.97, n=57)``; without a recorded interval ``0.912 ≥ 0.9`` (the
    markdown table) or ``0.912 ≥ 0.9 (95% CI n/a)`` (``long``: the text lines)."""
    if not isinstance(value, int | float):
        return "—"
    text = f"{value:.3f}"
    if isinstance(bar, int | float):
        text += f" {'≥' if value >= bar else '<'} {bar:g}"
    if interval is not None:
        text += f" ({interval.describe()})" if long else f" ({_ci_text(interval)})"
    elif long:
        text += " (95% CI n/a)"
    return text


def _ci_text(interval: Interval) -> str:
    return f"{interval.lo:.2f}–{interval.hi:.2f}, n={interval.n}"


def _md_cell(s: str) -> str:
    s = s if len(s) <= MAX_CELL else s[: MAX_CELL - 1] + "…"
    return s.replace("|", "\\|").replace("\n", " ")


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _md_candidates(plan: Plan) -> list[str]:
    """Candidates trained in plan: the served version (champion) -> the candidate on the same
    test images, each change with its 95% interval, McNemar's p, the gate, the budget used."""
    rows = [
        c for c in plan.changes if c.action == Action.TRAIN and (c.after or {}).get("candidate")
    ]
    if not rows:
        return []
    out = [
        "**Candidates trained in plan** (apply adopts them byte for byte)",
        "",
        "| model | served → candidate | Δ top-1 [95% CI] | Δ AuPRC [95% CI] | McNemar p | gate "
        "| budget used |",
        "|---|---|---|---|---:|---|---|",
    ]
    for c in rows[:MAX_LIST]:
        cand = (c.after or {})["candidate"]
        comparison = cand.get("comparison") or {}
        deltas = {m["metric"]: m["difference"] for m in comparison.get("metrics", [])}

        def cell(metric: str, deltas: dict[str, Any] = deltas) -> str:
            d = deltas.get(metric)
            return f"{d['value']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]" if d else "—"

        champion = f"v{cand['champion']}" if cand.get("champion") is not None else "none"
        p = comparison.get("mcnemar", {}).get("p")
        gate = "✅ passed" if cand["blessed"] else "❌ missed"
        vs = cand.get("vs_published")
        if vs:
            gate += f" ({'not ' if vs['ok'] else ''}significantly worse than published)"
        used = f"{cand['cost_node_hours']:.3f} node h ({cand['stop_reason'] or '—'})"
        out.append(
            f"| `{c.address}` | {champion} → `{cand['sha256'][:12]}` | {cell('top1_accuracy')} "
            f"| {cell('au_prc')} | {f'{p:.3g}' if p is not None else '—'} | {gate} | {used} |"
        )
    notes = [
        f"`{c.address}`: {_md_cell(crossval_line(cv))}"
        for c in rows[:MAX_LIST]
        if (cv := (c.after or {})["candidate"].get("cross_validation"))
    ]
    if notes:
        out += ["", "Small test splits, also:", *_md_list(notes)[:-1]]
    return [*out, ""]


HEALTH_HINT = "`edgeops inspect dataset.NAME` lists the images"


def health_line(h: DatasetHealth) -> str:
    """One dataset's inspect warnings, counted: ``dataset.objects: 3 near-duplicate pairs (1
    straddling train and validation/test), 2 suspected label errors``."""
    parts = []
    if h.inspected:
        pairs = h.near_duplicate_pairs
        if pairs:
            text = f"{pairs} near-duplicate pair{'s' if pairs != 1 else ''}"
            if h.straddling_pairs:
                text += f" ({h.straddling_pairs} straddling train and validation/test)"
            parts.append(text)
        else:
            parts.append("no near duplicates")
        errors = h.suspected_label_errors
        if errors is None:
            parts.append("label errors not judged (multi-label)")
        else:
            parts.append(f"{errors or 'no'} suspected label error{'s' if errors != 1 else ''}")
    if h.imbalance:
        imb = h.imbalance
        parts.append(f"imbalance {imb['ratio']:g}x ('{imb['largest']}' / '{imb['smallest']}')")
    if h.unlabelled:
        parts.append(f"{h.unlabelled} unlabelled")
    if h.note:
        parts.append(h.note)
    return f"{h.address}: " + ", ".join(parts)


def _md_health(plan: Plan) -> list[str]:
    """Each dataset's inspect warnings as a table, collapsed under a one-line summary."""
    if not plan.health:
        return []
    flagged = [h for h in plan.health if h.warnings]
    summary = (
        f"{len(flagged)} of {len(plan.health)} dataset(s) with warnings"
        if flagged
        else f"no warnings in {len(plan.health)} dataset(s)"
    )
    uninspected = sum(1 for h in plan.health if not h.inspected)
    if uninspected:
        summary += f", {uninspected} not inspected"
    out = [
        f"<details><summary><b>Dataset health</b>: {summary}</summary>",
        "",
        f"_{HEALTH_HINT}._",
        "",
        "| dataset | near-duplicate pairs | straddling train ↔ validation/test "
        "| suspected label errors | imbalance | note |",
        "|---|---:|---:|---:|---|---|",
    ]
    for h in plan.health[:MAX_LIST]:
        counts = (
            [
                str(h.near_duplicate_pairs),
                str(h.straddling_pairs),
                "not judged" if h.suspected_label_errors is None else str(h.suspected_label_errors),
            ]
            if h.inspected
            else ["—", "—", "—"]
        )
        imb = h.imbalance
        ratio = f"{imb['ratio']:g}x ({imb['largest']} / {imb['smallest']})" if imb else "—"
        note = _md_cell(h.note) if h.note else ""
        if h.unlabelled:
            note = f"{h.unlabelled} unlabelled" + (f"; {note}" if note else "")
        out.append(f"| `{h.address}` | {' | '.join(counts)} | {ratio} | {note} |")
    if len(plan.health) > MAX_LIST:
        out.append(f"| … and {len(plan.health) - MAX_LIST} more | | | | | |")
    return [*out, "", "</details>", ""]
