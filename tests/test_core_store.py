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
    assert eng.store.live() is None
    assert eng.documents() == []

    report = eng.ingest()
    assert not report.failed and report.embedded > 0
    if kind == "server":  # nothing was written locally: the chunks live in the server
        assert not s.chroma_dir.exists()
        assert eng.store.client.get_collection(s.collection).count() == report.embedded
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
    assert eng.store.fingerprint_of(eng.store.live()) == fp
    assert eng.store.check(fp) is not None
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
    assert rebuilt.store._get(rebuilt.store.side_name) is None
    with pytest.raises(IndexMismatchError):
        Engine(s).search(THREADS_Q)
