"""Renderers of a Plan: rich text for terminals, markdown for pull requests, versioned JSON.

Rendering is separate from diff computation: these functions only read the Plan.
"""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console
from rich.markup import escape

from edgeops.plan.definition import LEGEND, Action, Change, Plan

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
    d = c.details
    if c.action == Action.TRAIN:
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
            )
        if d.get("cost_ceiling") is not None:
            lines.append(f"cost ceiling {d['cost_ceiling']}")
    per_label = d.get("per_label")
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
    if d.get("delete_versions"):
        lines.append("versions to delete: " + ", ".join(f"v{v}" for v in d["delete_versions"]))
    if d.get("note"):
        lines.append(d["note"])
    if c.after and c.kind == "publish":
        shown = {k: v for k, v in c.after.items() if k != "version"}
        lines.append(", ".join(f"{k}: {_short_value(v)}" for k, v in shown.items()))
    for w in c.warnings:
        lines.append(f"! {w}")
    return lines


def _count_cell(col: str, n: int) -> str:
    if not n:
        return ""
    return {"added": f"+{n}", "removed": f"-{n}"}.get(col, str(n))


def _short_value(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(map(str, v)) + "]"
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
        console.print("[bold]Drift[/] (changed outside edgeops; the plan restores it):")
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
            console.print(
                f"[{style}]{c.action.symbol} {escape(c.address)}[/] [dim]({c.action.value})[/]"
            )
            for line in _change_lines(c):
                console.print("    " + escape(line))
            console.print()
    if plan.warnings:
        console.print("[bold]Warnings:[/]")
        for w in plan.warnings:
            console.print(f"  [yellow]![/] {escape(w)}")
        console.print()
    console.print(f"[bold]{summary_line(plan)}[/]")
    return buf.getvalue()


def render_json(plan: Plan) -> str:
    return json.dumps(plan.to_dict(), indent=2, sort_keys=False) + "\n"


def render_markdown(plan: Plan, *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """A pull-request comment: summary first, details collapsed, always under ``limit`` chars."""
    head: list[str] = [MARKDOWN_MARKER, "### edgeops plan", ""]
    if plan.empty:
        head.append("**No changes.** Live state matches edgeops.yaml.")
    else:
        counts = plan.counts()
        head.append("| action | count |")
        head.append("|---|---:|")
        for a in Action:
            if counts[a]:
                head.append(f"| `{a.symbol}` {LEGEND[a]} | {counts[a]} |")
        head.append("")
        trains = [c for c in plan.changes if c.action == Action.TRAIN]
        if trains:
            head.append("| model | why it (re)trains | budget | estimate |")
            head.append("|---|---|---|---|")
            for c in trains[:MAX_LIST]:
                d = c.details
                cap = float(d.get("node_hours", 0)) * 3600
                hours = f"{d.get('node_hours', 0):g} node h"
                if d.get("cost_ceiling") is not None:
                    hours += f" (≤ {d['cost_ceiling']})"
                est = fmt_seconds(min(cap, d.get("estimate_seconds", 0)))
                head.append(f"| `{c.address}` | {_md_cell(c.reason)} | {hours} | ~{est} |")
            if len(trains) > MAX_LIST:
                head.append(f"| … and {len(trains) - MAX_LIST} more | | | |")
            head.append("")
    if plan.drift:
        head.append("**Drift** (changed outside edgeops; this plan restores it):")
        head.extend(f"- `{a}`: {_md_cell(w)}" for a, w in plan.drift[:MAX_LIST])
        if len(plan.drift) > MAX_LIST:
            head.append(f"- … and {len(plan.drift) - MAX_LIST} more")
        head.append("")
    if plan.warnings:
        head.append("**Warnings**")
        head.extend(f"- {_md_cell(w)}" for w in plan.warnings[:MAX_LIST])
        if len(plan.warnings) > MAX_LIST:
            head.append(f"- … and {len(plan.warnings) - MAX_LIST} more")
        head.append("")
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


def _md_cell(s: str) -> str:
    s = s if len(s) <= MAX_CELL else s[: MAX_CELL - 1] + "…"
    return s.replace("|", "\\|").replace("\n", " ")


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
