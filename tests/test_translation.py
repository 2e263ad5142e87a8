"""Questions in another language than the documents: the translator's plumbing and how a translation scores
evidence. Fast: a dictionary stands in for Apertium here; tests/test_core_answering.py runs the real one."""
from __future__ import annotations

import shutil

import pytest

from fakes import FakeEmbedder, evidence, source

from app.grounding.checking import SupportChecker
from app.grounding.evidence import InMain, rank
from app.grounding.fallback import best_answering, same_claim
from app.grounding.policy import GroundingPolicy
from app.grounding.question import metadata_field
from app.translation import Apertium, NoTranslator, protect, select_translator, unprotect

POLICY = GroundingPolicy()
APPLE = "Meta’s clash with Apple over integrating Llama into the Apple Intelligence platform underscores these concerns."
OPEN = "Meta released Llama as an open model that anyone can download and build on."
QUESTION = "Con quale azienda Meta si è scontrata per l'integrazione di Llama?"
GLOSS = "With which company Meta is clashed for the integration of Llama?"


class DictTranslator:
    name = "dict"

    def __init__(self, table: dict[str, str]):
        self.table, self.calls = table, []

    def translate(self, text: str, source: str, target: str, names=frozenset()) -> str:
        self.calls.append((text, source, target))
        return self.table.get(text, "")

    def translate_many(self, texts, source, target, names=frozenset()):
        return [self.translate(t, source, target) for t in texts]


NAMES = frozenset({"meta", "llama", "threads"})


def _engine(tmp_path, files: dict[str, str], translator):
    """An engine over `files` (name -> text), with the fake embedder and `translator`, its index built."""
    from app.config import load_settings
    from app.engine import Engine

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in files.items():
        (docs / name).write_text(text, encoding="utf-8")
    eng = Engine(load_settings(data_dir=tmp_path / "data", docs_path=docs, backend="llamacpp"),
                 embedder=FakeEmbedder(), translator=translator)
    assert not eng.ingest().failed
    return eng


def test_names_numbers_and_quoted_titles_pass_through_untranslated():
    assert protect("Quanto ha speso Meta per sviluppare Llama 3.1?", NAMES) == \
        "Quanto ha speso [Meta] per sviluppare [Llama 3.1]?"
    # the corpus's names also first in a sentence; a title with an apostrophe inside is one title
    assert protect("Meta ha detto di 'Meta's AI Race'?", NAMES) == "[Meta] ha detto di ['Meta's AI Race']?"
    assert protect("Secondo l'articolo sull'approccio di OpenAI", NAMES) == "Secondo l'articolo sull'approccio di [OpenAI]"
    assert protect("GPT-4 e 4chan") == "[GPT-4] e [4chan]"
    # other capitalised words are translated ("Stati Uniti"), and Apertium's special characters never reach it
    assert protect("negli Stati Uniti costa 3$/token <davvero>?", NAMES) == "negli Stati Uniti costa [3]  token  davvero ?"
    assert unprotect("With which company [Meta] is  clashed for the *IA of **Llama?\uffff") == \
        "With which company Meta is clashed for the IA of Llama?"


def test_a_pair_without_a_direct_mode_goes_through_a_language_between(monkeypatch):
    t = Apertium()
    monkeypatch.setattr(Apertium, "modes", lambda self: frozenset({"ita-spa", "spa-eng", "spa-ita", "eng-spa"}))
    assert t.route("it", "en") == ["ita-spa", "spa-eng"]
    assert t.route("es", "en") == ["spa-eng"]
    assert t.route("de", "en") == []
    monkeypatch.setattr(Apertium, "modes", lambda self: frozenset())
    assert t.translate("Ciao mondo", "it", "en") == ""  # no Apertium: the question is used as asked


