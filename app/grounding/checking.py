"""The support checker: is an answer sentence backed by a passage? Deterministic, from embeddings and words.

score(sentence, passage) in [0, 1]:
  - hard gates: every number in a clause of the sentence must appear together in one clause of the
    passage, with the names of that clause (so "10 million users in 7 days" fails against
    "10 million users within seven hours ... whereas ChatGPT took seven days"); every name must be in the
    passage (a name from the question alone does not make a claim about it true);
  - then w * word precision (the sentence's content words found in the passage) + (1 - w) * cosine, with
    the weights and minimums of the GroundingPolicy.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict

import numpy as np

from app.grounding import text as tu
from app.grounding.answerability import spelled_out
from app.grounding.documents import DOC_WORDS
from app.grounding.policy import GroundingPolicy
from index.embedders import Embedder
from index.vector_cache import VectorCache

# binding_problem is a static rule, not tuned: it reads the policy's defaults, built once
_POLICY = GroundingPolicy()


def _matches(q: tuple[float, str], passage: set[tuple[float, str]]) -> bool:
    """Same value with the same unit (a unit missing on either side matches any)."""
    v, u = q
    return any(v == pv and (u == pu or not u or not pu) for pv, pu in passage)


def _swapped_modifier(sentence: str, passage: str) -> tuple[str, str] | None:
    """("current", "next") when the sentence says "current version" and the passage only "next version":
    a word the passage lacks, in front of a word the passage has with another word in front of it."""
    sw = tu.stopwords()

    def pairs(text: str) -> list[tuple[str, str]]:
        toks = [tu.fold(t) for t in tu.tokens(tu.CITE.sub(" ", text))]
        return [(a, b) for a, b in zip(toks, toks[1:]) if a not in sw and b not in sw and not a[0].isdigit()]

    p_stems = set(tu.content_stems(passage))
    p_pairs = pairs(passage)
    for a, b in pairs(sentence):
        if tu.stem(a) in p_stems or tu.stem(b) not in p_stems:
            continue
        before_b = {x for x, y in p_pairs if tu.stem(y) == tu.stem(b)}
        s_stems = set(tu.content_stems(sentence))
        others = [x for x in before_b if tu.stem(x) not in s_stems]
        if others and len(before_b) == len(others):
            return a, sorted(others)[0]
    return None


# words that make a number another thing's than the subject's: a comparison ("an even larger 400 billion
# parameter version") or a later, planned one ("the next 400 billion model"); a closed class of English and
# Italian comparatives and future words, directly before the number (only intensifiers and articles between:
# "Five days later, Threads had 100 million" is not a later thing's 100 million)
_QUALIFIED = re.compile(r"\b(larger|bigger|smaller|greater|heavier|newer|next|upcoming|future|planned|forthcoming|"
                        r"maggiore|minore|superiore|prossim[oa]|futur[oa]|successiv[oa])\s+"
                        r"(?:(?:even|much|far|still|a|an|the|un|una|uno|ancora)\s+)*(?=[$€£]?\d)", re.I)
_QUALIFIED_REACH = GroundingPolicy.qualifier_reach  # words after the number that may name what it is of


def _dropped_qualifier(sentence: str, passage: str) -> tuple[str, str] | None:
    """(number, qualifier) when the passage gives a number of the sentence only right after a comparative or
    future word ("an even larger 400 billion parameter version") and the sentence keeps neither that word nor
    the thing it qualifies ("the model has 400 billion parameters"): the number is then claimed of the wrong
    thing. "Meta is working on a 400 billion parameter version" keeps the thing, and is fine."""
    sw = tu.stopwords()
    qualified: dict[float, tuple[str, set[str]]] = {}
    plain: set[float] = set()
    text = tu.CITE.sub(" ", passage)
    spans = tu.token_spans(text)  # the tokens quantity_positions counts, with their offsets
    marks = {m.end(): m.group(1).lower() for m in _QUALIFIED.finditer(text)}  # where the qualified number starts
    for i, (v, unit) in tu.quantity_positions(text):
        tok, start, _ = spans[i]
        if not tok[0].isdigit() or (start and (text[start - 1].isalnum() or text[start - 1] in "_.,")):
            continue  # figures only, standing on their own (not number words, not "v.2")
        at = start - 1 if text[start - 1:start] in ("$", "€", "£") else start
        if at not in marks:
            plain.add(v)
            continue
        after = [tu.fold(t) for t, _, _ in spans[i + 1:i + 1 + _QUALIFIED_REACH]]
        things = {tu.stem(t) for t in after if t not in sw and not t[0].isdigit() and not tu.is_multiplier(t)
                  and tu.stem(t)[:4] != unit[:4]}
        qualified[v] = (marks[at], things)
    s_words = {tu.fold(t) for t in tu.tokens(sentence)}
    s_stems = set(tu.content_stems(sentence))
    for v in tu.numbers(sentence):
        if v in qualified and v not in plain:
            qual, things = qualified[v]
            if qual not in s_words and not (things & s_stems):
                return f"{v:g}", qual
    return None


class SupportChecker:
    name = "citeqa support checker"

    def __init__(self, embedder: Embedder, policy: GroundingPolicy | None = None, disk: VectorCache | None = None):
        self.embedder = embedder
        self.policy = policy or GroundingPolicy()
        self.disk = disk  # vectors kept on disk by earlier processes (index/vector_cache.py), optional
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    # ---- embeddings with a small LRU cache (evidence sentences repeat across questions) ---------
    def vectors(self, texts: list[str], keep: bool = False) -> list[np.ndarray]:
        """Unit vectors of `texts`. `keep`: they are the documents' own text (sentences, their words), which
        may be read from and written to the on-disk cache (`self.disk`); a question or a model's sentence never is."""
        with self._lock:
            # read now: more texts than the cache holds would evict some of them before they are returned
            out = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in out]
        if missing:
            disk = self.disk if keep else None
            found = disk.get(missing) if disk else {}
            todo = [t for t in missing if t not in found]
            made = self._embed(todo)
            # a row of another length than the vectors made now (or than most found) is damaged: embed it again
            dims = [v.shape[0] for v in made.values()] or [v.shape[0] for v in found.values()]
            dim = max(set(dims), key=dims.count) if dims else 0
            bad = [t for t, v in found.items() if v.shape[0] != dim]
            made.update(self._embed(bad))
            for t in bad:
                del found[t]
            if made and disk:
                disk.put(made)
            with self._lock:
                for t in missing:
                    out[t] = self._cache[t] = found[t] if t in found else made[t]
                while len(self._cache) > self.policy.vector_cache_size:
                    self._cache.popitem(last=False)
        return [out[t] for t in texts]

    def _embed(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Unit vectors of `texts`, from the embedder."""
        out = {}
        for t, v in zip(texts, self.embedder.embed_documents(texts) if texts else []):
            a = np.asarray(v, dtype=np.float32)
            out[t] = a / (np.linalg.norm(a) or 1.0)
        return out

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def cosine(self, a: str, b: str) -> float:
        va, vb = self.vectors([a, b])
        return float(np.dot(va, vb))

    # ---- gates ------------------------------------------------------------------------------
    @staticmethod
    def binding_problem(sentence: str, passage: str, context: str = "") -> str:
        """Why the numbers, names, modifiers or polarity of `sentence` are not bound the same way in `passage`
        ('' if fine). The rules are structural, not tuned: each one names what a reader would object to.
        `context` (the sentence before the passage) may supply names ("this model" -> Llama 3.1), nothing else."""
        p_clauses = tu.clauses(passage)
        p_nums = [tu.quantities(c) for c in p_clauses]
        p_ents = [tu.entities(c) for c in p_clauses]
        all_p_ents = set().union(*p_ents) if p_ents else set()
        all_p_ents |= tu.entities(context) if context else set()
        p_subjects = tu.quantity_subjects(passage)
        # a ticker or acronym the passage does not write ("NASDAQ: MAS" over "NASDAQ: META"); two-letter ones
        # translate and abbreviate freely ("AI", "EU", "US": policy.acronym_max_len), and the passage may write one
        # with dots ("W.H.O.") or spell it out ("World Health Organization")
        caps = tu.capitals(sentence, _POLICY.acronym_max_len + 1)
        p_text = f"{passage} {context or ''}"
        if caps:
            p_caps = {tu.fold(t) for t in tu.tokens(p_text) if any(c.isupper() for c in t)}
            p_caps |= {tu.fold(m.replace(".", "")) for m in re.findall(r"\b(?:[A-Za-z]\.){2,}", p_text)}
            caps = {c for c in caps - p_caps - all_p_ents
                    if not spelled_out(tu.entity_key(c), sentence, p_text, _POLICY)}
        for clause in tu.clauses(sentence):
            nums, ents = tu.quantities(clause), tu.entities(clause)
            unknown = ents - all_p_ents  # a name from the question alone does not make a claim about it true
            unknown |= caps & {tu.fold(t) for t in tu.tokens(clause)}
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
            # ... and a number must belong to the same name ("Llama 3, a 70 billion model, with Meta working
            # on a 400 billion version": 400 billion is not Llama 3's)
            for q, subjects in tu.quantity_subjects(clause).items():
                claimed = {x for x in subjects if x}
                if not claimed:
                    continue
                theirs = set().union(*(subs for pq, subs in p_subjects.items() if _matches(q, {pq})))
                theirs.discard("")
                if theirs and not (claimed & theirs) and claimed <= all_p_ents:
                    return "the number belongs to another subject in the passage"
        # polarity: a plain claim of what the passage negates, or a negated claim where the passage negates nothing
        neg_p, plain_p, p_negates = tu.negated_stems(passage)
        neg_s, plain_s, s_negates = tu.negated_stems(sentence)
        flipped = sorted(plain_s & (neg_p - plain_p)) if not s_negates else []
        if s_negates and not p_negates:
            flipped = sorted(neg_s & plain_p)
        if flipped:
            return f"the passage says the opposite about: {', '.join(flipped)}"
        dropped = _dropped_qualifier(sentence, passage)
        if dropped:
            return f"the passage qualifies the number as '{dropped[1]}', the sentence drops it"
        swapped = _swapped_modifier(sentence, passage)
        if swapped:
            return f"'{swapped[0]}' where the passage says '{swapped[1]}'"
        return ""

    @staticmethod
    def precision(sentence: str, passage: str, lent: set[str] | frozenset = frozenset()) -> float:
        s = tu.content_stems(sentence)
        if not s:
            return 0.0
        p = set(tu.content_stems(passage)) | set(lent)
        return sum(1.0 for t in s if t in p) / len(s)

    def explain(self, sentence: str, passage: str, question: str = "", context: str = "") -> tuple[float, str]:
        """(support score, '' or why not). With `context`, the claim is still checked against `passage` alone:
        the context only lends its names (a claim is one sentence's, never stitched from two)."""
        p = self.policy
        w = p.support_precision_weight
        problem = self.binding_problem(sentence, passage, context)
        if problem:
            return 0.0, problem
        lent = {tu.stem(t) for t in tu.tokens(context) if tu.entity_key(t) in tu.entities(context)} if context else set()
        prec = self.precision(sentence, passage, lent)
        if question:
            # what the sentence adds beyond the question must come from the passage ...
            asked = set(tu.content_stems(question))
            words = [(t, f, tu.stem(t)) for t, f in tu.content_tokens(sentence)]
            new = [st for _, _, st in words if st not in asked]
            have = set(tu.content_stems(passage)) | lent
            if new and sum(t in have for t in new) / len(new) < p.min_added_in_passage:
                return w * prec, "what it adds to the question is not in the passage"
            # ... and so must what it takes from the question: "X is the mayor of Bristol" over "X stands in
            # Bristol" borrows "mayor" from the question alone (the words that name the document aside)
            borrowed = [t for t, f, st in words if st in asked and st not in have and f not in DOC_WORDS]
            if borrowed:
                return w * prec, f"takes '{borrowed[0]}' from the question; the passage does not say it"
        if prec < p.min_precision:
            return w * prec, f"too many words not in the passage (precision {prec:.2f})"
        cos = self.cosine(tu.strip_citations(sentence), f"{context} {passage}".strip())
        if cos < p.min_cosine:
            return w * prec + (1 - w) * max(cos, 0.0), f"meaning differs from the passage (cosine {cos:.2f})"
        score = w * prec + (1 - w) * cos
        return score, "" if score >= p.min_support else f"weak support ({score:.2f})"

    def score(self, sentence: str, passage: str, question: str = "") -> float:
        return self.explain(sentence, passage, question)[0]

    def supports(self, sentence: str, passage: str, question: str = "", context: str = "") -> bool:
        s, why = self.explain(sentence, passage, question, context)
        return not why and s >= self.policy.min_support
