"""Load prompt templates from the `prompts` package (text files, not code)."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

from app.errors import ConfigError


@lru_cache(maxsize=64)
def template(name: str) -> str:
    try:
        return resources.files("prompts").joinpath(f"{name}.txt").read_text("utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(f"prompt template prompts/{name}.txt is missing; reinstall citeqa") from None


def localized(name: str, lang: str) -> str:
    """`name.<lang>` when it exists, else `name.en`."""
    try:
        return template(f"{name}.{lang}")
    except ConfigError:
        return template(f"{name}.en")


def prompts_hash() -> str:
    h = hashlib.sha256()
    for f in sorted(resources.files("prompts").iterdir(), key=lambda p: p.name):
        if f.name.endswith(".txt"):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]
