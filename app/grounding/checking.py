"""The support checker: is an answer sentence backed by a passage? Deterministic, from embeddings and words.

score(sentence, passage) in [0, 1]:
  - hard gates: every number in a clause of the sentence must appear together in one clause of the
    passage, with the names of that clause (so "10 million users in 7 days" fails against
    "10 million users within seven hours ... whereas ChatGPT took seven days"); every name must be in the
    passage (or the question);
  - then support_precision_weight * word precision (the sentence's content words found in the passage)
    + support_cosine_weight * cosine (weights and thresholds from the `GroundingPolicy`).
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from app.grounding import text as tu
from app.grounding.policy import GroundingPolicy
from index.embedders import Embedder


def _matches(q: tuple[float, str], passage: set[tuple[float, str]]) -> bool:
    """Same value with the same unit (a unit missing on either side matches any)."""
    v, u = q
    return any(v == pv and (u == pu or not u or not pu) for pv, pu in passage)


class SupportChecker:
    name = "citeqa support checker"

    def __init__(self, embedder: Embedder, policy: GroundingPolicy):
        self.embedder = embedder
        self.policy = policy
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    # ---- embeddings with a small LRU cache (evidence sentences repeat across questions) ---------
    def vectors(self, texts: list[str]) -> list[np.ndarray]:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vecs = self.embedder.embed_documents(missing)
            with self._lock:
                for t, v in zip(missing, vecs):
                    a = np.asarray(v, dtype=np.float32)
                    self._cache[t] = a / (np.linalg.norm(a) or 1.0)
                while len(self._cache) > self.policy.vector_cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            return [self._cache[t] for t in texts]

    def cosine(self, a: str, b: str) -> float:
        va, vb = self.vectors([a, b])
        return float(np.dot(va, vb))

    # ---- gates ------------------------------------------------------------------------------
    @staticmethod
    def binding_problem(sentence: str, passage: str) -> str:
        """Why the numbers/names of `sentence` are not bound the same way in `passage` ('' if fine)."""
        p_clauses = tu.clauses(passage)
        p_nums = [tu.quantities(c) for c in p_clauses]
        p_ents = [tu.entities(c) for c in p_clauses]
        all_p_ents = set().union(*p_ents) if p_ents else set()
        allowed_ents = all_p_ents  # a name from the question alone does not make a claim about it true
        for clause in tu.clauses(sentence):
            nums, ents = tu.quantities(clause), tu.entities(clause)
            unknown = ents - allowed_ents
            if unknown:
                return f"names not in the passage: {', '.join(sorted(unknown))}"
            if not nums:
                continue
            fits = [i for i, pn in enumerate(p_nums) if all(_matches(q, pn) for q in nums)]
            if not fits:
                return "numbers not stated together in the passage"
            # names of this clause that the passage mentions must sit in the same passage clause
            named = ents & all_p_ents
            if named and not any(named <= p_ents[i] for i in fits):
                return "numbers attached to a different subject in the passage"
        return ""

    @staticmethod
    def precision(sentence: str, passage: str) -> float:
        s = tu.content_stems(sentence)
        if not s:
            return 0.0
        p = set(tu.content_stems(passage))
        return sum(1.0 for t in s if t in p) / len(s)

    def explain(self, sentence: str, passage: str, question: str = "") -> tuple[float, str]:
        pol = self.policy
        problem = self.binding_problem(sentence, passage)
        if problem:
            return 0.0, problem
        prec = self.precision(sentence, passage)
        if question:
            # what the sentence adds beyond the question must come from the passage
            new = tu.beyond(sentence, question)
            p = set(tu.content_stems(passage))
            if new and sum(t in p for t in new) / len(new) < pol.min_added_in_passage:
                return pol.support_precision_weight * prec, "what it adds to the question is not in the passage"
        if prec < pol.min_precision:
            return pol.support_precision_weight * prec, f"too many words not in the passage (precision {prec:.2f})"
        cos = self.cosine(tu.strip_citations(sentence), passage)
        if cos < pol.min_cosine:
            return (pol.support_precision_weight * prec + pol.support_cosine_weight * max(cos, 0.0),
                    f"meaning differs from the passage (cosine {cos:.2f})")
        score = pol.support_precision_weight * prec + pol.support_cosine_weight * cos
        return score, "" if score >= pol.min_support else f"weak support ({score:.2f})"

    def score(self, sentence: str, passage: str, question: str = "") -> float:
        return self.explain(sentence, passage, question)[0]

    def supports(self, sentence: str, passage: str, question: str = "") -> bool:
        s, why = self.explain(sentence, passage, question)
        return not why and s >= self.policy.min_support
