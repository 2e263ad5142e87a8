"""The BM25 side of retrieval: a bm25s index over the live chunks, kept on disk between runs.

Building the index for 100k chunks (tokenise, stem, score) takes about 20 s on 2 cores; loading it from
`<data_dir>/bm25/<key>/` takes well under a second. The cache is content-addressed: `key` is a SHA-256 over
every chunk id and chunk text in index order plus the tokenizer and bm25s settings, so an entry can only
ever be used for exactly the corpus it was built from (a stale entry is impossible by construction, not by
bookkeeping). Each entry carries a manifest with the size and SHA-256 of its files; an entry that is
missing, truncated, altered or unreadable is rebuilt (and rewritten) without a message. Entries are
written to a temporary folder and renamed into place, so a crash never leaves a half-written entry under
its key; older entries are removed after a new one is written.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Iterable, Sequence

import bm25s
import numpy as np
import Stemmer
from bm25s.selection import topk as _topk
from bm25s.tokenization import convert_tokenized_to_string_list

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)

# keep version numbers whole ("3.1", "4o") and single digits ("Llama 3"): the default pattern drops them
TOKEN_PATTERN = r"(?u)\b\w+(?:\.\d+)*\b"
STOPWORDS = "en"
STEMMER = "english"
FORMAT = 1  # bump when the entry layout or the tokenisation changes
MANIFEST = "manifest.json"


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def _settings_blob() -> bytes:
    params = {"format": FORMAT, "bm25s": bm25s.__version__, "stemmer": STEMMER,
              "pystemmer": _version("PyStemmer"), "stopwords": STOPWORDS,
              "token_pattern": TOKEN_PATTERN, "numpy": np.__version__.split(".")[0]}
    return json.dumps(params, sort_keys=True).encode()


def corpus_key(ids: Sequence[str], texts: Sequence[str]) -> str:
    """SHA-256 of the settings and of every (id, text) in order; length-prefixed, so no two corpora collide."""
    h = hashlib.sha256(_settings_blob())
    for cid, text in zip(ids, texts, strict=True):
        for part in (cid.encode("utf-8", "surrogatepass"), text.encode("utf-8", "surrogatepass")):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
    return h.hexdigest()


class BM25Index:
    """bm25s called directly: the same tokenisation and scoring as llama-index's BM25Retriever (which wraps
    bm25s with these arguments), without its per-node metadata copy of the corpus (about 7 s and a JSON
    string per chunk at load) and its per-result node re-creation from that copy (about 1 ms a query)."""

    def __init__(self, bm25: bm25s.BM25):
        self.bm25 = bm25
        self.num_docs = int(bm25.scores["num_docs"])
        self._stemmer = Stemmer.Stemmer(STEMMER)
        self._lock = threading.Lock()  # a PyStemmer object is not thread-safe

    @classmethod
    def build(cls, texts: Sequence[str]) -> "BM25Index":
        stemmer = Stemmer.Stemmer(STEMMER)
        tokens = bm25s.tokenize(list(texts), stopwords=STOPWORDS, stemmer=stemmer, token_pattern=TOKEN_PATTERN,
                                show_progress=False)
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
        return cls(bm25)

    def query_tokens(self, query: str) -> list[str]:
        # as BM25Retriever._retrieve: bm25s.tokenize defaults (English stop words), then back to strings
        with self._lock:
            tok = bm25s.tokenize(query, stemmer=self._stemmer, token_pattern=TOKEN_PATTERN, show_progress=False)
        return convert_tokenized_to_string_list(tok)[0]

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        """(index in the corpus, score) of the k best chunks, best first (bm25s.BM25.retrieve for one query)."""
        k = min(k, self.num_docs)
        tokens = self.query_tokens(query)
        if tokens:
            scores = self.bm25.get_scores(tokens)
        else:
            scores = np.zeros(self.num_docs, dtype=self.bm25.dtype)
        top_scores, top_idx = _topk(scores, k=k, sorted=True, backend="auto")
        return [(int(i), float(s)) for i, s in zip(top_idx, top_scores)]


# ---- disk cache ----------------------------------------------------------------------------------
def _file_digest(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load(entry: Path, key: str, n_docs: int) -> BM25Index | None:
    manifest = json.loads((entry / MANIFEST).read_text("utf-8"))
    if manifest.get("key") != key or manifest.get("num_docs") != n_docs:
        return None
    files = manifest["files"]
    present = {p.name for p in entry.iterdir()} - {MANIFEST}
    if present != set(files):
        return None
    for name, (size, digest) in files.items():
        p = entry / name
        if p.stat().st_size != size or _file_digest(p) != digest:
            return None
    bm25 = bm25s.BM25.load(str(entry), load_corpus=False, mmap=False)
    sc = bm25.scores
    if int(sc["num_docs"]) != n_docs or len(sc["indptr"]) not in (len(bm25.vocab_dict), len(bm25.vocab_dict) + 1) \
            or not int(sc["indptr"][-1]) == len(sc["data"]) == len(sc["indices"]):
        return None
    return BM25Index(bm25)


def _save(root: Path, key: str, index: BM25Index) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        index.bm25.save(str(tmp), show_progress=False)
        files = {p.name: [p.stat().st_size, _file_digest(p)] for p in tmp.iterdir()}
        (tmp / MANIFEST).write_text(json.dumps({"key": key, "num_docs": index.num_docs, "files": files}), "utf-8")
        final = root / key
        if final.exists():  # a broken entry under this key (a good one would have loaded)
            shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)  # atomic: the entry appears complete or not at all
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _prune(root, keep=key)


def _prune(root: Path, keep: str) -> None:
    """Remove older entries (and temporary folders left by a crash more than an hour ago)."""
    for p in root.iterdir():
        if p.name == keep:
            continue
        if p.name.startswith(".tmp-"):
            try:
                if time.time() - p.stat().st_mtime < 3600:
                    continue  # another process may be writing it now
            except OSError:
                continue
        shutil.rmtree(p, ignore_errors=True)


def load_or_build(cache_dir: Path | None, ids: Sequence[str], texts: Sequence[str]) -> tuple[BM25Index, bool]:
    """The BM25 index for this corpus and whether it came from the cache (cache_dir None: no cache)."""
    if cache_dir is None:
        return BM25Index.build(texts), False
    key = corpus_key(ids, texts)
    entry = cache_dir / key
    if entry.is_dir():
        try:
            got = _load(entry, key, len(texts))
            if got is not None:
                return got, True
        except Exception as e:  # noqa: BLE001 - any damage means: build it again
            log.debug("BM25 cache entry %s unusable (%s); rebuilding", entry, e)
    index = BM25Index.build(texts)
    try:
        _save(cache_dir, key, index)
    except Exception as e:  # noqa: BLE001 - a read-only or full disk only costs the next start its time
        log.debug("cannot write the BM25 cache in %s: %s", cache_dir, e)
    return index, False


def entries(cache_dir: Path) -> Iterable[Path]:
    """The complete cache entries (for tests and diagnostics)."""
    if not cache_dir.is_dir():
        return []
    return [p for p in cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
