"""`citeqa serve`: the OpenAI-compatible API alone (no Gradio), on --host/--port."""
from __future__ import annotations

import sys

from app.config import Settings


def serve_api(settings: Settings) -> int:
    from app.api.openai_compat import check_bind, create_api

    check_bind(settings.host, settings.api_key)
    import uvicorn

    from app.engine import Engine

    engine = Engine(settings)
    if not engine.documents():
        print("citeqa: the index is empty: every answer will be a refusal until you run `citeqa ingest`",
              file=sys.stderr, flush=True)
    engine.warm_up()  # load the index and the model before the first request
    b = engine.backend
    print(f"citeqa: OpenAI-compatible API at http://{settings.host}:{settings.port}/v1 (model 'citeqa', answering with "
          f"{b.name}: {b.model}){'; API key required' if settings.api_key else ''}", flush=True)
    uvicorn.run(create_api(lambda: engine, settings.api_key), host=settings.host, port=settings.port,
                log_level="warning")
    return 0
