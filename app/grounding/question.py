"""What a question asks for: its expected answer type, and whether it asks about a document itself.

The answer type is read off the interrogative phrase that asks (usually the first; not a relative "who" nor a
scene-setting "when ...,", see `_interrogative`; a closed class of words in each language, not a list tuned
on questions):
  quantity  how many / much / long / big, what percentage, quanti, in quanto tempo ... (with the unit asked
            for when the question names one: "how many parameters" wants parameters, "how much money" money,
            "how long" a duration)
  date      when, what year, quando ...; "what date", "which day", "exact date" want a calendar date, not
            "last week"
  entity    who, which company, where, what is it called, chi, dove, come si chiama ...
  reason    why, perché, for what reason
  ""        what / how / which + other nouns: the question does not constrain the form of the answer; but
            "which command / package / file / directory / variable" prefers (`prefers`, a ranking feature, never
            a requirement) a name written as code or a path ("audit2allow", "preseed.cfg", "the equivs
            package"), and "what does X stand for" the words that spell X out ("Custom Debian Derivative")

`holds(sentence, ask)` says whether a sentence holds that type beyond what the question already says: a
sentence that gives no quantity of parameters cannot answer "how many parameters".
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable

from app.grounding import text as tu
from index import language

_I = re.I
_CUES: list[tuple[str, re.Pattern]] = [
    ("quantity", re.compile(r"\bhow\s+(many|much|long|quickly|fast|far|large|big|old|often|soon)\b|\bin\s+(dollars|euros|usd|dollari|euro)\b|"
                            r"\bwhat(?:'s|\s+(?:is|was|were|are))?\s+(the\s+|its\s+|their\s+|\w+'s\s+)?(\w+\s+){0,2}(length|size|count|price|cost|speed|"
                            r"rate|revenue|profit|income|sales|valuation|budget|growth|percentage|number|port)\b|"
                            r"\bwhich\s+(\w+\s+){0,2}number\b|\bwhich\s+(\w+\s+)?((tcp|udp)\s+port|port\s+(number|does|do|is|will|should))\b|\bwhat\s+(percentage|share|size|"
                            r"number|amount|price|cost)\b|\b(model|file|disk)\s+size\b|\bhow\s+(expensive|cheap)\b|\bin\s+quanto\s+tempo\b|\bquant[oiae]\b|"
                            r"\bquale\s+(percentuale|dimensione|cifra|prezzo|numero)\b|\b(quale|che)\s+(porta\s+(tcp|udp)|numero\s+di\s+porta)\b|\bdi\s+quanto\b|\bogni\s+quanto\b", _I)),
    ("date", re.compile(r"\bwhen\b|\b(what|which)\s+(exact\s+|precise\s+|actual\s+)?(year|date|day|month|time)\b|\bquando\b|\bin\s+che\s+(anno|giorno|mese|data)\b"
                        r"|\b(quale|che)\s+(anno|giorno|data|mese)\b", _I)),
    ("reason", re.compile(r"\bwhy\b|\bfor\s+what\s+reason\b|\bwhat\s+for\b|\bperch[eé]\b|\bper\s+quale\s+(motivo|ragione)\b"
                          r"|\bcome\s+mai\b", _I)),
    ("entity", re.compile(r"\bwho(m|se)?\b|\b(which|what)\s+(company|companies|firm|firms|organi[sz]ation|person|people|rival|"
                          r"competitor|platform|app|service|website|site|podcast|show|country|city|lab|laboratory|interviewer|"
                          r"host|founder|ceo|boss|team|brand|social\s+network|network|user|author|chatbot|startup)\b"
                          r"|\bwhere\b|\bcalled\b|\bnamed\b|\bname\s+of\b|\bwhat('s|\s+is|\s+was)\s+the\s+name\b|\bcodename\b"
                          r"|\bchi\b|\bdove\b|\b(quale|quali|che)\s+(azienda|aziende|societ[aà]|piattaforma|app|podcast|nome|paese|"
                          r"citt[aà]|laboratorio|trasmissione|programma|rivale|concorrente|persona|social)\b|\bcome\s+si\s+chiam", _I)),
]
# two kinds of answer preferred, not required, when the question asks for no other kind: "which command / package /
# file / directory / variable" prefers a name written as code or a path ("audit2allow", "preseed.cfg"); "what does
# CDD stand for" the words that spell it out. The nouns of code, in English and Italian (a closed class)
_CODE_CUE = re.compile(r"\b(?:which|what)\s+(?:[\w\-]+\s+)?(commands?|packages?|file\s*names?|files?|director(?:y|ies)|"
                       r"folders?|variables?|daemons?|binar(?:y|ies)|scripts?)\b"
                       r"|\b(?:quale|quali|che)\s+(comand[oi]|pacchett[oi]|file|cartell[ae]|directory|variabil[ei])\b", _I)
_EXPANSION_CUE = re.compile(r"\bstands?\s+for\b|\bshort\s+for\b|\bexpansion\s+of\s+the\s+(?:acronym|abbreviation)\b"
                            r"|\bacronym\b|\babbreviation\b|\bsigla\b|\bacronimo\b|\bper\s+cosa\s+sta\b", _I)
_MONEY = re.compile(r"\bhow\s+much\s+(money|cash|did|does|do|has|have|is|was|will|would|in)\b|\bcost|\bprice|\bspen[dt]|\bpa(y|id)\b|"
                    r"\brevenue\b(?!\s+growth)|\bprofit|\bincome|\bsales|\bvaluation|\bbudget|\bdollar|\beuro|\bcost[oa]|\bspes[oa]|\bprezz|\bsoldi|\bdamages\b|\bcompensation\b|\brisarciment|\bindennizz|\bmult[ae]\b|\bfined\b|(?<!\balla\s)(?<!\bla\s)(?<!\buna\s)\bfines?\b(?![\s-]*(tun|di\b|del|dell|della|dello|degli))|\bquanto\s+(ha\s+)?(speso|costa|costato|pagato)", _I)
_CHANGE = re.compile(r"\b(grow|grew|grown|growth|increase[ds]?|rise|rose|risen|decline[ds]?|drop(ped)?|fall|fell|fallen|"
                     r"shr[iau]nk|cresci|crebbe|cresciut|aument|diminu|calat|sces)\w*", _I)
_DURATION = re.compile(r"\bhow\s+(long|quickly|fast|soon)\b|\bin\s+quanto\s+tempo\b|\bquanto\s+tempo\b", _I)
# "how long should the password be?": a length, any quantity ("12 characters"), not a duration ("how long is the
# delay?" stays a duration: only the verb "be" closing the question says length)
_LENGTH = re.compile(r"\bhow\s+long\b(?:(?!\b(take|takes|took|last|lasts|lasted|wait|run|runs|ran|stay|keep|remain)\b).)*\bbe\b\s*(?:[,;(\u2014\-].*)?[?.!]*\s*$", _I)
# "how much" followed by what is measured ("how much free disk space", "how much RAM"): that noun, not money, unless
# it is money ("how much revenue"); "how much does it cost / did Meta pay" go on to the money words
_NOT_NOUN = (r"(?:did|does|do|has|have|had|is|was|were|are|will|would|can|could|should|must|might|may|in|of|more|"
             r"less|it|they|he|she|we|you|i|per|a|an|the|to|for|on|at|by|with|from|this|that|these|those)\b")
_MUCH_NOUN = re.compile(r"\bhow\s+much\s+((?:(?!" + _NOT_NOUN + r")[^\W\d_][\w\-]*\s*){1,3})", _I)
_MONEY_NOUN = re.compile(r"\b(revenue|profit|income|sales|money|cash|funding|capital|investment|budget|spending|salary|"
                         r"damages|compensation|fines?|prices?|costs?|dollars?|euros?)\b", _I)
_MONEY_VERB = re.compile(r"\b(pa(y|ys|id)|spen(d|ds|t)|fined?|costs?|charged?|charges|earn(s|ed)?|raised?|sold|sell|bought|buy)\b", _I)
# an interrogative word: a cue that starts with one counts only when it is the one that asks (`_interrogative`:
# "Which backend did Falcot choose when reconfiguring slapd?" asks which, not when); cues without one ("called",
# "in dollars") count anywhere
_WH = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how|quale|quali|quanto|quanti|quante|quanta|chi|quando|"
                 r"dove|perch[eé]|cosa)\b", _I)
_CLOSES = re.compile(r"\s*[?.!]*\s*$")  # "..., when?": the interrogative closes the question, asked too
_COORDINATED = re.compile(r"(\band|\bor|\be|\bed|\bo)\s*$", _I)  # "... and when?": a second question, asked too
_EXACT_DATE = re.compile(r"\b(what|which|exact|precise|actual)\s+(exact\s+|precise\s+|actual\s+)?(date|day)\b|\bexact(ly)?\b.*\bwhen\b|\bin\s+che\s+(giorno|data)\b|"
                         r"\b(quale|che)\s+(giorno|data)\b|\bdata\s+esatta\b", _I)
_UNIT_AFTER = re.compile(r"\b(?:how\s+many|quant[ie])\s+(?:of\s+)?(?:the\s+|di\s+)?([^\W\d_][\w\-]*)", _I)

_MONTHS = ("january february march april may june july august september october november december "
           "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre").split()
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday lunedi martedi mercoledi giovedi venerdi sabato domenica".split()
# a time of day ("at 3:00 am", "at midnight") answers "when", not "on what date"
_CLOCK = re.compile(r"\b\d{1,2}:\d{2}(?![\d:])|\b\d{1,2}\.\d{2}\s*[ap]\.?m\b\.?|\b\d{1,2}\s*[ap]\.?m\b\.?|\b(midnight|noon|mezzanotte|mezzogiorno)\b", _I)
_CAL_DATE = re.compile(r"\b(1[89]\d\d|20\d\d)\b|\b(" + "|".join(_MONTHS + _WEEKDAYS) + r")\b|\bq[1-4]\b", _I)
_REL_DATE = re.compile(
    r"\b(yesterday|today|tomorrow|recently|earlier\s+this|later\s+this|ieri|oggi|domani|recentemente)\b|"
    r"\b(last|next|this|past|previous|coming)\s+(week|month|year|quarter|decade)\b|\b(week|month|year|years|months|weeks|days)\s+ago\b|"
    r"\bago\b|\b(within|after|in)\s+(a|one|two|three|\d+)\s+(day|week|month|year)s?\b|"
    r"\b(settimana|mese|anno)\s+scors[oa]\b|\bscors[oa]\s+(settimana|mese|anno)\b|\b(un|una|\d+)\s+(mese|anno|settimana|giorni|mesi|anni)\s+fa\b|"
    r"\bnel\s+giro\s+di\b|\bfa\b", _I)
_DURATION_UNITS = {"second", "minut", "hour", "day", "week", "month", "year", "ora", "ore", "giorn", "settiman", "mes", "ann",
                   "minuti", "secondi"}
_MONEY_IN_TEXT = re.compile(r"[$€£¥]|\b(dollars?|euros?|usd|eur|pounds?|dollari|cents?|centesimi)\b", _I)
# a relative amount ("half as much", "twice", "cheaper") answers a question that compares, not one that asks how
# much: "how much cheaper is it than ChatGPT?" is answered by "half as much", "how much did Meta spend?" is not
_RELATIVE = re.compile(r"\b(half|twice|double|cheaper|costlier|metà|doppio)\b", _I)
_COMPARES = re.compile(r"\b(than|compare[sd]?|comparison|cheaper|pricier|costlier|(more|less)\s+expensive|relative|versus|vs\.?|"
                       r"rispetto|confront\w*|meno\s+caro|più\s+caro)\b", _I)
_REASON_IN_TEXT = re.compile(r"\b(because|since|due\s+to|owing\s+to|so\s+that|in\s+order\s+to|as\s+a\s+result|thanks\s+to|"
                             r"reasons?|why|for\s+\w+ing|to\s+(avoid|make|build|gain|get|catch|train|keep|help|allow|"
                             r"compete|win|reach)|perch[eé]|poich[eé]|dato\s+che|grazie\s+a|per\s+\w+are|per\s+\w+ere|"
                             r"per\s+\w+ire|motivo|ragione|a\s+causa)\b", _I)


@dataclass(frozen=True)
class Ask:
    kind: str = ""  # quantity | date | entity | reason | ""
    unit: str = ""  # quantity: a unit stem, "money" or "time"; "" when any quantity will do
    exact: bool = False  # date: a calendar date, not "last week"
    units: tuple[str, ...] = ()  # the same unit as the unit table names it ("anni": "year"), or translated (`ask_in`)
    place: bool = False  # entity: asked "where" / "dove", which a file system path or a URL answers too
    # preferred, not required (only when no kind is asked): a name written as code for "which command / package /
    # file ..." (`noun`: the noun asked for, which may follow the name, "the equivs package"), the words spelling
    # an acronym out for "what does X stand for"
    code: bool = False
    noun: str = ""
    expands: bool = False

    def fits(self, unit: str) -> bool:
        """A quantity's unit stem (from text.quantities) is the unit asked for, or its translation."""
        return any(u and unit and u[:4] == unit[:4] for u in (self.unit, *self.units))


