"""The OpenAI-compatible API of the chat server, through the official `openai` package (real models)."""
from __future__ import annotations

import re

import pytest

from test_chat import THREADS_DOCS, free_port

pytestmark = pytest.mark.slow
KEY = "test-key-123"
THREADS_Q = "How quickly did Threads cross 10 million users?"


@pytest.fixture(scope="module")
def api_url(engine):
    from app.chat import create_app, launch
    from app.engine import Engine

    keyed = Engine(engine.settings.model_copy(update={"api_key": KEY}))
    keyed.store, keyed.retriever, keyed.checker = engine.store, engine.retriever, engine.checker  # same index
    app = create_app(keyed)
    _, url, _ = launch(app, "127.0.0.1", free_port(), prevent_thread_lock=True, quiet=True)
    yield url.rstrip("/") + "/v1"
    app.close()


@pytest.fixture(scope="module")
def oai(api_url):
    from openai import OpenAI

    return OpenAI(base_url=api_url, api_key=KEY, max_retries=0, timeout=300)


def extra(obj, name):
    return (obj.model_extra or {}).get(name)


def test_models_list_citeqa(oai):
    models = oai.models.list().data
    assert [m.id for m in models] == ["citeqa"]
    assert extra(models[0], "meta")["backend"] == "llamacpp"


def test_cited_answer_non_streaming(oai):
    c = oai.chat.completions.create(model="citeqa", messages=[{"role": "user", "content": THREADS_Q}])
    content = c.choices[0].message.content
    cits = extra(c, "citations")
    assert re.search(r"\[\d\]", content) and extra(c, "refused") is False
    assert cits and {x["doc_id"] for x in cits} <= THREADS_DOCS
    for x in cits:
        assert set(x) >= {"n", "doc_id", "title", "quote", "start", "end", "page"} and x["end"] > x["start"]
    assert extra(c, "backend") == "llamacpp" and c.model.endswith(".gguf") and extra(c, "searched_for")


def test_cited_answer_streaming_sends_checked_sentences(oai):
    whole = oai.chat.completions.create(model="citeqa", messages=[{"role": "user", "content": THREADS_Q}])
    chunks = list(oai.chat.completions.create(model="citeqa", stream=True,
                                              messages=[{"role": "user", "content": THREADS_Q}]))
    pieces = [ch.choices[0].delta.content for ch in chunks if ch.choices and ch.choices[0].delta.content]
    assert pieces and all(re.search(r"[.!?…»”\"')\]]$", p.strip()) for p in pieces)  # whole checked sentences
    assert "".join(pieces) == whole.choices[0].message.content  # the checked answer, never the draft
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert extra(last, "refused") is False and {x["doc_id"] for x in extra(last, "citations")} <= THREADS_DOCS
    assert extra(last, "backend") == "llamacpp" and last.model == whole.model


def test_follow_up_from_earlier_messages(oai):
    first_q = "What was the codename of Meta's Twitter alternative?"
    first = oai.chat.completions.create(model="citeqa", messages=[{"role": "user", "content": first_q}])
    c = oai.chat.completions.create(model="citeqa", messages=[
        {"role": "user", "content": first_q},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "And who is suing Meta over it?"}])
    assert "Musk" in c.choices[0].message.content and extra(c, "refused") is False
    assert extra(c, "searched_for") != "And who is suing Meta over it?"


def test_refusal_is_marked(oai):
    c = oai.chat.completions.create(model="citeqa", messages=[
        {"role": "user", "content": "What is the boiling point of water on Mount Everest?"}])
    assert extra(c, "refused") is True and extra(c, "citations") == []


def test_wrong_key_is_401(api_url):
    import openai

    bad = openai.OpenAI(base_url=api_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model="citeqa", messages=[{"role": "user", "content": THREADS_Q}])
    assert e.value.status_code == 401


def test_max_tokens_and_top_k_travel_with_the_request(oai):
    c = oai.chat.completions.create(model="citeqa", max_tokens=8, temperature=0.0, extra_body={"top_k": 2},
                                    messages=[{"role": "user", "content": THREADS_Q}])
    assert c.usage.completion_tokens <= 8


def test_citeqa_serve_is_the_api_alone(engine, tmp_path):
    import os
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    env = os.environ | {"CITEQA_API_KEY": KEY, "CITEQA_BACKEND": "llamacpp", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port),
                             "--data-dir", str(engine.settings.data_dir)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {KEY}"}
    try:
        for _ in range(240):  # readiness, at most ~2 minutes
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            try:
                if httpx.get(f"{base}/v1/models", headers=auth, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        r = httpx.post(f"{base}/v1/chat/completions", headers=auth, timeout=300,
                       json={"model": "citeqa", "messages": [{"role": "user", "content": THREADS_Q}]})
        assert r.status_code == 200 and r.json()["citations"] and r.json()["refused"] is False
        assert httpx.get(f"{base}/v1/models", timeout=5).status_code == 401
        assert httpx.get(f"{base}/", timeout=5).status_code == 404  # no Gradio here
    finally:
        proc.terminate()
        proc.wait(20)
