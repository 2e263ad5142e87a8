"""Ingestion: files -> clean -> chunk -> embed -> store, streamed in batches, idempotent by content hash.

Each file succeeds or fails alone: a missing path, an unreadable file or a failed embedding is one line in the
report and the run goes on. A document's chunks go through embedding and storing EMBED_BATCH at a time (memory
stays flat however long the document), while the next batch is embedded (in a worker thread; the model's own
threads do the work) the previous one is written. A new version counts only when all of its chunks are stored
(index/documents.py), and old versions are dropped only after that: a crash never loses what was indexed.
"""
from __future__ import annotations

import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from app.errors import CiteqaError, DocumentError, InputError
from index import language
from index.catalog import FIELDS, catalog_warnings, load_catalog
from index.chunking import Chunk, chunk_spans, make_splitter, split_at
from index.clean import byline, kept_spans, title_guess
from index.documents import DocInfo, save_text
from index.embedders import Embedder, make_embedder
from index.loaders import LoadedFile, find_files, load_file
from index.store import Build, ChromaStore, Fingerprint

if TYPE_CHECKING:
    from app.config import Settings

EMBED_BATCH = 256  # chunks embedded and stored together (well under Chroma's maximum batch of 5461)
LANGUAGE_SAMPLE = 200_000  # characters of kept text the language is detected from
Progress = Callable[[int, int, str], None]  # (files done, files, "name: phase")


@dataclass
class FileResult:
    doc_id: str
    path: str
    status: str  # added | updated | unchanged | failed | pruned
    chunks: int = 0
    embedded: int = 0
    language: str = ""
    title: str = ""
    error: str = ""
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (reason, line) for --explain
    warnings: list[str] = field(default_factory=list)  # e.g. invalid bytes replaced, PDF pages without text
    refused: bool = False  # failed for what the file is (binary, empty, its name): trying again will not help


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    embed_seconds: float = 0.0
    rebuilt: bool = False

    @property
    def embedded(self) -> int:
        return sum(f.embedded for f in self.files)

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for f in self.files:
            out[f.status] += 1
        return dict(out)


_META_KEYS = ["doc_id", "title", "author", "language", "doc_hash", "n_chunks", "chunk_index", "start", "end", "path",
              "kind", "ingested_at", "page", "pages"]


@dataclass
class _Doc:
    """One file on its way through: what its batches share."""

    file: LoadedFile
    result: FileResult
    old: DocInfo | None
    chunks: list[Chunk]
    meta: dict
    say: Callable[[str], None]
    written: int = 0
    failed: bool = False

    def node(self, c: Chunk) -> TextNode:
        f = self.file
        meta = self.meta | {"chunk_index": c.index, "start": c.start, "end": c.end}
        if f.page_starts:
            meta["page"] = f.page_at(c.start)
        return TextNode(
            id_=f"{f.doc_id}#{f.sha256[:12]}#{c.index:05d}", text=c.text, start_char_idx=c.start, end_char_idx=c.end,
            metadata=meta,
            # llama-index writes the source document's id as `doc_id` into the store: make it ours
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f.doc_id)},
            excluded_embed_metadata_keys=_META_KEYS,
        )


@dataclass
class _Batch:
    doc: _Doc
    nodes: list[TextNode]
    last: bool


