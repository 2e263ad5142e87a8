"""Read and validate a question-answer file (JSONL or CSV). Every problem is collected, then reported at once."""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.errors import EvalFileError, InputError

from .formats import QUESTION_ALIASES, csv_cell, rows_json_array

REFERENCE_ALIASES = ("answer", "answers", "reference", "references", "expected_output", "ground_truth")
SOURCE_ALIASES = ("sources", "reference_context_ids", "expected_sources")
KNOWN_FIELDS = {"id", *QUESTION_ALIASES, "answerable", "language", "notes", "fact", "tags", "turns",
                *REFERENCE_ALIASES, *SOURCE_ALIASES}
TRUE_WORDS = {"true", "yes", "y", "1"}
FALSE_WORDS = {"false", "no", "n", "0"}


@dataclass
class QAItem:
    id: str
    question: str
    references: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    answerable: bool = True
    line: int = 0
    conversation: str = ""  # a turn of a conversation: its id (earlier turns are this turn's history)
    turn: int = 0  # 1, 2, ... within the conversation


    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _auto_id(question: str) -> str:
    return "q_" + hashlib.sha1(question.strip().encode("utf-8")).hexdigest()[:10]


def _as_list(value: Any, field_name: str, problems: list, line: int, split_pipes: bool) -> list[str] | None:
    """A string or a list of non-empty strings -> list[str]; records a problem and returns None otherwise."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = value.split("|") if split_pipes else [value]
        return [p.strip() for p in parts if p.strip()]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list):
        out: list[str] = []
        for v in value:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                v = str(v)
            if not isinstance(v, str):
                problems.append((line, field_name, f"every item must be a string, got {type(v).__name__} (e.g. [\"seven hours\", \"7 hours\"])"))
                return None
            if v.strip():
                out.append(v.strip())
        return out
    problems.append((line, field_name, f"must be a string or a list of strings, got {type(value).__name__}"))
    return None


def _parse_answerable(value: Any, problems: list, line: int) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    problems.append((line, "answerable", f"unknown value {value!r}: use true or false"))
    return None


def _pick_alias(row: dict[str, Any], aliases: tuple[str, ...], label: str, problems: list, line: int) -> tuple[str | None, Any]:
    given = [a for a in aliases if a in row and row[a] not in (None, "")]
    if len(given) > 1:
        problems.append((line, given[1], f"{label} given twice ({', '.join(given)}): keep one field"))
    if not given:
        return None, None
    return given[0], row[given[0]]


def _validate_row(row: dict[str, Any], line: int, problems: list, split_pipes: bool) -> QAItem | None:
    start = len(problems)
    _, question = _pick_alias(row, QUESTION_ALIASES, "question", problems, line)
    if question is None or (isinstance(question, str) and not question.strip()):
        problems.append((line, "question", "missing or empty: every row needs a question"))
        question = None
    elif not isinstance(question, str):
        problems.append((line, "question", f"must be a string, got {type(question).__name__}"))
        question = None

    ref_field, ref_value = _pick_alias(row, REFERENCE_ALIASES, "reference answer", problems, line)
    references = _as_list(ref_value, ref_field or "answer", problems, line, split_pipes=split_pipes) if ref_field else []
    src_field, src_value = _pick_alias(row, SOURCE_ALIASES, "expected sources", problems, line)
    sources = _as_list(src_value, src_field or "sources", problems, line, split_pipes=True) if src_field else []

    answerable: bool | None
    raw_answerable = row.get("answerable")
    if raw_answerable is None or raw_answerable == "":
        answerable = bool(references)
    else:
        answerable = _parse_answerable(raw_answerable, problems, line)

    raw_id = row.get("id")
    if raw_id is None or raw_id == "":
        item_id = _auto_id(question) if question else ""
    elif isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool):
        item_id = str(raw_id).strip()
    else:
        problems.append((line, "id", f"must be a string or a number, got {type(raw_id).__name__}"))
        item_id = ""

    if len(problems) > start:
        return None
    return QAItem(id=item_id, question=question.strip(), references=references or [], sources=sources or [],
                  answerable=bool(answerable), line=line)


def _read_text(path: Path) -> str:
    if not path.exists():
        raise InputError(f"{path}: no such file (give the path of a .jsonl or .csv question file)")
    if path.is_dir():
        raise InputError(f"{path}: is a folder (give the path of a .jsonl or .csv question file)")
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise EvalFileError(str(path), [(0, "file", f"not UTF-8 text (byte {e.start}): save it as UTF-8")]) from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror}); check the permissions") from None


def _rows_jsonl(text: str, problems: list) -> list[tuple[int, dict]]:
    rows = []
    for n, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s or s.startswith("//") or s.startswith("#"):
            continue
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as e:
            problems.append((n, "json", f"not valid JSON ({e.msg} at column {e.colno}); each line must be one JSON object"))
            continue
        if not isinstance(obj, dict):
            problems.append((n, "json", f"expected a JSON object {{\"question\": ...}}, got {type(obj).__name__}"))
            continue
        rows.append((n, obj))
    return rows


def _rows_csv(text: str, problems: list) -> list[tuple[int, dict]]:
    lines = text.splitlines(keepends=True)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return []
    except csv.Error as e:
        problems.append((1, "csv", f"cannot parse the header: {e}"))
        return []
    header = [h.strip().lower() for h in header]
    if not set(QUESTION_ALIASES) & set(header):
        problems.append((1, "question", f"the header has no 'question' (or ragas 'user_input') column (found: {', '.join(header) or 'nothing'})"))
        return []
    rows = []
    first = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            problems.append((reader.line_num, "csv", f"cannot parse: {e}"))
            break
        line = first
        first = reader.line_num + 1
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            problems.append((line, "csv", f"{len(values)} values but the header has {len(header)} columns (quote fields that contain commas)"))
            continue
        rows.append((line, {h: csv_cell(h, v.strip() if v.strip() else None) for h, v in zip(header, values)}))
    return rows


def _expand(row: dict[str, Any], line: int, problems: list, split_pipes: bool) -> list[QAItem]:
    """One row -> its QAItem, or, for a conversation ({"id": ..., "turns": [{question, answers, ...}, ...]}),
    one QAItem per turn with ids ID#1, ID#2, ... answered in order, each with the earlier turns as history."""
    turns = row.get("turns") if isinstance(row, dict) else None
    if turns is None:
        item = _validate_row(row, line, problems, split_pipes)
        return [item] if item is not None else []
    conv = str(row.get("id") or "").strip()
    if not conv:
        problems.append((line, "id", "a conversation needs an id"))
        return []
    if not isinstance(turns, list) or not turns or not all(isinstance(t, dict) for t in turns):
        problems.append((line, "turns", "must be a list of {\"question\": ...} objects, in the order they are asked"))
        return []
    out = []
    for n, t in enumerate(turns, start=1):
        start = len(problems)
        item = _validate_row({**t, "id": f"{conv}#{n}"}, line, problems, split_pipes)
        for i in range(start, len(problems)):
            ln, fld, msg = problems[i]
            problems[i] = (ln, f"turns[{n}].{fld}", msg)
        if item is not None:
            item.conversation, item.turn = conv, n
            out.append(item)
    return out


