"""Options travel with the request: /chat calls with different temperatures reuse one engine (issue 10)."""
from __future__ import annotations

import gc

import pytest

from test_chat import free_port

pytestmark = pytest.mark.slow


def test_twenty_temperatures_keep_the_chat_server_memory_flat(engine):
    import psutil
    from gradio_client import Client

    from app.chat import create_app, launch

    app = create_app(engine)
    _, url, _ = launch(app, "127.0.0.1", free_port(), prevent_thread_lock=True, quiet=True)
    try:
        c = Client(url, verbose=False)
        q = "How quickly did Threads cross 10 million users?"
        for t in (0.0, 0.05):  # warm up: models loaded, first-request buffers allocated
            c.predict(q, None, None, t, api_name="/chat")
        gc.collect()
        before = psutil.Process().memory_info().rss
        for i in range(20):
            ans = c.predict(q, None, None, round(0.1 + i * 0.09, 2), api_name="/chat")
            assert ans["answer"]
        gc.collect()
        grown_mb = (psutil.Process().memory_info().rss - before) / 1e6
        engines = len(app.citeqa._engines)
    finally:
        app.close()
    print(f"chat server memory after 20 temperatures: {grown_mb:+.1f} MB, {engines} engine(s)")
    assert engines == 1
    assert grown_mb < 50


def test_engines_are_bounded_and_share_the_index(engine):
    from app.chat.service import MAX_ENGINES, ChatService, Options

    svc = ChatService(engine)
    made = [svc.engine(Options(backend="ollama", model=f"m{i}")) for i in range(MAX_ENGINES + 3)]
    assert len(svc._engines) == MAX_ENGINES
    assert svc.engine() is engine  # the base engine is never dropped
    assert all(e.retriever is engine.retriever and e.checker is engine.checker for e in made)
    assert svc.engine(Options(temperature=1.3, top_k=9)) is engine  # options do not make engines
