"""Language detection by stop-word counts (NLTK lists bundled with llama-index-core; deterministic, offline)."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

LANGS = {
    "en": "english", "it": "italian", "fr": "french", "de": "german", "es": "spanish",
    "pt": "portuguese", "nl": "dutch", "sv": "swedish", "da": "danish", "fi": "finnish",
}
NAMES = {"en": "English", "it": "Italian", "fr": "French", "de": "German", "es": "Spanish",
         "pt": "Portuguese", "nl": "Dutch", "sv": "Swedish", "da": "Danish", "fi": "Finnish"}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)


@lru_cache(maxsize=1)
def _stopwords() -> dict[str, frozenset[str]]:
    import llama_index.core

    base = Path(llama_index.core.__file__).parent / "_static" / "nltk_cache" / "corpora" / "stopwords"
    out = {}
    for code, name in LANGS.items():
        f = base / name
        if f.exists():
            out[code] = frozenset(w.strip() for w in f.read_text(encoding="utf-8").split() if w.strip())
    return out


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def detect(text: str, default: str = "en") -> str:
    """Best language code for text; `default` when the text has too few function words to tell."""
    toks = []
    for w in words(text):
        toks.extend(w.split("'"))  # l'acquisizione -> l, acquisizione
    if not toks:
        return default
    scores = {code: sum(1 for t in toks if t in sw) for code, sw in _stopwords().items()}
    best = max(scores, key=lambda c: (scores[c], c == default))
    if scores[best] == 0 or (scores[best] == scores.get(default, 0)):
        return default
    return best


def name(code: str) -> str:
    return NAMES.get(code, code)
