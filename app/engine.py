"""The answering engine: one object per process that the CLI, the chat app, evaluation and tests share.

question -> (condense) -> hybrid retrieval -> evidence sentences -> refuse, or prompt the model ->
check every streamed sentence against its cited passage -> Answer with checked citations.
"""
from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from app import __version__
from app.config import Settings
from app.conversation import conversation_language
from app.errors import IndexError_, IndexMismatchError, InputError
from app.grounding import text as tu
from app.grounding.assembly import SentenceAssembler
from app.grounding.checking import SupportChecker
from app.grounding.citations import CitationBook, check_sentence, render
from app.grounding.answerability import refusal_reason
from app.grounding.answers import answer_span, answers
from app.grounding.documents import DocProfile, DocRef, resolve, strip_doc_words, translation_of
from app.grounding.evidence import InMain, mixes_own_words, rank, select
from app.grounding.fallback import best_answering, names_missing, quote_fallback
from app.grounding.metadata import cited_span, statement
from app.grounding.policy import GroundingPolicy
from app.grounding.question import RECORDED, Ask, ask_in, asks_translation, beyond_metadata, metadata_field
from app.llm import LLMBackend, Message, make_backend
from app.prompts import localized, prompts_hash, template
from app.retrieval import HybridRetriever
from app.translation import Translations, Translator, select_translator
from app.sanitize import strip_controls
from app.sentence_search import SentenceSearch
from app.types import Answer, CheckedSentence, Evidence, Source, Timings
from index import language
from index.embedders import Embedder, make_embedder
from index.documents import DocInfo, document_text
from index.ingest import IngestReport, Ingestor
from index.store import ChromaStore
from index.vector_cache import FILE_NAME as VECTORS_FILE, VectorCache

_FINISHED = re.compile(r"[.!?…»”\"')\]]\s*$")


@dataclass
class Event:
    """One step of a streamed answer. kind: retrieved | token | sentence | answer."""

    kind: str
    data: Any


@dataclass
class _Catalog:
    """What the engine derives from one document table."""

    docs: dict  # the table it was derived from (identity tells when it is stale)
    profiles: dict[str, DocProfile]
    names: frozenset  # names in titles and authors (entity keys)
    untranslated: frozenset  # their capitalised words as written, kept untranslated in questions
    main_language: str  # the language most documents are in ("" for none)
    common: dict | None = field(default=None, compare=False)  # doc id -> the names most documents mention that it does
    foreign_names: frozenset | None = field(default=None, compare=False)  # kept untranslated in their sentences
    # how the documents write their names (lower-cased word -> its form), every word of theirs in lower case, and
    # the words they write in lower case (Engine.names_as_written)
    names_written: tuple[dict, frozenset, frozenset] | None = field(default=None, compare=False)


