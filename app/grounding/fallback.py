"""What to quote, verbatim, when no model sentence survives the check (or none answers)."""
from __future__ import annotations

import re

from app.grounding.answers import answers
from app.grounding.policy import GroundingPolicy
from app.grounding.question import other_version
from app.types import Evidence

# words that point back to the sentence before (a closed grammatical class, English and Italian): a quote that
# starts with one, or speaks of "these concerns", is not understood without the sentence it points to
_REFERS_BACK = re.compile(r"^\W*(it|he|she|they|this|these|that|those|such|its|his|her|their|questo|questa|questi|queste|"
                          r"ciò|tale|tali|esso|essa|essi|lui|lei|loro)\b|\b(these|those|such|questi|queste|tali)\s+\w+", re.I)


def _with_context(e: Evidence) -> Evidence:
    """The evidence, quoted from the sentence before it when it points back to that sentence (one quote of
    both, exactly as the document has them)."""
    if not e.context or e.context_start < 0 or not _REFERS_BACK.search(e.text):
        return e
    s = e.source
    text = s.text[e.context_start - s.start: e.end - s.start]
    return Evidence(e.n, s, text, e.context_start, e.end, e.score)


def quote_fallback(evidence: list[Evidence], lang: str, policy: GroundingPolicy, question: str = "") -> list[Evidence]:
    """The best evidence that holds what the question asks for (in the question's language when nearly as
    good), after the sentence before it when it points back there ("... underscores these concerns"), plus the
    best other sentence of the same document when it scores within `policy.quote_margin`.
    Nothing when no evidence holds what is asked: then the answer is a refusal."""
    answering = [e for e in evidence if answers(e.text, question, policy, e.context)] if question else list(evidence)
    if not answering:
        return []
    pool = [e for e in answering if e.source.language == lang]
    if not pool or pool[0].score < answering[0].score - policy.quote_margin:
        pool = answering
    out = [_with_context(pool[0])]
    runner = next((e for e in evidence if e is not pool[0] and e.source.doc_id == pool[0].source.doc_id
                   and not other_version(e.text, question, e.context)), None)
    if runner is not None and runner.score >= pool[0].score - policy.quote_margin:
        out.append(runner)  # a second sentence of the same document, when nearly as relevant
    if len(out) > 1 and out[0].start <= out[1].start < out[0].end:
        out.pop()  # the runner is the sentence already quoted before it
    return sorted(out, key=lambda e: (e.source.doc_id, e.start))
