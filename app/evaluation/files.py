"""The files of an evaluation run folder: their names, and how they are appended to and read back.

runner.py writes them, report.py and compare.py read them; both import this module, not each other."""
from __future__ import annotations

import json
import os
from pathlib import Path

from app.errors import InputError

RESULTS = "results.jsonl"  # one line per question, appended as each finishes (--resume continues it)
SUMMARY = "summary.json"
RUN = "run.json"  # what was run: backend, model, index, prompts, settings
RAGAS = "ragas.jsonl"  # `--export ragas`: one ragas SingleTurnSample per question


def read_results(path: Path, repair: bool = False) -> dict[str, dict]:
    """id -> record. A truncated last line (a killed run) is ignored, and cut off the file when `repair`."""
    path = Path(path)
    if not path.exists():
        return {}
    data = path.read_bytes()
    records: dict[str, dict] = {}
    offset = 0
    lines = data.split(b"\n")
    for n, raw in enumerate(lines, start=1):
        start = offset
        offset += len(raw) + 1
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
            if not isinstance(rec, dict) or "id" not in rec:
                raise ValueError("no id")
        except (ValueError, UnicodeDecodeError):
            is_last = all(not rest.strip() for rest in lines[n:])
            if is_last:
                if repair:
                    with open(path, "r+b") as f:
                        f.truncate(start)
                break
            raise InputError(
                f"{path}: line {n} is not a valid result line; delete that line (it will be run again) and use --resume"
            ) from None
        records[str(rec["id"])] = rec
    return records


def append_record(f, record: dict) -> None:
    """One JSON line, flushed to the disk (a killed run keeps every finished question)."""
    f.write(json.dumps(record, ensure_ascii=False) + "\n")
    f.flush()
    try:
        os.fsync(f.fileno())
    except OSError:
        pass


def load_run(run_dir: str | Path) -> tuple[dict, list[dict]]:
    """summary.json and the results of a finished run folder."""
    d = Path(run_dir)
    if not (d / SUMMARY).exists():
        raise InputError(f"{d}: no {SUMMARY} here; give the --out folder of a finished `citeqa eval` run")
    try:
        summary = json.loads((d / SUMMARY).read_text(encoding="utf-8"))
    except ValueError:
        raise InputError(f"{d / SUMMARY}: not valid JSON; rerun `citeqa eval ... --out {d} --resume` to rewrite it") from None
    return summary, list(read_results(d / RESULTS).values())
