"""The sentence leg of retrieval: every evidence sentence of a small index, searched by meaning.

Chunk retrieval (app/retrieval.py) ranks passages; the sentence that answers a paraphrase may sit in a passage
that ranks low as a whole. This leg searches the sentences themselves (MiniLM vectors, the same ones the
evidence step scores, read through the checker's cache) and returns the passages holding the best ones, which
join the candidates after the retrieved passages. It covers indexes up to `policy.warm_sentence_limit` chunks,
whose every sentence the engine embeds at start anyway; above that it is off (the chunk legs alone).
"""
from __future__ import annotations

import threading
from typing import Callable, Sequence

import numpy as np

from app.grounding import text as tu


class SentenceSearch:
    """Built once per version of the index (`stamp`), on first use, from its chunks."""

    def __init__(self, vectors: Callable[[list[str]], list[np.ndarray]], min_words: int):
        self._vectors, self._min_words = vectors, min_words
        self._lock = threading.Lock()
        # (stamp, passage position of each sentence, their unit vectors), swapped as a whole
        self._built: tuple | None = None

    def _build(self, stamp: tuple, nodes: Sequence) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if self._built and self._built[0] == stamp:
                return self._built[1], self._built[2]
            rows, texts = [], []
            for i in range(len(nodes)):
                for sent, _, _ in tu.sentences(nodes[i].get_content()):
                    # the evidence step's own rule: fragments and instructions are never evidence
                    if len(sent.split()) >= self._min_words and not tu.is_injection(sent):
                        rows.append(i)
                        texts.append(sent)
            mat = np.stack(self._vectors(texts)).astype(np.float32) if texts else np.zeros((0, 1), np.float32)
            self._built = (stamp, np.asarray(rows, dtype=np.int64), mat)
            return self._built[1], self._built[2]

    def passages(self, stamp: tuple, nodes: Sequence, query_vector: np.ndarray, k: int) -> list[int]:
        """Positions (in `nodes`) of the k passages holding the sentences most similar to the query, best
        first, each passage once."""
        if k <= 0 or not len(nodes):
            return []
        rows, mat = self._build(stamp, nodes)
        if not len(rows):
            return []
        sims = mat @ np.asarray(query_vector, dtype=np.float32)
        out: list[int] = []
        for j in np.argsort(-sims, kind="stable"):
            i = int(rows[j])
            if i not in out:
                out.append(i)
                if len(out) >= k:
                    break
        return out
