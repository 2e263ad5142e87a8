"""Evidence at sentence level: score every sentence of the retrieved passages against the question.

A sentence's features (all in [0, 1], computed in `features`):
  cos       dense similarity of question and sentence (MiniLM)
  window    dense similarity of question and the sentence with the one before it (its context)
  lexical   share of the question's content stems in the sentence (names and numbers weigh more, rare words
            more than common ones; words that name the sentence's document, "the Italian article", count as
            present)
  soft      the same with soft matching: each question word takes its best word-embedding similarity to a
            word of the sentence ("earnings" ~ "revenue"), so other wording is not a miss
  lexical_ctx, soft_ctx
            the same two over the sentence and the one before it: the context may hold what "he" or "the
            model" stands for, but a sentence must not win only by following the one that matches
  weakest   the question word the sentence covers worst (its best similarity): a near miss asks for one
            thing the sentence does not have ("the exact date", "in dollars")
  names     share of the question's names and numbers present in the sentence, its context or its document's
            title/author
  numbers   share of the question's numbers present there ("Llama 2" is not "Llama 3.1"; numbers do not
            paraphrase the way words do)
  typed     1 when the sentence holds the kind of thing asked for (a quantity for "how many", a date for
            "when", a name for "who"), 0 when it does not, 0.5 when the question asks no particular kind (1 when
            it holds the kind preferred then: a name written as code for "which package", question.prefers)
  rank      1 / (1 + position of its passage among the candidates: hybrid retrieval's first, then a named
            document's, then those the sentence leg adds, app/sentence_search.py)
  doc       1 when the question names the sentence's document, 0 when it names another, 0.5 when none
  lang      1 when the sentence is in the question's language

The evidence score is a logistic combination of these with the weights of the GroundingPolicy, fitted on the
development sets (the seeds' development half and the Debian one, `python -m app.evaluation.calibrate`): the
probability that the sentence holds the answer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from app.grounding import text as tu
from app.grounding.checking import SupportChecker
from app.grounding.documents import DocRef, strip_doc_words
from app.grounding.policy import GroundingPolicy
from app.grounding.question import Ask, ask_of, holds, prefers, required_numbers
from app.types import Evidence, Source

FEATURES = ("cos", "window", "lexical", "soft", "weakest", "names", "numbers", "typed", "rank", "doc", "lang", "lexical_ctx", "soft_ctx")


def key_stems(question: str) -> set[str]:
    """Stems of the question's names and numbers: what an answer must be about."""
    ents = tu.entities(question)
    return {tu.stem(t) for t in tu.tokens(tu.CITE.sub(" ", question))
            if t[0].isdigit() or (tu.entity_key(t) in ents)}


def lexical_coverage(question: str, sentence: str, name_weight: float, also: set[str] | frozenset = frozenset(),
                     idf: dict[str, float] | None = None) -> float:
    """Share of the question's content stems found in the sentence (or in `also`); names and numbers weigh more,
    and, given `idf`, rare words more than common ones."""
    q = tu.content_stems(question)
    if not q:
        return 0.0
    keys = key_stems(question)
    s = set(tu.content_stems(sentence)) | set(also)
    weights = [(name_weight if t in keys else 1.0) * (idf.get(t, 1.0) if idf else 1.0) for t in q]
    return sum(w for t, w in zip(q, weights) if t in s) / (sum(weights) or 1.0)


@dataclass
class Candidate:
    source: Source
    text: str
    start: int
    end: int
    context: str
    context_start: int
    rank: int
    feats: dict[str, float] = field(default_factory=dict)
    score: float = 0.0

    def evidence(self, n: int) -> Evidence:
        return Evidence(n, self.source, self.text, self.start, self.end, round(self.score, 4), self.context,
                        self.context_start)


@dataclass(frozen=True)
class InMain:
    """The language most documents are in, and how to put sentences of other documents into it:
    `translate(texts, source_language)` gives each text in `language` ("" where it cannot). MiniLM, the offline
    embedder, is an English model: between two Italian texts its similarity follows shared word pieces more than
    meaning, so an Italian sentence about something else outscored the English sentence that answers an Italian
    question (on the development half, 10 of the 16 Italian questions whose answer was not ranked first). Every
    sentence is therefore scored by its wording in the main language, against the question in that language."""

    language: str
    translate: Callable[[list[str], str], list[str]]


