"""Bench phase `inputs` (issue 12): the CPU's flags, both embedder precisions (bare embedder and the ingest
pipeline, and their ratio), cleaning a 20 MB text, and ingesting one 6,000-chunk document.

Each figure comes from a fresh child process (bench.child) so peak memory is real. `--quick` uses smaller sizes.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

FULL = {"clean_mb": 20, "long_chunks": 6000, "precision_chunks": 600}
QUICK = {"clean_mb": 20, "long_chunks": 600, "precision_chunks": 120}
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_bf16")


def cpu_flags() -> dict:
    from index.precision import cpu

    name, flags = cpu()
    return {"model": name, "flags": [f for f in FLAGS if f in flags]}


def write_long_document(path: Path, n_chunks: int) -> Path:
    """One text of about n_chunks chunks (seed sentences, one paragraph per chunk)."""
    from bench.corpus import paragraphs

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("A long synthetic report\n\n" + "\n\n".join(paragraphs(n_chunks, seed=7)) + "\n", "utf-8")
    return path


def big_text(mb: float) -> str:
    from bench.corpus import paragraphs

    out, size = [], 0
    for p in paragraphs(10**9, seed=11):
        out.append(p)
        size += len(p) + 2
        if size >= mb * 1_000_000:
            break
    return "\n\n".join(out)


# ---- child tasks (run in a fresh process) --------------------------------------------------------
def task_clean_big(a: dict) -> dict:
    from bench.common import peak_rss_mb
    from index.clean import kept_spans

    text = big_text(a["mb"])
    t0 = time.perf_counter()
    spans, dropped = kept_spans(text)
    return {"mb": round(len(text.encode()) / 1e6, 1), "seconds": time.perf_counter() - t0, "spans": len(spans),
            "peak_rss_mb": peak_rss_mb()}


def task_ingest_long(a: dict) -> dict:
    from bench.common import peak_rss_mb
    from bench.child import _settings
    from index.embedders import make_embedder
    from index.ingest import Ingestor
    from index.store import ChromaStore

    s = _settings(a["data_dir"])
    doc = write_long_document(Path(a["docs"]) / "long.txt", a["chunks"])
    emb = make_embedder(s)
    emb.embed_documents(["load the model"])
    r = Ingestor(s, emb, ChromaStore(s)).run([doc])
    f = r.files[0]
    return {"chunks": f.chunks, "status": f.status, "error": f.error, "seconds": r.seconds,
            "chunks_per_s": f.embedded / r.seconds if r.seconds else None, "peak_rss_mb": peak_rss_mb()}


def task_precision(a: dict) -> dict:
    """Bare embedder chunks/s on the chunks of a corpus, then the whole ingest pipeline on it, for one precision."""
    from bench.child import _settings
    from index.chunking import chunk_spans, make_splitter
    from index.clean import kept_spans
    from index.embedders import LocalEmbedder
    from index.ingest import Ingestor
    from index.store import ChromaStore

    s = _settings(a["data_dir"], a["docs"]).model_copy(update={"embed_precision": a["precision"]})
    emb = LocalEmbedder(a["precision"], s.model_cache)
    emb.embed_documents(["load the model"])
    splitter = make_splitter(s.chunk_size, s.chunk_overlap)
    texts = []
    for p in sorted(Path(a["docs"]).glob("*.txt")):
        t = p.read_text("utf-8")
        texts += [c.text for c in chunk_spans(t, kept_spans(t)[0], splitter)]
    t0 = time.perf_counter()
    emb.embed_documents(texts)
    bare = len(texts) / (time.perf_counter() - t0)
    r = Ingestor(s, emb, ChromaStore(s)).run([Path(a["docs"])])
    pipe = r.embedded / r.seconds if r.seconds else 0.0
    return {"precision": a["precision"], "chunks": len(texts), "bare_chunks_per_s": bare, "pipeline_chunks_per_s": pipe,
            "pipeline_over_bare": pipe / bare if bare else None}


# ---- the phase -------------------------------------------------------------------------------------
def bench_inputs(cfg: dict, res: dict, work: Path, quick: bool) -> None:
    from bench.common import log, run_child
    from bench.corpus import write_corpus

    c = QUICK if quick else FULL
    out: dict = {"cpu": cpu_flags(), "sizes": c}
    log(f"clean a {c['clean_mb']} MB text")
    out["clean_20mb"] = run_child("clean_big", {"mb": c["clean_mb"]})
    d, docs = work / "data-long", work / "docs-long"
    shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(docs, ignore_errors=True)
    log(f"ingest one {c['long_chunks']}-chunk document")
    out["ingest_long_document"] = run_child("ingest_long", {"data_dir": str(d), "docs": str(docs), "chunks": c["long_chunks"]},
                                            timeout=7200)
    corpus = work / f"corpus-precision-{c['precision_chunks']}"
    write_corpus(corpus, c["precision_chunks"])
    out["precision"] = {}
    for p in ("int8", "fp32"):
        dp = work / f"data-precision-{p}"
        shutil.rmtree(dp, ignore_errors=True)
        log(f"embedder precision {p}: bare and pipeline chunks/s")
        out["precision"][p] = run_child("precision", {"data_dir": str(dp), "docs": str(corpus), "precision": p}, timeout=7200)
    try:  # the measured probe: a new index on this CPU takes the faster precision (index/precision.py)
        from app.config import load_settings
        from index.precision import record_probe

        pr = out["precision"]
        record_probe(load_settings(), pr["int8"]["bare_chunks_per_s"], pr["fp32"]["bare_chunks_per_s"])
    except Exception as e:  # noqa: BLE001 - the figures stand without the probe file
        log(f"could not record the precision probe: {e}")
    res["inputs"] = out


def summary_lines(inputs: dict) -> list[str]:
    """Lines for results.md."""
    if not inputs:
        return []
    cl, lo, pr = inputs.get("clean_20mb", {}), inputs.get("ingest_long_document", {}), inputs.get("precision", {})
    lines = ["## Any document, any size", "",
             f"CPU: {inputs.get('cpu', {}).get('model', '?')}, flags {', '.join(inputs.get('cpu', {}).get('flags', [])) or 'none'}", "",
             "| figure | value |", "|---|---|",
             f"| clean a {cl.get('mb', '?')} MB text | {cl.get('seconds', 0):.1f} s, peak {cl.get('peak_rss_mb', 0):.0f} MB |",
             f"| ingest one {lo.get('chunks', '?')}-chunk document | {lo.get('chunks_per_s') or 0:.1f} chunks/s, "
             f"peak {lo.get('peak_rss_mb', 0):.0f} MB ({lo.get('status', '?')}) |"]
    for p, r in pr.items():
        lines.append(f"| {p}: bare embedder / pipeline chunks/s (ratio) | {r['bare_chunks_per_s']:.1f} / "
                     f"{r['pipeline_chunks_per_s']:.1f} ({r['pipeline_over_bare'] or 0:.2f}) |")
    return lines + [""]
