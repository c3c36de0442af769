"""One self-contained HTML page for an evaluation: no CDN, inline SVG and a little JS.

Sections: summary, precision/recall curve (SVG) with a threshold slider that updates precision,
recall, F1 and false-positive rate live, per-label table, confusion matrix, worst mistakes with
small thumbnails (data URIs supplied by the caller).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING

from edgeops.evaluation.metrics import THRESHOLDS, Evaluation

if TYPE_CHECKING:
    from edgeops.evaluation.threshold import GateResult

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}.ok{color:#080}.bad{color:#b00}
.cm td{min-width:28px}.mist img{width:64px;height:64px;object-fit:cover;display:block}
.mist div{display:inline-block;margin:4px;font-size:12px;width:140px;vertical-align:top}
#live b{display:inline-block;min-width:48px}
"""

_W, _H, _PAD = 360, 260, 36


def _pr_svg(ev: Evaluation) -> str:
    pts = []
    for p, r in zip(ev.overall.precision, ev.overall.recall, strict=True):
        x = _PAD + r * (_W - 2 * _PAD)
        y = _H - _PAD - p * (_H - 2 * _PAD)
        pts.append(f"{x:.1f},{y:.1f}")
    axes = (
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#888"/>'
        f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_H - _PAD}" stroke="#888"/>'
        f'<text x="{_W / 2}" y="{_H - 6}" text-anchor="middle">recall</text>'
        f'<text x="10" y="{_H / 2}" transform="rotate(-90 10 {_H / 2})" '
        f'text-anchor="middle">precision</text>'
        f'<text x="{_PAD}" y="{_H - _PAD + 14}" text-anchor="middle">0</text>'
        f'<text x="{_W - _PAD}" y="{_H - _PAD + 14}" text-anchor="middle">1</text>'
        f'<text x="{_PAD - 6}" y="{_PAD + 4}" text-anchor="end">1</text>'
    )
    return (
        f'<svg id="pr" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="11">{axes}'
        f'<polyline fill="none" stroke="#1565c0" stroke-width="2" points="{" ".join(pts)}"/>'
        f'<circle id="dot" r="5" fill="#e65100" cx="0" cy="0"/></svg>'
    )


def render_html(
    evaluation: Evaluation,
    *,
    title: str = "Evaluation",
    threshold: float = 0.5,
    gate: GateResult | None = None,
    thumbnails: Mapping[str, str] | None = None,
) -> str:
    ev = evaluation
    thumbnails = thumbnails or {}
    curve = {
        "t": list(THRESHOLDS),
        "p": list(ev.overall.precision),
        "r": list(ev.overall.recall),
        "f": list(ev.overall.f1),
        "fpr": list(ev.overall.false_positive_rate),
        "W": _W,
        "H": _H,
        "PAD": _PAD,
    }
    at = ev.overall.at(threshold)
    summary = (
        f"<table><tr><th class=l>test images</th><td>{ev.n_examples}</td></tr>"
        f"<tr><th class=l>AuPRC (micro)</th><td>{ev.au_prc:.4f}</td></tr>"
        f"<tr><th class=l>log loss</th><td>{ev.log_loss:.4f}</td></tr>"
        f"<tr><th class=l>top-1 accuracy</th><td>{ev.top1_accuracy:.4f}</td></tr>"
        f"<tr><th class=l>threshold</th><td>{threshold:.2f}</td></tr>"
        f"<tr><th class=l>precision / recall at threshold</th>"
        f"<td>{at['precision']:.4f} / {at['recall']:.4f}</td></tr></table>"
    )
    gate_html = ""
    if gate is not None:
        rows = (
            "".join(
                f"<tr><td class=l>{escape(r.metric)}</td><td>{r.value:.4f}</td><td>{r.bar:.4f}</td>"
                f"<td class={'ok' if r.ok else 'bad'}>{'ok' if r.ok else 'FAIL'}</td></tr>"
                for r in gate.rows
            )
            or "<tr><td class=l colspan=4>no bars set</td></tr>"
        )
        verdict = "<b class=ok>passed</b>" if gate.passed else "<b class=bad>failed</b>"
        gate_html = (
            f"<h2>Gate: {verdict}</h2><table><tr><th class=l>metric</th><th>value</th>"
            f"<th>bar</th><th></th></tr>{rows}</table>"
        )
    label_rows = "".join(
        f"<tr><td class=l>{escape(m.label)}</td><td>{m.support}</td><td>{m.au_prc:.4f}</td>"
        f"<td>{m.curve.at(threshold)['precision']:.4f}</td>"
        f"<td>{m.curve.at(threshold)['recall']:.4f}</td>"
        f"<td>{m.curve.at(threshold)['f1']:.4f}</td></tr>"
        for m in ev.per_label
    )
    head = "".join(f"<th>{escape(lab)}</th>" for lab in ev.labels)
    cm_rows = "".join(
        f"<tr><th class=l>{escape(lab)}</th>"
        + "".join(
            f'<td style="background:rgba(21,101,192,{(v / max(1, max(row))) * 0.6:.2f})">{v}</td>'
            for v in row
        )
        + "</tr>"
        for lab, row in zip(ev.labels, ev.confusion, strict=True)
    )
    mistakes = (
        "".join(
            "<div>"
            + (
                f'<img alt="{escape(m.image_id)}" '
                f'src="{escape(thumbnails[m.image_id], quote=True)}">'
                if m.image_id in thumbnails
                else ""
            )
            + f"{escape(m.image_id)}<br>true: {escape(', '.join(m.true_labels))}<br>"
            f"predicted: {escape(m.predicted)} ({m.score:.2f})</div>"
            for m in ev.mistakes
        )
        or "<p>No mistakes on the test split.</p>"
    )
    start = int(round(threshold * 100))
    script = (
        "const C=" + json.dumps(curve, separators=(",", ":")).replace("</", "<\\/") + ";\n"
        "function show(i){const f=x=>x.toFixed(3);"
        "document.getElementById('tv').textContent=C.t[i].toFixed(2);"
        "document.getElementById('pv').textContent=f(C.p[i]);"
        "document.getElementById('rv').textContent=f(C.r[i]);"
        "document.getElementById('fv').textContent=f(C.f[i]);"
        "document.getElementById('fprv').textContent=f(C.fpr[i]);"
        "const d=document.getElementById('dot');"
        "d.setAttribute('cx',C.PAD+C.r[i]*(C.W-2*C.PAD));"
        "d.setAttribute('cy',C.H-C.PAD-C.p[i]*(C.H-2*C.PAD));}\n"
        "const s=document.getElementById('slider');"
        "s.addEventListener('input',()=>show(+s.value));show(+s.value);"
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1>{summary}{gate_html}"
        f"<h2>Precision / recall</h2>{_pr_svg(ev)}"
        f"<div><label>threshold <input id=slider type=range min=0 max=100 step=1 "
        f"value={start}></label></div>"
        "<div id=live>threshold <b id=tv></b> precision <b id=pv></b> recall <b id=rv></b> "
        "F1 <b id=fv></b> false-positive rate <b id=fprv></b></div>"
        "<h2>Per label</h2><table><tr><th class=l>label</th><th>test images</th><th>AuPRC</th>"
        f"<th>precision</th><th>recall</th><th>F1</th></tr>{label_rows}</table>"
        "<h2>Confusion matrix</h2><p>rows: true label, columns: top-1 prediction</p>"
        f"<table class=cm><tr><th></th>{head}</tr>{cm_rows}</table>"
        f"<h2>Worst mistakes</h2><div class=mist>{mistakes}</div>"
        f"<script>{script}</script></body></html>"
    )