# auxiliary and modal verbs (a closed class, English and Italian): "When did ..." asks, "When the app launched, ..."
# sets the scene; "Does the article say who ..." asks who, indirectly
_AUX = frozenset("""do does did is are was were be been has have had can could will would shall should may might must
è e' era erano sarà saranno ha hanno aveva avevano fu furono sono siamo viene vengono può possono""".split())
_RELATIVE_PRONOUNS = frozenset({"who", "whom", "whose", "which"})  # the interrogatives that are also relative pronouns
_LAST_WORD = re.compile(r"([^\W\d_][\w'\-]*)(\s*)$")


def _interrogative(q: str) -> re.Match | None:
    """The interrogative word that asks. Usually the first; but
      - "who" / "which" right after a noun (only a space between, the question not opening with an auxiliary
        verb), with another interrogative later, is a relative pronoun: "The man who said ... is suing Meta for
        what?" asks what. After punctuation ("Sorry, who ..."), a function word ("from which lab") or in an
        indirect question ("Does the article say who ...?") it asks;
      - a "when" / "where" opening the question without an auxiliary after it ("When running X", "When the app
        launched", "Quando il modello è uscito"), before a comma and a later interrogative not coordinated with
        it, sets the scene: the later one asks ("..., what storage backend?"); "When did ..., and who ...?" asks
        both, the first first."""
    found = list(_WH.finditer(q))
    if len(found) < 2:
        return found[0] if found else None
    function_words = language.stopwords().get(language.detect(q), frozenset())  # the question's own language's
    first_word = re.match(r"\W*([^\W\d_][\w'\-]*)", q)
    indirect = bool(first_word) and first_word.group(1).lower() in _AUX
    for i, m in enumerate(found[:-1]):
        word = m.group().lower()
        prev = _LAST_WORD.search(q[max(0, m.start() - 60):m.start()])
        relative = (word in _RELATIVE_PRONOUNS and not indirect and bool(prev) and bool(prev.group(2))
                    and prev.group(1).lower() not in function_words)
        after = re.match(r"\s+([^\W\d_][\w'\-]*)", q[m.end():])
        nxt = found[i + 1]
        clause = (word in ("when", "where", "quando", "dove") and not q[:m.start()].strip(" ¿¡\"'“«")
                  and "," in q[m.end():nxt.start()] and not _COORDINATED.search(q[:nxt.start()])
                  and not (after and after.group(1).lower() in _AUX))
        if not relative and not clause:
            return m
    return found[-1]


