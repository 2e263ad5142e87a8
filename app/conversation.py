"""Follow-up questions -> standalone questions, before retrieval. Deterministic: no model call.

A follow-up ("and the year before?", "who runs it?", or a question that names nothing of its own) is resolved from the conversation: the content words of
the previous standalone question (itself resolved the same way, turn by turn) and the names and numbers of
the previous answer. Only words are carried over, never sentences, so no template text ("The documents
state: ...") or whole sentences of an earlier answer can leak into the search. The question's own words come
first and keep its interrogative, so what it asks for (a person, a quantity, a date) does not change.
"""
from __future__ import annotations

import re

from app.grounding import text as tu
from app.grounding.answerability import question_names
from app.prompts import localized
from index import language

_FOLLOW = re.compile(r"^(and|but|what about|how about|also|so|then|e|ed|ma|invece|anche|allora|e invece)\b|"
                     r"\b(it|its|they|them|their|that|this|those|these|he|she|him|his|her|there|the other|"
                     r"esso|essa|loro|lui|lei|questo|questa|quello|quella|suo|sua|suoi|sue|ci|lì)\b", re.I)
HISTORY_TURNS = 3  # how many previous turns are resolved
MAX_CONTEXT_WORDS = 12  # words carried over from the conversation


def looks_like_follow_up(question: str) -> bool:
    """In a conversation: a question that refers back ("it", "and ..."), is a fragment, or names nothing of its
    own (no name, no number: "what is the platform the model was meant for?")."""
    return (bool(_FOLLOW.search(question)) or len(tu.content_stems(question)) <= 2
            or not (question_names(question) or tu.numbers(question)))


def conversation_language(question: str, history: list[tuple[str, str]] | None) -> str:
    """The language to answer in: the question's, with the language of the user's earlier turns as the prior,
    so a short follow-up with few function words of its own keeps the conversation's language."""
    prior = language.detect(" ".join(q for q, _ in history[-HISTORY_TURNS:])) if history else None
    return language.detect(question, prior=prior)


def _template_words() -> set[str]:
    words: set[str] = set()
    for name in ("quote", "refusal", "closest"):
        for lang in ("en", "it"):
            words |= set(tu.content_stems(localized(name, lang).replace("{quote}", " ").replace("{topic}", " ")))
    return words


def _is_refusal(answer: str) -> bool:
    a = tu.fold(answer.strip())
    return any(a.startswith(tu.fold(localized("refusal", lang).split("{")[0].strip())) for lang in ("en", "it"))


_QUOTE_OPENER = re.compile(r"([“«\"]\s*)[^\W\d_][^\W\d_'’]*(?=\s*,)")


def answer_terms(answer: str) -> list[str]:
    """Names and numbers an answer gives (a refusal gives none), without template words."""
    if not answer or _is_refusal(answer):
        return []
    skip = _template_words()
    text = tu.strip_citations(answer)
    out = []
    # a quote's first word set off by a comma introduces it ("«Sorprendentemente, ...", "“However, ..."): not a
    # name; a name that opens a quote ("“Musk is suing Meta ...”") is one
    text = _QUOTE_OPENER.sub(r"\1", text)
    for sent, _, _ in tu.sentences(text.replace("“", " ").replace("”", " ").replace("«", " ").replace("»", " ")):
        ents = tu.entities(sent)
        for i, tok in enumerate(tu.tokens(sent)):
            if i == 0 and not any(c.isupper() for c in tok[1:]):
                continue  # a capitalised first word is not a name ("Within a month ...")
            if (tu.entity_key(tok) in ents or tok[0].isdigit()) and tu.stem(tok) not in skip:
                out.append(tok)
    return list(dict.fromkeys(out))


def condense(question: str, history: list[tuple[str, str]] | None) -> str:
    """The standalone question for retrieval: the question itself, then (for a follow-up) the words it
    refers to, from the last turns."""
    if not history:
        return question
    standalone = ""
    for q, a in history[-HISTORY_TURNS:]:
        standalone = _resolve(q, standalone, a_prev) if standalone else q
        a_prev = a
    last_answer = history[-1][1]
    return _resolve(question, standalone, last_answer)


def _resolve(question: str, previous: str, previous_answer: str) -> str:
    if not looks_like_follow_up(question):
        return question
    have = set(tu.content_stems(question))
    carried: list[str] = []
    sw = tu.stopwords()
    own = [t for t in tu.tokens(previous) if tu.fold(t) not in sw and (len(t) > 1 or t.isdigit())]
    if question_names(question) or tu.numbers(question):
        # a follow-up that names its own subject ("And Llama 3?" after "How many parameters does Llama 3.1
        # have?") replaces the last one's and keeps what was asked of it: the last question's other words, not
        # its names or numbers, nor the last answer's ("3.1", "405" would find the last answer again)
        names = question_names(previous)
        words = [t for t in own if tu.entity_key(t) not in names and not t[:1].isdigit()]
    else:
        words = [*own, *answer_terms(previous_answer)]
    for w in words:
        s = tu.stem(w)
        if s in have:
            continue
        have.add(s)
        carried.append(w)
        if len(carried) >= MAX_CONTEXT_WORDS:
            break
    if not carried:
        return question
    return f"{question.rstrip()} ({' '.join(carried)})"
