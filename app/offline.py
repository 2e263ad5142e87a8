"""Every environment switch that keeps the stack offline and quiet, set in one place (imported by `app`).

Nothing in this stack may reach for a hub, a tokenizer download or telemetry: Chroma (ANONYMIZED_TELEMETRY),
Gradio (GRADIO_ANALYTICS_ENABLED), Hugging Face and transformers. OpenVINO's and NNCF's telemetry package is
blocked where they are imported (index/onnx_model.py), as it is not switched by the environment.
"""
import os

SWITCHES = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


def apply() -> None:
    for name, value in SWITCHES.items():
        os.environ.setdefault(name, value)
    for name in ("TIKTOKEN_CACHE_DIR", "NLTK_DATA"):
        if os.environ.get(name) == "":
            del os.environ[name]  # an empty value would make them fetch from the internet