@lru_cache(maxsize=4096)
def ask_of(question: str) -> Ask:
    ask = _kind_asked(question)
    if ask.kind:
        return ask
    q = (question or "").replace("’", "'")
    if _EXPANSION_CUE.search(q):
        return replace(ask, expands=True)
    m = _CODE_CUE.search(q)
    return replace(ask, code=True, noun=_singular(tu.fold(m.group(1) or m.group(2)))) if m else ask


def _singular(noun: str) -> str:
    """"directories" -> "directory", "packages" -> "package" (the nouns of `_CODE_CUE`, compared word by word)."""
    return noun[:-3] + "y" if noun.endswith("ies") else noun[:-1] if noun.endswith("s") else noun


def _kind_asked(question: str) -> Ask:
    q = (question or "").replace("’", "'")
    first = _interrogative(q)
    found = [(m.start(), kind, m.group()) for kind, pat in _CUES for m in pat.finditer(q)
             if not (first and m.start() != first.start() and _WH.match(q, m.start())
                     and not _COORDINATED.search(q[:m.start()]) and not _CLOSES.match(q, m.end()))]
    if not found:
        return Ask()
    _, kind, cue = min(found)
    if kind == "entity" and cue.lower() in ("where", "dove"):
        return Ask(kind, place=True)
    if kind == "quantity":
        if _LENGTH.search(q):
            return Ask(kind)
        if _DURATION.search(q):
            return Ask(kind, "time")
        if _CHANGE.search(q):
            return Ask(kind)  # "by how much did revenue grow": a percentage or any amount
        much = _MUCH_NOUN.search(q)
        if much and _MONEY_NOUN.search(much.group(1)):
            return Ask(kind, "money")  # "how much funding"
        if much and not _MONEY_VERB.search(q[much.start(1):]):
            return Ask(kind)  # "how much free disk space": whatever it is measured in ("Meta paid": money)
        if _MONEY.search(q):
            return Ask(kind, "money")
        m = _UNIT_AFTER.search(q)
        if not m or tu.fold(m.group(1)) in tu.stopwords():
            return Ask(kind)
        # the stem as asked, and the unit the unit table names in both languages ("anni": year), which is how a
        # sentence's quantities are read (text.quantities)
        unit, same = tu.stem(m.group(1)), tu.unit_of(m.group(1))
        return Ask(kind, unit, units=(same,) if same[:4] != unit[:4] else ())
    if kind == "date":
        return Ask(kind, exact=bool(_EXACT_DATE.search(q)))
    return Ask(kind)



