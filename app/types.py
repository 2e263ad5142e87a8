"""Typed records shared by retrieval, answering, serving and evaluation (like ragna's `Source`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Source:
    """One retrieved chunk: where it comes from and how well it matched."""

    doc_id: str
    title: str
    chunk_id: str
    text: str
    start: int  # character offset of the chunk in the original file's text
    end: int
    score: float
    language: str = "en"
    author: str = ""
    vector_rank: int | None = None
    bm25_rank: int | None = None
    page: int | None = None  # PDF page of the chunk (1-based); None for documents without pages

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Evidence:
    """One evidence sentence taken from a Source and shown to the model as [n]."""

    n: int
    source: Source
    text: str
    start: int  # offsets into the original document text
    end: int
    score: float
    context: str = ""  # the sentence before it in the same passage (resolves "this model", "he")
    context_start: int = -1


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    chunk_id: str
    start: int
    end: int
    quote: str
    supported: bool
    score: float
    language: str = "en"
    author: str = ""
    page: int | None = None  # PDF page the quote is on (1-based); None for documents without pages
    answer_start: int | None = None  # the answering words inside the quote (document offsets), when marked
    answer_end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CheckedSentence:
    text: str  # without citation markers
    cited: list[int]  # evidence numbers the final sentence cites
    support: float  # best support score among cited evidence
    supported: bool
    origin: str  # "model" | "quoted" | "metadata" | "refusal"
    dropped_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Timings:
    retrieve_ms: float = 0.0
    prompt_ms: float = 0.0
    ttft_ms: float = 0.0
    generate_ms: float = 0.0
    check_ms: float = 0.0
    total_ms: float = 0.0
    tokens: int = 0
    tokens_per_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in asdict(self).items()}


@dataclass
class Answer:
    question: str
    answer: str
    refused: bool
    citations: list[Citation]
    sources: list[Source]  # everything retrieved, cited or not
    backend: str
    model: str
    language: str
    timings: Timings
    sentences: list[CheckedSentence] = field(default_factory=list)
    draft: str = ""  # the model's raw text before checking
    searched_for: str = ""  # the standalone question actually used for retrieval
    refusal_reason: str = ""
    answerability: float = 0.0  # the best evidence score: the answer-or-refuse decision compares it to min_evidence

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "searched_for": self.searched_for or self.question,
            "answer": self.answer,
            "refused": self.refused,
            "refusal_reason": self.refusal_reason,
            "answerability": self.answerability,
            "language": self.language,
            "citations": [c.to_dict() for c in self.citations],
            "sentences": [s.to_dict() for s in self.sentences],
            "sources": [
                {k: v for k, v in s.to_dict().items() if k != "text"} | {"text": s.text}
                for s in self.sources
            ],
            "draft": self.draft,
            "backend": self.backend,
            "model": self.model,
            "timings": self.timings.to_dict(),
        }
