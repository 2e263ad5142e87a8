"""Pure metric functions: no engine, no I/O."""
from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from pathlib import PurePath
from typing import Callable, Iterable, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD-style: lower case, punctuation out (as spaces, so "405-billion" == "405 billion"), articles out, spaces squeezed."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = "".join(" " if unicodedata.category(ch).startswith(("P", "S")) else ch for ch in text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    return normalize_answer(text).split()


def contains_reference(answer: str, reference: str) -> bool:
    """The normalised reference appears in the normalised answer as whole tokens."""
    ref = normalize_answer(reference)
    if not ref:
        return False
    return f" {ref} " in f" {normalize_answer(answer)} "


def reference_recall(answer: str, references: Sequence[str]) -> float | None:
    """1.0 if any reference appears in the answer, else 0.0; None without references."""
    if not references:
        return None
    return 1.0 if any(contains_reference(answer, r) for r in references) else 0.0


def _f1(pred: list[str], gold: list[str]) -> float:
    if not pred or not gold:
        return float(pred == gold)
    common = Counter(pred) & Counter(gold)
    same = sum(common.values())
    if same == 0:
        return 0.0
    p, r = same / len(pred), same / len(gold)
    return 2 * p * r / (p + r)


def token_f1(answer: str, references: Sequence[str]) -> float | None:
    """SQuAD token F1, best over references."""
    if not references:
        return None
    return max(_f1(tokens(answer), tokens(r)) for r in references)


def _lcs(a: list[str], b: list[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(answer: str, references: Sequence[str]) -> float | None:
    """ROUGE-L F-measure on normalised tokens, best over references."""
    if not references:
        return None
    best = 0.0
    pred = tokens(answer)
    for r in references:
        gold = tokens(r)
        lcs = _lcs(pred, gold)
        if lcs:
            p, rc = lcs / len(pred), lcs / len(gold)
            best = max(best, 2 * p * rc / (p + rc))
    return best


# ---------------------------------------------------------------- retrieval

def doc_key(doc_id: str) -> str:
    """Compare document ids by file name without extension: "seeds/000_x.txt" == "000_x"."""
    name = PurePath(str(doc_id).strip().replace("\\", "/")).name
    stem, dot, ext = name.rpartition(".")
    if dot and stem and 1 <= len(ext) <= 5 and ext.isalnum() and not ext.isdigit():
        name = stem
    return name.lower()


def unique_docs(doc_ids: Iterable[str]) -> list[str]:
    """Doc keys in rank order, first occurrence kept."""
    seen: list[str] = []
    for d in doc_ids:
        k = doc_key(d)
        if k not in seen:
            seen.append(k)
    return seen


def hit_at_k(retrieved: Sequence[str], expected: Sequence[str], k: int | None = None) -> float | None:
    if not expected:
        return None
    ranked = unique_docs(retrieved)[: k or None]
    exp = {doc_key(e) for e in expected}
    return 1.0 if any(d in exp for d in ranked) else 0.0


def mrr(retrieved: Sequence[str], expected: Sequence[str], k: int | None = None) -> float | None:
    """Reciprocal rank of the first expected document among the ranked unique documents."""
    if not expected:
        return None
    exp = {doc_key(e) for e in expected}
    for rank, d in enumerate(unique_docs(retrieved)[: k or None], start=1):
        if d in exp:
            return 1.0 / rank
    return 0.0


def recall_at_k(retrieved: Sequence[str], expected: Sequence[str], k: int | None = None) -> float | None:
    if not expected:
        return None
    exp = {doc_key(e) for e in expected}
    got = set(unique_docs(retrieved)[: k or None])
    return len(exp & got) / len(exp)


# ---------------------------------------------------------------- citations

def cited_doc_precision(cited: Sequence[str], expected: Sequence[str]) -> float | None:
    """Share of distinct cited documents that are expected sources; None if nothing cited or nothing expected."""
    docs = set(unique_docs(cited))
    if not docs or not expected:
        return None
    return len(docs & {doc_key(e) for e in expected}) / len(docs)


def cited_doc_recall(cited: Sequence[str], expected: Sequence[str]) -> float | None:
    if not expected:
        return None
    exp = {doc_key(e) for e in expected}
    return len(set(unique_docs(cited)) & exp) / len(exp)


class JudgeFailure(Exception):
    """A judge could not give a verdict (counted, never dropped silently)."""


def alce_citation_scores(
    sentences: Sequence[tuple[str, Sequence[str]]],
    entails: Callable[[str, str], bool],
) -> dict:
    """ALCE citation recall and precision.

    `sentences`: (sentence text, [quotes of the passages it cites]). `entails(passage, claim) -> bool` may raise
    JudgeFailure (or anything): that sentence is then left out of both figures and counted in `judge_failures`.
    Recall: a sentence counts if the concatenation of its cited quotes supports it (no citation: unsupported).
    Precision: a citation counts if its sentence is supported and the citation either supports the sentence alone
    or is needed (the other citations alone do not support it).
    """
    supported = judged_sentences = 0
    precise = judged_citations = 0
    failures = calls = 0
    for text, quotes in sentences:
        quotes = [q for q in quotes if q]
        try:
            if not quotes:
                judged_sentences += 1
                continue
            calls += 1
            joint = bool(entails("\n".join(quotes), text))
            n_precise = 0
            if joint:
                if len(quotes) == 1:
                    n_precise = 1
                else:
                    for i, q in enumerate(quotes):
                        calls += 1
                        if entails(q, text):
                            n_precise += 1
                            continue
                        rest = quotes[:i] + quotes[i + 1:]
                        calls += 1
                        if not entails("\n".join(rest), text):
                            n_precise += 1
        except Exception:  # noqa: BLE001 - a failed verdict is counted, not hidden
            failures += 1
            continue
        judged_sentences += 1
        judged_citations += len(quotes)
        supported += int(joint)
        precise += n_precise
    return {
        "citation_recall": supported / judged_sentences if judged_sentences else None,
        "citation_precision": precise / judged_citations if judged_citations else None,
        "sentences_judged": judged_sentences,
        "citations_judged": judged_citations,
        "judge_calls": calls,
        "judge_failures": failures,
    }


# ---------------------------------------------------------------- aggregation

def mean(values: Iterable[float | None]) -> float | None:
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Iterable[float | None], q: float) -> float | None:
    """Linear-interpolation percentile (like numpy's default); q in 0..100."""
    vals = sorted(float(v) for v in values if v is not None)
    if not vals:
        return None
    pos = (len(vals) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def answerability_curve(scores: Sequence[float], answerable: Sequence[bool]) -> list[dict]:
    """Precision and recall of 'answer when score >= t' for answerable questions, at every distinct score:
    [{threshold, precision, recall, answered}], highest threshold first."""
    pairs = [(float(s), bool(a)) for s, a in zip(scores, answerable) if s is not None]
    n_pos = sum(1 for _, a in pairs if a)
    out = []
    for t in sorted({s for s, _ in pairs}, reverse=True):
        answered = [a for s, a in pairs if s >= t]
        tp = sum(answered)
        out.append({"threshold": round(t, 4), "precision": round(tp / len(answered), 4) if answered else None,
                    "recall": round(tp / n_pos, 4) if n_pos else None, "answered": len(answered)})
    return out