def ask_in(question: str, translate: Callable[[str], str] | None = None) -> Ask:
    """What the question asks for, and, for a unit the unit table (text.unit_of) does not have in both
    languages, the unit word translated alone by `translate` (the engine's translator into the documents'
    language): an English sentence's "10 million subscribers" never matches the Italian stem of "iscritti". The
    translation only matches the unit attached to a number (`Ask.fits`), never a word elsewhere in the sentence:
    a word translated out of context can be a generic one ("volte" -> "times")."""
    ask = ask_of(question)
    if translate is None or ask.kind != "quantity" or ask.unit in ("", "money", "time"):
        return ask
    m = _UNIT_AFTER.search((question or "").replace("’", "'"))
    if not m or ask.units:
        return ask  # the unit table already names it in both languages
    word = translate(m.group(1)).strip()
    if not word.isalpha() or tu.fold(word) == tu.fold(m.group(1)):
        return ask  # untranslated, several words, or not a word: nothing to add
    unit = tu.unit_of(word)
    return replace(ask, units=(unit,)) if not ask.fits(unit) else ask


# a file system path ("/var/www/html", "~/.bashrc") or a URL ("https://www.debian.org")
_PATH = re.compile(r"(?<![\w/])(?:[a-z][a-z0-9+.\-]*://[\w.\-]+(?:/[\w.\-~%]*)*|~?/[\w.\-]+(?:/[\w.\-]*)*)", _I)


