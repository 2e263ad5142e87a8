"""A deterministic synthetic corpus built from the seed sentences, and a pooled-vector embedder for 100k.

Each synthetic file holds PARAS paragraphs of 4-6 seed sentences (~90-130 words), so one paragraph is about
one 160-token chunk; the corpus for N chunks is a prefix of the corpus for any larger N.
"""
from __future__ import annotations

import hashlib
import random
import shutil
from pathlib import Path

import numpy as np

from bench.common import SEEDS

PARAS = 50


def seed_sentences() -> list[str]:
    from app.grounding import text as tu

    out: list[str] = []
    for f in sorted(SEEDS.glob("*.txt")):
        for sent, _, _ in tu.sentences(f.read_text("utf-8")):
            s = " ".join(sent.split())
            if len(s.split()) >= 6:
                out.append(s)
    return sorted(set(out))


def paragraphs(n: int, seed: int = 1234):
    sents = seed_sentences()
    rng = random.Random(seed)
    for i in range(n):
        words, para = 0, []
        while words < 90:
            s = sents[rng.randrange(len(sents))]
            if s in para:
                continue
            para.append(s)
            words += len(s.split())
            if words > 130:
                break
        yield f"{' '.join(para)} (ref {i})"


def write_corpus(folder: Path, n_chunks: int) -> list[Path]:
    """About n_chunks chunks in n_chunks/PARAS files under folder (recreated)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    paths, buf = [], []
    for i, p in enumerate(paragraphs(n_chunks)):
        buf.append(p)
        if len(buf) == PARAS:
            paths.append(_write(folder, len(paths), buf))
            buf = []
    if buf:
        paths.append(_write(folder, len(paths), buf))
    return paths


def _write(folder: Path, idx: int, paras: list[str]) -> Path:
    p = folder / f"syn_{idx:05d}.txt"
    p.write_text(f"Synthetic document {idx}\n\n" + "\n\n".join(paras) + "\n", "utf-8")
    return p


def pool_embedder(real, pool_texts: list[str], pool_vecs: np.ndarray):
    """An Embedder with the real one's id that returns real vectors for pooled texts and, for any other text,
    a deterministic perturbation of a pooled vector (no model call): used only to build the 100k collection."""
    from index.embedders import Embedder

    lookup = {t: i for i, t in enumerate(pool_texts)}
    vecs = pool_vecs / np.linalg.norm(pool_vecs, axis=1, keepdims=True)

    class PoolEmbedder(Embedder):
        def __init__(self):
            self.id = real.id

        def as_llama_index(self):
            return real.as_llama_index()

        def embed_documents(self, texts):
            out = []
            for t in texts:
                i = lookup.get(t)
                if i is not None:
                    out.append(vecs[i].tolist())
                    continue
                h = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
                rng = np.random.default_rng(h)
                v = vecs[h % len(vecs)] + rng.normal(0, 0.02, vecs.shape[1]).astype(np.float32)
                out.append((v / np.linalg.norm(v)).tolist())
            return out

    return PoolEmbedder()
