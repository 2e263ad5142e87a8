"""Optional per-folder catalog (catalog.toml or catalog.json): title, author, language per file name."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

from app.errors import DocumentError

NAMES = ("catalog.toml", "catalog.json")


def load_catalog(folder: Path) -> dict[str, dict[str, str]]:
    for name in NAMES:
        f = folder / name
        if f.is_file():
            try:
                data = tomllib.loads(f.read_text("utf-8")) if f.suffix == ".toml" else json.loads(f.read_text("utf-8"))
            except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
                raise DocumentError(f"{f}: invalid catalog ({e}); fix or remove it") from None
            if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
                raise DocumentError(f"{f}: a catalog maps file names to tables with title/author/language")
            return {k: {kk: str(vv) for kk, vv in v.items()} for k, v in data.items()}
    return {}
