"""The support checker with the real MiniLM embedder: numbers bound to the wrong subject are caught."""
from __future__ import annotations

import pytest

from _fixtures_core import D0, D3

pytestmark = pytest.mark.slow

PASSAGE = ("Threads crossed 10 million users within seven hours of its launch whereas ChatGPT took seven days to "
           "cross 1 million users.")


@pytest.fixture(scope="module")
def checker(seeded_settings):
    from app.grounding.checking import SupportChecker
    from app.grounding.policy import GroundingPolicy
    from index.embedders import make_embedder

    return SupportChecker(make_embedder(seeded_settings), GroundingPolicy.from_settings(seeded_settings))


def test_true_sentence_is_supported(checker):
    assert checker.supports("Threads crossed 10 million users within seven hours.", PASSAGE)
    assert checker.score("Threads crossed 10 million users within seven hours.", PASSAGE) >= checker.policy.min_support


@pytest.mark.parametrize("wrong", [
    "Threads crossed 10 million users in 7 days.",  # ChatGPT's 7 days given to Threads
    "Threads crossed 10 million users within seven days.",
    "ChatGPT crossed 10 million users within seven hours.",  # Threads' number given to ChatGPT
    "Threads crossed 1 million users within seven hours.",
])
def test_numbers_bound_to_the_wrong_subject_are_not_supported(checker, wrong):
    assert not checker.supports(wrong, PASSAGE)
    score, why = checker.explain(wrong, PASSAGE)
    assert why, score


def test_unrelated_sentence_is_not_supported(checker):
    assert not checker.supports("Meta bought Twitter.", PASSAGE)
    assert not checker.supports("Llama 3.1 has 405 billion parameters.", PASSAGE)


def _evidence(n, doc_id, text, score=0.9):
    from app.types import Evidence, Source

    src = Source(doc_id=doc_id, title=doc_id, chunk_id=f"{doc_id}#x#00000", text=text, start=100, end=100 + len(text),
                 score=0.5)
    return Evidence(n, src, text, 100, 100 + len(text), score)


def test_wrong_citation_is_corrected(checker):
    from app.grounding.citations import check_sentence

    ev = [_evidence(1, D0, "Threads crossed 10 million users within seven hours of its launch."),
          _evidence(2, D3, "Last week, Meta unveiled its Llama 3.1 model, boasting a whopping 405 billion parameters.")]
    q = "How quickly did Threads cross 10 million users?"
    verdict, chosen = check_sentence("Threads crossed 10 million users within seven hours [2].", ev, q, "en", checker, checker.policy)
    assert verdict.supported
    assert verdict.dropped_reason == "citation corrected"
    assert [e.n for e, *_ in chosen] == [1]
    assert "[2]" not in verdict.text

    # the right citation stays as it is
    verdict, chosen = check_sentence("Threads crossed 10 million users within seven hours [1].", ev, q, "en", checker, checker.policy)
    assert verdict.supported and verdict.dropped_reason == "" and [e.n for e, *_ in chosen] == [1]

    # a missing citation is added
    verdict, chosen = check_sentence("Llama 3.1 has 405 billion parameters.", ev, "How big is Llama 3.1?", "en", checker, checker.policy)
    assert verdict.supported and verdict.dropped_reason == "citation added" and [e.n for e, *_ in chosen] == [2]


def test_false_sentence_is_dropped_whatever_it_cites(checker):
    from app.grounding.citations import check_sentence

    ev = [_evidence(1, D0, "Threads crossed 10 million users within seven hours of its launch."),
          _evidence(2, D3, "Last week, Meta unveiled its Llama 3.1 model, boasting a whopping 405 billion parameters.")]
    q = "How quickly did Threads cross 10 million users?"
    verdict, chosen = check_sentence("Threads crossed 10 million users in 7 days [1].", ev, q, "en", checker, checker.policy)
    assert not verdict.supported and chosen == [] and verdict.dropped_reason, verdict


def test_a_claim_that_borrows_the_questions_words_is_not_supported(checker):
    """A new user's trial: "Who is the mayor of Bristol, Maine?" over "The lighthouse stands in Bristol" got the
    claim "The lighthouse is the mayor of Bristol, Maine [1]" kept: all it adds is in the passage, and "mayor" came
    from the question. What a claim takes from the question must be in the passage too."""
    from app.grounding.citations import check_sentence

    ev = [_evidence(1, "maine.md", "The Pemaquid Point Lighthouse stands in Bristol, Maine.")]
    q = "Who is the mayor of Bristol, Maine?"
    verdict, _ = check_sentence("The Pemaquid Point Lighthouse is the mayor of Bristol, Maine [1].", ev, q, "en",
                                checker, checker.policy)
    assert not verdict.supported and "mayor" in verdict.dropped_reason
    # the question's words the passage does hold, and the words that name the document, are fine
    verdict, _ = check_sentence("According to the article, the Pemaquid Point Lighthouse stands in Bristol [1].", ev,
                                "Which lighthouse stands in Bristol, according to the article?", "en", checker,
                                checker.policy)
    assert verdict.supported, verdict.dropped_reason
