"""Text tools shared by the grounding modules: sentences with offsets, stems, names, numbers, clauses."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from index.language import function_words
from index.language import stopwords as language_stopwords

SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)]*(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])*(?=\s+|$)")
_ABBREV = {"mr", "mrs", "ms", "dr", "prof", "vs", "etc", "inc", "ltd", "co", "st", "jr", "sr", "e.g", "i.e", "u.s", "u.k", "no", "fig"}
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*(?!\w)|[^\W_]+", re.UNICODE)  # "3.1", "10" | "Q2", "4o", "words"
CITE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


def sentences(text: str, offset: int = 0) -> list[tuple[str, int, int]]:
    """Split into sentences with offsets: (sentence, start, end) relative to offset. Newlines split too."""
    out: list[tuple[str, int, int]] = []
    for para in re.finditer(r"[^\n]+", text):
        ptxt, pstart = para.group(), para.start()
        start = 0
        for m in SENTENCE_END.finditer(ptxt):
            end = m.end()
            before = ptxt[start:m.start()].split()
            last = before[-1].lower().rstrip(".") if before else ""
            nxt = ptxt[end:].lstrip()[:1]
            if (not before[:-1] and re.fullmatch(r"\d{1,2}", last)) or last in _ABBREV or (len(last) == 1 and last.isalpha()) or (nxt and nxt.islower()):
                continue
            _add(out, ptxt, start, end, pstart + offset)
            start = end
        _add(out, ptxt, start, len(ptxt), pstart + offset)
    return out


_QUESTION_END = re.compile(r"\?[\"'”’»)\]]*\s*$")


def is_question(sentence: str) -> bool:
    """A sentence that asks (ends with a question mark); not one that ends quoting a question ("The post was
    titled “Is Llama the future?”")."""
    m = _QUESTION_END.search(sentence)
    if not m:
        return False
    closing = sentence[m.start() + 1:].strip()[:1]
    opening = {"”": "“", "»": "«", "\"": "\"", "’": "‘", "'": "'"}.get(closing)
    return not (opening and opening in sentence[1:m.start()] and not sentence.lstrip().startswith(opening))


def _add(out, text, s, e, base):
    seg = text[s:e]
    lead = len(seg) - len(seg.lstrip())
    seg = seg.strip()
    if seg:
        out.append((seg, base + s + lead, base + s + lead + len(seg)))


@lru_cache(maxsize=1 << 16)
def fold(s: str) -> str:
    s = unicodedata.normalize("NFKD", s.lower().replace("’", "'"))
    return "".join(ch for ch in s if not unicodedata.combining(ch))


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    sw = language_stopwords()
    words = set()
    for code in ("en", "it", "fr", "de", "es", "pt"):
        words |= {fold(w) for w in sw.get(code, ())}
    words |= {"also", "would", "could", "like", "even", "one", "many", "much", "according", "however", "did", "does",
              "quickly", "whose", "which", "what", "who", "whom", "when", "where", "why", "how", "quanto", "quale",
              "quali", "come", "cosa", "perche", "chi", "dove", "quando", "tell", "documents", "document", "article",
              "articles", "documenti", "articolo", "secondo",
              "say", "said", "says", "mention", "mentioned", "give", "given", "gives", "cite", "cited", "call", "called",
              "describe", "described", "talk", "talked", "state", "stated", "giving", "saying", "calling", "citing",
              "mentioning", "stating", "describing", "talking", "known", "example", "esempio", "dice", "detto", "parlato", "citato", "citata"}
    return frozenset(words)


@lru_cache(maxsize=1 << 16)
def stem(tok: str) -> str:
    t = fold(tok)
    if t.isdigit():
        return t
    if len(t) > 4 and t.endswith("s") and not t.endswith("ss"):
        t = t[:-1]
    return t[:5]


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def content_stems(text: str) -> list[str]:
    return list(_content_stems(text))


def content_tokens(text: str):
    """(token, folded token) for each token that is not a stop word or a lone letter."""
    sw = stopwords()
    for t in tokens(CITE.sub(" ", text)):
        f = fold(t)
        if f not in sw and (len(f) >= 2 or f.isdigit()):
            yield t, f


@lru_cache(maxsize=8192)  # the same passages and evidence sentences come back question after question
def _content_stems(text: str) -> tuple[str, ...]:
    return tuple(stem(t) for t, _ in content_tokens(text))


@lru_cache(maxsize=8192)
def _content_words(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for _, f in content_tokens(text)))


