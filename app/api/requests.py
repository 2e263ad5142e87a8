"""Read an OpenAI chat-completions request into what the engine needs. Every fault is an APIError with the
parameter at fault; fields citeqa does not use (n, tools, user, logprobs, ...) are ignored."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = {"system", "developer", "user", "assistant", "tool", "function"}


class APIError(Exception):
    """An OpenAI-style error: {"error": {"message", "type", "param", "code"}} with an HTTP status."""

    def __init__(self, message: str, status: int = 400, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(" ".join(str(message).split()))
        self.status, self.type, self.param, self.code = status, type_, param, code

    def body(self) -> dict:
        return {"error": {"message": str(self), "type": self.type, "param": self.param, "code": self.code}}


@dataclass
class ChatRequest:
    question: str
    history: list[tuple[str, str]] = field(default_factory=list)
    stream: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # top_k, temperature, max_tokens for Engine.ask_stream
    include_usage: bool = False


def _text(content: Any, where: str) -> str:
    """A message's content: a string, or a list of parts of which the text parts count."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif isinstance(part, str):
                texts.append(part)
        return "\n".join(texts)
    raise APIError(f"{where}.content must be a string or a list of content parts", param=f"{where}.content")


def _number(body: dict, name: str, kind: type, low: float, high: float) -> Any:
    value = body.get(name)
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok:
        raise APIError(f"'{name}' must be {'an integer' if kind is int else 'a number'}, got {value!r}", param=name)
    if not low <= value <= high:
        raise APIError(f"'{name}' must be between {low:g} and {high:g}, got {value!r}", param=name)
    return kind(value)


def parse_chat_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise APIError("the request body must be a JSON object with 'messages'")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise APIError("'messages' must be a non-empty list of {role, content} objects", param="messages")
    turns: list[tuple[str, str]] = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise APIError(f"{where} must be an object with 'role' and 'content'", param=where)
        role = m.get("role")
        if role not in ROLES:
            raise APIError(f"{where}.role must be one of system, user, assistant (got {role!r})", param=f"{where}.role")
        turns.append((role, _text(m.get("content"), where)))
    last_user = max((i for i, (role, _) in enumerate(turns) if role == "user"), default=None)
    if last_user is None:
        raise APIError("'messages' has no user message: the last user message is the question", param="messages")
    question = turns[last_user][1]
    if not question.strip():
        raise APIError("the last user message is empty: it is the question", param=f"messages[{last_user}].content")
    history: list[tuple[str, str]] = []
    for role, text in turns[:last_user]:  # earlier user turns, each with the assistant's reply after it
        if role == "user":
            history.append((text, ""))
        elif role == "assistant" and history and not history[-1][1]:
            history[-1] = (history[-1][0], text)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise APIError(f"'stream' must be true or false, got {stream!r}", param="stream")
    options = {
        "temperature": _number(body, "temperature", float, 0.0, 2.0),
        "max_tokens": _number(body, "max_completion_tokens", int, 1, 4096) or _number(body, "max_tokens", int, 1, 4096),
        "top_k": _number(body, "top_k", int, 1, 50),
    }
    stream_options = body.get("stream_options")
    include_usage = bool(stream_options.get("include_usage")) if isinstance(stream_options, dict) else False
    return ChatRequest(question, history, stream, {k: v for k, v in options.items() if v is not None}, include_usage)
