"""`citeqa` command line: thin; every command calls the same Engine API the chat app and tests use."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from app.config import load_settings
from app.errors import CiteqaError
from app.grounding import text as tu

SETTING_FLAGS = [
    ("--data-dir", "data_dir", Path, "index folder (default .citeqa)"),
    ("--chroma-url", "chroma_url", str, "use a Chroma server, e.g. http://127.0.0.1:8000"),
    ("--collection", "collection", str, "Chroma collection name"),
    ("--embedder", "embedder", str, "local | ollama"),
    ("--embed-model", "embed_model", str, "Ollama embedding model (embedder=ollama)"),
    ("--embed-precision", "embed_precision", str, "auto | int8 | fp32 (local embedder; auto: the index's, else the CPU's choice)"),
    ("--backend", "backend", str, "auto | llamacpp | ollama | openai"),
    ("--model", "model", str, "GGUF path (llamacpp), Ollama model name, or the OpenAI-compatible server's model"),
    ("--openai-base-url", "openai_base_url", str, "OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1"),
    ("--ollama-host", "ollama_host", str, "Ollama server URL (OLLAMA_HOST)"),
    ("--ollama-read-timeout", "ollama_read_timeout", float, "seconds to wait for Ollama output"),
    ("--top-k", "top_k", int, "passages retrieved"),
    ("--temperature", "temperature", float, "sampling temperature"),
    ("--max-tokens", "max_tokens", int, "longest answer in tokens"),
    ("--n-ctx", "n_ctx", int, "embedded model context size"),
    ("--chunk-size", "chunk_size", int, "chunk size in tokens (index setting)"),
]


def common_parent() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("settings (override citeqa.toml and CITEQA_* env vars)")
    for flag, dest, typ, help_ in SETTING_FLAGS:
        g.add_argument(flag, dest=dest, type=typ, default=None, help=help_)
    return p


def settings_from_args(args: argparse.Namespace):
    given = {k: getattr(args, k) for k in ("host", "port", "api_key") if getattr(args, k, None) is not None}
    return load_settings(frozenset(dest for _, dest, _, _ in SETTING_FLAGS) | set(given),
                         **{dest: getattr(args, dest, None) for _, dest, _, _ in SETTING_FLAGS} | given)


def _engine(settings):
    from app.engine import Engine

    return Engine(settings)


def _err(msg: str) -> None:
    print(f"citeqa: error: {msg}", file=sys.stderr)


# ---- commands ------------------------------------------------------------------------------------
def cmd_ingest(args, settings) -> int:
    engine = _engine(settings)
    paths = [Path(p) for p in args.paths] or [settings.docs_path]

    def progress(done, total, name):  # per file and phase: "[3/40] book.txt: embed 512/6702 chunks"
        if sys.stderr.isatty() and total:
            print(f"\r[{done}/{total}] {name[:70]:<70}", end="" if done < total else "\n", file=sys.stderr)

    report = engine.ingest(paths, prune=args.prune, rebuild=args.rebuild, progress=progress, replace=args.replace)
    for f in report.files:
        for note in f.warnings:
            print(f"citeqa: warning: {note}", file=sys.stderr)
        if f.status == "failed":
            _err(f.error)
            continue
        print(f"{f.status:<9} {f.doc_id}  chunks={f.chunks} embedded={f.embedded} lang={f.language} title={f.title!r}")
        if args.explain and f.dropped:
            for reason, line in f.dropped:
                print(f"    dropped ({reason}): {line[:100]}")
    if args.explain:
        for note in report.skipped:
            print(f"    {note}")
    c = report.counts()
    summary = ", ".join(f"{v} {k}" for k, v in sorted(c.items())) or "no documents"
    if report.embedded == 0:
        print(f"nothing to embed: {summary} ({report.seconds:.1f}s)")
    else:
        rate = report.embedded / report.embed_seconds if report.embed_seconds else 0
        print(f"embedded {report.embedded} chunks ({rate:.0f} chunks/s): {summary} ({report.seconds:.1f}s)")
    return 1 if report.failed else 0


def cmd_docs(args, settings) -> int:
    docs = _engine(settings).documents()
    if args.json:
        print(json.dumps([d.__dict__ for d in docs], ensure_ascii=False, indent=2))
        return 0
    if not docs:
        print("no documents indexed yet: run `citeqa ingest`")
        return 0
    print(f"{'doc id':<28} {'lang':<4} {'chunks':>6}  {'hash':<12}  title")
    for d in docs:
        print(f"{d.doc_id:<28} {d.language:<4} {d.chunks:>6}  {d.hash[:12]}  {d.title}")
    return 0


def cmd_search(args, settings) -> int:
    sources = _engine(settings).search(args.query, args.k, args.mode)
    if args.json:
        print(json.dumps([s.to_dict() for s in sources], ensure_ascii=False, indent=2))
        return 0
    for i, s in enumerate(sources, 1):
        print(f"{i}. {s.doc_id} [{s.chunk_id}] {s.start}-{s.end} score={s.score:.4f}  {s.title}")
        print(f"   {' '.join(s.text.split())[:240]}")
    return 0


def cmd_ask(args, settings) -> int:
    engine = _engine(settings)
    question = " ".join(args.question)
    if args.json:
        answer = engine.ask(question)
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    answer = None
    for ev in engine.ask_stream(question):
        if ev.kind == "retrieved":
            # the backend is chosen (and its note printed on stderr) before the answer starts, not in its middle;
            # a question or index that fails has already failed by now, with its one-line error alone
            _ = engine.backend
        elif ev.kind == "sentence":
            print(_sentence_text(ev.data), end=" ", flush=True)
        elif ev.kind == "answer":
            answer = ev.data
    if answer.refused:
        print(answer.answer, end="")
    print("\n")
    for typed, read in tu.respelled(question, answer.searched_for):
        print(f"citeqa: read “{typed}” as “{read}”, a name the documents write", file=sys.stderr)
    shown = answer.citations or []
    if shown:
        print("Sources:")
        for c in shown:
            who = f", {c.author}" if c.author else ""
            page = f", p. {c.page}" if c.page else ""
            print(f"  [{c.n}] {c.title}{who} ({c.doc_id}{page}, chars {c.start}-{c.end})\n      “{c.quote}”")
    elif answer.sources:
        print("Closest passages:")
        for s in answer.sources[:3]:
            print(f"  - {s.title} ({s.doc_id}): {' '.join(s.text.split())[:160]}…")
    t = answer.timings
    # an answer quoted or taken from the catalog generated nothing: no rate to show
    rate = f"{t.tokens_per_s:.0f} tok/s" if t.tokens else "no text generated"
    print(f"\n[{answer.backend}: {answer.model} | retrieve {t.retrieve_ms:.0f} ms | first token {t.ttft_ms:.0f} ms | "
          f"total {t.total_ms:.0f} ms | {rate}]", file=sys.stderr)
    return 0


def _sentence_text(s) -> str:
    from app.grounding.citations import render

    return render([s])


def cmd_chat(args, settings) -> int:
    from app.chat import serve

    return serve(settings)


def cmd_serve(args, settings) -> int:
    from app.api.serve import serve_api

    return serve_api(settings)


def build_parser() -> argparse.ArgumentParser:
    parent = common_parent()
    p = argparse.ArgumentParser(prog="citeqa", description="Answers only from your documents, with checked citations.")
    from app import __version__

    p.add_argument("--version", action="version", version=f"citeqa {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("ingest", parents=[parent], help="index documents (default: seeds/)")
    s.add_argument("paths", nargs="*", help="files or folders (.txt .md .html .pdf)")
    s.add_argument("--prune", action="store_true", help="remove documents whose files are gone")
    s.add_argument("--rebuild", action="store_true", help="re-index everything (after changing embedder/chunking)")
    s.add_argument("--replace", action="store_true",
                   help="let a file replace the indexed document of the same name from another folder")
    s.add_argument("--explain", action="store_true", help="show the boilerplate lines dropped from each document")
    s.set_defaults(handler=cmd_ingest)

    s = sub.add_parser("docs", parents=[parent], help="list indexed documents")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_docs)

    s = sub.add_parser("search", parents=[parent], help="hybrid search (vector + BM25)")
    s.add_argument("query")
    s.add_argument("-k", type=int, default=None, help="number of passages")
    s.add_argument("--mode", choices=["hybrid", "vector", "bm25"], default="hybrid")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_search)

    s = sub.add_parser("ask", parents=[parent], help="answer a question with checked citations")
    s.add_argument("question", nargs="+")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(handler=cmd_ask)

    s = sub.add_parser("chat", parents=[parent], help="open the chat window (Gradio)")
    s.add_argument("--host", default=None)
    s.add_argument("--port", type=int, default=None)
    s.add_argument("--api-key", dest="api_key", default=None, help="require Authorization: Bearer KEY on /v1 (CITEQA_API_KEY)")
    s.set_defaults(handler=cmd_chat)

    s = sub.add_parser("serve", parents=[parent], help="serve the OpenAI-compatible API only (/v1/chat/completions)")
    s.add_argument("--host", default=None)
    s.add_argument("--port", type=int, default=None)
    s.add_argument("--api-key", dest="api_key", default=None, help="require Authorization: Bearer KEY (CITEQA_API_KEY)")
    s.set_defaults(handler=cmd_serve)

    try:
        from app.evaluation.cli import register
    except ImportError:
        register = None
    if register:
        register(sub, parent)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        settings = settings_from_args(args)
        return args.handler(args, settings)
    except CiteqaError as e:
        _err(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as e:  # last line of defence: one line, and where to look
        if os.environ.get("CITEQA_DEBUG"):
            raise
        _err(f"unexpected {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} (run with CITEQA_DEBUG=1 for details)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
