"""Run every question through the engine's chat pipeline, append one result line per question, summarise."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from app.errors import BackendError, CiteqaError, IndexError_, InputError

from . import metrics as M
from .files import RAGAS, RESULTS, RUN, SUMMARY, append_record, read_results
from .formats import EXPORTS, write_ragas
from .judges import SelfJudge, make_judge
from .parallel import in_order
from .qa_file import QAItem, file_sha256, load_qa
from .report import write_reports

SCHEMA = 1
EMPTY_INDEX = "the index is empty: run citeqa ingest (or pass --ingest)"
# Keys of the engine description that must match when a run is resumed.
IDENTITY_KEYS = ("backend", "model", "embedder", "index_fingerprint", "prompts_hash", "judge")
SERIAL_BACKENDS = ("llamacpp",)  # one model context in this process: --workers > 1 is refused

Progress = Callable[[int, int, float | None], None]


# ---------------------------------------------------------------- one question

def _history(item: QAItem, items: list[QAItem], answers: dict[str, str]) -> list[tuple[str, str]] | None:
    """The earlier turns of item's conversation, as (question, answer) pairs from this run's answers (id -> text)."""
    if not item.conversation or item.turn <= 1:
        return None
    earlier = [it for it in items if it.conversation == item.conversation and it.turn < item.turn]
    return [(it.question, answers.get(it.id, "")) for it in sorted(earlier, key=lambda x: x.turn)]


def _units(items: list[QAItem]) -> list[list[QAItem]]:
    """Work units for --workers: one question, or all the turns of one conversation (asked in order)."""
    units: list[list[QAItem]] = []
    for item in items:
        if item.conversation and units and units[-1][0].conversation == item.conversation:
            units[-1].append(item)
        else:
            units.append([item])
    return units


def _answer_dict(answer: Any) -> dict:
    if answer is None:
        return {}
    if isinstance(answer, dict):
        return answer
    return answer.to_dict()


def evaluate_answer(item: QAItem, ans: dict, judge: Any, k: int | None) -> dict:
    """Per-question record: what came back, and every metric that applies to it (None when it does not)."""
    text = ans.get("answer", "") or ""
    refused = bool(ans.get("refused", False))
    citations = ans.get("citations", []) or []
    sentences = ans.get("sentences", []) or []
    retrieved = [s.get("doc_id", "") for s in ans.get("sources", []) or []]
    cited_docs = [c.get("doc_id", "") for c in citations]
    timings = ans.get("timings", {}) or {}

    m: dict[str, Any] = {
        "hit_at_k": M.hit_at_k(retrieved, item.sources, k),
        "mrr": M.mrr(retrieved, item.sources, k),
        "recall_at_k": M.recall_at_k(retrieved, item.sources, k),
        "answer_recall": None, "token_f1": None, "rouge_l": None,
        "cited_doc_precision": None, "cited_doc_recall": None,
        "citation_recall": None, "citation_precision": None,
        "sentences_judged": 0, "citations_judged": 0, "judge_calls": 0, "judge_failures": 0,
        "refused": refused,
        "correct_refusal": (refused if not item.answerable else None),
        "false_refusal": (refused if item.answerable else None),
    }
    if item.answerable:
        m["answer_recall"] = M.reference_recall(text, item.references)
        m["token_f1"] = M.token_f1(text, item.references)
        m["rouge_l"] = M.rouge_l(text, item.references)
        if item.sources:
            m["cited_doc_precision"] = M.cited_doc_precision(cited_docs, item.sources)
            m["cited_doc_recall"] = M.cited_doc_recall(cited_docs, item.sources)
    if not refused and judge is not None:
        by_n = {c.get("n"): c.get("quote", "") for c in citations}
        pairs = [
            (s.get("text", ""), [by_n.get(n, "") for n in s.get("cited", [])])
            for s in sentences  # the answer's own sentences; dropped draft sentences were never shown
            if s.get("supported", True) and s.get("origin") != "refusal" and (s.get("text") or "").strip()
        ]
        if pairs:
            m.update(M.alce_citation_scores(pairs, judge.entails))

    if item.answerable:
        passed = not refused and (m["answer_recall"] is None or m["answer_recall"] >= 1.0)
    else:
        passed = refused
    return {
        "id": item.id,
        "line": item.line,
        "conversation": item.conversation or None,
        "turn": item.turn or None,
        "question": item.question,
        "answerable": item.answerable,
        "references": item.references,
        "expected_sources": item.sources,
        "answer": text,
        "refused": refused,
        "refusal_reason": ans.get("refusal_reason", ""),
        "answerability": ans.get("answerability"),
        "searched_for": ans.get("searched_for", ""),
        "citations": [
            {k2: c.get(k2) for k2 in ("n", "doc_id", "title", "quote", "supported", "score", "page", "start", "end",
                                      "answer_start", "answer_end")} for c in citations
        ],
        "sentences": sentences,
        "retrieved": retrieved,
        "retrieved_contexts": [s.get("text", "") for s in ans.get("sources", []) or []],
        "backend": ans.get("backend", ""),
        "model": ans.get("model", ""),
        "timings": timings,
        "metrics": m,
        "passed": bool(passed),
        "error": None,
    }


# ---------------------------------------------------------------- summary

def summarize(records: list[dict], run: dict) -> dict:
    def col(key: str, subset=None) -> list:
        return [r["metrics"].get(key) for r in (subset if subset is not None else records)]

    def rate(values: list) -> float | None:
        vals = [v for v in values if v is not None]
        return sum(1 for v in vals if v) / len(vals) if vals else None

    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    t = lambda key: [r.get("timings", {}).get(key) for r in records if not r.get("error")]  # noqa: E731
    seen = {M.doc_key(d) for r in records for d in r.get("retrieved", []) + [c.get("doc_id", "") for c in r.get("citations", [])]}
    expected = sorted({M.doc_key(d) for r in records for d in r.get("expected_sources", [])})
    judge = run.get("judge", "")
    summary = {
        "n": len(records),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "n_errors": sum(1 for r in records if r.get("error")),
        "pass_rate": rate([r["passed"] for r in records]),
        "k": run.get("top_k"),
        "hit_at_k": M.mean(col("hit_at_k")),
        "mrr": M.mean(col("mrr")),
        "recall_at_k": M.mean(col("recall_at_k")),
        "answer_recall": M.mean(col("answer_recall", answerable)),
        "token_f1": M.mean(col("token_f1", answerable)),
        "rouge_l": M.mean(col("rouge_l", answerable)),
        "cited_doc_precision": M.mean(col("cited_doc_precision")),
        "cited_doc_recall": M.mean(col("cited_doc_recall")),
        "citation_recall": M.mean(col("citation_recall")),
        "citation_precision": M.mean(col("citation_precision")),
        "judge": judge,
        "self_judged": bool(run.get("self_judged", False)),
        "judge_calls": sum(v or 0 for v in col("judge_calls")),
        "judge_failures": sum(v or 0 for v in col("judge_failures")),
        "refusal_accuracy": rate(col("correct_refusal", unanswerable)),
        "false_refusal_rate": rate(col("false_refusal", answerable)),
        "correct_refusals": sum(1 for v in col("correct_refusal", unanswerable) if v),
        "false_refusals": sum(1 for v in col("false_refusal", answerable) if v),
        # conversation follow-ups (turn 2 and later): answered right, or rightly refused
        "follow_ups": len([r for r in records if (r.get("turn") or 0) > 1]),
        "follow_ups_resolved": rate([r["passed"] for r in records if (r.get("turn") or 0) > 1]),
        "retrieve_ms_p50": M.percentile(t("retrieve_ms"), 50),
        "retrieve_ms_p95": M.percentile(t("retrieve_ms"), 95),
        # time to first token only where the model generated (a refusal before generation has none)
        "ttft_ms_p50": M.percentile([v for v in t("ttft_ms") if v], 50),
        "ttft_ms_p95": M.percentile([v for v in t("ttft_ms") if v], 95),
        "total_ms_p50": M.percentile(t("total_ms"), 50),
        "total_ms_p95": M.percentile(t("total_ms"), 95),
        "tokens_per_s": M.mean(v for v in t("tokens_per_s") if v),
        "expected_sources_never_retrieved": [e for e in expected if e not in seen],
        "answerability_curve": M.answerability_curve([r.get("answerability") for r in records],
                                                     [r["answerable"] for r in records]),
        "run": run,
    }
    return summary


# ---------------------------------------------------------------- the run

def _describe(engine: Any) -> dict:
    d = dict(engine.describe()) if hasattr(engine, "describe") else {}
    settings = getattr(engine, "settings", None)
    try:
        dumped = settings.model_dump(mode="json") if settings is not None else {}
    except TypeError:
        dumped = settings.model_dump() if settings is not None else {}
    return {
        "backend": d.get("backend", ""),
        "model": d.get("model", ""),
        "embedder": d.get("embedder", ""),
        "index_fingerprint": d.get("index_fingerprint", ""),
        "prompts_hash": d.get("prompts_hash", ""),
        "policy_hash": d.get("policy_hash", ""),
        "policy": d.get("policy", {}),
        "version": d.get("version", ""),
        "top_k": getattr(settings, "top_k", None),
        "settings": json.loads(json.dumps(dumped, default=str)),
    }


def _resolve_judge(judge: Any, engine: Any) -> Any:
    if judge is None or isinstance(judge, str):
        return make_judge(judge, getattr(engine, "settings", None), checker=getattr(engine, "checker", None))
    return judge


def run_eval(
    engine: Any,
    qa_path: str | Path,
    out_dir: str | Path,
    resume: bool = False,
    judge: Any = None,
    progress: Progress | None = None,
    limit: int | None = None,
    workers: int = 1,
    export: tuple[str, ...] = (),
) -> dict:
    """Evaluate `engine` on the questions of `qa_path`; write results.jsonl, summary.json, report.md, report.html
    into `out_dir` and return the summary. `judge`: None (the engine's own checker), 'ollama:MODEL', or an object
    with `name`, `self_judged` and `entails(passage, claim) -> bool`. `workers` > 1 asks that many questions at once
    (a served backend only); `export` ("ragas",) also writes those tools' files (see formats.py)."""
    items = load_qa(qa_path)  # validation first: nothing runs on an invalid file
    every = {it.id: it for it in items}
    if limit is not None:
        if limit < 1:
            raise InputError(f"--limit {limit}: give a positive number of questions")
        items = items[:limit]
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file; give a folder for the results")
    results_path = out / RESULTS
    if results_path.exists() and results_path.stat().st_size > 0 and not resume:
        raise InputError(f"{results_path} already exists: add --resume to continue that run, or choose another --out")
    unknown = [e for e in export if e not in EXPORTS]
    if unknown:
        raise InputError(f"--export {unknown[0]}: unknown format; give one of {', '.join(EXPORTS)}")
    if workers < 1:
        raise InputError(f"--workers {workers}: give a positive number")
    store = getattr(engine, "store", None)
    if store is not None and not store.exists():  # every question would be an error: say what to do instead
        raise IndexError_(EMPTY_INDEX)
    judge_obj = _resolve_judge(judge, engine)

    run = _describe(engine)
    if workers > 1 and run["backend"] in SERIAL_BACKENDS:
        raise InputError(f"--workers {workers}: the embedded model ({run['backend']}) answers one question at a time; "
                         "use --workers 1, or a served backend (--backend ollama or openai)")
    run["workers"] = workers
    run.update({
        "schema": SCHEMA,
        "qa_file": str(qa_path),
        "qa_sha256": file_sha256(qa_path),
        "limit": limit,
        "judge": judge_obj.name,
        "self_judged": bool(getattr(judge_obj, "self_judged", False)),
    })
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"--out {out}: cannot create the folder ({e.strerror})") from None

    done: dict[str, dict] = {}
    run_path = out / RUN
    if resume:
        done = read_results(results_path, repair=True)
        # results of other questions (another QA file, or questions since reworded) would mix into this one's
        # summary; questions added to the file since are fine: they are what --resume runs
        stale = [i for i in done if i not in every]
        changed = [i for i in done if i in every and done[i].get("question") != every[i].question]
        if stale or changed:
            what = (f"answers to questions {qa_path} does not have (id {stale[0]!r}" if stale
                    else f"answers to questions {qa_path} now words differently (id {changed[0]!r}")
            more = len(stale or changed) - 1
            raise InputError(f"--resume: {out} holds {what}{f' and {more} more' if more else ''}); it was made from "
                             "another QA file or an earlier version of this one: use another --out for a new run")
        if done and run_path.exists():
            try:
                before = json.loads(run_path.read_text(encoding="utf-8"))
            except ValueError:
                before = {}
            for key in IDENTITY_KEYS:
                if before.get(key) not in (None, "") and before.get(key) != run.get(key):
                    raise InputError(
                        f"--resume: {out} was run with {key}={before.get(key)!r}, now {run.get(key)!r}; "
                        "results would mix, so use another --out for a new run"
                    )
            run["started_at"] = before.get("started_at")
    run.setdefault("started_at", None)
    run["started_at"] = run["started_at"] or datetime.now(timezone.utc).isoformat(timespec="seconds")
    run_path.write_text(json.dumps(run, indent=2, ensure_ascii=False), encoding="utf-8")

    k = run.get("top_k")
    todo = [it for it in items if it.id not in done]
    total = len(items)
    finished = total - len(todo)
    if progress:
        progress(finished, total, None)
    t_start = time.monotonic()

    known = {i: r.get("answer", "") for i, r in done.items()}  # answers of earlier turns (resumed or this run)

    def answer(item: QAItem) -> dict:
        try:
            history = _history(item, items, known)
            ans = _answer_dict(engine.ask(item.question, history) if history else engine.ask(item.question))
            error = None
        except BackendError:
            raise
        except CiteqaError as e:
            ans, error = {}, str(e)
        except Exception as e:  # noqa: BLE001 - one broken question must not lose the run
            ans, error = {}, f"{type(e).__name__}: {e}"
        record = evaluate_answer(item, ans, judge_obj if not error else None, k)
        if error:
            record["error"] = error
            record["passed"] = False
        record["judge"] = judge_obj.name
        known[item.id] = record.get("answer", "")
        return record

    def answer_unit(unit: list[QAItem]) -> list[dict]:
        return [answer(item) for item in unit]

    units = _units(todo)
    done_before = finished

    with open(results_path, "a", encoding="utf-8") as f:
        try:
            # concurrent units (a question, or a conversation's turns in order), written in file order: a killed
            # run leaves a prefix, so --resume still works
            for unit, records in in_order(answer_unit, units, workers):
                for record in records:
                    append_record(f, record)
                finished += len(records)
                if progress:
                    elapsed, left = time.monotonic() - t_start, total - finished
                    progress(finished, total, elapsed / max(1, finished - done_before) * left)
        except BackendError as e:
            raise type(e)(
                f"{e} (stopped after {finished}/{total} questions; finished results are kept in {results_path}: "
                "fix the backend and rerun with --resume)"
            ) from None

    all_records = read_results(results_path)
    records = [all_records[it.id] for it in items if it.id in all_records]
    run["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run_path.write_text(json.dumps(run, indent=2, ensure_ascii=False), encoding="utf-8")
    summary = summarize(records, run)
    (out / SUMMARY).write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    write_reports(summary, records, out)
    if "ragas" in export:
        write_ragas(records, out / RAGAS)
    return summary
