"""Test doubles for the grounding package (in the spirit of simonw/llm's MockModel): no model weights.

`FakeEmbedder` maps a text to a normalised bag of its hashed word stems, so texts that share words are
close and texts that share none are orthogonal: enough to exercise every grounding rule deterministically.
`ScriptedBackend` streams a fixed reply, piece by piece, like a real backend.
"""
from __future__ import annotations

import hashlib
import re
from typing import Iterator

import numpy as np

from app.llm.base import LLMBackend
from app.types import Evidence, Source
from index.embedders import Embedder

DIM = 512


def _bucket(word: str) -> tuple[int, float]:
    h = hashlib.sha256(word.encode()).digest()
    return int.from_bytes(h[:4], "little") % DIM, (1.0 if h[4] & 1 else -1.0)


class FakeEmbedder(Embedder):
    id = "fake:bag-of-stems"

    def __init__(self):
        self.calls = 0

    def as_llama_index(self):  # pragma: no cover - the grounding code never asks for it
        raise NotImplementedError

    def _vec(self, text: str) -> list[float]:
        from app.grounding import text as tu

        v = np.zeros(DIM, dtype=np.float32)
        for t in tu.content_stems(text) or re.findall(r"\w+", text.lower()):
            i, sign = _bucket(t)
            v[i] += sign
        n = float(np.linalg.norm(v)) or 1.0
        return [float(x) for x in v / n]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)


class ScriptedBackend(LLMBackend):
    """Streams `reply` in small pieces; records the messages it was given."""

    name = "scripted"
    model = "scripted-reply"

    def __init__(self, reply: str = "", piece: int = 3):
        self.reply, self.piece = reply, piece
        self.seen: list = []

    def stream(self, messages, *, max_tokens: int = 96, temperature: float = 0.0, stop=None) -> Iterator[str]:
        self.seen.append(messages)
        for i in range(0, len(self.reply), self.piece):
            yield self.reply[i:i + self.piece]


def source(doc_id: str, text: str, start: int = 0, title: str = "", language: str = "en", author: str = "",
           score: float = 0.5) -> Source:
    return Source(doc_id=doc_id, title=title or doc_id, chunk_id=f"{doc_id}#v1#00000", text=text, start=start,
                  end=start + len(text), score=score, language=language, author=author)


def evidence(n: int, src: Source, text: str, score: float = 0.9, context: str = "") -> Evidence:
    i = src.text.index(text)
    ctx_start = src.text.index(context) + src.start if context else -1
    return Evidence(n, src, text, src.start + i, src.start + i + len(text), score, context, ctx_start)
