"""The one adapter that owns Chroma: embedded (PersistentClient) or a server (`chroma run`).

Nothing of Chroma's leaves this module: no client or collection object, no filter syntax, no Chroma metadata
key, no file of its folder. Callers speak in documents and chunks:

- ingestion opens a `Build` (`store.build(fp, rebuild)`) and calls `write(nodes)` (in batches no larger than
  the client's maximum), `drop_other_versions(doc_id, sha)`, `drop_version`, `drop_document` and `finish()`;
- retrieval asks for a cheap `stamp()` (changes with every write), `version()` (collection id, fingerprint,
  count), `ids()`, `chunks()` and `nearest(vector, n)`;
- everyone asks `documents()` for the document table (index/documents.py).

The collection's metadata records how the index was built (embedder, chunking) and whether the last build
finished; a rebuild goes into a side collection that replaces the live one only when complete. A server that
cannot be reached is a StoreError naming its URL, never "the index is empty".
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import urlparse

from app.errors import IndexMismatchError, StoreError
from index.documents import DocInfo, doc_table

if TYPE_CHECKING:
    from llama_index.core.schema import TextNode

    from app.config import Settings

SCHEMA = 1
SQLITE = "chroma.sqlite3"  # the embedded store's database: every write changes it, reads never do
_FP_KEY, _DONE_KEY = "citeqa_fingerprint", "citeqa_complete"


@dataclass(frozen=True)
class Fingerprint:
    embedder: str
    chunk_size: int
    chunk_overlap: int
    schema: int = SCHEMA

    def as_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @property
    def short(self) -> str:
        import hashlib

        return hashlib.sha256(self.as_json().encode()).hexdigest()[:12]

    @classmethod
    def from_settings(cls, s: "Settings", embedder_id: str) -> "Fingerprint":
        return cls(embedder_id, s.chunk_size, s.chunk_overlap)


@dataclass(frozen=True)
class Chunk:
    """One stored chunk as the store gives it back: id, text and our metadata (llama-index's node format)."""

    id: str
    text: str | None
    metadata: dict


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
            raise StoreError(f"cannot open the Chroma store at {where}: {_first_line(e)} ({hint})") from None
        _CLIENTS[key] = client
        return client


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0][:200]


def _is_missing(e: Exception) -> bool:
    """Chroma's 'no such collection' (NotFoundError in 1.x, ValueError/InvalidCollection before)."""
    name = type(e).__name__
    text = str(e).lower()
    return name in ("NotFoundError", "InvalidCollectionException") or "does not exist" in text


def _node_payload(nodes: list["TextNode"]) -> tuple[list[str], list[list[float]], list[dict], list[str]]:
    """What llama-index's ChromaVectorStore.add writes, so retrieval reads the nodes back the same way."""
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    ids, vectors, metas, texts = [], [], [], []
    for n in nodes:
        ids.append(n.node_id)
        vectors.append(list(n.get_embedding()))
        metas.append(node_to_metadata_dict(n, remove_text=True, flat_metadata=True))
        texts.append(n.get_content())
    return ids, vectors, metas, texts


