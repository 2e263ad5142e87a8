"""Any OpenAI-compatible chat server (vLLM, llama.cpp's server, LM Studio, LocalAI, ...) over plain HTTP (httpx),
streaming, with explicit connect and read timeouts and one-line errors for the usual faults."""
from __future__ import annotations

import json
from typing import Iterator

import httpx

from app.errors import BackendError, BackendUnavailable, ModelNotFound
from app.llm.base import LLMBackend, Message


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip().splitlines()[0][:200] if resp.text.strip() else ""
    err = body.get("error", body) if isinstance(body, dict) else body
    msg = err.get("message") if isinstance(err, dict) else err
    return " ".join(str(msg or "").split())[:200]


class OpenAIBackend(LLMBackend):
    name = "openai"

    def __init__(self, base_url: str, model: str = "", api_key: str = "", connect_timeout: float = 2.0,
                 read_timeout: float = 300.0):
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers,
                                    timeout=httpx.Timeout(read_timeout, connect=connect_timeout))
        names = self.list_models()
        if not model:
            if not names:
                raise ModelNotFound(f"the OpenAI-compatible server at {self.base_url} lists no models; pass --model NAME")
            model = names[0]
        elif names and model not in names:
            raise ModelNotFound(f"the OpenAI-compatible server at {self.base_url} does not serve the model '{model}' "
                                f"(it serves: {', '.join(names[:5])}); pass --model with one of those")
        self.model = model

    # ---- errors ------------------------------------------------------------------------------------
    def _http_error(self, resp: httpx.Response) -> BackendError:
        detail = _detail(resp)
        code = resp.status_code
        if code in (401, 403):
            return BackendError(f"the OpenAI-compatible server at {self.base_url} rejected the API key (HTTP {code}); "
                                "set CITEQA_OPENAI_API_KEY to the key it expects")
        if code == 404 and "model" in detail.lower():
            return ModelNotFound(f"the OpenAI-compatible server at {self.base_url} does not have the model "
                                 f"'{getattr(self, 'model', '')}': {detail}")
        if code == 404:
            return BackendUnavailable(f"{resp.request.url} does not exist (HTTP 404); the base URL usually ends in /v1, "
                                      "e.g. http://127.0.0.1:8000/v1")
        return BackendError(f"the OpenAI-compatible server at {self.base_url} answered HTTP {code}: {detail or 'no detail'}")

    def _unreachable(self, e: Exception, during: bool = False) -> BackendError:
        if isinstance(e, httpx.TimeoutException) and not isinstance(e, httpx.ConnectTimeout):
            return BackendError(f"the OpenAI-compatible server at {self.base_url} did not answer in time; "
                                "raise CITEQA_OPENAI_READ_TIMEOUT or use a smaller model")
        what = "stopped in the middle of the answer" if during else "cannot be reached"
        return BackendUnavailable(f"the OpenAI-compatible server at {self.base_url} {what} ({type(e).__name__}); "
                                  "check that it is running and --openai-base-url")

    # ---- calls -------------------------------------------------------------------------------------
    def list_models(self) -> list[str]:
        try:
            resp = self._client.get("/models")
        except httpx.HTTPError as e:
            raise self._unreachable(e) from None
        if resp.status_code != 200:
            raise self._http_error(resp)
        try:
            data = resp.json().get("data") or []
        except (ValueError, AttributeError):
            raise BackendError(f"{self.base_url}/models did not answer with OpenAI's model list; is this an "
                               "OpenAI-compatible server?") from None
        return [str(m.get("id")) for m in data if isinstance(m, dict) and m.get("id")]

    def stream(self, messages: list[Message], *, max_tokens: int, temperature: float,
               stop: list[str] | None = None) -> Iterator[str]:
        payload = {"model": self.model, "messages": [{"role": m.role, "content": m.content} for m in messages],
                   "stream": True, "max_tokens": max_tokens, "temperature": temperature, "seed": 0}
        if stop:
            payload["stop"] = stop
        got_any = False
        try:
            with self._client.stream("POST", "/chat/completions", json=payload) as resp:
                if resp.status_code != 200:
                    resp.read()
                    raise self._http_error(resp)
                for line in resp.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        continue
                    if isinstance(chunk, dict) and chunk.get("error"):
                        err = chunk["error"]
                        raise BackendError(f"the OpenAI-compatible server at {self.base_url} failed mid-answer: "
                                           f"{err.get('message', err) if isinstance(err, dict) else err}")
                    choices = chunk.get("choices") or [] if isinstance(chunk, dict) else []
                    piece = (choices[0].get("delta") or {}).get("content") if choices else None
                    if piece:
                        got_any = True
                        yield piece
        except httpx.HTTPError as e:
            raise self._unreachable(e, during=got_any) from None