class Ingestor:
    def __init__(self, settings: "Settings", embedder: Embedder | None = None, store: ChromaStore | None = None):
        self.settings = settings
        self.embedder = embedder or make_embedder(settings)
        self.store = store or ChromaStore(settings)
        self.fp = Fingerprint.from_settings(settings, self.embedder.id)
        self.splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)

    def prepare(self, f: LoadedFile, catalog: dict[str, dict[str, str]], say: Callable[[str], None] = lambda _: None
                ) -> tuple[list[Chunk], dict, FileResult]:
        """Clean and chunk one file: (chunks, metadata shared by its chunks, its result row)."""
        say("clean")
        spans, dropped = kept_spans(f.text, f.content_lines)
        say("chunk")
        chunks = chunk_spans(f.text, split_at(spans, f.page_starts[1:]), self.splitter)
        if not chunks:
            raise DocumentError(f"{f.path}: nothing left to index after removing page boilerplate")
        entry = catalog.get(f.doc_id, {})
        sample, n = [], 0
        for c in chunks:
            if n >= LANGUAGE_SAMPLE:
                break
            sample.append(c.text)
            n += len(c.text) + 1
        lang = entry.get("language") or language.detect(" ".join(sample))
        title = entry.get("title") or f.title or title_guess(f.text)
        meta = {"doc_id": f.doc_id, "title": title, "author": entry.get("author") or byline(f.text), "language": lang,
                "doc_hash": f.sha256, "n_chunks": len(chunks), "path": str(f.path.resolve()), "kind": f.kind,
                "ingested_at": time.time()}
        if f.page_starts:
            meta["pages"] = len(f.page_starts)
        res = FileResult(f.doc_id, str(f.path), "added", len(chunks), 0, lang, title,
                         dropped=[(d.reason, d.text.strip()) for d in dropped], warnings=list(f.warnings))
        return chunks, meta, res

    def _batches(self, files: list[Path], existing: dict[str, DocInfo], report: IngestReport,
                 progress: Progress | None, replace: bool = False,
                 indexed: dict[str, DocInfo] | None = None) -> Iterator[_Batch]:
        """`indexed`: the documents indexed before this run, by id (`existing` unless rebuilding)."""
        indexed = existing if indexed is None else indexed
        catalogs: dict[Path, dict] = {}
        for i, path in enumerate(files):
            def say(phase: str, i=i, name=path.name) -> None:
                if progress:
                    progress(i, len(files), f"{name}: {phase}")

            try:
                say("read")
                f = load_file(path)
                notes: list[str] = []
                if path.parent not in catalogs:
                    catalogs[path.parent] = load_catalog(path.parent)
                    notes = catalog_warnings(path.parent, catalogs[path.parent])  # told once, with its first file
                old = existing.get(f.doc_id)
                _same_name(path, f, indexed.get(f.doc_id), replace)
                entry = catalogs[path.parent].get(f.doc_id, {})
                if old and old.hash == f.sha256 and all(not entry.get(k) or entry[k] == getattr(old, k) for k in FIELDS):
                    # (an edited catalog entry re-indexes its document, with the new title, author or language)
                    report.files.append(FileResult(f.doc_id, str(path), "unchanged", old.chunks, 0, old.language,
                                                   old.title, warnings=notes))
                    continue
                chunks, meta, res = self.prepare(f, catalogs[path.parent], say)
                res.warnings += notes
            except CiteqaError as e:
                report.files.append(FileResult(path.name, str(path), "failed", error=str(e),
                                               refused=isinstance(e, InputError)))
                continue
            except Exception as e:  # noqa: BLE001 - one odd file (a parser bug) must not stop the others
                report.files.append(FileResult(path.name, str(path), "failed",
                                               error=f"{path}: unexpected {type(e).__name__}: {str(e)[:200]}"))
                continue
            report.files.append(res)  # in file order; its status is settled when its last batch is stored
            doc = _Doc(f, res, old, chunks, meta, say)
            for b in range(0, len(chunks), EMBED_BATCH):
                part = chunks[b: b + EMBED_BATCH]
                yield _Batch(doc, [doc.node(c) for c in part], b + EMBED_BATCH >= len(chunks))

    def run(self, paths: list[Path], prune: bool = False, rebuild: bool = False,
            progress: Progress | None = None, replace: bool = False) -> IngestReport:
        """Index `paths`. Document ids are file names: a file named like a document indexed from another file that
        still exists is refused (nothing indexed is lost) unless `replace` (two files of one name in one run
        are refused by `find_files`, always)."""
        t0 = time.perf_counter()
        report = IngestReport(rebuilt=rebuild)
        files, report.skipped, missing = find_files(paths)
        report.files += [FileResult(p.name, str(p), "failed", error=msg) for p, msg in missing]
        build = self.store.build(self.fp, rebuild)
        indexed = None
        if rebuild:
            existing: dict[str, DocInfo] = {}
            indexed = self.store.documents()
            known = {f.resolve() for f in files}
            # keep every document whose file is still there: indexed again first, so that a file of the same name
            # given now replaces it only with `replace` (else it is refused), and only once indexed whole
            files[:0] = [p for p in (Path(i.path) for i in indexed.values() if i.path)
                         if p.exists() and p.resolve() not in known]
        else:
            existing = build.documents()
        pending: tuple[_Batch, Future] | None = None
        with ThreadPoolExecutor(1, thread_name_prefix="citeqa-embed") as pool:
            for batch in self._batches(files, existing, report, progress, replace, indexed):
                doc = batch.doc
                if doc.failed:
                    continue
                try:
                    self.embedder.load()
                except CiteqaError as e:
                    self._fail(doc, e, build)
                    continue
                doc.say(f"embed {doc.written + len(batch.nodes)}/{len(doc.chunks)} chunks")
                job = pool.submit(_timed, self.embedder.embed_documents, [n.get_content() for n in batch.nodes])
                if pending:
                    self._write(*pending, build, report)
                pending = (batch, job)
            if pending:
                self._write(*pending, build, report)
        if prune and not rebuild:
            seen = {f.doc_id for f in report.files if f.status != "failed"}  # found in this run, wherever it was
            for info in existing.values():
                if info.path and not Path(info.path).exists() and info.doc_id not in seen:
                    build.drop_document(info.doc_id)
                    report.files.append(FileResult(info.doc_id, info.path, "pruned", info.chunks))
        build.finish()
        if progress:
            progress(len(files), len(files), "")
        report.seconds = time.perf_counter() - t0
        return report

    def _write(self, batch: _Batch, job: Future, build: Build, report: IngestReport) -> None:
        """Store one embedded batch; after a document's last batch, drop its other versions."""
        doc = batch.doc
        try:
            vectors, seconds = job.result()
            if doc.failed:
                return
            report.embed_seconds += seconds
            for n, v in zip(batch.nodes, vectors):
                n.embedding = list(v)
            if doc.written == 0:
                save_text(self.settings, doc.file.sha256, doc.file.text)
            doc.say(f"store {doc.written + len(batch.nodes)}/{len(doc.chunks)} chunks")
            build.write(batch.nodes)
            doc.written += len(batch.nodes)
            if batch.last:
                build.drop_other_versions(doc.file.doc_id, doc.file.sha256)
                doc.result.status = "updated" if doc.old else "added"
                doc.result.embedded = doc.written
        except CiteqaError as e:
            self._fail(doc, e, build)

    @staticmethod
    def _fail(doc: _Doc, e: CiteqaError, build: Build) -> None:
        doc.failed = True
        doc.result.status, doc.result.error, doc.result.chunks, doc.result.embedded = "failed", str(e), 0, 0
        if doc.written:
            try:  # the half-written version is ignored anyway; drop it if the store still answers
                build.drop_version(doc.file.doc_id, doc.file.sha256)
            except CiteqaError:
                pass


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _same_name(path: Path, f: LoadedFile, old: DocInfo | None, replace: bool) -> None:
    """Refuse, unless `replace`, a file whose name (its document id) the indexed document's file holds, when that
    file still exists and says something else (a moved or renamed folder updates freely; a copy is unchanged)."""
    if replace or old is None or not old.path or old.hash == f.sha256:
        return
    indexed = Path(old.path)
    if indexed.resolve() != path.resolve() and indexed.exists():
        raise DocumentError(f"{path}: '{f.doc_id}' is already indexed from {indexed}, and document ids are file names: "
                            "rename this file (or index it in that one's place with `citeqa ingest --replace`)")