def candidates(sources: list[Source], policy: GroundingPolicy) -> list[Candidate]:
    out: list[Candidate] = []
    seen: set[str] = set()
    for rank, src in enumerate(sources):
        prev, prev_start = "", -1
        for sent, s, e in tu.sentences(src.text, offset=src.start):
            if tu.is_question(sent):
                # a question states nothing ("Which VPN client do we use?" in an FAQ): never evidence, but the
                # context of the sentence that answers it, which may then be short ("We use WireGuard.")
                prev, prev_start = sent, s
                continue
            short = len(sent.split()) < (policy.min_answer_words if tu.is_question(prev) else policy.min_evidence_words)
            if short or tu.is_injection(sent):
                continue  # fragments and instructions hidden in documents are never evidence
            key = tu.fold(sent)
            if key not in seen:  # overlapping chunks repeat sentences: keep the first (best-ranked) copy
                seen.add(key)
                out.append(Candidate(src, sent, s, e, prev, prev_start, rank))
            prev, prev_start = sent, s
    return out


def _soft(question_words: list[str], sentence_words: list[str], own_words: set[str], vec: dict[str, np.ndarray],
          idf: dict[str, float] | None = None) -> tuple[float, float, float]:
    """Over the question's words, each word's best word-vector similarity to a word of the sentence (1 for the
    same stem): (mean, min) over the sentence's own words, and the mean over all of `sentence_words` (the
    sentence with its context). One similarity matrix serves all three."""
    if not question_words or not sentence_words:
        return 0.0, 0.0, 0.0
    q = np.stack([vec[w] for w in question_words])
    s = np.stack([vec[w] for w in sentence_words])
    exact = np.array([[tu.stem(a) == tu.stem(b) for b in sentence_words] for a in question_words], dtype=np.float32)
    sims = np.maximum(q @ s.T, exact)
    w = np.array([(idf or {}).get(tu.stem(x), 1.0) for x in question_words])
    every = sims.max(axis=1).clip(0, 1)
    mine = np.array([x in own_words for x in sentence_words])
    if not mine.any():
        return 0.0, 0.0, float((every * w).sum() / w.sum())
    best = sims[:, mine].max(axis=1).clip(0, 1)
    return float((best * w).sum() / w.sum()), float(best.min()), float((every * w).sum() / w.sum())


def features(question: str, cands: list[Candidate], checker: SupportChecker, policy: GroundingPolicy, lang: str,
             ref: DocRef | None = None, own_question: str = "", ask: Ask | None = None,
             pool: list[Candidate] | None = None) -> None:
    """Fill `feats` of every candidate (see the module docstring; `rank` scores them once all are in). `question` is what is searched for (a
    follow-up carries words of the conversation); `own_question`, the user's own words, decides what kind of
    thing is asked and which numbers it names (a name from the last answer is not "new" in this one); `ask`, what it
    asks for when the sentences are in another language (`ask_in`: the unit asked for in theirs). `pool`: the
    sentences whose words say how rare each word is (default: `cands`), when `cands` are only some of them."""
    if not cands:
        return
    p = policy
    ref = ref or DocRef()
    q_for_words = ref.remainder or question
    asked = own_question or question
    ask = ask or ask_of(asked)
    keys = key_stems(q_for_words)
    q_nums = required_numbers(asked)
    qv = checker.vectors([question])[0]
    svs = checker.vectors([c.text for c in cands], keep=True)  # the documents' own text: kept on disk too
    wvs = checker.vectors([f"{c.context} {c.text}".strip() for c in cands], keep=True)
    q_words = [w for w in tu.content_words(q_for_words)]
    all_words = set(q_words)
    sent_words = []
    for c in cands:
        ws = tu.content_words(f"{c.context} {c.text}")
        sent_words.append(ws)
        all_words.update(ws)
    words = sorted(all_words)
    # how rare each stem is among the candidate sentences: a word in every sentence tells none apart
    df: dict[str, int] = {}
    pool = pool or cands
    for c in pool:
        for t in set(tu.content_stems(f"{c.context} {c.text}")):
            df[t] = df.get(t, 0) + 1
    idf = {t: math.log(1 + len(pool) / (1 + n)) for t, n in df.items()}
    doc_words = sorted(all_words - set(q_words))
    own = sorted(set(q_words))  # the question's words are not kept on disk (only the documents' text is)
    vec = dict(zip(doc_words, checker.vectors(doc_words, keep=True))) if doc_words else {}
    vec.update(zip(own, checker.vectors(own)) if own else [])
    for c, sv, wv, sw in zip(cands, svs, wvs, sent_words):
        meta = ref.meta_stems.get(c.source.doc_id, frozenset())
        have = set(tu.content_stems(f"{c.context} {c.text}")) | meta
        soft, weakest, soft_ctx = _soft([w for w in q_words if tu.stem(w) not in meta], sw, set(tu.content_words(c.text)),
                                        vec, idf)
        c.feats = {
            "cos": max(float(np.dot(qv, sv)), 0.0),
            "window": max(float(np.dot(qv, wv)), 0.0),
            "lexical": lexical_coverage(q_for_words, c.text, p.name_weight, meta, idf),
            "lexical_ctx": lexical_coverage(q_for_words, f"{c.context} {c.text}", p.name_weight, meta, idf),
            "soft_ctx": soft_ctx,
            "soft": soft,
            "weakest": weakest,
            "names": (sum(1 for k in keys if k in have) / len(keys)) if keys else 1.0,
            "typed": (1.0 if prefers(c.text, asked, ask) else 0.5) if not ask.kind
            else (1.0 if holds(c.text, asked, ask) else 0.0),
            "numbers": (sum(1 for v in q_nums if v in tu.numbers(f"{c.context} {c.text} {c.source.title}")) / len(q_nums))
            if q_nums else 1.0,
            "rank": 1.0 / (1 + c.rank),
            "doc": 0.5 if not ref.docs else (1.0 if c.source.doc_id in ref.docs else 0.0),
            "lang": 1.0 if c.source.language == lang else 0.0,
        }


