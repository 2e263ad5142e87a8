"""Bench tasks, each run in a fresh process by bench.run (so cold starts and peak memory are real).

python -m bench.child TASK 'JSON-ARGS'  -> prints `RESULT {json}` as its last line.
"""
from __future__ import annotations

import json
import sys
import time

T_START = time.perf_counter()

from bench.common import agg, pct, peak_rss_mb, setup_env  # noqa: E402

setup_env()


def _settings(data_dir, docs=None):
    from app.config import load_settings

    kw = {"data_dir": data_dir, "backend": "llamacpp"}
    if docs:
        kw["docs_path"] = docs
    return load_settings(**kw)


# ---- ingestion ---------------------------------------------------------------------------------
def task_ingest(a: dict) -> dict:
    """Ingest a folder into an empty data dir on the real path (MiniLM embeddings), then again (warm)."""
    t0 = time.perf_counter()
    from index.embedders import make_embedder
    from index.ingest import Ingestor
    from index.store import ChromaStore

    s = _settings(a["data_dir"], a["docs"])
    t_import = time.perf_counter() - T_START
    emb = make_embedder(s)
    tl = time.perf_counter()
    emb.embed_documents(["load the model"])
    t_model = time.perf_counter() - tl
    ing = Ingestor(s, emb, ChromaStore(s))
    r = ing.run([s.docs_path])
    cold = {"chunks": r.embedded, "seconds": r.seconds, "embed_seconds": r.embed_seconds,
            "chunks_per_s": r.embedded / r.seconds if r.seconds else None, "failed": len(r.failed)}
    out = {"import_s": t_import, "model_load_s": t_model, "cold": cold,
           "cold_total_s": time.perf_counter() - T_START, "peak_rss_mb": peak_rss_mb()}
    if a.get("warm"):
        tw = time.perf_counter()
        r2 = Ingestor(s, emb, ChromaStore(s)).run([s.docs_path])
        out["warm"] = {"seconds": time.perf_counter() - tw, "embedded": r2.embedded, "unchanged": r2.counts().get("unchanged", 0)}
    return out


def task_ingest_warm(a: dict) -> dict:
    """A fresh process re-ingesting an up-to-date folder: must embed nothing."""
    from index.ingest import Ingestor

    s = _settings(a["data_dir"], a["docs"])
    t0 = time.perf_counter()
    r = Ingestor(s).run([s.docs_path])
    return {"seconds": time.perf_counter() - t0, "total_s": time.perf_counter() - T_START, "embedded": r.embedded,
            "unchanged": r.counts().get("unchanged", 0), "peak_rss_mb": peak_rss_mb()}


def task_build_pooled(a: dict) -> dict:
    """Build a large collection with the real ingest path but pooled vectors (see corpus.pool_embedder)."""
    import numpy as np

    from bench.corpus import pool_embedder
    from index.embedders import make_embedder
    from index.ingest import Ingestor
    from index.store import ChromaStore

    src = _settings(a["pool_data_dir"])
    texts, vectors = ChromaStore(src).sample(a.get("pool_size", 2000))
    real = make_embedder(src)
    emb = pool_embedder(real, texts, np.asarray(vectors, dtype=np.float32))
    s = _settings(a["data_dir"], a["docs"])
    t0 = time.perf_counter()
    r = Ingestor(s, emb, ChromaStore(s)).run([s.docs_path])
    sec = time.perf_counter() - t0
    return {"chunks": r.embedded, "seconds": sec, "chunks_per_s_no_embedding": r.embedded / sec, "pool": len(texts),
            "peak_rss_mb": peak_rss_mb()}


# ---- retrieval ---------------------------------------------------------------------------------
def task_retrieval(a: dict) -> dict:
    from app.engine import Engine

    s = _settings(a["data_dir"])
    eng = Engine(s)
    t0 = time.perf_counter()
    eng.retriever.refresh()
    load_s = time.perf_counter() - t0
    queries = a["queries"]
    eng.embedder.embed_query("warm up")
    for m in ("vector", "bm25", "hybrid"):
        eng.retriever.search("warm up " + m, mode=m)
    out = {"chunks": eng.retriever.n_chunks, "load_s": load_s, "modes": {}}
    for mode in ("vector", "bm25", "hybrid"):
        p50s, p95s, cached = [], [], []
        for rep in range(a["repeats"]):
            _clear_query_cache(eng)
            lat = []
            for q in queries:
                t = time.perf_counter()
                eng.retriever.search(q, mode=mode)
                lat.append((time.perf_counter() - t) * 1000)
            p50s.append(pct(lat, 50))
            p95s.append(pct(lat, 95))
        lat = []
        for q in queries:  # query vectors now cached
            t = time.perf_counter()
            eng.retriever.search(q, mode=mode)
            lat.append((time.perf_counter() - t) * 1000)
        out["modes"][mode] = {"p50_ms": agg(p50s), "p95_ms": agg(p95s), "p50_ms_cached_query": pct(lat, 50)}
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def _clear_query_cache(eng) -> None:
    emb = eng.embedder
    for name in ("clear_cache", "_query_cached"):
        f = getattr(emb, name, None)
        if f is None:
            continue
        if hasattr(f, "cache_clear"):
            f.cache_clear()
        elif callable(f) and name == "clear_cache":
            f()


