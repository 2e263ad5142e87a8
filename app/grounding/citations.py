"""Turn the model's draft sentences into checked sentences: each one kept only with a passage that supports it.

Wrong citations are corrected to the evidence that supports the sentence, unsupported sentences are
dropped (with the reason); `CitationBook` numbers what is cited in order of first use, and `render` writes
the final text with its [n] markers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.grounding import text as tu
from app.grounding.checking import SupportChecker
from app.grounding.policy import GroundingPolicy
from app.types import CheckedSentence, Citation, Evidence
from index import language

# "... is [1]." / "by [1] as": the model put the marker where the answer should be
_PLACEHOLDER = re.compile(
    r"\b(is|was|are|were|be|by|of|as|the|a|an|called|named|to|from|with|than|like|on|in|at|for|about|into|over|under|per|e|è|di|da|il|la|dal|della|su|con|chiamat[oa])\s*\[\d+\]"
    r"|\[\d+\]\s+(?-i:[a-z])", re.I)
_QUANTITY_Q = re.compile(r"(\bhow (much|many|long|quickly|fast|far|large|big|old|often)|in quanto tempo|quant[oiae]\b)", re.I)
_QUANTITY_WORD = re.compile(r"\b(half|twice|double|triple|percent|per cent|dozens?|hundreds?|thousands?|millions?|billions?|"
                            r"metà|doppio|triplo|per cento|centinaia|migliaia|milioni|miliardi)\b|%", re.I)
_LIST = re.compile(r"^\s*(?:[-*•]|(\d+)[.)]|\[(\d+)\])\s+")


@dataclass
class CitationBook:
    """Evidence numbers -> display numbers in order of first use, and the Citation records."""

    evidence: list[Evidence]
    display: dict[int, int] = field(default_factory=dict)
    citations: list[Citation] = field(default_factory=list)

    def cite(self, ev: Evidence, supported: bool, score: float, with_context: bool = False,
             span: tuple[int, int] | None = None) -> int:
        """The display number of `ev`; `span` marks the answering words inside the evidence sentence."""
        key = (ev.n, with_context)
        if key not in self.display:
            self.display[key] = len(self.display) + 1
            s = ev.source
            start, quote = ev.start, ev.text
            if with_context and ev.context:
                # the claim needs the sentence before (e.g. "this model" = Llama 3.1): quote both, exactly
                start = ev.context_start
                quote = s.text[start - s.start: ev.end - s.start]
            self.citations.append(Citation(
                n=self.display[key], doc_id=s.doc_id, title=s.title, chunk_id=s.chunk_id, start=start, end=ev.end,
                quote=quote, supported=supported, score=round(score, 4), language=s.language, author=s.author,
                answer_start=ev.start + span[0] if span else None, answer_end=ev.start + span[1] if span else None,
                page=s.page,
            ))
        return self.display[key]


def check_sentence(raw: str, evidence: list[Evidence], question: str, lang: str, checker: SupportChecker,
                   policy: GroundingPolicy) -> tuple[CheckedSentence, list[tuple[Evidence, float, bool]]]:
    """Check one draft sentence against the evidence the model was shown (only evidence within
    `policy.relevance_margin` of the best may be cited); returns the verdict and the evidence it should cite
    (evidence, score, needs the sentence before it as context)."""
    p = policy
    m = _LIST.match(raw)
    cited = tu.cited_numbers(raw)
    if m and (m.group(1) or m.group(2)) and not cited:
        cited = [int(m.group(1) or m.group(2))]  # "1. text" lists: the item number is the source
    text = tu.strip_citations(_LIST.sub("", raw)).strip(" -*")
    verdict = CheckedSentence(text=text, cited=[], support=0.0, supported=False, origin="model")
    if len(tu.content_stems(text)) < p.min_claim_stems:
        verdict.dropped_reason = "too short to check"
        return verdict, []
    if text.endswith("?"):
        verdict.dropped_reason = "a question, not an answer"
        return verdict, []
    if _PLACEHOLDER.search(_LIST.sub("", raw)):
        verdict.dropped_reason = "a citation stands where a name or fact should be"
        return verdict, []
    if not tu.beyond(text, question):
        verdict.dropped_reason = "restates the question without answering it"
        return verdict, []
    asked = tu.numbers(question)
    if _QUANTITY_Q.search(question) and not ((tu.numbers(text) - asked) or _QUANTITY_WORD.search(_strip_numbers_of(question, text))):
        verdict.dropped_reason = "the question asks for a quantity and the sentence gives none"
        return verdict, []
    if tu.is_injection(text):
        verdict.dropped_reason = "instruction-like text"
        return verdict, []
    if len(text.split()) >= p.language_check_words and language.detect(text, default=lang) != lang:
        verdict.dropped_reason = f"not in the question's language ({language.name(lang)})"
        return verdict, []
    top = max((e.score for e in evidence), default=0.0)
    # only evidence about as relevant as the best may back a model sentence: a true but off-question
    # sentence copied from weaker evidence is not an answer
    usable = [e for e in evidence if e.score >= top - p.relevance_margin]
    by_n = {e.n: e for e in usable}
    scored = []
    for e in usable:
        score, why = checker.explain(text, e.text, question)
        if why and e.context:  # "this model outperforms ..." needs its previous sentence for the names
            c_score, c_why = checker.explain(text, e.text, question, context=e.context)
            if not c_why:
                score, why = c_score, "context"
        scored.append((e, score, why))
    good = [(e, s) for e, s, why in scored if not why or why == "context"]
    needs_context = {e.n for e, s, why in scored if why == "context"}
    if not good:
        best = max(scored, key=lambda x: x[1], default=None)
        verdict.support = round(best[1], 4) if best else 0.0
        verdict.dropped_reason = best[2] if best else "no relevant evidence"
        return verdict, []
    cited_good = [(e, s) for e, s in good if e.n in cited and e.n in by_n]
    chosen = cited_good or [max(good, key=lambda x: x[1])]  # correct a wrong or missing citation
    chosen = [(e, s, e.n in needs_context) for e, s in chosen]
    verdict.supported = True
    verdict.support = round(max(s for _, s, _ in chosen), 4)
    if not cited_good:
        verdict.dropped_reason = "citation corrected" if cited else "citation added"
    return verdict, chosen


def _strip_numbers_of(question: str, text: str) -> str:
    """The sentence without the quantity words the question already has ("10 million users")."""
    for w in ("million", "billion", "milioni", "miliardi", "thousand", "hundred"):
        if re.search(rf"\b{w}\b", question, re.I):
            text = re.sub(rf"\b{w}\b", " ", text, flags=re.I)
    return text


def render(sentences: list[CheckedSentence]) -> str:
    parts = []
    for s in sentences:
        marks = "".join(f"[{n}]" for n in s.cited)
        text = s.text.rstrip().rstrip(";,:")
        if text and text[-1] in ".!?…" and marks:
            parts.append(f"{text[:-1]} {marks}{text[-1]}")
        else:
            parts.append(f"{text} {marks}".strip())
    return " ".join(parts)
