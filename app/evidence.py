"""Evidence selection: the few sentences of the retrieved passages that bear on the question.

The model sees only these (tight prompt, fast prefill); their best score decides answer-or-refuse.
"""
from __future__ import annotations

import numpy as np

from app import textutil as tu
from app.checking import SupportChecker
from app.types import Evidence, Source


def key_stems(question: str) -> set[str]:
    """Stems of the question's names and numbers: what an answer must be about."""
    ents = tu.entities(question)
    return {tu.stem(t) for t in tu.tokens(tu.CITE.sub(" ", question))
            if t[0].isdigit() or (tu.entity_key(t) in ents)}


def lexical_coverage(question: str, sentence: str) -> float:
    """Share of the question's content words (names and numbers count double) found in the sentence."""
    q = tu.content_stems(question)
    if not q:
        return 0.0
    keys = key_stems(question)
    s = set(tu.content_stems(sentence))
    weights = [2.0 if t in keys else 1.0 for t in q]
    return sum(w for t, w in zip(q, weights) if t in s) / sum(weights)


def answerability(question: str, sources: list[Source], min_coverage: float = 0.5) -> tuple[float, str]:
    """Can one retrieved passage answer this? Every name and number of the question must be in it, and at
    least `min_coverage` of the question's other content words (what is asked: date, price, GPUs...).
    Returns (coverage of the best passage, '' or why not)."""
    q = tu.content_stems(question)
    if not q:
        return 0.0, "the question has no content words to look for"
    keys = key_stems(question)
    rest = [t for t in q if t not in keys]
    best, why = 0.0, "no passage mentions " + ", ".join(sorted(keys)) if keys else "no passage matches the question"
    for src in sources:
        have = set(tu.content_stems(src.title + " " + src.text))
        if not keys <= have:
            continue
        cov = (sum(1 for t in rest if t in have) / len(rest)) if rest else 1.0
        if cov > best:
            best = cov
            missing = [t for t in rest if t not in have]
            why = "" if cov >= min_coverage else f"the passages do not mention: {', '.join(missing)}"
    return best, why


def select(question: str, sources: list[Source], checker: SupportChecker, k: int, lang: str) -> list[Evidence]:
    """Score every sentence of the sources against the question; keep the best k, numbered 1..k."""
    cands: list[tuple[Source, str, int, int, str, int]] = []
    for src in sources:
        prev, prev_start = "", -1
        for sent, s, e in tu.sentences(src.text, offset=src.start):
            if len(sent.split()) < 4 or tu.is_injection(sent):
                continue  # fragments and instructions hidden in documents are never evidence
            cands.append((src, sent, s, e, prev, prev_start))
            prev, prev_start = sent, s
    if not cands:
        return []
    qv = checker.vectors([question])[0]
    svs = checker.vectors([c[1] for c in cands])
    scored = []
    for (src, sent, s, e, prev, prev_start), sv in zip(cands, svs):
        cos = float(np.dot(qv, sv))
        lex = 0.7 * lexical_coverage(question, sent) + 0.3 * lexical_coverage(question, f"{prev} {sent}")
        score = 0.55 * cos + 0.45 * lex
        if src.language == lang:
            score += 0.03  # prefer evidence in the question's language when it is as good
        scored.append((score, src, sent, s, e, prev, prev_start))
    scored.sort(key=lambda x: -x[0])
    picked, seen = [], set()
    for score, src, sent, s, e, prev, prev_start in scored:
        key = tu.fold(sent)
        if key in seen:
            continue
        seen.add(key)
        picked.append(Evidence(len(picked) + 1, src, sent, s, e, round(score, 4), prev, prev_start))
        if len(picked) == k:
            break
    return picked
