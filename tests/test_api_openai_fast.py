"""The OpenAI-compatible API over a fake engine (no models): protocol, evidence fields, streaming of checked
sentences only, per-request options, errors, keys, binding."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from app.api import check_bind, create_api
from app.errors import BackendError, ConfigError, InputError
from app.types import Answer, CheckedSentence, Citation, Source, Timings

D0 = "000_bff1cb9deae7c743.txt"
S1 = CheckedSentence("Threads crossed 10 million users within seven hours.", [1], 0.9, True, "model")
S2 = CheckedSentence("It was codenamed P-92.", [2], 0.8, True, "model")


def _answer(question, refused=False):
    if refused:
        near = [Source(D0, "Threads", f"c{i}", f"Passage {i} about Threads.", 100 * i, 100 * i + 25, 0.5) for i in range(4)]
        return Answer(question, "The indexed documents don't say “x”. The closest passages are listed below.", True, [],
                      near, "fake", "fake-model", "en", Timings(), searched_for=question)
    cits = [Citation(1, D0, "Threads", "c1", 10, 60, S1.text, True, 0.9),
            Citation(2, D0, "Threads", "c2", 70, 92, "codenamed P-92", True, 0.8)]
    return Answer(question, "Threads crossed 10 million users within seven hours [1]. It was codenamed P-92 [2].",
                  False, cits, [], "fake", "fake-model", "en", Timings(tokens=17), sentences=[S1, S2],
                  draft="DRAFT unchecked words", searched_for=question)


class FakeEngine:
    def __init__(self, fail: Exception | None = None):
        self.calls: list[dict] = []
        self.backend = SimpleNamespace(name="fake", model="fake-model")
        self.fail = fail

    def ask_stream(self, question, history=None, *, top_k=None, temperature=None, max_tokens=None):
        self.calls.append({"question": question, "history": history, "top_k": top_k, "temperature": temperature,
                           "max_tokens": max_tokens})
        if question == "empty":
            raise InputError("the question is empty: type a question about the documents")
        refused = "everest" in question.lower()
        yield SimpleNamespace(kind="retrieved", data={"sources": [], "searched_for": question})
        if self.fail:
            raise self.fail
        if refused:
            yield SimpleNamespace(kind="token", data="The indexed documents don't say “x”.")
        else:
            yield SimpleNamespace(kind="token", data="DRAFT unchecked words")
            yield SimpleNamespace(kind="sentence", data=S1)
            yield SimpleNamespace(kind="token", data=" more DRAFT")
            yield SimpleNamespace(kind="sentence", data=S2)
        yield SimpleNamespace(kind="answer", data=_answer(question, refused))

    def ask(self, question, history=None, **kw):
        return [e for e in self.ask_stream(question, history, **kw) if e.kind == "answer"][0].data


def client(engine=None, key=""):
    engine = engine or FakeEngine()
    return TestClient(create_api(lambda: engine, key)), engine


def ask(c, **body):
    body.setdefault("messages", [{"role": "user", "content": "How quickly did Threads cross 10 million users?"}])
    return c.post("/v1/chat/completions", json=body)


def sse(resp) -> list:
    out = []
    for line in resp.text.splitlines():
        if line.startswith("data: "):
            out.append(line[6:] if line[6:] == "[DONE]" else json.loads(line[6:]))
    return out


def test_models_lists_citeqa_and_names_the_backend_model():
    c, _ = client()
    r = c.get("/v1/models")
    assert r.status_code == 200
    (m,) = r.json()["data"]
    assert m["id"] == "citeqa" and m["object"] == "model" and m["meta"] == {"backend": "fake", "model": "fake-model"}


def test_completion_is_the_checked_answer_with_evidence_and_options_travel():
    c, eng = client()
    r = ask(c, model="citeqa", temperature=0.7, max_tokens=50, top_k=7, frequency_penalty=1, user="x", n=1,
            tools=[], some_future_field={"a": 1})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["object"] == "chat.completion"
    msg = d["choices"][0]["message"]
    assert msg["role"] == "assistant" and msg["content"].endswith("codenamed P-92 [2].") and "DRAFT" not in msg["content"]
    assert d["refused"] is False and d["backend"] == "fake" and d["model"] == "fake-model"
    assert d["searched_for"] == "How quickly did Threads cross 10 million users?"
    assert d["citations"][0] == {"n": 1, "doc_id": D0, "title": "Threads", "quote": S1.text, "start": 10, "end": 60,
                                 "page": None}
    assert (eng.calls[-1]["top_k"], eng.calls[-1]["temperature"], eng.calls[-1]["max_tokens"]) == (7, 0.7, 50)
    ask(c)
    assert (eng.calls[-1]["top_k"], eng.calls[-1]["temperature"], eng.calls[-1]["max_tokens"]) == (None, None, None)


def test_earlier_messages_are_the_history_and_the_last_user_message_the_question():
    c, eng = client()
    msgs = [{"role": "system", "content": "be brief"},
            {"role": "user", "content": "What was the codename of Meta's Twitter alternative?"},
            {"role": "assistant", "content": "P-92 [1]."},
            {"role": "user", "content": [{"type": "text", "text": "And who is suing Meta over it?"}]}]
    assert ask(c, messages=msgs).status_code == 200
    call = eng.calls[-1]
    assert call["question"] == "And who is suing Meta over it?"
    assert call["history"] == [("What was the codename of Meta's Twitter alternative?", "P-92 [1].")]


def test_stream_sends_checked_sentences_only_then_evidence_then_done():
    c, _ = client()
    r = ask(c, stream=True)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse(r)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(ch["choices"][0]["delta"].get("content") or "" for ch in chunks)
    assert "DRAFT" not in text
    assert text == "Threads crossed 10 million users within seven hours [1]. It was codenamed P-92 [2]."
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and last["refused"] is False
    assert [x["n"] for x in last["citations"]] == [1, 2] and last["backend"] == "fake" and last["model"] == "fake-model"
    assert all(ch["object"] == "chat.completion.chunk" for ch in chunks)


def test_refusal_is_marked_and_streamed_whole():
    c, _ = client()
    q = [{"role": "user", "content": "What is the boiling point of water on Everest?"}]
    d = ask(c, messages=q).json()
    assert d["refused"] is True and d["citations"] == [] and d["choices"][0]["message"]["content"].startswith("The indexed")
    # the passages the refusal text points to are in the response, located in their documents
    assert [(p["doc_id"], p["start"], p["end"]) for p in d["closest_passages"]] == [(D0, 0, 25), (D0, 100, 125),
                                                                                     (D0, 200, 225)]
    # ... and listed in the text, which says they are listed below (a new user's trial: nothing was)
    content = d["choices"][0]["message"]["content"]
    assert all(f"Passage {i} about Threads." in content for i in range(3)) and "Passage 3" not in content
    events = sse(ask(c, messages=q, stream=True))
    text = "".join(ch["choices"][0]["delta"].get("content") or "" for ch in events[:-1])
    assert text == d["choices"][0]["message"]["content"] and events[-2]["refused"] is True
    assert events[-2]["closest_passages"] == d["closest_passages"]


@pytest.mark.parametrize("body,param", [
    ({}, "messages"),
    ({"messages": []}, "messages"),
    ({"messages": "hi"}, "messages"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "q"}], "temperature": "hot"}, "temperature"),
    ({"messages": [{"role": "user", "content": "q"}], "temperature": 3}, "temperature"),
    ({"messages": [{"role": "user", "content": "q"}], "max_tokens": 2.5}, "max_tokens"),
    ({"messages": [{"role": "user", "content": "q"}], "top_k": 0}, "top_k"),
    ({"messages": [{"role": "user", "content": "q"}], "stream": "yes"}, "stream"),
])
def test_malformed_requests_get_openai_error_objects(body, param):
    c, _ = client()
    r = c.post("/v1/chat/completions", json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param and "\n" not in err["message"]


def test_not_json_and_engine_input_errors_are_400():
    c, _ = client()
    r = c.post("/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    r = ask(c, messages=[{"role": "user", "content": "empty"}], stream=True)
    assert r.status_code == 400 and "empty" in r.json()["error"]["message"]


def test_backend_failure_is_a_clean_error_not_a_traceback():
    c, _ = client(FakeEngine(fail=BackendError("cannot reach Ollama at http://x; start it")))
    r = ask(c)
    assert r.status_code == 503 and r.json()["error"]["message"] == "cannot reach Ollama at http://x; start it"
    events = sse(ask(c, stream=True))  # after the headers: an error event, then [DONE]
    assert events[-1] == "[DONE]" and events[-2]["error"]["message"].startswith("cannot reach Ollama")
    c2, _ = client(FakeEngine(fail=RuntimeError("boom\nTraceback (most recent call last)")))
    r = ask(c2)
    assert r.status_code == 500 and r.json()["error"]["message"] == "unexpected RuntimeError: boom"


def test_api_key_is_required_when_set():
    c, _ = client(key="s3cret")
    assert ask(c).status_code == 401
    r = c.post("/v1/chat/completions", headers={"Authorization": "Bearer wrong"}, json={"messages": []})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert c.get("/v1/models").status_code == 401
    assert c.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    r = c.post("/v1/chat/completions", headers={"Authorization": "Bearer s3cret"},
               json={"messages": [{"role": "user", "content": "How quickly did Threads cross 10 million users?"}]})
    assert r.status_code == 200


def test_binding_beyond_loopback_needs_a_key():
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.5"):
        check_bind(host, "")
    for host in ("0.0.0.0", "192.168.1.10", "::", "example.org"):
        with pytest.raises(ConfigError, match="API key") as e:
            check_bind(host, "")
        assert "\n" not in str(e.value)
        check_bind(host, "k")
