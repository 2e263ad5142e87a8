"""Inert HTML / markdown for the chat window. Everything that comes from a document or a model is escaped
here before it reaches a gr.HTML or a gr.Chatbot: an article with `<script>` or markdown tricks shows as text."""
from __future__ import annotations

import html
import re
from typing import Callable

from app.types import Answer, Citation, Source

DRAFT_LABEL = "✍️ draft — being checked…"
REFUSAL_LABEL = "🚫 Not in the documents"
ERROR_LABEL = "⚠️ Error"
STOPPED_LABEL = "⏹️ Stopped"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~=$:&])")


def esc(text: str | None) -> str:
    return html.escape(str(text or ""), quote=True)


def md_escape(text: str) -> str:
    """Plain text -> markdown that renders as exactly that text (no links, images, HTML, emphasis, math)."""
    out = html.escape(text or "", quote=False)  # &lt; &gt; &amp: shown literally, never parsed as tags
    out = re.sub(r"([\\`*_{}\[\]()#+!|~=$])", r"\\\1", out)
    out = re.sub(r"^(\s*)([-+>]|\d+\.)", lambda m: m.group(1) + "\\" + m.group(2), out, flags=re.M)
    return out


_CITE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


def answer_markdown(text: str) -> str:
    """The checked answer for the chat bubble: escaped, with its [n] markers kept readable (bold)."""
    parts, last = [], 0
    for m in _CITE.finditer(text or ""):
        parts.append(md_escape(text[last:m.start()]))
        parts.append("**\\[" + m.group(1) + "\\]**")
        last = m.end()
    parts.append(md_escape((text or "")[last:]))
    return "".join(parts)


def draft_message(draft: str) -> str:
    return f"*{DRAFT_LABEL}*\n\n{md_escape(draft) or '…'}"


def final_message(answer: Answer) -> str:
    if answer.refused:
        return f"**{REFUSAL_LABEL}.** {answer_markdown(answer.answer)}\n\n*The closest passages are in the sources panel.*"
    return answer_markdown(answer.answer)


def error_message(msg: str) -> str:
    return f"**{ERROR_LABEL}:** {md_escape(msg)}"


# ---- sources panel -----------------------------------------------------------------------------------
def highlight(text: str, spans: list[tuple[int, int]], answer: tuple[int, int] | None = None) -> str:
    """Escape `text` and wrap each (start, end) span in <mark> (offsets into the unescaped text); the answering
    words `answer` inside a span get <mark class='cq-answer'>."""
    cut = []
    for s, e in spans:
        if answer and s <= answer[0] < answer[1] <= e:
            cut += [(s, answer[0], ""), (answer[0], answer[1], " class='cq-answer'"), (answer[1], e, "")]
        else:
            cut.append((s, e, ""))
    spans = sorted((max(0, s), min(len(text), e), cls) for s, e, cls in cut if e > s)
    out, pos = [], 0
    for s, e, cls in spans:
        if s < pos:
            s = pos
        if e <= s:
            continue
        out.append(esc(text[pos:s]))
        out.append(f"<mark{cls}>{esc(text[s:e])}</mark>")
        pos = e
    out.append(esc(text[pos:]))
    return "".join(out)


def _who(title: str, author: str, language: str) -> str:
    bits = [f"<span class='cq-title'>{esc(title)}</span>"]
    if author:
        bits.append(f"<span class='cq-author'>{esc(author)}</span>")
    if language:
        bits.append(f"<span class='cq-lang'>{esc(language)}</span>")
    return " · ".join(bits)


def _passage_for(c: Citation, sources: list[Source], doc_text: str | None) -> tuple[str, list[tuple[int, int]]]:
    """The passage around a citation and the span to highlight (relative to the passage)."""
    src = next((s for s in sources if s.chunk_id == c.chunk_id), None)
    if src is None:
        src = next((s for s in sources if s.doc_id == c.doc_id and s.start <= c.start < s.end), None)
    if doc_text and src and 0 <= src.start < src.end <= len(doc_text) and src.start <= c.start and c.end <= src.end:
        return doc_text[src.start:src.end], [(c.start - src.start, c.end - src.start)]
    if doc_text and 0 <= c.start < c.end <= len(doc_text):
        a, b = max(0, c.start - 300), min(len(doc_text), c.end + 300)
        return doc_text[a:b], [(c.start - a, c.end - a)]
    text = src.text if src else c.quote
    i = text.find(c.quote) if c.quote else -1
    return text, ([(i, i + len(c.quote))] if i >= 0 else [])


