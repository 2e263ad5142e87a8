"""`citeqa eval QA_FILE [--out DIR]` and `citeqa eval compare RUN_A RUN_B`, plugged into the core's argparse CLI."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from app.errors import CiteqaError, InputError

from .compare import check_gates, compare_runs, format_comparison, parse_gate
from .formats import EXPORTS
from .judges import make_judge, parse_judge_spec
from .qa_file import load_qa
from .report import fmt

GATE_KEYS = {
    "n", "n_answerable", "n_unanswerable", "n_errors", "pass_rate", "hit_at_k", "mrr", "recall_at_k",
    "answer_recall", "token_f1", "rouge_l", "cited_doc_precision", "cited_doc_recall", "citation_recall",
    "citation_precision", "refusal_accuracy", "false_refusal_rate", "correct_refusals", "false_refusals",
    "retrieve_ms_p50", "retrieve_ms_p95", "ttft_ms_p50", "ttft_ms_p95", "total_ms_p50", "total_ms_p95",
    "tokens_per_s", "judge_calls", "judge_failures",
}

EPILOG = """examples:
  citeqa eval seeds/qa.jsonl --out runs/base
  citeqa eval seeds/qa.jsonl --out runs/base --resume
  citeqa eval ragas_testset.csv --backend openai --workers 4 --export ragas
  citeqa eval seeds/qa.jsonl --judge ollama:bespoke-minicheck --fail-under answer_recall=0.6
  citeqa eval compare runs/base runs/new --fail-under citation_precision=0.8
