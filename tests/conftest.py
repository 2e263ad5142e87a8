"""Shared fixtures: one real index of seeds/ (real embedder, real embedded Chroma) per test session."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# no Ollama in tests unless a test starts the stand-in: point auto-detection at a closed port
os.environ["OLLAMA_HOST"] = "http://127.0.0.1:9"

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="session")
def seeds_copy(tmp_path_factory) -> Path:
    """A private copy of seeds/ (tests may edit files)."""
    d = tmp_path_factory.mktemp("seeds")
    for f in SEEDS.iterdir():
        if f.is_file():
            shutil.copy2(f, d / f.name)
    return d


@pytest.fixture(scope="session")
def seeded_settings(tmp_path_factory, seeds_copy):
    from app.config import load_settings

    data = tmp_path_factory.mktemp("citeqa-data")
    return load_settings(data_dir=data, docs_path=seeds_copy, backend="llamacpp")


@pytest.fixture(scope="session")
def engine(seeded_settings):
    """The real pipeline: MiniLM embeddings, embedded Chroma, SmolLM2-135M via llama.cpp."""
    from app.engine import Engine

    eng = Engine(seeded_settings)
    report = eng.ingest()
    assert not report.failed, [f.error for f in report.failed]
    return eng


@pytest.fixture
def fresh_settings(tmp_path):
    """Settings with an empty private data dir and a private copy of the seeds."""
    from app.config import load_settings

    docs = tmp_path / "docs"
    docs.mkdir()
    for f in SEEDS.iterdir():
        if f.suffix == ".txt" or f.name == "catalog.toml":
            shutil.copy2(f, docs / f.name)
    return load_settings(data_dir=tmp_path / "data", docs_path=docs, backend="llamacpp")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