def _new_paths(sentence: str, question: str) -> set[str]:
    """The paths and URLs of the sentence that the question does not give: they answer "where" ("Where does
    Apache serve pages from?" "/var/www/html"). One segment ("/2") or a fraction ("and/or") is not a path."""
    found = {p.rstrip(".,;:)") for p in _PATH.findall(sentence)}
    return {p for p in found if (p.count("/") >= 2 or "://" in p or p.startswith("~/")) and p not in question
            and p.rstrip("/") not in question}


@lru_cache(maxsize=1 << 14)
def _new_entities(sentence: str, question: str) -> frozenset:
    """Names in the sentence that the question does not have: capitalised or mixed-case words, and words that
    mix letters and digits ("4chan"); a capitalised first word is not a name unless it is mixed-case."""
    out = set()
    q_ents = tu.entities(question)
    # a path or URL is a place, not a name: its words ("apache2") are not names (`_new_paths` reads it)
    for clause in re.split(r"(?<=[.!?:;])\s+|\n", _PATH.sub(" ", sentence)):
        toks = re.findall(r"\w[\w\-]*", tu.CITE.sub(" ", clause))
        for i, t in enumerate(toks):
            if re.fullmatch(r"\d+[^\W\d_]+\w*|[^\W\d_]+\d+\w*", t) and tu.fold(t) not in tu.fold(question):
                out.add(tu.fold(t))  # letters and digits mixed: a name ("4chan", "GPT4")
                continue
            if not t[0].isalpha() or (i == 0 and not any(c.isupper() for c in t[1:])):
                continue
            if (t[0].isupper() or any(c.isupper() for c in t[1:])) and len(t) > 1 and tu.fold(t) not in tu.stopwords():
                key = tu.entity_key(t)
                if key not in q_ents:
                    out.add(key)
    return frozenset(out)


def _expanded(sentence: str, question: str) -> list[str]:
    """The question's short words (2 to 6 letters, parts of hyphenated ones too: "simple-cdd") that consecutive
    words of one clause of the sentence spell out ("CDD" in "Custom Debian Derivative")."""
    sw = tu.stopwords()
    short = {tu.fold(p) for t in tu.tokens(tu.CITE.sub(" ", question)) for p in t.split("-")
             if 2 <= len(p) <= 6 and p.isalpha() and (p.isupper() or tu.fold(p) not in sw)}
    return sorted(a for a in short if tu.spells(a, sentence))


_TOKEN = re.compile(r"[^\W_][\w.+\-/]*[^\W_]|[^\W_]")


@lru_cache(maxsize=1 << 14)
def new_identifiers(sentence: str, question: str, noun: str = "") -> frozenset:
    """Names written as code that the question does not have: a word mixing letters and digits ("audit2allow"),
    joining parts with a dot, an underscore or a slash ("preseed.cfg"), a lowercase word joined by hyphens
    ("equivs-build", "munin-node"), or the word between a determiner and the noun asked for ("the equivs
    package" for "which package"; "the configuration file" too: the evidence's score has to tell those apart)."""
    q = {tu.fold(t) for t in _TOKEN.findall(question)}
    sw = tu.stopwords()
    toks = _TOKEN.findall(tu.CITE.sub(" ", sentence))
    out = set()
    for i, t in enumerate(toks):
        f = tu.fold(t)
        if f in q or f in sw or not any(c.isalpha() for c in t):
            continue
        parts = t.split("-")
        code = ((any(c.isdigit() for c in t) and not _ORDINAL.fullmatch(t)) or re.search(r"\w[._/]\w", t) is not None
                or (len(parts) > 1 and t.islower() and not any(tu.fold(x) in sw for x in parts)))
        named = (bool(noun) and 0 < i < len(toks) - 1 and _singular(tu.fold(toks[i + 1])) == noun
                 and tu.fold(toks[i - 1]) in _DETERMINERS)
        if code or named:
            out.add(f)
    return frozenset(out)


_ORDINAL = re.compile(r"\d+(?:s|st|nd|rd|th|°|[ºª])", re.I)  # "1980s", "2nd": a number, not a name
_DETERMINERS = frozenset({"the", "a", "an", "its", "their", "this"})  # English: Italian puts the name after the noun


# "which two networks", "what are the two ...", "name the top three companies", "quali sono le due reti": a number
# right after the question word (and a few words that may come between) counts the things asked for; it is not a
# quantity the evidence has to state
_COUNTING = re.compile(r"\b(?:which|what|who|name|list|quali|quale|chi|elenca)\s+"
                       r"(?:(?:are|were|is|the|other|top|first|last|sono|erano|i|le|gli|altri|altre)\s+){0,2}"
                       r"(\w+)\b(?:\s+(\w+))?", _I)


# units a number before them measures ("which 10 percent cut", "which 4 bits"); shorter ones ("GB", "nm", "bit")
# and durations are known by their length and _DURATION_UNITS
_COUNT_NOT_BEFORE = frozenset({"percent", "per", "cento", "bits", "byte", "bytes", "inch", "inches", "pollici",
                               "gigabyte", "gigabytes", "megabyte", "megabytes", "core", "cores"})


