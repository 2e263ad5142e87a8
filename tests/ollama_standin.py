"""LOCAL STAND-IN for an Ollama server, for tests only. It is NOT Ollama.

It imitates the parts of Ollama's documented HTTP API that citeqa uses
(https://github.com/ollama/ollama/blob/main/docs/api.md), on 127.0.0.1 and a free port,
with `http.server` in a background thread:

- ``GET  /api/tags``   -> ``{"models": [{"name", "model", "modified_at", "size", "digest", "details"}]}``
- ``POST /api/chat``   -> streaming NDJSON (chunked): ``{"model", "created_at", "message": {"role":
  "assistant", "content": piece}, "done": false}`` per piece, then a final ``done: true`` object with
  ``done_reason``, ``total_duration``, ``eval_count`` ...; with ``"stream": false`` one JSON object.
- ``POST /api/embed``  -> ``{"model", "embeddings": [[...], ...]}`` (deterministic vectors from a hash)
- unknown model        -> 404 ``{"error": "model \\"x\\" not found, try pulling it first"}``

Modes (``standin.mode``) to imitate failures:
- ``"normal"``: answer.
- ``"drop"``: /api/chat sends a couple of pieces, then closes the connection mid-stream.
- ``"hang"``: /api/chat accepts the request and never answers (until the stand-in stops).

``standin.reply`` is a function ``messages -> str`` producing the assistant's text; the default
echoes the first ``[1] ...`` evidence line of the last user message followed by `` [1]``.
Every request body is recorded in ``standin.requests`` as ``(path, json_body)``.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import socket
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

EMBED_DIM = 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fake_vector(text: str, dim: int = EMBED_DIM) -> list[float]:
    """A deterministic unit vector for `text` (same text, same vector)."""
    raw = hashlib.sha256(text.encode("utf-8")).digest() * (dim // 32 + 1)
    v = [(b - 127.5) / 127.5 for b in raw[:dim]]
    n = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / n for x in v]


def echo_first_evidence(messages: list[dict]) -> str:
    """Copy the `[1] ...` evidence line of the prompt, then cite it."""
    user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    m = re.search(r"^\[1\]\s*(.+)$", user, re.M)
    return f"{m.group(1).strip()} [1]" if m else "I do not know."


def split_pieces(text: str) -> list[str]:
    """Word-sized pieces, the way a model streams tokens ("Threads", " crossed", ...)."""
    return re.findall(r"\s*\S+", text)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class OllamaStandIn:
    def __init__(self, models: list[str] | None = None, reply: Callable[[list[dict]], str] | None = None):
        self.models = list(models if models is not None else ["standin-chat:latest", "standin-embed:latest"])
        self.reply = reply or echo_first_evidence
        self.mode = "normal"
        self.requests: list[tuple[str, dict]] = []
        self.stopping = threading.Event()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="ollama-standin", daemon=True)

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "OllamaStandIn":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "OllamaStandIn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def has(self, model: str) -> bool:
        want = model if ":" in model else f"{model}:latest"
        return model in self.models or want in self.models

    # ---- HTTP ----------------------------------------------------------------------------------
    def _handler_class(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _json(self, status: int, obj: dict) -> None:
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _chunk(self, obj: dict) -> None:
                data = (json.dumps(obj) + "\n").encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _body(self) -> dict:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                return json.loads(raw or b"{}")

            def _not_found(self, model: str) -> None:
                self._json(404, {"error": f'model "{model}" not found, try pulling it first'})

            def do_GET(self):
                if self.path.rstrip("/") == "/api/tags":
                    standin.requests.append(("/api/tags", {}))
                    self._json(200, {"models": [
                        {"name": m, "model": m, "modified_at": _now(), "size": 1000, "digest": hashlib.sha256(m.encode()).hexdigest(),
                         "details": {"format": "gguf", "family": "standin", "parameter_size": "1M", "quantization_level": "Q4_0"}}
                        for m in standin.models]})
                elif self.path.rstrip("/") in ("", "/"):
                    body = b"Ollama is running"  # what the real root answers
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self._json(404, {"error": "404 page not found"})

            def do_POST(self):
                path = self.path.rstrip("/")
                body = self._body()
                standin.requests.append((path, body))
                model = body.get("model", "")
                if path == "/api/chat":
                    if not standin.has(model):
                        return self._not_found(model)
                    return self._chat(body)
                if path == "/api/embed":
                    if not standin.has(model):
                        return self._not_found(model)
                    inp = body.get("input", [])
                    texts = [inp] if isinstance(inp, str) else list(inp)
                    return self._json(200, {"model": model, "embeddings": [fake_vector(t) for t in texts],
                                            "total_duration": 1000, "load_duration": 10, "prompt_eval_count": len(texts)})
                self._json(404, {"error": "404 page not found"})

            def _chat(self, body: dict):
                model = body["model"]
                if standin.mode == "hang":  # accept, read, never answer
                    standin.stopping.wait(120)
                    self.close_connection = True
                    return
                text = standin.reply(body.get("messages", []))
                pieces = split_pieces(text)
                final = {"model": model, "created_at": _now(), "message": {"role": "assistant", "content": ""},
                         "done": True, "done_reason": "stop", "total_duration": 5_000_000, "load_duration": 1_000,
                         "prompt_eval_count": 10, "prompt_eval_duration": 1_000, "eval_count": len(pieces),
                         "eval_duration": 4_000_000}
                if body.get("stream") is False:
                    final["message"]["content"] = text
                    return self._json(200, final)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i, piece in enumerate(pieces):
                    if standin.mode == "drop" and i == 2:
                        # the server dies mid-answer: no final chunk, the connection just closes
                        self.close_connection = True
                        try:
                            self.connection.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        return
                    self._chunk({"model": model, "created_at": _now(),
                                 "message": {"role": "assistant", "content": piece}, "done": False})
                    time.sleep(0.001)
                self._chunk(final)
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        return Handler
