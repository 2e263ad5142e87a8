from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Iterator


@dataclass
class Message:
    role: str  # system | user | assistant
    content: str


class LLMBackend(ABC):
    """A chat model that streams text. `name` is the backend, `model` what it runs; both are reported."""

    name: str
    model: str

    @abstractmethod
    def stream(self, messages: list[Message], *, max_tokens: int, temperature: float,
               stop: list[str] | None = None) -> Iterator[str]:
        """Yield text pieces as the model produces them. Raise BackendError (with a fix-it message)."""

    def complete(self, messages: list[Message], *, max_tokens: int = 64, temperature: float = 0.0) -> str:
        return "".join(self.stream(messages, max_tokens=max_tokens, temperature=temperature))

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)
