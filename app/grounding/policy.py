"""Every grounding threshold, weight, margin and word-count minimum, by name, in one frozen object.

The grounding modules take a `GroundingPolicy` and read their numbers from it: no bare numeric threshold
lives in them. `GroundingPolicy.from_settings(settings)` applies the ones users may set (`evidence_k`,
`min_evidence`, `min_support`, `relevance_margin`); `digest()` identifies the policy (the engine's
`describe()` reports it as `policy_hash`).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.config import Settings

USER_SETTABLE = ("evidence_k", "min_evidence", "min_support", "relevance_margin")  # Settings fields that set the policy


@dataclass(frozen=True)
class GroundingPolicy:
    # ---- evidence: which sentences of the retrieved passages the model sees (grounding/evidence.py) -----
    evidence_k: int = 3                   # evidence sentences shown to the model at most (short prefill); Settings.evidence_k
    min_evidence_words: int = 4           # shorter "sentences" are headings and fragments, never evidence
    lexical_sentence_weight: float = 0.7  # lexical score = this * coverage of the sentence alone ...
    lexical_context_weight: float = 0.3   # ... + this * coverage of the previous sentence and the sentence together
    score_cosine_weight: float = 0.55     # evidence score = this * cosine(question, sentence) ...
    score_lexical_weight: float = 0.45    # ... + this * lexical score
    name_weight: float = 2.0              # a name or number of the question counts this much in coverage (other words: 1)
    same_language_bonus: float = 0.03     # added to evidence in the question's language (preferred when as good)
    min_answer_coverage: float = 0.5      # answerability: share of the question's other content words one passage must hold

    # ---- answer or refuse, and what the prompt holds (engine.py) -------------------------------------
    min_evidence: float = 0.42            # the best evidence score below this: refuse; Settings.min_evidence
    evidence_margin: float = 0.15         # evidence within this of the best is shown to the model ...
    evidence_floor_ratio: float = 0.8     # ... and never evidence below this share of min_evidence
    max_sentences: int = 3                # kept model sentences per answer; generation stops there
    warm_sentence_limit: int = 2000       # indexes of at most this many chunks get every evidence sentence embedded at warm-up

    # ---- checking a sentence against a passage (grounding/checking.py) -------------------------------
    min_support: float = 0.55             # support score a sentence needs to stay; Settings.min_support
    min_precision: float = 0.6            # share of the sentence's content words that must be in the passage
    min_cosine: float = 0.45              # cosine(sentence, passage) below this: the meaning differs
    min_added_in_passage: float = 0.75    # share of what the sentence adds beyond the question that must be in the passage
    support_precision_weight: float = 0.5  # support = this * word precision ...
    support_cosine_weight: float = 0.5    # ... + this * cosine
    vector_cache_size: int = 20000        # sentence vectors the checker keeps (LRU)

    # ---- citations: which draft sentences stay and what they may cite (grounding/citations.py) -------
    min_claim_stems: int = 2              # fewer content words: too short to check
    language_check_words: int = 5         # sentences of at least this many words must be in the question's language
    relevance_margin: float = 0.1         # a model sentence may cite only evidence within this of the best; Settings.relevance_margin
    cite_min_evidence: float = 0.0        # nor evidence scoring below this (0.0: any evidence shown to the model)

    # ---- quote fallback (grounding/fallback.py) -------------------------------------------------------
    quote_margin: float = 0.15            # other-language evidence is quoted when the question's language trails by more;
                                          # a second sentence of the same document is quoted within this of the best

    @classmethod
    def from_settings(cls, settings: "Settings | None" = None, **overrides: Any) -> "GroundingPolicy":
        """The default policy with the user-settable values of `settings`, then `overrides`."""
        p = cls()
        if settings is not None:
            given = {k: getattr(settings, k, None) for k in USER_SETTABLE}
            p = replace(p, **{k: v for k, v in given.items() if v is not None})
        return replace(p, **overrides) if overrides else p

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def digest(self) -> str:
        """sha256 of the sorted JSON of the policy, 16 hex characters."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
