"""`citeqa` as a user runs it (subprocess `python -m app`): ingestion, answers, errors, settings, GGUF paths.

All tests share one data dir (module fixture); they run in file order and each leaves the index answerable.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from _fixtures_core import D0, D1, D3, D4, SEED_DOCS, THREADS_Q, assert_one_line_error, base_env, citeqa, copy_seeds

pytestmark = pytest.mark.slow


@dataclass
class Site:
    cwd: Path
    docs: Path
    data: Path

    def run(self, *args: str, env: dict | None = None, data: bool = True):
        extra = ["--data-dir", str(self.data)] if data else []
        return citeqa([*args, *extra], cwd=self.cwd, env=env)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    root = tmp_path_factory.mktemp("cli")
    s = Site(cwd=root / "work", docs=copy_seeds(root / "docs"), data=root / "data")
    s.cwd.mkdir()
    return s


@pytest.fixture(scope="module")
def first_ingest(site):
    return site.run("ingest", str(site.docs), "--explain")


def _docs(site) -> dict:
    r = site.run("docs", "--json")
    assert r.code == 0, str(r)
    return {d["doc_id"]: d for d in r.json()}


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_first_ingest_and_explain(site, first_ingest):
    r = first_ingest
    assert r.code == 0, str(r)
    for d in SEED_DOCS:
        assert any(line.startswith("added") and d in line for line in r.out.splitlines()), (d, str(r))
    assert "embedded " in r.out and "5 added" in r.out, str(r)
    # --explain shows the boilerplate it dropped, with a reason
    assert any("dropped" in line and "Subscribe to The Belamy" in line for line in r.out.splitlines()), str(r)
    assert "Traceback" not in r.err


def test_bad_inputs_give_one_line_errors(site, first_ingest, tmp_path):
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x00\x01\x02binary\x00" * 200)
    empty = tmp_path / "empty.md"
    empty.write_text("")
    r = site.run("ingest", str(binary))
    assert_one_line_error(r, "blob.txt", "binary")
    r = site.run("ingest", str(empty))
    assert_one_line_error(r, "empty.md", "empty")
    r = site.run("ingest", str(tmp_path / "missing.txt"))
    assert_one_line_error(r, "missing.txt", "no such file")
    r = site.run("ask", "")
    assert_one_line_error(r, "empty")
    r = site.run("ask", "a" * 100_000)
    assert_one_line_error(r, "100,000", "2,000")
    # nothing of that reached the index
    docs = _docs(site)
    assert sorted(docs) == sorted(SEED_DOCS)


def test_ask_says_which_misspelt_name_it_read_as_a_documents_name(site, first_ingest):
    """"Zuckerburg" was a refusal (no passage mentions it); it is read as Zuckerberg, and the user is told."""
    r = site.run("ask", "What did Zuckerburg say on the Lex Fridman podcast?")
    assert r.code == 0 and "Zuckerberg" in r.out and "don't say" not in r.out, str(r)
    assert "read “Zuckerburg” as “Zuckerberg”" in r.err, str(r)


def test_ask_json_after_bad_inputs(site, first_ingest):
    r = site.run("ask", THREADS_Q, "--json")
    assert r.code == 0, str(r)
    a = r.json()
    for key in ("question", "answer", "refused", "citations", "backend", "model", "timings"):
        assert key in a, key
    assert a["question"] == THREADS_Q
    assert a["refused"] is False, a["answer"]
    assert a["backend"] == "llamacpp" and a["model"].endswith(".gguf")
    assert {c["doc_id"] for c in a["citations"]} & {D0, D1}
    for c in a["citations"]:
        assert set(c) >= {"n", "doc_id", "title", "chunk_id", "start", "end", "quote", "supported", "score"}, c
        assert c["supported"] is True and c["quote"] and c["end"] > c["start"]
        text = (site.docs / c["doc_id"]).read_text("utf-8")
        assert text[c["start"]:c["end"]] == c["quote"]
    t = a["timings"]
    assert set(t) >= {"retrieve_ms", "ttft_ms", "total_ms", "tokens", "tokens_per_s"}
    assert t["total_ms"] >= t["ttft_ms"] > 0 and t["tokens"] > 0 and t["tokens_per_s"] > 0


def test_reingest_edit_and_prune(site, first_ingest):
    before = _docs(site)
    assert {d: before[d]["hash"] for d in before} == {d: _sha(site.docs / d) for d in SEED_DOCS}

    r = site.run("ingest", str(site.docs))
    assert r.code == 0, str(r)
    assert "nothing to embed" in r.out and "5 unchanged" in r.out, str(r)

    # edit one file, delete another: only the edited one is embedded again, the deleted one is pruned
    f3 = site.docs / D3
    f3.write_text(f3.read_text("utf-8") + "\n\nThe article was updated with a note about the release of the model.\n", "utf-8")
    gone = site.docs / D4
    kept_copy = site.cwd.parent / D4
    shutil.move(gone, kept_copy)
    r = site.run("ingest", str(site.docs), "--prune")
    assert r.code == 0, str(r)
    lines = r.out.splitlines()
    assert any(ln.startswith("updated") and D3 in ln and "embedded=0" not in ln for ln in lines), str(r)
    assert any(ln.startswith("pruned") and D4 in ln for ln in lines), str(r)
    for d in (D0, D1, "002_a032899a38035caa.txt"):
        assert any(ln.startswith("unchanged") and d in ln and "embedded=0" in ln for ln in lines), (d, str(r))
    n3 = next(int(ln.split("chunks=")[1].split()[0]) for ln in lines if ln.startswith("updated"))
    assert f"embedded {n3} chunks" in r.out, str(r)

    after = _docs(site)
    assert D4 not in after
    assert after[D3]["hash"] == _sha(f3) != before[D3]["hash"]
    for d in (D0, D1, "002_a032899a38035caa.txt"):
        assert after[d]["hash"] == before[d]["hash"]
    # without --prune a deleted file's document stays
    shutil.move(kept_copy, gone)
    r = site.run("ingest", str(site.docs))
    assert r.code == 0 and any(ln.startswith("added") and D4 in ln for ln in r.out.splitlines()), str(r)
    gone.unlink()
    r = site.run("ingest", str(site.docs))
    assert r.code == 0 and D4 in _docs(site), str(r)
    shutil.copy2(Path(__file__).resolve().parents[1] / "seeds" / D4, gone)


def test_config_precedence(site, first_ingest, monkeypatch, tmp_path):
    from app.config import load_settings

    # in-process, all four layers
    monkeypatch.chdir(tmp_path)
    for k in ("CITEQA_TOP_K", "CITEQA_CONFIG"):
        monkeypatch.delenv(k, raising=False)
    assert load_settings().top_k == 5
    (tmp_path / "citeqa.toml").write_text("top_k = 2\n")
    assert load_settings().top_k == 2
    monkeypatch.setenv("CITEQA_TOP_K", "3")
    assert load_settings().top_k == 3
    assert load_settings(top_k=4).top_k == 4
    assert load_settings(top_k=None).top_k == 3  # a flag not given does not override

    # the real command: toml < env < flag, seen in how many passages `search` returns
    toml = site.cwd / "citeqa.toml"
    toml.write_text(f"top_k = 2\ndata_dir = \"{site.data.as_posix()}\"\n")
    try:
        r = site.run("search", THREADS_Q, "--json", data=False)
        assert r.code == 0 and len(r.json()) == 2, str(r)  # toml (and its data_dir) used from the cwd
        r = site.run("search", THREADS_Q, "--json", "--top-k", "4", data=False, env=base_env(CITEQA_TOP_K="3"))
        assert r.code == 0 and len(r.json()) == 4, str(r)
        r = site.run("search", THREADS_Q, "--json", data=False, env=base_env(CITEQA_TOP_K="3"))
        assert r.code == 0 and len(r.json()) == 3, str(r)
        r = site.run("search", THREADS_Q, "--json", data=False, env=base_env(CITEQA_TOP_K="0"))
        assert_one_line_error(r, "top_k")
    finally:
        toml.unlink()


def test_any_gguf_by_path(site, first_ingest, tmp_path):
    from app.llm.llamacpp import default_gguf

    copy = tmp_path / "my model.gguf"
    shutil.copy2(default_gguf(), copy)
    r = site.run("ask", THREADS_Q, "--json", "--model", str(copy))
    assert r.code == 0, str(r)
    a = r.json()
    assert a["backend"] == "llamacpp" and a["model"] == "my model.gguf"
    assert not a["refused"] and a["citations"], a

    r = site.run("ask", THREADS_Q, "--model", str(tmp_path / "nope.gguf"))
    assert_one_line_error(r, "nope.gguf", "no such", progress_noise=True)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"this is not a gguf model\n" * 100)
    r = site.run("ask", THREADS_Q, "--model", str(junk))
    assert_one_line_error(r, "junk.gguf", "gguf", progress_noise=True)


def test_auto_with_a_non_gguf_model_path_is_an_error(site, first_ingest, tmp_path):
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"not a model\n" * 100)
    r = site.run("ask", THREADS_Q, "--model", str(weights))
    assert_one_line_error(r, "weights.bin", progress_noise=True)


def test_changed_embedder_or_chunking_needs_rebuild(site, first_ingest):
    r = site.run("search", THREADS_Q, "--chunk-size", "96")
    assert_one_line_error(r, "citeqa ingest --rebuild")
    r = site.run("ask", THREADS_Q, "--embedder", "ollama", "--embed-model", "nomic-embed-text")
    assert_one_line_error(r, "citeqa ingest --rebuild")
    # plain ingest with the new settings refuses too (it would mix two chunkings)
    r = site.run("ingest", str(site.docs), "--chunk-size", "96")
    assert_one_line_error(r, "citeqa ingest --rebuild")

    r = site.run("ingest", str(site.docs), "--rebuild", "--chunk-size", "96")
    assert r.code == 0, str(r)
    assert "5 added" in r.out, str(r)
    r = site.run("ask", THREADS_Q, "--json", "--chunk-size", "96")
    assert r.code == 0, str(r)
    a = r.json()
    assert not a["refused"] and {c["doc_id"] for c in a["citations"]} & {D0, D1}, a
    r = site.run("docs", "--json", "--chunk-size", "96")
    assert r.code == 0 and sorted(d["doc_id"] for d in r.json()) == sorted(SEED_DOCS), str(r)
    # and now the old chunking is the mismatched one
    r = site.run("search", THREADS_Q)
    assert_one_line_error(r, "citeqa ingest --rebuild")
