"""What the chat window does, without Gradio: engines per settings, answering, uploads, evaluation.
The Gradio layer (app/chat/ui.py) only wires these to components."""
from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from app.config import Settings
from app.engine import Engine
from app.errors import BackendUnavailable, CiteqaError, IndexError_, InputError
from app.types import Answer
from index.loaders import SUPPORTED

BACKENDS = ["auto", "llamacpp", "ollama", "openai"]
MAX_ENGINES = 4  # engines kept per chat server, one per (backend, model)
DEFAULT_MODEL = ""  # "" = the backend's default model
FALLBACK_EXAMPLES = [
    "How quickly did Threads cross 10 million users?",
    "How many parameters does Llama 3.1 have?",
    "Which open-source mobile platform does the host compare Meta's strategy to?",
    "By how much did Meta's revenue grow year on year in Q2?",
]


@dataclass
class Options:
    """Per-request settings chosen in the Settings accordion (None / "" = the server's setting)."""

    backend: str | None = None
    model: str | None = None
    top_k: int | None = None
    temperature: float | None = None


@dataclass
class Step:
    """One UI update of a streamed answer."""

    kind: str  # retrieved | draft | answer | error
    draft: str = ""
    answer: Answer | None = None
    searched_for: str = ""
    error: str = ""
    sources: list = field(default_factory=list)


