"""One store contract, run against embedded Chroma and a real Chroma server (`chroma run` from the venv)."""
from __future__ import annotations

import pytest

from _fixtures_core import D0, D1, SEED_DOCS, THREADS_Q
from chroma_server import ChromaServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "db").start()
    yield server
    server.stop()


@pytest.mark.parametrize("kind", ["embedded", "server"])
def test_store_contract(kind, fresh_settings, request):
    from app.engine import Engine
    from app.errors import IndexMismatchError
    from index.store import Fingerprint

    s = fresh_settings
    if kind == "server":
        url = request.getfixturevalue("chroma_server").url
        s = s.model_copy(update={"chroma_url": url})
    eng = Engine(s)
    assert not eng.store.exists()
    assert eng.documents() == []

    report = eng.ingest()
    assert not report.failed and report.embedded > 0
    if kind == "server":  # nothing was written locally: the chunks live in the server
        assert not s.chroma_dir.exists()
        assert eng.store.count() == report.embedded
    docs = eng.documents()
    assert sorted(d.doc_id for d in docs) == sorted(SEED_DOCS)
    assert all(d.chunks > 0 and len(d.hash) == 64 for d in docs)

    hits = eng.search(THREADS_Q)
    assert hits and hits[0].doc_id in (D0, D1)
    assert any("seven hours" in h.text or "sette ore" in h.text for h in hits[:3])

    again = Engine(s).ingest()
    assert again.embedded == 0 and {f.status for f in again.files} == {"unchanged"}

    # the collection records how it was built
    fp = Fingerprint.from_settings(s, eng.embedder.id)
    assert eng.store.fingerprint() == fp
    assert eng.store.check(fp) is True
    other = Fingerprint(fp.embedder, fp.chunk_size + 32, fp.chunk_overlap)
    with pytest.raises(IndexMismatchError, match="citeqa ingest --rebuild"):
        eng.store.check(other)
    other_s = s.model_copy(update={"chunk_size": s.chunk_size + 32})
    with pytest.raises(IndexMismatchError):
        Engine(other_s).search(THREADS_Q)

    # a rebuild with the new settings swaps collections (rename) and works
    rebuilt = Engine(other_s)
    report = rebuilt.ingest(rebuild=True)
    assert not report.failed and report.rebuilt
    assert sorted(d.doc_id for d in rebuilt.documents()) == sorted(SEED_DOCS)
    assert rebuilt.search(THREADS_Q)[0].doc_id in (D0, D1)
    assert rebuilt.store.fingerprint() == Fingerprint.from_settings(other_s, rebuilt.embedder.id)
    with pytest.raises(IndexMismatchError):
        Engine(s).search(THREADS_Q)


def test_a_chroma_server_that_dies_is_named_with_its_url_not_called_an_empty_index(fresh_settings, tmp_path):
    from app.engine import Engine
    from app.errors import StoreError

    server = ChromaServer(tmp_path / "db").start()
    try:
        s = fresh_settings.model_copy(update={"chroma_url": server.url})
        eng = Engine(s)
        assert not eng.ingest().failed
        assert eng.search(THREADS_Q)
    finally:
        server.stop()
    eng.retriever._state = None  # as a new session would: it must ask the store
    with pytest.raises(StoreError, match=server.url.replace(".", r"\.")) as e:
        eng.search(THREADS_Q)
    assert "empty" not in str(e.value)
    with pytest.raises(StoreError, match="chroma run"):
        eng.documents()
