"""The one table of indexed documents: id, title, author, language, chunk count, hash, path, kind, and the
saved text every offset refers to. Built from chunk metadata by the store (index/store.py); the engine, the
retriever, the chat and evaluation all read it from there.

Version rule: a document version counts only when all of its chunks are stored (count == n_chunks); of the
complete versions of a document, the newest wins. So a version being written (or cut off by a crash) is
never seen, and the previous one stays in use until the new one is complete.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from app.config import Settings


@dataclass
class DocInfo:
    doc_id: str
    title: str
    author: str
    language: str
    chunks: int
    hash: str
    path: str
    kind: str
    pages: int = 0  # PDF: number of pages (0 for other kinds)


def doc_table(metas: Iterable[dict]) -> dict[str, DocInfo]:
    """The indexed documents from their chunks' metadata: per doc id, its newest complete version."""
    versions: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for m in metas:
        versions[(m["doc_id"], m["doc_hash"])].append(m)
    best: dict[str, tuple[float, DocInfo]] = {}
    for (doc_id, h), ms in versions.items():
        m = ms[0]
        if len(ms) != int(m.get("n_chunks", -1)):
            continue  # an interrupted or unfinished write: ignore the partial version
        stamp = float(m.get("ingested_at", 0))
        if doc_id not in best or stamp > best[doc_id][0]:
            best[doc_id] = (stamp, DocInfo(doc_id, m.get("title", ""), m.get("author", ""), m.get("language", ""),
                                           len(ms), h, m.get("path", ""), m.get("kind", ""), int(m.get("pages", 0) or 0)))
    return {d: info for d, (_, info) in sorted(best.items())}


def text_path(settings: "Settings", sha: str) -> Path:
    return settings.data_dir / "texts" / f"{sha}.txt"


def save_text(settings: "Settings", sha: str, text: str) -> None:
    p = text_path(settings, sha)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".part")
    tmp.write_text(text, "utf-8")
    tmp.replace(p)


def document_text(settings: "Settings", info: DocInfo) -> str:
    """The whole text a document's offsets refer to (saved at ingest; re-read from the file as fallback)."""
    p = text_path(settings, info.hash)
    if p.exists():
        return p.read_text("utf-8")
    from index.loaders import load_file

    return load_file(Path(info.path)).text