def load_qa(path: str | Path) -> list[QAItem]:
    """Parse and validate a JSONL or CSV question file; raise EvalFileError listing every problem."""
    path = Path(path)
    text = _read_text(path)
    problems: list[tuple[int, str, str]] = []
    is_csv = path.suffix.lower() in (".csv", ".tsv") or (
        path.suffix.lower() not in (".jsonl", ".json", ".ndjson") and not text.lstrip().startswith(("{", "[")))
    if is_csv:
        rows = _rows_csv(text, problems)
    elif text.lstrip().startswith("["):  # a JSON array of objects (DeepEval goldens)
        rows = rows_json_array(text, problems)
    else:
        rows = _rows_jsonl(text, problems)
    items: list[QAItem] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        for item in _expand(row, line, problems, split_pipes=is_csv):
            if item.id in seen:
                problems.append((line, "id", f"duplicate id {item.id!r} (first on line {seen[item.id]}); ids must be unique"))
                continue
            seen[item.id] = line
            items.append(item)
    if not rows and not problems:
        problems.append((0, "file", "no questions found (JSONL: one {\"question\": ...} object per line; CSV: a header with a 'question' column)"))
    if problems:
        problems.sort(key=lambda p: p[0])
        raise EvalFileError(str(path), problems)
    return items


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
