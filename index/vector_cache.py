"""Sentence and word vectors kept on disk beside the index, so that a new process does not embed again what an
earlier one did.

The evidence step embeds every candidate sentence, its context and the words of both (grounding/evidence.py);
in a long-running chat they stay in the checker's memory, but each `citeqa ask` is a new process, and embedding
them again was about 1 s of its cold start. A vector depends only on the text and the embedder's vector space
(`Embedder.id`), so entries never go stale: a row is keyed by both. The cache is an optimisation only: a file
that cannot be opened, read or written is left alone and the vectors are computed as before.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FILE_NAME = "vectors.sqlite"


class VectorCache:
    def __init__(self, path: Path, space: str):
        self.path = Path(path)
        self.space = space
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._broken = False

    def _conn(self) -> sqlite3.Connection | None:
        if self._db is None and not self._broken:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=2.0, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("CREATE TABLE IF NOT EXISTS vec (space TEXT, text TEXT, v BLOB, PRIMARY KEY (space, text))")
                db.commit()
                self._db = db
            except (sqlite3.Error, OSError) as e:
                self._broken = True
                log.debug("vector cache %s unavailable: %s", self.path, e)
        return self._db

    def get(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The vectors this cache holds for `texts` (those it has)."""
        out: dict[str, np.ndarray] = {}
        with self._lock:
            db = self._conn()
            if db is None or not texts:
                return out
            try:
                for i in range(0, len(texts), 500):  # SQLite's bound-parameter limit
                    part = texts[i:i + 500]
                    rows = db.execute(f"SELECT text, v FROM vec WHERE space = ? AND text IN ({','.join('?' * len(part))})",
                                      [self.space, *part]).fetchall()
                    out.update((t, np.frombuffer(v, dtype=np.float32)) for t, v in rows)
            except sqlite3.Error as e:
                log.debug("vector cache read failed: %s", e)
        return out

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        with self._lock:
            db = self._conn()
            if db is None or not vectors:
                return
            try:
                db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?, ?)",
                               [(self.space, t, np.asarray(v, dtype=np.float32).tobytes()) for t, v in vectors.items()])
                db.commit()
            except sqlite3.Error as e:
                log.debug("vector cache write failed: %s", e)
