"""Answer or refuse, decided by the evidence (never by the model).

Refuse when
  - the best evidence score is below `policy.min_evidence` (chosen on the development half's
    precision-recall curve, see app/evaluation/calibrate.py), or
  - a number of the question ("Llama 2", "100 million") is in none of the best candidates' passages or
    their documents' titles: numbers are not paraphrased, so a passage without it is about something else;
  - a name of the question (Milan, Gemini) is in none of them either ("Zuck" matches "Zuckerberg"; two-letter
    acronyms, which translate, names of documents' titles and authors, and names at least half of the documents
    mention, the corpus's own subject, are not required: Engine.unrequired_names; an acronym is there when
    consecutive words of an evidence sentence spell it out, "LLM" in "large language model", the same rule as
    the quote's, fallback.names_missing). A name that
    changes across languages ("Stati Uniti" for "US") is refused this way: on the development half, three
    answerable questions were (America, Stati Uniti, LLM), against more off-topic and near-miss questions
    caught (Milano, Australia, Gemini ...).
Whether the evidence holds the kind of thing asked for (a date, a quantity, a name) is checked on the
answer itself (grounding/answers.py): no sentence that holds it, no answer.
"""
from __future__ import annotations

from app.grounding import text as tu
from app.grounding.policy import GroundingPolicy
from app.grounding.question import required_numbers


def has_name(name: str, names: set[str], prefix: int) -> bool:
    """The name, or one that starts with it or that it starts with, both at least `prefix` letters ("Zuck")."""
    return name in names or any(len(name) >= prefix and (n.startswith(name) or name.startswith(n))
                                for n in names if len(n) >= prefix)


def spelled_out(name: str, question: str, text: str, policy: GroundingPolicy) -> bool:
    """`name` is an acronym of the question ("LLM", "LLMs": all capitals, longer than `policy.acronym_max_len`)
    whose letters begin consecutive content words of one clause of `text` ("large language model", "Bank of
    Italy"), not initials scattered over the text."""
    acronyms = {tu.entity_key(t) for t in tu.tokens(question)
                if len(t) > policy.acronym_max_len and t.rstrip("s").isupper()}
    return name in acronyms and tu.spells(name, text)


def question_names(question: str, policy: GroundingPolicy | None = None) -> set[str]:
    """The question's names: capitalised words, but not a capitalised first word ("Besides ...") unless it is
    mixed-case (LLaMA), nor two-letter acronyms, which are translated and spelled out ("IA", "US")."""
    acronym = (policy or GroundingPolicy()).acronym_max_len
    toks = tu.tokens(tu.CITE.sub(" ", question))
    first = toks[0] if toks else ""
    ents = tu.entities(question)
    out = set()
    for t in toks:
        key = tu.entity_key(t)
        if key not in ents or len(key) <= acronym:
            continue
        if t == first and not any(c.isupper() for c in t[1:]) and toks.count(t) == 1:
            continue
        out.add(key)
    return out


def refusal_reason(question: str, ranked: list, policy: GroundingPolicy,
                   known: set[str] | frozenset = frozenset()) -> str:
    """'' to answer, else why not. `known`: names a passage need not hold (Engine.unrequired_names):
    those of documents' titles and authors, which a question may use to point at a document rather than as a
    subject, and those most documents mention (the corpus's own subject, "Debian" in a Debian handbook) when the
    evidence's documents do too."""
    if not ranked:
        return "no passage matches the question"
    best = ranked[0].score
    if best < policy.min_evidence:
        return f"best evidence {best:.2f} < {policy.min_evidence:.2f}"
    top = [c for c in ranked if c.score >= best - policy.evidence_margin][: policy.evidence_k]
    texts = [f"{c.source.title} {c.source.author} {c.source.text}" for c in top]
    q_nums = required_numbers(question)
    if q_nums:
        have = set().union(*(tu.numbers(t) for t in texts))
        missing = q_nums - have
        if missing:
            shown = ", ".join(f"{v:g}" for v in sorted(missing))
            return f"no passage about the question gives {shown}"
    names = set().union(*(tu.entities(t) for t in texts)) | {tu.entity_key(w) for t in texts for w in tu.tokens(t)}
    missing_names = sorted(n for n in question_names(question, policy) - set(known)
                           if not has_name(n, names, policy.name_prefix_min)
                           and not any(spelled_out(n, question, c.text, policy) for c in top))
    if missing_names:
        return f"no passage about the question mentions {', '.join(missing_names)}"
    return ""