def content_words(text: str) -> list[str]:
    """The content words themselves (folded, not stemmed, each once): what word vectors are taken of."""
    return list(_content_words(text))


def beyond(text: str, question: str) -> list[str]:
    """Content stems of `text` that the question does not already contain: what the text adds."""
    asked = set(content_stems(question))
    return [t for t in content_stems(text) if t not in asked]


def capitals(text: str, min_len: int = 3) -> set[str]:
    """Words written all in capitals, at least `min_len` letters, folded: tickers and acronyms ("MAS", "WHO"),
    even when they fold to a function word of some language ("mas"), so `entities` leaves them out. Hyphenated
    words count part by part ("EU-US"). None when most of the text's words are capitals (a shouted headline says
    nothing by its case); judge that on the whole sentence, not on one of its clauses."""
    words = [t for t in tokens(CITE.sub(" ", text)) if not t[0].isdigit()]
    caps = [t for t in words if len(t) > 1 and t.isupper()]
    if not caps or len(caps) * 2 > len(words):
        return set()
    return {fold(t) for t in caps if len(t) >= min_len}


def entities(text: str) -> set[str]:
    """Capitalised or mixed-case words that are not function words (names, products, places)."""
    sw = stopwords()
    out = set()
    for t in re.findall(r"[^\W\d_][\w\-]*", CITE.sub(" ", text)):
        if (t[0].isupper() or any(c.isupper() for c in t[1:])) and fold(t) not in sw and len(t) > 1:
            out.add(entity_key(t))
    return out


@lru_cache(maxsize=1 << 16)
def entity_key(tok: str) -> str:
    """Names compare whole (Alphabet != Alpha-Beta), ignoring case, accents, possessive and plural s."""
    t = fold(tok)
    for suf in ("'s", "s"):
        if t.endswith(suf) and len(t) > 3:
            t = t[: -len(suf)]
            break
    return t


_NUMWORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12,
    "uno": 1, "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "sei": 6, "sette": 7, "otto": 8, "nove": 9,
    "dieci": 10, "undici": 11, "dodici": 12, "venti": 20, "trenta": 30, "quaranta": 40, "cinquanta": 50, "cento": 100,
}
_MULT = {"thousand": 1e3, "mila": 1e3, "k": 1e3, "million": 1e6, "millions": 1e6, "milioni": 1e6, "milione": 1e6,
         "m": 1e6, "mln": 1e6, "billion": 1e9, "billions": 1e9, "miliardi": 1e9, "miliardo": 1e9, "bn": 1e9, "b": 1e9,
         "trillion": 1e12}


def numbers(text: str) -> set[float]:
    """Numeric values in text, with number words and multipliers normalised ("ten million" == "10 million")."""
    return {v for v, _ in quantities(text)}


_UNIT_ALIASES = {"ore": "hour", "ora": "hour", "giorni": "day", "giorno": "day", "anni": "year", "anno": "year",
                 "settimane": "week", "settimana": "week", "mesi": "month", "mese": "month", "utenti": "user",
                 "utente": "user", "parametri": "param", "minuti": "minut",
                 # sizes written as symbols ("20 GB") and asked in words ("how many gigabytes")
                 "kb": "kilobyte", "mb": "megabyte", "gb": "gigabyte", "tb": "terabyte", "kib": "kilobyte",
                 "mib": "megabyte", "gib": "gigabyte", "tib": "terabyte"}


def unit_of(word: str) -> str:
    """The unit a word names, the same in both languages where the table has it ("anni" -> "year", "utenti" ->
    "user"), else its stem: what a sentence's quantity and a question's "how many ..." are compared on."""
    w = word.lower()
    return _UNIT_ALIASES.get(w) or stem(w)


def unit_key(word: str) -> str:
    """The unit a quantity is read with and compared on: `unit_of`, without a plural s, its first four letters."""
    unit = unit_of(word)
    if unit.endswith("s") and len(unit) > 3:
        unit = unit[:-1]
    return unit[:4]


def quantities(text: str) -> set[tuple[float, str]]:
    """(value, unit) pairs: "seven hours" -> (7, "hour"), "10 million users" -> (1e7, "user"); unit "" if none."""
    return {q for _, q in _quantities_at(text)}


def quantity_positions(text: str) -> list[tuple[int, tuple[float, str]]]:
    """(token index, (value, unit)) for each quantity, tokens as `tokens(text)` gives them."""
    return _quantities_at(text)


