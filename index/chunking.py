"""Sentence-aware chunks with character offsets into the original text (llama-index SentenceSplitter)."""
from __future__ import annotations

from dataclasses import dataclass

from llama_index.core.node_parser import SentenceSplitter


@dataclass
class Chunk:
    index: int
    text: str
    start: int
    end: int


def make_splitter(chunk_size: int, chunk_overlap: int) -> SentenceSplitter:
    return SentenceSplitter(chunk_size=chunk_size, chunk_overlap=min(chunk_overlap, chunk_size // 2), paragraph_separator="\n\n")


def chunk_spans(text: str, spans: list[tuple[int, int]], splitter: SentenceSplitter) -> list[Chunk]:
    """Split each kept span separately; locate every chunk in its span so offsets are exact."""
    chunks: list[Chunk] = []
    for s, e in spans:
        segment = text[s:e]
        cursor = 0
        for piece in splitter.split_text(segment):
            piece = piece.strip()
            if not piece:
                continue
            # overlap means the next chunk may start before the previous one ended
            pos = segment.find(piece, max(0, cursor - len(piece)))
            if pos < 0:
                pos = segment.find(piece)
            if pos < 0:  # the splitter normalised whitespace: fall back to the first words
                head = piece[:40]
                pos = max(0, segment.find(head, max(0, cursor - len(piece))))
                end = min(len(segment), pos + len(piece))
            else:
                end = pos + len(piece)
            chunks.append(Chunk(len(chunks), text[s + pos : s + end], s + pos, s + end))
            cursor = end
    return chunks


def split_at(spans: list[tuple[int, int]], cuts: list[int]) -> list[tuple[int, int]]:
    """Cut spans at the given offsets (e.g. where each PDF page starts), so no chunk crosses one."""
    if not cuts:
        return spans
    import bisect

    out = []
    for s, e in spans:
        i = bisect.bisect_right(cuts, s)
        while i < len(cuts) and cuts[i] < e:
            if cuts[i] > s:
                out.append((s, cuts[i]))
            s = cuts[i]
            i += 1
        out.append((s, e))
    return out
