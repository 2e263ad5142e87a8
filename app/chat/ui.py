"""The Gradio window: Chat, Documents and Evaluate tabs, plus the `/chat` API endpoint."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr  # noqa: E402  (app/offline.py switched its analytics off)

from app.chat import render as R  # noqa: E402
from app.chat.service import BACKENDS, ChatService, Options, api_arguments  # noqa: E402
from app.config import Settings  # noqa: E402
from app.engine import Engine  # noqa: E402
from app.errors import CiteqaError  # noqa: E402

DOC_HEADERS = ["Title", "Author", "Language", "Chunks", "Document id"]
UPLOAD_HEADERS = ["File", "Result", "Chunks", "Message"]
EVAL_HEADERS = ["Id", "Question", "Passed", "Refused", "Answer", "Cited documents", "Error"]
CHAT_PLACEHOLDER = "Ask a question about the indexed documents. Every sentence of the answer cites its source [n]."


def _history_pairs(history: Any) -> list[tuple[str, str]]:
    out = []
    for item in history or []:
        if isinstance(item, dict):
            out.append((str(item.get("user", item.get("question", ""))), str(item.get("assistant", item.get("answer", "")))))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            out.append((str(item[0] or ""), str(item[1] or "")))
    return out


def create_app(engine_or_settings: Engine | Settings | None = None) -> gr.Blocks:
    """Build the Blocks app (not launched). `app.citeqa` is the ChatService behind it."""
    svc = ChatService(engine_or_settings)
    s = svc.settings
    models = svc.ollama_models()

    # ---- chat ------------------------------------------------------------------------------------------
    def respond(message, chat, history, backend, model, top_k, temperature):
        chat = list(chat or [])
        history = list(history or [])
        question = (message or "").strip()
        opts = Options(backend, model, int(top_k) if top_k else None, temperature)
        chat.append({"role": "user", "content": R.md_escape(question) if question else "*(empty question)*"})
        chat.append({"role": "assistant", "content": R.draft_message("")})
        panel, status, plain = R.sources_html(None, svc.doc_text), "", ""
        yield "", chat, history, panel, status, plain
        for step in svc.stream(question, history, opts):
            if step.kind == "retrieved":
                panel = (f"<div class='cq-sources'><div class='cq-searched'>Searched for: <q>{R.esc(step.searched_for)}</q>"
                         f"</div><div>Retrieved {len(step.sources)} passages; checking the answer…</div></div>")
                yield gr.skip(), chat, gr.skip(), panel, gr.skip(), gr.skip()
            elif step.kind == "draft":
                chat[-1] = {"role": "assistant", "content": R.draft_message(step.draft)}
                yield gr.skip(), chat, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            elif step.kind == "answer":
                a = step.answer
                chat[-1] = {"role": "assistant", "content": R.final_message(a)}
                history.append((question, a.answer))
                panel = R.sources_html(a, svc.doc_text)
                status = R.status_line(a, svc.index_info())
                yield gr.skip(), chat, history, panel, status, a.answer
            elif step.kind == "error":
                chat[-1] = {"role": "assistant", "content": R.error_message(step.error)}
                panel = R.sources_html(None, svc.doc_text)
                yield gr.skip(), chat, history, panel, R.status_line(None, svc.index_info()), ""

    def mark_stopped(chat):
        chat = list(chat or [])
        if chat and chat[-1].get("role") == "assistant" and R.DRAFT_LABEL in str(chat[-1].get("content", "")):
            chat[-1] = {"role": "assistant",
                        "content": f"**{R.STOPPED_LABEL}.** The unchecked draft was discarded; ask again for a checked answer."}
        return chat

    def clear():
        return [], [], R.sources_html(None, svc.doc_text), R.status_line(None, svc.index_info()), "", ""

    def refresh_models(backend):
        names = svc.ollama_models()
        if backend == "ollama" and not names:
            gr.Warning(f"No Ollama server answers at {s.ollama_host}")
        return gr.update(choices=[""] + names)

    # ---- documents -------------------------------------------------------------------------------------
    def add_docs(files, progress=gr.Progress()):
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
        if not paths:
            return gr.skip(), [["", "failed", 0, "choose one or more files first"]], gr.skip()

        def cb(done, total, name):
            progress((done, max(total, 1)), desc=f"indexing {name}" if name else "indexing")

        try:
            rows = svc.add_files(paths, progress=cb)
        except CiteqaError as e:
            rows = [{"file": "", "status": "failed", "chunks": 0, "message": str(e)}]
        table = [[r["file"], r["status"], r["chunks"], r["message"]] for r in rows]
        return svc.documents_table(), table, gr.update(choices=_doc_choices(), value=None)

    def refresh_page():  # on every page load: what was built with the app is stale after an upload or warm-up
        return svc.documents_table(), gr.update(choices=_doc_choices(), value=None), R.status_line(None, svc.index_info())

    def _doc_choices():
        return [(f"{r[0]} ({r[4]})", r[4]) for r in svc.documents_table()]

    def show_doc(doc_id):
        if not doc_id:
            return ""
        text = svc.doc_text(doc_id)
        if text is None:
            return f"<div class='cq-sources'>{R.esc('no indexed document ' + repr(doc_id))}</div>"
        return f"<div class='cq-sources'><div class='cq-fulltext cq-viewer'>{R.esc(text)}</div></div>"

    # ---- evaluation ------------------------------------------------------------------------------------
    def run_eval_ui(file, limit, progress=gr.Progress()):
        path = file if isinstance(file, str) else getattr(file, "name", None)
        if not path:
            return R.error_message("upload a QA file (JSONL or CSV) first"), [], None

        def cb(done, total, eta):
            progress((done, max(total, 1)), desc=f"{done}/{total} questions" + (f", ~{eta:.0f} s left" if eta else ""))

        try:
            summary, records, report = svc.evaluate(path, int(limit) if limit else None, cb)
        except CiteqaError as e:
            return R.error_message(str(e)), [], None
        rows = [[r.get("id"), r.get("question"), "✅" if r.get("passed") else "❌", "yes" if r.get("refused") else "",
                 r.get("answer", ""), ", ".join(sorted({c.get("doc_id", "") for c in r.get("citations", [])})),
                 r.get("error") or ""] for r in records]
        return _summary_md(summary), rows, str(report) if Path(report).exists() else None

    # ---- layout ----------------------------------------------------------------------------------------
    with gr.Blocks(title="citeqa", analytics_enabled=False) as demo:
        history = gr.State([])
        gr.Markdown("## citeqa — answers only from your documents, every sentence cited")
        with gr.Tab("Chat"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=380):
                    chatbot = gr.Chatbot(label="Conversation", height=460, elem_id="cq-chat", buttons=["copy"],
                                         placeholder=CHAT_PLACEHOLDER, sanitize_html=True, feedback_options=None,
                                         latex_delimiters=[])
                    with gr.Row():
                        msg = gr.Textbox(show_label=False, placeholder="Ask a question…", scale=5, elem_id="cq-question",
                                         autofocus=True, max_lines=4)
                        send = gr.Button("Ask", variant="primary", scale=1, min_width=70, elem_id="cq-ask")
                        stop = gr.Button("Stop", variant="stop", scale=1, min_width=70, elem_id="cq-stop")
                        clear_btn = gr.Button("Clear", scale=1, min_width=70, elem_id="cq-clear")
                    gr.Examples(examples=[[q] for q in svc.examples()], inputs=[msg], label="Example questions",
                                cache_examples=False)
                    status = gr.Markdown(R.status_line(None, svc.index_info()), elem_id="cq-status")
                    with gr.Accordion("Settings", open=False):
                        with gr.Row():
                            backend = gr.Dropdown(BACKENDS, value=s.backend, label="Backend")
                            model = gr.Dropdown([""] + models, value=s.model or "", label="Model (empty = default)",
                                                allow_custom_value=True,
                                                info="Ollama models when a server answers; a .gguf path for llamacpp")
                            refresh = gr.Button("↻ models", scale=0, min_width=60)
                        with gr.Row():
                            top_k = gr.Slider(1, 20, value=s.top_k, step=1, label="Top-k passages")
                            temperature = gr.Slider(0.0, 1.5, value=s.temperature, step=0.05, label="Temperature")
                with gr.Column(scale=2, min_width=320):
                    sources = gr.HTML(R.sources_html(None, svc.doc_text), label="Sources", elem_id="cq-sources")
                    plain = gr.Textbox(label="Answer (plain text, to copy)", interactive=False, buttons=["copy"],
                                       elem_id="cq-plain", lines=2)
        with gr.Tab("Documents"):
            docs = gr.Dataframe(value=svc.documents_table(), headers=DOC_HEADERS, interactive=False, wrap=True,
                                label="Indexed documents", elem_id="cq-docs")
            with gr.Row():
                uploads = gr.File(file_count="multiple", type="filepath", label=f"Add documents (.txt .md .html .pdf, "
                                  f"at most {s.max_upload_mb:g} MB each)", elem_id="cq-upload")
            add = gr.Button("Add to index", variant="primary", elem_id="cq-add")
            upload_result = gr.Dataframe(headers=UPLOAD_HEADERS, interactive=False, wrap=True, label="Upload result",
                                         elem_id="cq-upload-result")
            viewer_pick = gr.Dropdown(choices=_doc_choices(), label="Read a document", value=None)
            viewer = gr.HTML("", elem_id="cq-viewer")
        with gr.Tab("Evaluate"):
            gr.Markdown("Upload a question-answer file (JSONL or CSV: `question`, `answers`, `sources`) and run it "
                        "against the index. The report can be downloaded as HTML.")
            with gr.Row():
                qa_file = gr.File(file_count="single", type="filepath", label="QA file", file_types=[".jsonl", ".csv"])
                limit = gr.Number(value=None, precision=0, label="Only the first N questions (empty = all)")
            run_btn = gr.Button("Run evaluation", variant="primary")
            eval_summary = gr.Markdown("")
            eval_table = gr.Dataframe(headers=EVAL_HEADERS, interactive=False, wrap=True, label="Per question")
            eval_report = gr.File(label="report.html", interactive=False)

        outs = [msg, chatbot, history, sources, status, plain]
        ins = [msg, chatbot, history, backend, model, top_k, temperature]
        ev_submit = msg.submit(respond, ins, outs, api_visibility="private")
        ev_click = send.click(respond, ins, outs, api_visibility="private")
        stop.click(mark_stopped, [chatbot], [chatbot], cancels=[ev_submit, ev_click], api_visibility="private")
        clear_btn.click(clear, None, [chatbot, history, sources, status, plain, msg], cancels=[ev_submit, ev_click],
                        api_visibility="private")
        refresh.click(refresh_models, [backend], [model], api_visibility="private")
        add.click(add_docs, [uploads], [docs, upload_result, viewer_pick], api_visibility="private")
        viewer_pick.change(show_doc, [viewer_pick], [viewer], api_visibility="private")
        run_btn.click(run_eval_ui, [qa_file, limit], [eval_summary, eval_table, eval_report], api_visibility="private")

        def chat(question: str, history: list | None = None, top_k: int | None = None,
                 temperature: float | None = None) -> dict:
            """Answer `question` from the indexed documents. Stateless: pass earlier turns as `history`
            ([[question, answer], ...]). Returns the answer with its checked citations (Answer.to_dict())."""
            try:
                question, history, opts = api_arguments(question, history, top_k, temperature)
                a = svc.ask(question, _history_pairs(history), opts)
            except CiteqaError as e:
                raise gr.Error(str(e), print_exception=False) from None
            return a.to_dict()

        gr.api(chat, api_name="chat")
        demo.load(refresh_page, None, [docs, viewer_pick, status], api_visibility="private")

    demo.queue(default_concurrency_limit=4, max_size=128)
    demo.citeqa = svc  # type: ignore[attr-defined]
    return demo


def _summary_md(summary: dict) -> str:
    def pct(v):
        return "–" if v is None else f"{100 * v:.0f}%"

    def num(v, fmt="{:.2f}"):
        return "–" if v is None else fmt.format(v)

    rows = [
        ("questions", f"{summary.get('n', 0)} ({summary.get('n_answerable', 0)} answerable, "
                      f"{summary.get('n_unanswerable', 0)} unanswerable, {summary.get('n_errors', 0)} errors)"),
        ("pass rate", pct(summary.get("pass_rate"))),
        (f"hit@{summary.get('k')}", num(summary.get("hit_at_k"))),
        ("MRR", num(summary.get("mrr"))),
        ("answer recall", num(summary.get("answer_recall"))),
        ("citation precision / recall", f"{num(summary.get('citation_precision'))} / {num(summary.get('citation_recall'))}"),
        ("refusal accuracy", pct(summary.get("refusal_accuracy"))),
        ("false refusal rate", pct(summary.get("false_refusal_rate"))),
        ("time to first token p50", num(summary.get("ttft_ms_p50"), "{:.0f} ms")),
        ("total p50 / p95", f"{num(summary.get('total_ms_p50'), '{:.0f}')} / {num(summary.get('total_ms_p95'), '{:.0f}')} ms"),
        ("judge", R.md_escape(str(summary.get("judge", "")))),
    ]
    return "| metric | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def launch(app: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, prevent_thread_lock: bool = False,
           quiet: bool = False, **kw):
    """Launch with citeqa's CSS and no outside calls, and the OpenAI-compatible API under /v1 on the same port.
    Returns (fastapi app, local url, share url)."""
    result = app.launch(server_name=host, server_port=port, prevent_thread_lock=True, share=False,
                        quiet=quiet, css=R.CSS, show_error=False, inbrowser=False, footer_links=["api"],
                        theme=gr.themes.Soft(), **kw)
    svc = getattr(app, "citeqa", None)
    if svc is not None:
        from app.api import make_router, mount_first

        mount_first(app.app, make_router(svc.engine, svc.settings.api_key))
    if not prevent_thread_lock:
        app.block_thread()
    return result


def serve(settings: Settings) -> int:
    """`citeqa chat`: index seeds/ if the index is empty, warm up, then serve until Ctrl-C."""
    from app.api import check_bind

    check_bind(settings.host, settings.api_key)  # /v1 is served too: beyond loopback only with a key
    engine = Engine(settings)
    docs = engine.documents()
    if not docs:
        print(f"citeqa: the index is empty: indexing {settings.docs_path} first…", flush=True)
        report = engine.ingest()
        for f in report.failed:
            print(f"citeqa: {f.error}", flush=True)
        docs = engine.documents()
    import sys
    import threading
    import time

    app = create_app(engine)
    print(f"citeqa: {len(docs)} documents; chat at http://{settings.host}:{settings.port}, OpenAI-compatible API at "
          f"http://{settings.host}:{settings.port}/v1", flush=True)
    launch(app, settings.host, settings.port, prevent_thread_lock=True)

    # serve first, then load the models in the background: the page opens at once, and the engine's locks make
    # a question asked before they are loaded wait for them (warming up during start-up slowed it by ~1 s)
    def warm_up() -> None:
        t0 = time.perf_counter()
        try:
            for row in app.citeqa.index_leftovers():  # uploads a crash or restart left unindexed
                print(f"citeqa: upload {row['file']}: {row['status']}" + (f" ({row['message']})" if row["message"] else ""),
                      flush=True)
            engine.warm_up()
        except CiteqaError as e:  # e.g. an index built with another embedder: say what to do, once
            print(f"citeqa: {e}", file=sys.stderr, flush=True)
            return
        print(f"citeqa: models loaded in {time.perf_counter() - t0:.1f}s; ready", flush=True)

    threading.Thread(target=warm_up, name="citeqa-warm-up", daemon=True).start()
    app.block_thread()
    return 0
