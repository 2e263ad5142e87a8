"""Translating a question into the documents' language, for searching and scoring evidence.

MiniLM, the offline embedder, is an English model: an Italian question over English sentences scores them by
shared names and cognates only. A translation of the question, used beside it, lets English evidence be
found and judged by its meaning. It is never shown as an answer and never quoted.

The default translator is Apertium, a rule-based machine translator that runs offline from Debian packages
(`apertium`, `cg3` and the language-pair data; `make setup` installs them where apt is available). Italian
reaches English through Spanish (`ita-spa`, then `spa-eng`): Debian has no direct pair. Names, numbers and
quoted titles pass through untranslated ("Meta" is not the Italian for "goal"). Without Apertium, or for a
pair it cannot route, `translate` returns "" and the question is used as asked.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache
from typing import Protocol

# language codes: the detector's ISO 639-1 -> Apertium's ISO 639-3
_ISO3 = {"en": "eng", "it": "ita", "es": "spa", "fr": "fra", "de": "deu", "pt": "por", "ca": "cat", "nl": "nld",
         "sv": "swe", "da": "dan", "fi": "fin"}
# a name: a capitalised word that is not the first of its sentence, a word with a capital inside ("OpenAI") or
# with digits ("4chan", "GPT-4"), followed by its version number ("Llama 3.1"); or a quoted title
_QUOTED = r"(?<![\w'’])['\"“‘«][^'\"”’»]{3,}['\"”’»](?![\w'’])"
_NAME = r"(?<![\w'’])(?:[^\W\d_]*[A-Z][\w\-.]*[\w]|[\w\-]*\d[\w\-.]*\w|[\w\-]*\d)(?:\s+\d+(?:\.\d+)*[a-zA-Z]?\b)?"
_PROTECT = re.compile(_QUOTED + "|" + _NAME)
_SENT_START = re.compile(r"(^|[.!?:;]\s+)$")


class Translator(Protocol):
    name: str

    def translate(self, text: str, source: str, target: str) -> str:
        """`text` in language `target` (ISO 639-1 codes), or "" when this translator cannot."""

    def translate_many(self, texts: list[str], source: str, target: str) -> list[str]:
        """Each of `texts` translated (one call for all: titles of a whole corpus), "" where it cannot."""


class NoTranslator:
    name = "none"

    def translate(self, text: str, source: str, target: str) -> str:
        return ""

    def translate_many(self, texts: list[str], source: str, target: str) -> list[str]:
        return ["" for _ in texts]


def protect(text: str) -> str:
    """`text` with its names, numbers and quoted titles in [brackets], which Apertium passes through as they
    are. A capitalised first word of a sentence is a name only when it has a capital or a digit inside."""
    out, last = [], 0
    for m in _PROTECT.finditer(text):
        word = m.group()
        first = bool(_SENT_START.search(text[:m.start()]))
        if first and not re.search(r"[A-Z\d]", word[1:]) and not re.match(_QUOTED, word):
            continue
        out += [text[last:m.start()].replace("[", "(").replace("]", ")"), f"[{word}]"]
        last = m.end()
    out.append(text[last:].replace("[", "(").replace("]", ")"))
    return "".join(out)


def unprotect(text: str) -> str:
    """Apertium's output, plain: brackets off, its marks for unknown (*), untranslatable (@) and ungenerated
    (#) words dropped."""
    text = re.sub(r"[\[\]\x00\ufffe\uffff]", "", text)
    text = re.sub(r"(?<![\w*@#])[*@#]+(?=\w)", "", text)
    return re.sub(r"\s+", " ", text).strip()


class Apertium:
    name = "apertium"

    def __init__(self, binary: str = "apertium", timeout: float = 10.0):
        self.binary = shutil.which(binary) or ""
        self.timeout = timeout

    @lru_cache(maxsize=1)
    def modes(self) -> frozenset[str]:
        if not self.binary:
            return frozenset()
        try:
            out = subprocess.run([self.binary, "-l"], capture_output=True, text=True, timeout=self.timeout).stdout
        except (OSError, subprocess.SubprocessError):
            return frozenset()
        return frozenset(line.strip() for line in out.splitlines() if line.strip())

    def route(self, source: str, target: str) -> list[str]:
        """The modes that take `source` to `target`: the direct pair, or through one language between."""
        s, t = _ISO3.get(source, source), _ISO3.get(target, target)
        modes = self.modes()
        if f"{s}-{t}" in modes:
            return [f"{s}-{t}"]
        for m in sorted(modes):
            a, _, b = m.partition("-")
            if a == s and f"{b}-{t}" in modes:
                return [m, f"{b}-{t}"]
        return []

    @lru_cache(maxsize=1024)
    def translate(self, text: str, source: str, target: str) -> str:
        return self.translate_many([text], source, target)[0]

    def translate_many(self, texts: list[str], source: str, target: str) -> list[str]:
        route = self.route(source, target) if source != target else []
        if not route or not texts:
            return ["" for _ in texts]
        # one line each (Apertium keeps line breaks), through every mode of the route
        out = "\n".join(protect(" ".join(t.split())) for t in texts) + "\n"
        for mode in route:
            try:
                done = subprocess.run([self.binary, "-u", "-f", "none", mode], input=out, capture_output=True, text=True,
                                      timeout=self.timeout * max(1, len(texts) // 50))
            except (OSError, subprocess.SubprocessError):
                return ["" for _ in texts]
            if done.returncode != 0:
                return ["" for _ in texts]
            out = done.stdout
        lines = out.split("\n")[: len(texts)]
        if len(lines) != len(texts):
            return ["" for _ in texts]
        return [unprotect(x) if t.strip() else "" for x, t in zip(lines, texts)]


def select_translator(name: str) -> Translator:
    """"apertium" (used when installed; nothing otherwise) or "none"."""
    if name == "apertium":
        t = Apertium()
        if t.modes():
            return t
    return NoTranslator()