def evidence_score(feats: dict[str, float], policy: GroundingPolicy) -> float:
    """The policy's logistic model: the probability that a sentence with these features holds the answer."""
    z = policy.rank_bias + sum(getattr(policy, f"rank_w_{k}") * v for k, v in feats.items())
    return 1.0 / (1.0 + math.exp(-z))


def rank(question: str, sources: list[Source], checker: SupportChecker, policy: GroundingPolicy, lang: str,
         ref: DocRef | None = None, own_question: str = "", gloss: str = "", gloss_ref: DocRef | None = None,
         own_gloss: str = "", own_gloss_ref: DocRef | None = None, ask: Ask | None = None,
         in_main: InMain | None = None) -> list[Candidate]:
    """Every candidate sentence, scored, best first. `gloss`, the question translated into the language of
    the sentences not in `lang`, scores those sentences too: each of their features is the better of the
    question's and the translation's (names and cognates match as asked, the rest by the translation), and
    `ask` (question.ask_in) says what is asked for in their language. Given `in_main`, a sentence in another
    language than the main one is scored by its translation into it, against the question in it (the
    question as asked when it is in that language, else `gloss`).

    A follow-up searches with words carried from the conversation (`question`) but asks for something new
    (`own_question`, the user's own words, and `own_gloss`, their translation): each wording feature is then a
    mix of the two, weighted by the policy, so the sentence that answered the last turn, which holds every
    carried word, does not win the next one on those words alone. Own words too few to tell sentences apart
    ("why?", "quando?") are not mixed in: they would only lower every score."""
    ref = ref or DocRef()
    cands = candidates(sources, policy)
    _score_features(question, cands, checker, policy, lang, ref, own_question, gloss, gloss_ref, ask, in_main)
    if mixes_own_words(question, own_question, policy):
        carried = {id(c): c.feats for c in cands}
        own_ref = DocRef(ref.docs, strip_doc_words(own_question) or own_question, ref.meta_stems,
                         ref.by_person_or_language)
        _score_features(own_question, cands, checker, policy, lang, own_ref, own_question, own_gloss, own_gloss_ref, ask,
                        in_main)
        a = policy.follow_up_own_weight
        for c in cands:
            was = carried[id(c)]
            c.feats = {k: a * v + (1 - a) * was[k] if k in _TRANSLATED else was[k] for k, v in c.feats.items()}
    for c in cands:
        c.score = evidence_score(c.feats, policy)
    return sorted(cands, key=lambda c: -c.score)


def mixes_own_words(question: str, own_question: str, policy: GroundingPolicy) -> bool:
    """A follow-up (`question` carries words of the conversation that `own_question`, the user's own words, does
    not) whose own words count apart: they are mixed into its evidence score and search beside it."""
    return (bool(own_question) and tu.fold(own_question) != tu.fold(question) and policy.follow_up_own_weight > 0
            and len(tu.content_stems(own_question)) >= policy.follow_up_min_own_words)


