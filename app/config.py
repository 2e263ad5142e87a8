"""The one settings object: defaults < citeqa.toml < CITEQA_* env vars < CLI flags (init kwargs)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from app.errors import ConfigError

CONFIG_FILE_ENV = "CITEQA_CONFIG"


def _default_ollama_host() -> str:
    return os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITEQA_", extra="forbid", validate_default=True)

    # where things live
    data_dir: Path = Field(Path(".citeqa"), description="Index and caches (embedded Chroma lives here).")
    docs_path: Path = Field(Path("seeds"), description="What `citeqa ingest` reads when no path is given.")
    model_cache: Path = Field(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "citeqa",
                              description="Where the local embedder's ONNX files are built once (from installed weights).")
    collection: str = Field("citeqa", min_length=3, max_length=60, description="Chroma collection name.")
    chroma_url: str | None = Field(None, description="Use a Chroma server (`chroma run`) instead of the embedded store.")

    # embedding and chunking (recorded in the index)
    embedder: Literal["local", "ollama"] = Field("local", description="`local` all-MiniLM-L6-v2 or `ollama`.")
    embed_model: str = Field("", description="Ollama embedding model name (e.g. nomic-embed-text) when embedder=ollama.")
    embed_precision: Literal["auto", "int8", "fp32"] = Field(
        "auto", description="Local embedder: `auto` (an existing index keeps what it records; a new one takes int8 "
                            "where the CPU has VNNI/AMX or a measured probe says so, else fp32), `int8` or `fp32`.")
    embed_batch_size: int = Field(32, ge=1, le=1024, description="Texts per request to an Ollama embedder.")
    chunk_size: int = Field(160, ge=32, le=2048, description="Chunk size in tokens.")
    chunk_overlap: int = Field(24, ge=0, le=512)

    # generation
    backend: Literal["auto", "llamacpp", "ollama", "openai"] = Field("auto", description="Language-model backend.")
    model: str | None = Field(None, description="GGUF path (llamacpp) or Ollama model name; default per backend.")
    ollama_model: str = Field("llama3.2", description="Ollama model used by backend=ollama/auto when --model is not set.")
    ollama_host: str = Field(default_factory=_default_ollama_host, description="Ollama server (OLLAMA_HOST).")
    ollama_connect_timeout: float = Field(2.0, gt=0)
    ollama_read_timeout: float = Field(300.0, gt=0)
    # any OpenAI-compatible server (vLLM, llama.cpp's server, LM Studio, ...): backend=openai, or first in auto when set
    openai_base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1.")
    openai_api_key: str = Field("", description="Its API key (sent as Authorization: Bearer), if it needs one.")
    openai_model: str = Field("", description="Model name on that server; default: the first it lists.")
    openai_connect_timeout: float = Field(2.0, gt=0)
    openai_read_timeout: float = Field(300.0, gt=0)
    # citeqa's own OpenAI-compatible API (`citeqa serve`, and /v1 of `citeqa chat`)
    api_key: str = Field("", description="Clients must send Authorization: Bearer KEY; needed to bind beyond loopback.")
    n_threads: int = Field(max(1, min(os.cpu_count() or 2, 8)), ge=1)
    n_ctx: int = Field(2048, ge=256)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(96, ge=8, le=4096)
    seed: int = 0
    few_shot: bool = Field(True, description="Show the model one worked example (prompts/example.txt).")

    # retrieval and grounding
    top_k: int = Field(5, ge=1, le=50, description="Passages retrieved (hybrid vector + BM25).")
    # grounding: None keeps the calibrated value of app/grounding/policy.py (GroundingPolicy)
    evidence_k: int | None = Field(None, ge=1, le=20, description="Evidence sentences shown to the model.")
    min_evidence: float | None = Field(None, ge=0.0, le=1.0, description="Below this evidence score the answer is a refusal.")
    min_support: float | None = Field(None, ge=0.0, le=1.0, description="A sentence needs this support score to stay.")
    relevance_margin: float | None = Field(None, ge=0.0, le=1.0, description="A model sentence must cite evidence within this of the best evidence score.")
    max_question_chars: int = Field(2000, ge=10)
    translator: Literal["apertium", "none"] = Field(
        "apertium", description="Translate a question into the documents' language for searching and scoring "
                                "evidence (`apertium` when installed; `none`: use the question as asked).")

    # chat server
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=1, le=65535)
    max_upload_mb: float = Field(20.0, gt=0)

    @field_validator("chroma_url", "openai_base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (e.g. http://127.0.0.1:8000)")
        return v.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get(CONFIG_FILE_ENV, "citeqa.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_path))

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"


def load_settings(flags: frozenset[str] | set[str] = frozenset(), **overrides: Any) -> Settings:
    """Build Settings; CLI flags come in as overrides (None means 'not given'). `flags`: the settings the caller
    takes as command-line flags, named in an error about one of them."""
    named = os.environ.get(CONFIG_FILE_ENV)
    if named and not Path(named).is_file():
        raise ConfigError(f"{CONFIG_FILE_ENV}={named}: no such settings file (fix the path or unset {CONFIG_FILE_ENV})")
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        where = f"citeqa.toml, CITEQA_{field.upper()}" + (f" or --{field.replace('_', '-')}" if field in flags else "")
        raise ConfigError(f"setting '{field}': {err['msg']} (check {where})") from None
    except Exception as e:  # a malformed citeqa.toml
        raise ConfigError(f"cannot read settings: {e} (fix citeqa.toml or {CONFIG_FILE_ENV})") from None
