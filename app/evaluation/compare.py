"""Compare two runs: metric deltas and the questions whose outcome flipped; CI gates."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from app.errors import InputError

from .files import load_run
from .report import LATENCY_METRICS, RATE_METRICS, fmt

METRIC_KEYS = [k for k, _, _ in RATE_METRICS] + [k for k, _ in LATENCY_METRICS]
LOWER_IS_BETTER = {"false_refusal_rate"} | {k for k, _ in LATENCY_METRICS if k != "tokens_per_s"}


def compare_runs(a_dir: str | Path, b_dir: str | Path) -> dict:
    """Deltas (b - a) per metric, and questions (matched by id) that went pass->fail or fail->pass."""
    sa, ra = load_run(a_dir)
    sb, rb = load_run(b_dir)
    metrics = {}
    for key in METRIC_KEYS:
        va, vb = sa.get(key), sb.get(key)
        delta = vb - va if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else None
        metrics[key] = {"a": va, "b": vb, "delta": delta}
    by_a = {r["id"]: r for r in ra}
    by_b = {r["id"]: r for r in rb}
    flipped = []
    for qid, b in by_b.items():
        a = by_a.get(qid)
        if a is None or bool(a.get("passed")) == bool(b.get("passed")):
            continue
        flipped.append({
            "id": qid,
            "question": b.get("question", ""),
            "a": "pass" if a.get("passed") else "fail",
            "b": "pass" if b.get("passed") else "fail",
            "answer_a": a.get("error") or a.get("answer", ""),
            "answer_b": b.get("error") or b.get("answer", ""),
        })
    return {
        "a": str(a_dir),
        "b": str(b_dir),
        "run_a": {k: sa.get("run", {}).get(k) for k in ("backend", "model", "index_fingerprint", "prompts_hash", "version", "judge")},
        "run_b": {k: sb.get("run", {}).get(k) for k in ("backend", "model", "index_fingerprint", "prompts_hash", "version", "judge")},
        "metrics": metrics,
        "flipped": flipped,
        "fixed": sum(1 for f in flipped if f["b"] == "pass"),
        "broken": sum(1 for f in flipped if f["b"] == "fail"),
        "only_in_a": sorted(set(by_a) - set(by_b)),
        "only_in_b": sorted(set(by_b) - set(by_a)),
        "summary_b": sb,
    }


def format_comparison(result: dict) -> str:
    lines = [f"A: {result['a']}  ({result['run_a'].get('model')}, {result['run_a'].get('backend')})",
             f"B: {result['b']}  ({result['run_b'].get('model')}, {result['run_b'].get('backend')})", ""]
    lines.append(f"{'metric':<22}{'A':>10}{'B':>10}{'delta':>10}")
    for key, m in result["metrics"].items():
        if m["a"] is None and m["b"] is None:
            continue
        d = m["delta"]
        mark = ""
        if d:
            better = (d < 0) if key in LOWER_IS_BETTER else (d > 0)
            mark = "  better" if better else "  worse"
        digits = 1 if key.endswith(("_ms_p50", "_ms_p95")) or key == "tokens_per_s" else 3
        ds = "n/a" if d is None else f"{d:+.{digits}f}"
        lines.append(f"{key:<22}{fmt(m['a'], digits):>10}{fmt(m['b'], digits):>10}{ds:>10}{mark}")
    lines.append("")
    lines.append(f"Flipped questions: {len(result['flipped'])} ({result['fixed']} fixed, {result['broken']} broken)")
    for f in result["flipped"]:
        lines.append(f"  {f['a']} -> {f['b']}  {f['id']}: {f['question']}")
    if result["only_in_a"] or result["only_in_b"]:
        lines.append(f"Not compared: {len(result['only_in_a'])} only in A, {len(result['only_in_b'])} only in B")
    return "\n".join(lines)


def parse_gate(text: str) -> tuple[str, float]:
    """'METRIC=VALUE' -> (metric, value); raises InputError with the fix."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError(f"--fail-under {text!r}: write METRIC=VALUE, e.g. --fail-under answer_recall=0.6")
    try:
        v = float(value)
    except ValueError:
        raise InputError(f"--fail-under {text!r}: {value!r} is not a number") from None
    return key, v


def check_gates(summary: dict, gates: list[tuple[str, float]]) -> list[str]:
    """Failure messages (empty = all gates pass). A metric below its threshold, or with no value, fails."""
    failures = []
    for key, threshold in gates:
        if key not in summary or isinstance(summary.get(key), (dict, list, str)):
            numeric = sorted(k for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
            raise InputError(f"--fail-under {key}: unknown metric; use one of {', '.join(numeric)}")
        value = summary.get(key)
        if value is None:
            failures.append(f"{key} has no value in this run (no question measured it), needed >= {threshold:g}")
        elif value < threshold:
            failures.append(f"{key} = {value:.4g} is under {threshold:g}")
    return failures
