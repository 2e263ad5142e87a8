"""The one adapter that owns Chroma: embedded (PersistentClient) or a server (`chroma run`).

The collection's metadata records how the index was built (embedder, chunking) and whether the last
build finished; a rebuild goes into a side collection that replaces the live one only when complete.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from app.errors import IndexMismatchError, StoreError

if TYPE_CHECKING:
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from app.config import Settings

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

SCHEMA = 1


@dataclass(frozen=True)
class Fingerprint:
    embedder: str
    chunk_size: int
    chunk_overlap: int
    schema: int = SCHEMA

    def as_metadata(self) -> dict[str, Any]:
        return {"citeqa_fingerprint": json.dumps(self.__dict__, sort_keys=True)}

    @property
    def short(self) -> str:
        import hashlib

        return hashlib.sha256(json.dumps(self.__dict__, sort_keys=True).encode()).hexdigest()[:12]

    @classmethod
    def from_settings(cls, s: "Settings", embedder_id: str) -> "Fingerprint":
        return cls(embedder_id, s.chunk_size, s.chunk_overlap)


_CLIENTS: dict[str, Any] = {}
_CLIENT_LOCK = threading.Lock()


def _client(settings: "Settings"):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    key = settings.chroma_url or str(settings.chroma_dir.resolve())
    with _CLIENT_LOCK:
        if key in _CLIENTS:
            return _CLIENTS[key]
        cs = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if settings.chroma_url:
                u = urlparse(settings.chroma_url)
                client = chromadb.HttpClient(host=u.hostname or "127.0.0.1", port=u.port or 8000, ssl=u.scheme == "https", settings=cs)
                client.heartbeat()
            else:
                settings.chroma_dir.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(settings.chroma_dir), settings=cs)
        except Exception as e:
            where = settings.chroma_url or settings.chroma_dir
            hint = "is `chroma run` running there?" if settings.chroma_url else "check the folder is writable and not used by another Chroma version"
            raise StoreError(f"cannot open the Chroma store at {where}: {str(e).splitlines()[0][:200]} ({hint})") from None
        _CLIENTS[key] = client
        return client


class ChromaStore:
    """Chunks with their embeddings, text and metadata; one live collection per data dir/server."""

    def __init__(self, settings: "Settings"):
        self.settings = settings
        self.client = _client(settings)
        self.name = settings.collection
        self.side_name = f"{settings.collection}__build"

    # ---- collections -------------------------------------------------------------------------
    def _get(self, name: str):
        try:
            return self.client.get_collection(name)
        except Exception:
            return None

    def live(self):
        """The live collection, or None when nothing was indexed yet (finishes an interrupted swap)."""
        col = self._get(self.name)
        if col is None:
            side = self._get(self.side_name)
            if side is not None and (side.metadata or {}).get("citeqa_complete"):
                side.modify(name=self.name)
                col = self._get(self.name)
        return col

    def fingerprint_of(self, col) -> Fingerprint | None:
        raw = (col.metadata or {}).get("citeqa_fingerprint")
        return Fingerprint(**json.loads(raw)) if raw else None

    def check(self, fp: Fingerprint):
        """The live collection if it matches `fp`; a clear refusal otherwise."""
        col = self.live()
        if col is None:
            return None
        have = self.fingerprint_of(col)
        if have != fp:
            built = f"{have.embedder}, chunks {have.chunk_size}/{have.chunk_overlap}" if have else "unknown settings"
            asked = f"{fp.embedder}, chunks {fp.chunk_size}/{fp.chunk_overlap}"
            raise IndexMismatchError(
                f"the index in {self.where} was built with {built} but these settings use {asked}; "
                f"run `citeqa ingest --rebuild` to re-index with the new settings (or change them back)"
            )
        return col

    def create(self, fp: Fingerprint, side: bool = False):
        name = self.side_name if side else self.name
        if side and self._get(name) is not None:
            self.client.delete_collection(name)
        meta = fp.as_metadata() | {"hnsw:space": "cosine", "citeqa_complete": False}
        return self.client.get_or_create_collection(name, metadata=meta, embedding_function=None)

    def mark_complete(self, col) -> None:
        meta = dict(col.metadata or {})
        meta.pop("hnsw:space", None)  # not modifiable after creation
        meta["citeqa_complete"] = True
        col.modify(metadata=meta)

    def promote(self, side_col) -> None:
        """Make a finished side build the live collection."""
        self.mark_complete(side_col)
        if self._get(self.name) is not None:
            self.client.delete_collection(self.name)
        side_col.modify(name=self.name)

    @property
    def where(self) -> str:
        return self.settings.chroma_url or str(self.settings.chroma_dir)

    # ---- records -----------------------------------------------------------------------------
    @staticmethod
    def _pages(col, include: list[str], where: dict | None = None, batch: int = 5000):
        """`col.get` page by page, so a 100k-chunk index does not hit limits."""
        offset = 0
        while True:
            got = col.get(where=where, include=include, limit=batch, offset=offset)
            yield got
            if len(got["ids"]) < batch:
                return
            offset += batch

    @staticmethod
    def records(col, where: dict | None = None, with_text: bool = True, batch: int = 5000) -> list[dict]:
        """All chunk records (id, metadata[, text])."""
        include = ["metadatas", "documents"] if with_text else ["metadatas"]
        out = []
        for got in ChromaStore._pages(col, include, where, batch):
            for i, cid in enumerate(got["ids"]):
                rec = {"id": cid, "metadata": got["metadatas"][i]}
                if with_text:
                    rec["text"] = got["documents"][i]
                out.append(rec)
        return out

    @staticmethod
    def ids(col, batch: int = 50000) -> list[str]:
        """Every chunk id, nothing else (cheap: no metadata or text)."""
        return [cid for got in ChromaStore._pages(col, [], batch=batch) for cid in got["ids"]]

    @staticmethod
    def nearest(col, vector: list[float], n: int) -> list[tuple[str, float]]:
        """The n nearest chunk ids with their distances (no metadata or text: the caller has the chunks)."""
        got = col.query(query_embeddings=[vector], n_results=n, include=["distances"])
        return list(zip(got["ids"][0], got["distances"][0]))

    @staticmethod
    def delete_where(col, where: dict) -> None:
        col.delete(where=where)

    def vector_store(self, col) -> "ChromaVectorStore":
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=col)
