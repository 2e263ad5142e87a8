"""The Ollama backend and embedder against tests/ollama_standin.py (a LOCAL STAND-IN imitating Ollama's API; not Ollama)."""
from __future__ import annotations

import time

import pytest

from _fixtures_core import D0, D1, SEVEN_HOURS, THREADS_Q, assert_one_line_error, base_env, citeqa
from ollama_standin import EMBED_DIM, OllamaStandIn, free_port, split_pieces

pytestmark = pytest.mark.slow



def _msgs():
    from app.llm import Message

    return [Message("system", "You answer from sources."), Message("user", "Sources:\n[1] The sky is blue today.\n\nQuestion: colour?")]


@pytest.fixture
def standin():
    s = OllamaStandIn(models=["standin-chat:latest", "standin-embed:latest"]).start()
    yield s
    s.stop()


def test_backend_streams_the_standins_tokens(standin):
    from app.llm.ollama_backend import OllamaBackend

    b = OllamaBackend("standin-chat", standin.url, 2.0, 10.0)
    pieces = list(b.stream(_msgs(), max_tokens=33, temperature=0.0))
    assert pieces == split_pieces("The sky is blue today. [1]")
    assert b.name == "ollama" and b.model == "standin-chat"
    path, body = standin.requests[-1]
    assert path == "/api/chat" and body["model"] == "standin-chat" and body["stream"] is True
    assert body["options"]["num_predict"] == 33 and body["options"]["temperature"] == 0.0
    assert body["messages"][0] == {"role": "system", "content": "You answer from sources."}
    assert b.complete(_msgs()) == "The sky is blue today. [1]"


def test_missing_model_is_reported_with_the_pull_command(standin):
    from app.errors import ModelNotFound
    from app.llm.ollama_backend import OllamaBackend

    with pytest.raises(ModelNotFound, match=r"`ollama pull llama9`"):
        OllamaBackend("llama9", standin.url, 2.0, 10.0)
    # the model disappears after the check: the 404 of /api/chat gives the same advice
    b = OllamaBackend("standin-chat", standin.url, 2.0, 10.0)
    standin.models.remove("standin-chat:latest")
    with pytest.raises(ModelNotFound, match=r"`ollama pull standin-chat`"):
        list(b.stream(_msgs(), max_tokens=8, temperature=0.0))


def test_mid_stream_drop_is_a_backend_error(standin):
    from app.errors import BackendError
    from app.llm.ollama_backend import OllamaBackend

    standin.mode = "drop"
    b = OllamaBackend("standin-chat", standin.url, 2.0, 10.0)
    got = []
    with pytest.raises(BackendError, match="stopped in the middle of the answer") as ei:
        for piece in b.stream(_msgs(), max_tokens=16, temperature=0.0):
            got.append(piece)
    assert got == split_pieces("The sky is blue today. [1]")[:2]
    assert "\n" not in str(ei.value)


def test_read_timeout_is_honoured(standin):
    from app.errors import BackendError
    from app.llm.ollama_backend import OllamaBackend

    standin.mode = "hang"
    b = OllamaBackend("standin-chat", standin.url, 1.0, 1.5)
    t0 = time.monotonic()
    with pytest.raises(BackendError, match="did not answer in time"):
        list(b.stream(_msgs(), max_tokens=16, temperature=0.0))
    assert time.monotonic() - t0 < 15


def test_server_down_is_backend_unavailable():
    from app.errors import BackendUnavailable
    from app.llm.ollama_backend import OllamaBackend

    url = f"http://127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    with pytest.raises(BackendUnavailable, match="cannot reach Ollama"):
        OllamaBackend("standin-chat", url, 1.0, 5.0)
    assert time.monotonic() - t0 < 10


