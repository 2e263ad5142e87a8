"""Batch evaluation through the real pipeline (embedded model, real Chroma), including kill + --resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

QA = ROOT / "seeds" / "qa.jsonl"


def _env():
    return os.environ | {"HF_HUB_OFFLINE": "1", "OLLAMA_HOST": "http://127.0.0.1:9", "CITEQA_BACKEND": "llamacpp"}


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()]


def test_eval_writes_reports_and_resume_finishes_without_repeats(tmp_path, seeded_settings, engine):
    out = tmp_path / "run"
    qa = tmp_path / "qa.jsonl"
    # answerable + unanswerable questions from the shipped set
    lines = QA.read_text().splitlines()
    qa.write_text("\n".join(lines[:5] + lines[-3:]) + "\n")
    cmd = [sys.executable, "-m", "app", "eval", str(qa), "--out", str(out), "--data-dir", str(seeded_settings.data_dir)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results = out / "results.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if results.exists() and len(_ids(results)) >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = _ids(results)
    assert 2 <= len(done_before) < 8

    r = subprocess.run(cmd + ["--resume"], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    ids = _ids(results)
    assert sorted(ids) == sorted(set(ids)), "a question was evaluated twice"
    assert len(ids) == 8
    assert ids[: len(done_before)] == done_before, "finished questions were redone"

    for name in ("results.jsonl", "summary.json", "report.md", "report.html"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    for key in ("n", "answer_recall", "token_f1", "cited_doc_precision", "citation_precision", "citation_recall",
                "hit_at_k", "mrr", "refusal_accuracy", "false_refusal_rate", "ttft_ms_p50", "total_ms_p50"):
        assert key in summary, key
    assert summary["n"] == 8
    # the three unanswerable questions (Everest, Oppenheimer-like, injection...) are refused by the real pipeline
    assert summary["refusal_accuracy"] >= 2 / 3
    html = (out / "report.html").read_text()
    assert "http://" not in html and "https://" not in html


def test_invalid_file_lists_every_problem_and_runs_nothing(tmp_path, seeded_settings):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "answer": "x"}\n{not json\n{"question": "q?", "answerable": "perhaps"}\n')
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "app", "eval", str(bad), "--out", str(out), "--data-dir", str(seeded_settings.data_dir)],
                       cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    for ln in ("line 1", "line 2", "line 3"):
        assert ln in r.stderr, r.stderr
    assert not (out / "results.jsonl").exists()
