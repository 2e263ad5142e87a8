"""Evidence selection: the few sentences of the retrieved passages that bear on the question.

The model sees only these (tight prompt, fast prefill); their best score decides answer-or-refuse.
"""
from __future__ import annotations

import numpy as np

from app.grounding import text as tu
from app.grounding.checking import SupportChecker
from app.grounding.policy import GroundingPolicy
from app.types import Evidence, Source


def key_stems(question: str) -> set[str]:
    """Stems of the question's names and numbers: what an answer must be about."""
    ents = tu.entities(question)
    return {tu.stem(t) for t in tu.tokens(tu.CITE.sub(" ", question))
            if t[0].isdigit() or (tu.entity_key(t) in ents)}


def lexical_coverage(question: str, sentence: str, policy: GroundingPolicy) -> float:
    """Share of the question's content words found in the sentence; names and numbers weigh
    `policy.name_weight`, other words 1."""
    q = tu.content_stems(question)
    if not q:
        return 0.0
    keys = key_stems(question)
    s = set(tu.content_stems(sentence))
    weights = [policy.name_weight if t in keys else 1.0 for t in q]
    return sum(w for t, w in zip(q, weights) if t in s) / sum(weights)


def answerability(question: str, sources: list[Source], policy: GroundingPolicy) -> tuple[float, str]:
    """Can one retrieved passage answer this? Every name and number of the question must be in it, and at
    least `policy.min_answer_coverage` of the question's other content words (what is asked: date, price, GPUs...).
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
            why = "" if cov >= policy.min_answer_coverage else f"the passages do not mention: {', '.join(missing)}"
    return best, why


def select(question: str, sources: list[Source], checker: SupportChecker, policy: GroundingPolicy,
           lang: str) -> list[Evidence]:
    """Score every sentence of the sources against the question; keep the best `policy.evidence_k`, numbered 1..k."""
    cands: list[tuple[Source, str, int, int, str, int]] = []
    for src in sources:
        prev, prev_start = "", -1
        for sent, s, e in tu.sentences(src.text, offset=src.start):
            if len(sent.split()) < policy.min_evidence_words or tu.is_injection(sent):
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
        lex = (policy.lexical_sentence_weight * lexical_coverage(question, sent, policy)
               + policy.lexical_context_weight * lexical_coverage(question, f"{prev} {sent}", policy))
        score = policy.score_cosine_weight * cos + policy.score_lexical_weight * lex
        if src.language == lang:
            score += policy.same_language_bonus  # prefer evidence in the question's language when it is as good
        scored.append((score, src, sent, s, e, prev, prev_start))
    scored.sort(key=lambda x: -x[0])
    picked, seen = [], set()
    for score, src, sent, s, e, prev, prev_start in scored:
        key = tu.fold(sent)
        if key in seen:
            continue
        seen.add(key)
        picked.append(Evidence(len(picked) + 1, src, sent, s, e, round(score, 4), prev, prev_start))
        if len(picked) == policy.evidence_k:
            break
    return picked