class ChatService:
    def __init__(self, engine_or_settings: Engine | Settings | None = None):
        if isinstance(engine_or_settings, Engine):
            self.base = engine_or_settings
        else:
            self.base = Engine(engine_or_settings or Settings())
        self.settings: Settings = self.base.settings
        self._engines: OrderedDict[tuple, Engine] = OrderedDict({self._key(self.settings): self.base})
        self._lock = threading.Lock()
        self._texts: dict[tuple[str, str], str] = {}
        self._ingest_lock = threading.Lock()

    # ---- engines -------------------------------------------------------------------------------------
    @staticmethod
    def _key(s: Settings) -> tuple:
        return (s.backend, s.model)

    def settings_for(self, opts: Options | None) -> Settings:
        """The settings of the engine for `opts`: only the backend and model choose an engine; top-k and
        temperature travel with each request (see `request_options`)."""
        if opts is None:
            return self.settings
        update: dict[str, Any] = {}
        if opts.backend and opts.backend in BACKENDS and opts.backend != self.settings.backend:
            update["backend"] = opts.backend
        backend = update.get("backend", self.settings.backend)
        model = (opts.model or "").strip() or None
        if model is not None:
            if backend == "llamacpp" and not model.lower().endswith(".gguf"):
                model = None  # an Ollama name is meaningless for the embedded backend
            if model != self.settings.model:
                update["model"] = model
        elif "backend" in update:
            update["model"] = None if backend != self.settings.backend else self.settings.model
        if not update:
            return self.settings
        return self.settings.model_copy(update=update)

    @staticmethod
    def request_options(opts: Options | None) -> dict[str, Any]:
        """Keyword arguments for Engine.ask/ask_stream (None = the engine's setting), clamped to the settings' ranges."""
        if opts is None:
            return {}
        out: dict[str, Any] = {}
        if opts.top_k:
            out["top_k"] = max(1, min(50, int(opts.top_k)))
        if opts.temperature is not None:
            out["temperature"] = max(0.0, min(2.0, float(opts.temperature)))
        return out

    def engine(self, opts: Options | None = None) -> Engine:
        """At most MAX_ENGINES engines, one per (backend, model), least recently used dropped first. Every engine
        shares the base engine's store, retriever (chunks, BM25) and checker cache: a new model loads no index."""
        s = self.settings_for(opts)
        key = self._key(s)
        with self._lock:
            eng = self._engines.get(key)
            if eng is None:
                eng = self._engines[key] = Engine(s)
                eng.store, eng.retriever, eng.checker = self.base.store, self.base.retriever, self.base.checker
                base_key = self._key(self.settings)
                while len(self._engines) > MAX_ENGINES:
                    oldest = next(k for k in self._engines if k != base_key)
                    del self._engines[oldest]
            self._engines.move_to_end(key)
            return eng

    def ollama_models(self) -> list[str]:
        from app.llm.ollama_backend import list_models

        try:
            return list_models(self.settings.ollama_host, connect_timeout=0.5, read_timeout=3.0)
        except (BackendUnavailable, CiteqaError):
            return []
        except Exception:  # noqa: BLE001 - a listing problem must never break the page
            return []

    def index_info(self) -> dict:
        r = self.base.retriever
        try:
            r.refresh()
            return {"documents": len(r.documents), "chunks": r.n_chunks, "backend_reason": self.base.backend_reason}
        except CiteqaError:
            return {"documents": 0, "chunks": 0, "backend_reason": self.base.backend_reason}

    # ---- documents -----------------------------------------------------------------------------------
    def doc_text(self, doc_id: str) -> str | None:
        try:
            docs = {d.doc_id: d for d in self.base.documents()}
        except CiteqaError:
            return None
        d = docs.get(doc_id)
        if d is None:
            return None
        key = (doc_id, d.hash)
        if key not in self._texts:
            try:
                self._texts[key] = self.base.document_text(doc_id)
            except (CiteqaError, OSError):
                return None
        return self._texts[key]

    def documents_table(self) -> list[list]:
        try:
            docs = self.base.documents()
        except CiteqaError:
            return []
        return [[d.title, d.author, d.language, d.chunks, d.doc_id] for d in sorted(docs, key=lambda d: d.doc_id)]

    def examples(self, n: int = 6) -> list[str]:
        qa = Path(self.settings.docs_path) / "qa.jsonl"
        out: list[str] = []
        seen_docs: set[str] = set()
        try:
            for line in qa.read_text("utf-8").splitlines():
                if not line.strip():
                    continue
                d = json.loads(line)
                srcs = d.get("sources") or []
                if not srcs or not d.get("question"):
                    continue
                key = srcs[-1]
                if key in seen_docs and len(out) < n // 2:
                    continue
                if d["question"] not in out:
                    out.append(d["question"])
                    seen_docs.add(key)
                if len(out) >= n:
                    break
        except (OSError, ValueError):
            pass
        return out or FALLBACK_EXAMPLES

    @property
    def uploads_dir(self) -> Path:
        return Path(self.settings.data_dir) / "uploads"

    def add_files(self, paths: list[str | Path],
                  progress: Callable[[int, int, str], None] | None = None) -> list[dict]:
        """Index uploaded files. Each gets a row: file, status, chunks, message. Oversized or unsupported files
        are refused with the reason; the rest still go in. A file is copied into a staging folder first and
        moved into uploads/ whole, so an upload cut off by a crash is never half a document; whatever is in
        uploads/ and not indexed is indexed at the next start (`index_leftovers`); a file refused is not kept."""
        limit = self.settings.max_upload_mb
        rows: list[dict] = []
        ok: list[Path] = []
        staging = self.uploads_dir / ".staging"
        for p in paths or []:
            p = Path(p)
            name = p.name
            try:
                size = p.stat().st_size
            except OSError as e:
                rows.append({"file": name, "status": "failed", "chunks": 0, "message": f"cannot read the upload ({e.strerror})"})
                continue
            if p.suffix.lower() not in SUPPORTED:
                rows.append({"file": name, "status": "failed", "chunks": 0,
                             "message": f"{p.suffix or 'no extension'} is not a document type "
                                        f"(give one of {', '.join(sorted(SUPPORTED))})"})
                continue
            if size > limit * 1024 * 1024:
                rows.append({"file": name, "status": "failed", "chunks": 0,
                             "message": f"{name} is {_size(size)}; the upload limit is {limit:g} MB "
                                        f"(raise CITEQA_MAX_UPLOAD_MB to allow bigger files)"})
                continue
            dest = self.uploads_dir / name
            if p.resolve() != dest.resolve():
                staging.mkdir(parents=True, exist_ok=True)
                part = staging / name
                shutil.copyfile(p, part)
                part.replace(dest)
            ok.append(dest)
        if ok:
            rows += self._index(ok, progress)
        return rows

    def index_leftovers(self, progress: Callable[[int, int, str], None] | None = None) -> list[dict]:
        """At start: index every uploaded file not indexed yet (an upload cut off by a crash or a restart);
        unchanged files are skipped by their hash. Returns the rows of the files that were not unchanged."""
        if not self.uploads_dir.is_dir():
            return []
        shutil.rmtree(self.uploads_dir / ".staging", ignore_errors=True)  # partial copies: never documents
        if not any(f.is_file() for f in self.uploads_dir.iterdir()):
            return []
        return [r for r in self._index([self.uploads_dir], progress) if r["status"] != "unchanged"]

    def _index(self, paths: list[Path], progress: Callable[[int, int, str], None] | None) -> list[dict]:
        rows = []
        with self._ingest_lock:
            report = self.base.ingest(paths, progress=progress)
        for f in report.files:
            message = f.error or (f"{f.title} ({f.language})" if f.title else "")
            if f.warnings:
                message = "; ".join([message] + f.warnings) if message else "; ".join(f.warnings)
            rows.append({"file": Path(f.path).name or f.doc_id, "status": f.status, "chunks": f.chunks,
                         "message": message})
            if f.refused and Path(f.path).resolve().parent == self.uploads_dir.resolve():
                # an upload refused for what it is (a binary file, a name indexed from elsewhere ...): the row says
                # why, now; kept, it would fail again at every start (what failed otherwise is retried then)
                Path(f.path).unlink(missing_ok=True)
        for note in report.skipped:
            name, _, why = note.partition(": ")
            rows.append({"file": Path(name).name, "status": "failed", "chunks": 0,
                         "message": f"{why or note} (give a .txt, .md, .html or .pdf document)"})
        return rows

    # ---- answering -----------------------------------------------------------------------------------
    def stream(self, question: str, history: list[tuple[str, str]] | None, opts: Options | None = None) -> Iterator[Step]:
        """Steps for the UI. Errors become an `error` step with a one-line message (never a trace)."""
        draft = ""
        searched = ""
        sources: list = []
        try:
            eng = self.engine(opts)
            events = eng.ask_stream(question, history or [], **self.request_options(opts))
            try:
                for ev in events:
                    if ev.kind == "retrieved":
                        searched = ev.data.get("searched_for", "")
                        sources = ev.data.get("sources", [])
                        yield Step("retrieved", searched_for=searched, sources=sources)
                    elif ev.kind == "token":
                        draft += ev.data
                        yield Step("draft", draft=draft, searched_for=searched)
                    elif ev.kind == "answer":
                        yield Step("answer", answer=ev.data, searched_for=searched)
            finally:
                events.close()
        except CiteqaError as e:
            yield Step("error", error=str(e), draft=draft, searched_for=searched, sources=sources)
        except GeneratorExit:
            raise
        except Exception as e:  # noqa: BLE001 - the app keeps serving
            first = str(e).splitlines()[0] if str(e) else ""
            yield Step("error", error=f"unexpected {type(e).__name__}: {first}", draft=draft, searched_for=searched,
                       sources=sources)

    def ask(self, question: str, history: list[tuple[str, str]] | None = None, opts: Options | None = None) -> Answer:
        return self.engine(opts).ask(question, history or [], **self.request_options(opts))

    # ---- evaluation ----------------------------------------------------------------------------------
    def evaluate(self, qa_path: str | Path, limit: int | None = None,
                 progress: Callable[[int, int, float | None], None] | None = None) -> tuple[dict, list[dict], Path]:
        from app.evaluation import read_results, run_eval
        from app.evaluation.runner import EMPTY_INDEX

        if not self.base.store.exists():  # before the run folder is made: nothing is written
            raise IndexError_(EMPTY_INDEX)
        out = Path(self.settings.data_dir) / "evals" / time.strftime("%Y%m%d-%H%M%S")
        out = Path(tempfile.mkdtemp(prefix=out.name + "-", dir=_mk(out.parent)))
        summary = run_eval(self.base, qa_path, out, progress=progress, limit=limit)
        records = list(read_results(out / "results.jsonl").values())
        return summary, records, out / "report.html"


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB"


