"""The chat app: /chat API through gradio_client, concurrent sessions, errors, uploads, inert rendering helpers."""
from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

THREADS_DOCS = {"000_bff1cb9deae7c743.txt", "001_203602bb6eb36842.txt"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chat_url(engine):
    from app.chat import create_app, launch

    app = create_app(engine)
    _, url, _ = launch(app, "127.0.0.1", free_port(), prevent_thread_lock=True, quiet=True)
    yield url
    app.close()


def client(url):
    from gradio_client import Client

    return Client(url, verbose=False)


# ---- fast: rendering and conversation helpers (no model) ------------------------------------------------
def test_render_escapes_documents_and_answers():
    from app.chat import render as R
    from app.types import Answer, Citation, Source, Timings

    doc = "Intro. <script>window.__pwned=1</script> The key fact is here. <img src=x onerror=alert(1)> **b** [l](javascript:x)"
    start = doc.index("The key fact")
    end = start + len("The key fact is here.")
    src = Source("evil.txt", "<b>Evil</b> title", "c1", doc, 0, len(doc), 0.9, "en", "<i>me</i>")
    cit = Citation(1, "evil.txt", "<b>Evil</b> title", "c1", start, end, "The key fact is here.", True, 0.9, "en", "<i>me</i>")
    a = Answer("q", "The key fact is here <script>x</script> [1].", False, [cit], [src], "b", "m", "en", Timings())
    html_ = R.sources_html(a, lambda _d: doc)
    assert "<script" not in html_ and "<img" not in html_ and "<b>" not in html_ and "<i>" not in html_
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html_
    assert "<mark>The key fact is here.</mark>" in html_
    assert "Whole article" in html_
    md = R.final_message(a)
    assert "<script" not in md and "**\\[1\\]**" in md
    assert "\\*\\*b\\*\\*" in R.md_escape("**b**")
    assert R.md_escape("![i](x)").startswith("\\!\\[")


def test_refusal_looks_different_and_keeps_closest_sources():
    from app.chat import render as R
    from app.types import Answer, Source, Timings

    src = Source("d.txt", "T", "c1", "closest passage text", 0, 20, 0.3, "en", "")
    a = Answer("q", "I cannot find this in the documents.", True, [], [src], "b", "m", "en", Timings(), refusal_reason="low")
    assert R.REFUSAL_LABEL in R.final_message(a)
    h = R.sources_html(a, lambda _d: None)
    assert "cq-refused" in h and "closest passage text" in h


def test_follow_ups_carry_words_never_template_text():
    from app.conversation import condense

    hist = [("How quickly did Threads cross 10 million users?",
             "The documents state: “Threads crossed 10 million users within seven hours.” [1]")]
    q = "and how long did ChatGPT take?"
    out = condense(q, hist)
    assert out.startswith(q) and "users" in out and "documents" not in out.lower() and "state" not in out.lower()
    # a follow-up naming its own subject keeps what was asked, not the last subject's names and numbers
    assert "Threads" not in out and "10" not in out
    llama = [("How many parameters does Llama 3.1 have?",
              "The documents state: “Meta unveiled its Llama 3.1 model, boasting 405 billion parameters.” [1]")]
    out = condense("And Llama 3?", llama)
    assert "parameters" in out and "3.1" not in out and "405" not in out
    # the leak once seen: a quoted earlier answer (itself quoting) never reaches the search
    leaky = [("What was the access policy before the move to open source?",
              "The documents state: “The documents state: “The access policy before the move to open source was "
              "invitation-only.”” [1]")]
    out = condense("and after it?", leaky)
    assert "documents state" not in out.lower() and "access" in out and out.count("“") == 0
    # a standalone question is left alone; a refused turn lends no names
    assert condense("How many parameters does Llama 3.1 have?", hist) == "How many parameters does Llama 3.1 have?"
    refused = [("Who is the CEO of Threads?", "The indexed documents don't say “Who is the CEO of Threads”.")]
    out = condense("and who founded it?", refused)
    assert out.startswith("and who founded it?") and "Threads" in out
    assert not {"indexed", "documents", "say"} & set(out.lower().replace("(", " ").replace(")", " ").split())
    # a question that names nothing of its own refers to the conversation, even without a pronoun
    hist = [("Which company did Meta clash with over integrating Llama?",
             "The documents state: “Meta’s clash with Apple over integrating Llama into Apple Intelligence.” [1]")]
    out = condense("What is the platform the model was supposed to go into?", hist)
    assert "Llama" in out and "Apple" in out
    # a quote's capitalised first word opens its sentence: an adverb, not a name to search for
    it = [("Perché Musk fa causa a Meta?", "I documenti affermano: «Sorprendentemente, nel giro di un mese, è stata "
           "lanciata Threads, e ora Elon Musk sta facendo causa a Meta.» [1]")]
    out = condense("E quando?", it)
    assert "Sorprendentemente" not in out and "Threads" in out
    # ... while a name that opens a quote is carried
    out = condense("And why?", [("Who is suing Meta?", "The documents state: “Musk is suing Meta over Threads.” [1]")])
    assert "Musk" in out


def test_a_follow_up_keeps_the_conversations_language_unless_it_says_otherwise():
    from app.conversation import conversation_language

    italian = [("E come si chiamerebbe il modello che ne deriverebbe?", "«Super LLaMA» [1]")]
    english = [("Who founded Meta?", "Zuckerberg [1]")]
    # "e" and "quando" are Italian and Portuguese function words alike: the conversation decides
    assert conversation_language("E quando dovrebbe uscire?", italian) == "it"
    assert conversation_language("Quando?", english) == "it"  # its own word is no English one
    # a question whose own words say otherwise switches, in either direction
    assert conversation_language("And when will it be released?", italian) == "en"
    assert conversation_language("Why?", italian) == "en"
    assert conversation_language("Perché?", english) == "it"
    assert conversation_language("Llama 3 parameters?", italian) == "it"  # no function word: the conversation's


def test_upload_batch_bad_and_oversized_files(engine, tmp_path):
    """A bad file says why, an oversized one says the limit, and the good one is indexed anyway."""
    from app.chat.service import ChatService
    from app.engine import Engine

    s = engine.settings.model_copy(update={"data_dir": tmp_path / "data", "max_upload_mb": 0.005})
    svc = ChatService(Engine(s))
    good = tmp_path / "good.txt"
    good.write_text("Quokka protocol notes\n\nThe Quokka protocol sends one sensor reading every ninety seconds "
                    "between farms. It was designed by Ada Brightwater in 2019. Readings are signed and compressed "
                    "before they leave the farm, and a relay keeps them for a week.\n")
    binary = tmp_path / "image.txt"
    binary.write_bytes(b"\x00\x01\x02PNG\x00" * 200)
    big = tmp_path / "big.txt"
    big.write_text("A long line about farms and sensors. " * 400)  # ~15 KB > 5 KB
    odd = tmp_path / "sheet.xyz"
    odd.write_text("not a document type")
    rows = {r["file"]: r for r in svc.add_files([binary, good, big, odd])}
    assert rows["good.txt"]["status"] == "added" and rows["good.txt"]["chunks"] >= 1
    assert rows["image.txt"]["status"] == "failed" and "binary" in rows["image.txt"]["message"]
    assert rows["big.txt"]["status"] == "failed" and "0.005 MB" in rows["big.txt"]["message"]
    assert rows["sheet.xyz"]["status"] == "failed" and "not a document type" in rows["sheet.xyz"]["message"]
    assert [r[4] for r in svc.documents_table()] == ["good.txt"]
    # an upload named like a document indexed from another folder is refused, and not kept for the next start
    other = tmp_path / "other"
    other.mkdir()
    (other / "good.txt").write_text("Otter notes\n\nThe otters of the northern river sleep in dens dug into the "
                                    "bank, and a family shares one den for most of the winter.\n")
    (tmp_path / "elsewhere").mkdir()
    first = tmp_path / "elsewhere" / "notes.txt"
    first.write_text(good.read_text())
    assert not svc.base.ingest([first]).failed
    (other / "notes.txt").write_text((other / "good.txt").read_text())
    row = svc.add_files([other / "notes.txt"])[0]
    assert row["status"] == "failed" and "already indexed from" in row["message"], row
    assert not (svc.uploads_dir / "notes.txt").exists() and svc.index_leftovers() == []


def test_backend_failure_mid_answer_is_a_chat_message(engine):
    from app.chat.service import ChatService
    from app.engine import Engine
    from app.errors import BackendError
    from app.llm import LLMBackend

    class Dies(LLMBackend):
        name, model = "ollama", "llama3.2"

        def stream(self, messages, *, max_tokens, temperature, stop=None):
            yield "Threads crossed 10 million"
            raise BackendError("Ollama stopped answering mid-answer (is `ollama serve` still running?)")

    svc = ChatService(Engine(engine.settings, backend=Dies()))
    steps = list(svc.stream("How quickly did Threads cross 10 million users?", []))
    assert steps[-1].kind == "error" and "Ollama stopped" in steps[-1].error
    assert "Traceback" not in steps[-1].error
    assert [s for s in steps if s.kind == "draft"]  # the draft was streamed before the failure


# ---- slow: the real app on loopback ----------------------------------------------------------------------
@pytest.mark.slow
def test_api_chat_answers_with_citations(chat_url):
    c = client(chat_url)
    ans = c.predict("How quickly did Threads cross 10 million users?", api_name="/chat")
    assert not ans["refused"], ans["answer"]
    assert "[1]" in ans["answer"]
    docs = {x["doc_id"] for x in ans["citations"]}
    assert docs & THREADS_DOCS, ans
    assert all(x["supported"] for x in ans["citations"])
    assert ans["timings"]["retrieve_ms"] > 0 and ans["backend"] == "llamacpp"


@pytest.mark.slow
def test_api_empty_question_is_a_message_and_app_keeps_serving(chat_url):
    from gradio_client.exceptions import AppError

    c = client(chat_url)
    with pytest.raises(AppError) as e:
        c.predict("   ", api_name="/chat")
    assert "question is empty" in str(e.value) and "Traceback" not in str(e.value)
    # the server still answers (retrieval-only path: the refusal needs no generation)
    ans = c.predict("Who directed the film Oppenheimer?", api_name="/chat")
    assert ans["refused"] and ans["sources"]


CONCURRENT = [
    ("How quickly did Threads cross 10 million users?", THREADS_DOCS),
    ("How many parameters does Llama 3.1 have?", {"003_85a7d1030bda2f28.txt"}),
    ("By how much did Meta's revenue grow year on year in Q2?", {"002_a032899a38035caa.txt"}),
    ("Which open-source mobile platform does the host compare Meta's strategy to?", {"004_7e1ad90bb5321a1d.txt"}),
    ("What was the codename of Meta's Twitter alternative?", THREADS_DOCS),
    ("Which 1990s operating system does Zuckerberg cite as an open-source success?", {"003_85a7d1030bda2f28.txt"}),
    ("On which site did Llama leak inadvertently before Meta made it open source?", {"002_a032899a38035caa.txt"}),
    ("How many parameters does Llama 3 have?", {"004_7e1ad90bb5321a1d.txt", "003_85a7d1030bda2f28.txt"}),
]


@pytest.mark.slow
def test_eight_concurrent_sessions_get_their_own_answers(chat_url):
    results: dict[int, dict] = {}
    errors: list[BaseException] = []
    clients = [client(chat_url) for _ in CONCURRENT]
    barrier = threading.Barrier(len(CONCURRENT))

    def run(i):
        try:
            barrier.wait(timeout=60)
            results[i] = clients[i].predict(CONCURRENT[i][0], api_name="/chat")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(CONCURRENT))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    assert not errors, errors
    assert len(results) == len(CONCURRENT)
    answers = set()
    for i, (q, relevant) in enumerate(CONCURRENT):
        a = results[i]
        assert a["question"] == q
        assert not a["refused"], (q, a["answer"])
        cited = {c["doc_id"] for c in a["citations"]}
        assert cited and cited <= relevant, (q, cited)
        answers.add(a["answer"])
    assert len(answers) == len(CONCURRENT)  # nobody got someone else's answer


@pytest.mark.slow
def test_follow_up_is_condensed_and_shown(chat_url):
    c = client(chat_url)
    first = "How quickly did Threads cross 10 million users?"
    ans = c.predict("and how long did ChatGPT take?", [[first, "Threads crossed 10 million users within seven hours [1]."]],
                    api_name="/chat")
    assert "ChatGPT" in ans["searched_for"] and ans["searched_for"] != ans["question"]
    assert {x["doc_id"] for x in ans["citations"]} & THREADS_DOCS
    assert "seven days" in ans["answer"] or "7 days" in ans["answer"]


def test_cli_chat_wires_serve():
    import inspect

    from app import chat

    assert inspect.signature(chat.serve).parameters.keys() == {"settings"}
    assert Path(chat.__file__).parent.name == "chat"
