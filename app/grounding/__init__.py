"""Grounding: everything that decides what the documents support.

- `policy`: `GroundingPolicy`, every threshold, weight and margin by name (frozen; its digest joins eval runs).
- `text`: sentences with offsets, stems (PyStemmer), stop words (NLTK), names, numbers with units, clauses.
- `evidence`: score the retrieved passages' sentences against the question; answer-or-refuse evidence.
- `checking`: `SupportChecker`, is one sentence backed by one passage (numbers bound, names present, words, meaning).
- `citations`: check each draft sentence, correct or drop its citation; number citations; render the answer.
- `assembly`: streamed tokens -> complete sentences.
- `fallback`: what to quote verbatim when no model sentence survives.
"""