class ChromaStore:
    """Chunks with their embeddings, text and metadata; one live collection per data dir/server."""

    def __init__(self, settings: "Settings"):
        self.settings = settings
        self._client = _client(settings)
        self.name = settings.collection
        self.side_name = f"{settings.collection}__build"
        self._searched = None  # the live collection as last opened: a search does not look it up again

    @property
    def where(self) -> str:
        return self.settings.chroma_url or str(self.settings.chroma_dir)

    def _call(self, what: str, fn, *args, **kw):
        """Run one Chroma call; a dead server or a broken folder becomes a StoreError that says where."""
        try:
            return fn(*args, **kw)
        except StoreError:
            raise
        except Exception as e:  # noqa: BLE001 - Chroma raises many types; the user needs where and why
            if _is_missing(e):
                raise
            hint = " (is `chroma run` still running there?)" if self.settings.chroma_url else ""
            raise StoreError(f"the Chroma store at {self.where} failed to {what}: {_first_line(e)}{hint}") from None

    # ---- collections (private) -----------------------------------------------------------------
    def _get(self, name: str):
        try:
            return self._call("open the collection", self._client.get_collection, name)
        except StoreError:
            raise
        except Exception:  # noqa: BLE001 - only "no such collection" gets here
            return None

    def _live(self):
        """The live collection, or None when nothing was indexed yet (finishes an interrupted swap)."""
        col = self._get(self.name)
        if col is None:
            side = self._get(self.side_name)
            if side is not None and (side.metadata or {}).get(_DONE_KEY):
                self._call("finish a rebuild", side.modify, name=self.name)
                col = self._get(self.name)
        self._searched = col
        return col

    @staticmethod
    def _fingerprint_of(col) -> Fingerprint | None:
        raw = (col.metadata or {}).get(_FP_KEY)
        return Fingerprint(**json.loads(raw)) if raw else None

    def _checked(self, fp: Fingerprint):
        col = self._live()
        if col is None:
            return None
        have = self._fingerprint_of(col)
        if have != fp:
            built = f"{have.embedder}, chunks {have.chunk_size}/{have.chunk_overlap}" if have else "unknown settings"
            asked = f"{fp.embedder}, chunks {fp.chunk_size}/{fp.chunk_overlap}"
            raise IndexMismatchError(
                f"the index in {self.where} was built with {built} but these settings use {asked}; "
                f"run `citeqa ingest --rebuild` to re-index with the new settings (or change them back)"
            )
        return col

    def _create(self, fp: Fingerprint, side: bool = False):
        name = self.side_name if side else self.name
        if side and self._get(name) is not None:
            self._call("drop an old rebuild", self._client.delete_collection, name)
        meta = {_FP_KEY: fp.as_json(), "hnsw:space": "cosine", _DONE_KEY: False}
        return self._call("create the collection", self._client.get_or_create_collection, name, metadata=meta,
                          embedding_function=None)

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

    def _metas(self, col) -> list[dict]:
        return [m for got in self._call("read the index", lambda: list(self._pages(col, ["metadatas"])))
                for m in got["metadatas"]]

    # ---- what callers use ----------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether anything was indexed here (a live collection with at least one chunk)."""
        col = self._live()
        return col is not None and self._call("count the chunks", col.count) > 0

    def fingerprint(self) -> Fingerprint | None:
        """How the live index was built (None when there is none)."""
        col = self._live()
        return self._fingerprint_of(col) if col is not None else None

    def check(self, fp: Fingerprint) -> bool:
        """True when a live index built with `fp` exists; False when there is none; a clear refusal otherwise."""
        return self._checked(fp) is not None

    def count(self) -> int:
        col = self._live()
        return self._call("count the chunks", col.count) if col is not None else 0

    def documents(self) -> dict[str, DocInfo]:
        """The document table of the live index (chunk metadata only, no text)."""
        col = self._live()
        return doc_table(self._metas(col)) if col is not None else {}

    def stamp(self) -> tuple | None:
        """A cheap freshness stamp: (inode, size, mtime) of the embedded store's database and its WAL; it changes
        with every write and never with a read. None with a Chroma server (nothing local to watch)."""
        if self.settings.chroma_url:
            return None
        p = self.settings.chroma_dir / SQLITE
        try:
            st = os.stat(p)
        except OSError:
            return None
        try:
            w = os.stat(f"{p}-wal")
            wal = (w.st_size, w.st_mtime_ns)
        except OSError:
            wal = None
        return (st.st_ino, st.st_size, st.st_mtime_ns, wal)

    @staticmethod
    def stamp_time_ns(stamp: tuple) -> int:
        """When the data behind a stamp was last written (ns since the epoch)."""
        return max(stamp[2], stamp[3][1] if stamp[3] else 0)

    def version(self, fp: Fingerprint) -> tuple[str, str, int] | None:
        """(collection id, fingerprint, number of chunks) of the live index built with `fp`; None when empty."""
        col = self._checked(fp)
        if col is None:
            return None
        count = self._call("count the chunks", col.count)
        return (str(col.id), (col.metadata or {}).get(_FP_KEY), count) if count else None

    def ids(self, batch: int = 50000) -> list[str]:
        """Every chunk id of the live index, nothing else (cheap: no metadata or text)."""
        col = self._live()
        if col is None:
            return []
        return self._call("read the chunk ids", lambda: [c for got in self._pages(col, [], batch=batch) for c in got["ids"]])

    def chunks(self) -> list[Chunk]:
        """Every chunk of the live index with its text and metadata."""
        col = self._live()
        if col is None:
            return []

        def read():
            out = []
            for got in self._pages(col, ["metadatas", "documents"]):
                out += [Chunk(cid, got["documents"][i], got["metadatas"][i]) for i, cid in enumerate(got["ids"])]
            return out

        return self._call("read the chunks", read)

    def nearest(self, vector: list[float], n: int) -> list[tuple[str, float]]:
        """The n nearest chunk ids with their cosine distances (no metadata or text: the caller has the chunks)."""
        col = self._searched or self._live()
        if col is None:
            return []
        try:
            got = self._call("search", col.query, query_embeddings=[vector], n_results=n, include=["distances"])
        except StoreError:
            raise
        except Exception:  # noqa: BLE001 - replaced by a rebuild since it was opened: search the live one
            col = self._live()
            if col is None:
                return []
            got = self._call("search", col.query, query_embeddings=[vector], n_results=n, include=["distances"])
        return list(zip(got["ids"][0], got["distances"][0]))

    def sample(self, n: int) -> tuple[list[str], list[list[float]]]:
        """Up to n stored chunk texts with their vectors (the bench draws synthetic corpora from them)."""
        col = self._live()
        if col is None:
            return [], []
        got = self._call("read chunks", col.get, include=["documents", "embeddings"], limit=n)
        return list(got["documents"]), [list(v) for v in got["embeddings"]]

    def build(self, fp: Fingerprint, rebuild: bool = False) -> "Build":
        """Where an ingestion run writes: the live index (checked against `fp`) or, for a rebuild, a side
        collection that replaces it in `finish()`."""
        if rebuild:
            return Build(self, self._create(fp, side=True), side=True)
        return Build(self, self._checked(fp) or self._create(fp), side=False)

    def max_batch(self) -> int:
        """The most records one write may carry (Chroma refuses more: 5461 with the embedded store)."""
        try:
            return max(1, int(self._client.get_max_batch_size()))
        except Exception:  # noqa: BLE001 - older clients: the embedded store's limit
            return 5461