class Engine:
    def __init__(self, settings: Settings | None = None, backend: LLMBackend | None = None,
                 embedder: Embedder | None = None, translator: Translator | None = None):
        self.settings = settings or Settings()
        self.embedder = embedder or make_embedder(self.settings)
        self.store = ChromaStore(self.settings)
        self.retriever = HybridRetriever(self.settings, self.embedder, self.store)
        self.policy = GroundingPolicy.from_settings(self.settings)
        space = getattr(self.embedder, "id", "")
        self.checker = SupportChecker(self.embedder, self.policy,
                                      VectorCache(self.settings.data_dir / VECTORS_FILE, space) if space else None)
        self._sentences = SentenceSearch(lambda texts: self.checker.vectors(texts, keep=True), self.policy.min_evidence_words)
        self.translator = translator or select_translator(self.settings.translator)
        self._translations = Translations(self.translator, self.policy.vector_cache_size)
        self._backend = backend
        self._backend_why = "given" if backend else ""
        self._catalog_cache: _Catalog | None = None
        self._lock = threading.Lock()

    # ---- parts -------------------------------------------------------------------------------
    @property
    def backend(self) -> LLMBackend:
        if self._backend is None:
            with self._lock:
                if self._backend is None:
                    self._backend, self._backend_why = make_backend(self.settings)
        return self._backend

    @property
    def backend_reason(self) -> str:
        """How the backend was chosen ("" until it is), e.g. "Ollama not reachable at ...: using the embedded ..."."""
        return self._backend_why

    def describe(self) -> dict[str, Any]:
        b = self.backend
        fp = self.store.fingerprint()
        return {
            "backend": b.name, "model": b.model, "backend_reason": self._backend_why,
            "embedder": self.embedder.id, "index_fingerprint": fp.short if fp else None,
            "prompts_hash": prompts_hash(), "policy_hash": self.policy.digest(), "policy": self.policy.to_dict(),
            "version": __version__,
            "documents": len(self.retriever.documents), "chunks": self.retriever.n_chunks,
        }

    def warm_up(self) -> None:
        """Load the index, embedder and model now, so the first question is fast."""
        self.retriever.refresh()
        _ = self.backend
        if self.retriever.n_chunks <= self.policy.warm_sentence_limit:
            # small index: embed every evidence sentence, with its context, and every word of them now
            texts = [n.get_content() for n in self.retriever.nodes]
            sents = [t for x in texts for t, _, _ in tu.sentences(x) if len(t.split()) >= self.policy.min_evidence_words]
            self.checker.vectors(sents + [f"{a} {b}" for a, b in zip(sents, sents[1:])], keep=True)
            self.checker.vectors(sorted({w for x in texts for w in tu.content_words(x)}), keep=True)
            if self.policy.sentence_passages:  # the sentence leg, built now
                self.retriever.by_sentences(self._sentences, self.checker.vectors(["warm up"])[0], 1,
                                            self.policy.warm_sentence_limit)
            # the sentences of documents in another language than the main one, translated into it now: they
            # are scored by their translation (grounding/evidence.InMain)
            main = self.in_main()
            for lang, sents in self._foreign_sentences(main.language).items():
                main.translate(sents, lang)
        else:
            self.checker.vectors(["warm up"])
        self.unrequired_names()  # which names most documents mention, read now rather than on the first question
        self.names_as_written("warm up")  # and how the documents write their names

    # ---- index -------------------------------------------------------------------------------
    def ingest(self, paths: list[Path] | None = None, prune: bool = False, rebuild: bool = False,
               progress: Callable[[int, int, str], None] | None = None, replace: bool = False) -> IngestReport:
        report = Ingestor(self.settings, self.embedder, self.store).run(paths or [self.settings.docs_path], prune, rebuild,
                                                                         progress, replace)
        if rebuild and self.checker.disk:
            self.checker.disk.clear()  # a rebuild starts the vectors over too (an embedder pulled again may differ)
            self.checker.clear_cache()
        if self.store.exists():
            self.retriever.refresh(force=True)
        return report

    def documents(self) -> list[DocInfo]:
        """The document table: the retriever's once it has loaded the index (no store read when it is current),
        else the store's (chunk metadata only)."""
        if self.retriever.n_chunks:
            try:
                self.retriever.refresh()
                return list(self.retriever.documents.values())
            except IndexMismatchError:
                raise
            except IndexError_:
                return []
        return list(self.store.documents().values())

    def document_text(self, doc_id: str) -> str:
        for d in self.documents():
            if d.doc_id == doc_id:
                return document_text(self.settings, d)
        raise InputError(f"no indexed document '{doc_id}' (see `citeqa docs`)")

    def search(self, query: str, k: int | None = None, mode: str = "hybrid") -> list[Source]:
        return self.retriever.search(self.validate(query), k, mode)

    # ---- answering ---------------------------------------------------------------------------
    def validate(self, question: str) -> str:
        q = strip_controls(question).strip()
        if not any(c.isalnum() for c in q):  # "", "   ?", "..." : nothing to search for
            raise InputError("the question is empty: type a question about the documents")
        if len(q) > self.settings.max_question_chars:
            raise InputError(
                f"the question is {len(q):,} characters long; the limit is {self.settings.max_question_chars:,} "
                f"(shorten it, or raise CITEQA_MAX_QUESTION_CHARS)"
            )
        return " ".join(q.split())

    def condense(self, question: str, history: list[tuple[str, str]]) -> str:
        from app.conversation import condense

        return condense(question, history)

    def ask(self, question: str, history: list[tuple[str, str]] | None = None, *, top_k: int | None = None,
            temperature: float | None = None, max_tokens: int | None = None) -> Answer:
        answer = None
        for ev in self.ask_stream(question, history, top_k=top_k, temperature=temperature, max_tokens=max_tokens):
            if ev.kind == "answer":
                answer = ev.data
        assert answer is not None
        return answer

    # ---- the steps of one answer ---------------------------------------------------------------
    def _profiles(self) -> dict[str, DocProfile]:
        return self._catalog().profiles

    def names_as_written(self, question: str) -> str:
        """The question with its names written as the documents write them: the words it writes in lower case (or
        all in capitals) that the documents write as names (text.truecase), and a name no document holds that is
        one slip from one they write (text.respell). What the evidence must be about does not depend on the
        user's shift key or a typo."""
        if not question:
            return question
        self.retriever.refresh()  # first: the catalog is derived from the table it loads
        nodes = self.retriever.nodes
        cat = self._catalog()
        p = self.policy
        names = cat.names_written
        if names is None:
            texts = [n.get_content() for n in nodes]
            counts = tu.casing_counts(texts, p.heading_min_words, p.heading_case_share)
            every, lower = tu.vocabulary([*texts, *(f"{i.title} {i.author} {d}" for d, i in cat.docs.items())])
            # set whole, once: a request reading it meanwhile sees none of it or all of it
            names = cat.names_written = (tu.name_forms(counts, p.name_case_min, p.name_case_share), every, lower)
        forms, every, lower = names
        return tu.respell(tu.truecase(question, forms, lower), forms, every, p.respell_min_len, p.respell_long_len,
                          self.embedder.known_words())

    def unrequired_names(self, doc_ids=()) -> frozenset:
        """Names a question may use that its evidence's passage need not hold: the documents' titles' and authors'
        (a question may point at a document by them), and the names that at least `policy.common_name_share` of
        the documents (two or more) mention, the corpus's own subject ("Debian" and its running example "Falcot" in
        the Debian handbook), when the evidence's documents (`doc_ids`) mention them too. A name that few
        documents mention still has to be in the passage: a near miss about another product ("Gemini") is refused
        by it."""
        cat = self._catalog()
        if cat.common is None:
            per_doc: dict[str, set[str]] = {}
            for n in self.retriever.nodes:
                per_doc.setdefault(n.metadata.get("doc_id", ""), set()).update(tu.entities(n.get_content()))
            counts: dict[str, int] = {}
            for names in per_doc.values():
                for k in names:
                    counts[k] = counts.get(k, 0) + 1
            need = max(2, math.ceil(len(per_doc) * self.policy.common_name_share))
            common = frozenset(k for k, c in counts.items() if c >= need)
            cat.common = {d: frozenset(names & common) for d, names in per_doc.items()}
        return cat.names.union(*(cat.common.get(d, frozenset()) for d in doc_ids))

    def _catalog(self) -> "_Catalog":
        """What the document table says, computed once per loaded table (the retriever swaps the whole table on
        a reload), not once per question."""
        docs = self.retriever.documents
        cached = self._catalog_cache
        if cached is None or cached.docs is not docs:
            langs = [i.language or "en" for i in docs.values()]
            main = max(sorted(set(langs)), key=langs.count) if langs else ""
            names = frozenset().union(*(tu.entities(f"{i.title} {i.author}") for i in docs.values()))
            # the capitalised words of titles and authors, as written: kept untranslated in questions
            function_words = language.function_words()
            untranslated = frozenset(w.lower() for i in docs.values() for w in tu.tokens(f"{i.title} {i.author}")
                                     if w[:1].isupper() and w.lower() not in function_words)
            # a title in another language than most documents' is also matched in theirs ("the translated version
            # of 'The Biggest Winner from Threads'" names "Il più grande vincitore di Threads (traduzione italiana)")
            by_lang: dict[str, list[str]] = {}
            for d, i in docs.items():
                if (i.language or "en") != main and i.title:
                    by_lang.setdefault(i.language or "en", []).append(d)
            translated = {}
            for lang, ids in by_lang.items():
                translated.update(zip(ids, self.translator.translate_many([docs[d].title for d in ids], lang, main,
                                                                          untranslated)))
            profiles = {d: DocProfile(d, i.title, i.author, i.language, translated.get(d, "")) for d, i in docs.items()}
            cached = self._catalog_cache = _Catalog(docs, profiles, names, untranslated, main)
        return cached

    def _candidates(self, query: str, ref: DocRef, n: int, by_sentences: bool = True) -> list[Source]:
        """Passages whose sentences are scored; a named document's passages are always among them.
        `by_sentences`: the sentence leg adds the passages holding the sentences nearest the query."""
        sources = self.retriever.search(query, n)
        if ref.docs and not any(s.doc_id in ref.docs for s in sources):
            wider = self.retriever.search(query, max(n * 4, 40))
            sources += [s for s in wider if s.doc_id in ref.docs][: max(2, n // 2)]
        if by_sentences and self.policy.sentence_passages and self.retriever.n_chunks <= self.policy.warm_sentence_limit:
            # after the retrieved passages; only for indexes whose every sentence is embedded at start (a larger
            # index does not embed the query for it; by_sentences checks the size again on its own snapshot)
            have = {x.chunk_id for x in sources}
            qv = self.checker.vectors([query])[0]
            sources += [x for x in self.retriever.by_sentences(self._sentences, qv, self.policy.sentence_passages,
                                                               self.policy.warm_sentence_limit)
                        if x.chunk_id not in have]
        return sources

    def _doc_chunks(self, doc_id: str) -> list[Source]:
        from app.retrieval import node_to_source

        return [node_to_source(n, 0.0) for n in self.retriever.nodes if n.metadata.get("doc_id") == doc_id]

    def translation(self, question: str, lang: str) -> str:
        """The question in the language most of the documents are in, when it is asked in another ("" when
        they are in its language, or no translator can take it there)."""
        cat = self._catalog()
        if not cat.main_language or cat.main_language == lang:
            return ""
        return self.translator.translate(question, lang, cat.main_language, cat.untranslated)

    def in_main(self) -> InMain:
        """How sentences of documents in another language than most documents' are put into that one, to be
        scored by meaning (grounding/evidence.InMain); each sentence is translated once, then kept."""
        cat = self._catalog()
        if cat.foreign_names is None:
            # the names those documents write (capitalised inside a sentence), kept untranslated like the titles'
            # ("Meta si è scontrata" is not "Goal it is clashed")
            words = {w.lower() for sents in self._foreign_sentences(cat.main_language).values() for sent in sents
                     for w in tu.tokens(sent)[1:] if w[:1].isupper()}
            cat.foreign_names = cat.untranslated | frozenset(words)
        names = cat.foreign_names
        return InMain(cat.main_language,
                      lambda texts, src: self._translations(texts, src, cat.main_language, names))

    def _foreign_sentences(self, main: str) -> dict[str, list[str]]:
        """The sentences of the indexed documents in another language than `main`, by language."""
        out: dict[str, list[str]] = {}
        for n in self.retriever.nodes:
            lang = n.metadata.get("language") or ""
            if main and lang and lang != main:
                out.setdefault(lang, []).extend(t for t, _, _ in tu.sentences(n.get_content()))
        return out

    def asked(self, question: str, lang: str) -> Ask:
        """What the question asks for, the unit asked for also in the documents' language (`ask_in`; `translation`
        gives "" when the question is already in it, and that adds nothing)."""
        return ask_in(question, lambda word: self.translation(word, lang))

    def gather(self, search_q: str, lang: str, top_k: int, own_question: str = "") -> tuple[DocRef, list[Source], list]:
        """The evidence step, shared by answering and calibration: which documents the question names, the
        candidate passages, and their sentences ranked by evidence score."""
        self.retriever.refresh()
        profiles = self._profiles()

        def named(q: str) -> DocRef | None:
            return resolve(q, profiles, self.policy.doc_phrase_after_words) if q else None

        ref = named(search_q)
        n = max(self.policy.candidate_chunks, top_k)
        gloss = self.translation(search_q, lang)
        # a follow-up's own words (translated on their own too) say what is asked now, the words carried from
        # the conversation what it is about; its own words also search, so that a question taken for a
        # follow-up by mistake still finds its own passages
        follow_up = mixes_own_words(search_q, own_question, self.policy)
        own_gloss = self.translation(own_question, lang) if gloss and follow_up else ""
        # the question in the documents' language finds and scores their sentences by meaning
        queries = (search_q, gloss, own_question if follow_up else "", own_gloss)
        # the sentence leg searches a follow-up's own words only: the words carried from the conversation find
        # their passages through hybrid retrieval already (on the development conversations the same answers,
        # retrieval 91 -> 74 ms per follow-up)
        legs = (not follow_up, not follow_up, True, True)
        pool = _interleave(*(self._candidates(strip_doc_words(q) or q, ref, n, by_sentences=leg)
                             for q, leg in zip(queries, legs) if q))
        ranked = rank(search_q, pool, self.checker, self.policy, lang, ref, own_question,
                      gloss=gloss, gloss_ref=named(gloss), own_gloss=own_gloss, own_gloss_ref=named(own_gloss),
                      ask=self.asked(own_question or search_q, lang) if gloss else None, in_main=self.in_main())
        if ref.docs:
            # the question names a document: the evidence is that document's, when it has any nearly as good, or
            # any at all when named by its author or language ("according to the Italian article")
            named = [c for c in ranked if c.source.doc_id in ref.docs]
            if named and (ref.by_person_or_language or named[0].score >= ranked[0].score - self.policy.evidence_margin):
                ranked = named
        return ref, pool, ranked

    def ask_stream(self, question: str, history: list[tuple[str, str]] | None = None, *, top_k: int | None = None,
                   temperature: float | None = None, max_tokens: int | None = None) -> Iterator[Event]:
        s, p = self.settings, self.policy
        top_k = top_k or s.top_k
        temperature = s.temperature if temperature is None else temperature
        max_tokens = max_tokens or s.max_tokens
        t0 = time.perf_counter()
        question = self.validate(question)
        lang = conversation_language(question, history)
        # instructions are not what is asked: those hidden to subvert the answer, and those on its form
        clean_q = self.names_as_written(" ".join(sent for sent, _, _ in tu.sentences(question)
                                                 if not (tu.is_injection(sent) or tu.is_how_to_answer(sent))).strip())
        search_q = self.condense(clean_q, [(self.names_as_written(q), a) for q, a in history]) if (history and clean_q) else clean_q
        timings = Timings()

        ref = DocRef(remainder=search_q)
        ranked: list = []
        sources: list[Source] = []
        if search_q:
            ref, pool, ranked = self.gather(search_q, lang, top_k, clean_q)
            sources = pool[:top_k]
            timings.retrieve_ms = (time.perf_counter() - t0) * 1000
            yield Event("retrieved", {"sources": sources, "searched_for": search_q})
        else:
            yield Event("retrieved", {"sources": [], "searched_for": search_q})
        best = ranked[0].score if ranked else 0.0
        tp = time.perf_counter()

        def finish(answer_text: str, refused: bool, sentences: list[CheckedSentence], book: CitationBook | None,
                   draft: str = "", reason: str = "") -> Answer:
            timings.total_ms = (time.perf_counter() - t0) * 1000
            if timings.generate_ms and timings.tokens:
                timings.tokens_per_s = timings.tokens / (timings.generate_ms / 1000)
            backend = self.backend
            shown = list(sources)
            for c in (book.citations if book else []):
                if not any(x.chunk_id == c.chunk_id for x in shown):
                    shown += [x for x in pool_all if x.chunk_id == c.chunk_id][:1]
            return Answer(question=question, answer=answer_text, refused=refused,
                          citations=book.citations if book else [], sources=shown, backend=backend.name,
                          model=backend.model, language=lang, timings=timings, sentences=sentences, draft=draft,
                          searched_for=search_q, refusal_reason=reason, answerability=round(best, 4))

        pool_all = [c.source for c in ranked]

        def refuse(why: str) -> Iterator[Event]:
            text = localized("refusal", lang).format(topic=_topic(clean_q, lang))
            if sources:
                text += " " + localized("closest", lang)
            timings.ttft_ms = (time.perf_counter() - t0) * 1000
            yield Event("token", text)
            yield Event("answer", finish(text, True, [CheckedSentence(text, [], 0.0, False, "refusal")], None, reason=why))

        # a question about a document itself: answered from its metadata, citing its own text
        field = metadata_field(clean_q) if search_q else ""
        if field and field not in RECORDED:
            yield from refuse(f"the catalog does not record a document's {field}")
            return
        if field:
            profiles = self._profiles()
            # the document meant: named by its author or language, else the one the question is about (the best
            # evidence's), preferring one its words name ("Threads' biggest beneficiary in the title of the piece":
            # the Threads article's); title words alone do not decide, they may be what is asked for
            named = sorted(ref.docs) if ref.by_person_or_language else []
            # "who wrote it?" alone, with no conversation, names no document: the documents don't say which
            about = tu.content_stems(strip_doc_words(beyond_metadata(search_q)))
            top = list(dict.fromkeys(c.source.doc_id for c in ranked[:p.metadata_doc_passages])) if about else []
            # named by title words but not among the best evidence: still the named one, unless the title is what
            # is asked (then its words may be the answer, not the document's name)
            top = [d for d in top if d in ref.docs] or (sorted(ref.docs) if ref.docs and field != "title" else top)
            # of the documents the question is about, the first that has the field (a translation may have no byline)
            docs = named or [d for d in top if d in profiles and getattr(profiles[d], field, "x")][:1] or top[:1]
            doc = profiles.get(docs[0]) if docs else None
            direction = asks_translation(clean_q) if doc is not None else ""
            if direction:
                # "into which language was it translated?": its translation's language, cited from the translation;
                # "translated from which language?": the original's
                doc = translation_of(doc, profiles, self._catalog().main_language, direction, p.same_claim_share)
                if doc is None:
                    yield from refuse("no document is a translation of the one asked about")
                    return
            ev = cited_span(field, doc, self._doc_chunks(doc.doc_id)) if doc else None
            if doc is None or ev is None:
                yield from refuse(f"the documents do not give the {field}" if doc else "no document matches")
                return
            best = 1.0
            book = CitationBook([ev])
            text = statement(field, doc, lang, localized(f"meta_{field}", lang))
            sent = CheckedSentence(text, [book.cite(ev, True, 1.0)], 1.0, True, "metadata")
            timings.ttft_ms = (time.perf_counter() - t0) * 1000
            yield Event("sentence", sent)
            yield Event("answer", finish(render([sent]), False, [sent], book))
            return

        # the gates look at the user's own words: names carried from the conversation are context, not demands
        prompt_ev = select(ranked, p)
        known = self.unrequired_names({e.source.doc_id for e in prompt_ev})
        why = refusal_reason(clean_q, ranked, p, known) if search_q else ""
        if not search_q or why:
            yield from refuse("the question only contained instructions" if not clean_q else why)
            return

        messages = self.build_messages(clean_q if not history else search_q, prompt_ev, lang)
        timings.prompt_ms += (time.perf_counter() - tp) * 1000

        book = CitationBook(prompt_ev)
        rests_on: set[int] = set()  # the evidence numbers the kept sentences cite
        kept: list[CheckedSentence] = []
        dropped: list[CheckedSentence] = []
        assembler = SentenceAssembler()
        draft = ""
        tg = time.perf_counter()
        first = None

        def handle(raw: str) -> CheckedSentence | None:
            tc = time.perf_counter()
            verdict, chosen = check_sentence(raw, prompt_ev, clean_q, lang, self.checker, p)
            timings.check_ms += (time.perf_counter() - tc) * 1000
            if not verdict.supported or any(tu.fold(verdict.text) == tu.fold(k.text) for k in kept):
                if verdict.supported:
                    verdict.supported, verdict.dropped_reason = False, "repeats an earlier sentence"
                dropped.append(verdict)
                return None
            verdict.cited = [book.cite(e, True, sc, ctx) for e, sc, ctx in chosen]
            rests_on.update(e.n for e, _, _ in chosen)
            kept.append(verdict)
            return verdict

        # a kept sentence is shown (a "sentence" event) only once the answer is sure to stand: some kept sentence
        # holds what was asked and one rests on the best evidence that does. Both only grow as sentences come,
        # so once true it stays true; until then they wait, and if it never is, they are never shown (the quoted
        # evidence or a refusal replaces them): no client sees a sentence, or a citation number, taken back
        decided: dict[str, Any] = {}  # what is asked and the best evidence that answers: read once, when first needed
        shown = 0

        def asked() -> Ask:
            if "ask" not in decided:
                decided["ask"] = self.asked(clean_q, lang)
            return decided["ask"]

        def answered() -> bool:
            return any(answers(k.text, clean_q, p, ask=asked()) for k in kept)

        def stands() -> bool:
            if "best" not in decided:
                decided["best"] = best_answering(prompt_ev, lang, p, clean_q, asked(), known)
            best = decided["best"]
            return best is not None and best.n in rests_on and answered()

        def ready() -> Iterator[Event]:
            nonlocal shown
            if kept[shown:] and stands():
                for k in kept[shown:]:
                    yield Event("sentence", k)
                shown = len(kept)

        stream = self.backend.stream(messages, max_tokens=max_tokens, temperature=temperature)
        try:
            for piece in stream:
                if first is None:
                    first = time.perf_counter()
                    timings.ttft_ms = (first - t0) * 1000
                timings.tokens += 1
                draft += piece
                yield Event("token", piece)
                for raw in assembler.feed(piece):
                    if handle(raw):
                        yield from ready()
                if len(kept) >= p.max_sentences:
                    break
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()
        timings.generate_ms = (time.perf_counter() - (first or tg)) * 1000
        for raw in assembler.flush():
            if not _FINISHED.search(raw):  # cut off by the token limit: never show half a claim
                dropped.append(CheckedSentence(tu.strip_citations(raw), [], 0.0, False, "model", "cut off unfinished"))
                continue
            if handle(raw):
                yield from ready()
        if not stands():
            # no kept sentence holds what was asked, or none rests on the best evidence that does (the small
            # default model often copies a weaker sentence, and binds it wrongly), or no evidence holds it about
            # the names the question asks about: quote the evidence instead, or refuse
            why = "rests on weaker evidence than the best that answers" if answered() else "does not answer what was asked"
            ask = asked()
            for k in kept:
                k.supported, k.dropped_reason, k.cited = False, why, []
            dropped += kept
            kept = []
            book = CitationBook(prompt_ev)
            for i, ev in enumerate(quote_fallback(prompt_ev, lang, p, clean_q, ask, known)):
                intro = localized("quote" if i == 0 else "quote_more", lang)
                quoted = CheckedSentence(intro.format(quote=ev.text.rstrip()), [], 1.0, True, "quoted")
                quoted.cited = [book.cite(ev, True, 1.0, span=answer_span(ev.text, clean_q, ask))]
                kept.append(quoted)
                yield Event("sentence", quoted)
        if not kept:
            missing = sorted(n for e in prompt_ev[:1] for n in names_missing(e, clean_q, p, known))
            yield from refuse(f"no evidence sentence holds what the question asks for about {', '.join(missing)}"
                              if missing else "no evidence sentence holds what the question asks for")
            return
        answer = finish(render(kept), False, kept + dropped, book, draft)
        yield Event("answer", answer)

    def build_messages(self, question: str, evidence: list[Evidence], lang: str) -> list[Message]:
        sources = "\n".join(f"[{e.n}] {e.text}" for e in evidence)
        user = template("answer").format(sources=sources, question=question, language=language.name(lang))
        messages = [Message("system", template("system"))]
        if self.settings.few_shot:  # one worked example: small models learn the citation format from it
            ex_sources, ex_question, ex_answer = (part.strip() for part in template("example").split("---"))
            messages += [Message("user", template("answer").format(sources=ex_sources, question=ex_question, language="English")),
                         Message("assistant", ex_answer)]
        return messages + [Message("user", user)]


def _interleave(*lists: list[Source]) -> list[Source]:
    """Ranked lists of passages as one, taking each list's next in turn, each passage once."""
    out, seen = [], set()
    for i in range(max((len(x) for x in lists), default=0)):
        for x in lists:
            if i < len(x) and x[i].chunk_id not in seen:
                seen.add(x[i].chunk_id)
                out.append(x[i])
    return out


def _topic(question: str, lang: str) -> str:
    q = tu.strip_citations(question).strip().rstrip("?.!").strip()
    if len(q) > 120:
        q = q[:117].rstrip() + "…"
    return f"“{q}”" if q else ("questo" if lang == "it" else "this")
