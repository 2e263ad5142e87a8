"""OpenAI chat-completions protocol over the engine: `GET /v1/models`, `POST /v1/chat/completions` (JSON or
server-sent events). The answer is the checked answer with its [n] markers; the same object carries the checked
citations, `refused`, `searched_for`, `backend` and `model`. Streaming sends each sentence once it has passed the
check, never the model's unchecked draft.

`make_router(engine_for, api_key)` is mounted by the chat server (next to Gradio) and by `create_api` (`citeqa
serve`). `engine_for()` returns the Engine to ask; options travel with each request as keyword arguments."""
from __future__ import annotations

import hmac
import ipaddress
import json
import time
import uuid
from typing import Any, Callable, Iterator

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.api.requests import APIError, ChatRequest, parse_chat_request
from app.errors import BackendError, CiteqaError, ConfigError, InputError

MODEL_ID = "citeqa"
EngineFor = Callable[[], Any]  # () -> app.engine.Engine


# ---- answers as OpenAI objects -------------------------------------------------------------------------
def citation_dict(c: Any) -> dict:
    """A character-located citation: the quote and its [start, end) offsets in the document's own text."""
    return {"n": c.n, "doc_id": c.doc_id, "title": c.title, "quote": c.quote, "start": c.start, "end": c.end,
            "page": getattr(c, "page", None)}


CLOSEST = 3  # passages a refusal lists ("The closest passages are listed below."), as the CLI and the chat show


def evidence_fields(answer: Any) -> dict:
    out = {"citations": [citation_dict(c) for c in answer.citations], "refused": answer.refused,
           "searched_for": answer.searched_for or answer.question, "backend": answer.backend, "model": answer.model}
    if answer.refused:
        # what the refusal text points to: the best retrieved passages, located like citations (not evidence)
        out["closest_passages"] = [{"doc_id": x.doc_id, "title": x.title, "start": x.start, "end": x.end,
                                    "text": x.text, "page": getattr(x, "page", None)}
                                   for x in (answer.sources or [])[:CLOSEST]]
    return out


EXCERPT = 200  # characters of each closest passage a refusal's text lists


def content_of(answer: Any) -> str:
    """The message text: the answer; for a refusal, followed by the closest passages it says are listed below
    (a client that shows only the text sees them too; `closest_passages` locates them)."""
    if not answer.refused or not answer.sources:
        return answer.answer
    lines = []
    for i, x in enumerate(answer.sources[:CLOSEST], 1):
        text = " ".join(x.text.split())
        text = text if len(text) <= EXCERPT else text[:EXCERPT].rsplit(" ", 1)[0] + " …"
        lines.append(f"{i}. {x.title or x.doc_id} ({x.doc_id}): “{text}”")
    return answer.answer + "\n\n" + "\n".join(lines)


def _usage(answer: Any) -> dict:
    tokens = int(getattr(answer.timings, "tokens", 0) or 0)
    return {"prompt_tokens": 0, "completion_tokens": tokens, "total_tokens": tokens}


def completion(answer: Any, cid: str, created: int) -> dict:
    return {"id": cid, "object": "chat.completion", "created": created,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content_of(answer)},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": _usage(answer)} | evidence_fields(answer)


def _chunk(cid: str, created: int, model: str, delta: dict, finish: str | None = None, extra: dict | None = None) -> str:
    body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]} | (extra or {})
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def sentence_text(sentence: Any) -> str:
    """One checked sentence as it appears in the answer (with its [n] markers)."""
    from app.grounding.citations import render

    return render([sentence])


def sse_events(events: Iterator[Any], first: Any, cid: str, created: int, model: str,
               include_usage: bool = False) -> Iterator[str]:
    """Server-sent events for one answer: role, then each checked sentence, then the final chunk with the evidence
    fields, then `data: [DONE]`. `first` is the engine's first event, already taken (errors before it are a 4xx/5xx
    response, not a stream)."""
    sent = ""
    try:
        yield _chunk(cid, created, model, {"role": "assistant", "content": ""})
        for ev in _chain(first, events):
            if ev.kind == "sentence":
                piece = (" " if sent else "") + sentence_text(ev.data)
                sent += piece
                yield _chunk(cid, created, model, {"content": piece})
            elif ev.kind == "answer":
                a = ev.data
                full = content_of(a)
                rest = full if not sent else (full[len(sent):] if full.startswith(sent) else "")
                if rest:  # a refusal (no checked sentences), or text the sentences did not carry
                    yield _chunk(cid, created, a.model, {"content": rest})
                extra = evidence_fields(a) | ({"usage": _usage(a)} if include_usage else {})
                yield _chunk(cid, created, a.model, {}, "stop", extra)
    except CiteqaError as e:  # after the headers: OpenAI's clients raise on an event with "error"
        yield f"data: {json.dumps(_error_for(e).body(), ensure_ascii=False)}\n\n"
    except Exception as e:  # noqa: BLE001 - never a traceback on the wire
        yield f"data: {json.dumps(_unexpected(e).body(), ensure_ascii=False)}\n\n"
    finally:
        close = getattr(events, "close", None)
        if close:
            close()
    yield "data: [DONE]\n\n"


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    if first is not None:
        yield first
    yield from rest