def _score_features(question: str, cands: list[Candidate], checker: SupportChecker, policy: GroundingPolicy,
                    lang: str, ref: DocRef, own_question: str, gloss: str, gloss_ref: DocRef | None,
                    ask: Ask | None = None, in_main: InMain | None = None) -> None:
    """`features` of every candidate for this wording of the question, and, for the sentences in another
    language, the better of each feature by the question and by its translation `gloss` (and the kind asked
    for by `ask`, which names the unit asked for in their language too). Then, given `in_main`, the wording
    features of each sentence not in the main language are those of its translation into it, against the
    question in it."""
    features(question, cands, checker, policy, lang, ref, own_question)
    # the documents named are the question's; the words left, the translation's
    g_ref = DocRef(ref.docs, (gloss_ref.remainder if gloss_ref else "") or gloss, ref.meta_stems,
                   ref.by_person_or_language) if gloss else None
    other = [c for c in cands if c.source.language != lang]
    if gloss and other:
        asked = dict((id(c), c.feats) for c in other)
        features(gloss, other, checker, policy, lang, g_ref, own_question or question, ask)
        for c in other:  # "typed" too: the translation names the unit asked for in the sentence's language
            c.feats = {k: max(v, asked[id(c)][k]) if k in _TRANSLATED or k == "typed" else asked[id(c)][k]
                       for k, v in c.feats.items()}
    if in_main and in_main.language:
        q_main, m_ref = (question, ref) if lang == in_main.language else (gloss, g_ref)
        if q_main:
            _score_in_main(q_main, m_ref, cands, checker, policy, lang, own_question or question, ask, in_main)


def _score_in_main(question: str, ref: DocRef | None, cands: list[Candidate], checker: SupportChecker,
                   policy: GroundingPolicy, lang: str, asked: str, ask: Ask | None, in_main: InMain) -> None:
    """The wording features of each sentence not in the main language, taken from its translation (with its
    context's) against `question`, the question in the main language. A sentence left untranslated keeps its
    own. The document and the retrieval rank are the sentence's own; the kind asked for, found in either."""
    by_lang: dict[str, list[Candidate]] = {}
    for c in cands:
        if c.source.language != in_main.language:
            by_lang.setdefault(c.source.language, []).append(c)
    for src_lang, group in by_lang.items():
        said = in_main.translate([c.text for c in group] + [c.context for c in group if c.context], src_lang)
        said_ctx = iter(said[len(group):])
        pairs = [(c, t, next(said_ctx) if c.context else "") for c, t in zip(group, said[:len(group)])]
        pairs = [(c, t, x) for c, t, x in pairs if t]
        if not pairs:
            continue
        copies = [Candidate(c.source, t, c.start, c.end, x, c.context_start, c.rank) for c, t, x in pairs]
        # how rare a word is, read over every sentence in the main language: these and the ones written in it
        features(question, copies, checker, policy, lang, ref, asked, ask,
                 pool=copies + [c for c in cands if c.source.language == in_main.language])
        for (c, _, x), k in zip(pairs, copies):
            # a context that did not translate: the features that read it stay the sentence's own
            keep = _CONTEXT_FEATURES if c.context and not x else frozenset()
            c.feats = {f: v if f in keep else k.feats[f] if f in _TRANSLATED else max(v, k.feats[f]) if f == "typed"
                       else v for f, v in c.feats.items()}


# the features a translation of the question can improve, and that a follow-up's own words mix into (not the rank,
# the document or language; the kind asked for is taken from the user's own words, and for sentences in another
# language also by the unit in theirs, see _score_features)
_TRANSLATED = frozenset({"cos", "window", "lexical", "soft", "weakest", "names", "numbers", "lexical_ctx", "soft_ctx"})
_CONTEXT_FEATURES = frozenset({"window", "lexical_ctx", "soft_ctx"})  # the features that read the sentence before


def select(ranked: list[Candidate], policy: GroundingPolicy, k: int | None = None) -> list[Evidence]:
    """The best k ranked candidates as Evidence numbered 1..k (only those close to the best)."""
    k = k or policy.evidence_k
    if not ranked:
        return []
    best = ranked[0].score
    picked = [c for c in ranked if c.score >= best - policy.evidence_margin][:k]
    return [c.evidence(i + 1) for i, c in enumerate(picked)]
