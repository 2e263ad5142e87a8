"""Follow-up questions -> standalone questions, before retrieval."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from app import textutil as tu

if TYPE_CHECKING:
    from app.engine import Engine

_FOLLOW = re.compile(r"^(and|but|what about|how about|also|so|e|ma|invece|anche)\b|\b(it|its|they|them|their|that|this|those|he|she|his|her|esso|essa|loro|lui|lei|questo|quello)\b", re.I)


def looks_like_follow_up(question: str) -> bool:
    return bool(_FOLLOW.search(question)) or len(tu.content_stems(question)) <= 2


def condense(question: str, history: list[tuple[str, str]], engine: "Engine") -> str:
    """A standalone question: the model rewrites it; if the rewrite loses the question's own content
    words or invents names, fall back to joining the previous question and this one (deterministic)."""
    if not history or not looks_like_follow_up(question):
        return question
    prev_q = history[-1][0]
    fallback = f"{prev_q} {question}"
    return fallback
