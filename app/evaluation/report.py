"""Human-readable reports of a run: Markdown and one self-contained HTML page (inline CSS, SVG and JS)."""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

# (key, label, higher is better)
RATE_METRICS = [
    ("pass_rate", "Pass rate", True),
    ("hit_at_k", "Hit@k", True),
    ("mrr", "MRR", True),
    ("recall_at_k", "Recall@k", True),
    ("answer_recall", "Reference recall", True),
    ("token_f1", "Token F1", True),
    ("rouge_l", "ROUGE-L", True),
    ("cited_doc_precision", "Cited-document precision", True),
    ("cited_doc_recall", "Cited-document recall", True),
    ("citation_recall", "Citation recall (ALCE)", True),
    ("citation_precision", "Citation precision (ALCE)", True),
    ("refusal_accuracy", "Correct refusals (unanswerable)", True),
    ("false_refusal_rate", "False refusals (answerable)", False),
]
PER_QUESTION_KEY = {"pass_rate": None, "refusal_accuracy": "correct_refusal", "false_refusal_rate": "false_refusal"}
LATENCY_METRICS = [
    ("retrieve_ms_p50", "Retrieval p50 (ms)"), ("retrieve_ms_p95", "Retrieval p95 (ms)"),
    ("ttft_ms_p50", "Time to first token p50 (ms)"), ("ttft_ms_p95", "Time to first token p95 (ms)"),
    ("total_ms_p50", "Total p50 (ms)"), ("total_ms_p95", "Total p95 (ms)"),
    ("tokens_per_s", "Tokens/s (mean)"),
]
JUDGED = {"citation_recall", "citation_precision"}


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _label(key: str, label: str, summary: dict) -> str:
    if key in JUDGED and summary.get("self_judged"):
        return f"{label} [self-judged]"
    return label


def _judge_line(summary: dict) -> str:
    tail = " — self-judged: the pipeline grades its own citations" if summary.get("self_judged") else ""
    return (f"Judge: {summary.get('judge') or 'n/a'}{tail}. Judge calls: {summary.get('judge_calls', 0)}, "
            f"failed verdicts: {summary.get('judge_failures', 0)} (left out of the citation figures).")


def _citations_text(r: dict) -> str:
    return ", ".join(f"[{c.get('n')}] {c.get('doc_id')}" for c in r.get("citations", []))


# ---------------------------------------------------------------- Markdown

