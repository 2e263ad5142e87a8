"""Questions that name a document ("in the Italian article", "the post by Taskmaster4450", "the Llama 3.1 piece").

A document's profile is its metadata: title, author, language (in English and in its own language) and file
name. A question names a document when it says a document word (article, post, video, ...) or the name of an
author or a language, and its words match that document's profile better than any other's (weighted by how
rare each word is among the profiles, so "Llama", in every title, names none). The words that matched are
metadata, not content: evidence is not asked to contain them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from app.grounding import text as tu
from index import language

# words that refer to a document rather than to its subject (en, it)
# (not "version", "source", "text": "the next version", "open source" are subjects, not documents)
DOC_WORDS = frozenset({
    "article", "articles", "piece", "post", "blog", "story", "report", "video", "episode", "summary", "write-up",
    "writeup", "translation", "translated", "document", "author", "writer", "essay", "byline",
    "articolo", "articoli", "pezzo", "traduzione", "tradotto", "tradotta", "documento", "autore", "riassunto",
    "episodio", "saggio",
})


@dataclass(frozen=True)
class DocProfile:
    doc_id: str
    title: str
    author: str
    language: str
    title_translated: str = ""  # the title in the language most documents are in, when it is in another

    def words(self) -> set[str]:
        code = self.language or "en"
        names = {language.name(code), language.native_name(code)}
        stem_src = " ".join([self.title, self.title_translated, self.author, *names,
                             self.doc_id.rsplit(".", 1)[0].replace("_", " ")])
        return set(tu.content_stems(stem_src))


@dataclass
class DocRef:
    """What the question says about documents: which it names, and the question without those words."""

    docs: set[str] = field(default_factory=set)  # doc ids named (empty: none)
    remainder: str = ""  # the question without the words that name a document
    meta_stems: dict[str, frozenset] = field(default_factory=dict)  # doc id -> its profile stems
    by_person_or_language: bool = False  # named by an author's or a language's name, not only by title words


def resolve(question: str, profiles: dict[str, DocProfile]) -> DocRef:
    if not profiles:
        return DocRef(remainder=question)
    words = {d: p.words() for d, p in profiles.items()}
    meta = {d: frozenset(w) for d, w in words.items()}
    q_tokens = tu.tokens(question)
    q_stems = [tu.stem(t) for t in q_tokens]
    has_doc_word = any(tu.fold(t) in DOC_WORDS for t in q_tokens)
    n = len(profiles)
    df: dict[str, int] = {}
    for ws in words.values():
        for w in ws:
            df[w] = df.get(w, 0) + 1
    scores = {}
    for d, ws in words.items():
        # only distinctive profile words count (a word in every profile names no document)
        hit = {s for s in q_stems if s in ws and df[s] < n}
        scores[d] = (sum(math.log(n / df[s]) for s in hit), hit)
    best = max(scores.values(), key=lambda x: x[0])[0]
    named_by_person = any(s in tu.content_stems(p.author) for p in profiles.values() if p.author for s in q_stems)
    named_by_lang = any(s in tu.content_stems(f"{language.name(p.language)} {language.native_name(p.language)}")
                        for p in profiles.values() for s in q_stems)
    if best <= 0 or not (has_doc_word or named_by_person or named_by_lang):
        return DocRef(remainder=question, meta_stems={})
    docs = {d for d, (sc, _) in scores.items() if sc >= best - 1e-9}
    used = set().union(*(scores[d][1] for d in docs))
    remainder = " ".join(t for t, s in zip(q_tokens, q_stems)
                         if s not in used and tu.fold(t) not in DOC_WORDS)
    return DocRef(docs=docs, remainder=remainder or question, meta_stems={d: meta[d] for d in docs},
                  by_person_or_language=named_by_person or named_by_lang)


def strip_doc_words(question: str) -> str:
    """The question without document words, for retrieval ("the article says Meta ..." -> "Meta ...")."""
    return re.sub(r"\s+", " ", " ".join(t for t in question.split() if tu.fold(t.strip(",.?!:;'\"")) not in DOC_WORDS)).strip()


def _same_title(doc: DocProfile, profiles: dict[str, DocProfile]) -> DocProfile | None:
    """The document in another language whose title, put into the main language, says what `doc`'s does: the
    one sharing the most content words with it, at least two and at least half of the two titles' words (as two
    versions of one claim share their names, fallback.same_claim)."""
    mine = set(tu.content_stems(doc.title_translated or doc.title))
    best, best_n = None, 1
    for p in profiles.values():
        if p.doc_id == doc.doc_id or p.language == doc.language:
            continue
        theirs = set(tu.content_stems(p.title_translated or p.title))
        shared = len(mine & theirs)
        if shared > best_n and shared >= 0.5 * len(mine | theirs):
            best, best_n = p, shared
    return best


def translation_of(doc: DocProfile, profiles: dict[str, DocProfile], main_language: str,
                   direction: str = "into") -> DocProfile | None:
    """The document whose language answers a question about `doc`'s translation. "into": the translation (`doc`
    itself when it is the one in another language than most documents'); "from": the original (`doc` itself when
    it is in the main language and has a translation). The catalog records each document's language, not which
    is whose translation: the other version is the document in another language whose title says the same
    (`_same_title`). None when the documents hold no such pair."""
    other = _same_title(doc, profiles)
    if other is None:
        return None
    in_main = not (doc.language and main_language and doc.language != main_language)
    if direction == "from":
        return doc if in_main else other
    return other if in_main else doc
