"""Ingestion: files -> clean -> chunk -> embed (batched) -> Chroma, idempotent by content hash."""
from __future__ import annotations

import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from app.errors import CiteqaError, DocumentError
from index import language
from index.catalog import load_catalog
from index.chunking import chunk_spans, make_splitter
from index.clean import kept_spans, title_guess
from index.embedders import Embedder, make_embedder
from index.loaders import LoadedFile, find_files, load_file
from index.store import ChromaStore, Fingerprint

if TYPE_CHECKING:
    from app.config import Settings


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


@dataclass
class DocInfo:
    doc_id: str
    title: str
    author: str
    language: str
    chunks: int
    hash: str
    path: str
    kind: str


def doc_table(records: list[dict]) -> dict[str, DocInfo]:
    """The indexed documents: per doc id, its newest complete version (chunk count == n_chunks)."""
    versions: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        m = r["metadata"]
        versions[(m["doc_id"], m["doc_hash"])].append(m)
    best: dict[str, tuple[float, DocInfo]] = {}
    for (doc_id, h), metas in versions.items():
        m = metas[0]
        if len(metas) != int(m.get("n_chunks", -1)):
            continue  # an interrupted write: ignore the partial version
        stamp = float(m.get("ingested_at", 0))
        if doc_id not in best or stamp > best[doc_id][0]:
            best[doc_id] = (stamp, DocInfo(doc_id, m.get("title", ""), m.get("author", ""), m.get("language", ""),
                                           len(metas), h, m.get("path", ""), m.get("kind", "")))
    return {d: info for d, (_, info) in sorted(best.items())}


def text_path(settings: "Settings", sha: str) -> Path:
    return settings.data_dir / "texts" / f"{sha}.txt"


def document_text(settings: "Settings", info: DocInfo) -> str:
    """The whole text a document's offsets refer to (saved at ingest; re-read from the file as fallback)."""
    p = text_path(settings, info.hash)
    if p.exists():
        return p.read_text("utf-8")
    return load_file(Path(info.path)).text


