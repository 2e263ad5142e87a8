"""The local embedder: ONNX copies of all-MiniLM-L6-v2 built from the installed weights, int8 by default."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import SEEDS

pytestmark = pytest.mark.slow


def _seed_chunks(settings) -> list[str]:
    """The seeds' chunks, exactly as ingestion makes them."""
    from index.chunking import chunk_spans, make_splitter
    from index.clean import kept_spans

    splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)
    out: list[str] = []
    for f in sorted(SEEDS.glob("*.txt")):
        text = f.read_text("utf-8")
        out += [c.text for c in chunk_spans(text, kept_spans(text)[0], splitter)]
    return out


def _questions() -> list[str]:
    rows = [json.loads(line) for line in (SEEDS / "qa.jsonl").read_text("utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows if r.get("answers")]


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    """Chunk and question vectors of the seeds from fp32, int8 and sentence-transformers (the reference)."""
    from sentence_transformers import SentenceTransformer

    from app.config import load_settings
    from index.embedders import LocalEmbedder
    from index.onnx_model import weights_dir

    s = load_settings(data_dir=tmp_path_factory.mktemp("d"))
    chunks, questions = _seed_chunks(s), _questions()
    out = {}
    for precision in ("fp32", "int8"):
        e = LocalEmbedder(precision, s.model_cache)
        out[precision] = (np.array(e.embed_documents(chunks)), np.array([e.embed_query(q) for q in questions]))
    st = SentenceTransformer(str(weights_dir()), device="cpu")
    out["st"] = (st.encode(chunks, normalize_embeddings=True), st.encode(questions, normalize_embeddings=True))
    return out


def test_fp32_gives_the_sentence_transformers_vectors(vectors):
    for ours, ref in zip(vectors["fp32"], vectors["st"]):
        assert ours.shape == ref.shape
        assert (ours * ref).sum(1).min() > 0.9999


def test_int8_finds_the_same_passages_as_fp32(vectors):
    """Quantisation moves vectors a little; what a user sees (which passages come first) must not change."""
    (c8, q8), (c32, q32) = vectors["int8"], vectors["fp32"]
    assert (c8 * c32).sum(1).mean() > 0.98
    top32 = np.argsort(-(q32 @ c32.T), axis=1)[:, :5]
    top8 = np.argsort(-(q8 @ c8.T), axis=1)[:, :5]
    same_first = np.mean([a[0] in b[:2] for a, b in zip(top32, top8)])
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(top32, top8)])
    assert same_first >= 0.95, same_first
    assert overlap >= 0.8, overlap


def test_a_corrupt_cached_model_is_rebuilt(tmp_path):
    from index.embedders import LocalEmbedder
    from index.onnx_model import onnx_path

    first = LocalEmbedder("int8", tmp_path).embed_query("Who leads AI research at Meta?")
    f = onnx_path(tmp_path, "int8")
    size = f.stat().st_size
    f.write_bytes(f.read_bytes()[: size // 3])  # e.g. the disk filled up while it was written
    again = LocalEmbedder("int8", tmp_path).embed_query("Who leads AI research at Meta?")
    assert f.stat().st_size == size
    assert np.allclose(first, again, atol=1e-6)


def test_an_unwritable_model_cache_gives_one_line_error(tmp_path):
    from app.errors import EmbedderError
    from index.embedders import LocalEmbedder

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(EmbedderError, match="model_cache") as e:
        LocalEmbedder("int8", blocker / "cache").embed_query("x")
    assert "\n" not in str(e.value)


def test_switching_precision_asks_for_a_rebuild(engine):
    from app.engine import Engine
    from app.errors import IndexMismatchError

    other = engine.settings.model_copy(update={"embed_precision": "fp32"})
    with pytest.raises(IndexMismatchError, match="citeqa ingest --rebuild"):
        Engine(other).search("How quickly did Threads cross 10 million users after launch?")


def test_the_embedder_starts_no_telemetry(tmp_path):
    """OpenVINO and NNCF start opt-out usage telemetry when imported (it writes ~/intel/, NNCF sends events)."""
    import os
    import subprocess
    import sys

    from app.config import load_settings
    from tests.conftest import ROOT

    home = tmp_path / "home"
    home.mkdir()
    code = (
        "from index.embedders import LocalEmbedder\n"
        f"LocalEmbedder('int8', {str(load_settings().model_cache)!r}).embed_query('Who leads AI research at Meta?')\n"
        "import nncf, sys\n"
        "from nncf.telemetry import wrapper\n"
        "print(type(wrapper.telemetry).__name__, sys.modules['openvino_telemetry'])\n"
    )
    env = os.environ | {"HOME": str(home), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-800:]
    assert out.stdout.split() == ["MagicMock", "None"]
    assert not list(home.iterdir())  # no ~/intel/openvino_ga_cid, no usage counter