# ---- answering ---------------------------------------------------------------------------------
class Capture:
    """Wraps the real backend: records the messages and the backend's own time to first token (prefill)."""

    def __init__(self, real):
        self.real, self.name, self.model = real, real.name, real.model
        self.messages = None
        self.prefill_ms = None

    capture_only = False

    def stream(self, messages, **kw):
        self.messages = messages
        if self.capture_only:  # record the exact messages, call no model
            return
        t = time.perf_counter()
        first = True
        for piece in self.real.stream(messages, **kw):
            if first:
                self.prefill_ms = (time.perf_counter() - t) * 1000
                first = False
            yield piece

    def complete(self, messages, **kw):
        return "".join(self.stream(messages, **kw))

    def count_tokens(self, text):
        return self.real.count_tokens(text)


def raw_ttft_ms(backend, messages) -> tuple[float, int]:
    """Raw llama.cpp: create_chat_completion on the same Llama object with the same messages (caller sets the KV state)."""
    llm = backend._llm
    msgs = [{"role": m.role, "content": m.content} for m in messages]
    lock = getattr(backend, "_lock", None)
    if lock:
        lock.acquire()
    try:
        t = time.perf_counter()
        it = llm.create_chat_completion(messages=msgs, stream=True, max_tokens=8, temperature=0.0, seed=0)
        ttft = None
        for chunk in it:
            if chunk["choices"][0]["delta"].get("content"):
                ttft = (time.perf_counter() - t) * 1000
                break
        if hasattr(it, "close"):
            it.close()
        n_prompt = llm.n_tokens  # the KV cache keeps this prompt, as after any request
    finally:
        if lock:
            lock.release()
    return ttft, n_prompt


def task_answer(a: dict) -> dict:
    from app.engine import Engine
    from app.llm import make_backend

    s = _settings(a["data_dir"])
    real, _ = make_backend(s)
    cap = Capture(real)
    eng = Engine(s, backend=cap)
    tw = time.perf_counter()
    eng.warm_up()
    warm_s = time.perf_counter() - tw
    qs = a["questions"]
    runs = []
    for rep in range(a["repeats"]):
        rows = []
        for q in qs:
            # side by side from the same llama.cpp state: record the messages without a model call, run raw
            # llama.cpp on them, restore the KV state, then time the pipeline
            llm = real._llm
            state = llm.save_state()
            cap.messages, cap.prefill_ms, cap.capture_only = None, None, True
            known = set(eng.checker._cache)
            eng.ask(q)
            cap.capture_only = False
            # forget what the capture pass cached, so the timed ask pays for it as it would have
            _clear_query_cache(eng)
            clear_translations = getattr(eng.translator, "clear_cache", None)
            if clear_translations:
                clear_translations()  # the timed ask translates the question again, as a new question would
            with eng.checker._lock:
                for key in [k for k in eng.checker._cache if k not in known]:
                    del eng.checker._cache[key]
            messages = cap.messages
            raw = None
            if messages is not None:
                raw = raw_ttft_ms(real, messages)
                llm.load_state(state)
            cap.messages, cap.prefill_ms = None, None
            ans = eng.ask(q)
            t = ans.timings
            row = {"question": q, "refused": ans.refused, **t.to_dict(), "prefill_ms": cap.prefill_ms}
            if raw and not ans.refused:
                row["raw_ttft_ms"], row["prompt_tokens"] = raw
                row["overhead_ratio"] = t.ttft_ms / row["raw_ttft_ms"] if row["raw_ttft_ms"] else None
            rows.append(row)
        runs.append(rows)
    return {"warm_up_s": warm_s, "runs": runs, "peak_rss_mb": peak_rss_mb()}


def task_model_build(a: dict) -> dict:
    """The one-time local build of the ONNX embedder (export + int8 quantisation) into an empty cache."""
    from index.embedders import LocalEmbedder

    t0 = time.perf_counter()
    LocalEmbedder(a["precision"], a["cache"]).load()
    return {"seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()}


TASKS = {"model_build": task_model_build, "ingest": task_ingest, "ingest_warm": task_ingest_warm, "build_pooled": task_build_pooled,
         "retrieval": task_retrieval, "answer": task_answer}


def _inputs_tasks() -> dict:
    from bench import inputs

    return {"clean_big": inputs.task_clean_big, "ingest_long": inputs.task_ingest_long, "precision": inputs.task_precision}


TASKS.update(_inputs_tasks())

if __name__ == "__main__":
    res = TASKS[sys.argv[1]](json.loads(sys.argv[2]))
    print("RESULT " + json.dumps(res), flush=True)