class Build:
    """One ingestion run's writes into one collection. A document's new version is written in batches; it
    counts only once all of its chunks are there (index/documents.py), so readers keep the old one until then."""

    def __init__(self, store: ChromaStore, col, side: bool):
        self._store, self._col, self.side = store, col, side
        self._batch = store.max_batch()

    def documents(self) -> dict[str, DocInfo]:
        return doc_table(self._store._metas(self._col))

    def write(self, nodes: Iterable["TextNode"]) -> None:
        """Add embedded chunks, never more per call than the client allows."""
        nodes = list(nodes)
        for i in range(0, len(nodes), self._batch):
            ids, vectors, metas, texts = _node_payload(nodes[i: i + self._batch])
            self._store._call("write chunks", self._col.upsert, ids=ids, embeddings=vectors, metadatas=metas,
                              documents=texts)

    def drop_other_versions(self, doc_id: str, sha: str) -> None:
        """Remove every version of `doc_id` except `sha` (after the new one is complete)."""
        self._store._call("remove old versions", self._col.delete,
                          where={"$and": [{"doc_id": doc_id}, {"doc_hash": {"$ne": sha}}]})

    def drop_version(self, doc_id: str, sha: str) -> None:
        """Remove one (e.g. half-written) version of a document."""
        self._store._call("remove a version", self._col.delete,
                          where={"$and": [{"doc_id": doc_id}, {"doc_hash": sha}]})

    def drop_document(self, doc_id: str) -> None:
        self._store._call("remove a document", self._col.delete, where={"doc_id": doc_id})

    def finish(self) -> None:
        """Mark the build complete; a rebuild replaces the live collection now."""
        meta = dict(self._col.metadata or {})
        meta.pop("hnsw:space", None)  # not modifiable after creation
        if not meta.get(_DONE_KEY) or self.side:
            meta[_DONE_KEY] = True
            self._store._call("mark the build complete", self._col.modify, metadata=meta)
        if self.side:
            st = self._store
            if st._get(st.name) is not None:
                st._call("replace the live index", st._client.delete_collection, st.name)
            st._call("replace the live index", self._col.modify, name=st.name)