# ---- errors ----------------------------------------------------------------------------------------------
def _error_for(e: CiteqaError) -> APIError:
    if isinstance(e, InputError):
        return APIError(str(e), 400)
    if isinstance(e, BackendError):
        return APIError(str(e), 503, "server_error", code="backend_unavailable")
    return APIError(str(e), 503, "server_error")


def _unexpected(e: Exception) -> APIError:
    first = str(e).splitlines()[0] if str(e) else ""
    return APIError(f"unexpected {type(e).__name__}: {first}", 500, "server_error")


def _respond_error(err: APIError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
    return JSONResponse(err.body(), status_code=err.status, headers=headers)


def _authorized(request: Request, api_key: str) -> bool:
    if not api_key:
        return True
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key.encode())


UNAUTHORIZED = APIError("invalid or missing API key: send the header Authorization: Bearer KEY "
                        "(the key given to citeqa with --api-key or CITEQA_API_KEY)", 401, code="invalid_api_key")


# ---- routes ----------------------------------------------------------------------------------------------
def make_router(engine_for: EngineFor, api_key: str = "") -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.get("/models", include_in_schema=False)
    async def models(request: Request):
        if not _authorized(request, api_key):
            return _respond_error(UNAUTHORIZED)
        meta: dict[str, Any] = {}
        try:
            b = await run_in_threadpool(lambda: engine_for().backend)
            meta = {"backend": b.name, "model": b.model}
        except CiteqaError as e:
            meta = {"backend": None, "model": None, "error": str(e)}
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "citeqa",
                                            "meta": meta}]}

    @router.post("/chat/completions", include_in_schema=False)
    async def chat_completions(request: Request):
        if not _authorized(request, api_key):
            return _respond_error(UNAUTHORIZED)
        try:
            raw = await request.body()
            try:
                body = json.loads(raw or b"null")
            except (ValueError, UnicodeDecodeError):
                raise APIError("the request body is not valid JSON") from None
            req = parse_chat_request(body)
            return await _answer(engine_for, req)
        except APIError as e:
            return _respond_error(e)
        except CiteqaError as e:
            return _respond_error(_error_for(e))
        except Exception as e:  # noqa: BLE001
            return _respond_error(_unexpected(e))

    return router


async def _answer(engine_for: EngineFor, req: ChatRequest):
    cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    engine = await run_in_threadpool(engine_for)
    if not req.stream:
        answer = await run_in_threadpool(engine.ask, req.question, req.history, **req.options)
        return completion(answer, cid, created)
    events = engine.ask_stream(req.question, req.history, **req.options)
    # the first event comes after validation and retrieval: faults up to there get a proper status code
    first = await run_in_threadpool(next, events, None)
    model = (await run_in_threadpool(lambda: engine.backend)).model
    return StreamingResponse(sse_events(events, first, cid, created, model, req.include_usage),
                             media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


# ---- serving ---------------------------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str) -> None:
    """Serving the API beyond this machine needs a key."""
    if not api_key and not is_loopback(host):
        raise ConfigError(f"refusing to serve on {host} without an API key: anyone who reaches it could use it; "
                          "set --api-key or CITEQA_API_KEY, or bind 127.0.0.1")


def create_api(engine_for: EngineFor, api_key: str = "") -> FastAPI:
    """The API alone (`citeqa serve`)."""
    app = FastAPI(title="citeqa", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(make_router(engine_for, api_key))
    return app


def mount_first(app: FastAPI, router: APIRouter) -> None:
    """Add the router's routes to a running FastAPI app (Gradio's), ahead of its own routes."""
    before = len(app.router.routes)
    app.include_router(router)
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[:0] = added