def required_numbers(question: str) -> set[float]:
    """The question's numbers that the evidence must hold: all but a small count of the things asked for (2 to 12,
    before a plural noun or at the end: "which two networks", "quali due reti", "which two?"; not before a unit
    or "million": "which 8 GB GPU", "what 10 million users" are quantities). Removed where it stands, so the same
    number elsewhere in the question stays required."""
    blanked = question
    for m in _COUNTING.finditer(question):
        vals = tu.numbers(m.group(1))
        nxt = (m.group(2) or "").lower()
        if not vals or not all(v == int(v) and 2 <= v <= 12 for v in vals):
            continue
        if nxt and (tu.is_multiplier(nxt) or len(nxt) <= 3 or nxt in _COUNT_NOT_BEFORE or _MONEY_IN_TEXT.search(nxt)
                    or any(tu.stem(nxt).startswith(u) for u in _DURATION_UNITS)):
            continue
        blanked = blanked[:m.start(1)] + " " * (m.end(1) - m.start(1)) + blanked[m.end(1):]
    return tu.numbers(blanked)


def prefers(sentence: str, question: str, ask: Ask) -> bool:
    """The sentence holds the kind of answer preferred (`Ask.code`, `Ask.expands`): a name written as code or a
    path, or the words spelling out an acronym of the question."""
    if ask.expands:
        return bool(_expanded(sentence, question))
    if ask.code:
        return bool(new_identifiers(sentence, question, ask.noun)) or bool(_new_paths(sentence, question))
    return False


def holds(sentence: str, question: str, ask: Ask | None = None) -> bool:
    """True when the question constrains no type, or the sentence holds the asked type beyond the question."""
    ask = ask or ask_of(question)
    if not ask.kind:
        return True
    if ask.kind == "entity":
        return bool(_new_entities(sentence, question)) or (ask.place and bool(_new_paths(sentence, question)))
    if ask.kind == "reason":
        return bool(_REASON_IN_TEXT.search(sentence))
    if ask.kind == "date":
        if _CAL_DATE.search(sentence):
            return True
        return not ask.exact and bool(_REL_DATE.search(sentence) or _CLOCK.search(sentence))
    # quantity: a value the question does not already give, with the unit asked for
    q_vals = tu.numbers(question) | _version_numbers(sentence)
    new = [(v, u) for v, u in tu.quantities(sentence) if v not in q_vals]
    if ask.unit == "money":
        if _COMPARES.search(question) and _RELATIVE.search(sentence):
            return True
        return bool(_MONEY_IN_TEXT.search(sentence)) and bool(new)
    if ask.unit == "time":
        return any(u[:3] in {x[:3] for x in _DURATION_UNITS} for _, u in new) or bool(_REL_DATE.search(sentence))
    if ask.unit:
        return (any(ask.fits(u) for _, u in new) or any(ask.fits(u) for v, u in _second_units(sentence) if v not in q_vals)
                or (bool(new) and ask.unit in set(tu.content_stems(sentence))))
    return bool(new) or bool(re.search(r"%|\bper ?cent\b|\bhalf\b|\btwice\b|\bdouble\b|\bmetà\b|\bdoppio\b", sentence, _I))



def _second_units(sentence: str) -> list[tuple[float, str]]:
    """(value, unit) with the word after the next as the unit, when the next is not a function word: "the twelve
    suggested tasks" counts tasks, "20 GB of space" only gigabytes (text.quantities reads the next word only)."""
    toks = [tu.fold(t) for t in tu.tokens(tu.CITE.sub(" ", sentence))]
    sw = tu.stopwords()
    out = []
    for at, (v, _) in tu.quantity_positions(sentence):
        j = at + 1 + (at + 1 < len(toks) and tu.is_multiplier(toks[at + 1]))
        if j + 1 < len(toks) and toks[j] not in sw and toks[j + 1] not in sw and toks[j + 1][0].isalpha():
            out.append((v, tu.unit_key(toks[j + 1])))
    return out


# ---- versions: "Llama 2" is not "Llama 3" -----------------------------------------------------------
_VERSIONED = re.compile(r"\b([^\W\d_][\w]*?)(?:[\s\-]?)(\d+(?:\.\d+)*[a-zA-Z]?)\b")


def versioned_names(text: str, names_only: bool = False) -> set[tuple[str, str]]:
    """(name, version) pairs: "Llama 3.1" -> ("llama", "3.1"), "GPT-4o" -> ("gpt", "4o"), "llama3" -> ("llama", "3").
    A name is a word of two letters or more that is not a function word, month or weekday; `names_only` also
    asks that it be written as a name (a capital, or glued to its number: "gpt-4", "llama3")."""
    out = set()
    plain = tu.CITE.sub(" ", text or "")
    for m in _VERSIONED.finditer(plain):
        name, ver = m.group(1), m.group(2)
        key = tu.fold(name)
        if len(key) < 2 or key in tu.stopwords() or date_words(name) or date_words(ver):
            continue
        glued = m.end(1) == m.start(2) or plain[m.end(1):m.start(2)] == "-"
        if names_only and not (name[0].isupper() or any(c.isupper() for c in name[1:]) or glued):
            continue
        out.add((key, ver.lower()))
    return out


