"""Vectors of the documents' sentences and words kept on disk beside the index, so that a new process does not
embed again what an earlier one did.

The evidence step embeds every candidate sentence, its context and the words of both (grounding/evidence.py);
in a long-running chat they stay in the checker's memory, but each `citeqa ask` is a new process, and embedding
them again was about 1 s of its cold start. Only the documents' text is kept here, never a question or a model's
sentence (the caller says which texts are the documents', `SupportChecker.vectors(..., keep=True)`). A row is
keyed by the text and the embedder's vector space (`Embedder.id`); `citeqa ingest --rebuild` empties the file
(a model pulled again under the same name, through Ollama, may embed differently), and it keeps at most
`max_rows` rows, the oldest written first out.

The cache is an optimisation only: a file that cannot be opened, read or written (locked by another process
for longer than `write_wait`, a read-only data folder, a damaged row) is skipped and the vectors are computed
as before. A read-only folder is still read.
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
    def __init__(self, path: Path, space: str, max_rows: int = 200_000, write_wait: float = 0.05):
        self.path = Path(path)
        self.space = space
        self.max_rows = max_rows
        self.write_wait = write_wait  # seconds a write waits for another process's lock before it is skipped
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._read_only = False
        self._broken = False

    def _conn(self) -> sqlite3.Connection | None:
        if self._db is None and not self._broken:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # autocommit: every write is its own short transaction (BEGIN IMMEDIATE), never one left open
                db = sqlite3.connect(self.path, timeout=self.write_wait, check_same_thread=False, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("CREATE TABLE IF NOT EXISTS vec (space TEXT, text TEXT, v BLOB, PRIMARY KEY (space, text))")
                self._db = db
            except (sqlite3.Error, OSError) as e:
                self._db = self._open_read_only(e)
        return self._db

    def _open_read_only(self, why: Exception) -> sqlite3.Connection | None:
        try:
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False,
                                 isolation_level=None)
            db.execute("SELECT 1 FROM vec LIMIT 1")
            self._read_only = True
            return db
        except (sqlite3.Error, OSError, ValueError):
            self._broken = True
            log.debug("vector cache %s unavailable: %s", self.path, why)
            return None

    def get(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The vectors this cache holds for `texts` (those it has, whole)."""
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
                    out.update((t, np.frombuffer(v, dtype=np.float32)) for t, v in rows
                               if isinstance(v, bytes) and v and len(v) % 4 == 0)
            except sqlite3.Error as e:
                log.debug("vector cache read failed: %s", e)
        return out

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        with self._lock:
            db = self._conn()
            if db is None or self._read_only or not vectors:
                return
            try:
                db.execute("BEGIN IMMEDIATE")  # takes the write lock first: a busy file fails here, before any read
                try:
                    db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?, ?)",
                                   [(self.space, t, np.asarray(v, dtype=np.float32).tobytes()) for t, v in vectors.items()])
                    over = db.execute("SELECT COUNT(*) FROM vec").fetchone()[0] - self.max_rows
                    if over > 0:
                        db.execute("DELETE FROM vec WHERE rowid IN (SELECT rowid FROM vec ORDER BY rowid LIMIT ?)", (over,))
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:
                log.debug("vector cache write skipped: %s", e)

    def clear(self) -> None:
        """Forget every vector (`citeqa ingest --rebuild`)."""
        with self._lock:
            db = self._conn()
            if db is None or self._read_only:
                return
            try:
                db.execute("DELETE FROM vec")
            except sqlite3.Error as e:
                log.debug("vector cache not cleared: %s", e)
