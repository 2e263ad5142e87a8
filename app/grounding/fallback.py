"""What to quote verbatim when no model sentence survives the check."""
from __future__ import annotations

from app.grounding.policy import GroundingPolicy
from app.types import Evidence


def quote_fallback(evidence: list[Evidence], lang: str, policy: GroundingPolicy) -> list[Evidence]:
    """What to quote when no model sentence survives: the best evidence (in the question's language when
    nearly as good), plus the best other sentence of the same document when it scores within
    `policy.quote_margin`."""
    margin = policy.quote_margin
    if not evidence:
        return []
    pool = [e for e in evidence if e.source.language == lang]
    if not pool or pool[0].score < evidence[0].score - margin:
        pool = evidence
    out = [pool[0]]
    runner = next((e for e in pool[1:] if e.source.doc_id == pool[0].source.doc_id), None)
    if runner is not None and runner.score >= pool[0].score - margin:
        out.append(runner)  # a second sentence of the same document, when nearly as relevant
    return sorted(out, key=lambda e: (e.source.doc_id, e.start))
