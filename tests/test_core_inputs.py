"""Any document, any size (issue 12) with the real models: what a user sees, and the index answers after each."""
from __future__ import annotations

import shutil
import socket

import pytest

from _fixtures_core import SEEDS, THREADS_Q, assert_one_line_error, base_env, citeqa, copy_seeds
from pdf_fixture import FREEDONIA_HTML, make_pdf

pytestmark = pytest.mark.slow

KESSEL_Q = "How large is the mirror of the main telescope of the observatory on Mount Kessel?"


def _atlas(path):
    path.write_bytes(make_pdf([
        ["The atlas opens with a survey of the western coast and its fishing towns.",
         "Each town is described with its harbour, its market days and its festivals."],
        ["The second chapter follows the old trade road inland through the hills.",
         "Caravans stopped at seven wells, each a day's walk from the next."],
        ["The third chapter is about the observatory on Mount Kessel.",
         "The main telescope of the observatory on Mount Kessel has a mirror of 2.4 metres, cast in 1931."],
    ]))
    return path


def _answers_threads(eng):
    a = eng.ask(THREADS_Q)
    assert not a.refused, a.answer


def test_ingest_good_pdf_and_missing_txt_stores_the_pdf_and_names_the_missing_file(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    good = _atlas(docs / "GOOD.pdf")
    data = ["--data-dir", str(tmp_path / "data")]
    r = citeqa(["ingest", str(good), str(docs / "MISSING.txt"), *data], cwd=tmp_path)
    assert_one_line_error(r, "MISSING.txt", "no such file")
    assert any(line.startswith("added") and "GOOD.pdf" in line for line in r.out.splitlines()), str(r)
    r = citeqa(["docs", "--json", *data], cwd=tmp_path)
    assert [d["doc_id"] for d in r.json()] == ["GOOD.pdf"]
    r = citeqa(["ask", KESSEL_Q, "--json", *data], cwd=tmp_path)
    assert r.code == 0, str(r)
    a = r.json()
    assert not a["refused"] and a["citations"], a
    assert {c["page"] for c in a["citations"]} == {3}, a["citations"]
    assert all(s["page"] in (1, 2, 3) for s in a["sources"])


def test_the_inline_html_page_answers_the_capital_of_freedonia(fresh_settings):
    from app.engine import Engine

    (fresh_settings.docs_path / "freedonia.html").write_text(FREEDONIA_HTML, "utf-8")
    eng = Engine(fresh_settings)
    report = eng.ingest()
    assert not report.failed
    a = eng.ask("What is the capital of Freedonia?")
    assert not a.refused and "Fredville" in a.answer, (a.answer, a.refusal_reason)
    assert any(c.doc_id == "freedonia.html" for c in a.citations)
    assert {d.doc_id: d.title for d in eng.documents()}["freedonia.html"] == "Freedonia: a country profile"
    _answers_threads(eng)


def _long_text(chunks_wanted: int) -> str:
    towns = ["Arden", "Belmor", "Corvale", "Dunmere", "Elsworth", "Fenwick", "Glenhollow", "Harrowgate"]
    paras = []
    for i in range(chunks_wanted):
        t = towns[i % len(towns)]
        paras.append(f"Record {i}: the ferry from {t} carried {i % 97 + 3} passengers and {i % 13 + 1} carts on "
                     f"day {i % 365 + 1}, and the harbour master of {t} noted calm water.")
    paras.append("The lighthouse keeper on Skerry Island in the final year of the records was named Orsolya Brandt.")
    return "\n\n".join(paras) + "\n"


def test_a_document_of_more_than_6000_chunks_ingests_completely_and_answers_about_its_end(fresh_settings):
    from app.engine import Engine

    s = fresh_settings.model_copy(update={"chunk_size": 48, "chunk_overlap": 0})
    (s.docs_path / "ledger.txt").write_text(_long_text(6200), "utf-8")
    eng = Engine(s)
    report = eng.ingest([s.docs_path / "ledger.txt"])
    r = report.files[0]
    assert r.status == "added" and r.chunks > 6000 and r.embedded == r.chunks, r
    assert {d.doc_id: d.chunks for d in eng.documents()}["ledger.txt"] == r.chunks
    a = eng.ask("Who was the lighthouse keeper on Skerry Island?")
    assert not a.refused and "Orsolya Brandt" in a.answer, (a.answer, a.refusal_reason)


def test_a_question_with_ansi_colours_is_answered(engine):
    a = engine.ask("\x1b[31mHow quickly did Threads cross 10 million users?\x1b[0m")
    assert not a.refused and a.question == THREADS_Q, a.answer


def test_uploads_left_by_a_crash_are_indexed_on_start_and_lists_refresh(fresh_settings, tmp_path):
    from app.chat.service import ChatService
    from app.engine import Engine

    uploads = fresh_settings.data_dir / "uploads"
    (uploads / ".staging").mkdir(parents=True)
    (uploads / ".staging" / "half.txt").write_text("Half a copy of a file that was cut off", "utf-8")
    (uploads / "late.txt").write_text("The orchard cooperative of Valdera harvested 412 tonnes of quince in 2025, "
                                      "its best year since the cooperative was founded.\n", "utf-8")
    (uploads / "broken.txt").write_bytes(b"\x00\x01" * 50)
    eng = Engine(fresh_settings)
    eng.ingest()
    svc = ChatService(eng)
    rows = {r["file"]: r for r in svc.index_leftovers()}
    assert rows["late.txt"]["status"] == "added"
    assert rows["broken.txt"]["status"] == "failed" and "binary" in rows["broken.txt"]["message"]
    assert not (uploads / ".staging").exists()
    assert "late.txt" in [row[4] for row in svc.documents_table()]
    assert svc.index_leftovers() == [r for r in svc.index_leftovers() if r["status"] == "failed"]  # nothing new

    new = tmp_path / "fresh.md"
    new.write_text("The Valdera quince festival is held every October in the old market square of the town.\n", "utf-8")
    rows = svc.add_files([new])
    assert rows[0]["status"] == "added" and (uploads / "fresh.md").exists()
    assert "fresh.md" in [row[4] for row in svc.documents_table()]
    assert "quince festival" in svc.doc_text("fresh.md")
    _answers_threads(eng)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chat_api_with_a_wrong_argument_type_gets_a_clear_message_and_no_traceback(engine, capfd):
    from gradio_client import Client

    from app.chat import create_app, launch

    app = create_app(engine)
    _, url, _ = launch(app, "127.0.0.1", _free_port(), prevent_thread_lock=True, quiet=True)
    try:
        c = Client(url, verbose=False)
        with pytest.raises(Exception) as e:
            c.predict(THREADS_Q, None, "abc", None, api_name="/chat")
        assert "top_k must be a number from 1 to 50, not 'abc'" in str(e.value)
        ok = c.predict(THREADS_Q, None, 5, 0.0, api_name="/chat")
        assert not ok["refused"]
    finally:
        app.close()
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


def test_eval_with_ingest_indexes_the_configured_documents_first(tmp_path):
    docs = copy_seeds(tmp_path / "docs")
    shutil.copy2(SEEDS / "qa.jsonl", tmp_path / "qa.jsonl")
    env = base_env(CITEQA_DOCS_PATH=str(docs), CITEQA_BACKEND="llamacpp")
    data = ["--data-dir", str(tmp_path / "data")]
    r = citeqa(["eval", str(tmp_path / "qa.jsonl"), "--out", str(tmp_path / "run"), "--limit", "2", *data], cwd=tmp_path, env=env)
    assert_one_line_error(r, "the index is empty: run citeqa ingest (or pass --ingest)")
    assert not (tmp_path / "run").exists()
    r = citeqa(["eval", str(tmp_path / "qa.jsonl"), "--out", str(tmp_path / "run"), "--limit", "2", "--ingest", *data],
               cwd=tmp_path, env=env)
    assert r.code == 0, str(r)
    assert (tmp_path / "run" / "results.jsonl").exists() and "2 questions" in r.out
