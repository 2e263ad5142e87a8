"""Does a sentence answer the question, and where in it is the answer?

A supported sentence that does not hold what the question asks for (a quantity for "how many", a date for
"when", a name for "who") is not an answer. `answer_span` finds the part of a quoted sentence that answers,
so the chat can mark it: the asked-for quantity, date or name the question does not already contain, or
else the longest run of words the question does not contain.
"""
from __future__ import annotations

import re

from app.grounding import text as tu
from app.grounding.policy import GroundingPolicy
from app.grounding.question import Ask, ask_of, date_words, holds, new_identifiers, other_version

_WORD = re.compile(r"[^\W_][\w'’\-.,%]*[^\W_%]|[^\W_]|\d+%?", re.UNICODE)


def answers(sentence: str, question: str, policy: GroundingPolicy, context: str = "", ask: Ask | None = None) -> bool:
    """The sentence holds what the question asks for, about the version of the thing the question names (the
    sentence before it, `context`, may name it), and says more than the question does (a restated question is
    not an answer). `ask`: what the question asks for, when known in the documents' language too (`ask_in`)."""
    stems = set(tu.content_stems(tu.strip_citations(sentence)))
    new = stems - set(tu.content_stems(question))
    if not new or len(new) < policy.min_new_share * len(stems):
        return False
    return holds(sentence, question, ask) and not other_version(sentence, question, context)


def answer_span(sentence: str, question: str, ask: Ask | None = None) -> tuple[int, int] | None:
    """(start, end) of the answering words inside `sentence`, or None."""
    ask = ask or ask_of(question)
    if ask.kind == "quantity":
        return _quantity_span(sentence, question, ask)
    q_stems = set(tu.content_stems(question))
    q_ents = tu.entities(question)
    sw = tu.stopwords()
    words = [(m.group().strip(".,"), m.start(), m.start() + len(m.group().strip(".,"))) for m in _WORD.finditer(sentence)]

    def new(w: str) -> bool:
        f = tu.fold(w)
        return bool(f) and f not in sw and tu.stem(w) not in q_stems

    def is_name(w: str, i: int) -> bool:
        capital = w[:1].isupper() and (i > 0 or any(c.isupper() for c in w[1:]))
        return capital and tu.entity_key(w) not in q_ents and tu.fold(w) not in sw

    idents = new_identifiers(sentence, question, ask.noun) if ask.code else frozenset()
    tests = {"date": lambda w, i: date_words(w), "entity": is_name}
    test = tests.get(ask.kind)  # reason, "": the longest run of new words
    if not ask.kind and idents and any(tu.fold(w) in idents for w, _, _ in words):
        test = lambda w, i: tu.fold(w) in idents  # noqa: E731 - "which command": the name written as code
    runs: list[tuple[int, int, int]] = []  # (weight, start, end)
    i = 0
    while i < len(words):
        hit = test(words[i][0], i) if test else new(words[i][0])
        if not hit:
            i += 1
            continue
        j = i
        while j + 1 < len(words) and (test(words[j + 1][0], j + 1) if test else new(words[j + 1][0])):
            j += 1
        runs.append((j - i + 1, words[i][1], words[j][2]))
        i = j + 1
    if not runs:
        return None
    _, s, e = runs[0] if test else max(runs, key=lambda r: (r[0], -r[1]))
    return s, e


def _quantity_span(sentence: str, question: str, ask) -> tuple[int, int] | None:
    """The asked-for quantity's words: of those with the unit asked, the first whose subject (the name before it in
    its clause, text.quantity_subjects) is one the question names ("how long did ChatGPT take": "seven days" in
    "Threads crossed ... within seven hours whereas ChatGPT took seven days"), else the first."""
    q_vals = tu.numbers(question) | {float(t) for t in tu.tokens(question) if t.replace(".", "", 1).isdigit()}
    spans = tu.token_spans(sentence)
    found = tu._quantities_at(sentence)
    about = tu.entities(question)
    subjects = tu.quantity_subjects(sentence) if about else {}
    fitting, best = [], None
    for idx, (val, unit) in found:
        if val in q_vals:
            continue
        fits = (not ask.unit or (ask.unit == "time" and unit[:3] in {"hou", "day", "wee", "mon", "yea", "min", "sec", "ore", "gio", "set", "mes", "ann"})
                or ask.fits(unit) or ask.unit == "money")
        # the span runs over the number, its multiplier and its unit ("405 billion parameters")
        end_idx = idx
        while end_idx + 1 < len(spans) and end_idx - idx < 2 and (
                tu.fold(spans[end_idx + 1][0]) in tu._MULT or (unit and tu.stem(spans[end_idx + 1][0])[:3] == unit[:3])):
            end_idx += 1
        cand = (spans[idx][1], spans[end_idx][2])
        if fits:
            if subjects.get((val, unit), set()) & about:
                return cand
            fitting.append(cand)
        best = best or cand
    return fitting[0] if fitting else best
