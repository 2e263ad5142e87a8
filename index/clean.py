"""Remove web boilerplate (menus, share bars, event lists, newsletter blocks) without moving any offset.

Works on lines: each line is kept or dropped with a reason, and the kept text is returned as
(start, end) spans into the original text, so chunk offsets always point into the file's own text.
Linear in the length of the text (a 20 MB text in seconds): every pass is one walk over the lines, and the
patterns run only on lines short enough to be dropped by them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_TERMINAL = re.compile(r"[.!?…»”\"')\]]\s*$")
_QUESTION = re.compile(r"\?[\"'”’»)\]]*\s*$")  # as app/grounding/text.is_question reads a question
_PROMO = re.compile(  # "©" is matched apart (no word boundary before it)
    r"\b(subscribe|newsletter|sign up|sign in|log ?in|download (the|our)|inbox|related posts?|read more|"
    r"follow us|cookies?|copyright|all rights reserved|privacy policy|terms of (use|service)|advertis|sponsored|"
    r"share (this|on)|listen to this story|watch on|corporate training|upcoming .*conference|flagship events|"
    r"discord community)\b",
    re.I,
)
_MONTHS = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
_EVENT = re.compile(rf"(📍|\|\s*\S|\b{_MONTHS}\s+\d{{1,2}}(\s*[-–]\s*\d{{1,2}})?,?\s+\d{{4}}\b|\b\d{{1,2}}(\s*[-–]\s*\d{{1,2}})?\s+{_MONTHS}\s+\d{{4}}\b)", re.I)
_DATED = re.compile(rf"\b{_MONTHS}\s+\d{{1,2}}(\s*[-–]\s*\d{{1,2}})?,?\s+\d{{4}}\b|\b\d{{1,2}}(\s*[-–]\s*\d{{1,2}})?\s+{_MONTHS}\s+\d{{4}}\b", re.I)
_SHARE = re.compile(r"^\s*(share|share this( article| story)?|tweet|sort:?|comments?|reply|▶️.*|picture of .*)\s*$", re.I)


@dataclass
class Line:
    start: int
    end: int  # exclusive, without the newline
    text: str
    keep: bool = True
    reason: str = ""


def _words(s: str) -> int:
    return len(s.split())


_LONG_LINE_WORDS = 12  # a line this long is kept even without final punctuation


def _is_short(s: str) -> bool:
    n = _words(s)
    return n < 4 or (n < _LONG_LINE_WORDS and not _TERMINAL.search(s))


_SENTENCE_END = re.compile(r"(?<=[^\W\d_]{2})[.!?…][»”\"')\]]*\s+(?=[\"“«(]?[A-Z0-9])")


def _finished_and_long(s: str) -> bool:
    """Ends like a sentence, and has as many words as a line needs to be kept without final punctuation
    (`_is_short`)."""
    return bool(_TERMINAL.search(s)) and _words(s) >= _LONG_LINE_WORDS


def _is_prose(s: str) -> bool:
    """A paragraph of two or more finished sentences, long enough (`_finished_and_long`): not a teaser, a
    heading, a link or a one-line comment ("Great article! Thanks.")."""
    return _finished_and_long(s) and len(_SENTENCE_END.findall(s.strip())) >= 1


def _is_sentence(s: str) -> bool:
    """A finished sentence, long enough (`_finished_and_long`), with no listing separators ("|", "📍"): "The policy
    takes effect on 1 April 2024 and will be reviewed every two years." is prose, not an event listing, though it
    holds a date."""
    return _finished_and_long(s) and not re.search(r"\||📍", s)


def split_lines(text: str) -> list[Line]:
    lines, pos = [], 0
    for raw in text.split("\n"):
        lines.append(Line(pos, pos + len(raw), raw))
        pos += len(raw) + 1
    return lines


def classify(text: str, content_lines: frozenset[int] = frozenset()) -> list[Line]:
    """Each line kept or dropped with its reason. `content_lines`: the start offsets of lines the document's
    structure says are content (an HTML or Markdown list item or table row that is not a link): only the promo and
    share patterns drop those, not their length or a "|"."""
    lines = split_lines(text)
    content = [ln for ln in lines if ln.text.strip()]
    seen: dict[str, int] = {}
    for ln in content:
        key = ln.text.strip().lower()
        seen[key] = seen.get(key, 0) + 1
    for ln in content:
        s = ln.text.strip()
        if _SHARE.match(s):
            ln.keep, ln.reason = False, "share/comment widget"
        elif _words(s) < 30 and (_PROMO.search(s) or "©" in s):  # word counts first: the patterns never scan long lines
            ln.keep, ln.reason = False, "newsletter/promo/menu"
        elif ln.start in content_lines:
            if _words(s) < 25 and _DATED.search(s) and not _is_sentence(s):  # "Meta launches Threads - 3 July 2023"
                ln.keep, ln.reason = False, "event listing/date line"
            continue
        elif _words(s) < 25 and _EVENT.search(s) and not _is_sentence(s):
            ln.keep, ln.reason = False, "event listing/date line"
        elif _is_short(s):
            ln.keep, ln.reason = False, "short line (menu, heading or caption)"
        elif seen[s.lower()] > 1 and _words(s) < 15:
            ln.keep, ln.reason = False, "repeated line"
    # an FAQ's short answer to the question on the line before it ("Which VPN client do we use?" "We use
    # WireGuard.") is content, not a caption; a lone pair with nothing kept after it only in a series of such
    # pairs (a lone "Have a question? Email the editor." closing a page is furniture)
    pairs = [(prev, ln) for prev, ln in zip(content, content[1:])
             if not ln.keep and ln.reason.startswith("short line") and prev.keep and _QUESTION.search(prev.text)
             and _TERMINAL.search(ln.text) and _words(ln.text) >= 2]
    faq = {id(x) for q, a in pairs for x in (q, a)} if len(pairs) >= 2 else set()
    # Trailing page furniture: after the last run of two consecutive kept paragraphs, a tail in which
    # dropped lines outnumber kept ones (related posts, promo blurbs, navigation) goes too, except paragraphs of
    # prose (two or more finished sentences): an author's bio says what readers ask ("what is the writer
    # interested in?"), and a manual's last section often stands alone among headings.
    last_run_end = -1
    for i in range(1, len(content)):
        if content[i - 1].keep and content[i].keep:
            last_run_end = i
    if last_run_end >= 0:
        tail = content[last_run_end + 1:]
        if tail and sum(not ln.keep for ln in tail) > sum(ln.keep for ln in tail):
            for ln in tail:
                if ln.keep and not _is_prose(ln.text) and ln.start not in content_lines and id(ln) not in faq:
                    ln.keep, ln.reason = False, "trailing page furniture (bio, related, promo)"
    at = {id(ln): i for i, ln in enumerate(content)}
    for q, a in pairs:
        if q.keep and (id(a) in faq or any(x.keep for x in content[at[id(a)] + 1:])):
            a.keep, a.reason = True, ""
    # a byline names the author, whom "who wrote it?" cites
    by = _byline_line(content)
    if by is not None and not by.keep and by.reason.startswith("short line"):
        by.keep, by.reason = True, ""
    for ln in lines:
        if not ln.text.strip():
            ln.keep = True  # blank lines carry no content; they only join spans
    return lines


def kept_spans(text: str, content_lines: frozenset[int] = frozenset()) -> tuple[list[tuple[int, int]], list[Line]]:
    """Maximal runs of kept content lines as (start, end) offsets, and the dropped lines (`classify`)."""
    lines = classify(text, content_lines)
    spans: list[tuple[int, int]] = []
    cur: list[int] | None = None
    for ln in lines:
        if ln.keep and ln.text.strip():
            if cur is None:
                cur = [ln.start, ln.end]
            else:
                cur[1] = ln.end
        elif not ln.keep:
            if cur is not None:
                spans.append((cur[0], cur[1]))
                cur = None
    if cur is not None:
        spans.append((cur[0], cur[1]))
    return spans, [ln for ln in lines if not ln.keep]


_BYLINE = re.compile(r"^\s*(?:by|written\s+by|author|di|scritto\s+da|autore)\s*:?\s+"
                     r"((?:[A-ZÀ-Ý][\w'’.\-]+\s*){2,4}(?:(?:and|e|&)\s+(?:[A-ZÀ-Ý][\w'’.\-]+\s*){2,4})?)\s*$", re.I)


BYLINE_LINES = 12  # a byline is among a document's first lines


def _byline_name(line: str) -> str:
    from index.language import function_words

    m = _BYLINE.match(line)
    if not m:
        return ""
    words = [w for w in m.group(1).split() if w.lower() not in ("and", "e", "&")]
    # a name's words are capitalised and none is a function word ("By The Numbers", "Di Cosa Parliamo" are titles)
    if all(w[0].isupper() and w.lower().strip(".") not in function_words() for w in words):
        return " ".join(m.group(1).split())
    return ""


def _byline_line(content: list[Line]) -> Line | None:
    for ln in content[:BYLINE_LINES]:
        if _byline_name(ln.text):
            return ln
    return None


def byline(text: str) -> str:
    """The author a byline near the top names ("By Rosa Bellini", "Di Mario Rossi"): the document's author when no
    catalog gives one. Two to four capitalised words (or two such names joined by "and"), nothing else on the line."""
    ln = _byline_line([x for x in split_lines(text) if x.text.strip()])
    return _byline_name(ln.text) if ln is not None else ""


def title_guess(text: str) -> str:
    """First heading-like line (short, no final period; or a first line standing alone as a paragraph, its period
    dropped: "The history of the lighthouse at Cape Moreno.") or the first words of the text."""
    lines = split_lines(text)
    for i, ln in enumerate(lines[:15]):
        s = ln.text.strip()
        if not (3 <= _words(s) <= 16) or _PROMO.search(s) or _SHARE.match(s) or "banner" in s.lower():
            continue
        if not _TERMINAL.search(s):
            return s
        alone = not any(x.text.strip() for x in lines[:i]) and (i + 1 == len(lines) or not lines[i + 1].text.strip())
        if alone and s.endswith(".") and s.count(". ") == 0:
            return s[:-1]
    first = " ".join(text.split()[:10])
    return first + ("…" if len(text.split()) > 10 else "")
