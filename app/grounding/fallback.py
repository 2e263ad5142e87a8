"""What to quote, verbatim, when no model sentence survives the check (or none answers)."""
from __future__ import annotations

import re

from app.grounding import text as tu
from app.grounding.answerability import has_name, question_names, spelled_out
from app.grounding.answers import answers
from app.grounding.policy import GroundingPolicy
from app.grounding.question import Ask, other_version
from app.types import Evidence

# words that point back to the sentence before (a closed grammatical class, English and Italian): a quote that
# starts with one, or speaks of "these concerns", is not understood without the sentence it points to
_REFERS_BACK = re.compile(r"^\W*(It|He|She|They|This|These|That|Those|Such|Its|His|Her|Their|Questo|Questa|Questi|Queste|"
                          r"Ciò|Tale|Tali|Esso|Essa|Essi|Lui|Lei|Loro)\b(?!\s+(days|who|giorni)\b)"
                          r"|\b(these|those)\s+(?!days\b|who\b|which\b|that\b)[^\W\d_]+|\b(questi|queste)\s+(?!giorni\b)[^\W\d_]+")


def with_context(e: Evidence, question: str) -> Evidence:
    """The evidence, quoted from the sentence before it when it needs that sentence: it points back to it, or
    only the sentence before names the version the question asks about. One exact quote of both, and only
    when nothing lies between them (a fragment or an instruction the evidence step skipped is never quoted)."""
    if not e.context or e.context_start < 0:
        return e
    s = e.source
    gap = s.text[e.context_start - s.start + len(e.context): e.start - s.start]
    if gap.strip():
        return e
    needs = bool(_REFERS_BACK.search(e.text)) or (other_version(e.text, question) and not other_version(e.text, question, e.context))
    if not needs:
        return e
    return Evidence(e.n, s, s.text[e.context_start - s.start: e.end - s.start], e.context_start, e.end, e.score)


def names_missing(e: Evidence, question: str, policy: GroundingPolicy, known: frozenset = frozenset()) -> list[str]:
    """The question's names that the evidence is not about: in none of its passage (the sentence, the ones
    around it), or its document's title and author. A name the question uses to describe ("the host compares
    Meta's strategy to ...") is in the passage, though often not in the sentence. An acronym may be spelled out
    by consecutive content words of the sentence ("LLM" in "large language model", "LLMs" too), not by chance
    initials across words."""
    names = question_names(question, policy) - known  # `known`: names not demanded (Engine.unrequired_names)
    if not names:
        return []
    # the passage holds the sentence and the one before it (evidence.candidates takes both from it)
    words = tu.tokens(f"{e.source.text} {e.source.title} {e.source.author}")
    have = {tu.entity_key(w) for w in words}
    return [n for n in sorted(names) if not has_name(n, have, policy.name_prefix_min)
            and not spelled_out(n, question, e.text, policy)]


def about_named(e: Evidence, question: str, policy: GroundingPolicy, known: frozenset = frozenset()) -> bool:
    """The evidence is about every name the question asks about ("When is Super LLaMA going to be released?"
    is not answered by a passage on Llama 3.1)."""
    return not names_missing(e, question, policy, known)


def _answering(evidence: list[Evidence], question: str, policy: GroundingPolicy, ask: Ask | None,
               known: frozenset) -> tuple[list[Evidence], float]:
    """The evidence that answers (about the names and the version asked, holding what is asked), and the score of
    the best evidence about the version asked (a sentence about another version is about something else), which
    the answer must come near (`best_answering`)."""
    same = [e for e in evidence if not other_version(e.text, question, e.context)]
    top = max((e.score for e in same), default=0.0)
    return [e for e in same if answers(e.text, question, policy, e.context, ask)
            and about_named(e, question, policy, known)], top


def best_answering(evidence: list[Evidence], lang: str, policy: GroundingPolicy, question: str = "",
                   ask: Ask | None = None, known: frozenset = frozenset()) -> Evidence | None:
    """The best evidence that holds what the question asks for, within `policy.answer_margin` of the best evidence
    about the version asked: when that best holds nothing of the kind asked, a much weaker sentence that holds some
    name is most often its neighbour, even when the best lacks one of the question's names ("Bullseye"). Then the
    same claim in the question's language when one is nearly as good (a translated document), the margin aside."""
    if question:
        every, top = _answering(evidence, question, policy, ask, known)
        answering = [e for e in every if e.score >= top - policy.answer_margin]
    else:
        every = answering = list(evidence)
    if not answering:
        return None
    best = answering[0]
    if best.source.language == lang:
        return best
    # the same claim in the question's language (a translation keeps the names and numbers), when nearly as good
    same = [e for e in every if e.source.language == lang and e.score >= best.score - policy.quote_margin
            and same_claim(e.text, best.text, policy.same_claim_share)]
    return same[0] if same else best


def _names(text: str) -> set:
    """The names and numbers of a sentence (its first word only when it is mixed-case: "Interestingly" is not
    a name)."""
    words = text.split(maxsplit=1)
    first = words[0] if words and not any(c.isupper() for c in words[0][1:]) else ""
    rest = text[len(first):] if first else text
    return tu.entities(rest) | {str(v) for v in tu.numbers(text)}


def same_claim(a: str, b: str, share: float = GroundingPolicy.same_claim_share) -> bool:
    """Two sentences (in two languages) say the same when they share at least `share` of their names and numbers
    (`GroundingPolicy.same_claim_share`)."""
    na, nb = _names(a), _names(b)
    return bool(na and nb) and len(na & nb) >= share * len(na | nb)


def quote_fallback(evidence: list[Evidence], lang: str, policy: GroundingPolicy, question: str = "",
                   ask: Ask | None = None, known: frozenset = frozenset()) -> list[Evidence]:
    """The best evidence that holds what the question asks for (`best_answering`), with the sentence before it
    when it needs it ("... underscores these concerns"), plus the best other sentence of the same document when
    it scores within `policy.quote_margin`. Nothing when no evidence holds what is asked: then the answer is a
    refusal."""
    best = best_answering(evidence, lang, policy, question, ask, known)
    if best is None:
        return []
    out = [with_context(best, question)]
    runner = next((e for e in evidence if e is not best and e.source.doc_id == best.source.doc_id
                   and not other_version(e.text, question, e.context)), None)
    if runner is not None and runner.score >= best.score - policy.quote_margin:
        out.append(runner)  # a second sentence of the same document, when nearly as relevant
    if len(out) > 1 and out[0].start <= out[1].start < out[0].end:
        out.pop()  # the runner is the sentence already quoted before it
    return sorted(out, key=lambda e: (e.source.doc_id, e.start))
