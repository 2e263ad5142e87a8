"""The fast retrieval path gives llama-index's results, sees changes made by another engine, and its BM25
cache on disk is only used for the exact chunks it was built from (a damaged entry is rebuilt, silently)."""
from __future__ import annotations

import json

import pytest

from _fixtures_core import D0, THREADS_Q

QUERIES = [THREADS_Q, "Llama 3.1 405B open weights", "the and of", "zzqx unknownword", "GPT-4o price per token"]


# ---- same results as the llama-index pieces it replaces (no models needed) ------------------------
CORPUS = [
    "Threads crossed 10 million users in seven hours after launch.",
    "Meta released Llama 3.1 with 405B parameters and open weights.",
    "Llama 3 was trained on fifteen trillion tokens.",
    "GPT-4o costs more per token than Llama 3.1 according to Zuckerberg.",
    "The codename of the Twitter alternative was P92.",
    "Users cross-posted from Instagram to Threads in the first week.",
    "Open weights let anyone fine-tune the model on their own hardware.",
    "Seven hours is the fastest any app reached ten million users.",
] * 2


def test_bm25_index_ranks_like_llama_index_bm25_retriever():
    from llama_index.core.schema import QueryBundle, TextNode
    from llama_index.retrievers.bm25 import BM25Retriever

    from index.bm25_cache import TOKEN_PATTERN, BM25Index

    nodes = [TextNode(id_=f"c{i}", text=t) for i, t in enumerate(CORPUS)]
    ref = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=5, language="en", token_pattern=TOKEN_PATTERN)
    ours = BM25Index.build(CORPUS)
    for q in QUERIES + ["3.1", "Llama 3", "P92"]:
        want = [(n.node.node_id, n.score) for n in ref.retrieve(QueryBundle(q))]
        got = [(f"c{i}", s) for i, s in ours.top(q, 5)]
        assert [c for c, _ in got] == [c for c, _ in want], q
        assert [s for _, s in got] == pytest.approx([s for _, s in want]), q


def test_fusion_is_llama_index_reciprocal_rank_fusion():
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
    from llama_index.core.schema import NodeWithScore, TextNode

    from app.retrieval import _rrf

    legs = [
        [("a", 0.9), ("b", 0.8), ("c", 0.8), ("d", 0.1), ("e", 0.05)],  # ties keep their order
        [("c", 12.0), ("f", 9.0), ("a", 9.0), ("g", 1.0), ("b", 0.0)],
    ]
    nodes = {cid: TextNode(id_=cid, text=f"text {cid}") for leg in legs for cid, _ in leg}

    class Fixed(BaseRetriever):
        def __init__(self, leg):
            super().__init__()
            self.leg = leg

        def _retrieve(self, query_bundle):
            return [NodeWithScore(node=nodes[c], score=s) for c, s in self.leg]

    for k in (3, 7, 20):
        fusion = QueryFusionRetriever([Fixed(leg) for leg in legs], llm=MockLLM(), mode="reciprocal_rerank",
                                      num_queries=1, use_async=False, similarity_top_k=k)
        want = [(n.node.node_id, n.score) for n in fusion.retrieve("q")]
        assert _rrf(legs)[:k] == want


# ---- the real index --------------------------------------------------------------------------------
pytest_slow = pytest.mark.slow


def _retriever(settings, embedder):
    from app.retrieval import HybridRetriever
    from index.store import ChromaStore

    return HybridRetriever(settings, embedder, ChromaStore(settings))


def _ranked(r) -> dict[str, list[str]]:
    return {f"{m}:{q}": [s.chunk_id for s in r.search(q, mode=m)] for q in QUERIES for m in ("bm25", "hybrid")}


@pytest_slow
def test_another_engines_edit_shows_in_the_next_search(fresh_settings, monkeypatch):
    """A running retriever (the chat server) sees a file re-ingested by another engine, also when the new
    version has as many chunks as the old one, and a restarted one does not take the old BM25 cache."""
    import app.retrieval as retrieval
    from app.engine import Engine
    from index.bm25_cache import entries

    eng = Engine(fresh_settings)
    assert eng.ingest().embedded > 0
    # trust the file signature at once: the edit must be noticed through it, not by a timed re-check
    monkeypatch.setattr(retrieval, "SETTLED_S", 0.0)
    reader = _retriever(fresh_settings, eng.embedder)
    assert any("seven hours" in s.text for s in reader.search(THREADS_Q))
    n_chunks = reader.n_chunks
    assert not [s for s in reader.search("quixotically", mode="bm25") if "quixotically" in s.text]

    f0 = fresh_settings.docs_path / D0
    text = f0.read_text("utf-8")
    assert "arguably" in text
    f0.write_text(text.replace("arguably", "quixotically", 1), "utf-8")
    writer = Engine(fresh_settings)
    assert writer.ingest().embedded > 0

    for r in (reader, _retriever(fresh_settings, eng.embedder)):  # the running one and a restarted one
        hits = r.search("quixotically", mode="bm25")
        assert "quixotically" in hits[0].text and hits[0].doc_id == D0
        assert r.n_chunks == n_chunks  # same number of chunks: a count of the collection could not tell
        assert any("quixotically" in s.text for s in r.search("quixotically hype Threads"))
        assert not any("arguably" in s.text and s.doc_id == D0 for s in r.search("arguably hype", k=10))
    assert len(list(entries(fresh_settings.data_dir / "bm25"))) == 1  # the old entry is gone


@pytest_slow
@pytest.mark.parametrize("damage", ["bytes", "truncate", "delete", "manifest"])
def test_damaged_bm25_cache_is_rebuilt_without_a_word(fresh_settings, damage, caplog):
    from app.engine import Engine
    from index.bm25_cache import MANIFEST, entries

    eng = Engine(fresh_settings)
    assert eng.ingest().embedded > 0
    first = _retriever(fresh_settings, eng.embedder)
    want = _ranked(first)

    again = _retriever(fresh_settings, eng.embedder)
    assert _ranked(again) == want and again.bm25_cached  # a restart takes the index from the disk

    (entry,) = entries(fresh_settings.data_dir / "bm25")
    data = entry / "data.csc.index.npy"
    if damage == "bytes":  # same size, other content
        raw = bytearray(data.read_bytes())
        raw[-8:] = b"\x7f" * 8
        data.write_bytes(bytes(raw))
    elif damage == "truncate":
        data.write_bytes(data.read_bytes()[:40])
    elif damage == "delete":
        data.unlink()
    else:
        (entry / MANIFEST).write_text("{not json", "utf-8")

    with caplog.at_level("WARNING"):
        rebuilt = _retriever(fresh_settings, eng.embedder)
        assert _ranked(rebuilt) == want and not rebuilt.bm25_cached
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    manifest = json.loads((entry / MANIFEST).read_text("utf-8"))  # written again, under the same key
    assert manifest["key"] == entry.name
    final = _retriever(fresh_settings, eng.embedder)
    assert _ranked(final) == want and final.bm25_cached
