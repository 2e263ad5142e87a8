"""Other tools' question files and exports: ragas and DeepEval.

Read: ragas samples (`user_input`, `reference`, `reference_contexts`, `reference_context_ids`,
`retrieved_contexts`; JSONL or CSV as `EvaluationDataset.to_csv` writes it, lists as Python literals) and DeepEval
goldens (`input`, `expected_output`, `context`; a JSON array as `save_as(file_type="json")` writes it, or JSONL).
Fields citeqa does not score (contexts, `actual_output`, metadata) are accepted and ignored.

Write: `ragas.jsonl`, one ragas `SingleTurnSample` per question (field names as in ragas's dataset_schema.py), so
ragas's own metrics can run on a citeqa run. ragas itself is not a dependency: it fails at import offline.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

QUESTION_ALIASES = ("question", "user_input", "input")  # citeqa, ragas, DeepEval
LIST_FIELDS = ("answers", "references", "sources", "reference_context_ids", "expected_sources",
               "reference_contexts", "retrieved_contexts", "context", "retrieval_context")
RAGAS_FIELDS = ("user_input", "retrieved_contexts", "response", "reference", "reference_context_ids")
EXPORTS = ("ragas",)


def csv_cell(field: str, value: str | None):
    """A CSV cell; list-valued fields written by pandas (`['a', 'b']`) or as JSON become lists."""
    if value is None or field not in LIST_FIELDS:
        return value
    s = value.strip()
    if not (s.startswith("[") and s.endswith("]")):
        return value
    for parse in (json.loads, ast.literal_eval):
        try:
            parsed = parse(s)
        except (ValueError, SyntaxError):
            continue
        if isinstance(parsed, list):
            return [str(v) for v in parsed]
    return value


def rows_json_array(text: str, problems: list) -> list[tuple[int, dict]]:
    """A JSON array of objects (DeepEval goldens). The 'line' of a row is its position in the array (1-based)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        problems.append((e.lineno, "json", f"not valid JSON ({e.msg} at column {e.colno})"))
        return []
    if not isinstance(data, list):
        problems.append((1, "json", "expected a JSON array of objects or one JSON object per line"))
        return []
    rows = []
    for n, obj in enumerate(data, start=1):
        if isinstance(obj, dict):
            rows.append((n, obj))
        else:
            problems.append((n, "json", f"item {n}: expected an object {{\"input\": ...}}, got {type(obj).__name__}"))
    return rows


def ragas_row(record: dict) -> dict:
    """One results.jsonl record -> one ragas SingleTurnSample dict."""
    refs = record.get("references") or []
    return {
        "user_input": record.get("question", ""),
        "retrieved_contexts": list(record.get("retrieved_contexts") or []),
        "response": record.get("answer", ""),
        "reference": refs[0] if refs else None,
        "reference_context_ids": list(record.get("expected_sources") or []),
    }


def write_ragas(records: list[dict], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(ragas_row(r), ensure_ascii=False) + "\n")
