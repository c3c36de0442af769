"""One self-contained HTML page for an evaluation: no CDN, inline SVG and a little JS.

Sections: summary, k-fold cross-validation (when the evaluation carries one), gate, the
comparison with the published version (when given: every metric of both with the paired change,
McNemar, per label, and the images the candidate fixes and breaks with thumbnails),
precision/recall curve (SVG) with a threshold slider that updates
precision, recall, F1 and false-positive rate live, per-label table, confusion matrix, worst
mistakes with small thumbnails (data URIs supplied by the caller). Every metric carries its 95%
interval and n ("n/a" for evaluations recorded before intervals existed); the slider computes
the Wilson intervals of the threshold it points at from the curve's counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING

from edgeops.evaluation.intervals import Interval
from edgeops.evaluation.metrics import THRESHOLDS, Evaluation

if TYPE_CHECKING:
    from edgeops.evaluation.compare import Comparison, MetricComparison
    from edgeops.evaluation.threshold import GateResult

MAX_CHANGED = 48  # fixed and broken images shown each

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}.ok{color:#080}.bad{color:#b00}
.cm td{min-width:28px}.mist img{width:64px;height:64px;object-fit:cover;display:block}
.mist div{display:inline-block;margin:4px;font-size:12px;width:140px;vertical-align:top}
.ci{color:#666;font-size:12px}.warn{color:#a60}
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


def _ci(iv: Interval | None, *, signed: bool = False) -> str:
    if iv is None:
        return "<span class=ci>95% CI n/a</span>"
    return f"<span class=ci>{escape(iv.describe(signed=signed))}</span>"


def _value_ci(value: float, iv: Interval | None, digits: int = 4) -> str:
    return f"{value:.{digits}f} {_ci(iv)}"


def render_html(
    evaluation: Evaluation,
    *,
    title: str = "Evaluation",
    threshold: float = 0.5,
    gate: GateResult | None = None,
    thumbnails: Mapping[str, str] | None = None,
    comparison: Comparison | None = None,
) -> str:
    ev = evaluation
    thumbnails = thumbnails or {}
    curve: dict[str, object] = {
        "t": list(THRESHOLDS),
        "p": list(ev.overall.precision),
        "r": list(ev.overall.recall),
        "f": list(ev.overall.f1),
        "fpr": list(ev.overall.false_positive_rate),
        "W": _W,
        "H": _H,
        "PAD": _PAD,
    }
    counts = ev.overall.counts
    if counts is not None:
        curve.update(
            tp=list(counts.true_positives),
            pred=list(counts.predicted),
            pos=counts.positives,
            neg=counts.negatives,
        )
    if ev.overall.f1_ci is not None:
        curve.update(
            f1lo=[lo for lo, _ in ev.overall.f1_ci], f1hi=[hi for _, hi in ev.overall.f1_ci]
        )
    at = ev.overall.at(threshold)
    iv = ev.intervals_at(threshold)
    summary = (
        f"<table><tr><th class=l>test images</th><td>{ev.n_examples}</td></tr>"
        f"<tr><th class=l>AuPRC (micro)</th><td>{_value_ci(ev.au_prc, iv.get('au_prc'))}</td></tr>"
        f"<tr><th class=l>log loss</th><td>{_value_ci(ev.log_loss, iv.get('log_loss'))}</td></tr>"
        f"<tr><th class=l>top-1 accuracy</th>"
        f"<td>{_value_ci(ev.top1_accuracy, iv.get('top1_accuracy'))}</td></tr>"
        f"<tr><th class=l>threshold</th><td>{threshold:.2f}</td></tr>"
        f"<tr><th class=l>precision at threshold</th>"
        f"<td>{_value_ci(at['precision'], iv.get('precision'))}</td></tr>"
        f"<tr><th class=l>recall at threshold</th>"
        f"<td>{_value_ci(at['recall'], iv.get('recall'))}</td></tr>"
        "</table><p class=ci>95% intervals: Wilson for proportions (n: predicted or true "
        "image-label pairs, or images), bootstrap over test images otherwise.</p>"
    )
    gate_html = ""
    if gate is not None:
        rows = (
            "".join(
                f"<tr><td class=l>{escape(r.metric)}</td><td>{r.value:.4f}</td><td>{r.bar:.4f}</td>"
                f"<td class=l>{_ci(r.interval, signed=r.kind == 'vs_published')}</td>"
                f"<td class={'ok' if r.ok else 'bad'}>{'ok' if r.ok else 'FAIL'}</td></tr>"
                for r in gate.rows
            )
            or "<tr><td class=l colspan=5>no bars set</td></tr>"
        )
        verdict = "<b class=ok>passed</b>" if gate.passed else "<b class=bad>failed</b>"
        warnings = "".join(f"<p class=warn>⚠ {escape(w)}</p>" for w in gate.warnings)
        gate_html = (
            f"<h2>Gate: {verdict}</h2><table><tr><th class=l>metric</th><th>value</th>"
            f"<th>bar</th><th class=l>interval</th><th></th></tr>{rows}</table>{warnings}"
        )
    label_rows = "".join(_label_row(ev, m.label, threshold) for m in ev.per_label)
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
            + _thumb(m.image_id, thumbnails)
            + f"{escape(m.image_id)}<br>true: {escape(', '.join(m.true_labels))}<br>"
            f"predicted: {escape(m.predicted)} ({m.score:.2f})</div>"
            for m in ev.mistakes
        )
        or "<p>No mistakes on the test split.</p>"
    )
    start = int(round(threshold * 100))
    script = (
        "const C=" + json.dumps(curve, separators=(",", ":")).replace("</", "<\\/") + ";\n"
        "function wilson(k,n){if(!n)return[0,1];const z=1.96,p=k/n,d=1+z*z/n,"
        "c=(p+z*z/(2*n))/d,h=z/d*Math.sqrt(p*(1-p)/n+z*z/(4*n*n));"
        "return[k?Math.max(0,c-h):0,k==n?1:Math.min(1,c+h)];}\n"
        "function ci(lo,hi,n){return ' (95% CI '+lo.toFixed(2)+'–'+hi.toFixed(2)+', n='+n+')';}\n"
        "function show(i){const f=x=>x.toFixed(3),has=C.tp!==undefined;"
        "const w=(k,n)=>{const [a,b]=wilson(k,n);return ci(a,b,n);};"
        "document.getElementById('tv').textContent=C.t[i].toFixed(2);"
        "document.getElementById('pv').textContent=f(C.p[i])+(has?w(C.tp[i],C.pred[i]):'');"
        "document.getElementById('rv').textContent=f(C.r[i])+(has?w(C.tp[i],C.pos):'');"
        "document.getElementById('fv').textContent=f(C.f[i])"
        "+(C.f1lo!==undefined?ci(C.f1lo[i],C.f1hi[i]," + str(ev.n_examples) + "):'');"
        "document.getElementById('fprv').textContent=f(C.fpr[i])"
        "+(has?w(C.pred[i]-C.tp[i],C.neg):'');"
        "const d=document.getElementById('dot');"
        "d.setAttribute('cx',C.PAD+C.r[i]*(C.W-2*C.PAD));"
        "d.setAttribute('cy',C.H-C.PAD-C.p[i]*(C.H-2*C.PAD));}\n"
        "const s=document.getElementById('slider');"
        "s.addEventListener('input',()=>show(+s.value));show(+s.value);"
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1>{summary}{_cross_validation_html(ev, threshold)}{gate_html}"
        + (_comparison_html(comparison, thumbnails) if comparison is not None else "")
        + f"<h2>Precision / recall</h2>{_pr_svg(ev)}"
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


def _cross_validation_html(ev: Evaluation, threshold: float) -> str:
    """The k-fold cross-validated metrics beside a small test split, labelled as such."""
    cv = ev.cross_validation
    if cv is None:
        return ""
    from edgeops.evaluation.crossval import describe_evaluation

    at = cv.overall.at(threshold)
    iv = cv.intervals_at(threshold)
    rows = "".join(
        f"<tr><th class=l>{name}</th><td>{_value_ci(value, iv.get(key))}</td></tr>"
        for key, name, value in (
            ("au_prc", "AuPRC (micro)", cv.au_prc),
            ("top1_accuracy", "top-1 accuracy", cv.top1_accuracy),
            ("precision", "precision at threshold", at["precision"]),
            ("recall", "recall at threshold", at["recall"]),
        )
    )
    return (
        "<h2>Cross-validation (not the test split)</h2>"
        f"<p>{escape(describe_evaluation(cv))}, at threshold {threshold:.2f}. Out-of-fold "
        "scores of the same head recipe; the summary above (the int8 file on the test split) "
        "is the primary evaluation.</p>"
        f"<table>{rows}</table>"
    )


def _label_row(ev: Evaluation, label: str, threshold: float) -> str:
    m = ev.label_metrics(label)
    at = m.curve.at(threshold)
    iv = m.intervals_at(threshold, ev.n_examples)
    return (
        f"<tr><td class=l>{escape(m.label)}</td><td>{m.support}</td>"
        f"<td>{_value_ci(m.au_prc, iv.get('au_prc'))}</td>"
        f"<td>{_value_ci(at['precision'], iv.get('precision'))}</td>"
        f"<td>{_value_ci(at['recall'], iv.get('recall'))}</td>"
        f"<td>{_value_ci(at['f1'], iv.get('f1'))}</td></tr>"
    )


def _thumb(image_id: str, thumbnails: Mapping[str, str]) -> str:
    if image_id not in thumbnails:
        return ""
    return f'<img alt="{escape(image_id)}" src="{escape(thumbnails[image_id], quote=True)}">'


def _comparison_row(name: str, m: MetricComparison) -> str:
    return (
        f"<tr><td class=l>{escape(name)}</td>"
        f"<td>{_value_ci(m.champion.value, m.champion)}</td>"
        f"<td>{_value_ci(m.candidate.value, m.candidate)}</td>"
        f"<td>{m.difference.value:+.4f} {_ci(m.difference, signed=True)}</td></tr>"
    )


def _changed_images(ids: tuple[str, ...], what: str, thumbnails: Mapping[str, str]) -> str:
    if not ids:
        return f"<p>No image {what}.</p>"
    shown = "".join(f"<div>{_thumb(i, thumbnails)}{escape(i)}</div>" for i in ids[:MAX_CHANGED])
    more = f"<p>… and {len(ids) - MAX_CHANGED} more</p>" if len(ids) > MAX_CHANGED else ""
    return f"<div class=mist>{shown}</div>{more}"


def _comparison_html(c: Comparison, thumbnails: Mapping[str, str]) -> str:
    from edgeops.evaluation.compare import METRIC_NAMES

    rows = "".join(_comparison_row(METRIC_NAMES[m.metric], m) for m in c.metrics)
    b, n_fixed = c.mcnemar_counts
    label_rows = "".join(
        f"<tr><td class=l>{escape(d.label)}</td><td>{d.support}</td>"
        f"<td>{d.au_prc.difference.value:+.4f} {_ci(d.au_prc.difference, signed=True)}</td>"
        f"<td>{d.recall.difference.value:+.4f} {_ci(d.recall.difference, signed=True)}</td></tr>"
        for d in c.per_label
    )
    return (
        "<h2>Against the published version</h2>"
        f"<p>Both models on the same {c.n_examples} test images (this version's test split); "
        f"published at threshold {c.champion_threshold:.2f}, this version at "
        f"{c.candidate_threshold:.2f}. Changes are this version minus the published one, with "
        f"95% paired-bootstrap intervals ({c.resamples} resamples, seed {c.seed}).</p>"
        "<table><tr><th class=l>metric</th><th>published</th><th>this version</th>"
        f"<th>change</th></tr>{rows}</table>"
        f"<p>Top-1: {n_fixed} image(s) fixed, {b} broken; exact McNemar p = "
        f"{c.mcnemar_p:.3g}.</p>"
        "<h3>Per label</h3><table><tr><th class=l>label</th><th>test images</th>"
        f"<th>AuPRC change</th><th>recall change</th></tr>{label_rows}</table>"
        f"<h3>Fixed (published wrong, this version right)</h3>"
        f"{_changed_images(c.fixed, 'fixed', thumbnails)}"
        f"<h3>Broken (published right, this version wrong)</h3>"
        f"{_changed_images(c.broken, 'broken', thumbnails)}"
    )