"""


def _gate(text: str) -> tuple[str, float]:
    try:
        key, value = parse_gate(text)
    except InputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if key not in GATE_KEYS:
        raise argparse.ArgumentTypeError(f"unknown metric {key!r}; use one of {', '.join(sorted(GATE_KEYS))}")
    return key, value


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError("give a positive number of questions")
    return n


def register(subparsers: Any, common_parent: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "eval",
        parents=[common_parent] if common_parent is not None else [],
        help="evaluate answers and citations on a question file (or: eval compare RUN_A RUN_B)",
        usage="%(prog)s QA_FILE [--out DIR] [--resume] [--judge ollama:MODEL] [--fail-under METRIC=VALUE] [--limit N]\n"
              "       %(prog)s compare RUN_A RUN_B [--fail-under METRIC=VALUE]",
        description="Run every question of QA_FILE (JSONL or CSV) through the chat pipeline and score retrieval, "
                    "answers, citations, refusals and latency. `citeqa eval compare RUN_A RUN_B` compares two runs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("targets", nargs="+", metavar="QA_FILE",
                        help="the question file; or `compare RUN_A RUN_B` (two --out folders)")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default: runs/eval-YYYYmmdd-HHMMSS)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run in --out without redoing finished questions")
    parser.add_argument("--judge", default=None, metavar="ollama:MODEL",
                        help="stronger citation judge, e.g. ollama:bespoke-minicheck (default: the pipeline's own "
                             "support checker, reported as self-judged)")
    parser.add_argument("--fail-under", type=_gate, action="append", default=[], metavar="METRIC=VALUE",
                        help="exit with status 1 if METRIC is below VALUE (repeatable; for compare: checks RUN_B)")
    parser.add_argument("--limit", type=_positive, default=None, metavar="N", help="only the first N questions")
    parser.add_argument("--json", action="store_true", help="print the summary (or comparison) as JSON")
    parser.add_argument("--ingest", action="store_true",
                        help="index the configured documents (docs_path) first, e.g. on a fresh machine")
    parser.add_argument("--workers", type=_positive, default=1, metavar="N",
                        help="questions asked at once (a served backend: ollama or openai; the embedded model takes 1)")
    parser.add_argument("--export", action="append", default=[], choices=list(EXPORTS),
                        help="also write another tool's file: ragas -> ragas.jsonl (ragas SingleTurnSample rows)")
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, settings: Any) -> int:
    targets = list(args.targets)
    if targets[0] == "compare" and len(targets) != 1:
        if len(targets) != 3:
            raise InputError("usage: citeqa eval compare RUN_A RUN_B (two --out folders of finished runs)")
        return handle_compare(args, targets[1], targets[2])
    if len(targets) != 1:
        raise InputError(f"citeqa eval takes one QA_FILE, got {len(targets)} ({' '.join(targets)}); "
                         "to compare runs: citeqa eval compare RUN_A RUN_B")
    return handle_eval(args, settings, targets[0])


def _progress_bar(total_hint: int):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None
    state: dict[str, Any] = {"bar": None}

    def progress(done: int, total: int, eta_s: float | None) -> None:
        if tqdm is None:
            eta = f", ETA {eta_s:.0f}s" if eta_s is not None else ""
            print(f"\r{done}/{total}{eta}", end="", file=sys.stderr, flush=True)
            return
        if state["bar"] is None:
            state["bar"] = tqdm(total=total, initial=done, desc="eval", unit="q", file=sys.stderr, dynamic_ncols=True)
        else:
            state["bar"].update(done - state["bar"].n)

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].close()
            state["bar"] = None

    return progress, close


def handle_eval(args: argparse.Namespace, settings: Any, qa_file: str) -> int:
    items = load_qa(qa_file)  # invalid file: every problem reported, nothing loaded or run
    out = args.out or Path("runs") / datetime.now().strftime("eval-%Y%m%d-%H%M%S")
    results = Path(out) / "results.jsonl"
    if results.exists() and results.stat().st_size > 0 and not args.resume:
        raise InputError(f"{results} already exists: add --resume to continue that run, or choose another --out")
    if args.resume and not results.exists():
        print(f"note: nothing to resume in {out}; starting a new run", file=sys.stderr)
    judge = None
    if parse_judge_spec(args.judge) is not None:
        judge = make_judge(args.judge, settings)  # unreachable judge: one-line BackendError before anything runs

    from app.engine import Engine

    engine = Engine(settings)
    if getattr(args, "ingest", False):
        report = engine.ingest()
        for f in report.failed:
            print(f"citeqa: error: {f.error}", file=sys.stderr)
    for note in unknown_sources(items, engine):
        print(f"citeqa: warning: {qa_file}: {note}", file=sys.stderr)
    from .runner import run_eval

    progress, close = _progress_bar(len(items))
    try:
        summary = run_eval(engine, qa_file, out, resume=args.resume, judge=judge, progress=progress, limit=args.limit,
                           workers=args.workers, export=tuple(args.export))
    except KeyboardInterrupt:
        close()
        print(f"\ninterrupted: finished questions are kept in {results}; continue with "
              f"`citeqa eval {qa_file} --out {out} --resume`", file=sys.stderr)
        return 130
    finally:
        close()
    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "run"}, indent=2, ensure_ascii=False))
    else:
        print(format_summary(summary, out))
    return _gates(summary, args.fail_under)


def format_summary(summary: dict, out: Path | str) -> str:
    sj = " (self-judged)" if summary.get("self_judged") else ""
    lines = [
        f"{summary['n']} questions ({summary['n_answerable']} answerable, {summary['n_unanswerable']} unanswerable, "
        f"{summary['n_errors']} errors), pass rate {fmt(summary.get('pass_rate'))}",
        f"retrieval: hit@{summary.get('k')} {fmt(summary.get('hit_at_k'))}, MRR {fmt(summary.get('mrr'))}, "
        f"recall@{summary.get('k')} {fmt(summary.get('recall_at_k'))}",
        f"answers: reference recall {fmt(summary.get('answer_recall'))}, token F1 {fmt(summary.get('token_f1'))}, "
        f"ROUGE-L {fmt(summary.get('rouge_l'))}",
        f"citations: cited-doc precision {fmt(summary.get('cited_doc_precision'))}, recall "
        f"{fmt(summary.get('cited_doc_recall'))}; ALCE recall {fmt(summary.get('citation_recall'))}, precision "
        f"{fmt(summary.get('citation_precision'))}{sj}; judge {summary.get('judge')}, "
        f"{summary.get('judge_failures', 0)} failed verdict(s)",
        f"refusals: correct {summary.get('correct_refusals')}/{summary['n_unanswerable']}, "
        f"false {summary.get('false_refusals')}/{summary['n_answerable']}",
        f"latency: ttft p50 {fmt(summary.get('ttft_ms_p50'), 0)} ms, total p50 {fmt(summary.get('total_ms_p50'), 0)} ms, "
        f"p95 {fmt(summary.get('total_ms_p95'), 0)} ms, {fmt(summary.get('tokens_per_s'), 1)} tokens/s",
        f"report: {Path(out) / 'report.html'}",
    ]
    return "\n".join(lines)


def handle_compare(args: argparse.Namespace, a: str, b: str) -> int:
    result = compare_runs(a, b)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "summary_b"}, indent=2, ensure_ascii=False))
    else:
        print(format_comparison(result))
    return _gates(result["summary_b"], args.fail_under)


def _gates(summary: dict, gates: list[tuple[str, float]]) -> int:
    failures = check_gates(summary, gates)
    for f in failures:
        print(f"FAIL: {f}", file=sys.stderr)
    return 1 if failures else 0


def unknown_sources(items: list, engine: Any, shown: int = 3) -> list[str]:
    """One line per QA item (the first `shown`, then a count) whose `sources` name a document the index does not
    hold: its retrieval and cited-document metrics would count as misses. An empty index says nothing here
    (run_eval says what to do)."""
    from .metrics import doc_key

    try:
        known = {doc_key(d.doc_id) for d in engine.documents()}
    except CiteqaError:
        return []
    if not known:
        return []
    bad = [(it, [s for s in it.sources if doc_key(s) not in known]) for it in items]  # compared as the metrics do
    bad = [(it, missing) for it, missing in bad if missing]
    notes = [f"line {it.line}: sources: {missing[0]!r} is not an indexed document (`citeqa docs` lists them; "
             "ingest it, or fix the name); its retrieval and cited-document scores count as misses"
             for it, missing in bad[:shown]]
    if len(bad) > shown:
        notes.append(f"{len(bad) - shown} more lines name documents that are not indexed")
    return notes
