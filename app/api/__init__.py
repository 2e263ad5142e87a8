"""citeqa's OpenAI-compatible HTTP API (`/v1/models`, `/v1/chat/completions`), served by `citeqa chat` next to the
Gradio window and by `citeqa serve` alone."""
from app.api.openai_compat import MODEL_ID, check_bind, create_api, make_router, mount_first

__all__ = ["MODEL_ID", "check_bind", "create_api", "make_router", "mount_first"]