def test_auto_picks_ollama_when_it_has_the_model_else_llamacpp(standin, seeded_settings):
    from app.llm import make_backend

    s = seeded_settings.model_copy(update={"backend": "auto", "ollama_host": standin.url, "model": "standin-chat"})
    b, why = make_backend(s)
    assert b.name == "ollama" and b.model == "standin-chat", why
    s = seeded_settings.model_copy(update={"backend": "auto", "ollama_host": standin.url, "model": None,
                                           "ollama_model": "llama3.2"})
    b, why = make_backend(s)
    assert b.name == "llamacpp" and "ollama pull llama3.2" in why, why
    s = seeded_settings.model_copy(update={"backend": "auto", "ollama_host": f"http://127.0.0.1:{free_port()}"})
    b, why = make_backend(s)
    assert b.name == "llamacpp" and "not reachable" in why, why


def test_engine_answers_through_ollama_standin(standin, engine):
    from app.engine import Engine

    s = engine.settings.model_copy(update={"backend": "auto", "ollama_host": standin.url, "model": "standin-chat"})
    eng = Engine(s)
    a = eng.ask(THREADS_Q)
    assert a.backend == "ollama" and a.model == "standin-chat"
    assert eng.describe()["backend"] == "ollama"
    assert not a.refused, a.answer
    assert a.citations and {c.doc_id for c in a.citations} & {D0, D1}
    assert all(s.supported for s in a.sentences if s.cited)
    assert any(x in a.answer.lower() for x in SEVEN_HOURS), a.answer
    # the stand-in really produced it: the draft is its echo of the [1] evidence line
    chats = [b for p, b in standin.requests if p == "/api/chat"]
    assert chats and "[1] " in chats[-1]["messages"][-1]["content"]
    assert a.draft.strip().endswith("[1]")
    for c in a.citations:
        assert eng.document_text(c.doc_id)[c.start:c.end] == c.quote


def test_ollama_embedder_against_standin(standin):
    from app.errors import EmbedderError
    from index.embedders import OllamaEmbedder

    e = OllamaEmbedder("standin-embed", standin.url, 10.0)
    assert e.id == "ollama:standin-embed"
    vecs = e.embed_documents(["Threads crossed 10 million users.", "Llama 3.1 has 405 billion parameters."])
    assert len(vecs) == 2 and all(len(v) == EMBED_DIM for v in vecs)
    assert vecs[0] != vecs[1]
    q = e.embed_query("Threads crossed 10 million users.")
    assert pytest.approx(q) == vecs[0]  # deterministic: same text, same vector
    assert any(p == "/api/embed" for p, _ in standin.requests)
    with pytest.raises(EmbedderError, match="ollama pull nomic-embed-text"):
        OllamaEmbedder("nomic-embed-text", standin.url, 10.0).embed_documents(["x y z"])


def test_cli_backend_ollama_errors_are_one_line(standin, engine, tmp_path):
    data = str(engine.settings.data_dir)
    env = base_env()
    r = citeqa(["ask", THREADS_Q, "--backend", "ollama", "--model", "llama9", "--ollama-host", standin.url,
                "--data-dir", data], cwd=tmp_path, env=env)
    assert_one_line_error(r, "ollama pull llama9", progress_noise=True)
    down = f"http://127.0.0.1:{free_port()}"
    r = citeqa(["ask", THREADS_Q, "--backend", "ollama", "--data-dir", data], cwd=tmp_path, env=base_env(OLLAMA_HOST=down))
    assert_one_line_error(r, "cannot reach Ollama", down, progress_noise=True)
    # a hanging server and a small read timeout: an error, not a hang
    standin.mode = "hang"
    t0 = time.monotonic()
    r = citeqa(["ask", THREADS_Q, "--backend", "ollama", "--model", "standin-chat", "--ollama-host", standin.url,
                "--ollama-read-timeout", "2", "--data-dir", data], cwd=tmp_path, env=env, timeout=300)
    assert_one_line_error(r, "did not answer in time", progress_noise=True)
    assert time.monotonic() - t0 < 120


def test_error_after_embedder_load_is_exactly_one_line(engine, tmp_path):
    down = f"http://127.0.0.1:{free_port()}"
    r = citeqa(["ask", THREADS_Q, "--backend", "ollama", "--data-dir", str(engine.settings.data_dir)], cwd=tmp_path,
               env=base_env(OLLAMA_HOST=down))
    assert_one_line_error(r, "cannot reach Ollama")