# a number hyphenated or glued to letters ("P-92", "GPT-4", "llama3"; not "H100": one letter), or a decimal release
# after a capitalised word that is not a function word ("Llama 3.1", "Claude 3.5"; not "About 2.5 hours"): part of
# a name, not an amount ("Nearly 500 employees" is an amount)
_CODE = re.compile(r"\b[^\W\d_]+-(\d+(?:\.\d+)?)[a-z]?\b(?!\s*(%|per\s*cent))|\b[^\W\d_]{2,}(\d+(?:\.\d+)?)[a-z]?\b"
                   r"|\b([A-Z][\w]*)\s+(\d+\.\d+)\b(?!\s*(%|per\s*cent))")


def _version_numbers(sentence: str) -> set[float]:
    """Numbers that belong to a name ("Llama 3.1", "P-92", "GPT-4"), not quantities: "how much does Musk ask for?"
    is not answered by the codename P-92."""
    out = set()
    for m in _CODE.finditer(sentence or ""):
        if m.group(4) and tu.fold(m.group(4)) in tu.stopwords():
            continue  # "About 2.5 hours", "in 2.5 years": an amount
        try:
            out.add(float(m.group(1) or m.group(3) or m.group(5)))
        except (TypeError, ValueError):
            pass
    return out


def _same_version(asked: str, have: str) -> bool:
    """"3" covers "3.1" (a family and its release); "3.1" is not "3", nor "4" "4o"."""
    return have == asked or have.startswith(asked + ".")


def other_version(sentence: str, question: str, context: str = "") -> bool:
    """True when the sentence names what the question names only in another version: asked about "Llama 2", it
    names "Llama 3" and not "Llama 2" (nor does the sentence before it, `context`). Numbers are not paraphrased:
    such a sentence is about something else, and does not answer. A sentence that names other versioned things
    beside ("ten times GPT-3") is not judged: it may compare."""
    asked = versioned_names(question)
    if not asked:
        return False
    every = versioned_names(f"{context} {sentence}")
    have = versioned_names(sentence, names_only=True)  # "a whopping 405 billion" is a quantity, not a version
    for name, ver in asked:
        if any(n == name and _same_version(ver, v) for n, v in every):
            continue
        if any(n == name for n, _ in have):
            return True  # the same name, another version only
    return False


# ---- questions about the documents themselves -------------------------------------------------------
_DOC = r"(article|piece|post|blog|story|video|episode|summary|document|translation|write-?up|essay|articolo|pezzo|traduzione|documento)"
_DOCW = r"(?<![\w-])" + _DOC + r"(?![\w-])"  # a document word on its own ("post", not "post-training")
_DOCD = _DOCW.replace("translation|", "")  # dates: "the translation model ... published" is not a document
_END = r"\s*[?.!]*\s*$"  # the verb closes the question: "when was the article published?"
_THE = r"(the|this|that|his|her|its|their|[\w\-]+\s+[\w\-]+'s|[\w\-]+'s)\s+((\w+|\w+'s)\s+){0,2}?"  # "Mohit Pandey's", "the Italian"
_META = {
    # what the catalog does not record, asked of a document: refused, never guessed from its text
    # the document is the subject: "when was Mohit Pandey's article about Threads published", not "when was the
    # research described in the article published" (a date in the text)
    "date": re.compile(r"\bpublication\s+date\s+of\s+" + _THE + _DOCD +
                       r"|\b(when|what\s+date|which\s+day)\s+(was|were|is)\s+" + _THE + _DOCD + r"\b(\s+\S+){0,5}?\s+(first\s+)?"
                       r"(published|posted|uploaded|written)" + _END +
                       r"|\bwhen\s+was\s+(it|this|that)\s+(published|posted|uploaded|written)" + _END +
                       r"|\bwhen\s+did\s+\S+(\s+\S+)?\s+publish\s+" + _THE + _DOCD +
                       r"|\bdata\s+di\s+pubblicazione\s+(del|della|dell'|di)\s*" + _DOCD +
                       r"|\b(quando|in\s+che\s+data)\s+(è|e'|é)\s+(stat[oa]\s+)?(pubblicat[oa]|uscit[oa])\s+(il|lo|la|l')\s*" + _DOCD + r"\b", _I),
    "translator": re.compile(r"\bwho\s+translated\s+" + _THE + r"((\w+\s+){0,2}?(version|translation)\s+of\s+" + _THE + r")?" + _DOCW +
                             r"|\btranslator\s+of\s+" + _THE + _DOCW + r"|" + _DOCW + r"\s+(was\s+)?translated\s+by\s+(whom|who)\b"
                             r"|\bchi\s+ha\s+tradotto\s+(in\s+\w+\s+)?(il\s+|lo\s+|la\s+|l')\s*" + _DOCW +
                             r"|\btraduttor[ei]\s+(del|della|dell')\s*" + _DOCW, _I),
    "author": re.compile(r"\bwho\s+(wrote|writes|authored|penned)\b|\b(who|name)\b.*\b(author|writer)\b"
                         r"|\bwho\s+is\s+(it|this|the\s+\w+)\s+by\b|\bchi\s+(ha\s+scritto|l'ha\s+scritto|scrive|firma)\b"
                         r"|\b(chi|qual\s+è|quale\s+è|nome)\b.*\bautor[ei]\b", _I),
    # a title of a document ("the title of the piece", "headline"), not any title ("what title did Meta give him")
    "title": re.compile(r"\bheadline\b|\b" + _DOC + r"\b.*\b(title[sd]?|titolo|titolat[oa])\b"
                        r"|\b(title[sd]?|titolo|titolat[oa])\b.*\b" + _DOC + r"\b|\b(its|the)\s+title\b(?!\s+\w+\s+(gave|give))"
                        r"|\b" + _DOC + r"\b.*\b(is|was)\s+(called|named)\b|\bcome\s+si\s+intitola\b", _I),
    "language": re.compile(r"\b(what|which)\s+language\b(?!\s+model)|\blanguage\s+is\b|\bwritten\s+in\s+(what|which)\b|\bin\s+che\s+lingua\b"
                           r"|\bquale\s+lingua\b|\bin\s+quale\s+lingua\b", _I),
}


