"""Hybrid retrieval: Chroma vectors + BM25 (bm25s), fused by reciprocal rank.

This was llama-index's QueryFusionRetriever over its Chroma vector retriever and its BM25Retriever. The
results are the same (the same calls into Chroma and bm25s, the same fusion arithmetic; checked Source by
Source on the 50 seed questions at 43 and 111k chunks), but at 111k chunks on 2 cores a hybrid search took
~40 ms with the query vector cached, and the wrappers and the staleness check were almost all of it:

- staleness check, 28 ms: two `collection.count()` calls per search (Chroma counts the rows each time). Now
  the store's freshness stamp (a stat() of the embedded database, which reads never change and every write
  does; index/store.py); only after a write is the store asked (collection id, fingerprint, count and, if the count is unchanged, a digest of the chunk ids:
  a file re-ingested by another process with as many chunks as before used to go unnoticed). A Chroma
  server, with nothing local to watch, is asked (id, fingerprint, count) at most every CHECK_INTERVAL_S.
- vector leg, 4.6 ms: llama-index fetched metadata and text of each hit from Chroma and rebuilt a TextNode
  from them; ids and distances alone take 0.8 ms, and the chunks were loaded at refresh anyway.
- BM25 leg, 2.4 ms: BM25Retriever re-creates each hit from a JSON copy of the corpus (building that copy
  took ~7 s of the load); index.bm25_cache.BM25Index calls bm25s directly (1.1 ms) and keeps the index on
  disk between runs (a reload skips the ~20 s build).
- fusion: `_rrf` is llama-index's reciprocal rank fusion on chunk ids instead of NodeWithScore objects.

In hybrid mode the query embedding and the vector search run in a worker thread while BM25 scores in the
calling one (Chroma's Rust core, the embedder and numpy release the GIL): ~2.4 ms in all at 111k chunks.
"""
from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llama_index.core.schema import MetadataMode, TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node

from app.errors import IndexError_
from app.types import Source
from index.documents import DocInfo, doc_table
from index.embedders import Embedder
from index.store import ChromaStore, Fingerprint

if TYPE_CHECKING:
    from app.config import Settings
    from app.sentence_search import SentenceSearch
    from index.bm25_cache import BM25Index

CHECK_INTERVAL_S = 0.5  # a Chroma server (nothing local to watch) is asked at most this often
SETTLED_S = 3.0  # a file written less than this long ago may be written again with the same mtime
RRF_K = 60.0  # llama-index's (and the RRF paper's) constant


def node_to_source(node: TextNode, score: float) -> Source:
    m = node.metadata
    return Source(
        doc_id=m.get("doc_id", ""), title=m.get("title", ""), chunk_id=node.node_id, text=node.get_content(),
        start=int(m.get("start", node.start_char_idx or 0)), end=int(m.get("end", node.end_char_idx or 0)),
        score=float(score or 0.0), language=m.get("language", "en"), author=m.get("author", ""),
        page=int(m["page"]) if m.get("page") else None,
    )


