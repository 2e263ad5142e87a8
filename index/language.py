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
# what each language is called in English, in Italian and in itself ("the Italian article", "l'articolo inglese")
OTHER_NAMES = {"en": ("inglese", "english"), "it": ("italiano", "italiana"), "fr": ("francese", "français"),
               "de": ("tedesco", "deutsch"), "es": ("spagnolo", "español"), "pt": ("portoghese", "português")}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)


# interrogatives NLTK's Italian list lacks ("quando" is only in its Portuguese one, so "E quando esce?" read as
# Portuguese): the words a short question is made of
_EXTRA = {"it": frozenset({"quando", "perche", "quali", "cosa"})}


@lru_cache(maxsize=1)
def stopwords() -> dict[str, frozenset[str]]:
    """NLTK's stop-word lists per language code, from the NLTK data that llama-index-core bundles (nothing is
    downloaded), with the interrogatives a list lacks (`_EXTRA`). The lists are plain files, one word a line:
    read directly, they spare every command importing NLTK (and SciPy through it), 1.5-2.5 s on a cold start;
    NLTK's own reader is the fallback where that folder is not bundled."""
    import llama_index.core

    folder = Path(llama_index.core.__file__).parent / "_static" / "nltk_cache" / "corpora" / "stopwords"
    out = {}
    for code, lang_name in LANGS.items():
        try:
            words_ = (folder / lang_name).read_text(encoding="utf-8").split()
        except OSError:
            words_ = _nltk_words(lang_name)
        if words_:
            out[code] = frozenset(words_) | _EXTRA.get(code, frozenset())
    return out


@lru_cache(maxsize=1)
def function_words() -> frozenset[str]:
    """The stop words of every language, in one set."""
    return frozenset().union(*stopwords().values())


def _nltk_words(lang_name: str) -> list[str]:
    from llama_index.core.utils import globals_helper
    from nltk.corpus import stopwords as nltk_stopwords

    _ = globals_helper.stopwords  # adds llama-index's bundled nltk_data to nltk.data.path
    try:
        return nltk_stopwords.words(lang_name)
    except (LookupError, OSError):
        return []


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def detect(text: str, default: str = "en", prior: str | None = None) -> str:
    """Best language code for text by its function words; `default` when it has none.

    `prior`, the language the conversation has been in, decides a tie between the best-scoring languages: "E
    quando?" is Italian or Portuguese by its words, and Italian after Italian turns; "Why?" after Italian turns is
    still English."""
    toks = []
    for w in words(text):
        toks.extend(w.split("'"))  # l'acquisizione -> l, acquisizione
    if not toks:
        return prior or default
    scores = {code: sum(1 for t in toks if t in sw) for code, sw in stopwords().items()}
    top = max(scores.values())
    if top == 0:
        return prior or default
    tied = [c for c, v in scores.items() if v == top]
    for pick in (prior, default):
        if pick in tied:
            return pick
    return tied[0]


def name(code: str) -> str:
    return NAMES.get(code, code)


def native_name(code: str) -> str:
    """Other names of the language (Italian and its own), space-separated."""
    return " ".join(OTHER_NAMES.get(code, ()))
