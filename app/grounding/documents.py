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
from app.grounding.policy import GroundingPolicy
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
        """The profile's naming keys (_key): what a question's words are matched against."""
        return {_key(t) for t in tu.content_words(self._text())}

    def stems(self) -> frozenset[str]:
        """The profile's words as evidence matching sees them (stems, "Llama3" -> "llama"), and its keys."""
        return frozenset(tu.content_stems(self._text())) | self.words()

    def _text(self) -> str:
        code = self.language or "en"
        names = {language.name(code), language.native_name(code)}
        return " ".join([self.title, self.title_translated, self.author, *names,
                         self.doc_id.rsplit(".", 1)[0].replace("_", " ")])


def _key(token: str) -> str:
    """A word as documents are named by it: its stem, but a name written with its number ("Llama3", "Web3")
    whole: a stem keeps five letters, and "Llama3" is not every title's "Llama"."""
    f = tu.fold(token)
    return f if any(c.isdigit() for c in f) and any(c.isalpha() for c in f) else tu.stem(f)


# where a clause ends: the words describing a document stay inside it ("In the Llama3 post, what ...")
_CLAUSE_END = re.compile(r"[,;:?!()\[\]]|\.(?=\s|$)")
# the words after a document word describe it after a preposition: "the article on Meta's AI approach",
# "il post su Llama3", "the piece by Mohit Pandey" (not "the article argues Meta ...")
_PREPOSITIONS = frozenset({
    "on", "about", "by", "from", "of", "in", "regarding", "concerning", "covering",
    "su", "sul", "sullo", "sulla", "sui", "sugli", "sulle", "sull", "di", "del", "dello", "della", "dei",
    "degli", "delle", "dell", "da", "dal", "dallo", "dalla", "dai", "dagli", "dalle", "dall", "riguardo",
})


def _naming_phrase(question: str, after_words: int) -> list[str]:
    """The words that describe a document word's document, within its clause: the modifiers before it ("the
    Threads/LLaMA article", "Mohit Pandey's piece", back to the first function word) and, after a preposition
    right after it, up to `after_words` content words ("the article on Meta's unique AI approach")."""
    sw = tu.stopwords()
    out: list[str] = []
    for clause in _CLAUSE_END.split(question):
        tokens = tu.tokens(clause)
        folded = [tu.fold(t) for t in tokens]
        for i, f in enumerate(folded):
            if f not in DOC_WORDS:
                continue
            j = i - 1
            while j >= 0 and folded[j] not in sw and folded[j] not in DOC_WORDS:
                out.append(tokens[j])
                j -= 1
            j = i + 1
            if j < len(tokens) and folded[j] in _PREPOSITIONS:
                taken = 0
                while j < len(tokens) and taken < after_words and folded[j] not in DOC_WORDS:
                    if folded[j] not in sw and folded[j] not in _PREPOSITIONS:
                        out.append(tokens[j])
                        taken += 1
                    j += 1
    return out


@dataclass
class DocRef:
    """What the question says about documents: which it names, and the question without those words."""

    docs: set[str] = field(default_factory=set)  # doc ids named (empty: none)
    remainder: str = ""  # the question without the words that name a document
    meta_stems: dict[str, frozenset] = field(default_factory=dict)  # doc id -> its profile stems
    by_person_or_language: bool = False  # named by an author's or a language's name, not only by title words


def resolve(question: str, profiles: dict[str, DocProfile], after_words: int | None = None) -> DocRef:
    """`after_words`: GroundingPolicy.doc_phrase_after_words (its default when None)."""
    if after_words is None:
        after_words = GroundingPolicy().doc_phrase_after_words
    if not profiles:
        return DocRef(remainder=question)
    words = {d: p.words() for d, p in profiles.items()}
    q_tokens = tu.tokens(question)
    q_keys = [_key(t) for t in q_tokens]
    has_doc_word = any(tu.fold(t) in DOC_WORDS for t in q_tokens)
    n = len(profiles)
    df: dict[str, int] = {}
    for ws in words.values():
        for w in ws:
            df[w] = df.get(w, 0) + 1

    def score(keys: set[str]) -> dict[str, tuple[float, set[str]]]:
        out = {}
        for d, ws in words.items():
            # only distinctive profile words count (a word in every profile names no document)
            hit = {s for s in keys if s in ws and df[s] < n}
            out[d] = (sum(math.log(n / df[s]) for s in hit), hit)
        return out

    # the words describing a document word's document name it, when they match a profile ("what's Zuckerberg's
    # argument for open source, per the Llama3 post": Llama3, not "open source"); else any word of the question
    scores = score({_key(t) for t in _naming_phrase(question, after_words)})
    if max(sc for sc, _ in scores.values()) <= 0:
        scores = score(set(q_keys))
    best = max(scores.values(), key=lambda x: x[0])[0]
    person_keys = {_key(w) for p in profiles.values() if p.author for w in tu.content_words(p.author)}
    lang_keys = {_key(w) for p in profiles.values()
                 for w in tu.content_words(f"{language.name(p.language)} {language.native_name(p.language)}")}
    named_by_person = any(s in person_keys for s in q_keys)
    named_by_lang = any(s in lang_keys for s in q_keys)
    if best <= 0 or not (has_doc_word or named_by_person or named_by_lang):
        return DocRef(remainder=question, meta_stems={})
    docs = {d for d, (sc, _) in scores.items() if sc >= best - 1e-9}
    used = set().union(*(scores[d][1] for d in docs))
    remainder = " ".join(t for t, k in zip(q_tokens, q_keys) if k not in used and tu.fold(t) not in DOC_WORDS)
    return DocRef(docs=docs, remainder=remainder or question, meta_stems={d: profiles[d].stems() for d in docs},
                  by_person_or_language=named_by_person or named_by_lang)


def strip_doc_words(question: str) -> str:
    """The question without document words, for retrieval ("the article says Meta ..." -> "Meta ...")."""
    return re.sub(r"\s+", " ", " ".join(t for t in question.split() if tu.fold(t.strip(",.?!:;'\"")) not in DOC_WORDS)).strip()


def _same_title(doc: DocProfile, profiles: dict[str, DocProfile],
                share: float = GroundingPolicy.same_claim_share) -> DocProfile | None:
    """The document in another language whose title, put into the main language, says what `doc`'s does: the
    one sharing the most content words with it, at least two and at least `share` of the two titles' words (as
    two versions of one claim share their names, fallback.same_claim)."""
    mine = set(tu.content_stems(doc.title_translated or doc.title))
    best, best_n = None, 1
    for p in profiles.values():
        if p.doc_id == doc.doc_id or p.language == doc.language:
            continue
        theirs = set(tu.content_stems(p.title_translated or p.title))
        shared = len(mine & theirs)
        if shared > best_n and shared >= share * len(mine | theirs):
            best, best_n = p, shared
    return best


def translation_of(doc: DocProfile, profiles: dict[str, DocProfile], main_language: str,
                   direction: str = "into", share: float = GroundingPolicy.same_claim_share) -> DocProfile | None:
    """The document whose language answers a question about `doc`'s translation. "into": the translation (`doc`
    itself when it is the one in another language than most documents'); "from": the original (`doc` itself when
    it is in the main language and has a translation). The catalog records each document's language, not which
    is whose translation: the other version is the document in another language whose title says the same
    (`_same_title`). None when the documents hold no such pair."""
    other = _same_title(doc, profiles, share)
    if other is None:
        return None
    in_main = not (doc.language and main_language and doc.language != main_language)
    if direction == "from":
        return doc if in_main else other
    return other if in_main else doc