class Ingestor:
    def __init__(self, settings: "Settings", embedder: Embedder | None = None, store: ChromaStore | None = None):
        self.settings = settings
        self.embedder = embedder or make_embedder(settings)
        self.store = store or ChromaStore(settings)
        self.fp = Fingerprint.from_settings(settings, self.embedder.id)
        self.splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)

    def prepare(self, f: LoadedFile, catalog: dict[str, dict[str, str]]) -> tuple[list[TextNode], FileResult]:
        spans, dropped = kept_spans(f.text)
        chunks = chunk_spans(f.text, spans, self.splitter)
        if not chunks:
            raise DocumentError(f"{f.path}: nothing left to index after removing page boilerplate")
        entry = catalog.get(f.doc_id, {})
        kept_text = " ".join(c.text for c in chunks)
        lang = entry.get("language") or language.detect(kept_text)
        title = entry.get("title") or title_guess(f.text)
        author = entry.get("author", "")
        now = time.time()
        nodes = []
        for c in chunks:
            nodes.append(TextNode(
                id_=f"{f.doc_id}#{f.sha256[:12]}#{c.index:05d}",
                text=c.text,
                start_char_idx=c.start,
                end_char_idx=c.end,
                metadata={
                    "doc_id": f.doc_id, "title": title, "author": author, "language": lang,
                    "doc_hash": f.sha256, "n_chunks": len(chunks), "chunk_index": c.index,
                    "start": c.start, "end": c.end, "path": str(f.path.resolve()), "kind": f.kind,
                    "ingested_at": now,
                },
                # llama-index writes the source document's id as `doc_id` into Chroma: make it ours
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f.doc_id)},
                excluded_embed_metadata_keys=["doc_id", "title", "author", "language", "doc_hash", "n_chunks",
                                              "chunk_index", "start", "end", "path", "kind", "ingested_at"],
            ))
        res = FileResult(f.doc_id, str(f.path), "added", len(chunks), 0, lang, title,
                         dropped=[(d.reason, d.text.strip()) for d in dropped])
        return nodes, res

    def run(self, paths: list[Path], prune: bool = False, rebuild: bool = False,
            progress: Callable[[int, int, str], None] | None = None) -> IngestReport:
        t0 = time.perf_counter()
        report = IngestReport(rebuilt=rebuild)
        files, report.skipped = find_files(paths)
        if rebuild:
            col = self.store.create(self.fp, side=True)
            existing: dict[str, DocInfo] = {}
            live = self.store.live()
            if live is not None:  # keep every document whose file is still there
                known = {f.resolve() for f in files}
                for info in doc_table(self.store.records(live, with_text=False)).values():
                    p = Path(info.path)
                    if p.exists() and p.resolve() not in known:
                        files.append(p)
        else:
            col = self.store.check(self.fp) or self.store.create(self.fp)
            existing = doc_table(self.store.records(col, with_text=False))
        catalogs: dict[Path, dict] = {}
        vs = self.store.vector_store(col)
        # two stages: while one file is embedded (in a worker thread; the model's own threads do the work), the
        # previous one is written to Chroma, whose add holds the GIL but leaves the embedding threads running
        pending: _Pending | None = None
        with ThreadPoolExecutor(1, thread_name_prefix="citeqa-embed") as pool:
            for i, path in enumerate(files):
                if progress:
                    progress(i, len(files), path.name)
                try:
                    f = load_file(path)
                    folder = path.parent
                    if folder not in catalogs:
                        catalogs[folder] = load_catalog(folder)
                    old = existing.get(f.doc_id)
                    if old and old.hash == f.sha256:
                        report.files.append(FileResult(f.doc_id, str(path), "unchanged", old.chunks, 0, old.language, old.title))
                        continue
                    nodes, res = self.prepare(f, catalogs[folder])
                    self.embedder.load()
                    job = pool.submit(_timed, self.embedder.embed_documents, [n.get_content() for n in nodes])
                except CiteqaError as e:
                    report.files.append(FileResult(path.name, str(path), "failed", error=str(e)))
                    continue
                report.files.append(res)  # in file order; its status is settled when it is written
                if pending:
                    self._write(pending, vs, col, report)
                pending = _Pending(f, nodes, res, old, job)
            if pending:
                self._write(pending, vs, col, report)
        if prune and not rebuild:
            for info in existing.values():
                if info.path and not Path(info.path).exists():
                    col.delete(where={"doc_id": info.doc_id})
                    report.files.append(FileResult(info.doc_id, info.path, "pruned", info.chunks))
        if rebuild:
            self.store.promote(col)
        elif not (col.metadata or {}).get("citeqa_complete"):
            self.store.mark_complete(col)
        if progress:
            progress(len(files), len(files), "")
        report.seconds = time.perf_counter() - t0
        return report

    def _write(self, p: "_Pending", vs, col, report: IngestReport) -> None:
        """Store one embedded file: new version first, old versions after (a crash in between leaves the old one)."""
        try:
            vectors, seconds = p.job.result()
            report.embed_seconds += seconds
            for n, v in zip(p.nodes, vectors):
                n.embedding = list(v)
            tp = text_path(self.settings, p.file.sha256)
            tp.parent.mkdir(parents=True, exist_ok=True)
            tp.write_text(p.file.text, "utf-8")
            vs.add(p.nodes)
            col.delete(where={"$and": [{"doc_id": p.file.doc_id}, {"doc_hash": {"$ne": p.file.sha256}}]})
            p.result.status = "updated" if p.old else "added"
            p.result.embedded = len(p.nodes)
        except CiteqaError as e:
            p.result.status, p.result.error, p.result.chunks = "failed", str(e), 0


@dataclass
class _Pending:
    file: LoadedFile
    nodes: list[TextNode]
    result: FileResult
    old: DocInfo | None
    job: Future


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def list_documents(settings: "Settings", store: ChromaStore | None = None) -> list[DocInfo]:
    store = store or ChromaStore(settings)
    col = store.live()
    if col is None:
        return []
    return list(doc_table(store.records(col, with_text=False)).values())