def _ids_digest(ids) -> str:
    h = hashlib.sha256()
    for cid in sorted(ids):
        h.update(cid.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


def _rrf(legs: list[list[tuple[str, float]]]) -> list[tuple[str, float]]:
    """Reciprocal rank fusion exactly as llama-index's QueryFusionRetriever(mode="reciprocal_rerank"): each
    leg sorted by score (stable), 1/(rank + 60) summed per chunk in leg order, then a stable sort."""
    fused: dict[str, float] = {}
    for hits in legs:
        for rank, (cid, _) in enumerate(sorted(hits, key=lambda h: h[1] or 0.0, reverse=True)):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (rank + RRF_K)
    return sorted(fused.items(), key=lambda x: x[1], reverse=True)


class _Nodes(Sequence):
    """The live chunks as llama-index TextNodes, each built on first use: building all of them up front took
    6 s at 100k chunks, and a search needs five."""

    def __init__(self, metas: list[dict], texts: list[str | None]):
        self._metas, self._texts = metas, texts
        self._built: list[TextNode | None] = [None] * len(metas)

    def __len__(self) -> int:
        return len(self._metas)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        node = self._built[i]
        if node is None:
            node = self._built[i] = metadata_dict_to_node(self._metas[i], text=self._texts[i])
        return node


@dataclass(frozen=True)
class _State:
    """Everything one search needs, swapped in as a whole (a search never sees half of a reload)."""

    nodes: _Nodes
    ids: list[str]  # chunk ids, in the order of nodes and of the BM25 index
    pos: dict[str, int]  # chunk id -> its index there
    bm25: "BM25Index"
    docs: dict[str, DocInfo]
    stamp: tuple  # (collection id, fingerprint, number of chunks, digest of their ids)


class HybridRetriever:
    """Owns the in-memory BM25 index and the chunk nodes; reloads when the collection changes."""

    def __init__(self, settings: "Settings", embedder: Embedder, store: ChromaStore):
        self.settings, self.embedder, self.store = settings, embedder, store
        self.fp = Fingerprint.from_settings(settings, embedder.id)
        self._lock = threading.Lock()
        self._state: _State | None = None
        self._sig: tuple | None = None  # the store's freshness stamp as seen before the last full check
        self._settled = False  # ... and written long enough before it to trust an equal signature
        self._checked = 0.0  # time.monotonic() of the last full check
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self.nodes: Sequence[TextNode] = []
        self.load_seconds = 0.0
        self.bm25_cached = False  # whether the last load took the BM25 index from the disk cache

    # ---- staleness -----------------------------------------------------------------------------
    def _file_sig(self) -> tuple | None:
        """The store's cheap freshness stamp; None with a Chroma server (nothing local to watch)."""
        return self.store.stamp()

    def _fresh(self) -> bool:
        """True when the loaded state is certainly (or, with a server, recently checked to be) current."""
        if self._state is None:
            return False
        sig = self._file_sig()
        if sig is None:  # a Chroma server: nothing local to watch
            return time.monotonic() - self._checked < CHECK_INTERVAL_S
        if sig == self._sig:
            return self._settled or time.monotonic() - self._checked < CHECK_INTERVAL_S
        return False

    def _mark_checked(self, sig: tuple | None) -> None:
        self._sig, self._checked = sig, time.monotonic()
        if sig is None:
            self._settled = False
            return
        newest = self.store.stamp_time_ns(sig)
        # the same (size, mtime) after a later write is only possible within one clock tick of the file system
        self._settled = time.time_ns() - newest > SETTLED_S * 1e9

    def _version(self) -> tuple[str, str, int]:
        version = self.store.version(self.fp)
        if version is None:
            raise IndexError_("the index is empty: run `citeqa ingest` (it indexes seeds/ by default) first")
        return version

    # ---- loading -------------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        if not force and self._fresh():
            return
        with self._lock:
            if not force and self._fresh():  # another thread checked while this one waited
                return
            sig = self._file_sig()  # before reading: a write from now on changes it
            version = self._version()
            st = self._state
            if not force and st is not None and st.stamp[:3] == version:
                # The sqlite file changed: compare the chunk ids too, as a changed file can keep its number of
                # chunks (0.6 s at 100k chunks, only after a write). A server is checked on a timer instead,
                # and fetching every id each time would cost a second: there the count decides, as it did.
                if sig is None or _ids_digest(self.store.ids()) == st.stamp[3]:
                    self._mark_checked(sig)
                    return
            self._load(version)
            self._mark_checked(sig)

    def _load(self, version: tuple[str, str, int]) -> None:
        from index.bm25_cache import load_or_build

        t0 = time.perf_counter()
        chunks = self.store.chunks()
        docs = doc_table(c.metadata for c in chunks)
        live_hashes = {d.doc_id: d.hash for d in docs.values()}
        # a stale or half-written version of a document is not searched
        live = [c for c in chunks if live_hashes.get(c.metadata.get("doc_id")) == c.metadata.get("doc_hash")]
        if not live:
            raise IndexError_("the index holds no complete document: run `citeqa ingest` again")
        nodes = _Nodes([c.metadata for c in live], [c.text for c in live])
        ids = [c.id for c in live]  # the store's id of a chunk is its node id
        # BM25 indexes the chunk text, as llama-index's BM25Retriever did: it took the EMBED-mode content, and
        # ingest excludes every metadata key from that
        texts = [c.text if c.text is not None else nodes[i].get_content(metadata_mode=MetadataMode.EMBED)
                 for i, c in enumerate(live)]
        bm25, self.bm25_cached = load_or_build(self.settings.data_dir / "bm25", ids, texts)
        stamp = (version[0], version[1], len(chunks), _ids_digest(c.id for c in chunks))
        self._state = _State(nodes, ids, {cid: i for i, cid in enumerate(ids)}, bm25, docs, stamp)
        self.nodes = nodes
        self.load_seconds = time.perf_counter() - t0

    @property
    def documents(self) -> dict[str, DocInfo]:
        return self._state.docs if self._state else {}

    @property
    def n_chunks(self) -> int:
        return len(self._state.nodes) if self._state else 0

    # ---- querying ------------------------------------------------------------------------------
    def _vector_hits(self, st: _State, query: str, n: int) -> list[tuple[str, float]]:
        vec = self.embedder.embed_query(query)
        # the similarity llama-index's Chroma store reports
        return [(cid, math.exp(-d)) for cid, d in self.store.nearest(vec, n)]

    def _bm25_hits(self, st: _State, query: str, k: int) -> list[tuple[str, float]]:
        return [(st.ids[i], s) for i, s in st.bm25.top(query, k)]

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="citeqa-vector")
        return self._pool

    def by_sentences(self, finder: SentenceSearch, query_vector, k: int, max_chunks: int) -> list[Source]:
        """The passages holding the sentences most similar to the query (app/sentence_search.py), best first,
        scored 1/(rank + 60) like a chunk leg; none when the index has more than `max_chunks` chunks."""
        st = self._state
        if st is None or len(st.nodes) > max_chunks:
            return []
        found = finder.passages(st.stamp, st.nodes, query_vector, k)
        return [node_to_source(st.nodes[i], 1.0 / (rank + RRF_K)) for rank, i in enumerate(found)]

    def search(self, query: str, k: int | None = None, mode: str = "hybrid") -> list[Source]:
        """Top-k Sources for `query`; mode is hybrid, vector or bm25."""
        if mode not in ("hybrid", "vector", "bm25"):
            raise KeyError(mode)
        self.refresh()
        st = self._state
        k = max(1, min(k or self.settings.top_k, len(st.nodes)))  # BM25 cannot return more than it holds
        if mode == "vector":
            hits = self._vector_hits(st, query, k + 4)  # a few spare: stale versions are dropped below
        elif mode == "bm25":
            hits = self._bm25_hits(st, query, k)
        else:
            vec = self._executor().submit(self._vector_hits, st, query, k + 4)
            bm = self._bm25_hits(st, query, k)
            hits = _rrf([vec.result(), bm])[:k]
        pos = st.pos
        return [node_to_source(st.nodes[pos[cid]], score) for cid, score in hits if cid in pos][:k]
