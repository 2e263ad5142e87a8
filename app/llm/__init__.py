"""Language-model backends behind one small streaming interface."""
from app.llm.base import LLMBackend, Message
from app.llm.select import make_backend

__all__ = ["LLMBackend", "Message", "make_backend"]
