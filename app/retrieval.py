"""Hybrid retrieval: Chroma vectors + BM25, fused by reciprocal rank (llama-index QueryFusionRetriever)."""
from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from llama_index.core import VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.schema import QueryBundle, TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node

from app.errors import IndexError_
from app.types import Source
from index.embedders import Embedder
from index.ingest import DocInfo, doc_table
from index.store import ChromaStore, Fingerprint

if TYPE_CHECKING:
    from app.config import Settings

logging.getLogger("bm25s").setLevel(logging.WARNING)


def node_to_source(node: TextNode, score: float) -> Source:
    m = node.metadata
    return Source(
        doc_id=m.get("doc_id", ""), title=m.get("title", ""), chunk_id=node.node_id, text=node.get_content(),
        start=int(m.get("start", node.start_char_idx or 0)), end=int(m.get("end", node.end_char_idx or 0)),
        score=float(score or 0.0), language=m.get("language", "en"), author=m.get("author", ""),
    )


class HybridRetriever:
    """Owns the in-memory BM25 index and the fused retriever; reloads when the collection changes."""

    def __init__(self, settings: "Settings", embedder: Embedder, store: ChromaStore):
        self.settings, self.embedder, self.store = settings, embedder, store
        self.fp = Fingerprint.from_settings(settings, embedder.id)
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._docs: dict[str, DocInfo] = {}
        self._n_chunks = 0
        self._vector = None
        self._bm25 = None
        self._live_ids: set[str] = set()
        self.nodes: list = []
        self.load_seconds = 0.0

    # ---- loading -------------------------------------------------------------------------------
    def _collection(self):
        col = self.store.check(self.fp)
        if col is None or col.count() == 0:
            raise IndexError_("the index is empty: run `citeqa ingest` (it indexes seeds/ by default) first")
        return col

    def refresh(self, force: bool = False) -> None:
        with self._lock:
            col = self._collection()
            stamp = (col.id, col.count(), (col.metadata or {}).get("citeqa_fingerprint"))
            if not force and stamp == self._stamp:
                return
            t0 = time.perf_counter()
            records = self.store.records(col, with_text=True)
            self._docs = doc_table(records)
            live_hashes = {d.doc_id: d.hash for d in self._docs.values()}
            nodes = []
            for r in records:
                m = r["metadata"]
                if live_hashes.get(m.get("doc_id")) != m.get("doc_hash"):
                    continue  # a stale or half-written version
                nodes.append(metadata_dict_to_node(m, text=r["text"]))
            self._live_ids = {n.node_id for n in nodes}
            self.nodes = nodes
            self._n_chunks = len(nodes)
            k = self.settings.top_k
            from llama_index.retrievers.bm25 import BM25Retriever

            # keep version numbers whole ("3.1", "4o") and single digits ("Llama 3"): the default pattern drops them
            self._bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=k, language="en",
                                                     token_pattern=r"(?u)\b\w+(?:\.\d+)*\b")
            index = VectorStoreIndex.from_vector_store(self.store.vector_store(col), embed_model=self.embedder.as_llama_index())
            self._vector = index.as_retriever(similarity_top_k=k + 4)
            self._fusion = QueryFusionRetriever(
                [self._vector, self._bm25], llm=MockLLM(), mode="reciprocal_rerank", num_queries=1,
                use_async=False, similarity_top_k=k,
            )
            self._stamp = stamp
            self.load_seconds = time.perf_counter() - t0

    @property
    def documents(self) -> dict[str, DocInfo]:
        return self._docs

    @property
    def n_chunks(self) -> int:
        return self._n_chunks

    # ---- querying ------------------------------------------------------------------------------
    def _bundle(self, query: str) -> QueryBundle:
        return QueryBundle(query_str=query, embedding=self.embedder.embed_query(query))

    def _to_sources(self, results, k: int) -> list[Source]:
        out = [node_to_source(r.node, r.score) for r in results if r.node.node_id in self._live_ids]
        return out[:k]

    def search(self, query: str, k: int | None = None, mode: str = "hybrid") -> list[Source]:
        """Top-k Sources for `query`; mode is hybrid, vector or bm25."""
        self.refresh()
        k = max(1, min(k or self.settings.top_k, self._n_chunks))  # BM25 refuses k > number of chunks
        retriever = {"hybrid": self._fusion, "vector": self._vector, "bm25": self._bm25}[mode]
        for r in (self._fusion, self._vector, self._bm25):
            r.similarity_top_k = k + (4 if r is self._vector else 0)
        return self._to_sources(retriever.retrieve(self._bundle(query)), k)