def render_markdown(summary: dict, records: list[dict]) -> str:
    run = summary.get("run", {})
    out = ["# citeqa evaluation report", ""]
    out.append(f"- Questions: {summary['n']} ({summary['n_answerable']} answerable, {summary['n_unanswerable']} unanswerable, {summary['n_errors']} errors)")
    for key in ("backend", "model", "embedder", "index_fingerprint", "prompts_hash", "version", "qa_file", "started_at", "finished_at"):
        out.append(f"- {key}: {run.get(key) or 'n/a'}")
    out.append(f"- {_judge_line(summary)}")
    out += ["", "## Metrics", "", "| Metric | Value |", "|---|---|"]
    for key, label, _ in RATE_METRICS:
        out.append(f"| {_label(key, label, summary)} | {fmt(summary.get(key))} |")
    out += ["", "## Latency", "", "| Metric | Value |", "|---|---|"]
    for key, label in LATENCY_METRICS:
        out.append(f"| {label} | {fmt(summary.get(key), 1)} |")
    missing = summary.get("expected_sources_never_retrieved") or []
    if missing:
        out += ["", f"Expected sources never retrieved or cited: {', '.join(missing)} (check the ids match the index's document ids)."]
    out += ["", "## Questions", "", "| id | question | answer | citations | result |", "|---|---|---|---|---|"]
    cell = lambda s: " ".join(str(s).split()).replace("|", "\\|")  # noqa: E731
    for r in records:
        result = "ERROR" if r.get("error") else ("pass" if r.get("passed") else "FAIL")
        answer = r.get("error") or r.get("answer", "")
        out.append(f"| {cell(r['id'])} | {cell(r['question'])} | {cell(answer)} | {cell(_citations_text(r))} | {result} |")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- HTML

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2330;background:#fafbfc}
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #dde;padding-bottom:.2rem}
.meta{color:#555;font-size:.9rem}.meta code{background:#eef;padding:0 .3rem;border-radius:3px}
.cards{display:flex;flex-wrap:wrap;gap:1rem}.card{background:#fff;border:1px solid #dde;border-radius:8px;padding:.6rem .8rem;width:250px}
.card h3{font-size:.85rem;margin:0 0 .3rem 0;font-weight:600}.card .v{font-size:1.4rem;font-weight:700}
.self{color:#a15c00;font-size:.75rem}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.88rem}th,td{border:1px solid #dde;padding:.35rem .5rem;vertical-align:top;text-align:left}
th{background:#f0f2f7;position:sticky;top:0}tr.fail td.res{color:#b00020;font-weight:700}tr.pass td.res{color:#11772d;font-weight:700}
tr.error td.res{color:#7a0080;font-weight:700}.controls{margin:.6rem 0;display:flex;gap:.6rem;align-items:center}
input[type=search]{padding:.3rem .5rem;width:22rem}.small{color:#666;font-size:.8rem}
"""

JS = """
(function(){
  var q=document.getElementById('filter'), s=document.getElementById('status'), c=document.getElementById('count');
  function apply(){
    var text=q.value.toLowerCase(), st=s.value, rows=document.querySelectorAll('#questions tbody tr'), shown=0;
    rows.forEach(function(r){
      var ok=(!text||r.textContent.toLowerCase().indexOf(text)>=0)&&(st==='all'||r.dataset.status===st||r.dataset.kind===st);
      r.style.display=ok?'':'none'; if(ok){shown++;}
    });
    c.textContent=shown+' of '+rows.length+' questions';
  }
  q.addEventListener('input',apply); s.addEventListener('change',apply); apply();
})();
"""


def _bar_svg(value: float | None, per_question: list[float], good_high: bool) -> str:
    """Aggregate bar plus a 5-bin distribution of the per-question values."""
    w, h = 220, 70
    parts = [f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">']
    parts.append(f'<rect x="0" y="4" width="{w}" height="12" fill="#e6e9f0" rx="3"/>')
    if value is not None:
        good = value if good_high else 1 - value
        color = "#2e8b57" if good >= 0.8 else "#d9a400" if good >= 0.5 else "#c0392b"
        parts.append(f'<rect x="0" y="4" width="{max(0.0, min(1.0, value)) * w:.1f}" height="12" fill="{color}" rx="3"/>')
    if per_question:
        bins = [0] * 5
        for v in per_question:
            bins[min(4, int(max(0.0, min(1.0, v)) * 5))] += 1
        top = max(bins) or 1
        bw = w / 5
        for i, b in enumerate(bins):
            bh = 36 * b / top
            parts.append(f'<rect x="{i * bw + 2:.1f}" y="{58 - bh:.1f}" width="{bw - 4:.1f}" height="{bh:.1f}" fill="#7a8bb8"><title>{i * 20}-{(i + 1) * 20}%: {b}</title></rect>')
        parts.append(f'<text x="0" y="69" font-size="9" fill="#666">0</text><text x="{w - 8}" y="69" font-size="9" fill="#666">1</text>')
    parts.append("</svg>")
    return "".join(parts)


def _histogram_svg(series: dict[str, list[float]]) -> str:
    vals = [v for vs in series.values() for v in vs]
    w, h, pad = 640, 220, 36
    if not vals:
        return '<p class="small">No timings recorded.</p>'
    hi = max(vals) or 1.0
    nb = 12
    width = hi / nb
    colors = ["#4c6ef5", "#f08c00", "#2f9e44"]
    parts = [f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">']
    counts = {}
    for name, vs in series.items():
        c = [0] * nb
        for v in vs:
            c[min(nb - 1, int(v / width)) if width else 0] += 1
        counts[name] = c
    top = max(max(c) for c in counts.values()) or 1
    plot_w = w - 2 * pad
    group = plot_w / nb
    k = len(series)
    for si, (name, c) in enumerate(counts.items()):
        for i, n in enumerate(c):
            bh = (h - 2 * pad) * n / top
            x = pad + i * group + si * group / k + 1
            parts.append(f'<rect x="{x:.1f}" y="{h - pad - bh:.1f}" width="{group / k - 2:.1f}" height="{bh:.1f}" fill="{colors[si % 3]}">'
                         f'<title>{html.escape(name)} {i * width:.0f}-{(i + 1) * width:.0f} ms: {n}</title></rect>')
        parts.append(f'<rect x="{pad + si * 170}" y="6" width="10" height="10" fill="{colors[si % 3]}"/>'
                     f'<text x="{pad + 14 + si * 170}" y="15" font-size="11">{html.escape(name)}</text>')
    parts.append(f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#333"/>')
    for i in range(0, nb + 1, 3):
        parts.append(f'<text x="{pad + i * group:.1f}" y="{h - pad + 14}" font-size="10" text-anchor="middle">{i * width:.0f}</text>')
    parts.append(f'<text x="{w / 2}" y="{h - 6}" font-size="11" text-anchor="middle">milliseconds</text>')
    parts.append(f'<text x="4" y="{pad}" font-size="10">{top}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _curve_svg(curve: list[dict], chosen: float | None) -> str:
    """The answerability precision-recall curve (answer when the evidence score >= t), the policy's point marked."""
    pts = [(c["recall"], c["precision"], c["threshold"]) for c in curve if c.get("recall") is not None and c.get("precision") is not None]
    if not pts:
        return '<p class="small">No answerability scores in these results.</p>'
    w, h, pad = 360, 260, 36
    x = lambda r: pad + r * (w - 2 * pad)  # noqa: E731
    y = lambda p: h - pad - p * (h - 2 * pad)  # noqa: E731
    line = " ".join(f"{x(r):.1f},{y(p):.1f}" for r, p, _ in pts)
    parts = [f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="answerability precision-recall curve">',
             f'<rect x="{pad}" y="{pad}" width="{w - 2 * pad}" height="{h - 2 * pad}" fill="none" stroke="#ccc"/>',
             f'<polyline points="{line}" fill="none" stroke="#2b6cb0" stroke-width="2"/>',
             f'<text x="{w / 2}" y="{h - 6}" text-anchor="middle" font-size="11">recall (answerable questions answered)</text>',
             f'<text x="12" y="{h / 2}" transform="rotate(-90 12 {h / 2})" text-anchor="middle" font-size="11">precision</text>']
    if chosen is not None:
        at = [p for p in pts if p[2] >= chosen]
        r, p, t = at[-1] if at else pts[0]
        parts.append(f'<circle cx="{x(r):.1f}" cy="{y(p):.1f}" r="5" fill="#c53030"><title>min_evidence {chosen}</title></circle>')
        parts.append(f'<text x="{x(r) + 8:.1f}" y="{y(p) - 8:.1f}" font-size="11" fill="#c53030">chosen: t={chosen} '
                     f'(P {p:.2f}, R {r:.2f})</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(summary: dict, records: list[dict]) -> str:
    e = html.escape
    run = summary.get("run", {})
    meta = " · ".join(
        f"{k}: <code>{e(str(run.get(k) or 'n/a'))}</code>"
        for k in ("backend", "model", "embedder", "index_fingerprint", "prompts_hash", "policy_hash", "version", "qa_file",
                  "finished_at"))
    cards = []
    for key, label, good_high in RATE_METRICS:
        pq_key = PER_QUESTION_KEY.get(key, key)
        if key == "pass_rate":
            per_q = [1.0 if r.get("passed") else 0.0 for r in records]
        else:
            per_q = [float(r["metrics"][pq_key]) for r in records if r.get("metrics", {}).get(pq_key) is not None]
        self_mark = '<div class="self">self-judged</div>' if key in JUDGED and summary.get("self_judged") else ""
        cards.append(f'<div class="card"><h3>{e(label)}</h3><div class="v">{fmt(summary.get(key))}</div>{self_mark}'
                     f'{_bar_svg(summary.get(key), per_q, good_high)}<div class="small">{len(per_q)} question(s)</div></div>')
    lat_rows = "".join(f"<tr><td>{e(label)}</td><td>{fmt(summary.get(key), 1)}</td></tr>" for key, label in LATENCY_METRICS)
    hist = _histogram_svg({
        "total": [r["timings"].get("total_ms") for r in records if r.get("timings", {}).get("total_ms") is not None],
        "time to first token": [r["timings"].get("ttft_ms") for r in records if r.get("timings", {}).get("ttft_ms") is not None],
        "retrieval": [r["timings"].get("retrieve_ms") for r in records if r.get("timings", {}).get("retrieve_ms") is not None],
    })
    rows = []
    for i, r in enumerate(records, start=1):
        status = "error" if r.get("error") else ("pass" if r.get("passed") else "fail")
        kind = "answerable" if r.get("answerable") else "unanswerable"
        m = r.get("metrics", {})
        answer = r.get("error") or r.get("answer", "")
        cits = "<br>".join(
            f"[{e(str(c.get('n')))}] {e(str(c.get('doc_id')))}" + ("" if c.get("supported", True) else " (unsupported)")
            for c in r.get("citations", []))
        expected = e(", ".join(r.get("references", [])) or "(should refuse)")
        rows.append(
            f'<tr class="{status}" data-status="{status}" data-kind="{kind}"><td>{i}</td><td>{e(str(r["id"]))}</td>'
            f'<td>{e(r["question"])}<div class="small">expected: {expected}</div></td><td>{e(answer)}</td><td>{cits}</td>'
            f'<td>{fmt(m.get("answer_recall"), 2)} / {fmt(m.get("token_f1"), 2)}</td><td>{fmt(m.get("hit_at_k"), 2)}</td>'
            f'<td class="res">{status.upper() if status != "pass" else "pass"}</td></tr>')
    missing = summary.get("expected_sources_never_retrieved") or []
    warn = (f'<p class="self">Expected sources never retrieved or cited: {e(", ".join(missing))} '
            "(check the ids match the index's document ids).</p>") if missing else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>citeqa evaluation report</title><style>{CSS}</style></head>
<body>
<h1>citeqa evaluation report</h1>
<p class="meta">{meta}</p>
<h2>Summary</h2>
<p>{summary['n']} questions: {summary['n_answerable']} answerable, {summary['n_unanswerable']} unanswerable,
{summary['n_errors']} errors. Pass rate {fmt(summary.get('pass_rate'))}.
Correct refusals {summary.get('correct_refusals', 0)}/{summary['n_unanswerable']},
false refusals {summary.get('false_refusals', 0)}/{summary['n_answerable']}.</p>
<p class="meta">{e(_judge_line(summary))}</p>{warn}
<div class="cards">{''.join(cards)}</div>
<h2>Answer or refuse</h2>
<p class="small">Each point: answer when the best evidence score is at least t. The red point is the policy's
<code>min_evidence</code>; a refusal there can also come from a missing name or number, or from no evidence
holding what the question asks for.</p>
<p>{_curve_svg(summary.get("answerability_curve") or [], (run.get("policy") or {}).get("min_evidence"))}</p>
<h2>Latency</h2>
<table style="width:auto"><tbody>{lat_rows}</tbody></table>
<p>{hist}</p>
<h2>Questions</h2>
<div class="controls"><input id="filter" type="search" placeholder="Filter questions, answers, citations">
<select id="status"><option value="all">all</option><option value="pass">pass</option><option value="fail">fail</option>
<option value="error">error</option><option value="answerable">answerable</option><option value="unanswerable">unanswerable</option></select>
<span id="count" class="small"></span></div>
<table id="questions"><thead><tr><th>#</th><th>id</th><th>question</th><th>answer</th><th>citations</th>
<th>ref. recall / F1</th><th>hit@k</th><th>result</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<script>{JS}</script>
</body></html>
"""


def write_reports(summary: dict, records: list[dict], out_dir: Path) -> None:
    out_dir = Path(out_dir)
    (out_dir / "report.md").write_text(render_markdown(summary, records), encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(summary, records), encoding="utf-8")
