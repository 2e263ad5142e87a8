"""The `openai` backend against a real OpenAI-compatible server: llama-cpp-python's own `llama_cpp.server`,
serving the embedded SmolLM2 GGUF on loopback, started here. Also `citeqa eval --workers` against it."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from test_chat import THREADS_DOCS, free_port

pytestmark = pytest.mark.slow
KEY = "server-key-456"
ALIAS = "smollm2"
SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    from app.llm.llamacpp import default_gguf

    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf()), "--model_alias", ALIAS,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--api_key", KEY, "--n_threads", "2"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(240):  # readiness: until it lists its model, at most ~2 minutes
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("llama_cpp.server did not start")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def served_settings(engine, llama_server):
    return engine.settings.model_copy(update={"backend": "openai", "openai_base_url": llama_server,
                                              "openai_api_key": KEY, "model": None})


def test_backend_streams_from_the_server(llama_server):
    from app.llm.base import Message
    from app.llm.openai_backend import OpenAIBackend

    b = OpenAIBackend(llama_server, "", KEY)
    assert b.model == ALIAS  # the first model the server lists
    pieces = list(b.stream([Message("user", "Say hello.")], max_tokens=12, temperature=0.0))
    assert len(pieces) > 1 and "".join(pieces).strip()


def test_answers_through_the_openai_backend(engine, served_settings):
    from app.engine import Engine

    eng = Engine(served_settings)
    eng.store, eng.retriever, eng.checker = engine.store, engine.retriever, engine.checker
    a = eng.ask("How quickly did Threads cross 10 million users after launch?")
    assert a.backend == "openai" and a.model == ALIAS
    assert not a.refused and a.citations and {c.doc_id for c in a.citations} <= THREADS_DOCS
    assert a.timings.tokens > 0


def test_clear_errors(llama_server):
    from app.errors import BackendError, BackendUnavailable, ModelNotFound
    from app.llm.openai_backend import OpenAIBackend

    with pytest.raises(ModelNotFound, match="does not serve the model 'nope'"):
        OpenAIBackend(llama_server, "nope", KEY)
    with pytest.raises(BackendError, match="rejected the API key"):
        OpenAIBackend(llama_server, ALIAS, "wrong-key")
    with pytest.raises(BackendUnavailable, match="cannot be reached"):
        OpenAIBackend(f"http://127.0.0.1:{free_port()}/v1", ALIAS, KEY, connect_timeout=1)


def _ids(run: Path) -> list[str]:
    return [json.loads(x)["id"] for x in (run / "results.jsonl").read_text().splitlines() if x.strip()]


def test_eval_workers_4_writes_the_same_questions_as_workers_1(engine, llama_server, tmp_path, monkeypatch, capsys):
    from app.cli import main
    from app.evaluation import load_qa

    monkeypatch.setenv("CITEQA_OPENAI_API_KEY", KEY)
    qa = SAMPLES / "ragas_testset.csv"
    common = ["--backend", "openai", "--openai-base-url", llama_server, "--data-dir", str(engine.settings.data_dir)]
    assert main(["eval", str(qa), "--out", str(tmp_path / "w4"), "--workers", "4", "--export", "ragas", *common]) == 0
    assert main(["eval", str(qa), "--out", str(tmp_path / "w1"), "--workers", "1", *common]) == 0
    expected = [i.id for i in load_qa(qa)]
    assert _ids(tmp_path / "w4") == _ids(tmp_path / "w1") == expected  # each once, in file order
    run = json.loads((tmp_path / "w4" / "run.json").read_text())
    assert run["backend"] == "openai" and run["workers"] == 4
    rows = [json.loads(x) for x in (tmp_path / "w4" / "ragas.jsonl").read_text().splitlines()]
    assert [r["user_input"] for r in rows] == [i.question for i in load_qa(qa)]
    assert any(r["retrieved_contexts"] for r in rows)
    # DeepEval goldens run too
    assert main(["eval", str(SAMPLES / "deepeval_goldens.json"), "--out", str(tmp_path / "de"), "--workers", "2",
                 *common]) == 0
    assert len(_ids(tmp_path / "de")) == 3


def test_embedded_model_refuses_workers(engine, tmp_path, capsys):
    from app.cli import main

    code = main(["eval", str(SAMPLES / "ragas_testset.jsonl"), "--out", str(tmp_path / "x"), "--workers", "3",
                 "--backend", "llamacpp", "--data-dir", str(engine.settings.data_dir)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "one question at a time" in err
