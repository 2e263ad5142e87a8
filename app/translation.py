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

import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
from collections import OrderedDict
from typing import Protocol

# language codes: the detector's ISO 639-1 -> Apertium's ISO 639-3
_ISO3 = {"en": "eng", "it": "ita", "es": "spa", "fr": "fra", "de": "deu", "pt": "por", "ca": "cat", "nl": "nld",
         "sv": "swe", "da": "dan", "fi": "fin"}
# what passes through untranslated: a quoted title (its closing quote is the opening one's: in 'Meta's AI Race'
# the apostrophe is inside), a word with a capital inside ("OpenAI") or with digits ("4chan", "GPT-4"), or a
# capitalised word the corpus uses as a name (Apertium would make "Meta" a goal and "Llama" a call); each with
# its version number ("Llama 3.1"). Other capitalised words are translated ("Stati Uniti" is "United States"),
# and names Apertium does not know pass through anyway.
_QUOTED = r"(?<![\w'’])(?:'(?:[^'\n]|'(?=\w))+'|\"[^\"\n]+\"|“[^”\n]+”|‘(?:[^’\n]|’(?=\w))+’|«[^»\n]+»)(?![\w'’])"
_NAME = r"(?<![\w])(?:[^\W\d_]*[A-Z][\w\-.]*[\w]|[\w\-]*\d[\w\-.]*\w|[\w\-]*\d)(?:\s+\d+(?:\.\d+)*[a-zA-Z]?\b)?"
_PROTECT = re.compile(_QUOTED + "|" + _NAME)
# characters with a meaning in Apertium's stream format (a superblank, a word's analysis, a tag ...): a question
# holding one would be cut short ("Malformed input stream"); for searching, a space says the same
_SPECIAL = re.compile(r"[\[\]\\^$/<>{}@*#|]")


class Translator(Protocol):
    name: str

    def translate(self, text: str, source: str, target: str, names: frozenset[str] = frozenset()) -> str:
        """`text` in language `target` (ISO 639-1 codes), or "" when this translator cannot. `names`: words
        (folded) that are names in this corpus, kept as they are even first in a sentence."""

    def translate_many(self, texts: list[str], source: str, target: str,
                       names: frozenset[str] = frozenset()) -> list[str]:
        """Each of `texts` translated (one call for all: titles of a whole corpus), "" where it cannot."""


class NoTranslator:
    name = "none"

    def translate(self, text: str, source: str, target: str, names: frozenset[str] = frozenset()) -> str:
        return ""

    def translate_many(self, texts: list[str], source: str, target: str,
                       names: frozenset[str] = frozenset()) -> list[str]:
        return ["" for _ in texts]


def protect(text: str, names: frozenset[str] | set[str] = frozenset()) -> str:
    """`text` with its names, numbers and quoted titles in [brackets], which Apertium passes through as they
    are. `names`: the corpus's names, folded. Apertium's special characters become spaces first."""
    text = _SPECIAL.sub(" ", text)
    out, last = [], 0
    for m in _PROTECT.finditer(text):
        word = m.group()
        head = word.split()[0]
        if not (re.match(_QUOTED, word) or re.search(r"\d", head) or re.search(r"[A-Z]", head[1:]) or head.lower() in names):
            continue
        out += [text[last:m.start()], f"[{word}]"]
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def unprotect(text: str) -> str:
    """Apertium's output, plain: brackets off, its marks for unknown (*), untranslatable (@) and ungenerated
    (#) words dropped."""
    text = re.sub(r"[\[\]\x00\ufffe\uffff]", "", text)
    text = re.sub(r"(?<![\w*@#])[*@#]+(?=\w)", "", text)
    return re.sub(r"\s+", " ", text).strip()


class Apertium:
    name = "apertium"

    def __init__(self, binary: str = "apertium", timeout: float = 10.0, cache_size: int = 1024):
        self.binary = shutil.which(binary) or ""
        self.timeout = timeout
        self._modes: frozenset[str] | None = None
        self._cache: OrderedDict[tuple, str] = OrderedDict()  # successful translations only
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def modes(self) -> frozenset[str]:
        """The installed language-pair modes (`apertium -l`), read once."""
        if self._modes is None:
            out = self._run([self.binary, "-l"], "") if self.binary else None
            self._modes = frozenset(line.strip() for line in (out or "").splitlines() if line.strip())
        return self._modes

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

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def translate(self, text: str, source: str, target: str, names: frozenset[str] = frozenset()) -> str:
        key = (text, source, target, names)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        out = self.translate_many([text], source, target, names)[0]
        if out:
            with self._lock:
                self._cache[key] = out
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out

    def translate_many(self, texts: list[str], source: str, target: str,
                       names: frozenset[str] = frozenset()) -> list[str]:
        route = self.route(source, target) if source != target else []
        if not route or not texts:
            return ["" for _ in texts]
        # one line each (Apertium keeps line breaks), through every mode of the route
        out: str | None = "\n".join(protect(" ".join(t.split()), names) for t in texts) + "\n"
        for mode in route:
            out = self._run([self.binary, "-u", "-f", "none", mode], out, self.timeout * max(1, len(texts) // 50))
            if out is None:
                return ["" for _ in texts]
        lines = out.split("\n")[: len(texts)]
        if len(lines) != len(texts):
            return ["" for _ in texts]
        return [unprotect(x) if t.strip() else "" for x, t in zip(lines, texts)]

    def _run(self, cmd: list[str], text: str, timeout: float | None = None) -> str | None:
        """stdout of one Apertium call, or None when it fails, reports an error or runs out of time (then its
        whole pipeline of processes is stopped, not only the shell script at its head)."""
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, start_new_session=True)
        except OSError:
            return None
        try:
            out, err = proc.communicate(text, timeout=timeout or self.timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return None
        if proc.returncode != 0 or "error" in err.lower():  # a malformed stream still exits 0
            return None
        return out


class Translations:
    """Texts translated once and kept: the sentences of documents in another language than most documents' are
    scored by their translation (grounding/evidence.InMain) each time they are candidates, so each is translated
    on its first use (or at warm-up) and then read from here, least recently used first out. A text that did not
    translate is remembered too ("") and not sent again. Texts go to the translator `batch` at a time, so one
    failing line costs one batch, not all."""

    def __init__(self, translator: Translator, size: int = 20000, batch: int = 200):
        self.translator, self.size, self.batch = translator, size, batch
        self._done: OrderedDict[tuple, str] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: list[str], source: str, target: str, names: frozenset[str] = frozenset()) -> list[str]:
        keys = [(" ".join(t.split()), source, target) for t in texts]
        found: dict[tuple, str] = {}
        with self._lock:
            for k in keys:
                if k in self._done:
                    self._done.move_to_end(k)
                    found[k] = self._done[k]
        missing = sorted({k[0] for k in keys if k not in found and k[0]})
        for i in range(0, len(missing), self.batch):
            part = missing[i:i + self.batch]
            got = self.translator.translate_many(part, source, target, names)
            found.update(((text, source, target), out) for text, out in zip(part, got))
        with self._lock:
            for k in keys:
                if k in found and k not in self._done:
                    self._done[k] = found[k]
            while len(self._done) > self.size:
                self._done.popitem(last=False)
        return [found.get(k, "") for k in keys]


def select_translator(name: str) -> Translator:
    """"apertium" (used when installed; nothing otherwise) or "none"."""
    if name == "apertium":
        t = Apertium()
        if t.modes():
            return t
    return NoTranslator()