def is_multiplier(word: str) -> bool:
    """"billion", "milioni", "k": a word that scales a number, not what it counts."""
    return fold(word) in _MULT


def _quantities_at(text: str) -> list[tuple[int, tuple[float, str]]]:
    """(token index, (value, unit)) for each quantity, tokens as `tokens(text)` gives them."""
    toks = [fold(t) for t in tokens(CITE.sub(" ", text))]
    sw = stopwords()
    out: list[tuple[int, tuple[float, str]]] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        at = i
        val = None
        if t[0].isdigit():
            clean = t.replace(",", "")
            if clean.count(".") > 1:
                clean = clean.replace(".", "")
            try:
                val = float(clean)
            except ValueError:
                val = None
        elif t in _NUMWORDS:
            val = float(_NUMWORDS[t])
            # "one" alone is too often a pronoun; count it only with a multiplier or a following noun unit
            if t in ("one", "uno") and not (i + 1 < len(toks) and toks[i + 1] in _MULT):
                val = None
        if val is not None:
            if i + 1 < len(toks) and toks[i + 1] in _MULT:
                val *= _MULT[toks[i + 1]]
                i += 1
            unit = ""
            if i + 1 < len(toks) and toks[i + 1] not in sw and not toks[i + 1][0].isdigit():
                unit = unit_key(toks[i + 1])
            out.append((at, (val, unit)))
        i += 1
    return out


NEGATION = frozenset({"not", "no", "never", "nor", "neither", "without", "non", "nessun", "nessuno", "nessuna", "mai",
                      "senza", "né"})


_SEGMENT = re.compile(r"[,;:]|\b(?:and|but|while|whereas|or|ma|mentre|oppure)\b", re.I)


def negated_stems(text: str) -> tuple[set[str], set[str], bool]:
    """(stems that occur negated, stems that occur plainly, whether the text negates anything). A stem is
    negated when a negation word ("not", "never", "without", "n't", "non" ...) comes before it in its segment
    (segments end at commas and conjunctions: in "trained on web data, and not on Meta's services" only
    Meta's services are negated)."""
    neg, plain, any_neg = set(), set(), False
    sw = stopwords()
    for seg in _SEGMENT.split(CITE.sub(" ", text)):
        toks = [fold(t) for t in re.findall(r"[^\W_]+(?:n't)?|\d+(?:[.,]\d+)*", seg or "")]
        negated = False
        for t in toks:
            if t in NEGATION or t.endswith("n't"):
                negated = any_neg = True
                continue
            if t in sw or (len(t) < 2 and not t.isdigit()):
                continue
            (neg if negated else plain).add(stem(t))
    return neg, plain, any_neg


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """`tokens(text)` with their character offsets."""
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def quantity_subjects(text: str) -> dict[tuple[float, str], set[str]]:
    """For each quantity, the name that comes last before it in its clause (its subject, "" if none): in
    "Llama 3, a 70 billion parameter model, with Meta working on a 400 billion parameter version" 70 billion
    belongs to Llama and 400 billion to Meta."""
    out: dict[tuple[float, str], set[str]] = {}
    for clause in clauses(text):
        ents = entities(clause)
        toks = tokens(CITE.sub(" ", clause))
        starts = dict(_quantities_at(clause))
        subject = ""
        for i, t in enumerate(toks):
            if i in starts:
                out.setdefault(starts[i], set()).add(subject)
            elif not t[0].isdigit() and entity_key(t) in ents:
                subject = entity_key(t)
    return out


_CLAUSE = re.compile(r";|\b(?:whereas|while|whilst|but|however|although|though|mentre|ma|invece|tuttavia|sebbene)\b", re.I)


def clauses(text: str) -> list[str]:
    return [c for c in _CLAUSE.split(CITE.sub(" ", text)) if c and c.strip()]


INJECTION = re.compile(
    r"(ignore|disregard|forget)\b.{0,40}\b(instruction|rule|prompt|above|previous|istruzion)|"
    r"^\W*(please\s+)?(ignore|disregard|forget)\s+(about\s+)?(the|these|those|your|all|any)\s+(\w+\s+)?"
    r"(documents?|sources?|context|citations?)\b|"
    r"\b(system prompt|you are now|pretend to be|act as|jailbreak|developer mode)\b|"
    r"\b(ignora|dimentica)\b.{0,40}\b(istruzion|regol)|^\W*(ignora|dimentica)\s+(i|le|il|tutti\s+i|tutte\s+le)\s+"
    r"(document|fonti|contesto|citazion)",
    re.I,
)


