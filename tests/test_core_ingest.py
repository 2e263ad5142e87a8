"""A crash in the middle of a re-ingest leaves the previous index usable (new versions are written before old ones go)."""
from __future__ import annotations

import hashlib

import pytest

from _fixtures_core import D0, D1, D3, SEED_DOCS, THREADS_Q

pytestmark = pytest.mark.slow

NEW_PARA = ("By the end of its first week, Threads had passed one hundred million sign-ups, according to figures "
            "shared by Meta with advertisers.")


class Crash(RuntimeError):
    pass


def _versions(eng) -> dict[str, str]:
    return {d.doc_id: d.hash for d in eng.documents()}


def _hashes_found(eng, query: str, doc_id: str) -> set[str]:
    return {s.chunk_id.split("#")[1] for s in eng.search(query, k=8) if s.doc_id == doc_id}


def test_crash_mid_ingest_keeps_the_previous_index(fresh_settings, monkeypatch):
    from app.engine import Engine
    from index.store import Build

    eng = Engine(fresh_settings)
    assert eng.ingest().embedded > 0
    old = _versions(eng)
    assert sorted(old) == sorted(SEED_DOCS)
    n_old = eng.store.count()

    docs = fresh_settings.docs_path
    f0, f3 = docs / D0, docs / D3
    t0 = f0.read_text("utf-8")
    anchor = "Moreover, Meta is already spearheaded"
    assert anchor in t0
    f0.write_text(t0.replace(anchor, NEW_PARA + "\n\n" + anchor), "utf-8")
    f3.write_text(f3.read_text("utf-8").replace("Llama 3.1", "Llama 3.1 (405B)", 1), "utf-8")
    new0, new3 = (hashlib.sha256(f.read_bytes()).hexdigest() for f in (f0, f3))
    assert new0 != old[D0] and new3 != old[D3]

    real_embed = eng.embedder.embed_documents
    real_add = Build.write

    def crash_embedding_after(n_ok):
        calls = {"n": 0}

        def embed(texts):
            calls["n"] += 1
            if calls["n"] > n_ok:
                raise Crash("simulated crash while embedding")
            return real_embed(texts)
        return embed

    def check_old_everywhere(expect_new0: bool):
        e2 = Engine(fresh_settings)  # a restarted process
        v = _versions(e2)
        assert sorted(v) == sorted(SEED_DOCS), v
        assert v[D3] == old[D3]
        assert v[D0] == (new0 if expect_new0 else old[D0])
        for d in SEED_DOCS:
            if d not in (D0, D3):
                assert v[d] == old[d]
        found = _hashes_found(e2, "Threads one hundred million sign-ups first week advertisers", D0)
        assert found == {(new0 if expect_new0 else old[D0])[:12]}, found
        src = e2.search(THREADS_Q)
        assert any("seven hours" in s.text for s in src), [s.text[:80] for s in src]
        return e2

    # 1. crash on the very first changed document: nothing changed
    monkeypatch.setattr(eng.embedder, "embed_documents", crash_embedding_after(0))
    with pytest.raises(Crash):
        eng.ingest()
    monkeypatch.undo()
    check_old_everywhere(False)

    # 2. crash in the middle of writing a document's chunks: the half-written version is ignored
    def half_then_crash(self, nodes):
        real_add(self, nodes[: max(1, len(nodes) // 2)])
        raise Crash("simulated crash while writing")

    monkeypatch.setattr(Build, "write", half_then_crash)
    with pytest.raises(Crash):
        eng.ingest()
    monkeypatch.undo()
    assert eng.store.count() > n_old  # the partial version really is in the store
    check_old_everywhere(False)

    # 3. the first changed document goes through, the second crashes: old version of the second stays
    monkeypatch.setattr(eng.embedder, "embed_documents", crash_embedding_after(1))
    with pytest.raises(Crash):
        eng.ingest()
    monkeypatch.undo()
    e2 = check_old_everywhere(True)
    a = e2.ask(THREADS_Q)
    assert not a.refused and {c.doc_id for c in a.citations} & {"000_bff1cb9deae7c743.txt", "001_203602bb6eb36842.txt"}, a
    for c in a.citations:
        assert e2.document_text(c.doc_id)[c.start:c.end] == c.quote

    # 4. the next ingest finishes the job and leaves no partial chunks behind
    report = Engine(fresh_settings).ingest()
    st = {f.doc_id: f.status for f in report.files}
    assert st[D3] == "updated" and st[D0] == "unchanged", st
    e3 = Engine(fresh_settings)
    v = _versions(e3)
    assert v[D0] == new0 and v[D3] == new3
    assert e3.store.count() == sum(d.chunks for d in e3.documents())


def test_a_file_that_fails_to_embed_is_reported_and_the_files_around_it_are_stored(fresh_settings, monkeypatch):
    """Ingestion embeds one file while it writes the previous one: a failure must stay with its own file."""
    from app.engine import Engine
    from app.errors import EmbedderError

    eng = Engine(fresh_settings)
    real_embed, calls = eng.embedder.embed_documents, {"n": 0}

    def embed(texts):
        calls["n"] += 1
        if calls["n"] == 2:
            raise EmbedderError("cannot reach Ollama (simulated)")
        return real_embed(texts)

    monkeypatch.setattr(eng.embedder, "embed_documents", embed)
    report = eng.ingest()
    assert [f.doc_id for f in report.files] == SEED_DOCS  # in file order
    assert [f.status for f in report.files] == ["added", "failed", "added", "added", "added"]
    assert "simulated" in report.files[1].error and report.files[1].embedded == 0
    assert sorted(d.doc_id for d in eng.documents()) == sorted(set(SEED_DOCS) - {D1})
    assert eng.store.count() == sum(f.embedded for f in report.files)

    monkeypatch.undo()  # the next run adds only the missing file
    st = {f.doc_id: f.status for f in Engine(fresh_settings).ingest().files}
    assert st == {d: ("added" if d == D1 else "unchanged") for d in SEED_DOCS}
