"""Ollama backend through the `ollama` client, with explicit connect and read timeouts."""
from __future__ import annotations

from typing import Iterator

import httpx
import ollama

from app.errors import BackendError, BackendUnavailable, ModelNotFound
from app.llm.base import LLMBackend, Message


def make_client(host: str, connect_timeout: float, read_timeout: float) -> ollama.Client:
    return ollama.Client(host=host, timeout=httpx.Timeout(read_timeout, connect=connect_timeout))


def list_models(host: str, connect_timeout: float = 1.0, read_timeout: float = 5.0) -> list[str]:
    """Model names the server has; raises BackendUnavailable when it does not answer."""
    try:
        resp = make_client(host, connect_timeout, read_timeout).list()
    except (httpx.HTTPError, ConnectionError, ollama.ResponseError) as e:
        raise BackendUnavailable(f"cannot reach Ollama at {host} ({type(e).__name__}); start it with `ollama serve` or set OLLAMA_HOST") from None
    return [m.model for m in resp.models if m.model]


def has_model(names: list[str], model: str) -> bool:
    want = model if ":" in model else f"{model}:latest"
    return model in names or want in names


class OllamaBackend(LLMBackend):
    name = "ollama"

    def __init__(self, model: str, host: str, connect_timeout: float, read_timeout: float, check: bool = True):
        self.model, self.host = model, host
        self._client = make_client(host, connect_timeout, read_timeout)
        if check and not has_model(list_models(host, connect_timeout, min(read_timeout, 10.0)), model):
            raise ModelNotFound(f"Ollama at {host} does not have the model '{model}'; run `ollama pull {model}`")

    def stream(self, messages: list[Message], *, max_tokens: int, temperature: float,
               stop: list[str] | None = None) -> Iterator[str]:
        options = {"num_predict": max_tokens, "temperature": temperature, "seed": 0}
        if stop:
            options["stop"] = stop
        got_any = False
        try:
            for part in self._client.chat(model=self.model, messages=[{"role": m.role, "content": m.content} for m in messages],
                                          stream=True, options=options):
                piece = part.message.content if part.message else ""
                if piece:
                    got_any = True
                    yield piece
        except ollama.ResponseError as e:
            if e.status_code == 404:
                raise ModelNotFound(f"Ollama at {self.host} does not have the model '{self.model}'; run `ollama pull {self.model}`") from None
            raise BackendError(f"Ollama answered with an error: {e.error}") from None
        except httpx.TimeoutException:
            raise BackendError(f"Ollama at {self.host} did not answer in time; raise --ollama-read-timeout or use a smaller model") from None
        except (httpx.HTTPError, ConnectionError) as e:
            what = "stopped in the middle of the answer" if got_any else "cannot be reached"
            raise BackendUnavailable(f"Ollama at {self.host} {what} ({type(e).__name__}); check `ollama serve` is running") from None