def sources_html(answer: Answer | None, doc_text: Callable[[str], str | None], searched_for: str = "") -> str:
    if answer is None:
        return "<div class='cq-sources cq-empty'>Sources of the answer appear here.</div>"
    parts = ["<div class='cq-sources" + (" cq-refused" if answer.refused else "") + "'>"]
    if searched_for or answer.searched_for:
        parts.append(f"<div class='cq-searched'>Searched for: <q>{esc(searched_for or answer.searched_for)}</q></div>")
    cited_chunks = set()
    if answer.refused:
        parts.append(f"<div class='cq-refusal-note'>{esc(REFUSAL_LABEL)}: no passage supports an answer"
                     f"{' (' + esc(answer.refusal_reason) + ')' if answer.refusal_reason else ''}. Closest passages:</div>")
    elif answer.citations:
        parts.append("<h4>Cited passages</h4>")
        docs_shown: set[str] = set()
        for c in answer.citations:
            cited_chunks.add(c.chunk_id)
            full = doc_text(c.doc_id)
            passage, spans = _passage_for(c, answer.sources, full)
            mark = None
            if getattr(c, "answer_start", None) is not None and spans:
                shift = c.start - spans[0][0]  # document offset of the passage's first character
                mark = (c.answer_start - shift, c.answer_end - shift)
            parts.append(
                f"<div class='cq-cite' data-doc='{esc(c.doc_id)}'>"
                f"<div class='cq-head'><span class='cq-n'>[{c.n}]</span> {_who(c.title, c.author, c.language)}"
                f" <span class='cq-doc'>{esc(c.doc_id)}</span>{_page(c.page)}</div>"
                f"<div class='cq-passage'>{highlight(passage, spans, mark)}</div>"
            )
            if full and c.doc_id not in docs_shown:
                docs_shown.add(c.doc_id)
                marks = [(x.start, x.end) for x in answer.citations if x.doc_id == c.doc_id]
                parts.append(f"<details class='cq-article'><summary>Whole article</summary>"
                             f"<div class='cq-fulltext'>{highlight(full, marks)}</div></details>")
            parts.append("</div>")
    others = [s for s in answer.sources if s.chunk_id not in cited_chunks]
    if others:
        if answer.refused:
            parts.append("<div class='cq-closest'>")
            for s in others[:3]:
                parts.append(_source_block(s))
            parts.append("</div>")
            others = others[3:]
        if others:
            parts.append(f"<details class='cq-uncited'><summary>Retrieved but not cited ({len(others)})</summary>")
            for s in others:
                parts.append(_source_block(s))
            parts.append("</details>")
    parts.append("</div>")
    return "".join(parts)


def _page(page: int | None) -> str:
    return f" <span class='cq-page'>p. {int(page)}</span>" if page else ""


def _source_block(s: Source) -> str:
    return (f"<div class='cq-src'><div class='cq-head'>{_who(s.title, s.author, s.language)}"
            f" <span class='cq-doc'>{esc(s.doc_id)}</span>{_page(s.page)} <span class='cq-score'>score {s.score:.3f}</span></div>"
            f"<div class='cq-passage'>{esc(' '.join(s.text.split()))}</div></div>")


def status_line(answer: Answer | None, index: dict | None) -> str:
    bits = []
    if answer is not None:
        t = answer.timings
        bits.append(f"**{md_escape(answer.backend)}**: {md_escape(answer.model)}")
        bits.append(f"retrieval {t.retrieve_ms:.0f} ms")
        bits.append(f"first token {t.ttft_ms:.0f} ms")
        bits.append(f"{t.tokens_per_s:.1f} tokens/s" if t.tokens_per_s else "no generation")
        bits.append(f"total {t.total_ms:.0f} ms")
    if index:
        bits.append(f"index: {index.get('documents', 0)} documents, {index.get('chunks', 0)} chunks")
        if index.get("backend_reason"):
            bits.append(md_escape(index["backend_reason"]))
    return " · ".join(bits)


CSS = """
.cq-sources { font-size: 0.92em; line-height: 1.45; overflow-wrap: anywhere; }
.cq-sources h4 { margin: 0.3em 0; }
.cq-searched { color: var(--body-text-color-subdued); margin-bottom: 0.5em; }
.cq-cite, .cq-src { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.5em 0.7em; margin: 0.4em 0; }
.cq-head { font-size: 0.9em; margin-bottom: 0.3em; }
.cq-n { font-weight: bold; }
.cq-title { font-weight: 600; }
.cq-doc, .cq-page, .cq-score, .cq-lang, .cq-author { color: var(--body-text-color-subdued); }
.cq-passage, .cq-fulltext { white-space: pre-wrap; }
.cq-fulltext { max-height: 22em; overflow-y: auto; border-left: 3px solid var(--border-color-primary); padding-left: 0.6em; }
.cq-sources mark { background: #fde68a; color: #111; padding: 0 2px; border-radius: 2px; }
.cq-sources mark.cq-answer { background: #f59e0b; font-weight: 600; }
.cq-refused .cq-refusal-note { background: #fee2e2; color: #7f1d1d; border-radius: 6px; padding: 0.4em 0.6em; }
.cq-uncited summary, .cq-article summary { cursor: pointer; color: var(--link-text-color); }
"""
