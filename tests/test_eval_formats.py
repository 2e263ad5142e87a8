"""ragas and DeepEval files load unchanged; `--export ragas`; `--workers N`. Fake engine, no models."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from app.errors import InputError
from app.evaluation import load_qa, run_eval
from app.evaluation.formats import RAGAS_FIELDS
from app.evaluation.parallel import in_order
from test_eval import QA_ROWS, FakeEngine, write_jsonl

SAMPLES = Path(__file__).parent / "samples"
D0, D1 = "000_bff1cb9deae7c743.txt", "001_203602bb6eb36842.txt"
# ragas's SingleTurnSample (ragas/dataset_schema.py): the fields a row of ragas.jsonl may carry
SINGLE_TURN_SAMPLE_FIELDS = {
    "user_input", "retrieved_contexts", "reference_contexts", "retrieved_context_ids", "reference_context_ids",
    "response", "multi_responses", "reference", "rubrics", "persona_name", "query_style", "query_length",
}


@pytest.mark.parametrize("name", ["ragas_testset.jsonl", "ragas_testset.csv"])
def test_ragas_files_load_unchanged(name):
    items = load_qa(SAMPLES / name)
    assert len(items) == 6
    first = items[0]
    assert first.question == "What was the codename of Meta's Twitter alternative?"
    assert first.references == ["P-92"] and first.sources == [D0, D1] and first.answerable
    assert not items[-1].answerable and items[-1].references == []  # no reference: unanswerable


@pytest.mark.parametrize("name", ["deepeval_goldens.json", "deepeval_goldens.jsonl"])
def test_deepeval_goldens_load_unchanged(name):
    items = load_qa(SAMPLES / name)
    assert [i.question for i in items][:2] == ["What was the codename of Meta's Twitter alternative?",
                                               "How long did ChatGPT take to cross 1 million users?"]
    assert items[1].references == ["Seven days"] and items[1].answerable
    assert not items[2].answerable


def test_json_array_problems_are_listed(tmp_path):
    p = tmp_path / "g.json"
    p.write_text(json.dumps([{"input": "ok?"}, "not an object", {"expected_output": "x"}]))
    with pytest.raises(InputError) as e:
        load_qa(p)
    assert "item 2" in str(e.value) and "question" in str(e.value)


def test_question_given_twice_is_a_problem(tmp_path):
    p = write_jsonl(tmp_path / "q.jsonl", [{"question": "a?", "user_input": "b?"}])
    with pytest.raises(InputError, match="given twice"):
        load_qa(p)


def test_export_ragas_rows_have_single_turn_sample_fields(tmp_path):
    summary = run_eval(FakeEngine(), SAMPLES / "ragas_testset.jsonl", tmp_path / "run", export=("ragas",))
    rows = [json.loads(x) for x in (tmp_path / "run" / "ragas.jsonl").read_text().splitlines()]
    assert len(rows) == summary["n"] == 6
    for row in rows:
        assert set(row) == set(RAGAS_FIELDS) and set(row) <= SINGLE_TURN_SAMPLE_FIELDS
        assert isinstance(row["user_input"], str) and isinstance(row["response"], str)
        assert isinstance(row["retrieved_contexts"], list) and all(isinstance(c, str) for c in row["retrieved_contexts"])
        assert row["reference"] is None or isinstance(row["reference"], str)
        assert all(isinstance(i, str) for i in row["reference_context_ids"])
    assert rows[0]["reference"] == "P-92" and rows[0]["reference_context_ids"] == [D0, D1]
    assert rows[0]["retrieved_contexts"] and "P-92" in " ".join(rows[0]["retrieved_contexts"])
    assert rows[-1]["reference"] is None


def test_unknown_export_is_refused(tmp_path):
    with pytest.raises(InputError, match="--export"):
        run_eval(FakeEngine(), SAMPLES / "ragas_testset.jsonl", tmp_path / "run", export=("deepeval-x",))


class SlowFirstEngine(FakeEngine):
    """Answers the first questions last: concurrent results must still be written in file order."""

    def __init__(self, n_slow: int = 2):
        super().__init__()
        self.n_slow, self.lock, self.active, self.most = n_slow, threading.Lock(), 0, 0
        self.started = threading.Event()

    def ask(self, question):
        with self.lock:
            i = len(self.asked)
            self.active += 1
            self.most = max(self.most, self.active)
        try:
            if i < self.n_slow:
                self.started.wait(5)  # until a later question has finished
            else:
                self.started.set()
            return super().ask(question)
        finally:
            with self.lock:
                self.active -= 1


def test_workers_write_each_question_once_in_file_order(qa, tmp_path):
    engine = SlowFirstEngine()
    run_eval(engine, qa, tmp_path / "run", workers=4)
    ids = [json.loads(x)["id"] for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert ids == [r["id"] for r in QA_ROWS]
    assert engine.most > 1  # really concurrent
    run_eval(FakeEngine(), qa, tmp_path / "one", workers=1)
    one = [json.loads(x)["id"] for x in (tmp_path / "one" / "results.jsonl").read_text().splitlines()]
    assert one == ids


def test_workers_resume_runs_only_the_rest(qa, tmp_path):
    out = tmp_path / "run"
    run_eval(FakeEngine(), qa, out, limit=2, workers=3)
    engine = FakeEngine()
    run_eval(engine, qa, out, resume=True, workers=3)
    assert len(engine.asked) == 3
    ids = [json.loads(x)["id"] for x in (out / "results.jsonl").read_text().splitlines()]
    assert ids == [r["id"] for r in QA_ROWS]


def test_embedded_model_refuses_more_than_one_worker(qa, tmp_path):
    class Embedded(FakeEngine):
        def describe(self):
            return super().describe() | {"backend": "llamacpp"}

    with pytest.raises(InputError, match="one question at a time") as e:
        run_eval(Embedded(), qa, tmp_path / "run", workers=2)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "run" / "results.jsonl").exists()


def test_in_order_raises_after_the_earlier_items():
    def fn(x):
        if x == 3:
            raise ValueError("three")
        time.sleep(0.01 * (5 - x))
        return x * 10

    got = []
    with pytest.raises(ValueError):
        for item, res in in_order(fn, range(6), workers=3):
            got.append((item, res))
    assert got == [(0, 0), (1, 10), (2, 20)]


@pytest.fixture
def qa(tmp_path):
    return write_jsonl(tmp_path / "qa.jsonl", QA_ROWS)


def test_workers_ask_a_conversations_turns_in_order_with_their_history(tmp_path):
    class Remembering(SlowFirstEngine):
        def __init__(self):
            super().__init__(n_slow=0)
            self.histories: dict[str, list] = {}

        def ask(self, question, history=None):
            self.histories[question] = list(history or [])
            return super().ask(question)

    rows = [{"id": "conv", "turns": [{"question": "What was the codename?", "answer": "P-92"},
                                     {"question": "And how fast did Threads get 10 million users?",
                                      "answers": ["seven hours"]}]}] + QA_ROWS[2:]
    engine = Remembering()
    run_eval(engine, write_jsonl(tmp_path / "c.jsonl", rows), tmp_path / "run", workers=3)
    ids = [json.loads(x)["id"] for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert ids == ["conv#1", "conv#2", "c", "d", "e"]
    first = engine.histories["And how fast did Threads get 10 million users?"]
    assert first == [("What was the codename?", "P-92 was the codename of the Twitter alternative. [1]")]