def test_without_apertium_the_question_is_used_as_asked(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert isinstance(select_translator("apertium"), NoTranslator)
    assert isinstance(select_translator("none"), NoTranslator)


def test_the_translation_finds_the_english_sentence_that_answers_an_italian_question():
    checker = SupportChecker(FakeEmbedder(), POLICY)
    src = [source("en.txt", OPEN + " " + APPLE, language="en")]
    as_asked = rank(QUESTION, src, checker, POLICY, "it")
    translated = rank(QUESTION, src, checker, POLICY, "it", gloss=GLOSS)
    score = {c.text: c.score for c in as_asked}
    assert translated[0].text == APPLE
    # as asked, only the names and one cognate match; the translation matches the rest of the question
    assert translated[0].score > score[APPLE] + 0.1
    # sentences in the question's own language keep the scores of the question as asked
    it_src = [source("it.txt", "Meta si è scontrata con Apple per l'integrazione di Llama nella piattaforma.", language="it")]
    a = rank(QUESTION, it_src, checker, POLICY, "it")[0].score
    b = rank(QUESTION, it_src, checker, POLICY, "it", gloss=GLOSS)[0].score
    assert a == b


def test_the_engine_translates_only_into_the_documents_language(tmp_path):
    tr = DictTranslator({QUESTION: GLOSS})
    eng = _engine(tmp_path, {"llama.txt": "Llama and Apple\n\n" + OPEN + "\n\n" + APPLE + "\n"}, tr)
    _, _, ranked = eng.gather(QUESTION, "it", 5)
    assert ranked[0].text == APPLE and (QUESTION, "it", "en") in tr.calls
    tr.calls.clear()
    eng.gather("Which company did Meta clash with?", "en", 5)
    assert not tr.calls  # a question in the documents' language is not translated


def test_the_same_claim_in_the_questions_language_is_quoted_not_another():
    en = source("en.txt", APPLE + " " + OPEN, language="en")
    it_same = "La disputa di Meta con Apple sull'integrazione di Llama in Apple Intelligence sottolinea questi timori."
    it_other = "Meta ha rilasciato Llama 2 come modello aperto per tutti, disse Zuckerberg."
    it = source("it.txt", it_same + " " + it_other, language="it")
    assert same_claim(it_same, APPLE) and not same_claim(it_other, APPLE)
    best = evidence(1, en, APPLE, score=0.9)
    other = evidence(2, it, it_other, score=0.85)
    same = evidence(3, it, it_same, score=0.8)
    q = "Con quale azienda Meta si è scontrata?"
    assert best_answering([best, other], "it", POLICY, q).text == APPLE  # not an Italian sentence on another matter
    assert best_answering([best, other, same], "it", POLICY, q).text == it_same


@pytest.mark.parametrize("q,field", [
    ("Quale teoria, secondo l'autore del post, padroneggia Zuckerberg?", ""),  # "according to the author": content
    ("Chi è l'autore del post?", "author"),
    ("Qual è il nome dell'autore dell'articolo?", "author"),
])
def test_according_to_the_author_is_not_a_question_about_the_author(q, field):
    assert metadata_field(q) == field


def test_a_translated_title_names_its_document_in_the_other_language():
    from app.grounding.documents import DocProfile, resolve

    profiles = {
        "en.txt": DocProfile("en.txt", "The Biggest Winner from Threads: LLaMA", "Mohit Pandey", "en"),
        "it.txt": DocProfile("it.txt", "Il più grande vincitore di Threads: LLaMA (traduzione italiana)", "", "it",
                             title_translated="The biggest winner of Threads: LLaMA (Italian translation)"),
        "other.txt": DocProfile("other.txt", "Meta's Llama 3.1 and the Open Source Battle", "", "en"),
    }
    q = "What language is the translated version of 'The Biggest Winner from Threads' in?"
    assert resolve(q, profiles).docs == {"it.txt"}
    untranslated = dict(profiles, **{"it.txt": DocProfile("it.txt", profiles["it.txt"].title, "", "it")})
    assert resolve(q, untranslated).docs != {"it.txt"}


def test_many_texts_are_translated_in_one_call_line_by_line():
    if not Apertium().modes():
        pytest.skip("Apertium is not installed (the set-up installs it; the slow answering test requires it)")
    texts = ["Il più grande vincitore di Threads", "", "Quanti parametri ha Llama 3.1?",
             "Quale appuntamento negli Stati Uniti? Costa 3$/token <davvero>"]
    out = Apertium().translate_many(texts, "it", "en", NAMES)
    assert len(out) == 4 and out[1] == ""
    assert "winner" in out[0].lower() and "Threads" in out[0] and "Llama 3.1" in out[2]
    # a special character of Apertium's stream does not cut the question short; common nouns are translated
    assert "United States" in out[3] and out[3].rstrip("?").split()[-1].lower() != "costa", out[3]
    assert NoTranslator().translate_many(["a", "b"], "it", "en") == ["", ""]


# an Italian sentence that shares the Italian question's words but does not say which company
IT_OTHER = "Meta si è scontrata per l'integrazione di Llama con molte difficoltà tecniche."
IT_OTHER_EN = "Meta ran into many technical difficulties while integrating Llama."


def test_sentences_in_another_language_than_the_main_one_are_scored_by_their_translation():
    """MiniLM is English: between an Italian question and an Italian sentence its similarity follows shared word
    pieces, so an Italian sentence about something else beat the English sentence that answers. Each sentence
    is scored in the documents' main language: its translation against the question's."""
    checker = SupportChecker(FakeEmbedder(), POLICY)
    src = [source("it.txt", IT_OTHER, language="it"), source("en.txt", OPEN + " " + APPLE, language="en")]
    calls = []

    def translate(texts, lang):
        calls.append((tuple(texts), lang))
        return [{IT_OTHER: IT_OTHER_EN}.get(t, "") for t in texts]

    as_asked = {c.text: c.score for c in rank(QUESTION, src, checker, POLICY, "it", gloss=GLOSS)}
    ranked = rank(QUESTION, src, checker, POLICY, "it", gloss=GLOSS, in_main=InMain("en", translate))
    assert ranked[0].text == APPLE
    # the Italian words it shares with the question no longer count: its translation says less of what is asked
    scored = {c.text: c.score for c in ranked}
    assert scored[IT_OTHER] < as_asked[IT_OTHER] - 0.05 and scored[APPLE] == as_asked[APPLE]
    assert calls == [((IT_OTHER,), "it")]  # only the sentences not in the main language are translated
    # the quote is the sentence as written, never its translation
    assert IT_OTHER in [c.text for c in ranked] and IT_OTHER_EN not in [c.text for c in ranked]
    # an untranslated sentence keeps its own scores, as without a translator
    none = rank(QUESTION, src, checker, POLICY, "it", gloss=GLOSS, in_main=InMain("en", lambda t, s: [""] * len(t)))
    assert [(c.text, c.score) for c in none] == [(c.text, c.score) for c in rank(QUESTION, src, checker, POLICY, "it",
                                                                                 gloss=GLOSS)]


def test_the_engine_translates_each_sentence_of_another_language_once(tmp_path):
    tr = DictTranslator({QUESTION: GLOSS, IT_OTHER: IT_OTHER_EN})
    english = "Llama and Apple\n\n" + OPEN + "\n\n" + APPLE + "\n"
    eng = _engine(tmp_path, {"a.txt": english, "b.txt": english, "it.txt": "Llama e le licenze\n\n" + IT_OTHER + "\n"}, tr)
    _, _, ranked = eng.gather(QUESTION, "it", 5)
    assert ranked[0].text == APPLE and (IT_OTHER, "it", "en") in tr.calls
    tr.calls.clear()
    # an English question scores the Italian sentence by the translation made before: no second call
    eng.gather("Which company did Meta clash with over integrating Llama?", "en", 5)
    assert not tr.calls