_HOW_TO_ANSWER = re.compile(r"^\W*(?:please\s+|per\s+favore\s+)?(?:answer|reply|respond|rispondi)\s+(?:only\s+|just\s+)?"
                            r"(?:in|with|briefly|concisely|shortly|using|as|brevemente|solo|con)\b", re.I)


def is_how_to_answer(sentence: str, max_words: int = 6) -> bool:
    """A short sentence telling how to answer, not asking ("Answer in French.", "Please reply briefly.",
    "Rispondi in breve."): what it names is not what the question is about."""
    return bool(_HOW_TO_ANSWER.search(sentence)) and not is_question(sentence) and len(sentence.split()) <= max_words


def is_injection(text: str) -> bool:
    return bool(INJECTION.search(text))


def strip_citations(text: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", CITE.sub("", text)).strip()


def cited_numbers(text: str) -> list[int]:
    out = []
    for m in CITE.finditer(text):
        out.extend(int(x) for x in re.split(r"\s*[,;]\s*", m.group(1)))
    return out


def spells(name: str, text: str) -> bool:
    """`name`'s letters (folded) begin consecutive content words of one clause of `text` ("large language model"
    for "llm", "Bank of Italy" for "boi"), not initials scattered over the text."""
    sw = stopwords()
    for clause in _CLAUSE_END.split(text):
        run = ""
        for w in tokens(clause):
            f = fold(w)
            if f in _JOINERS:
                continue
            run = run + f[:1] if f not in sw else run + " "
        if name in run:
            return True
    return False


# where a spelled-out name cannot run on; words an acronym's letters skip ("Bank of Italy", "R and D")
_CLAUSE_END = re.compile(r"[,;:()\[\]\"“”«»]|\.(?=\s|$)")
_JOINERS = frozenset({"of", "and", "for", "di", "e", "per"})


_WORD = re.compile(r"(?<![\w'’\-])[^\W\d_][\w\-]*")
_QUOTED = re.compile(r"“[^”]*”|«[^»]*»|\"[^\"]*\"")
_JOINED = "./@:\\"  # a word joined to another by one of these is part of a host name, path or address


def _joined(text: str, m: re.Match) -> bool:
    """The word is part of a host name, a path, an address ("snapshot.debian.org", "/etc/cron.d")."""
    before, after = text[m.start() - 1: m.start()], text[m.end(): m.end() + 2]
    return (before in tuple(_JOINED) and before != "") or (len(after) == 2 and after[0] in _JOINED and after[1].isalnum())


def casing_counts(texts, min_words: int, heading_share: float) -> dict[str, dict[str, int]]:
    """How the documents write each word inside a sentence of prose: lower-cased word -> {form: count}, the
    lower-case form counted as itself. Only words that follow another word on their line count (a line's or a
    sentence's first word is capitalised whatever it is), not words in quotes, in a host name or path, nor a
    label before a number ("see Figure 9.3", "Section 8.1"); lines shorter than `min_words` words or with more
    than `heading_share` of their words capitalised (a heading, a title, a menu) are skipped, and a line is
    counted once however many chunks repeat it (their overlap)."""
    out: dict[str, dict[str, int]] = {}
    seen: set[str] = set()
    for text in texts:
        for line in text.splitlines():
            if line in seen:
                continue
            seen.add(line)
            line = _QUOTED.sub(". ", line)  # a quoted title ("see “Compiling and Building the Package”") is in title case
            words = _WORD.findall(line)
            if len(words) < min_words or sum(w[0].isupper() for w in words) > heading_share * len(words):
                continue
            for m in _WORD.finditer(line):
                before = line[:m.start()].rstrip()
                if not before or before[-1] in ".!?:;\"“«(" or not before[-1].isalnum() and before[-1] != ",":
                    continue
                w = m.group(0)
                if _joined(line, m) or (w[0].isupper() and re.match(r"\s+\d", line[m.end():])):
                    continue
                forms = out.setdefault(w.lower(), {})
                forms[w] = forms.get(w, 0) + 1
    return out


def name_forms(counts: dict[str, dict[str, int]], min_count: int, min_share: float) -> dict[str, str]:
    """The words the documents write as names: lower-cased word -> its most common written form, for the words
    written with a capital (or mixed case) at least `min_share` of the times they occur inside a sentence, and at
    least `min_count` times ("Zuckerberg", "ChatGPT", "LDAP"; not "threads" when the documents also write it in
    lower case). Never a function word of any language ("ai" is Italian for "to the", whatever "AI" is)."""
    sw = function_words()
    out = {}
    for low, forms in counts.items():
        named = {f: c for f, c in forms.items() if f != low}  # (a form other than the lower-case one has a capital)
        total = sum(forms.values())
        n = sum(named.values())
        if n >= min_count and n >= min_share * total and len(low) > 1 and low not in sw:
            out[low] = max(sorted(named), key=named.get)
    return out


def truecase(question: str, forms: dict[str, str], lower: frozenset[str] = frozenset()) -> str:
    """The question with each word written all in lower case that the documents write as a name written as they
    write it ("why is elon suing meta?" -> "why is Elon suing Meta?"): people type names in lower case, and a
    name is what the evidence must be about. A question typed all in capitals is read the same way: each word as
    the documents write it, in lower case when they write it so (`lower`, text.vocabulary) or it is a function
    word, else as a name ("SUPER", "GEMINI": a name the documents may not hold is still a name). A word in a host
    name or path is left as typed."""
    words = _WORD.findall(question)
    if len(words) > 1 and all(w.isupper() for w in words):
        sw = function_words()

        def read(m: re.Match) -> str:
            low = m.group(0).lower()
            if _joined(question, m):
                return low
            return forms.get(low) or (low if low in lower or low in sw else m.group(0).capitalize())

        out = _WORD.sub(read, question)
        i = _WORD.search(out).start()
        return out[:i] + out[i].upper() + out[i + 1:]
    if not forms:
        return question
    return _WORD.sub(lambda m: forms.get(m.group(0), m.group(0)) if m.group(0).islower() and not _joined(question, m)
                     else m.group(0), question)


def vocabulary(texts) -> tuple[frozenset[str], frozenset[str]]:
    """Every word of the documents in lower case, and those they write in lower case somewhere."""
    every: set[str] = set()
    lower: set[str] = set()
    for text in texts:
        ws = _WORD.findall(text)
        every.update(w.lower() for w in ws)
        lower.update(w for w in ws if w.islower())
    return frozenset(every), frozenset(lower)


def respell(question: str, forms: dict[str, str], vocab: frozenset[str], min_len: int, long_len: int,
            known: frozenset[str] = frozenset()) -> str:
    """The question with each name it capitalises (not its first word) that no document holds, but that is one
    slip (a letter changed, added, dropped, or two swapped; two from `long_len` letters) from exactly one name the
    documents write (`forms`, text.name_forms) with the same first letter, written as the documents write it:
    "What did Zuckerburg say?" asks about Zuckerberg. `vocab`: every word of the documents, their titles and
    authors. Left alone: names shorter than `min_len` ("Mata" may be meant), names with a digit ("Llama3" is not
    "Llama"), and words the embedder knows whole (`known`: "Friedman" is a name of its own, not a slip for
    "Fridman")."""
    from nltk.metrics.distance import edit_distance

    def fix(m: re.Match) -> str:
        w = m.group(0)
        low = w.lower()
        if (m.start() == first or w.islower() or len(w) < min_len or low in vocab or low in known
                or any(c.isdigit() for c in w) or _joined(question, m)):
            return w
        reach = 2 if len(w) >= long_len else 1
        near = sorted((d, f) for d, f in ((edit_distance(low, k, transpositions=True), f) for k, f in forms.items()
                                          if k[0] == low[0] and abs(len(k) - len(low)) <= reach) if d <= reach)
        if len(near) != 1:
            return w  # none, or more than one within reach: no guess
        return near[0][1]

    words = list(_WORD.finditer(question))
    if not words or not forms:
        return question
    first = words[0].start()
    return _WORD.sub(fix, question)


def respelled(question: str, read: str) -> list[tuple[str, str]]:
    """The words of `question` that `read` (the question as read, Engine.names_as_written) spells otherwise, not
    only in case: [("Zuckerburg", "Zuckerberg")], for telling the user what was assumed."""
    import difflib

    a, b = _WORD.findall(question), _WORD.findall(read)
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=[w.lower() for w in a], b=[w.lower() for w in b]).get_opcodes():
        if op == "replace" and i2 - i1 == j2 - j1:
            out += [(x, y) for x, y in zip(a[i1:i2], b[j1:j2]) if x.lower() != y.lower()]
    return out
