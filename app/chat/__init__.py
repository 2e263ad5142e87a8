"""Gradio chat window: `create_app(engine_or_settings)` builds it, `launch()` / `serve()` run it."""
from __future__ import annotations

from app.chat import fast_import  # noqa: E402

fast_import.install()

from app.chat.ui import create_app, launch, serve  # noqa: E402

__all__ = ["create_app", "launch", "serve"]