def _mk(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def check_question(question: str) -> None:
    if not (question or "").strip():
        raise InputError("the question is empty: type a question about the documents")


def api_arguments(question: Any, history: Any, top_k: Any, temperature: Any) -> tuple[str, list, Options]:
    """Check the `/chat` API's arguments: (question, history, options), or an InputError naming the argument."""
    if not isinstance(question, str):
        raise InputError(f"question must be text, not {type(question).__name__}")
    if history is not None and not isinstance(history, (list, tuple)):
        raise InputError(f"history must be a list of [question, answer] pairs, not {type(history).__name__}")
    for i, turn in enumerate(history or []):
        if isinstance(turn, dict):
            continue
        if not (isinstance(turn, (list, tuple)) and len(turn) == 2 and all(isinstance(t, (str, type(None))) for t in turn)):
            raise InputError(f"history[{i}] must be a [question, answer] pair of texts")
    k = _number("top_k", top_k, int, 1, 50)
    t = _number("temperature", temperature, float, 0.0, 2.0)
    return question, list(history or []), Options(None, None, k, t)


def _number(name: str, value: Any, kind: type, low: float, high: float):
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError(f"{name} must be a number from {low:g} to {high:g}, not {type(value).__name__}")
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{name} must be a number from {low:g} to {high:g}, not {str(value)[:40]!r}") from None
    if kind is int and number != int(number):
        raise InputError(f"{name} must be a whole number from {low:g} to {high:g}, not {value!r}")
    if not low <= number <= high:
        raise InputError(f"{name} must be from {low:g} to {high:g}, not {value!r}")
    return kind(number)
