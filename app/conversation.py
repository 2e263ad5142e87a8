"""Follow-up questions -> standalone questions, before retrieval."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from app.errors import CiteqaError
from app.grounding import text as tu

if TYPE_CHECKING:
    from app.llm import LLMBackend

_FOLLOW = re.compile(r"^(and|but|what about|how about|also|so|e|ma|invece|anche)\b|\b(it|its|they|them|their|that|this|those|he|she|his|her|esso|essa|loro|lui|lei|questo|quello)\b", re.I)
HISTORY_TURNS = 3  # how many previous turns the rewrite sees
MAX_ANSWER_CHARS = 300  # previous answers are cut to this in the rewrite prompt
_LEAD = re.compile(r"^\s*(standalone question|question|domanda)\s*:\s*", re.I)


def looks_like_follow_up(question: str) -> bool:
    return bool(_FOLLOW.search(question)) or len(tu.content_stems(question)) <= 2


def fallback(question: str, history: list[tuple[str, str]]) -> str:
    """Deterministic standalone question: the previous question followed by this one."""
    prev_q = history[-1][0].strip()
    return f"{prev_q} {question}".strip() if prev_q else question


def _clean(text: str) -> str:
    line = next((ln for ln in (text or "").strip().splitlines() if ln.strip()), "")
    line = _LEAD.sub("", tu.strip_citations(line)).strip().strip("\"'“”«»`").strip()
    return " ".join(line.split())


def acceptable(rewrite: str, question: str, history: list[tuple[str, str]]) -> bool:
    """A rewrite is kept only when it keeps every content word of the question and names nothing
    that is not already in the question or the conversation."""
    if not rewrite or len(rewrite) > 4 * max(len(question), 60) or tu.is_injection(rewrite):
        return False
    have = set(tu.content_stems(rewrite))
    if not set(tu.content_stems(question)) <= have:
        return False
    context = question + " " + " ".join(f"{q} {a}" for q, a in history)
    if not tu.entities(rewrite) <= tu.entities(context):
        return False
    if not tu.numbers(rewrite) <= tu.numbers(context):
        return False
    # it must have taken something from the conversation, else it is no better than the question itself
    return len(have) > len(set(tu.content_stems(question)))


def rewrite_with_model(question: str, history: list[tuple[str, str]], backend: "LLMBackend") -> str:
    from app.llm import Message
    from app.prompts import template

    turns = []
    for q, a in history[-HISTORY_TURNS:]:
        a = " ".join(tu.strip_citations(a or "").split())
        if len(a) > MAX_ANSWER_CHARS:
            a = a[:MAX_ANSWER_CHARS].rstrip() + "…"
        turns.append(f"User: {q.strip()}\nAssistant: {a}")
    prompt = template("condense").format(history="\n".join(turns), question=question)
    out = backend.complete([Message("user", prompt)], max_tokens=48, temperature=0.0)
    return _clean(out)


def condense(question: str, history: list[tuple[str, str]], backend: "LLMBackend") -> str:
    """A standalone question: the model rewrites it; if the rewrite loses the question's own content
    words or invents names, fall back to joining the previous question and this one (deterministic)."""
    if not history or not looks_like_follow_up(question):
        return question
    try:
        rewrite = rewrite_with_model(question, history, backend)
    except CiteqaError:
        rewrite = ""
    if acceptable(rewrite, question, history):
        return rewrite
    return fallback(question, history)
