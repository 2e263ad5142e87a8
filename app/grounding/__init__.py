"""Grounding: everything that decides what the documents support.

- `policy`: `GroundingPolicy`, every threshold, weight, margin and word-count minimum by name (frozen;
  `digest()` is the engine's `policy_hash`).
- `text`: sentences with offsets, stems, stop words, names, numbers with units, clauses, citation markers.
- `evidence`: score the retrieved passages' sentences against the question; answerability (names, numbers, coverage).
- `checking`: `SupportChecker`, is one sentence backed by one passage (numbers bound, names present, words, meaning).
- `citations`: check each draft sentence, correct or drop its citation; number the citations; render the answer.
- `assembly`: `SentenceAssembler`, streamed model text -> complete sentences.
- `fallback`: `quote_fallback`, what to quote verbatim when no model sentence survives.
"""
