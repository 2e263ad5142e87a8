"""What to quote, verbatim, when no model sentence survives the check (or none answers)."""
from __future__ import annotations

from app.grounding.answers import answers
from app.grounding.policy import GroundingPolicy
from app.grounding.question import other_version
from app.types import Evidence


def quote_fallback(evidence: list[Evidence], lang: str, policy: GroundingPolicy, question: str = "") -> list[Evidence]:
    """The best evidence that holds what the question asks for (in the question's language when nearly as
    good), plus the best other sentence of the same document when it scores within `policy.quote_margin`.
    Nothing when no evidence holds what is asked: then the answer is a refusal."""
    answering = [e for e in evidence if answers(e.text, question, policy, e.context)] if question else list(evidence)
    if not answering:
        return []
    pool = [e for e in answering if e.source.language == lang]
    if not pool or pool[0].score < answering[0].score - policy.quote_margin:
        pool = answering
    out = [pool[0]]
    runner = next((e for e in evidence if e is not pool[0] and e.source.doc_id == pool[0].source.doc_id
                   and not other_version(e.text, question, e.context)), None)
    if runner is not None and runner.score >= pool[0].score - policy.quote_margin:
        out.append(runner)  # a second sentence of the same document, when nearly as relevant
    return sorted(out, key=lambda e: (e.source.doc_id, e.start))
