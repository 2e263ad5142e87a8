"""Language detection by stop-word counts (NLTK lists bundled with llama-index-core; deterministic, offline)."""
from __future__ import annotations

import re
from functools import lru_cache

LANGS = {
    "en": "english", "it": "italian", "fr": "french", "de": "german", "es": "spanish",
    "pt": "portuguese", "nl": "dutch", "sv": "swedish", "da": "danish", "fi": "finnish",
}
NAMES = {"en": "English", "it": "Italian", "fr": "French", "de": "German", "es": "Spanish",
         "pt": "Portuguese", "nl": "Dutch", "sv": "Swedish", "da": "Danish", "fi": "Finnish"}
# what each language is called in English, in Italian and in itself ("the Italian article", "l'articolo inglese")
OTHER_NAMES = {"en": ("inglese", "english"), "it": ("italiano", "italiana"), "fr": ("francese", "français"),
               "de": ("tedesco", "deutsch"), "es": ("spagnolo", "español"), "pt": ("portoghese", "português")}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)


@lru_cache(maxsize=1)
def stopwords() -> dict[str, frozenset[str]]:
    """NLTK's stop-word lists per language code, from the NLTK data that llama-index-core bundles
    (its `globals_helper` puts that folder on NLTK's path; nothing is downloaded)."""
    from llama_index.core.utils import globals_helper
    from nltk.corpus import stopwords as nltk_stopwords

    _ = globals_helper.stopwords  # adds llama-index's bundled nltk_data to nltk.data.path
    out = {}
    for code, lang_name in LANGS.items():
        try:
            out[code] = frozenset(nltk_stopwords.words(lang_name))
        except (LookupError, OSError):
            continue
    return out


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def detect(text: str, default: str = "en", prior: str | None = None) -> str:
    """Best language code for text; `default` when the text has too few function words to tell.

    `prior`, the language the conversation has been in, counts as one more function word of its own: a short
    follow-up ("E quando dovrebbe uscire?" shares "e" with Italian and "e", "quando" with Portuguese) stays in
    the conversation's language unless its own words say otherwise, and a whole sentence is decided by them."""
    toks = []
    for w in words(text):
        toks.extend(w.split("'"))  # l'acquisizione -> l, acquisizione
    if not toks:
        return prior or default
    scores = {code: sum(1 for t in toks if t in sw) for code, sw in stopwords().items()}
    if prior in scores:
        scores[prior] += 1
    pick = prior if prior in scores else default
    best = max(scores, key=lambda c: (scores[c], c == pick))
    if scores[best] == 0 or (scores[best] == scores.get(pick, 0)):
        return pick
    return best


def name(code: str) -> str:
    return NAMES.get(code, code)


def native_name(code: str) -> str:
    """Other names of the language (Italian and its own), space-separated."""
    return " ".join(OTHER_NAMES.get(code, ()))
