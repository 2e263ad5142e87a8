"""The answering engine: one object per process that the CLI, the chat app, evaluation and tests share.

question -> (condense) -> hybrid retrieval -> evidence sentences -> refuse, or prompt the model ->
check every streamed sentence against its cited passage -> Answer with checked citations.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from app import __version__
from app import textutil as tu
from app.checking import SupportChecker
from app.citations import CitationBook, SentenceAssembler, check_sentence, quote_fallback, render
from app.config import Settings
from app.errors import InputError
from app.evidence import answerability, select
from app.llm import LLMBackend, Message, make_backend
from app.prompts import localized, prompts_hash, template
from app.retrieval import HybridRetriever
from app.types import Answer, CheckedSentence, Evidence, Source, Timings
from index import language
from index.embedders import make_embedder
from index.ingest import DocInfo, IngestReport, Ingestor, document_text
from index.store import ChromaStore

MAX_SENTENCES = 3
_FINISHED = re.compile(r"[.!?…»”\"')\]]\s*$")


@dataclass
class Event:
    """One step of a streamed answer. kind: retrieved | token | sentence | answer."""

    kind: str
    data: Any


class Engine:
    def __init__(self, settings: Settings | None = None, backend: LLMBackend | None = None):
        self.settings = settings or Settings()
        self.embedder = make_embedder(self.settings)
        self.store = ChromaStore(self.settings)
        self.retriever = HybridRetriever(self.settings, self.embedder, self.store)
        self.checker = SupportChecker(self.embedder, self.settings.min_support)
        self._backend = backend
        self._backend_why = "given" if backend else ""
        self._lock = threading.Lock()

    # ---- parts -------------------------------------------------------------------------------
    @property
    def backend(self) -> LLMBackend:
        if self._backend is None:
            with self._lock:
                if self._backend is None:
                    self._backend, self._backend_why = make_backend(self.settings)
        return self._backend

    def describe(self) -> dict[str, Any]:
        b = self.backend
        col = self.store.live()
        fp = self.store.fingerprint_of(col) if col is not None else None
        return {
            "backend": b.name, "model": b.model, "backend_reason": self._backend_why,
            "embedder": self.embedder.id, "index_fingerprint": fp.short if fp else None,
            "prompts_hash": prompts_hash(), "version": __version__,
            "documents": len(self.retriever.documents), "chunks": self.retriever.n_chunks,
        }

    def warm_up(self) -> None:
        """Load the index, embedder and model now, so the first question is fast."""
        self.retriever.refresh()
        _ = self.backend
        if self.retriever.n_chunks <= 2000:  # small index: embed every evidence sentence once, up front
            self.checker.vectors([t for n in self.retriever.nodes for t, _, _ in tu.sentences(n.get_content())
                                  if len(t.split()) >= 4])
        else:
            self.checker.vectors(["warm up"])

    # ---- index -------------------------------------------------------------------------------
    def ingest(self, paths: list[Path] | None = None, prune: bool = False, rebuild: bool = False,
               progress: Callable[[int, int, str], None] | None = None) -> IngestReport:
        report = Ingestor(self.settings, self.embedder, self.store).run(paths or [self.settings.docs_path], prune, rebuild, progress)
        if self.store.live() is not None and self.store.live().count():
            self.retriever.refresh(force=True)
        return report

    def documents(self) -> list[DocInfo]:
        from index.ingest import list_documents

        return list_documents(self.settings, self.store)

    def document_text(self, doc_id: str) -> str:
        for d in self.documents():
            if d.doc_id == doc_id:
                return document_text(self.settings, d)
        raise InputError(f"no indexed document '{doc_id}' (see `citeqa docs`)")

    def search(self, query: str, k: int | None = None, mode: str = "hybrid") -> list[Source]:
        return self.retriever.search(self.validate(query), k, mode)

    # ---- answering ---------------------------------------------------------------------------
    def validate(self, question: str) -> str:
        q = "".join(ch for ch in (question or "") if ch.isprintable() or ch in "\n\t").strip()
        if not q:
            raise InputError("the question is empty: type a question about the documents")
        if len(q) > self.settings.max_question_chars:
            raise InputError(
                f"the question is {len(q):,} characters long; the limit is {self.settings.max_question_chars:,} "
                f"(shorten it, or raise CITEQA_MAX_QUESTION_CHARS)"
            )
        return " ".join(q.split())

    def condense(self, question: str, history: list[tuple[str, str]]) -> str:
        from app.conversation import condense

        return condense(question, history, self)

    def ask(self, question: str, history: list[tuple[str, str]] | None = None, *, top_k: int | None = None,
            temperature: float | None = None, max_tokens: int | None = None) -> Answer:
        answer = None
        for ev in self.ask_stream(question, history, top_k=top_k, temperature=temperature, max_tokens=max_tokens):
            if ev.kind == "answer":
                answer = ev.data
        assert answer is not None
        return answer

    def ask_stream(self, question: str, history: list[tuple[str, str]] | None = None, *, top_k: int | None = None,
                   temperature: float | None = None, max_tokens: int | None = None) -> Iterator[Event]:
        """Per-request options (None = the settings') travel with the request: no engine per option value."""
        s = self.settings
        top_k = s.top_k if top_k is None else top_k
        temperature = s.temperature if temperature is None else temperature
        max_tokens = s.max_tokens if max_tokens is None else max_tokens
        t0 = time.perf_counter()
        question = self.validate(question)
        lang = language.detect(question)
        clean_q = " ".join(sent for sent, _, _ in tu.sentences(question) if not tu.is_injection(sent)).strip()
        search_q = self.condense(clean_q, history) if (history and clean_q) else clean_q
        timings = Timings()

        sources = self.retriever.search(search_q, top_k) if search_q else []
        timings.retrieve_ms = (time.perf_counter() - t0) * 1000
        yield Event("retrieved", {"sources": sources, "searched_for": search_q})

        tp = time.perf_counter()
        evidence = select(search_q, sources, self.checker, s.evidence_k, lang) if search_q else []
        best = evidence[0].score if evidence else 0.0
        _, uncovered = answerability(search_q, sources) if search_q else (0.0, "")
        timings.prompt_ms = (time.perf_counter() - tp) * 1000

        def finish(answer_text: str, refused: bool, sentences: list[CheckedSentence], book: CitationBook | None,
                   draft: str = "", reason: str = "") -> Answer:
            timings.total_ms = (time.perf_counter() - t0) * 1000
            if timings.generate_ms and timings.tokens:
                timings.tokens_per_s = timings.tokens / (timings.generate_ms / 1000)
            backend = self.backend
            return Answer(question=question, answer=answer_text, refused=refused,
                          citations=book.citations if book else [], sources=sources, backend=backend.name,
                          model=backend.model, language=lang, timings=timings, sentences=sentences, draft=draft,
                          searched_for=search_q, refusal_reason=reason)

        if not search_q or best < s.min_evidence or uncovered:
            why = ("the question only contained instructions" if not clean_q else uncovered
                   or f"best evidence {best:.2f} < {s.min_evidence:.2f}")
            text = localized("refusal", lang).format(topic=_topic(clean_q, lang))
            if sources:
                text += " " + localized("closest", lang)
            timings.ttft_ms = (time.perf_counter() - t0) * 1000
            yield Event("token", text)
            yield Event("answer", finish(text, True, [CheckedSentence(text, [], 0.0, False, "refusal")], None, reason=why))
            return

        # only the evidence needed: close to the best, at most evidence_k sentences (short prefill)
        usable = [e for e in evidence if e.score >= max(s.min_evidence * 0.8, best - 0.15)][: s.evidence_k]
        prompt_ev = [Evidence(i + 1, e.source, e.text, e.start, e.end, e.score, e.context, e.context_start)
                     for i, e in enumerate(usable)]
        messages = self.build_messages(clean_q if not history else search_q, prompt_ev, lang)
        timings.prompt_ms = (time.perf_counter() - tp) * 1000

        book = CitationBook(prompt_ev)
        kept: list[CheckedSentence] = []
        dropped: list[CheckedSentence] = []
        assembler = SentenceAssembler()
        draft = ""
        tg = time.perf_counter()
        first = None

        def handle(raw: str) -> CheckedSentence | None:
            tc = time.perf_counter()
            verdict, chosen = check_sentence(raw, prompt_ev, search_q, lang, self.checker,
                                             relevance_margin=s.relevance_margin)
            timings.check_ms += (time.perf_counter() - tc) * 1000
            if not verdict.supported or any(tu.fold(verdict.text) == tu.fold(k.text) for k in kept):
                if verdict.supported:
                    verdict.supported, verdict.dropped_reason = False, "repeats an earlier sentence"
                dropped.append(verdict)
                return None
            verdict.cited = [book.cite(e, True, sc, ctx) for e, sc, ctx in chosen]
            kept.append(verdict)
            return verdict

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
                    v = handle(raw)
                    if v:
                        yield Event("sentence", v)
                if len(kept) >= MAX_SENTENCES:
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
            v = handle(raw)
            if v:
                yield Event("sentence", v)
        if not kept:
            for i, ev in enumerate(quote_fallback(prompt_ev, lang)):
                intro = localized("quote", lang) if i == 0 else "“{quote}”"
                quoted = CheckedSentence(intro.format(quote=ev.text.rstrip()), [], 1.0, True, "quoted")
                quoted.cited = [book.cite(ev, True, 1.0)]
                kept.append(quoted)
                yield Event("sentence", quoted)
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


def _topic(question: str, lang: str) -> str:
    q = question.strip().rstrip("?.!").strip()
    if len(q) > 120:
        q = q[:117].rstrip() + "…"
    return f"“{q}”" if q else ("questo" if lang == "it" else "this")
