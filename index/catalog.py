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


FIELDS = ("title", "author", "language")


def catalog_warnings(folder: Path, catalog: dict[str, dict[str, str]]) -> list[str]:
    """One line for each catalog entry that names no file of its folder, and each field it does not know: both were
    ignored silently."""
    name = next((n for n in NAMES if (folder / n).is_file()), NAMES[0])
    out = []
    for key, entry in catalog.items():
        if not (folder / key).is_file():
            out.append(f"{folder / name}: [\"{key}\"] names no file in {folder} (keys are file names, "
                       f"e.g. [\"report.md\"]); ignored")
        for k in entry:
            if k not in FIELDS:
                out.append(f"{folder / name}: [\"{key}\"] {k} is not a catalog field ({', '.join(FIELDS)}); ignored")
    return out
