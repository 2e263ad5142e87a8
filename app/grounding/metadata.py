"""Questions about the documents themselves: who wrote it, what its title is, what language it is in.

They are answered from the document's metadata (the catalog, else what ingestion found) and cite the
document's own text: the byline that names the author, or the document's first sentence (its title line).
No author in the metadata or in the text means the documents don't say: a refusal.
"""
from __future__ import annotations

from app.grounding import text as tu
from app.grounding.documents import DocProfile
from app.types import Evidence, Source
from index import language


def statement(field: str, doc: DocProfile, lang: str, template: str) -> str:
    # the language's Italian name is the first of index.language's other names
    lang_name = language.OTHER_NAMES.get(doc.language, (doc.language,))[0] if lang == "it" else language.name(doc.language)
    return template.format(title=doc.title.strip() or doc.doc_id, author=doc.author.strip(), language=lang_name)


def cited_span(field: str, doc: DocProfile, chunks: list[Source]) -> Evidence | None:
    """The sentence of the document that shows the fact: the one naming the author (in full, else by one of the
    name's words, as a bio does: "Mohit writes about ..."), else its first sentence."""
    ordered = sorted((c for c in chunks if c.doc_id == doc.doc_id), key=lambda c: c.start)
    if not ordered:
        return None
    if field == "author":
        if not doc.author.strip():
            return None
        key = tu.fold(doc.author.strip())
        parts = {w for w in doc.author.split() if len(w) >= 3 and w[:1].isupper()}
        named = [(c, sent, s, e) for c in ordered for sent, s, e in tu.sentences(c.text, offset=c.start)]
        for c, sent, s, e in named:
            if key in tu.fold(sent):
                return Evidence(1, c, sent, s, e, 1.0)
        for c, sent, s, e in named:
            if parts & set(tu.tokens(sent)):
                return Evidence(1, c, sent, s, e, 1.0)
    first = ordered[0]
    sents = tu.sentences(first.text, offset=first.start)
    if not sents:
        return None
    sent, s, e = sents[0]
    return Evidence(1, first, sent, s, e, 1.0)