RECORDED = ("author", "title", "language")  # the fields a document's metadata holds
# "into which language was the article translated?": the language of its translation, not its own
_TRANSLATED = re.compile(r"\btranslat\w*|\btradott[oaie]\b|\btraduzion[ei]\b|\btradurr?\w*", _I)
# ... and which direction: "translated from", "the original", "da quale lingua" ask for the original's language
_FROM = re.compile(r"\btranslated\s+from\b|\b(from|out\s+of)\s+(what|which)\s+language\b|\boriginal(ly)?\b"
                   r"|\bda\s+(quale|che)\s+lingua\b|\btradott[oaie]\s+da(l|lla|ll')?\b|\boriginal[ei]\b|\bin\s+origine\b", _I)
_TRANSLATOR = re.compile(r"\btranslator|\btraduttor", _I)  # "what language is the translator from?": not a document's


def asks_translation(question: str) -> str:
    """For a question about a document's language that speaks of its translation: "into" when it asks the
    language the document was translated into, "from" when it asks the language of the original ("translated
    from", "originally written in"); "" otherwise."""
    q = question or ""
    if metadata_field(q) != "language" or not _TRANSLATED.search(q) or _TRANSLATOR.search(q):
        return ""
    return "from" if _FROM.search(q) else "into"


# "according to the author", "secondo l'autore", "does the author say": the author is who says it, not what is asked
_ATTRIBUTION = re.compile(r"\b(according\s+to|in\s+the\s+view\s+of|per|secondo|a\s+detta)\s+(the\s+|its\s+|l'|il\s+|lo\s+|la\s+|dell')?"
                          r"(author|writer|autore|autrice)\b|\bin\s+the\s+(author|writer)'s\s+(view|opinion|words)\b"
                          r"|\b(does|did|do)\s+the\s+(author|writer)\s+(?!go\b|use\b|sign\b|call\b|write\s+under\b)\w+"
                          r"|\bthe\s+(author|writer)\s+(says?|said|thinks?|argues?|believes?|claims?|suggests?|notes?|mentions?)\b"
                          r"|\bl'autore\s+(dice|pensa|sostiene|crede|afferma|ritiene)\b", _I)


def metadata_field(question: str) -> str:
    """'author', 'title' or 'language' when the question asks that of a document; 'date' or 'translator' when it
    asks what the catalog does not record; else ''."""
    q = _ATTRIBUTION.sub(" _ ", (question or "").replace("’", "'"))  # "who _ wrote": not "who wrote"
    for name, pat in _META.items():
        if pat.search(q):
            return name
    return ""


_META_WORDS = frozenset("""title titles titled headline heading called named name wrote written writes write authored
penned author writer byline language lingua titolo titolato titolata intitola scritto scritta scrive autore autrice
firma firmato""".split())


def beyond_metadata(question: str) -> str:
    """The question without the words that ask for a document's title, author or language: what is left says
    which document is meant ("... that mentions the 4chan leak")."""
    return " ".join(t for t in (question or "").replace("’", "'").split()
                    if tu.fold(t.strip(",.?!:;'\"")) not in _META_WORDS)


def date_words(word: str) -> bool:
    """Is this single word part of a date ("2023", "July", "Q2", "yesterday")?"""
    return bool(_CAL_DATE.fullmatch(word) or _REL_DATE.fullmatch(word))
